"""Input checks and numpy/dask dispatch shared by the tomography preparation steps.

Tomography stacks follow TomoPy: ``(angle, row, column)``. A *sinogram* operation needs every
angle and every column of one detector row, a *projection* operation needs every row and column
of one angle; on dask input the stack is rechunked accordingly and processed block by block.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dask.array as da
import numpy as np

#: Target size of one block when a dask stack is rechunked for a per-row or per-angle step.
BLOCK_BYTES = 64 * 2**20


def is_dask(array: Any) -> bool:
    """Tell whether ``array`` is a dask array."""
    return isinstance(array, da.Array)


def check_stack(tomo: Any, name: str = "tomo") -> Any:
    """Check that ``tomo`` is a 3D real numeric array; return it as numpy or dask.

    Raises
    ------
    TypeError
        If the array is not numeric and real.
    ValueError
        If it is not three-dimensional or is empty.
    """
    if not is_dask(tomo):
        tomo = np.asarray(tomo)
    if tomo.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must be a real numeric array; got dtype {tomo.dtype} "
            "(expected integer or floating point)"
        )
    if tomo.ndim != 3:
        raise ValueError(
            f"{name} must be 3D (angle, row, column); got {tomo.ndim}D with shape {tomo.shape}"
        )
    if 0 in tomo.shape:
        raise ValueError(f"{name} must not be empty; got shape {tomo.shape}")
    return tomo


def check_positive(value: Any, name: str, *, integer: bool = False, allow_zero: bool = False):
    """Check that ``value`` is a finite positive (or non-negative) number and return it."""
    kind = "an integer" if integer else "a number"
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise TypeError(f"{name} must be {kind}; got {value!r} of type {type(value).__name__}")
    if integer and not float(value).is_integer():
        raise TypeError(f"{name} must be an integer; got {value!r}")
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be finite and {bound}; got {value!r}")
    return int(value) if integer else float(value)


def planes_per_block(plane_bytes: float) -> int:
    """Planes whose working set (``plane_bytes`` each) fits in ``BLOCK_BYTES``, at least 1."""
    return max(1, int(BLOCK_BYTES // max(plane_bytes, 1)))


def _rechunked(
    tomo: da.Array, full_axes: tuple[int, ...], split_axis: int, per_block: int
) -> da.Array:
    """Rechunk so ``full_axes`` are whole and ``split_axis`` blocks hold ``per_block`` planes."""
    chunks: dict[int, Any] = {a: -1 for a in full_axes}
    chunks[split_axis] = min(per_block, max(tomo.chunks[split_axis]))
    return tomo.rechunk(chunks)


def map_full(
    func: Callable[..., np.ndarray],
    tomo: Any,
    full_axes: tuple[int, ...],
    split_axis: int,
    *,
    plane_bytes: float | None = None,
    **kwargs: Any,
) -> Any:
    """Apply ``func(block, **kwargs)`` to blocks whole along ``full_axes``, split on the other.

    ``func`` takes and returns a float32 block of the same shape. A block holds as many planes
    as fit in ``BLOCK_BYTES`` of working set, ``plane_bytes`` per plane (default: the plane
    as float32). Dask input is processed lazily, block by block; numpy input one block after
    the other into one output, so the working set stays bounded there too.
    """
    if plane_bytes is None:
        plane_bytes = 4.0 * np.prod([tomo.shape[a] for a in full_axes])
    per_block = planes_per_block(plane_bytes)
    if is_dask(tomo):
        tomo = _rechunked(tomo, full_axes, split_axis, per_block)
        return tomo.map_blocks(
            _as_float32_call, func, kwargs, dtype=np.float32, meta=np.empty((0, 0, 0), np.float32)
        )
    n = tomo.shape[split_axis]
    if n <= per_block:
        return _as_float32_call(tomo, func, kwargs)
    out = np.empty(tomo.shape, dtype=np.float32)
    for start in range(0, n, per_block):
        index = (slice(None),) * split_axis + (slice(start, start + per_block),)
        out[index] = _as_float32_call(tomo[index], func, kwargs)
    return out


def map_sinograms(func: Callable[..., np.ndarray], tomo: Any, **kwargs: Any) -> Any:
    """Apply ``func`` to whole sinograms: blocks of rows with all angles and columns."""
    return map_full(func, tomo, (0, 2), 1, **kwargs)


def map_projections(
    func: Callable[..., np.ndarray], tomo: Any, *, plane_bytes: float | None = None, **kwargs: Any
) -> Any:
    """Apply ``func`` to whole projections: blocks of angles with all rows and columns."""
    return map_full(func, tomo, (1, 2), 0, plane_bytes=plane_bytes, **kwargs)


def _as_float32_call(block: np.ndarray, func: Callable, kwargs: dict) -> np.ndarray:
    out = func(np.asarray(block, dtype=np.float32), **kwargs)
    return np.asarray(out, dtype=np.float32)
