"""Correct images with per-pixel detector gains (and optionally a smoothed flat).

``out = (image - dark) * gains``, divided by the smoothed dark-corrected flat when one is given.
Numpy in gives numpy out; dask in gives a lazy dask out, chunk for chunk.
"""

from __future__ import annotations

import warnings

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.filters.gaussian import gaussian_smooth


def correct_image(image, coefficients, *, dark=None, flat=None, sigma=None, smooth_sigma=50.0):
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
    image : numpy.ndarray or dask.array.Array
        (row, col) or (z, row, col), any real dtype.
    coefficients : array-like
        (row, col) gains from :func:`fit_response` (or detectorcal). NaN gains give NaN pixels.
    dark : array-like or float, optional
        (row, col) dark image, or one dark level.
    flat : array-like, optional
        (row, col) flat (mean of the flat exposures, dark included).
    sigma : float, optional
        Residual threshold in standard deviations (needs ``flat``); None divides by the
        smoothed flat everywhere.
    smooth_sigma : float, default 50.0
        Gaussian sigma in pixels for smoothing the flat; use the fit's ``sigma``.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Corrected image, same shape; float64 for float64 input, float32 otherwise (integer
        input never overflows). A dask input gives a lazy dask output, chunk for chunk. Pixels
        whose flat divisor is not positive are NaN (with a warning).

    Raises
    ------
    ValueError
        Shapes that do not match, NaN/inf in ``dark`` or ``flat``, inf in ``coefficients``,
        ``sigma`` without ``flat``, non-positive ``sigma`` or ``smooth_sigma``.
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
    ndim = getattr(image, "ndim", None)
    if ndim not in (2, 3):
        raise ValueError(f"image: expected a (row, col) or (z, row, col) array, got ndim={ndim}")
    _validate.real_dtype(image, "image")
    plane = tuple(image.shape[-2:])
    coeffs = _validate.plane(coefficients, "coefficients", plane, allow_nan=True)
    if np.isinf(coeffs).any():
        raise ValueError("coefficients: contains infinite values; expected finite gains or NaN")
    dark = _validate.plane(dark, "dark", plane, allow_scalar=True)
    flat = _validate.plane(flat, "flat", plane)
    smooth_sigma = _validate.positive(smooth_sigma, "smooth_sigma")
    if sigma is not None:
        sigma = _validate.positive(sigma, "sigma")
        if flat is None:
            raise ValueError("sigma: the residual correction needs a flat; pass flat=...")
    dtype = np.dtype(np.float64 if image.dtype == np.float64 else np.float32)
    scale = _scale(coeffs, dark, flat, sigma, smooth_sigma).astype(dtype)
    offset = None if dark is None else dark.astype(dtype)
    if isinstance(image, da.Array):
        chunks = image.chunks[-2:]
        scale_d = da.from_array(scale, chunks=chunks)
        args = [image, scale_d]
        if offset is not None:
            args.append(da.from_array(offset, chunks=chunks))
        return da.map_blocks(_apply, *args, dtype=dtype, meta=np.empty((0,) * ndim, dtype))
    return _apply(np.asarray(image), scale, offset)


def _apply(block: np.ndarray, scale: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
    """Return ``(block - offset) * scale`` in ``scale``'s dtype."""
    out = block.astype(scale.dtype, copy=True)
    if offset is not None:
        out -= offset
    out *= scale
    return out


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
