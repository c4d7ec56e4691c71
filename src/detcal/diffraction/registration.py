"""Masked sub-pixel registration of diffraction patterns, sub-pixel shifts, series alignment.

:func:`register` finds the shift to a few pixels with scikit-image's masked normalised
cross-correlation (Padfield 2012) on binned copies (at most 256 pixels a side), so a beam block
or dead pixels never lock the result at zero, then refines it at full resolution: the masked
normalised cross-correlation is climbed on the integer grid, parabolas through the 3 x 3
neighbourhood of its maximum give the sub-pixel offset, and the image is moved by that offset
(cubic spline) and the fit repeated until it moves by less than 0.01 px.
"""

from __future__ import annotations

import dask.array as da
import numpy as np
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from detcal import _validate
from detcal.progress import ProgressCallback, compute_with_progress

COARSE_SIDE = 256  # longest side of the binned copies the coarse search runs on
_CLIMB_STEPS = 16  # integer steps from the coarse shift to the NCC's local maximum
_ITERATIONS = 4
_TOLERANCE = 0.01


def prepare(image, name: str, mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Return ``image`` as float64 with NaN set to 0, and its mask with NaN pixels added.

    Raises
    ------
    ValueError
        Not 2-D, or every pixel masked or NaN.
    """
    values = np.asarray(_validate.array(image, name, ndim=2, axes="a (row, col) image"))
    values = values.astype(np.float64)
    ignore = ~np.isfinite(values)
    if mask is not None:
        ignore |= mask
    if ignore.all():
        raise ValueError(f"{name}: every pixel is masked or NaN")
    values[ignore] = 0.0
    return values, ignore


class _Masked:
    """An image with its ignored pixels at 0, its squares and its validity, for fast NCC sums."""

    def __init__(self, values: np.ndarray, ignore: np.ndarray):
        self.valid = (~ignore).astype(np.float64)
        self.values = values * self.valid
        self.squares = self.values**2


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.einsum("ij,ij->", a, b))


def _ncc(moving: _Masked, fixed: _Masked, drow: int, dcol: int) -> float:
    """Masked normalised cross-correlation of ``fixed[p]`` with ``moving[p - (drow, dcol)]``.

    Means and variances are those of the overlap where both pixels are valid (Padfield 2012).
    """
    rows, cols = fixed.values.shape
    f = (slice(max(0, drow), rows + min(0, drow)), slice(max(0, dcol), cols + min(0, dcol)))
    m = (slice(max(0, -drow), rows + min(0, -drow)), slice(max(0, -dcol), cols + min(0, -dcol)))
    count = _dot(fixed.valid[f], moving.valid[m])
    if count < 2:
        return np.nan
    sum_f = _dot(fixed.values[f], moving.valid[m])
    sum_m = _dot(moving.values[m], fixed.valid[f])
    var_f = _dot(fixed.squares[f], moving.valid[m]) - sum_f**2 / count
    var_m = _dot(moving.squares[m], fixed.valid[f]) - sum_m**2 / count
    covariance = _dot(fixed.values[f], moving.values[m]) - sum_f * sum_m / count
    if var_f <= 0 or var_m <= 0:
        return np.nan
    return covariance / np.sqrt(var_f * var_m)


def _vertex(minus: float, centre: float, plus: float) -> float:
    """Offset in (-1, 1) of the vertex of the parabola through three equally spaced values."""
    curvature = minus - 2 * centre + plus
    if not np.isfinite(curvature) or curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (minus - plus) / curvature, -1.0, 1.0))


def refine(moving, moving_ignore, fixed, fixed_ignore, start) -> np.ndarray:
    """Refine a shift ``start`` (within a few pixels) to sub-pixel by fits of the masked NCC.

    ``moving`` and ``fixed`` come from :func:`prepare`; the result is the shift that moves
    ``moving`` onto ``fixed``. The NCC is first climbed on the integer grid from ``start``,
    then parabolas through the 3 x 3 neighbourhood of the best integer shift give the fraction;
    ``moving`` is moved by it (cubic spline) and the fit repeated until the step is < 0.01 px.
    """
    target = _Masked(fixed, fixed_ignore)
    source = _Masked(moving, moving_ignore)
    integer = np.round(np.asarray(start, dtype=np.float64)).astype(int)
    grid = np.full((3, 3), np.nan)
    for _ in range(_CLIMB_STEPS):
        grid = np.array(
            [[_ncc(source, target, integer[0] + i, integer[1] + j) for j in (-1, 0, 1)]
             for i in (-1, 0, 1)]
        )  # fmt: skip
        if not np.isfinite(grid).any():
            break
        best = np.unravel_index(np.nanargmax(grid), grid.shape)
        if best == (1, 1):
            break
        integer += np.array(best) - 1
    shift = integer + np.array([_vertex(*grid[:, 1]), _vertex(*grid[1, :])])
    for _ in range(_ITERATIONS):
        fraction = shift - integer
        moved = _Masked(
            ndimage.shift(moving, fraction, order=3, mode="nearest"),
            ndimage.shift(moving_ignore.astype(np.float32), fraction, order=1) > 0.01,
        )
        centre = _ncc(moved, target, *integer)
        step = np.array(
            [_vertex(_ncc(moved, target, integer[0] - 1, integer[1]), centre,
                     _ncc(moved, target, integer[0] + 1, integer[1])),
             _vertex(_ncc(moved, target, integer[0], integer[1] - 1), centre,
                     _ncc(moved, target, integer[0], integer[1] + 1))]
        )  # fmt: skip
        shift = shift + np.clip(step, -0.5, 0.5)
        if np.abs(step).max() < _TOLERANCE:
            break
    return shift


def bin_image(values: np.ndarray, ignore: np.ndarray, factor: int):
    """Mean of the valid pixels in ``factor`` x ``factor`` blocks; a block is masked if any is.

    Binned pixel ``k`` sits at ``factor * k + (factor - 1) / 2`` in the original pixels;
    trailing rows and columns that do not fill a block are left out.
    """
    if factor == 1:
        return values, ignore
    rows, cols = (n // factor * factor for n in values.shape)
    shape = (rows // factor, factor, cols // factor, factor)
    valid = ~ignore[:rows, :cols]
    sums = (values[:rows, :cols] * valid).reshape(shape).sum(axis=(1, 3))
    counts = valid.reshape(shape).sum(axis=(1, 3))
    binned_ignore = counts < factor * factor
    return np.where(binned_ignore, 0.0, sums / np.maximum(counts, 1)), binned_ignore


def coarse_shift(moving, moving_ignore, fixed, fixed_ignore) -> np.ndarray:
    """Shift moving ``moving`` onto ``fixed`` to a few pixels: masked NCC on binned copies.

    scikit-image's masked ``phase_cross_correlation`` (masks True = valid there) on copies
    binned to at most 256 pixels a side; the shift is returned in original pixels.
    """
    factor = max(1, -(-max(fixed.shape) // COARSE_SIDE))
    moving, moving_ignore = bin_image(moving, moving_ignore, factor)
    fixed, fixed_ignore = bin_image(fixed, fixed_ignore, factor)
    shift = phase_cross_correlation(
        fixed, moving, reference_mask=~fixed_ignore, moving_mask=~moving_ignore
    )[0]
    return np.asarray(shift) * factor


def register(image, reference, *, mask=None) -> tuple[float, float]:
    """Find the sub-pixel shift that aligns ``image`` with ``reference``, ignoring masked pixels.

    The integer shift comes from scikit-image's masked normalised cross-correlation (Padfield
    2012); it is refined to sub-pixel by parabolic fits of the masked normalised
    cross-correlation around its peak, moving ``image`` by the fraction found until it
    converges. Masked and NaN pixels take no part, so a beam block fixed on the detector does
    not pull the shift towards zero.

    Parameters
    ----------
    image : array-like
        (row, col) pattern to move.
    reference : array-like
        (row, col) pattern to align with, same shape.
    mask : array-like of bool, optional
        (row, col), True = ignore the pixel (beam block, dead pixels), for both images.

    Returns
    -------
    (drow, dcol) : tuple of float
        The shift :func:`shift_image` applies to ``image`` to align it with ``reference``
        (scikit-image's convention).

    Raises
    ------
    ValueError
        Shapes that differ, a mask of the wrong shape or hiding every pixel, an image that is
        all NaN.

    References
    ----------
    Padfield, D. (2012). Masked object registration in the Fourier domain. IEEE Transactions
    on Image Processing 21(5), 2706-2718. :doi:`10.1109/TIP.2011.2181402`

    Examples
    --------
    >>> import numpy as np
    >>> from detcal.sample_data.powder import make_powder
    >>> ref = make_powder(shape=(64, 64), center=(31.0, 32.0), noise=False, beam_block=False)
    >>> img = make_powder(shape=(64, 64), center=(33.5, 31.0), noise=False, beam_block=False)
    >>> [round(s, 1) for s in register(img.image, ref.image)]
    [-2.5, 1.0]
    """
    image = _validate.array(image, "image", ndim=2, axes="a (row, col) image")
    reference = _validate.array(reference, "reference", ndim=2, axes="a (row, col) image")
    if reference.shape != image.shape:
        raise ValueError(
            f"reference: expected shape {tuple(image.shape)} like the image, "
            f"got {tuple(reference.shape)}"
        )
    mask = _validate.mask(mask, "mask", image.shape)
    moving, moving_ignore = prepare(image, "image", mask)
    fixed, fixed_ignore = prepare(reference, "reference", mask)
    return tuple(float(s) for s in _shift(moving, moving_ignore, fixed, fixed_ignore))


def _shift(moving, moving_ignore, fixed, fixed_ignore) -> np.ndarray:
    """Masked coarse registration on binned copies, then the sub-pixel refinement."""
    start = coarse_shift(moving, moving_ignore, fixed, fixed_ignore)
    return refine(moving, moving_ignore, fixed, fixed_ignore, start)


def shift_image(image, shift, *, fill_value=0.0) -> np.ndarray:
    """Move an image by a sub-pixel shift (cubic spline), filling what comes in from outside.

    Pixel ``p`` of the result is ``image`` at ``p - shift``. NaN pixels stay NaN in the
    result, and make the pixels they touch NaN.

    Parameters
    ----------
    image : array-like
        (row, col) image.
    shift : (float, float)
        (drow, dcol) in pixels, e.g. from :func:`register`.
    fill_value : float, default 0.0
        Value of the pixels whose source lies outside ``image``.

    Returns
    -------
    numpy.ndarray
        (row, col); float64 for float64 input, float32 otherwise.

    Raises
    ------
    ValueError
        Not 2-D, or a shift that is not two finite numbers.

    Examples
    --------
    >>> import numpy as np
    >>> shift_image(np.arange(4.0).reshape(1, 4), (0, 1), fill_value=-1).round(6).tolist()
    [[-1.0, 0.0, 1.0, 2.0]]
    """
    image = np.asarray(_validate.array(image, "image", ndim=2, axes="a (row, col) image"))
    shift = np.array(_validate.numbers_tuple(shift, "shift", length=2))
    fill_value = _validate.finite(fill_value, "fill_value")
    dtype = np.float64 if image.dtype == np.float64 else np.float32
    values = image.astype(np.float64)
    nan = ~np.isfinite(values)
    if nan.any():
        values[nan] = 0.0
    out = ndimage.shift(values, shift, order=3, mode="nearest")
    if nan.any():
        out[ndimage.shift(nan.astype(np.float32), shift, order=1, cval=0.0) > 0.01] = np.nan
    rows = np.arange(image.shape[0]) - shift[0]
    cols = np.arange(image.shape[1]) - shift[1]
    outside_rows = (rows < -1e-9) | (rows > image.shape[0] - 1 + 1e-9)
    outside_cols = (cols < -1e-9) | (cols > image.shape[1] - 1 + 1e-9)
    out[outside_rows, :] = fill_value
    out[:, outside_cols] = fill_value
    return out.astype(dtype, copy=False)


def _align_block(block, reference, mask):
    fixed, fixed_ignore = reference
    out = np.empty((block.shape[0], 2))
    for k, plane in enumerate(block):
        moving, moving_ignore = prepare(plane, "images", mask)
        out[k] = _shift(moving, moving_ignore, fixed, fixed_ignore)
    return out


def _shift_planes(block, shifts, fill_value):
    out = np.empty(block.shape, np.float64 if block.dtype == np.float64 else np.float32)
    for k, plane in enumerate(block):
        out[k] = shift_image(plane, shifts[k], fill_value=fill_value)
    return out


def _shift_chunk(block, shifts, fill_value, block_info=None):
    start, stop = block_info[0]["array-location"][0]
    return _shift_planes(block, shifts[start:stop], fill_value)


def align(
    images,
    *,
    reference=None,
    mask=None,
    fill_value=0.0,
    progress: ProgressCallback | None = None,
):
    """Align every plane of a series with a reference by masked sub-pixel registration.

    The shifts are found plane by plane with :func:`register` (a dask series is read once,
    chunk by chunk); the aligned series is then made by :func:`shift_image`, lazily for a dask
    input (each plane is moved when it is computed).

    Parameters
    ----------
    images : numpy.ndarray or dask.array.Array
        (plane, row, col) series, at least 2 planes.
    reference : array-like, optional
        (row, col) pattern to align with; default: the first plane.
    mask : array-like of bool, optional
        (row, col), True = ignore (beam block, dead pixels), fixed on the detector.
    fill_value : float, default 0.0
        Value of the pixels shifted in from outside.
    progress : callable, optional
        ``progress(done, total)`` while the shifts are found.

    Returns
    -------
    aligned : numpy.ndarray or dask.array.Array
        (plane, row, col); lazy for a dask input; float64 for float64 input, float32 otherwise.
    shifts : numpy.ndarray
        (plane, 2) the (drow, dcol) applied to each plane.

    Raises
    ------
    ValueError
        Fewer than 2 planes, a reference or mask of the wrong shape, a mask hiding everything.

    Examples
    --------
    >>> from detcal.sample_data.powder import make_powder_series
    >>> series = make_powder_series(n=3, shape=(64, 64), max_shift=2.0, noise=False)
    >>> aligned, shifts = align(series.images, mask=series.mask)
    >>> bool(abs(shifts + series.shifts).max() < 0.1)
    True
    """
    images = _validate.array(images, "images", ndim=3, axes="(plane, row, col)")
    if images.shape[0] < 2:
        raise ValueError(f"images: expected a series of at least 2 planes, got {images.shape}")
    plane_shape = tuple(images.shape[1:])
    mask = _validate.mask(mask, "mask", plane_shape)
    fill_value = _validate.finite(fill_value, "fill_value")
    if reference is None:
        reference = np.asarray(images[0])
    else:
        reference = _validate.array(reference, "reference", ndim=2, axes="a (row, col) image")
        if tuple(reference.shape) != plane_shape:
            raise ValueError(
                f"reference: expected shape {plane_shape} like the planes, got {reference.shape}"
            )
    fixed = prepare(reference, "reference", mask)
    if isinstance(images, da.Array):
        planes = images.rechunk({1: -1, 2: -1})
        found = planes.map_blocks(
            _align_block, fixed, mask, drop_axis=(1, 2), new_axis=1,
            chunks=(planes.chunks[0], (2,)), dtype=np.float64, meta=np.empty((0, 0)),
        )  # fmt: skip
        (shifts,) = compute_with_progress(found, progress=progress)
        dtype = np.float64 if images.dtype == np.float64 else np.float32
        aligned = planes.map_blocks(_shift_chunk, shifts, fill_value, dtype=dtype)
        return aligned, shifts
    shifts = np.empty((images.shape[0], 2))
    for k in range(images.shape[0]):
        shifts[k] = _align_block(images[k : k + 1], fixed, mask)[0]
        if progress is not None:
            progress(k + 1, images.shape[0])
    return _shift_planes(images, shifts, fill_value), shifts
