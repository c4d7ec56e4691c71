"""360-degree scans with an off-centre rotation axis: find the overlap, stitch to 180 degrees.

In a half-acquisition ("offset axis") scan the rotation axis sits near one edge of the
detector and the object is covered over 360 degrees; the projection taken at ``theta + pi``
mirrored left-right continues the one taken at ``theta`` beyond the axis. The two overlap on
``overlap`` columns around the axis, whose column is ``(overlap - 1) / 2`` from the detector
edge (TomoPy's geometry).
"""

from __future__ import annotations

import dask.array as da
import numpy as np

from detcal.tomo._prep_common import check_stack, is_dask

_ROTATIONS = ("left", "right")


def _halves(tomo):
    """First half and the column-mirrored second half (an odd last angle is dropped)."""
    half = tomo.shape[0] // 2
    first = tomo[:half].astype(np.float32)
    second = tomo[half : 2 * half, :, ::-1].astype(np.float32)
    return first, second


def blend_weights(overlap: int, rotation: str = "left") -> np.ndarray:
    """Return the weights of the first half across the overlap (the second half gets 1 - w).

    A linear ramp sampled at pixel centres, ``(j + 0.5) / overlap``: the half whose detector
    edge lies in the overlap fades out towards that edge, and the two weights sum to 1 at
    every column, so a seamless blend is exact where both halves agree.

    Parameters
    ----------
    overlap : int
        Overlap width in columns.
    rotation : {"left", "right"}, default "left"
        Side of the detector the axis is on, as in :func:`sino_360_to_180`.

    Returns
    -------
    ndarray
        Float32 weights of length ``overlap``.

    Examples
    --------
    >>> blend_weights(4)
    array([0.125, 0.375, 0.625, 0.875], dtype=float32)
    """
    ramp = (np.arange(overlap, dtype=np.float32) + 0.5) / max(overlap, 1)
    return ramp if rotation == "left" else ramp[::-1].copy()


def sino_360_to_180(tomo, *, overlap, rotation: str = "left"):
    """Convert a 0-360 degree offset-axis scan into a wider 0-180 degree one.

    Angles ``n .. 2n-1`` (theta + 180 degrees) are mirrored left-right and placed beside angles
    ``0 .. n-1``; in the ``overlap`` shared columns the two are blended with complementary
    linear weights (see :func:`blend_weights`) - TomoPy weights both halves with the same ramp,
    which leaves a seam. The output is ``2 * columns - overlap`` wide with the rotation axis at
    its centre column, ``(width - 1) / 2``, and holds the first ``n`` angles (an odd last
    projection is dropped, as in TomoPy). Angles must be evenly spaced over 360 degrees.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Stack ``(angle, row, column)`` over 360 degrees.
    overlap : float
        Overlap width in columns (``2 * centre + 1`` for ``rotation="left"``); rounded to an
        integer.
    rotation : {"left", "right"}, default "left"
        "left" when the axis is near the left edge of the detector (column 0), else "right".

    Returns
    -------
    ndarray or dask.array.Array
        Float32 stack ``(angle // 2, row, 2 * column - overlap)``.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``overlap`` is not a number.
    ValueError
        If ``tomo`` is not 3D or has fewer than 2 angles, ``overlap`` is outside
        0 .. columns, or ``rotation`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> tomo = np.ones((4, 1, 6))
    >>> sino_360_to_180(tomo, overlap=2).shape
    (2, 1, 10)
    """
    tomo = check_stack(tomo)
    if tomo.shape[0] < 2:
        raise ValueError(f"tomo needs at least 2 angles for sino_360_to_180; got {tomo.shape}")
    if isinstance(overlap, bool) or not isinstance(overlap, int | float | np.integer | np.floating):
        raise TypeError(f"overlap must be a number of columns; got {overlap!r}")
    ncol = tomo.shape[2]
    if not np.isfinite(overlap) or not 0 <= round(overlap) <= ncol:
        raise ValueError(f"overlap must be between 0 and the {ncol} columns; got {overlap!r}")
    if rotation not in _ROTATIONS:
        raise ValueError(f"rotation must be 'left' or 'right'; got {rotation!r}")
    overlap = int(round(overlap))
    xp = da if is_dask(tomo) else np
    first, second = _halves(tomo)
    weight = blend_weights(overlap, rotation)
    if rotation == "left":
        shared = weight * first[..., :overlap] + (1 - weight) * second[..., ncol - overlap :]
        parts = [second[..., : ncol - overlap], shared, first[..., overlap:]]
    else:
        shared = weight * first[..., ncol - overlap :] + (1 - weight) * second[..., :overlap]
        parts = [first[..., : ncol - overlap], shared, second[..., overlap:]]
    return xp.concatenate(parts, axis=2).astype(np.float32)


def _shift_scores(first: np.ndarray, second: np.ndarray, min_overlap: int):
    """Normalised cross-correlation of ``first(y)`` with ``second(y + t)`` for every shift t."""
    nang, ncol = first.shape
    length = 2 * ncol
    spectrum = (np.conj(np.fft.rfft(first, length)) * np.fft.rfft(second, length)).sum(axis=0)
    cross = np.fft.irfft(spectrum, length)
    shifts = np.arange(-(ncol - min_overlap), ncol - min_overlap + 1)
    lo = np.maximum(0, -shifts)
    hi = np.minimum(ncol, ncol - shifts)

    def window_sums(values):
        return np.concatenate([[0.0], np.cumsum(values.sum(axis=0))])

    sa, saa = window_sums(first), window_sums(first**2)
    sb, sbb = window_sums(second), window_sums(second**2)
    count = nang * (hi - lo)
    s_a = sa[hi] - sa[lo]
    s_b = sb[hi + shifts] - sb[lo + shifts]
    s_aa = saa[hi] - saa[lo]
    s_bb = sbb[hi + shifts] - sbb[lo + shifts]
    s_ab = cross[shifts % length]
    var = np.maximum(s_aa - s_a**2 / count, 0) * np.maximum(s_bb - s_b**2 / count, 0)
    score = (s_ab - s_a * s_b / count) / np.sqrt(np.where(var > 0, var, np.inf))
    return shifts, score


def _best_shift(tomo, row, min_overlap) -> float:
    tomo = check_stack(tomo)
    nang, nrow, ncol = tomo.shape
    if nang < 4:
        raise ValueError(f"tomo needs at least 4 angles over 360 degrees; got {tomo.shape}")
    row = nrow // 2 if row is None else row
    if isinstance(row, bool) or not isinstance(row, int | np.integer) or not 0 <= row < nrow:
        raise ValueError(f"row must be an integer in 0 .. {nrow - 1}; got {row!r}")
    if isinstance(min_overlap, bool) or not isinstance(min_overlap, int | np.integer):
        raise TypeError(f"min_overlap must be an integer; got {min_overlap!r}")
    if not 2 <= min_overlap <= ncol:
        raise ValueError(f"min_overlap must be between 2 and {ncol} columns; got {min_overlap}")
    sino = tomo[:, row : row + 1, :]
    sino = np.asarray(sino.compute() if is_dask(sino) else sino, dtype=np.float64)
    first, second = _halves(sino)
    shifts, score = _shift_scores(first[:, 0], second[:, 0], min_overlap)
    best = int(np.argmax(score))
    offset = 0.0
    if 0 < best < score.size - 1 and np.all(np.isfinite(score[best - 1 : best + 2])):
        left, mid, right = score[best - 1 : best + 2]
        curvature = left - 2 * mid + right
        if curvature < 0:
            offset = float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
    return float(shifts[best]) + offset


def find_overlap(tomo, *, row: int | None = None, min_overlap: int = 8) -> tuple[float, str]:
    """Find the overlap width and axis side of a 0-360 degree offset-axis scan.

    The sinogram of ``row`` is split into its 0-180 and (mirrored) 180-360 degree halves; the
    column shift that best aligns them is the maximum of their normalised cross-correlation
    over all shifts leaving at least ``min_overlap`` shared columns (computed at once with
    FFTs), refined to sub-pixel by a parabola through the peak.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Stack ``(angle, row, column)`` over 360 degrees, evenly spaced angles (only the one
        sinogram is read from a dask array).
    row : int, optional
        Detector row to analyse; default the middle row.
    min_overlap : int, default 8
        Smallest overlap considered, in columns.

    Returns
    -------
    overlap : float
        Overlap width in columns, as taken by :func:`sino_360_to_180`.
    rotation : {"left", "right"}
        Side of the detector the rotation axis is on.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``min_overlap`` is not an integer.
    ValueError
        If ``tomo`` is not 3D with at least 4 angles, or ``row``/``min_overlap`` are out of
        range.

    Examples
    --------
    >>> import numpy as np
    >>> cols = np.arange(64.0)
    >>> theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)[:, None]
    >>> s = (cols - 10.0) + 15 * np.cos(theta)  # offset of a point from the axis at col 10
    >>> tomo = np.exp(-0.5 * s**2)[:, None, :]
    >>> overlap, side = find_overlap(tomo)
    >>> round(overlap), side
    (21, 'left')
    """
    shift = _best_shift(tomo, row, min_overlap)
    return float(tomo.shape[2] - abs(shift)), ("left" if shift > 0 else "right")


def find_center_360(tomo, *, row: int | None = None, min_overlap: int = 8) -> float:
    """Find the rotation-axis column of a 0-360 degree offset-axis scan.

    Same search as :func:`find_overlap`; the axis lies half way between a column of the first
    half and its mirror in the second: ``(columns - 1 - shift) / 2`` (TomoPy's convention,
    the column index the axis passes through).

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Stack ``(angle, row, column)`` over 360 degrees, evenly spaced angles.
    row : int, optional
        Detector row to analyse; default the middle row.
    min_overlap : int, default 8
        Smallest overlap considered, in columns.

    Returns
    -------
    float
        Rotation axis column.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``min_overlap`` is not an integer.
    ValueError
        As :func:`find_overlap`.

    Examples
    --------
    >>> import numpy as np
    >>> cols = np.arange(64.0)
    >>> theta = np.linspace(0, 2 * np.pi, 180, endpoint=False)[:, None]
    >>> tomo = np.exp(-0.5 * ((cols - 50.0) + 8 * np.cos(theta)) ** 2)[:, None, :]
    >>> round(find_center_360(tomo), 1)
    50.0
    """
    shift = _best_shift(tomo, row, min_overlap)
    return (tomo.shape[2] - 1 - shift) / 2.0
