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

The fit streams: each block of whole planes is smoothed and reduced to seven per-pixel sums, so
a dask (e.g. Zarr-backed) sweep larger than memory is fitted in one pass of bounded memory.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.filters.gaussian import gaussian_smooth
from detcal.filters.planes import calibration_plane
from detcal.progress import dask_progress
from detcal.response.options import DEFAULT_CUTOFF

_BATCH_BYTES = 32 * 2**20  # float32 bytes of sweep planes processed together
_WORKERS = min(2, os.cpu_count() or 1)  # threads for the per-pixel sums of numpy input
_CONSTANT_VARIANCE = 1e-6  # relative variance below which a pixel's readings are constant
# indices of the per-pixel sums produced for every block of planes
_N, _M, _MM, _MS, _S, _SS, _BAD = range(7)
_NSUMS = 7


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
        ``scipy.ndimage.gaussian_filter(mode="nearest", truncate=4)``.
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
    if isinstance(volume, da.Array):
        sums = _dask_sums(volume, dark, sigma, cutoff, batch, progress)
    else:
        sums = _numpy_sums(volume, dark, sigma, cutoff, batch, progress)
    bad = int(sums[_BAD].sum())
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


def _numpy_sums(volume, dark, sigma, cutoff, batch, progress) -> np.ndarray:
    """Per-pixel sums over all planes of a numpy sweep, ``batch`` planes at a time."""
    nz, rows, cols = volume.shape
    sums = np.zeros((_NSUMS, rows, cols))
    if progress is not None:
        progress(0, nz)
    for start in range(0, nz, batch):
        stop = min(start + batch, nz)
        part = _block_sums(volume[start:stop], dark, sigma, cutoff, _WORKERS)[0]
        bad = int(part[_BAD].sum())
        if bad:
            raise ValueError(
                f"volume: planes {start}-{stop - 1} contain {bad} NaN or infinite values; "
                "expected finite data"
            )
        sums += part
        if progress is not None:
            progress(stop, nz)
    return sums


def _dask_sums(volume, dark, sigma, cutoff, batch, progress) -> np.ndarray:
    """Per-pixel sums of a dask sweep: blocks of whole planes, summed with a small fan-in."""
    planes = volume.rechunk({0: batch, 1: -1, 2: -1})
    dark_arg = (None, None) if dark is None else (da.from_array(dark, chunks=-1), "rc")
    parts = da.blockwise(
        _block_sums,
        "zkrc",
        planes,
        "zrc",
        *dark_arg,
        sigma,
        None,
        cutoff,
        None,
        new_axes={"k": _NSUMS},
        adjust_chunks={"z": 1},
        dtype=np.float64,
        meta=np.empty((0, 0, 0, 0)),
    )
    # a tree of in-place additions (no concatenation of partial sums): memory stays a few
    # blocks and partials whatever the number of planes
    total = da.reduction(
        parts,
        chunk=_keep,
        combine=_add,
        aggregate=_add,
        axis=0,
        keepdims=False,
        concatenate=False,
        split_every=2,
        dtype=np.float64,
        meta=np.empty((0, 0, 0)),
    )
    with dask_progress(progress):
        return np.asarray(total.compute())


def _keep(block: np.ndarray, axis=None, keepdims=None) -> np.ndarray:
    """Chunk step of the reduction: a block's partial sums as they are."""
    return block


def _add(blocks, axis=None, keepdims=True) -> np.ndarray:
    """Sum a list of (1, 7, row, col) partial sums (drop the block axis unless keepdims)."""
    blocks = blocks if isinstance(blocks, list) else [blocks]
    total = np.array(blocks[0], dtype=np.float64)
    for block in blocks[1:]:
        total += block
    return total if keepdims else total[0]


def _block_sums(block, dark, sigma: float, cutoff: float, workers: int = 1) -> np.ndarray:
    """Return the (1, 7, row, col) per-pixel sums of one block of whole planes.

    After the smoothing, the per-pixel sums run on ``workers`` bands of rows in threads.
    """
    m = np.array(block, dtype=np.float32)
    if dark is not None:
        m -= dark
    sums = np.zeros((1, _NSUMS) + m.shape[1:])
    if not np.isfinite(m.sum(axis=(1, 2))).all():  # cheap test; count only when needed
        sums[0, _BAD] = np.count_nonzero(~np.isfinite(m), axis=0)
        return sums
    s = gaussian_smooth(m, sigma)
    edges = np.linspace(0, m.shape[1], max(1, min(workers, m.shape[1])) + 1).astype(int)
    bands = [np.s_[:, a:b] for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def band_sums(band) -> None:
        _masked_sums(m[band], s[band], cutoff, sums[0][band])

    if len(bands) == 1:
        band_sums(bands[0])
    else:
        with ThreadPoolExecutor(len(bands)) as pool:
            list(pool.map(band_sums, bands))
    return sums


def _masked_sums(m: np.ndarray, s: np.ndarray, cutoff: float, out: np.ndarray) -> None:
    """Fill ``out[:_BAD]`` with the sums over planes where ``s > cutoff`` (m, s overwritten)."""
    used = s > cutoff
    m *= used
    s *= used
    out[_N] = np.count_nonzero(used, axis=0)
    for index, operands in ((_M, (m,)), (_S, (s,)), (_MM, (m, m)), (_MS, (m, s)), (_SS, (s, s))):
        subscripts = ",".join(["zij"] * len(operands)) + "->ij"
        out[index] = np.einsum(subscripts, *operands, dtype=np.float64)


def _solve(sums: np.ndarray) -> tuple[np.ndarray, FitQuality]:
    """Gains and fit quality from the per-pixel sums."""
    n = sums[_N]
    with np.errstate(divide="ignore", invalid="ignore"):
        gains = sums[_MS] / sums[_MM]
        mean_m = sums[_M] / n
        var_m = sums[_MM] / n - mean_m**2
        constant = (n >= 2) & (var_m <= _CONSTANT_VARIANCE * mean_m**2)
        undefined = (n == 0) | ~(sums[_MM] > 0) | constant
        gains[undefined] = np.nan
        rss = np.maximum(sums[_SS] - gains * sums[_MS], 0.0)
        rms = np.sqrt(rss / n)
        spread = sums[_SS] - sums[_S] ** 2 / n
        r_squared = np.where(spread > 0, 1.0 - rss / spread, np.nan)
    r_squared[undefined] = np.nan
    quality = FitQuality(
        residual_rms=rms.astype(np.float32),
        r_squared=r_squared.astype(np.float32),
        n_points=n.astype(np.int32),
        n_undefined=int(undefined.sum()),
    )
    return gains.astype(np.float32), quality


def _check_volume(volume) -> None:
    ndim = getattr(volume, "ndim", None)
    if ndim != 3:
        raise ValueError(f"volume: expected a (z, row, col) sweep, got ndim={ndim}")
    if volume.shape[0] < 2:
        raise ValueError(f"volume: expected at least 2 planes, got shape {tuple(volume.shape)}")
    _validate.real_dtype(volume, "volume")
