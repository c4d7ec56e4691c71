"""Per-pixel offset and scale of a block of planes, in one compiled pass.

The corrections (response gains, flat fields) are ``(image - offset) * factor`` or
``(image - offset) / factor - baseline`` with per-pixel ``offset`` and ``factor``. Written with
NumPy each operation is a pass of its own over the block (convert and subtract, multiply,
clip, round), each reading and writing memory; here one loop reads each count once and writes
its result. The arithmetic is done in the type of ``factor`` (float32 for flat fields and the
default gains), value for value as the NumPy passes did it.
"""

from __future__ import annotations

import numba
import numba.extending
import numpy as np

from detcal._compiled import compiled_input


def offset_and_scale(
    block: np.ndarray,
    offset: np.ndarray | None,
    factor: np.ndarray,
    dtype,
    *,
    divide: bool = False,
    baseline: float = 0.0,
) -> np.ndarray:
    """Return ``(block - offset) * factor`` (or ``/ factor - baseline``) as ``dtype``.

    Parameters
    ----------
    block : numpy.ndarray
        (..., row, col) planes of any real dtype.
    offset : numpy.ndarray or None
        (row, col) subtracted from every plane first; None subtracts nothing.
    factor : numpy.ndarray
        (row, col) float each plane is multiplied by (divided by, with ``divide``); the
        arithmetic is done in its type.
    dtype : numpy dtype
        Output type. An integer type gets the values rounded to the nearest integer and
        clipped to its range.
    divide : bool
        Divide by ``factor`` instead of multiplying.
    baseline : float
        Subtracted last.

    Returns
    -------
    numpy.ndarray
        Same shape as ``block``.

    Examples
    --------
    >>> out = offset_and_scale(np.array([[[10, 20]]], np.uint16), np.array([[2.0, 4.0]]),
    ...                        np.array([[0.5, 2.0]]), np.uint16, divide=True)
    >>> out.tolist()
    [[[16, 8]]]
    """
    dtype = np.dtype(dtype)
    planes = compiled_input(block).reshape(-1, *np.shape(block)[-2:])
    out = np.empty(planes.shape, dtype)
    factor = compiled_input(factor)
    if factor.dtype.kind != "f":
        factor = factor.astype(np.float64)
    kind = factor.dtype.type
    # no offset: the number 0 (a zero image would be allocated and read for every block)
    offset = kind(0) if offset is None else np.asarray(offset, kind)
    integer = dtype.kind in "iu"
    low, high = (np.iinfo(dtype).min, np.iinfo(dtype).max) if integer else (0, 0)
    bounds = kind(low), kind(high)
    _apply(planes, offset, factor, divide, kind(baseline), integer, *bounds, out)
    return out.reshape(block.shape)


def load_loop() -> None:
    """Load the compiled loop now, from numba's cache (or compile it), on one pixel.

    The first call in a process costs about 0.3 s and holds the GIL. A lazy correction would pay
    it when napari draws its first plane, freezing the viewer as the corrected layer appears;
    the widgets that correct call this when their dock opens instead. Later calls of the loop,
    whatever their types, load in milliseconds.
    """
    pixel = np.zeros((1, 1, 1), np.uint16)
    offset_and_scale(pixel, None, np.ones((1, 1), np.float32), np.float32, divide=True)


# error_model="numpy": a division by zero gives inf, as in NumPy, instead of a per-value
# check for ZeroDivisionError, which kept LLVM from vectorising the division loops (4x slower)
@numba.njit(nogil=True, cache=True, error_model="numpy")
def _apply(planes, offset, factor, divide, baseline, integer, low, high, out):
    kind = factor.dtype.type
    # one simple loop per case, so that each is vectorised
    for p in range(planes.shape[0]):
        for r in range(planes.shape[1]):
            line, shift, scale, target = planes[p, r], _part(offset, r), factor[r], out[p, r]
            if divide and integer:
                for c in range(line.size):
                    value = (kind(line[c]) - _part(shift, c)) / scale[c] - baseline
                    target[c] = np.rint(min(max(value, low), high))
            elif divide:
                for c in range(line.size):
                    target[c] = (kind(line[c]) - _part(shift, c)) / scale[c] - baseline
            elif integer:
                for c in range(line.size):
                    value = (kind(line[c]) - _part(shift, c)) * scale[c] - baseline
                    target[c] = np.rint(min(max(value, low), high))
            else:
                for c in range(line.size):
                    target[c] = (kind(line[c]) - _part(shift, c)) * scale[c] - baseline


def _part(offset, i):
    """``offset[i]`` (a row of an offset image, an element of a row), or a number as it is."""


# resolved when the loop is compiled, for the offset's type: no branch in the loop
@numba.extending.overload(_part)
def _part_typed(offset, i):
    if isinstance(offset, numba.types.Array):
        return lambda offset, i: offset[i]
    return lambda offset, i: offset
