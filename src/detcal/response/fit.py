"""Fit per-pixel detector gains from a beam sweep in one streaming pass.

The method of detectorcal (Croton et al. 2019). A beam sweep is a (z, row, col) stack in which
each pixel sees a range of intensities. With the dark removed, ``m = volume - dark``, each plane
is Gaussian-smoothed (sigma 50 px by default) to estimate the intensity a perfect detector
would have read, ``s``; pixel by pixel, the gain is the least-squares slope through the origin
of ``s`` against ``m`` over the planes where ``s > cutoff``::

    gain = sum(m * s) / sum(m * m)

(no further normalisation: these are detectorcal's coefficients, so a detectorcal coefficient
file can be used here and the other way round). ``correct_image`` multiplies ``image - dark``
by the gains and, given a flat, divides by the smoothed dark-corrected flat.

The fit streams: each block of whole planes is smoothed and reduced to five per-pixel sums
(seven with the fit quality), so a dask (e.g. Zarr-backed) sweep larger than memory is fitted
in one pass of bounded memory.
It runs at about the speed the sweep can be read: a wide Gaussian is computed from block sums
(decimated smoothing), the smoothed values are made band of rows by band of rows and reduced
while the band is in cache by one compiled loop (:mod:`detcal.response.band_sums`), in float32
for up to 16 planes at a time (sums of differences that do not cancel), and BLAS runs
single-threaded beside the fit's own threads.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dask.array as da
import numpy as np

from detcal import _validate
from detcal._compiled import compiled_input
from detcal.filters.gaussian import DecimatedGaussian, decimation_factor, gaussian_smooth
from detcal.filters.planes import calibration_plane
from detcal.progress import compute_with_progress
from detcal.response.band_sums import (
    ALL_SUMS,
    BAD,
    GAIN_SUMS,
    accumulate_band,
)
from detcal.response.gain_solve import solve_pixels
from detcal.response.options import DEFAULT_CUTOFF

try:  # the fit runs its own threads: BLAS's would only contend with them
    from threadpoolctl import threadpool_limits
except ImportError:  # pragma: no cover - BLAS then keeps its threads
    threadpool_limits = None

_BATCH_BYTES = 64 * 2**20  # float32 bytes of sweep planes processed together
_PARTIAL_PLANES = 16  # planes summed in float32 before adding to the float64 sums
_BAND_ELEMENTS = 2**16  # values per band of rows (x planes): its buffers fit in cache
_WORKERS = min(2, os.cpu_count() or 1)  # threads sharing a block's bands
_CONSTANT_VARIANCE = 1e-6  # relative variance below which a pixel's readings are constant


@dataclass(frozen=True)
class FitQuality:
    """How well the straight line through the origin fits each pixel.

    Attributes
    ----------
    residual_rms : numpy.ndarray
        (row, col) float32 root-mean-square of ``s - gain * m`` over the planes used, in the
        units of the smoothed counts; NaN where the gain is undefined.
    r_squared : numpy.ndarray
        (row, col) float32 coefficient of determination ``1 - RSS / sum((s - mean(s))^2)``
        (can be negative when a line through the origin fits worse than a constant); NaN where
        the gain is undefined or the smoothed values do not vary.
    n_points : numpy.ndarray
        (row, col) int32 number of planes used (smoothed value above the cutoff).
    n_undefined : int
        Number of pixels whose gain is undefined (set to NaN).
    """

    residual_rms: np.ndarray
    r_squared: np.ndarray
    n_points: np.ndarray
    n_undefined: int


def fit_response(
    volume,
    *,
    dark=None,
    sigma: float = 50.0,
    cutoff: float | None = None,
    return_quality: bool = False,
    progress: Callable[[int, int], None] | None = None,
):
    """Fit per-pixel gains from a beam sweep (detectorcal's method, in one streaming pass).

    For every pixel, the gain is the least-squares slope through the origin of the
    Gaussian-smoothed sweep ``s`` against the measured sweep ``m`` (both dark-corrected), over
    the planes where ``s > cutoff``: ``gain = sum(m * s) / sum(m * m)``. Multiply
    ``image - dark`` by the gains to correct an image (:func:`correct_image`).

    Parameters
    ----------
    volume : numpy.ndarray or dask.array.Array
        (z, row, col) sweep, z >= 2, any real dtype (uint16 counts are read as float32). A dask
        array is reduced block by block (blocks of whole planes) and never loaded whole; the
        gains are computed in that single pass with the current dask scheduler.
    dark : array-like or float, optional
        (row, col) dark image, or one dark level, subtracted from every plane; a
        (plane, row, col) stack of darks is averaged first (streaming).
    sigma : float, default 50.0
        Standard deviation in pixels of the Gaussian that estimates the true intensity (it
        must remove the pixel-to-pixel variation); smoothing is that of
        ``scipy.ndimage.gaussian_filter(mode="nearest", truncate=4)``, to about 1e-5 of the
        signal when ``sigma >= 24`` (decimated smoothing,
        :class:`detcal.filters.gaussian.DecimatedGaussian`), exactly otherwise.
    cutoff : float, optional
        Planes where the smoothed, dark-corrected value is at or below this are left out of a
        pixel's fit (outside the linear range), >= 0. Default: detectorcal's 300 counts.
    return_quality : bool, default False
        Also return a :class:`FitQuality` (residual r.m.s., R^2, points used, undefined count)
        from the same pass.
    progress : callable, optional
        ``progress(done, total)``: planes done for numpy input, dask tasks done for dask input
        (local schedulers). It may raise (e.g. :class:`detcal.progress.StepCancelled`) to stop.

    Returns
    -------
    gains : numpy.ndarray
        (row, col) float32. NaN where the gain is undefined: no plane above the cutoff, a pixel
        reading zero throughout, or readings that do not change (relative variance below 1e-6:
        a stuck pixel); their count is warned about and given in ``FitQuality.n_undefined``.
        When no pixel has a gain the fit is an error (ValueError), not an all-NaN map.
    quality : FitQuality
        Only with ``return_quality=True``.

    Raises
    ------
    ValueError
        Bad shapes (not 3-D, fewer than 2 planes, ``dark`` not (row, col)), non-positive
        ``sigma``, a negative or non-finite ``cutoff``, a non-finite ``dark``, NaN/inf in
        ``volume`` (found while streaming; nothing is returned), or no pixel with a defined
        gain (no plane above the cutoff once the dark is removed, or constant readings).
    TypeError
        If ``volume`` or ``dark`` is not of a real numeric dtype.

    Warns
    -----
    RuntimeWarning
        When some gains are undefined.

    References
    ----------
    Croton, L. C., Ruben, G., Morgan, K. S., Paganin, D. M. & Kitchen, M. J. (2019). Ring
    artifact suppression in X-ray computed tomography using a simple, pixel-wise response
    correction. Optics Express 27(10), 14231-14245. :doi:`10.1364/OE.27.014231`

    Examples
    --------
    >>> from detcal.sample_data.sweep import make_sweep
    >>> sample = make_sweep(shape=(8, 64, 64))
    >>> gains, quality = fit_response(sample.volume, dark=sample.dark, return_quality=True)
    >>> gains.shape, quality.n_undefined
    ((64, 64), 0)
    """
    _check_volume(volume)
    nz, rows, cols = volume.shape
    sigma = _validate.positive(sigma, "sigma")
    cutoff = DEFAULT_CUTOFF if cutoff is None else _validate.number(cutoff, "cutoff", minimum=0)
    dark = calibration_plane(
        dark, "dark", (rows, cols), allow_scalar=True, against="the sweep", progress=progress
    )
    if dark is not None:
        dark = dark.astype(np.float32)
    batch = max(1, _BATCH_BYTES // (4 * rows * cols))
    smoother = _smoother((rows, cols), sigma)
    offset = None if smoother is None or dark is None else smoother.coarse(dark[None])
    args = (dark, sigma, cutoff, return_quality, offset)
    with _one_blas_thread():
        if isinstance(volume, da.Array):
            sums = _dask_sums(volume, args, batch, progress)
        else:
            sums = _numpy_sums(volume, args, batch, progress)
    bad = int(sums[BAD].sum())
    if bad:
        raise ValueError(f"volume: contains {bad} NaN or infinite values; expected finite data")
    gains, quality = _solve(sums)
    if quality.n_undefined == rows * cols:
        raise ValueError(
            f"volume: no pixel has a defined gain (no plane above the cutoff {cutoff:g} once "
            "the dark is removed, or constant readings); check the dark and the cutoff"
        )
    if quality.n_undefined:
        warnings.warn(
            f"{quality.n_undefined} of {rows * cols} pixels have an undefined gain (no plane "
            f"above the cutoff {cutoff:g}, or constant readings); set to NaN",
            RuntimeWarning,
            stacklevel=2,
        )
    return (gains, quality) if return_quality else gains


def _one_blas_thread():
    """Context in which BLAS runs single-threaded (the fit's threads share the cores).

    Its small matrix products gain nothing from BLAS threads, which on a busy machine wait
    for one another (up to 10x slower).
    """
    if threadpool_limits is None:  # pragma: no cover
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _numpy_sums(volume, args, batch, progress) -> np.ndarray:
    """Per-pixel sums over all planes of a numpy sweep, ``batch`` planes at a time."""
    nz, rows, cols = volume.shape
    sums = np.zeros((_n_sums(args[3]), rows, cols))
    if progress is not None:
        progress(0, nz)
    for start in range(0, nz, batch):
        stop = min(start + batch, nz)
        part = _block_sums(volume[start:stop], *args, workers=_WORKERS)[0]
        bad = int(part[BAD].sum())
        if bad:
            raise ValueError(
                f"volume: planes {start}-{stop - 1} contain {bad} NaN or infinite values; "
                "expected finite data"
            )
        sums += part
        if progress is not None:
            progress(stop, nz)
    return sums


def _dask_sums(volume, args, batch, progress) -> np.ndarray:
    """Per-pixel sums of a dask sweep: blocks of whole planes, summed with a small fan-in."""
    planes = volume.rechunk({0: batch, 1: -1, 2: -1})
    dark, *rest = args
    dark_arg = (None, None) if dark is None else (da.from_array(dark, chunks=-1), "rc")
    parts = da.blockwise(
        _block_sums,
        "zkrc",
        planes,
        "zrc",
        *dark_arg,
        *[x for value in rest for x in (value, None)],
        new_axes={"k": _n_sums(args[3])},
        adjust_chunks={"z": 1},
        dtype=_sums_dtype(batch),
        meta=np.empty((0, 0, 0, 0), _sums_dtype(batch)),
    )
    # a tree of in-place additions (no concatenation of partial sums): memory stays a few
    # blocks and partials whatever the number of planes; float32 partials (blocks of up to
    # 16 planes) are summed pairwise in float32, which keeps about 1e-7 relative
    total = da.reduction(
        parts,
        chunk=_keep,
        combine=_add,
        aggregate=_add,
        axis=0,
        keepdims=False,
        concatenate=False,
        split_every=2,
        dtype=_sums_dtype(batch),
        meta=np.empty((0, 0, 0), _sums_dtype(batch)),
    )
    (total,) = compute_with_progress(total, progress=progress)
    return np.asarray(total, dtype=np.float64)


def _keep(block: np.ndarray, axis=None, keepdims=None) -> np.ndarray:
    """Chunk step of the reduction: a block's partial sums as they are."""
    return block


def _add(blocks, axis=None, keepdims=True) -> np.ndarray:
    """Sum a list of (1, 7, row, col) partial sums (drop the block axis unless keepdims)."""
    blocks = blocks if isinstance(blocks, list) else [blocks]
    total = np.array(blocks[0])
    for block in blocks[1:]:
        total += block
    return total if keepdims else total[0]


def _block_sums(block, dark, sigma, cutoff, quality, offset, workers=None) -> np.ndarray:
    """Return the (1, 7, row, col) per-pixel sums of one block of whole planes.

    float32 for up to 16 planes (sums over so few planes keep float32 precision and the
    partial sums of a long sweep then cost half the memory traffic), float64 beyond. Without
    ``quality`` the sums only the fit quality needs (of ``s`` and ``d * d``) stay zero.
    ``offset`` is the dark's coarse smoothing (:meth:`DecimatedGaussian.coarse`), when the
    decimated smoothing applies.

    The block is smoothed (decimated smoothing when ``sigma`` is large enough, else the exact
    filter), then reduced band of rows by band of rows, so that the raw counts, the smoothed
    values and their products are read while in cache. ``workers`` threads share the bands
    (default: 2 when called from the main thread, 1 inside a dask worker thread).
    """
    x = np.ascontiguousarray(compiled_input(block))
    nz, rows, cols = x.shape
    sums = np.zeros((1, _n_sums(quality), rows, cols), _sums_dtype(nz))
    if x.dtype.kind == "f" and not np.isfinite(x.sum(axis=(1, 2), dtype=np.float64)).all():
        sums[0, BAD] = np.count_nonzero(~np.isfinite(x), axis=0)
        return sums
    if workers is None:
        workers = _WORKERS if threading.current_thread() is threading.main_thread() else 1
    smoother = _smoother((rows, cols), sigma)
    dark_plane = np.zeros((rows, cols), np.float32) if dark is None else np.ascontiguousarray(dark)
    for start in range(0, nz, _PARTIAL_PLANES):
        part = x[start : start + _PARTIAL_PLANES]
        if smoother is None:
            bands = _ExactBands(part, dark, sigma)
        else:
            bands = _DecimatedBands(smoother, part, offset)
        height = max(1, _BAND_ELEMENTS // (part.shape[0] * cols))

        def run(chunk: list[int], part=part, bands=bands, height=height) -> None:
            smoothed = np.empty((height, part.shape[0], cols), np.float32)
            for a in chunk:
                b = min(a + height, rows)
                s = smoothed[: b - a]
                bands.fill(a, b, s)
                check = not bands.above(a, b, cutoff)
                accumulate_band(part, dark_plane, a, b, s, cutoff, check, quality, sums[0])

        starts = list(range(0, rows, height))
        chunks = [c.tolist() for c in np.array_split(starts, min(workers, len(starts)))]
        if len(chunks) == 1:
            run(chunks[0])
        else:
            with ThreadPoolExecutor(len(chunks)) as pool:
                list(pool.map(run, chunks))
    return sums


class _ExactBands:
    """Smoothed planes by bands of rows, from SciPy-exact smoothing of the whole block."""

    def __init__(self, planes, dark, sigma: float):
        m = planes.astype(np.float32)
        if dark is not None:
            m -= dark
        self._smoothed = gaussian_smooth(m, sigma)

    def fill(self, start: int, stop: int, out: np.ndarray) -> None:
        out[...] = self._smoothed[:, start:stop].transpose(1, 0, 2)

    def above(self, start: int, stop: int, cutoff: float) -> bool:
        """Nothing is known beforehand: the band is checked value by value."""
        return False


class _DecimatedBands:
    """Smoothed planes by bands of rows, from :class:`DecimatedGaussian`.

    ``above`` tells from the coarse grid alone when a whole band is above the cutoff.
    """

    def __init__(self, smoother: DecimatedGaussian, planes, offset):
        self._smoother = smoother
        self._grid = smoother.grid(planes, offset)
        self._lows = self._grid.min(axis=(1, 2))

    def fill(self, start: int, stop: int, out: np.ndarray) -> None:
        self._smoother.rows(self._grid, start, stop, out=out)

    def above(self, start: int, stop: int, cutoff: float) -> bool:
        """Whether every smoothed value of rows ``start:stop`` is above ``cutoff``."""
        lo, hi = self._smoother.span(start, stop)
        return bool(self._lows[lo:hi].min() > cutoff)


@functools.lru_cache(maxsize=4)
def _smoother(shape: tuple[int, int], sigma: float) -> DecimatedGaussian | None:
    """Return the decimated smoothing of planes of ``shape``, None to use the exact one."""
    return DecimatedGaussian(shape, sigma) if decimation_factor(shape, sigma) else None


def _n_sums(quality: bool) -> int:
    """Return how many per-pixel sums a block produces (the quality needs two more)."""
    return ALL_SUMS if quality else GAIN_SUMS


def _sums_dtype(n_planes: int) -> np.dtype:
    return np.dtype(np.float32 if n_planes <= _PARTIAL_PLANES else np.float64)


def _solve(sums: np.ndarray) -> tuple[np.ndarray, FitQuality]:
    """Gains and fit quality from the per-pixel sums (those of the quality taken as 0 if absent)."""
    gains, rms, r_squared, n_points, n_undefined = solve_pixels(sums, _CONSTANT_VARIANCE)
    quality = FitQuality(
        residual_rms=rms, r_squared=r_squared, n_points=n_points, n_undefined=n_undefined
    )
    return gains, quality


def _check_volume(volume) -> None:
    ndim = getattr(volume, "ndim", None)
    if ndim != 3:
        raise ValueError(f"volume: expected a (z, row, col) sweep, got ndim={ndim}")
    if volume.shape[0] < 2:
        raise ValueError(f"volume: expected at least 2 planes, got shape {tuple(volume.shape)}")
    _validate.real_dtype(volume, "volume")
