"""Resample a distorted image onto the ideal pixel grid with one sparse matrix product.

Each raw pixel is a quadrilateral on the ideal (corrected) grid, its corners placed by the
displacement field. The exact area each quadrilateral shares with each corrected pixel (the
rebinning of pyFAI's ``Distortion``) fills a sparse CSR matrix once per map; correcting an image
is then one product. Counts mode spreads each raw pixel's counts over the corrected pixels in
proportion to the shared area (the total is conserved); intensity mode divides each corrected
pixel by the raw area it received, so that a flat image stays flat.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sparse
from scipy import ndimage

from detcal.distortion.field import smooth_map
from detcal.progress import ProgressCallback

PRESERVE = ("intensity", "counts")

# raw rows per block when building the matrix (bounds the memory of the temporaries)
_BLOCK_ROWS = 128
# weights below this fraction of a raw pixel are dropped
_TINY = 1e-7
# the product is split into this many row slices, run side by side (SciPy releases the GIL)
_THREADS = min(os.cpu_count() or 1, 4)
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """Return the process-wide pool of the sparse products (made on first use)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(_THREADS, thread_name_prefix="detcal-resample"))
    return _POOL[0]


def solve_inverse(shift: np.ndarray, origin: float, targets: np.ndarray, *, iterations: int = 5):
    """Solve ``y + shift(y) = targets`` by fixed-point iteration ``y = targets - shift(y)``.

    Parameters
    ----------
    shift : numpy.ndarray
        (2, n, m) displacement sampled on a grid whose node ``(k, l)`` sits at
        ``(k + origin, l + origin)``; interpolated bilinearly, extended by its edge values.
    origin : float
        Position of node (0, 0) along both axes.
    targets : numpy.ndarray
        (2, ...) positions (row, col).
    iterations : int
        Iterations (the error shrinks by the field's gradient, a few percent, each time).

    Returns
    -------
    numpy.ndarray
        (2, ...) the solutions ``y``.

    Examples
    --------
    >>> solve_inverse(np.full((2, 3, 3), 0.5), 0.0, np.array([[1.0], [1.0]])).tolist()
    [[0.5], [0.5]]
    """
    solution = targets
    for _ in range(iterations):
        coords = solution - origin
        moved = [ndimage.map_coordinates(s, coords, order=1, mode="nearest") for s in shift]
        solution = targets - np.stack(moved)
    return solution


def corner_positions(field: np.ndarray) -> np.ndarray:
    """Return where each raw pixel corner lies on the corrected grid.

    Parameters
    ----------
    field : numpy.ndarray
        (2, rows, cols) displacement (dy, dx) at each corrected pixel: the point at corrected
        ``q`` appears at raw ``q + field(q)``.

    Returns
    -------
    numpy.ndarray
        (2, rows + 1, cols + 1) corrected position (row, col) of the raw corner ``(i, j)``,
        which sits at raw ``(i - 0.5, j - 0.5)`` (pixel ``(i, j)`` centred at ``(i, j)``).

    Examples
    --------
    >>> corners = corner_positions(np.full((2, 3, 3), 0.25))
    >>> corners[:, 0, 0].tolist()
    [-0.75, -0.75]
    """
    rows, cols = field.shape[1:]
    raw_rows = np.arange(rows + 1) - 0.5
    raw_cols = np.arange(cols + 1) - 0.5
    shift = smooth_map(lambda raw: solve_inverse(field, 0.0, raw) - raw, raw_rows, raw_cols)
    return shift + np.stack(np.meshgrid(raw_rows, raw_cols, indexing="ij"))


def overlap_matrix(
    corners: np.ndarray, *, progress: ProgressCallback | None = None
) -> sparse.csr_matrix:
    """Build the counts-conserving rebinning matrix from the raw pixels' corner positions.

    Parameters
    ----------
    corners : numpy.ndarray
        (2, rows + 1, cols + 1) corrected positions of the raw pixel corners
        (:func:`corner_positions`).
    progress : callable, optional
        ``progress(done, total)`` over blocks of raw rows.

    Returns
    -------
    scipy.sparse.csr_matrix
        (rows * cols, rows * cols) float32: entry ``[out, raw]`` is the fraction of raw pixel
        ``raw`` that falls into corrected pixel ``out``; pixels falling off the image are lost.

    Examples
    --------
    >>> corners = np.mgrid[:3, :3].astype(float) - 0.5 + np.array([0.0, 0.5])[:, None, None]
    >>> overlap_matrix(corners).toarray()[:2, :2].tolist()
    [[0.5, 0.0], [0.5, 0.5]]
    """
    rows, cols = corners.shape[1] - 1, corners.shape[2] - 1
    # pyFAI's frame: corrected pixel (m, n) spans [m, m + 1] x [n, n + 1]
    y, x = corners + 0.5

    def block(top: int):
        bottom = min(top + _BLOCK_ROWS, rows)
        raw = np.arange(top * cols, bottom * cols)
        return _block_overlaps(_quads(y[top : bottom + 1]), _quads(x[top : bottom + 1]), raw,
                               (rows, cols))  # fmt: skip

    tops = range(0, rows, _BLOCK_ROWS)
    parts = []
    for done, part in enumerate(_pool().map(block, tops)):  # numpy releases the GIL
        parts.append(part)
        if progress is not None:
            progress(done + 1, len(tops))
    out, raw, weight = (np.concatenate(p) for p in zip(*parts, strict=True))
    size = rows * cols
    matrix = sparse.csr_matrix((weight, (out, raw)), shape=(size, size), dtype=np.float32)
    matrix.indices = matrix.indices.astype(np.int32, copy=False)
    matrix.indptr = matrix.indptr.astype(np.int64 if matrix.nnz > 2**31 - 1 else np.int32)
    return matrix


def _quads(values: np.ndarray) -> np.ndarray:
    """(n, 4) corner values A, B, C, D of each pixel (pyFAI's order) from the corner grid."""
    return np.stack(
        [values[:-1, :-1], values[1:, :-1], values[1:, 1:], values[:-1, 1:]], axis=-1
    ).reshape(-1, 4)


def _clamp_mean(ua: np.ndarray, ub: np.ndarray) -> np.ndarray:
    """Mean of clamp(u, 0, 1) over u between ``ua`` and ``ub``, without cancellation."""
    low, high = np.minimum(ua, ub), np.maximum(ua, ub)
    span = high - low
    c_low, c_high = np.clip(low, 0, 1), np.clip(high, 0, 1)
    integral = (c_high - c_low) * (c_low + c_high) / 2 + (np.maximum(high, 1) - np.maximum(low, 1))
    wide = span > 1e-6
    return np.where(wide, integral / np.where(wide, span, 1), np.clip((low + high) / 2, 0, 1))


def _block_overlaps(qy, qx, raw, shape):
    """Areas shared by the quadrilaterals (qy, qx) and the pixels of the corrected grid.

    Green's theorem: the area of a polygon inside the cell [m, m + 1] x [n, n + 1] is the
    boundary integral of clamp(y - m, 0, 1) dx over the part of each edge with x in [n, n + 1].
    Coordinates are taken relative to each quadrilateral's first cell, so they stay small.
    """
    rows, cols = shape
    m0 = np.floor(qy.min(axis=1))
    n0 = np.floor(qx.min(axis=1))
    y0 = (qy - m0[:, None]).astype(np.float32)
    x0 = (qx - n0[:, None]).astype(np.float32)
    y1, x1 = np.roll(y0, -1, axis=1), np.roll(x0, -1, axis=1)
    run = x1 - x0
    flat = np.abs(run) < 1e-9
    slope = (y1 - y0) / np.where(flat, 1.0, run)
    total = (run * (y0 + y1) / 2).sum(axis=1)  # signed area, same orientation as below
    top_m, top_n = np.floor(y0.max(axis=1)), np.floor(x0.max(axis=1))
    m0, n0 = m0.astype(np.intp), n0.astype(np.intp)
    out_parts, raw_parts, weight_parts = [], [], []
    for b in range(int(top_n.max()) + 1):
        in_b = np.flatnonzero(top_n >= b)
        xa = np.clip(x0[in_b], b, b + 1)
        xb = np.clip(x1[in_b], b, b + 1)
        sb = slope[in_b]
        ya = y0[in_b] + sb * (xa - x0[in_b])
        yb = y0[in_b] + sb * (xb - x0[in_b])
        width = xb - xa
        for a in range(int(top_m[in_b].max()) + 1):
            pick = np.flatnonzero(top_m[in_b] >= a)
            which = in_b[pick]
            weight = width[pick] * _clamp_mean(ya[pick] - a, yb[pick] - a)
            weight = weight.sum(axis=1, dtype=np.float64) / total[which]
            out_m, out_n = m0[which] + a, n0[which] + b
            keep = (weight > _TINY) & (out_m >= 0) & (out_m < rows) & (out_n >= 0)
            keep &= out_n < cols
            out_parts.append(out_m[keep] * cols + out_n[keep])
            raw_parts.append(raw[which[keep]])
            weight_parts.append(weight[keep])
    return np.concatenate(out_parts), np.concatenate(raw_parts), np.concatenate(weight_parts)


class SparseResampler:
    """Apply a rebinning matrix to (row, col) planes, in counts or intensity mode.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        The counts-conserving matrix from :func:`overlap_matrix`.

    Examples
    --------
    >>> resampler = SparseResampler(sparse.identity(4, format="csr", dtype=np.float32))
    >>> resampler(np.arange(4.0).reshape(2, 2), "counts").tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """

    def __init__(self, counts: sparse.csr_matrix):
        received = np.asarray(counts.sum(axis=1)).ravel()
        #: (rows * cols,) raw area received by each corrected pixel (1 for a pure shift)
        self.area = received
        scale = np.divide(1.0, received, out=np.zeros_like(received), where=received > 0)
        rows_of_entries = np.repeat(np.arange(counts.shape[0]), np.diff(counts.indptr))
        intensity = sparse.csr_matrix(
            (counts.data * scale[rows_of_entries].astype(np.float32), counts.indices,
             counts.indptr), shape=counts.shape,
        )  # fmt: skip
        n = counts.shape[0]
        self._slices = {
            mode: [matrix[k * n // _THREADS : (k + 1) * n // _THREADS] for k in range(_THREADS)]
            for mode, matrix in (("counts", counts), ("intensity", intensity))
        }

    def __call__(self, plane: np.ndarray, preserve: str) -> np.ndarray:
        """Return the corrected plane (float32, or float64 for float64 input)."""
        dtype = np.float64 if plane.dtype == np.float64 else np.float32
        vector = np.ascontiguousarray(plane, dtype=dtype).ravel()
        parts = self._slices[preserve]
        if len(parts) == 1:
            result = parts[0] @ vector
        else:
            result = np.concatenate(list(_pool().map(lambda part: part @ vector, parts)))
        return result.astype(dtype, copy=False).reshape(plane.shape)
