"""Per-pixel calibration planes: average a stack into one plane, bring a plane to a coarser level.

:func:`mean_plane` turns a stack of calibration exposures (darks, flats) into the (row, col)
plane a step needs, streaming it (a dask stack is reduced chunk by chunk, never loaded whole).
:func:`calibration_plane` is the argument check every per-pixel step uses for ``dark``,
``flat`` and gains: a number, a plane, or a stack that is averaged. :func:`block_mean` brings a
full-resolution plane to the shape of a pyramid level, so a per-pixel correction can be applied
to each level of a multiscale image.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.progress import compute_with_progress

_BATCH_BYTES = 64 * 2**20  # float64 bytes of numpy planes summed at a time


def mean_plane(
    stack: Any, name: str = "stack", *, progress: Callable[[int, int], None] | None = None
) -> np.ndarray:
    """Average a (plane, row, col) stack into one (row, col) float64 plane, streaming.

    Parameters
    ----------
    stack : numpy.ndarray or dask.array.Array
        (row, col) plane (returned as float64) or (plane, row, col) stack of any real dtype.
    name : str, default "stack"
        Argument name used in messages.
    progress : callable, optional
        ``progress(done, total)``; may raise (e.g. :class:`detcal.progress.StepCancelled`) to
        stop.

    Returns
    -------
    numpy.ndarray
        (row, col) float64 mean. A dask stack is reduced chunk by chunk in one pass.

    Raises
    ------
    ValueError
        Not 2-D or 3-D, or empty.
    TypeError
        Not of a real numeric dtype.

    Examples
    --------
    >>> import numpy as np
    >>> mean_plane(np.stack([np.zeros((2, 2)), np.full((2, 2), 4)])).tolist()
    [[2.0, 2.0], [2.0, 2.0]]
    """
    stack = _validate.array(stack, name, ndim=(2, 3), axes="(row, col) or (plane, row, col)")
    if stack.ndim == 2:
        return np.asarray(stack, dtype=np.float64)
    if isinstance(stack, da.Array):
        total = stack.astype(np.float64).mean(axis=0)
        (total,) = compute_with_progress(total, progress=progress)
        return np.asarray(total)
    n = stack.shape[0]
    batch = max(1, _BATCH_BYTES // (8 * stack.shape[1] * stack.shape[2]))
    out = np.zeros(stack.shape[1:], dtype=np.float64)
    for start in range(0, n, batch):
        out += stack[start : start + batch].sum(axis=0, dtype=np.float64)
        if progress is not None:
            progress(min(start + batch, n), n)
    return out / n


def calibration_plane(
    value: Any,
    name: str,
    shape: Sequence[int],
    *,
    allow_scalar: bool = False,
    allow_nan: bool = False,
    against: str = "the image",
    progress: Callable[[int, int], None] | None = None,
) -> np.ndarray | None:
    """Check a per-pixel argument (dark, flat, gains); a stack is averaged with :func:`mean_plane`.

    Parameters
    ----------
    value : array-like, number or None
        A number (when ``allow_scalar``), a (row, col) plane or a (plane, row, col) stack.
    name : str
        Argument name used in messages.
    shape : sequence of int
        (row, col) shape the plane must have.
    allow_scalar, allow_nan : bool
        As in :func:`detcal._validate.plane`.
    against : str
        What ``shape`` comes from, for the message.
    progress : callable, optional
        Reports the averaging of a stack.

    Returns
    -------
    numpy.ndarray or None
        (row, col) float64 plane.

    Raises
    ------
    ValueError, TypeError
        As :func:`detcal._validate.plane`, naming ``name``.

    Examples
    --------
    >>> import numpy as np
    >>> calibration_plane(np.ones((3, 2, 2)), "flat", (2, 2)).shape
    (2, 2)
    """
    if getattr(value, "ndim", 0) == 3 and tuple(value.shape[1:]) == tuple(shape):
        value = mean_plane(value, name, progress=progress)
    return _validate.plane(
        value, name, shape, allow_scalar=allow_scalar, allow_nan=allow_nan, against=against
    )


def block_mean(plane: np.ndarray, shape: Sequence[int]) -> np.ndarray:
    """Bring a (row, col) plane to a coarser (row, col) ``shape`` by averaging pixel blocks.

    The block is ``plane.shape // shape`` pixels (2 x 2 for the first level of a halving
    pyramid); rows and columns beyond a whole number of blocks are dropped, as pyramid writers
    do.

    Parameters
    ----------
    plane : numpy.ndarray
        (row, col) full-resolution plane.
    shape : sequence of int
        (row, col) shape of the level, each at most the plane's.

    Returns
    -------
    numpy.ndarray
        Plane of ``shape``, same dtype as ``plane`` for floats (float64 otherwise).

    Raises
    ------
    ValueError
        If ``shape`` is larger than the plane along an axis.

    Examples
    --------
    >>> import numpy as np
    >>> block_mean(np.arange(16.0).reshape(4, 4), (2, 2)).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    """
    rows, cols = (int(s) for s in shape)
    full_rows, full_cols = plane.shape
    if not (1 <= rows <= full_rows and 1 <= cols <= full_cols):
        raise ValueError(
            f"shape: expected a level no larger than the plane {plane.shape}, got {(rows, cols)}"
        )
    if (rows, cols) == plane.shape:
        return plane
    fr, fc = full_rows // rows, full_cols // cols
    dtype = plane.dtype if plane.dtype.kind == "f" else np.float64
    blocks = plane[: rows * fr, : cols * fc].astype(dtype, copy=False)
    return blocks.reshape(rows, fr, cols, fc).mean(axis=(1, 3), dtype=dtype)
