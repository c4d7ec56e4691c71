"""Steps around the reconstruction, as in alsmicroct's options.

Before reconstruction: beam-hardening polynomial, dropping projections, offsetting angles.
After it, on reconstructed slices ``(slice, row, column)``: polar ring removal, a bilateral
filter, cropping and casting to 8 bits.
"""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da
import numpy as np
from scipy.ndimage import map_coordinates, median_filter, uniform_filter1d

from detcal.tomo._prep_common import check_positive, check_stack, is_dask, map_full


def _as_array(data, name: str):
    if not is_dask(data):
        data = np.asarray(data)
    if data.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {data.dtype}")
    return data


def _slices(rec, name: str = "rec"):
    """Accept one slice (row, col) or a stack (slice, row, col); return a 3D view and flag."""
    rec = _as_array(rec, name)
    if rec.ndim == 2:
        return rec[None], True
    return check_stack(rec, name), False


def beam_hardening(tomo, coefficients: Sequence[float] = (0, 1, 0, 0, 0, 0.1)):
    """Linearise attenuation with a polynomial: ``a0 + a1 t + a2 t^2 + ... + a5 t^5``.

    alsmicroct's ``doBeamHardening`` (after Herman 1979), applied to minus-log projections;
    the default coefficients are alsmicroct's.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Line integrals (after :func:`~detcal.tomo.normalize.minus_log`), any shape.
    coefficients : sequence of float, default (0, 1, 0, 0, 0, 0.1)
        ``a0, a1, ...`` in increasing power (1 to 6 values).

    Returns
    -------
    ndarray or dask.array.Array
        Float32 array of the same shape and kind.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``coefficients`` is not a sequence of numbers.
    ValueError
        If there are not 1 to 6 finite coefficients.

    References
    ----------
    .. [1] G. T. Herman, "Correction for beam hardening in computed tomography", Phys. Med.
       Biol. 24, 81 (1979). :doi:`10.1088/0031-9155/24/1/008`

    Examples
    --------
    >>> import numpy as np
    >>> beam_hardening(np.array([1.0, 2.0]))
    array([1.1, 5.2], dtype=float32)
    """
    tomo = _as_array(tomo, "tomo")
    try:
        coeffs = np.asarray(coefficients, dtype=np.float64).ravel()
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"coefficients must be a sequence of numbers; got {coefficients!r}"
        ) from err
    if not 1 <= coeffs.size <= 6 or not np.all(np.isfinite(coeffs)):
        raise ValueError(f"coefficients must be 1 to 6 finite numbers a0..a5; got {coefficients!r}")
    values = tomo.astype(np.float32)
    out = values * np.float32(0) + np.float32(coeffs[-1])
    for coeff in coeffs[-2::-1]:
        out = out * values + np.float32(coeff)
    return out.astype(np.float32)


def drop_projections(tomo, theta, ignore: Sequence[int]):
    """Remove the projections listed in ``ignore`` from the stack and from ``theta``.

    alsmicroct's ``projIgnoreList`` (there the projections were zeroed; dropping them keeps
    the reconstruction consistent with the remaining angles).

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Stack ``(angle, row, column)``.
    theta : array_like
        Angles in radians, one per projection.
    ignore : sequence of int
        Indices of the projections to drop (0-based).

    Returns
    -------
    tomo : ndarray or dask.array.Array
        The stack without those projections (same kind as the input).
    theta : ndarray
        The remaining angles.

    Raises
    ------
    TypeError
        If ``ignore`` holds non-integers.
    ValueError
        If ``theta`` does not have one angle per projection, an index is out of range, or
        every projection would be dropped.

    Examples
    --------
    >>> import numpy as np
    >>> tomo, theta = drop_projections(np.zeros((4, 1, 2)), np.arange(4.0), [1])
    >>> tomo.shape, theta.tolist()
    ((3, 1, 2), [0.0, 2.0, 3.0])
    """
    tomo = check_stack(tomo)
    theta = np.asarray(theta, dtype=np.float64).ravel()
    if theta.size != tomo.shape[0]:
        raise ValueError(
            f"theta must have one angle per projection ({tomo.shape[0]}); got {theta.size}"
        )
    index = np.asarray(list(ignore))
    if index.size and index.dtype.kind not in "iu":
        raise TypeError(f"ignore must hold integer indices; got {list(ignore)!r}")
    if index.size and (index.min() < 0 or index.max() >= tomo.shape[0]):
        raise ValueError(f"ignore indices must be in 0 .. {tomo.shape[0] - 1}; got {list(ignore)}")
    keep = np.setdiff1d(np.arange(tomo.shape[0]), index)
    if keep.size == 0:
        raise ValueError("ignore would drop every projection")
    return tomo[keep], theta[keep]


def offset_angles(theta, offset: float):
    """Add a constant offset (radians) to every angle, e.g. alsmicroct's ``angle_offset``.

    Parameters
    ----------
    theta : array_like
        Angles in radians.
    offset : float
        Offset in radians (use ``numpy.deg2rad`` for degrees).

    Returns
    -------
    ndarray
        Float64 angles ``theta + offset``.

    Raises
    ------
    TypeError
        If ``offset`` is not a number.
    ValueError
        If ``offset`` is not finite.

    Examples
    --------
    >>> offset_angles([0.0, 1.0], 0.5).tolist()
    [0.5, 1.5]
    """
    if isinstance(offset, bool) or not isinstance(offset, int | float | np.integer | np.floating):
        raise TypeError(f"offset must be a number (radians); got {offset!r}")
    if not np.isfinite(offset):
        raise ValueError(f"offset must be finite; got {offset!r}")
    return np.asarray(theta, dtype=np.float64) + float(offset)


def _ring_block(block, center, thresh, thresh_max, thresh_min, theta_min, rwidth, edge):
    nrow, ncol = block.shape[1:]
    crow, ccol = center
    max_r = int(np.floor(min(crow, ccol, nrow - 1 - crow, ncol - 1 - ccol)))
    if max_r < 2:
        return block
    nang = max(8, int(round(2 * np.pi * max_r)))
    angles = 2 * np.pi * np.arange(nang) / nang
    radii = np.arange(max_r + 1, dtype=np.float64)
    rows = crow + radii[None, :] * np.sin(angles)[:, None]
    cols = ccol + radii[None, :] * np.cos(angles)[:, None]
    yy, xx = np.mgrid[0:nrow, 0:ncol].astype(np.float64)
    radius = np.hypot(yy - crow, xx - ccol)
    angle_index = (np.arctan2(yy - crow, xx - ccol) % (2 * np.pi)) * nang / (2 * np.pi)
    inside = radius <= max_r
    arc = max(1, int(round(nang * 2 * theta_min / 360.0)))
    out = block.copy()
    for k, image in enumerate(block):
        polar = np.clip(map_coordinates(image, [rows, cols], order=1), thresh_min, thresh_max)
        artefact = polar - median_filter(polar, size=(1, 2 * rwidth + 1), mode="nearest")
        artefact[np.abs(artefact) > thresh] = 0.0
        artefact = uniform_filter1d(artefact, arc, axis=0, mode=edge)
        wrapped = np.concatenate([artefact, artefact[:1]], axis=0)
        ring = map_coordinates(wrapped, [angle_index, radius], order=1, mode="nearest")
        out[k] -= np.where(inside, ring, 0.0).astype(np.float32)
    return out


def remove_ring(
    rec,
    *,
    center: tuple[float, float] | None = None,
    thresh=300.0,
    thresh_max=300.0,
    thresh_min=-100.0,
    theta_min=30.0,
    rwidth: int = 30,
    int_mode: str = "wrap",
):
    """Remove ring artefacts from reconstructed slices in polar coordinates (TomoPy's options).

    Each slice is resampled on a polar grid around ``center`` (1 pixel in radius, about 1 pixel
    along the outer circle) and clipped to ``[thresh_min, thresh_max]``. Subtracting a radial
    median of width ``2 rwidth + 1`` leaves the rings and fine detail; differences larger than
    ``thresh`` are treated as detail and dropped; averaging what is left along arcs of
    ``2 theta_min`` degrees keeps only what is ring-like (constant along the angle). That ring
    image, mapped back to Cartesian coordinates, is subtracted.

    Parameters
    ----------
    rec : array_like or dask.array.Array
        Slices ``(slice, row, column)`` or one slice ``(row, column)``.
    center : (float, float), optional
        Ring centre ``(row, col)``; default the image centre.
    thresh : float, default 300.0
        Largest ring amplitude; larger deviations are kept as features.
    thresh_max, thresh_min : float, default 300.0, -100.0
        Values are clipped to this range before the rings are measured.
    theta_min : float, default 30.0
        Half the arc (degrees) over which a ring is averaged; must be in (0, 180).
    rwidth : int, default 30
        Widest ring to remove, in pixels.
    int_mode : {"wrap", "reflect"}, default "wrap"
        Boundary of the angular average.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 slices of the same shape and kind.

    Raises
    ------
    TypeError
        If ``rec`` is not numeric or a parameter has the wrong type.
    ValueError
        If ``rec`` is not 2D/3D, ``center`` is outside the slice, ``thresh_min >= thresh_max``,
        or a parameter is out of range.

    References
    ----------
    .. [1] J. Sijbers, A. Postnov, "Reduction of ring artefacts in high resolution micro-CT
       reconstructions", Phys. Med. Biol. 49, N247 (2004). :doi:`10.1088/0031-9155/49/14/N06`

    Examples
    --------
    >>> import numpy as np
    >>> yy, xx = np.mgrid[:65, :65] - 32.0
    >>> ring = np.exp(-0.5 * (np.hypot(yy, xx) - 20) ** 2)
    >>> out = remove_ring(ring, thresh=5, rwidth=5)
    >>> bool(np.abs(out).max() < 0.25 * ring.max())
    True
    """
    stack, single = _slices(rec)
    thresh = check_positive(thresh, "thresh")
    rwidth = check_positive(rwidth, "rwidth", integer=True)
    theta_min = check_positive(theta_min, "theta_min")
    if theta_min >= 180:
        raise ValueError(f"theta_min must be in (0, 180) degrees; got {theta_min}")
    if not float(thresh_min) < float(thresh_max):
        raise ValueError(f"thresh_min must be < thresh_max; got {thresh_min}, {thresh_max}")
    if int_mode not in ("wrap", "reflect"):
        raise ValueError(f"int_mode must be 'wrap' or 'reflect'; got {int_mode!r}")
    nrow, ncol = stack.shape[1:]
    if center is None:
        center = ((nrow - 1) / 2.0, (ncol - 1) / 2.0)
    center = tuple(float(c) for c in center)
    if len(center) != 2 or not (0 <= center[0] <= nrow - 1 and 0 <= center[1] <= ncol - 1):
        raise ValueError(
            f"center must be (row, col) inside the {nrow} x {ncol} slice; got {center}"
        )
    out = map_full(
        _ring_block,
        stack,
        (1, 2),
        0,
        center=center,
        thresh=thresh,
        thresh_max=float(thresh_max),
        thresh_min=float(thresh_min),
        theta_min=theta_min,
        rwidth=rwidth,
        edge=int_mode,
    )
    return out[0] if single else out


def _bilateral_block(block, sigma_color, sigma_spatial, win_size):
    from skimage.restoration import denoise_bilateral

    out = np.empty_like(block)
    for k, image in enumerate(block):
        out[k] = denoise_bilateral(
            image.astype(np.float64),
            sigma_color=sigma_color,
            sigma_spatial=sigma_spatial,
            win_size=win_size,
            mode="edge",
        )
    return out


def bilateral(rec, *, sigma_color=None, sigma_spatial=1.0, win_size: int | None = None):
    """Edge-preserving smoothing of each slice (scikit-image's ``denoise_bilateral``).

    Parameters
    ----------
    rec : array_like or dask.array.Array
        Slices ``(slice, row, column)`` or one slice ``(row, column)``.
    sigma_color : float, optional
        Grey-level standard deviation; default the standard deviation of each slice.
    sigma_spatial : float, default 1.0
        Spatial standard deviation, pixels.
    win_size : int, optional
        Window size; default ``max(5, 2 * ceil(3 * sigma_spatial) + 1)``.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 slices of the same shape and kind.

    Raises
    ------
    TypeError
        If ``rec`` is not numeric or a parameter has the wrong type.
    ValueError
        If ``rec`` is not 2D/3D or a parameter is not positive.

    References
    ----------
    .. [1] C. Tomasi, R. Manduchi, "Bilateral filtering for gray and color images", ICCV 1998.
       :doi:`10.1109/ICCV.1998.710815`

    Examples
    --------
    >>> import numpy as np
    >>> img = np.zeros((16, 16)); img[:, 8:] = 1.0
    >>> out = bilateral(img + 0.01, sigma_color=0.1)
    >>> bool(abs(out[4, 3] - 0.01) < 1e-3 and abs(out[4, 12] - 1.01) < 1e-3)
    True
    """
    stack, single = _slices(rec)
    if sigma_color is not None:
        sigma_color = check_positive(sigma_color, "sigma_color")
    sigma_spatial = check_positive(sigma_spatial, "sigma_spatial")
    if win_size is not None:
        win_size = check_positive(win_size, "win_size", integer=True)
    out = map_full(
        _bilateral_block,
        stack,
        (1, 2),
        0,
        sigma_color=sigma_color,
        sigma_spatial=sigma_spatial,
        win_size=win_size,
    )
    return out[0] if single else out


def crop(data, *, top: int = 0, bottom: int = 0, left: int = 0, right: int = 0):
    """Remove margins from the last two axes (rows, columns).

    Parameters
    ----------
    data : array_like or dask.array.Array
        ``(..., row, column)``.
    top, bottom, left, right : int, default 0
        Pixels removed from each side.

    Returns
    -------
    ndarray or dask.array.Array
        The cropped view, same kind as ``data``.

    Raises
    ------
    TypeError
        If a margin is not an integer.
    ValueError
        If ``data`` has fewer than 2 dimensions, a margin is negative, or nothing would remain.

    Examples
    --------
    >>> import numpy as np
    >>> crop(np.zeros((2, 10, 8)), top=1, right=3).shape
    (2, 9, 5)
    """
    data = _as_array(data, "data")
    if data.ndim < 2:
        raise ValueError(f"data must have at least 2 dimensions; got shape {data.shape}")
    margins = {}
    for name, value in (("top", top), ("bottom", bottom), ("left", left), ("right", right)):
        margins[name] = check_positive(value, name, integer=True, allow_zero=True)
    nrow, ncol = data.shape[-2:]
    if margins["top"] + margins["bottom"] >= nrow or margins["left"] + margins["right"] >= ncol:
        raise ValueError(f"margins {margins} leave nothing of the {nrow} x {ncol} image")
    return data[
        ...,
        margins["top"] : nrow - margins["bottom"],
        margins["left"] : ncol - margins["right"],
    ]


def cast_to_uint8(rec, *, low, high):
    """Map ``[low, high]`` linearly to 0..255 and cast to uint8 (values outside are clipped).

    alsmicroct's ``castTo8bit`` with ``cast8bit_min``/``cast8bit_max``. NaN becomes 0.

    Parameters
    ----------
    rec : array_like or dask.array.Array
        Any shape.
    low, high : float
        Values mapped to 0 and 255; ``low < high``.

    Returns
    -------
    ndarray or dask.array.Array
        Uint8 array of the same shape and kind.

    Raises
    ------
    TypeError
        If ``rec`` is not numeric or ``low``/``high`` are not numbers.
    ValueError
        If ``low >= high`` or either is not finite.

    Examples
    --------
    >>> import numpy as np
    >>> cast_to_uint8(np.array([-1.0, 0.0, 0.5, 1.0, 2.0]), low=0.0, high=1.0)
    array([  0,   0, 128, 255, 255], dtype=uint8)
    """
    rec = _as_array(rec, "rec")
    for name, value in (("low", low), ("high", high)):
        if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
            raise TypeError(f"{name} must be a number; got {value!r}")
        if not np.isfinite(value):
            raise ValueError(f"{name} must be finite; got {value!r}")
    if not low < high:
        raise ValueError(f"low must be < high; got low={low}, high={high}")
    xp = da if is_dask(rec) else np
    scaled = (rec.astype(np.float64) - low) * (255.0 / (high - low))
    scaled = xp.clip(xp.where(xp.isnan(scaled), 0.0, scaled), 0, 255)
    return xp.rint(scaled).astype(np.uint8)
