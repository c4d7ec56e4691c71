"""Correct images with per-pixel detector gains (and optionally a smoothed flat).

``out = (image - dark) * gains``, divided by the smoothed dark-corrected flat when one is given.
Numpy in gives numpy out; dask in gives a lazy dask out, chunk for chunk; a multiscale pyramid
(a list of levels) gives a lazy pyramid, each level corrected with the calibration brought to
its shape (:func:`detcal.filters.block_mean`), so the result browses as fast as the input.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.filters.gaussian import gaussian_smooth
from detcal.filters.pixelwise import offset_and_scale
from detcal.filters.planes import block_mean, calibration_plane


def correct_image(
    image,
    coefficients,
    *,
    dark=None,
    flat=None,
    sigma=None,
    smooth_sigma=50.0,
    progress: Callable[[int, int], None] | None = None,
):
    """Correct images with per-pixel gains, optionally flat-fielding with a smoothed flat.

    ``out = (image - dark) * coefficients``; with ``flat``, divided by the Gaussian-smoothed
    dark-corrected flat ``S = smooth(flat - dark)``. With ``sigma`` as well, only the
    residuals ``R = S - (flat - dark) * coefficients`` larger than ``sigma`` standard
    deviations of ``R`` (dust, changes since the sweep) are removed: the divisor is ``S - R``
    where ``|R| >= sigma * std(R)`` and ``S`` elsewhere.

    Unlike detectorcal, the dark is removed from the flat before smoothing (detectorcal
    smooths the raw flat), and ``smooth_sigma`` is honoured on every path.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array or list of them
        (row, col) or (z, row, col), any real dtype; or a multiscale pyramid, a list of such
        arrays, highest resolution first (each level's planes no larger than the first's).
    coefficients : array-like
        (row, col) gains from :func:`fit_response` (or detectorcal). NaN gains give NaN pixels.
    dark : array-like or float, optional
        (row, col) dark image, or one dark level; a (plane, row, col) stack is averaged.
    flat : array-like, optional
        (row, col) flat (dark included); a (plane, row, col) stack of flats is averaged.
    sigma : float, optional
        Residual threshold in standard deviations (needs ``flat``); None divides by the
        smoothed flat everywhere.
    smooth_sigma : float, default 50.0
        Gaussian sigma in pixels for smoothing the flat; use the fit's ``sigma``.
    progress : callable, optional
        ``progress(done, total)`` while dark or flat stacks are averaged; may raise to stop.

    Returns
    -------
    numpy.ndarray, dask.array.Array or list of dask.array.Array
        Corrected image, same shape; float64 for float64 input, float32 otherwise (integer
        input never overflows). A dask input gives a lazy dask output, chunk for chunk; a
        pyramid gives a lazy pyramid whose level ``k`` is level ``k`` of the input corrected
        with the calibration brought to its shape (dark: block mean; multiplier: harmonic block
        mean, so that a uniformly lit image comes out as if corrected at full resolution and
        then averaged). Pixels whose flat divisor is not positive are NaN (with a warning).

    Raises
    ------
    ValueError
        Shapes that do not match (the message names the odd one out: the image when its
        planes differ from gains that agree with the dark or flat), NaN/inf in ``dark`` or
        ``flat``, inf in ``coefficients``, ``sigma`` without ``flat``, non-positive ``sigma``
        or ``smooth_sigma``.
    TypeError
        If an input is not of a real numeric dtype.

    Warns
    -----
    RuntimeWarning
        When the flat divisor is not positive at some pixels.

    References
    ----------
    Croton, L. C., Ruben, G., Morgan, K. S., Paganin, D. M. & Kitchen, M. J. (2019). Ring
    artifact suppression in X-ray computed tomography using a simple, pixel-wise response
    correction. Optics Express 27(10), 14231-14245. :doi:`10.1364/OE.27.014231`

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((2, 4, 4), 110, dtype=np.uint16)
    >>> out = correct_image(image, np.full((4, 4), 0.5), dark=10.0)
    >>> out.dtype.name, float(out[0, 0, 0])
    ('float32', 50.0)
    """
    levels = list(image) if isinstance(image, list | tuple) else [image]
    for i, level in enumerate(levels):
        name = "image" if len(levels) == 1 else f"image level {i}"
        ndim = getattr(level, "ndim", None)
        if ndim not in (2, 3):
            raise ValueError(
                f"{name}: expected a (row, col) or (z, row, col) array, got ndim={ndim}"
            )
        _validate.real_dtype(level, name)
    first = levels[0]
    plane = tuple(first.shape[-2:])
    _check_planes(plane, coefficients, dark, flat)
    coeffs = _validate.plane(coefficients, "coefficients", plane, allow_nan=True)
    if np.isinf(coeffs).any():
        raise ValueError("coefficients: contains infinite values; expected finite gains or NaN")
    smooth_sigma = _validate.positive(smooth_sigma, "smooth_sigma")
    if sigma is not None:
        sigma = _validate.positive(sigma, "sigma")
        if flat is None:
            raise ValueError("sigma: the residual correction needs a flat; pass flat=...")
    dark = calibration_plane(dark, "dark", plane, allow_scalar=True, progress=progress)
    flat = calibration_plane(flat, "flat", plane, progress=progress)
    dtype = np.dtype(np.float64 if first.dtype == np.float64 else np.float32)
    scale = _scale(coeffs, dark, flat, sigma, smooth_sigma).astype(dtype)
    offset = None if dark is None else dark.astype(dtype)
    if len(levels) == 1 and not isinstance(first, da.Array):
        return _apply(np.asarray(first), scale, offset)
    out = [_lazy(level, scale, offset, dtype) for level in levels]
    return out if isinstance(image, list | tuple) else out[0]


def _check_planes(plane, coefficients, dark, flat) -> None:
    """Refuse gains whose shape differs from the image's, naming the odd one out."""
    gains = tuple(np.shape(coefficients))
    if gains == plane:
        return
    others = [tuple(np.shape(v))[-2:] for v in (dark, flat) if np.ndim(v) >= 2]
    if gains and len(gains) == 2 and others and all(o == gains for o in others):
        raise ValueError(
            f"image: its planes are {plane} but the coefficients, dark and flat are {gains}; "
            "choose images from the detector the gains were fitted for"
        )
    hint = "; the dark/flat match the image" if others and all(o == plane for o in others) else ""
    raise ValueError(
        f"coefficients: the gains are {gains} but the image's planes are {plane}; gains and "
        f"images must come from the same detector{hint}"
    )


def _lazy(level, scale, offset, dtype):
    """Correct one (dask) level with the calibration brought to its plane shape.

    The multiplier is brought to a coarser level by its harmonic block mean: for an image that
    the gains flatten (``image - dark`` proportional to ``1 / scale``), correcting the level
    then equals correcting the full resolution and averaging, exactly.
    """
    level = level if isinstance(level, da.Array) else da.from_array(level)
    shape = level.shape[-2:]
    chunks = level.chunks[-2:]
    if tuple(shape) != scale.shape:
        with np.errstate(divide="ignore"):
            scale = (1 / block_mean(1 / scale, shape)).astype(dtype)
    args = [level, da.from_array(scale, chunks=chunks)]
    if offset is not None:
        args.append(da.from_array(block_mean(offset, shape), chunks=chunks))
    return da.map_blocks(_apply, *args, dtype=dtype, meta=np.empty((0,) * level.ndim, dtype))


def _apply(block: np.ndarray, scale: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Return ``(block - offset) * scale`` in ``scale``'s dtype (one pass over the block)."""
    return offset_and_scale(block, offset, scale, scale.dtype)


def _scale(coeffs, dark, flat, sigma, smooth_sigma) -> np.ndarray:
    """Per-pixel multiplier: the gains, divided by the (residual-corrected) smoothed flat."""
    if flat is None:
        return coeffs
    flat = flat.astype(np.float64) - (0.0 if dark is None else dark)
    smoothed = gaussian_smooth(flat, smooth_sigma)
    divisor = smoothed
    if sigma is not None:
        residual = smoothed - flat * coeffs
        with np.errstate(invalid="ignore"):
            large = np.abs(residual) >= sigma * np.nanstd(residual)
        divisor = np.where(large, smoothed - residual, smoothed)
    with np.errstate(invalid="ignore"):
        unusable = ~(divisor > 0)
    if unusable.any():
        warnings.warn(
            f"{int(unusable.sum())} pixels have a non-positive dark-corrected flat; they are "
            "set to NaN",
            RuntimeWarning,
            stacklevel=3,
        )
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(unusable, np.nan, coeffs / divisor)
