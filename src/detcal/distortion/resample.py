"""Resample a distorted image onto the ideal pixel grid with one sparse matrix product.

Each raw pixel is a quadrilateral on the ideal (corrected) grid, its corners placed by the
displacement field. The exact area each quadrilateral shares with each corrected pixel (the
rebinning of pyFAI's ``Distortion``) fills a sparse CSR matrix once per map; correcting an image
is then one product. Counts mode spreads each raw pixel's counts over the corrected pixels in
proportion to the shared area (the total is conserved); intensity mode divides each corrected
pixel by the raw area it received, so that a flat image stays flat.

The matrix is built with numpy alone, band of raw rows by band: the areas of all the pixels of
a band at once (Green's theorem, in place in a reused work array), the finished corrected rows
written straight into the CSR arrays (int32 indices, float32 weights). Memory holds the matrix
and a few bands, nothing more.
"""

from __future__ import annotations

import os
import queue
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.sparse as sparse
from scipy import ndimage

from detcal.distortion.field import smooth_map
from detcal.progress import ProgressCallback

# raw pixels per band when building the matrix (the temporaries stay in the CPU caches)
_BAND_PIXELS = 1 << 14
# float64 work values per raw pixel of a band: corners (2 x 4), edges (11 x 4), W (4 x 4)
_WORK_PER_PIXEL = 68
# weights below this fraction of a raw pixel are dropped
_TINY = 1e-7
# threads of the matrix build (bands side by side) and of the product (row slices)
_THREADS = min(os.cpu_count() or 1, 4)
_POOL: list[ThreadPoolExecutor] = []


def _pool() -> ThreadPoolExecutor:
    """Return the process-wide pool of the matrix builds and products (made on first use)."""
    if not _POOL:
        _POOL.append(ThreadPoolExecutor(_THREADS, thread_name_prefix="detcal-resample"))
    return _POOL[0]


def _in_order(func, items):
    """Yield ``func(item)`` for each item in order, computed on the pool a few items ahead."""
    ahead: deque = deque()
    for item in items:
        ahead.append(_pool().submit(func, item))
        if len(ahead) > 2 * _THREADS:
            yield ahead.popleft().result()
    while ahead:
        yield ahead.popleft().result()


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

    The raw pixels are processed in bands of rows; each band gives, raw pixel by raw pixel,
    the corrected pixels it overlaps (the cells of its bounding box: 2 x 2 for almost all).
    Once no later band can reach a corrected row, the entries of that row are final and are
    written into the CSR arrays (int32 indices, float32 weights; no duplicates to sum), so
    memory holds the matrix and about two bands of entries, nothing more.

    Parameters
    ----------
    corners : numpy.ndarray
        (2, rows + 1, cols + 1) corrected positions of the raw pixel corners in pyFAI's frame,
        where corrected pixel (m, n) spans [m, m + 1] x [n, n + 1] (:func:`corner_positions`
        + 0.5).
    progress : callable, optional
        ``progress(done, total)`` over bands of raw rows.

    Returns
    -------
    scipy.sparse.csr_matrix
        (rows * cols, rows * cols) float32: entry ``[out, raw]`` is the fraction of raw pixel
        ``raw`` that falls into corrected pixel ``out``; pixels falling off the image are lost.

    Examples
    --------
    >>> corners = np.mgrid[:3, :3].astype(float) + np.array([0.0, 0.5])[:, None, None]
    >>> overlap_matrix(corners).toarray()[:2, :2].tolist()
    [[0.5, 0.0], [0.5, 0.5]]
    """
    rows, cols = corners.shape[1] - 1, corners.shape[2] - 1
    index_type = np.int32 if rows * cols < 2**31 else np.int64
    band_rows = max(1, _BAND_PIXELS // cols)
    tops = range(0, rows, band_rows)
    spare = queue.SimpleQueue()  # work arrays of finished bands, for the next ones

    def band(top: int):
        try:
            work = spare.get_nowait()
        except queue.Empty:
            work = np.empty(_WORK_PER_PIXEL * band_rows * cols)
        bottom = min(top + band_rows, rows)
        entries = _band_overlaps(corners[:, top : bottom + 1], (rows, cols), top * cols,
                                 index_type, work)  # fmt: skip
        spare.put(work)
        return entries

    # the first corrected row each band reaches; from band k on, none reaches above reach[k]
    lowest = np.floor(corners[0].min(axis=1))
    first = [lowest[top : top + band_rows + 1].min() for top in tops]
    reach = np.clip(np.minimum.accumulate(first[::-1])[::-1], 0, rows).astype(int)
    matrix = _RowWriter(rows * cols, index_type)
    for done, entries in enumerate(_in_order(band, tops)):
        complete = rows if done + 1 == len(tops) else reach[done + 1]
        matrix.add(*entries, complete * cols)
        if progress is not None:
            progress(done + 1, len(tops))
    return matrix.finish()


class _RowWriter:
    """A square CSR matrix written a block of rows at a time, from entries in any order.

    ``add`` takes entries; once the rows below ``complete`` can receive no more, the entries
    are turned into CSR rows (SciPy's linear-time COO to CSR, columns sorted within each row),
    the complete rows are appended and the entries of the other rows wait for the next call.
    """

    def __init__(self, size: int, index_type):
        self.size = size
        self.indptr = np.zeros(size + 1, index_type)
        self.indices = np.empty(4 * size + 4 * _BAND_PIXELS, index_type)  # grows if needed
        self.data = np.empty(len(self.indices), np.float32)
        self.used = 0  # entries written
        self.rows = 0  # rows written
        self.waiting: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def add(self, row: np.ndarray, column: np.ndarray, value: np.ndarray, complete: int):
        """Take entries (row, column, value); write every row below ``complete``."""
        self.waiting.append((row, column, value))
        if complete <= self.rows:
            return
        row, column, value = (np.concatenate(part) for part in zip(*self.waiting, strict=True))
        row -= self.rows
        height = max(complete - self.rows, int(row.max()) + 1 if len(row) else 0)
        block = sparse.coo_matrix((value, (row, column)), shape=(height, self.size)).tocsr()
        ready = complete - self.rows
        end = self.used + block.indptr[ready]
        if end > len(self.indices):
            room = max(end, 3 * len(self.indices) // 2)
            if end >= 2**31:  # int32 can no longer count the entries
                self.indptr = self.indptr.astype(np.int64)
                self.indices = self.indices.astype(np.int64)
            self.indices = _grown(self.indices, self.used, room)
            self.data = _grown(self.data, self.used, room)
        self.indices[self.used : end] = block.indices[: end - self.used]
        self.data[self.used : end] = block.data[: end - self.used]
        self.indptr[self.rows + 1 : complete + 1] = block.indptr[1 : ready + 1] + self.used
        rest = np.diff(block.indptr[ready:])
        later = slice(end - self.used, None)
        row = np.repeat(np.arange(complete, complete + len(rest), dtype=row.dtype), rest)
        self.waiting = [(row, block.indices[later], block.data[later])]
        self.used, self.rows = end, complete

    def finish(self) -> sparse.csr_matrix:
        """Return the matrix (every row must have been written)."""
        return sparse.csr_matrix(
            (self.data[: self.used], self.indices[: self.used], self.indptr),
            shape=(self.size, self.size),
        )


def _grown(values: np.ndarray, used: int, room: int) -> np.ndarray:
    """Return a copy of ``values[:used]`` in an array of length ``room``."""
    grown = np.empty(room, values.dtype)
    grown[:used] = values[:used]
    return grown


def _quads(values: np.ndarray, out: np.ndarray) -> np.ndarray:
    """Write the (4, n) corner values A, B, C, D of each pixel (pyFAI's order) into ``out``."""
    corners = (values[:-1, :-1], values[1:, :-1], values[1:, 1:], values[:-1, 1:])
    return np.stack(corners, out=out.reshape(4, *corners[0].shape)).reshape(4, -1)


def _band_overlaps(corners, shape, first_raw, index_type, work):
    """Return the entries of the raw pixels of one band: (corrected index, raw index, weight).

    Corners are taken relative to each quadrilateral's first cell (m0, n0), so that the cells
    it overlaps are (m0 + a, n0 + b) with small a, b. Almost every pixel spans at most 2 x 2
    cells; they are all done together, the few larger ones again with more cells. ``work``
    holds the float64 work arrays (:data:`_WORK_PER_PIXEL` per pixel), reused band after band:
    fresh temporaries for every band would cost more in page faults than the arithmetic.
    """
    n = (corners.shape[1] - 1) * (corners.shape[2] - 1)
    qy, qx = _quads(corners[0], work[: 4 * n]), _quads(corners[1], work[4 * n : 8 * n])
    work = work[8 * n :]
    m0, n0 = np.floor(qy.min(axis=0)), np.floor(qx.min(axis=0))
    qy -= m0
    qx -= n0
    first = (m0.astype(index_type), n0.astype(index_type))
    raw = np.arange(first_raw, first_raw + qy.shape[1], dtype=index_type)
    large = (qy.max(axis=0) >= 2) | (qx.max(axis=0) >= 2)
    parts = [_entries(*_cell_areas(qy, qx, 1, 1, work), first, raw, shape, large)]
    if large.any():
        pick = np.flatnonzero(large)
        spans = int(qy[:, pick].max()), int(qx[:, pick].max())
        cells = _cell_areas(qy[:, pick], qx[:, pick], *spans, work)
        parts.append(_entries(*cells, (first[0][pick], first[1][pick]), raw[pick], shape))
    if len(parts) == 1:
        return parts[0]
    return tuple(np.concatenate(part) for part in zip(*parts, strict=True))


def _entries(cells, total, first, raw, shape, skip=None):
    """Return (corrected index, raw index, weight) of the cells worth keeping.

    The weights are fractions of the pixel's area; ``first`` is each pixel's first cell
    (m0, n0); the pixels where ``skip`` is True give nothing (they are done elsewhere).
    """
    rows, cols = shape
    total[total == 0] = np.inf  # a degenerate pixel gives nothing
    if skip is not None:
        total[skip] = np.inf
    cells /= total
    out_m = first[0] + np.arange(cells.shape[0], dtype=first[0].dtype)[:, None]
    out_n = first[1] + np.arange(cells.shape[1], dtype=first[1].dtype)[:, None]
    keep = cells > _TINY
    if out_m.min() < 0 or out_m.max() >= rows:  # cells off the image are lost
        keep &= ((out_m >= 0) & (out_m < rows))[:, None]
    if out_n.min() < 0 or out_n.max() >= cols:
        keep &= ((out_n >= 0) & (out_n < cols))[None]
    out = (out_m * cols)[:, None] + out_n[None]
    return out[keep], np.broadcast_to(raw, keep.shape)[keep], cells[keep].astype(np.float32)


def _cell_areas(y0: np.ndarray, x0: np.ndarray, span_a: int, span_b: int, work: np.ndarray):
    """Areas shared by quadrilaterals and the cells [a, a + 1] x [b, b + 1], a, b >= 0.

    Green's theorem: for the quadrilateral's boundary (A, B, C, D),
    ``W(a, n) = sum over edges of the integral of max(y - a, 0) dx over the part with x <= n``
    is the area of the quadrilateral with ``y > a`` and ``x <= n``; a cell's area is the
    second difference of W. Along an edge from u to v (u = y - a, linear in x) the mean of
    max(u, 0) is ``P^2 / (2 (|u| + |v|))`` with ``P = max(u, 0) + max(v, 0)``, whatever the
    signs, a form without cancellation when u and v are close. ``y0``, ``x0`` are (4, n)
    corner coordinates, >= 0. The arithmetic runs in place in ``work`` (a fresh array when it
    is too short).

    Returns twice the (span_a + 1, span_b + 1, n) cell areas (a view of ``work``) and twice the
    (n,) total areas, both with the sign of the boundary's orientation (only their ratio is
    used).
    """
    levels = (span_a + 2, span_b + 2, y0.shape[1])
    need = 11 * y0.size + np.prod(levels)
    work = work[:need] if need <= len(work) else np.empty(need)
    y1, x1, run, slope, ya, yb, width, u, v, positive, spare = work[: 11 * y0.size].reshape(
        11, *y0.shape
    )
    for start, end in ((y0, y1), (x0, x1)):  # each edge runs from a corner to the next
        end[:-1] = start[1:]
        end[-1] = start[0]
    np.subtract(x1, x0, out=run)
    np.subtract(y1, y0, out=slope)
    np.divide(slope, run, out=slope, where=run != 0)  # a vertical edge has no width: any slope
    # 2 W(a, n) for a = 0 .. span_a + 1 (the last is 0) and n = 0 (0) .. span_b + 1 (no limit)
    cumulative = work[11 * y0.size :].reshape(levels)
    cumulative[:, 0] = 0
    cumulative[-1] = 0
    for n in range(1, span_b + 2):
        if n <= span_b:  # the part of each edge with x <= n
            np.minimum(x0, n, out=ya)
            np.minimum(x1, n, out=yb)
            np.subtract(yb, ya, out=width)
            for y in (ya, yb):  # y at the clipped ends
                y -= x0
                y *= slope
                y += y0
            lo, hi, dx = ya, yb, width
        else:
            lo, hi, dx = y0, y1, run
        np.add(lo, hi, out=u)
        u *= dx
        u.sum(axis=0, out=cumulative[0, n])  # a = 0: y >= 0 everywhere
        for a in range(1, span_a + 1):
            np.subtract(lo, a, out=u)
            np.subtract(hi, a, out=v)
            np.maximum(u, 0, out=positive)
            positive += np.maximum(v, 0, out=spare)
            np.abs(u, out=u)
            u += np.abs(v, out=v)
            np.maximum(u, 1e-300, out=u)
            positive *= positive
            positive *= dx
            positive /= u
            positive.sum(axis=0, out=cumulative[a, n])
    total = cumulative[0, -1].copy()
    # second differences in place: cumulative[a, n + 1] becomes the area of cell (a, n)
    for n in range(span_b + 1, 0, -1):
        cumulative[:, n] -= cumulative[:, n - 1]
    for a in range(span_a + 1):
        cumulative[a] -= cumulative[a + 1]
    return cumulative[:-1, 1:], total


class SparseResampler:
    """Apply a rebinning matrix to (row, col) planes, in counts or intensity mode.

    Intensity mode divides each corrected pixel of the counts product by the raw area it
    received, so one matrix serves both modes. The matrix is split in row slices (views, no
    copy) multiplied side by side.

    Parameters
    ----------
    counts : scipy.sparse.csr_matrix
        The counts-conserving matrix from :func:`overlap_matrix`.

    Examples
    --------
    >>> resampler = SparseResampler(sparse.identity(4, format="csr", dtype=np.float32) / 2)
    >>> resampler(np.arange(4.0).reshape(2, 2), "counts").tolist()
    [[0.0, 0.5], [1.0, 1.5]]
    >>> resampler(np.arange(4.0).reshape(2, 2), "intensity").tolist()
    [[0.0, 1.0], [2.0, 3.0]]
    """

    def __init__(self, counts: sparse.csr_matrix):
        received = counts @ np.ones(counts.shape[1], counts.dtype)  # counts.sum would copy
        # 1 / raw area received by each corrected pixel (0 where none arrives)
        self._scale = np.divide(1, received, out=np.zeros_like(received), where=received > 0)
        n = counts.shape[0]
        self._bounds = [k * n // _THREADS for k in range(_THREADS + 1)]
        self._slices = [_row_slice(counts, self._bounds[k], self._bounds[k + 1])
                        for k in range(_THREADS)]  # fmt: skip

    def __call__(self, plane: np.ndarray, preserve: str) -> np.ndarray:
        """Return the corrected plane (float32, or float64 for float64 input)."""
        dtype = np.float64 if plane.dtype == np.float64 else np.float32
        vector = np.ascontiguousarray(plane, dtype=dtype).ravel()
        result = np.empty(vector.size, dtype)

        def product(k: int) -> None:
            part = result[self._bounds[k] : self._bounds[k + 1]]
            part[:] = self._slices[k] @ vector
            if preserve == "intensity":
                part *= self._scale[self._bounds[k] : self._bounds[k + 1]]

        if len(self._slices) == 1:
            product(0)
        else:
            list(_pool().map(product, range(len(self._slices))))
        return result.reshape(plane.shape)


def _row_slice(matrix: sparse.csr_matrix, lo: int, hi: int) -> sparse.csr_matrix:
    """Rows ``lo:hi`` of a CSR matrix sharing its data and indices (a view, not a copy)."""
    start, stop = matrix.indptr[lo], matrix.indptr[hi]
    part = sparse.csr_matrix((hi - lo, matrix.shape[1]), dtype=matrix.dtype)
    # assigned, not passed: the constructor copies a view much smaller than its base
    part.indptr = matrix.indptr[lo : hi + 1] - start
    part.indices, part.data = matrix.indices[start:stop], matrix.data[start:stop]
    return part
