"""Per-pixel sums of one band of a beam sweep, in one compiled pass.

The fit of detector gains reduces every plane of a sweep to a few per-pixel sums. Done with
NumPy, each sum is a pass of its own over the band (convert, subtract the dark, compare with
the cutoff, multiply, add), each reading and writing memory; here a loop compiled by numba
reads each count and its smoothed value once and adds to all the sums while they are in
registers. The loop over columns is innermost and works on contiguous rows (the arrays are
passed whole, with the band's first and last row), so the compiler vectorises it.
"""

from __future__ import annotations

import numba
import numpy as np

# rows of the per-pixel sums: the weight (planes used), m, m * m, m * d, the count of
# non-finite values (not made here), and for the fit quality only, s and d * d (m: counts
# minus dark, s: smoothed value, d = s - m)
N, M, MM, MD, BAD, S, DD = range(7)
GAIN_SUMS = 5  # the rows the gains need
ALL_SUMS = 7


def accumulate_band(
    counts: np.ndarray,
    dark: np.ndarray,
    start: int,
    stop: int,
    smoothed: np.ndarray,
    cutoff: float,
    check: bool,
    quality: bool,
    out: np.ndarray,
) -> None:
    """Add the sums over planes of rows ``start:stop`` to ``out``.

    Parameters
    ----------
    counts : numpy.ndarray
        (plane, row, col) counts of any real dtype (finite), C-contiguous.
    dark : numpy.ndarray
        (row, col) float32 dark to subtract, C-contiguous.
    start, stop : int
        The band's rows.
    smoothed : numpy.ndarray
        (stop - start, plane, col) float32 smoothed, dark-corrected values ``s``.
    cutoff : float
        Values with ``s <= cutoff`` are left out (when ``check``).
    check : bool
        Compare each ``s`` with the cutoff (False: all are known to be above it).
    quality : bool
        Also add the sums of ``s`` and ``d * d``.
    out : numpy.ndarray
        (sum, row, col) float32 or float64 sums, 5 rows (7 with ``quality``), C-contiguous,
        added to.
    """
    _accumulate(counts, dark, start, stop, smoothed, np.float32(cutoff), check, quality, out)


@numba.njit(nogil=True, cache=True)
def _accumulate(counts, dark, start, stop, smoothed, cutoff, check, quality, out):
    planes, width = counts.shape[0], counts.shape[2]
    # no cutoff check: the cutoff below every value (s > -inf), so one loop serves both
    floor = cutoff if check else np.float32(-np.inf)
    for band_row in range(stop - start):
        r = start + band_row
        for p in range(planes):
            if quality:
                for c in range(width):
                    s = smoothed[band_row, p, c]
                    use = np.float32(s > floor)
                    m = (np.float32(counts[p, r, c]) - dark[r, c]) * use
                    d = s * use - m
                    out[N, r, c] += use
                    out[M, r, c] += m
                    out[MM, r, c] += m * m
                    out[MD, r, c] += m * d
                    out[S, r, c] += s * use
                    out[DD, r, c] += d * d
            else:
                for c in range(width):
                    s = smoothed[band_row, p, c]
                    use = np.float32(s > floor)
                    m = (np.float32(counts[p, r, c]) - dark[r, c]) * use
                    out[N, r, c] += use
                    out[M, r, c] += m
                    out[MM, r, c] += m * m
                    out[MD, r, c] += m * (s * use - m)
