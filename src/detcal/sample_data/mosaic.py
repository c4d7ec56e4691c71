"""Synthetic mesoSPIM-style mosaic with a known flat-field and dark offset.

A 3-D sample fills the middle of a tile grid; the tiles are acquired in "inverted N" order
(tile 1 top-left, numbering down each column, see :mod:`detcal.flatfield.tiles`). Some tiles are
wholly empty and the planes below ``empty_z[0]`` and above ``empty_z[1]`` of every tile are
empty; empty planes still show the background glow of the medium, shaped by the flat. A few
"empty" planes of the empty tiles nevertheless contain bright sample (one of them saturated),
to test robust estimators.

Each tile plane is ``poisson(flatfield * truth) + dark``, stored as uint16.

Examples
--------
>>> sample = make_mosaic(n_z=8, empty_z=(2, 5), tile_shape=(32, 32))
>>> sample.tiles.shape
(9, 8, 32, 32)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from detcal.flatfield import tiles as tile_layout


@dataclass(frozen=True, eq=False)
class MosaicSample:
    """A synthetic mosaic and its ground truth.

    Attributes
    ----------
    tiles : numpy.ndarray
        (tile, z, row, col) uint16 raw tiles in acquisition order.
    flatfield : numpy.ndarray
        (row, col) float32 true vignetting, mean 1.
    dark : numpy.ndarray
        (row, col) float32 dark image (offset plus a small fixed pattern).
    dark_level : float
        The dark offset.
    truth : numpy.ndarray
        (tile, z, row, col) float32 expected signal before flat, dark and noise: what a
        perfect correction returns (background glow plus sample).
    background : float
        Background glow of the empty medium, in counts before the flat.
    empty_planes : numpy.ndarray
        (tile, z) bool, True where a plane holds no sample by design.
    contaminated : numpy.ndarray
        (tile, z) bool, True for the "empty" planes that nevertheless hold sample.
    grid_shape : tuple of int
        (rows, cols) of the tile grid.
    empty_tiles : tuple of int
        1-based numbers of the wholly empty tiles.
    empty_z : tuple of int
        (low, high): planes below low and above high are empty.
    """

    tiles: np.ndarray
    flatfield: np.ndarray
    dark: np.ndarray
    dark_level: float
    truth: np.ndarray
    background: float
    empty_planes: np.ndarray
    contaminated: np.ndarray
    grid_shape: tuple[int, int]
    empty_tiles: tuple[int, ...]
    empty_z: tuple[int, int]


def vignetting(shape: tuple[int, int], *, strength: float = 0.45) -> np.ndarray:
    """Make a smooth, slightly off-centre vignetting profile with mean 1.

    Parameters
    ----------
    shape : (int, int)
        (row, col) shape.
    strength : float, default 0.45
        Relative fall-off from the brightest point to the far corners.

    Returns
    -------
    numpy.ndarray of float32
        The profile, mean 1.
    """
    rows, cols = shape
    r = (np.arange(rows) - 0.45 * (rows - 1)) / rows
    c = (np.arange(cols) - 0.55 * (cols - 1)) / cols
    radius2 = r[:, None] ** 2 + 0.8 * c[None, :] ** 2
    profile = (1 - strength * radius2 / radius2.max()) * (1 + 0.08 * c[None, :])
    return (profile / profile.mean()).astype(np.float32)


def flat_nrms(estimate: np.ndarray, truth: np.ndarray) -> float:
    """Normalised RMS difference of two flats, each first scaled to mean 1.

    Parameters
    ----------
    estimate, truth : numpy.ndarray
        Flats of the same shape.

    Returns
    -------
    float
        ``rms(estimate / mean(estimate) - truth / mean(truth))``; 0.01 means 1 %.
    """
    a = np.asarray(estimate, dtype=np.float64)
    b = np.asarray(truth, dtype=np.float64)
    return float(np.sqrt(np.mean((a / a.mean() - b / b.mean()) ** 2)))


def _sample_volume(rng, n_z, canvas, low, high, amplitude):
    """Smooth tissue-like texture over the whole mosaic canvas, zero outside [low, high]."""
    small = (n_z, max(4, canvas[0] // 4), max(4, canvas[1] // 4))
    noise = ndimage.gaussian_filter(rng.standard_normal(small), sigma=(1.0, 2.0, 2.0))
    noise /= noise.std()
    zoom = (1, canvas[0] / small[1], canvas[1] / small[2])
    texture = ndimage.zoom(noise, zoom, order=1)[:, : canvas[0], : canvas[1]]
    tissue = np.clip(texture + 0.3, 0, None) * amplitude
    tissue[:low] = 0
    tissue[high + 1 :] = 0
    return tissue.astype(np.float32)


def make_mosaic(
    *,
    grid_shape: tuple[int, int] = (3, 3),
    n_z: int = 24,
    tile_shape: tuple[int, int] = (128, 128),
    empty_tiles: tuple[int, ...] | None = None,
    empty_z: tuple[int, int] = (4, 19),
    dark_offset: float = 100.0,
    background: float = 400.0,
    sample_amplitude: float = 1500.0,
    n_contaminated: int = 2,
    seed: int = 0,
) -> MosaicSample:
    """Make a mosaic of tiles with a known flat-field, dark offset and empty regions.

    Parameters
    ----------
    grid_shape : (int, int), default (3, 3)
        (rows, cols) of the tile grid.
    n_z : int, default 24
        Planes per tile.
    tile_shape : (int, int), default (128, 128)
        (row, col) shape of a tile.
    empty_tiles : tuple of int, optional
        1-based tile numbers holding no sample; default the four corners, ``()`` for none.
    empty_z : (int, int), default (4, 19)
        Planes below ``low`` and above ``high`` hold no sample in any tile.
    dark_offset : float, default 100.0
        Camera offset added to every pixel.
    background : float, default 400.0
        Glow of the empty medium (counts before the flat).
    sample_amplitude : float, default 1500.0
        Scale of the sample's signal.
    n_contaminated : int, default 2
        Number of planes of the empty tiles, at empty z-levels, that nevertheless hold bright
        sample; the first one saturates.
    seed : int, default 0
        Random seed.

    Returns
    -------
    MosaicSample
        Tiles and ground truth.

    Raises
    ------
    ValueError
        If ``empty_z`` or ``empty_tiles`` do not fit the stack.
    """
    rng = np.random.default_rng(seed)
    grid = tile_layout.check_grid_shape(grid_shape)
    if empty_tiles is None:
        numbers = tile_layout.corner_tiles(grid)
    elif len(tuple(empty_tiles)) == 0:
        numbers = ()
    else:
        numbers = tile_layout.check_fov_list(empty_tiles, grid)
    low, high = (int(v) for v in empty_z)
    if not 0 <= low <= high <= n_z - 1:
        raise ValueError(f"empty_z ({low}, {high}) must satisfy 0 <= low <= high < n_z={n_z}")
    rows, cols = tile_shape
    n_tiles = grid[0] * grid[1]
    canvas = (grid[0] * rows, grid[1] * cols)
    tissue = _sample_volume(rng, n_z, canvas, low, high, sample_amplitude)

    flat = vignetting(tile_shape)
    dark = (dark_offset + rng.normal(0.0, 2.0, size=tile_shape)).astype(np.float32)
    truth = np.full((n_tiles, n_z, rows, cols), background, dtype=np.float32)
    empty = np.zeros((n_tiles, n_z), dtype=bool)
    empty[:, :low] = True
    empty[:, high + 1 :] = True
    for number in range(1, n_tiles + 1):
        row, col = tile_layout.tile_position(number, grid)
        if number in numbers:
            empty[number - 1] = True
            continue
        truth[number - 1] += tissue[:, row * rows : (row + 1) * rows, col * cols : (col + 1) * cols]

    contaminated = np.zeros_like(empty)
    candidates = [(n - 1, z) for n in numbers for z in range(n_z) if z < low or z > high]
    n_bad = min(int(n_contaminated), len(candidates))
    picks = rng.choice(len(candidates), size=n_bad, replace=False) if n_bad else []
    for k, pick in enumerate(picks):
        t, z = candidates[int(pick)]
        blob = _sample_volume(rng, 1, tile_shape, 0, 0, sample_amplitude * (40 if k == 0 else 2))
        truth[t, z] += blob[0]
        contaminated[t, z] = True

    counts = rng.poisson(flat * truth).astype(np.float64) + dark
    tiles = np.clip(np.rint(counts), 0, np.iinfo(np.uint16).max).astype(np.uint16)
    return MosaicSample(
        tiles=tiles,
        flatfield=flat,
        dark=dark,
        dark_level=float(dark_offset),
        truth=truth,
        background=float(background),
        empty_planes=empty,
        contaminated=contaminated,
        grid_shape=grid,
        empty_tiles=tuple(numbers),
        empty_z=(low, high),
    )
