"""Centre of a diffraction pattern: of concentric powder rings, or of any pattern by symmetry.

Both start from the inversion (Friedel) symmetry of a pattern about its centre: the image
registered with its 180-degree rotation, masks combined, moves by twice the centre's offset from
the middle of the image. That registration runs on a binned copy (at most 256 pixels a side) so
that it is fast and sees a pattern anywhere in the image.

* :func:`pattern_center` refines it on a finer copy by the masked sub-pixel registration of
  :mod:`detcal.diffraction.registration`.
* :func:`powder_center` refines it on the rings themselves: radial profiles in 24 angular
  sectors are cross-correlated with the mean profile; a ring seen ``d.u`` further out in the
  sector of direction ``u`` means the centre is off by ``d``, found by least squares and
  iterated. Each sector's profile uses only its unmasked pixels, so a beam block and its arm
  remove sectors' bins, not the answer.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from detcal import _validate
from detcal.diffraction.registration import COARSE_SIDE, bin_image, coarse_shift, prepare, refine

_FINE_SIDE = 1024  # longest side of the copy pattern_center refines on
_SECTORS = 24
_RADIAL_BIN = 0.5  # px
_SAMPLES = 600_000  # pixels the ring refinement uses at most (a regular sub-grid)
_BACKGROUND_SIGMA = 5.0  # px: profiles are high-passed so that rings, not background, align
_MAX_ITERATIONS = 6


def _check(image, mask) -> tuple[np.ndarray, np.ndarray]:
    image = _validate.array(image, "image", ndim=2, axes="a (row, col) image", min_shape=(8, 8))
    mask = _validate.mask(mask, "mask", image.shape)
    return prepare(image, "image", mask)


def _symmetry_shift(values, ignore, start=None) -> np.ndarray:
    """Shift registering the 180-degree rotation of an image onto it (masks combined)."""
    flipped, flipped_ignore = values[::-1, ::-1], ignore[::-1, ::-1]
    if start is None:
        return coarse_shift(flipped, flipped_ignore, values, ignore)
    return refine(flipped, flipped_ignore, values, ignore, start)


def _center_of(shift, shape, factor: int) -> np.ndarray:
    """Centre in original pixels from the symmetry shift on a copy binned by ``factor``."""
    binned = (np.array(shape) - 1) / 2 + np.asarray(shift) / 2
    return factor * binned + (factor - 1) / 2


def _coarse(values, ignore) -> np.ndarray:
    """Centre to a few pixels, from the symmetry shift on binned copies."""
    return (np.array(values.shape) - 1) / 2 + _symmetry_shift(values, ignore) / 2


def _inside(center, shape) -> tuple[float, float]:
    row, col = (float(c) for c in center)
    if not (0 <= row <= shape[0] - 1 and 0 <= col <= shape[1] - 1):
        raise ValueError(
            f"image: the centre found ({row:.1f}, {col:.1f}) is outside the image of shape "
            f"{shape}; is there a pattern, and is the beam block masked?"
        )
    return row, col


def pattern_center(image, *, mask=None) -> tuple[float, float]:
    """Find the centre of any diffraction pattern from its inversion (Friedel) symmetry.

    The image is registered with its 180-degree rotation (masks combined): the shift is twice
    the centre's offset from the middle of the image, ``centre = (shape - 1) / 2 + shift / 2``.
    A coarse registration on a binned copy finds it anywhere in the image; the masked sub-pixel
    refinement of :func:`register` then runs on a copy of at most 1024 pixels a side. Works for
    single-crystal spot patterns and powder rings alike (like ``skued.autocenter``).

    Parameters
    ----------
    image : array-like
        (row, col) pattern; NaN pixels are ignored.
    mask : array-like of bool, optional
        (row, col), True = ignore (beam block and its arm, dead pixels).

    Returns
    -------
    (row, col) : tuple of float
        The centre in pixels (pixel ``(i, j)`` has its centre at ``(i, j)``).

    Raises
    ------
    ValueError
        Not 2-D or smaller than 8 x 8, a mask of the wrong shape or hiding every pixel, or a
        centre found outside the image.

    References
    ----------
    Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE Transactions
    on Image Processing 21(5), 2706-2718. :doi:`10.1109/TIP.2011.2181402`

    Examples
    --------
    >>> from detcal.sample_data.powder import make_powder
    >>> sample = make_powder(shape=(128, 128), center=(70.3, 60.6), noise=False)
    >>> [round(c, 1) for c in pattern_center(sample.image, mask=sample.mask)]
    [70.3, 60.6]
    """
    values, ignore = _check(image, mask)
    coarse = _coarse(values, ignore)
    factor = max(1, -(-max(values.shape) // _FINE_SIDE))
    binned, binned_ignore = bin_image(values, ignore, factor)
    start = 2 * ((coarse - (factor - 1) / 2) / factor) - (np.array(binned.shape) - 1)
    shift = _symmetry_shift(binned, binned_ignore, start)
    return _inside(_center_of(shift, binned.shape, factor), values.shape)


def _smooth_valid(profiles: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian smoothing along the radius of profiles with gaps (normalised convolution)."""
    weight = ndimage.gaussian_filter1d(valid.astype(np.float64), sigma, axis=-1)
    total = ndimage.gaussian_filter1d(np.where(valid, profiles, 0.0), sigma, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return total / weight


def _ring_offsets(radius, sector, values, lag_bins: int):
    """Radial offset (px) of each sector's rings against the mean profile, and its weight."""
    index = (radius / _RADIAL_BIN).astype(np.int64)
    nbins = int(index.max()) + 1
    flat = sector * nbins + index
    counts = np.bincount(flat, minlength=_SECTORS * nbins).reshape(_SECTORS, nbins)
    sums = np.bincount(flat, values, minlength=_SECTORS * nbins).reshape(_SECTORS, nbins)
    valid = counts > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        profiles = sums / counts
    profiles = profiles - _smooth_valid(profiles, valid, _BACKGROUND_SIGMA / _RADIAL_BIN)
    profiles[~valid] = 0.0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = profiles.sum(axis=0) / valid.sum(axis=0)
    mean[~np.isfinite(mean)] = 0.0
    lags = np.arange(-lag_bins, lag_bins + 1)
    score = np.empty((_SECTORS, lags.size))
    for k, lag in enumerate(lags):
        shifted = np.roll(profiles, -lag, axis=1)
        score[:, k] = (shifted * mean).sum(axis=1)
    best = np.clip(np.argmax(score, axis=1), 1, lags.size - 2)
    rows = np.arange(_SECTORS)
    vertex = [_parabola(*score[s, b - 1 : b + 2]) for s, b in zip(rows, best, strict=True)]
    offsets = (lags[best] + np.array(vertex)) * _RADIAL_BIN
    weights = score[rows, best].clip(min=0) * valid.mean(axis=1)
    return offsets, weights


def _parabola(minus: float, centre: float, plus: float) -> float:
    curvature = minus - 2 * centre + plus
    return float(np.clip(0.5 * (minus - plus) / curvature, -1, 1)) if curvature < 0 else 0.0


def _ring_refine(values, ignore, start, lag: float) -> np.ndarray:
    """Move ``start`` until the rings of every sector line up (see the module docstring)."""
    step = max(1, int(np.sqrt(values.size / _SAMPLES)))
    rows, cols = np.nonzero(~ignore[::step, ::step])
    samples = values[rows * step, cols * step]
    rows, cols = rows * step, cols * step
    center = np.asarray(start, dtype=np.float64)
    theta = np.arctan2(rows - center[0], cols - center[1])
    sector = ((theta + np.pi) / (2 * np.pi) * _SECTORS).astype(np.int64) % _SECTORS
    angles = (np.arange(_SECTORS) + 0.5) * 2 * np.pi / _SECTORS - np.pi
    design = np.column_stack([np.ones(_SECTORS), np.sin(angles), np.cos(angles)])
    for _ in range(_MAX_ITERATIONS):
        radius = np.hypot(rows - center[0], cols - center[1])
        offsets, weights = _ring_offsets(radius, sector, samples, int(np.ceil(lag / _RADIAL_BIN)))
        if np.count_nonzero(weights > 0) < 4:
            break
        w = np.sqrt(weights)
        solution = np.linalg.lstsq(design * w[:, None], offsets * w, rcond=None)[0]
        move = solution[1:]
        center = center + move
        lag = max(2.0, 2 * float(np.abs(move).max()))
        if np.abs(move).max() < 0.01:
            break
    return center


def powder_center(image, *, mask=None) -> tuple[float, float]:
    """Find the centre of the concentric rings of a powder pattern, to a fraction of a pixel.

    A coarse centre from the pattern's inversion symmetry (a binned copy registered with its
    180-degree rotation, masks combined) is refined on the rings: the radial profiles of 24
    angular sectors are cross-correlated with their mean; the ring offsets ``d.u`` of the
    sectors give the centre's error ``d`` by least squares, iterated until it moves by less
    than 0.01 px. Each sector uses only its unmasked pixels, so a beam block with its arm, dead
    pixels or a pattern far off the image centre (rings cut by the edges) are fine.

    Parameters
    ----------
    image : array-like
        (row, col) powder pattern; NaN pixels are ignored.
    mask : array-like of bool, optional
        (row, col), True = ignore (beam block and its arm, dead pixels).

    Returns
    -------
    (row, col) : tuple of float
        The centre in pixels (pixel ``(i, j)`` has its centre at ``(i, j)``).

    Raises
    ------
    ValueError
        Not 2-D or smaller than 8 x 8, a mask of the wrong shape or hiding every pixel, or a
        centre found outside the image.

    Examples
    --------
    >>> from detcal.sample_data.powder import make_powder
    >>> sample = make_powder(shape=(128, 128), center=(70.3, 60.6))
    >>> [round(c, 1) for c in powder_center(sample.image, mask=sample.mask)]
    [70.3, 60.6]
    """
    values, ignore = _check(image, mask)
    coarse = _coarse(values, ignore)
    factor = max(1, -(-max(values.shape) // COARSE_SIDE))
    center = _ring_refine(values, ignore, coarse, lag=factor + 2.0)
    return _inside(center, values.shape)
