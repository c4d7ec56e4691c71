"""Mean and standard error of the mean of a series of images in one streaming pass.

The series is cut into parts (blocks of planes of a numpy array, chunks of a dask array, single
planes of an iterable); each part gives its weight sum ``W``, its sum of squared weights ``V``,
its mean and its sum of squared deviations ``M2``, and parts are merged with the parallel
formula of Chan, Golub & LeVeque. Nothing but a few parts and their summaries is held in memory
(dask chunks are summarised and merged pairwise by the worker threads, in a tree), and the
totals never lose precision to large means as a sum of squares would. Each part's summary and
each merge is one compiled pass.
"""

from __future__ import annotations

from collections.abc import Iterable

import dask.array as da
import numba
import numpy as np

from detcal import _validate
from detcal._compiled import compiled_input
from detcal.progress import ProgressCallback, compute_with_progress

_BLOCK_BYTES = 32 * 2**20  # planes of a numpy series summarised at a time


def _part(block: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Summarise planes ``block`` (k, row, col) as (4, row, col): W, V, mean, M2.

    Two passes over each row's planes in float64 (the mean, then the squared deviations from
    it), one row at a time so that the second pass reads the row again from cache.
    """
    total = float(weights.sum())
    out = np.zeros((4, *block.shape[1:]))
    out[0] = total
    out[1] = float((weights**2).sum())
    if total > 0:
        _summarise(compiled_input(block), np.asarray(weights, np.float64), total, out)
    return out


@numba.njit(nogil=True, cache=True)
def _summarise(block, weights, total, out):
    mean, m2 = out[2], out[3]
    for r in range(block.shape[1]):
        for p in range(block.shape[0]):
            share = weights[p] / total
            line = block[p, r]
            for c in range(block.shape[2]):
                mean[r, c] += line[c] * share
        for p in range(block.shape[0]):
            weight = weights[p]
            line = block[p, r]
            for c in range(block.shape[2]):
                deviation = line[c] - mean[r, c]
                m2[r, c] += deviation * deviation * weight


def _merge(parts: np.ndarray, summary: np.ndarray) -> np.ndarray:
    """Merge ``summary`` (4, row, col) and summaries stacked as (m, 4, row, col) (Chan et al.)."""
    out = np.empty(summary.shape)
    _merge_parts(summary, parts, out)
    return out


@numba.njit(nogil=True, cache=True)
def _merge_parts(first, parts, out):
    for r in range(first.shape[1]):
        for c in range(first.shape[2]):
            total = first[0, r, c]
            squares = first[1, r, c]
            weighted = total * first[2, r, c]
            for i in range(parts.shape[0]):
                total += parts[i, 0, r, c]
                squares += parts[i, 1, r, c]
                weighted += parts[i, 0, r, c] * parts[i, 2, r, c]
            mean = weighted / total if total > 0 else 0.0
            deviation = first[2, r, c] - mean
            m2 = first[3, r, c] + first[0, r, c] * deviation * deviation
            for i in range(parts.shape[0]):
                deviation = parts[i, 2, r, c] - mean
                m2 += parts[i, 3, r, c] + parts[i, 0, r, c] * deviation * deviation
            out[0, r, c] = total
            out[1, r, c] = squares
            out[2, r, c] = mean
            out[3, r, c] = m2


def _chunk_stats(block, weights, block_info=None):
    start, stop = block_info[0]["array-location"][0]
    return _part(block, weights[start:stop])[None]


def _dask_summary(images: da.Array, weights: np.ndarray, progress) -> np.ndarray:
    """Summarise a dask series chunk by chunk, merging the summaries in a tree of pairs.

    The merges run in the worker threads beside the reading of further chunks, and the
    scheduler frees each chunk and each merged pair as soon as it is used, so memory holds
    a few chunks and summaries whatever the length of the series.
    """
    parts = da.map_blocks(
        _chunk_stats, images, weights, new_axis=1,
        chunks=((1,) * images.numblocks[0], (4,), *images.chunks[1:]),
        dtype=np.float64, meta=np.empty((0, 0, 0, 0)),
    )  # fmt: skip
    summary = da.reduction(
        parts, chunk=_keep, combine=_merge_blocks, aggregate=_merge_blocks, axis=0,
        keepdims=False, concatenate=False, split_every=2, dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )  # fmt: skip
    (summary,) = compute_with_progress(summary, progress=progress)
    return summary


def _keep(block: np.ndarray, axis=None, keepdims=None) -> np.ndarray:
    """Chunk step of the reduction: a chunk's summary as it is, (1, 4, row, col)."""
    return block


def _merge_blocks(blocks, axis=None, keepdims=False) -> np.ndarray:
    """Merge step of the reduction: (1, 4, row, col) summaries into one, (4, row, col)."""
    blocks = blocks if isinstance(blocks, list) else [blocks]
    parts = [b[0] if b.ndim == 4 else b for b in blocks]
    merged = _merge(np.stack(parts[1:]), parts[0]) if len(parts) > 1 else parts[0]
    return merged[None] if keepdims else merged


def _numpy_summary(images: np.ndarray, weights: np.ndarray, progress) -> np.ndarray:
    n = images.shape[0]
    step = max(1, _BLOCK_BYTES // max(1, images[0].size * 8))
    summary = None
    for start in range(0, n, step):
        part = _part(images[start : start + step], weights[start : start + step])
        summary = part if summary is None else _merge(part[None], summary)
        if progress is not None:
            progress(min(start + step, n), n)
    return summary


def _iter_summary(images: Iterable, weights, progress) -> tuple[np.ndarray, int]:
    total = len(images) if hasattr(images, "__len__") else 0
    weight_iter = None if weights is None else iter(weights)
    summary, shape, count = None, None, 0
    for plane in images:
        plane = _validate.array(plane, f"images[{count}]", ndim=2, axes="a (row, col) plane")
        if shape is None:
            shape = plane.shape
        elif plane.shape != shape:
            raise ValueError(
                f"images[{count}]: expected shape {shape} like the first plane, got {plane.shape}"
            )
        w = 1.0 if weight_iter is None else next(weight_iter, None)
        if w is None:
            raise ValueError(f"weights: fewer weights than planes ({count})")
        w = np.array([_validate.number(w, f"weights[{count}]", minimum=0)])
        part = _part(np.asarray(plane)[None], w)
        summary = part if summary is None else _merge(part[None], summary)
        count += 1
        if progress is not None:
            progress(count, total)
    if weight_iter is not None and next(weight_iter, None) is not None:
        raise ValueError(f"weights: more weights than the {count} planes")
    if summary is None:
        raise ValueError("images: the series is empty")
    return summary, count


def _weights(weights, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    values = np.asarray(weights)
    _validate.real_dtype(values, "weights")
    values = values.astype(np.float64)
    if values.shape != (n,):
        raise ValueError(
            f"weights: expected one weight per plane, shape ({n},), got {values.shape}"
        )
    if not np.isfinite(values).all() or (values < 0).any():
        raise ValueError("weights: expected finite weights >= 0")
    return values


def mean_and_sem(images, *, weights=None, progress: ProgressCallback | None = None):
    """Mean and standard error of the mean of a series of images, in one streaming pass.

    With weights ``w_i`` (reliability weights; all 1 by default), ``mean = sum(w x) / W``,
    the variance is ``M2 / (W - V / W)`` with ``W = sum(w)``, ``V = sum(w**2)`` and
    ``M2 = sum(w (x - mean)**2)``, and ``sem = sqrt(variance / n_eff)`` with the effective
    number of planes ``n_eff = W**2 / V``. Without weights this is ``std(ddof=1) / sqrt(n)``.
    The series is read once, part by part, and the parts are merged with the stable parallel
    formula of Chan et al. (1983): a dask array bigger than memory is summarised chunk by
    chunk and never computed whole. NaN pixels give NaN, as in numpy.

    Parameters
    ----------
    images : numpy.ndarray, dask.array.Array or iterable of 2-D arrays
        (plane, row, col) series, or any iterable of (row, col) planes (a generator is read
        once, never listed).
    weights : array-like, optional
        One weight >= 0 per plane.
    progress : callable, optional
        ``progress(done, total)`` (total 0 for an iterable of unknown length).

    Returns
    -------
    mean, sem : numpy.ndarray
        (row, col) float64.

    Raises
    ------
    ValueError
        Fewer than two planes (or fewer than two with a weight > 0), planes of different
        shapes, weights of the wrong length or negative.
    TypeError
        A non-numeric series.

    References
    ----------
    Chan, T. F., Golub, G. H. & LeVeque, R. J. (1983). Algorithms for computing the sample
    variance: analysis and recommendations. The American Statistician 37(3), 242-247.
    :doi:`10.1080/00031305.1983.10483115`

    Examples
    --------
    >>> import numpy as np
    >>> mean, sem = mean_and_sem(np.array([[[1.0]], [[3.0]]]))
    >>> float(mean[0, 0]), float(sem[0, 0])
    (2.0, 1.0)
    """
    if isinstance(images, np.ndarray | da.Array):
        images = _validate.array(images, "images", ndim=3, axes="(plane, row, col)")
        n = images.shape[0]
        w = _weights(weights, n)
        if _validate.is_dask(images):
            summary = _dask_summary(images, w, progress)
        else:
            summary = _numpy_summary(images, w, progress)
    elif isinstance(images, Iterable) and not isinstance(images, str | bytes):
        summary, n = _iter_summary(images, weights, progress)
    else:
        raise TypeError(f"images: expected an array or an iterable of planes, got {images!r}")
    total, squares, mean, m2 = summary
    effective = total[0, 0] ** 2 / squares[0, 0] if squares[0, 0] > 0 else 0.0
    if n < 2 or effective <= 1 + 1e-12:
        raise ValueError(
            f"images: the standard error needs at least 2 planes with a weight > 0, got {n} planes"
        )
    sem = np.sqrt(m2 * squares / (total * (total**2 - squares)))
    return mean, sem
