"""Flat-field (illumination non-uniformity) estimation.

Three ways to get the flat, in order of preference (:func:`estimate_flatfield` picks the
first one the arguments allow):

1. ``"measured"``: a measured ``profiles.npz`` (BaSiCPy's ``save_model`` layout), given
   directly or as ``<models_folder>/<channel>/profiles.npz``;
2. ``"empty"``: estimated from empty data, whole empty tiles (``fov_list``, 1-based tile
   numbers in inverted-N order, see :mod:`detcal.flatfield.tiles`) and/or the empty planes below
   and above the sample (``z_levels``): dark removed, each plane divided by its own level,
   per-pixel median, planes that disagree with the others rejected, light Gaussian smoothing,
   normalised to mean 1;
3. ``"basic"``: a BaSiC model [1]_ fitted by basicpy on every plane, or on a seeded subset
   when they exceed the memory budget (:mod:`detcal.flatfield.basic`).

References
----------
.. [1] Peng, T. et al. "A BaSiC tool for background and shading correction of optical
   microscopy images." Nature Communications 8, 14836 (2017). :doi:`10.1038/ncomms14836`
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import dask.array as da
import numpy as np

from detcal import _validate
from detcal._planewise import planewise
from detcal.filters.planes import calibration_plane
from detcal.flatfield import basic as basic_fit
from detcal.flatfield import tiles as tile_layout
from detcal.flatfield.profiles import Profiles, load_profiles

#: Bytes basicpy holds per float32 shrunk pixel during a fit, over the input (an upper estimate).
_BASIC_COPIES = 12

ProgressCallback = Callable[[int, int], None]

# --------------------------------------------------------------------------- inputs


def _as_stack(data: Any) -> tuple[Any, bool]:
    """View ``data`` as (tile, z, row, col); return it and whether it had a tile axis."""
    if not isinstance(data, np.ndarray | da.Array):
        if not all(hasattr(data, a) for a in ("shape", "dtype", "__getitem__")):
            raise TypeError(f"data must be an array, got {type(data).__name__}")
        data = planewise(data)
    if data.ndim not in (3, 4):
        raise ValueError(
            f"data must be (z, row, col) or (tile, z, row, col), got shape {tuple(data.shape)}"
        )
    if not (np.issubdtype(data.dtype, np.integer) or np.issubdtype(data.dtype, np.floating)):
        raise TypeError(f"data must hold integers or floats, got dtype {data.dtype}")
    if data.ndim == 3:
        return data[None], False
    return data, True


def _check_dark(dark: Any, plane_shape: tuple[int, int], progress) -> np.ndarray | None:
    """Turn ``dark`` (a level, an image or a stack of darks) into a (row, col) float32 image."""
    image = calibration_plane(
        dark, "dark", plane_shape, allow_scalar=True, against="the data planes", progress=progress
    )
    return None if image is None else image.astype(np.float32)


def _sample_size(n_planes: int, n_samples: int | None, plane_bytes: int, memory_mb: float):
    """How many planes to use and a sentence saying why (for ``profiles.info``)."""
    if n_samples is not None:
        used = min(int(n_samples), n_planes)
        if used == n_planes:
            return used, f"all {n_planes} planes"
        return used, f"a seeded subset of {used} of {n_planes} planes, as asked"
    fits = max(1, int(memory_mb * 2**20 // max(1, plane_bytes)))
    if fits >= n_planes:
        return n_planes, f"all {n_planes} planes"
    return fits, (
        f"a seeded subset of {fits} of {n_planes} planes: all of them would exceed the memory "
        f"budget of {memory_mb:g} MB"
    )


def _check_z_levels(z_levels: Iterable[int], n_z: int) -> tuple[int, int]:
    low, high = (int(v) for v in z_levels)
    if low > high:
        raise ValueError(f"z_levels ({low}, {high}) are reversed: low must be <= high")
    if low < 0 or high > n_z - 1:
        raise ValueError(f"z_levels ({low}, {high}) are outside the stack's planes 0..{n_z - 1}")
    if low == 0 and high == n_z - 1:
        raise ValueError(
            f"z_levels ({low}, {high}) select no plane: planes below low and above high of "
            f"0..{n_z - 1} are sampled"
        )
    return low, high


def _empty_planes(
    n_tiles: int,
    n_z: int,
    has_tiles: bool,
    fov_list: Iterable[int] | None,
    z_levels: Iterable[int] | None,
    grid_shape: tuple[int, int] | None,
) -> list[tuple[int, int]]:
    """(tile index, z) pairs of the planes declared empty."""
    if has_tiles:
        grid = (
            tile_layout.infer_grid_shape(n_tiles)
            if grid_shape is None
            else tile_layout.check_grid_shape(grid_shape, n_tiles)
        )
        numbers = (
            tile_layout.check_fov_list(fov_list, grid)
            if fov_list is not None
            else tile_layout.corner_tiles(grid)
        )
        tiles = [n - 1 for n in numbers]
    else:
        if fov_list is not None:
            raise ValueError(
                "fov_list needs (tile, z, row, col) data; got a single (z, row, col) field"
            )
        tiles = [0]
    if z_levels is None:
        zs = list(range(n_z))
    else:
        low, high = _check_z_levels(z_levels, n_z)
        zs = list(range(low)) + list(range(high + 1, n_z))
    return [(t, z) for t in tiles for z in zs]


def _read_planes(
    stack: Any,
    pairs: list[tuple[int, int]],
    transform: Callable[[np.ndarray], np.ndarray],
    out: np.ndarray,
    progress: ProgressCallback | None,
    total: int,
) -> None:
    """Read the planes ``pairs`` of ``stack`` into ``out``, a few at a time."""
    batch = 8
    for start in range(0, len(pairs), batch):
        chunk = pairs[start : start + batch]
        if isinstance(stack, da.Array):
            planes = da.stack([stack[t, z] for t, z in chunk]).compute()
        else:
            planes = np.stack([stack[t, z] for t, z in chunk])
        for i, plane in enumerate(planes):
            out[start + i] = transform(plane)
        if progress is not None:
            progress(start + len(chunk), total)


# --------------------------------------------------------------------------- estimation


def _robust_spread(values: np.ndarray) -> tuple[float, float]:
    centre = float(np.median(values))
    return centre, 1.4826 * float(np.median(np.abs(values - centre)))


def _median_flat(planes: np.ndarray, keep: np.ndarray, dark, levels) -> np.ndarray:
    """Per-pixel median of (plane - dark) / level over the kept planes, in row bands."""
    n, rows, cols = planes.shape
    chosen = np.flatnonzero(keep)
    saturation = np.iinfo(planes.dtype).max if planes.dtype.kind in "ui" else None
    band = max(1, int(2**24 // max(1, len(chosen) * cols)))
    flat = np.empty((rows, cols), dtype=np.float32)
    for r0 in range(0, rows, band):
        block = planes[chosen, r0 : r0 + band].astype(np.float32)
        saturated = block >= saturation if saturation is not None else None
        if dark is not None:
            block -= dark[r0 : r0 + band]
        block /= levels[chosen, None, None]
        if saturated is not None and saturated.any():
            block[saturated] = np.nan
            flat[r0 : r0 + band] = np.nanmedian(block, axis=0)
        else:
            flat[r0 : r0 + band] = np.median(block, axis=0)
    return flat


def empty_data_flat(
    planes: np.ndarray,
    *,
    dark: np.ndarray | None = None,
    smooth_sigma: float = 1.0,
    reject: float = 5.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Robust flat from planes that should contain no sample.

    Each plane is divided by its own level (median over pixels, dark removed), so plane-to-plane
    changes of the illumination do not matter. A first per-pixel median gives a provisional
    flat; planes whose mean absolute deviation from it is an outlier among the planes (sample,
    debris or saturation in an "empty" plane) are rejected, and the median is taken again over
    the rest. Saturated pixels (the integer dtype's maximum) are ignored pixel by pixel. The
    result is smoothed with a Gaussian of ``smooth_sigma`` pixels and divided by its mean.

    Parameters
    ----------
    planes : numpy.ndarray
        (plane, row, col) raw planes (any real dtype).
    dark : numpy.ndarray, optional
        (row, col) dark image to remove first.
    smooth_sigma : float, default 1.0
        Gaussian smoothing in pixels (0 for none).
    reject : float, default 5.0
        A plane is rejected when its deviation exceeds the median deviation by ``reject``
        robust standard deviations (and by at least 25 %).

    Returns
    -------
    flat : numpy.ndarray of float32
        (row, col) flat, mean 1.
    kept : numpy.ndarray of bool
        (plane,) True for the planes used.

    Raises
    ------
    ValueError
        If the planes have no signal above the dark.
    """
    from scipy import ndimage

    n, rows, cols = planes.shape
    step = max(1, int(np.sqrt(rows * cols / 4096)))
    sub = planes[:, ::step, ::step].astype(np.float32)
    sub_dark = None if dark is None else dark[::step, ::step]
    if sub_dark is not None:
        sub -= sub_dark
    levels = np.median(sub.reshape(n, -1), axis=1)
    if np.any(levels <= 0):
        raise ValueError(
            f"{int(np.sum(levels <= 0))} of the {n} sampled planes have no signal above the "
            "dark (median <= 0); check dark and the empty-data selection"
        )
    keep = np.ones(n, dtype=bool)
    if n >= 3:
        provisional = _median_flat(planes, keep, dark, levels)[::step, ::step]
        deviation = np.mean(np.abs(sub / levels[:, None, None] / provisional - 1), axis=(1, 2))
        centre, spread = _robust_spread(deviation)
        keep = deviation <= centre + max(reject * spread, 0.25 * centre)
    flat = _median_flat(planes, keep, dark, levels)
    if smooth_sigma > 0:
        flat = ndimage.gaussian_filter(flat, float(smooth_sigma), mode="nearest")
    return (flat / flat.mean()).astype(np.float32), keep


def _estimate_empty(
    stack, pairs, dark, n_samples, seed, memory_mb, smooth_sigma, baseline_percentile, progress
):
    plane_shape = tuple(stack.shape[-2:])
    plane_bytes = int(np.prod(plane_shape)) * (np.dtype(stack.dtype).itemsize + 4)
    count, sampling = _sample_size(len(pairs), n_samples, plane_bytes, memory_mb)
    chosen = [pairs[i] for i in basic_fit.choose_planes(len(pairs), count, seed)]
    planes = np.empty((len(chosen), *plane_shape), dtype=stack.dtype)
    _read_planes(stack, chosen, lambda p: p, planes, progress, len(chosen) + 1)
    flat, kept = empty_data_flat(planes, dark=dark, smooth_sigma=smooth_sigma)
    baseline = None
    if baseline_percentile is not None:
        corrected = planes[kept, ::4, ::4].astype(np.float32)
        if dark is not None:
            corrected -= dark[::4, ::4]
        corrected /= flat[::4, ::4]
        baseline = np.asarray(np.percentile(corrected, float(baseline_percentile)))
    if progress is not None:
        progress(len(chosen) + 1, len(chosen) + 1)
    info = {
        "scenario": "empty",
        "sampling": sampling,
        "planes": [(int(t) + 1, int(z)) for t, z in chosen],
        "rejected": [(int(t) + 1, int(z)) for (t, z), k in zip(chosen, kept, strict=True) if not k],
    }
    return Profiles(flat, dark, baseline, info=info)


def _estimate_basic(stack, dark, basic_params, n_samples, seed, memory_mb, progress):
    params = basic_fit.check_basic_params(basic_params)
    basic_fit.import_basic()
    n_tiles, n_z = stack.shape[:2]
    size = int(params["working_size"])
    count, sampling = _sample_size(
        n_tiles * n_z, n_samples, _BASIC_COPIES * 4 * size * size, memory_mb
    )
    indices = basic_fit.choose_planes(n_tiles * n_z, count, seed)
    chosen = [(int(i) // n_z, int(i) % n_z) for i in indices]
    plane_shape = tuple(stack.shape[-2:])

    def shrink(plane: np.ndarray) -> np.ndarray:
        plane = plane.astype(np.float32)
        if dark is not None:
            plane -= dark
        return basic_fit.shrink(plane, size)

    iterations = int(params.get("max_reweight_iterations", 10))
    total = len(chosen) + iterations
    planes = np.empty((len(chosen), size, size), dtype=np.float32)
    _read_planes(stack, chosen, shrink, planes, progress, total)

    def report(iteration: int) -> None:
        progress(len(chosen) + min(iteration, iterations - 1), total)

    fitted = basic_fit.fit_basic(planes, plane_shape, params, None if progress is None else report)
    flat, basic_dark, baseline, settings = fitted
    if progress is not None:
        progress(total, total)
    darkfield = None
    if params["get_darkfield"]:
        darkfield = basic_dark if dark is None else basic_dark + dark
    elif dark is not None:
        darkfield = dark
    info = {"scenario": "basic", "sampling": sampling, "planes": [(t + 1, z) for t, z in chosen]}
    return Profiles(flat, darkfield, baseline, settings=settings, info=info)


def estimate_flatfield(
    data: Any,
    *,
    dark: Any = None,
    models_folder: str | os.PathLike | None = None,
    channel: str | None = None,
    fov_list: Iterable[int] | None = None,
    z_levels: tuple[int, int] | None = None,
    grid_shape: tuple[int, int] | None = None,
    basic_params: Mapping[str, Any] | None = None,
    n_samples: int | None = None,
    seed: int | None = 0,
    memory_mb: float = 2048.0,
    smooth_sigma: float = 1.0,
    baseline_percentile: float | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[Profiles, str]:
    """Get the flat-field profiles of ``data`` from the best source the arguments allow.

    Only the planes needed are read: a dask input is indexed plane by plane before computing.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        (tile, z, row, col) tiles in acquisition order (inverted N), or one (z, row, col) field.
    dark : float or array-like, optional
        Dark level, (row, col) dark image or (plane, row, col) stack of darks (averaged),
        removed before estimating; it becomes the profiles' darkfield (replacing a measured
        one).
    models_folder : path, optional
        Scenario ``"measured"``: a ``profiles.npz``, a model folder, or (with ``channel``) a
        folder of ``<channel>/profiles.npz``.
    channel : str, optional
        Channel sub-folder of ``models_folder``.
    fov_list : iterable of int, optional
        Scenario ``"empty"``: 1-based numbers of wholly empty tiles.
    z_levels : (int, int), optional
        Scenario ``"empty"``: planes below ``low`` and above ``high`` are empty; with no
        ``fov_list`` the four corner tiles are sampled.
    grid_shape : (int, int), optional
        (rows, cols) of the tile grid; default: square.
    basic_params : mapping, optional
        Scenario ``"basic"`` settings (:data:`detcal.flatfield.basic.BASIC_DEFAULTS`: autosegment,
        autosegment_margin, epsilon, get_darkfield, max_workers, smoothness_flatfield,
        smoothness_darkfield, working_size; other basicpy settings pass through).
    n_samples : int or None, default None
        Planes used (a seeded random subset) for scenarios ``"empty"`` and ``"basic"``. None:
        every plane when they fit ``memory_mb``, else the largest seeded subset that does;
        ``profiles.info["sampling"]`` says which.
    seed : int or None, default 0
        Seed of the subset.
    memory_mb : float, default 2048.0
        Memory budget in MB of the planes held at once (full-size planes for ``"empty"``,
        basicpy's working copies of the shrunk planes for ``"basic"``).
    smooth_sigma : float, default 1.0
        Gaussian smoothing (pixels) of the empty-data flat.
    baseline_percentile : float, optional
        Scenario ``"empty"``: store this percentile of the corrected empty planes as the
        baseline (subtracted by :func:`apply_flatfield`); None stores no baseline.
    progress : callable, optional
        ``progress(done, total)`` as planes are read; may raise to cancel.

    Returns
    -------
    profiles : Profiles
        The profiles; ``profiles.info`` tells how the planes were chosen (``"sampling"``),
        which were used (``"planes"``, 1-based tile and z) and which rejected.
    scenario : {"measured", "empty", "basic"}
        Which source was used.

    Raises
    ------
    ValueError
        On bad shapes, a FOV outside the grid, reversed or out-of-range z-levels, an empty
        selection, or planes with no signal.
    FileNotFoundError
        If the measured profiles do not exist.
    ImportError
        If BaSiC is needed and basicpy is not installed.

    References
    ----------
    .. [1] Peng, T. et al. Nature Communications 8, 14836 (2017). :doi:`10.1038/ncomms14836`

    Examples
    --------
    >>> from detcal.sample_data.mosaic import make_mosaic
    >>> sample = make_mosaic(n_z=12, empty_z=(2, 9), tile_shape=(32, 32))
    >>> profiles, scenario = estimate_flatfield(sample.tiles, dark=sample.dark, z_levels=(2, 9))
    >>> scenario
    'empty'
    """
    stack, has_tiles = _as_stack(data)
    plane_shape = tuple(int(s) for s in stack.shape[-2:])
    memory_mb = _validate.positive(memory_mb, "memory_mb")
    if n_samples is not None:
        n_samples = _validate.integer(n_samples, "n_samples", minimum=1)
    dark_image = _check_dark(dark, plane_shape, progress)
    if models_folder is not None:
        profiles = load_profiles(models_folder, channel=channel)
        if profiles.shape != plane_shape:
            raise ValueError(
                f"measured profiles have shape {profiles.shape} but the data planes are "
                f"{plane_shape}"
            )
        if dark_image is not None:
            profiles = Profiles(
                profiles.flatfield, dark_image, profiles.baseline, settings=profiles.settings
            )
        profiles.info["scenario"] = "measured"
        return profiles, "measured"
    if channel is not None:
        raise ValueError("channel needs models_folder")
    n_tiles, n_z = int(stack.shape[0]), int(stack.shape[1])
    if fov_list is not None or z_levels is not None:
        pairs = _empty_planes(n_tiles, n_z, has_tiles, fov_list, z_levels, grid_shape)
        profiles = _estimate_empty(
            stack,
            pairs,
            dark_image,
            n_samples,
            seed,
            memory_mb,
            smooth_sigma,
            baseline_percentile,
            progress,
        )
        return profiles, "empty"
    if grid_shape is not None and has_tiles:
        tile_layout.check_grid_shape(grid_shape, n_tiles)
    profiles = _estimate_basic(
        stack, dark_image, basic_params, n_samples, seed, memory_mb, progress
    )
    return profiles, "basic"
