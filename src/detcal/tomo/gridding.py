"""Filtered back-projection by Fourier gridding: one 2D non-uniform FFT per pair of slices.

By the Fourier slice theorem the 1D Fourier transform of a projection at angle ``theta`` is
the slice's 2D transform on a line through the origin at that angle. Filtered back-projection
is then a sum of complex exponentials over those polar frequency samples, evaluated on the
pixel grid: exactly a type-1 non-uniform FFT (Dutt and Rokhlin 1993; Barnett et al. 2019,
doi:10.1137/18M120885X). The steps, per pair of slices:

1. pack the two real sinograms as the real and imaginary parts of one complex array and pad
   each projection (edge values or zeros), its axis in the middle, by at least half its
   width, so the filtering is a linear convolution;
2. FFT, multiply by the filter (real and even, so it acts on the two parts apart) and by a
   linear phase that moves the rotation axis onto an integer sample, inverse FFT;
3. cut a window of ``L`` samples centred on the axis (``L`` a little more than ``N``, which
   covers the circle inscribed in the slice: the part every view sees), FFT;
4. one type-1 NUFFT from the ``n_angles * L`` polar samples to the ``N x N`` grid: the
   real part is the first slice, the imaginary part the second. It is done here in its
   three parts: the samples are spread onto a grid 1.25 times finer with kernel weights
   computed once per geometry, the sample at ``-k`` exactly mirroring the one at ``+k`` so the
   two slices do not leak into each other (``detcal.tomo.spreading``); a 2D FFT that
   transforms only the ``N`` columns and rows kept; division by the spreading kernel's
   Fourier transform.

Steps 1 to 3, and the spreading of step 4, run on a few dozen views at a time (the polar
samples are spread while in cache, never written out whole), and step 4's FFTs on a few dozen
grid rows or columns at a time, so the working set stays in cache. Each pair is one
single-threaded task: with two cores, two pairs run at once.

Pixels outside the inscribed circle (the corners) are outside some views; their values are
not meaningful (``circ_mask`` clears them).
"""

from __future__ import annotations

import contextlib
import math
import mmap
import os
import queue
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

import numba
import numpy as np
import scipy.fft

from detcal.tomo.filters import reconstruction_filter
from detcal.tomo.spreading import UPSAMPLING, PolarSpreader


def _even_fast_len(n: int) -> int:
    n = scipy.fft.next_fast_len(int(n))
    while n % 2:
        n = scipy.fft.next_fast_len(n + 1)
    return n


class GriddingBackprojector:
    """Reusable gridding reconstructor for one geometry (angles, detector width, grid size).

    Slices are reconstructed in pairs, each pair end to end (filtering, FFTs, non-uniform FFT)
    by one of ``nthreads`` workers, each with its own scratch buffers (its "lane"), so the
    cores stay busy without sharing one transform; the kernel weights are shared. Lanes are made
    on first use and kept; one instance may serve several threads at once.

    Parameters
    ----------
    theta : ndarray, (angle,)
        Projection angles in radians.
    n_cols : int
        Detector columns.
    size : int
        Output grid size ``N`` (slices are ``N x N``, rotation axis at ``(N - 1) / 2``).
    eps : float
        Relative precision of the non-uniform FFT.
    nthreads : int or None
        Pairs of slices reconstructed at once (None: all CPUs).
    extent : int or None
        Largest distance, in whole pixels, from a rotation axis to the far edge of the
        detector, over the centres this instance will be used with (see ``axis_extent``);
        None allows any axis on the detector (a longer, slower filtering buffer).
    """

    def __init__(
        self,
        theta: np.ndarray,
        n_cols: int,
        size: int,
        *,
        eps: float = 1e-3,
        nthreads: int | None = None,
        extent: int | None = None,
    ):
        self.theta = np.asarray(theta, dtype=np.float64)
        self.n_cols = int(n_cols)
        self.size = int(size)
        self.eps = float(eps)
        self.nthreads = nthreads or os.cpu_count() or 1
        # window covering the inscribed circle of the grid, plus margin
        self.window = _even_fast_len(self.size + 8)
        # filtering buffer: the axis in the middle, room for the data on either side and half
        # a width of padding, so the circular convolution's wrap-around stays below 0.01 %
        # of the mean
        reach = self.n_cols if extent is None else int(extent)
        self._reach = reach
        self._length = _even_fast_len(2 * max(reach, self.window // 2) + self.n_cols // 2 + 16)
        n_angles = self.theta.size
        omega = np.fft.fftfreq(self.window)
        m = np.rint(np.fft.fftfreq(self.window, d=1.0 / self.window)).astype(np.int64)
        # the Nyquist sample has no conjugate partner: give it no weight
        nyquist = np.arange(self.window) == self.window // 2
        factor = np.where(nyquist, 0.0, np.pi / n_angles / self.window)
        factor *= np.where(m % 2 == 0, 1.0, -1.0)
        cos, sin = np.cos(self.theta), np.sin(self.theta)
        # pixel (r, c): x = c - (N-1)/2 = k2 + delta, y_up = (N-1)/2 - r = -k1 - delta
        delta = self.size // 2 - (self.size - 1) / 2.0
        arg = np.multiply.outer((cos - sin).astype(np.float32), (2 * np.pi * delta * omega))
        self._phase = np.empty(arg.shape, dtype=np.complex64)
        np.multiply(np.cos(arg), factor, out=self._phase.real, casting="same_kind")
        np.multiply(np.sin(arg), factor, out=self._phase.imag, casting="same_kind")
        # the spreading grid, the kernel weights of every polar sample on it, and the
        # factors that undo the kernel after the grid's FFT, by mode (-N/2 .. N/2 - 1), the same
        # for rows and columns
        self._fine = _even_fast_len(math.ceil(UPSAMPLING * self.size))
        self._spreader = PolarSpreader(self.theta, self.window, self._fine, self.eps)
        k = np.arange(self.size) - self.size // 2
        self._deconv = (np.where(k % 2 == 0, 1.0, -1.0) / self._spreader.transform(k)).astype(
            np.float32
        )
        self._free: queue.SimpleQueue[_Lane] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._n_lanes = 0

    def _acquire(self) -> _Lane:
        with contextlib.suppress(queue.Empty):
            return self._free.get_nowait()
        with self._lock:
            create = self._n_lanes < self.nthreads
            self._n_lanes += int(create)
        if not create:
            return self._free.get()
        try:
            return _Lane(self)
        except BaseException:
            with self._lock:
                self._n_lanes -= 1
            raise

    def _gains(self, centers: np.ndarray, filter_name: str, filter_par) -> list[np.ndarray]:
        """Per slice: filter times the sub-pixel axis shift on ``fftfreq(length)``, / length."""
        length = self._length
        half = reconstruction_filter(filter_name, length, filter_par)
        half[-1] = 0.0
        # the full (two-sided) spectrum: the filter is even in frequency
        filt = np.concatenate([half, half[-2:0:-1]]) / length
        freq = np.fft.fftfreq(length)
        cache: dict[float, np.ndarray] = {}
        gains = []
        for frac in np.asarray(centers, dtype=np.float64) - np.floor(centers):
            if frac not in cache:
                cache[frac] = (filt * np.exp(2j * np.pi * freq * frac)).astype(np.complex64)
            gains.append(cache[frac])
        return gains

    def _place(self, buf: np.ndarray, parts: list[tuple[np.ndarray, float]], pad: bool) -> None:
        """Place one or two ``(views, axis)`` as the real and imaginary parts of ``buf``."""
        self._fill(buf.real, *parts[0], pad)
        if len(parts) == 1:
            buf.imag = 0.0
        else:
            self._fill(buf.imag, *parts[1], pad)

    def _fill(self, dst: np.ndarray, sino: np.ndarray, center: float, pad: bool) -> None:
        """Place a sinogram in a filtering buffer with its axis's integer part in the middle."""
        n = sino.shape[-1]
        start = self._length // 2 - int(np.floor(center))
        dst[:, start : start + n] = sino
        dst[:, :start] = sino[:, :1] if pad else 0.0
        dst[:, start + n :] = sino[:, -1:] if pad else 0.0

    def _pair(
        self,
        sinograms: np.ndarray,
        centers: np.ndarray,
        gains: list[np.ndarray],
        first: int,
        second: int | None,
        pad: bool,
        out: np.ndarray,
    ) -> None:
        """Reconstruct slice ``first`` (and ``second``) into ``out``, in a free lane."""
        lane = self._acquire()
        try:
            g1 = gains[first]
            g2 = g1 if second is None else gains[second]
            lo = self._length // 2 - self.window // 2
            n_views = self.theta.size
            lane.grid[...] = 0.0
            # a few views at a time, filtered and spread while in cache
            for a0 in range(0, n_views, _BLOCK):
                a1 = min(a0 + _BLOCK, n_views)
                buf = lane.padded[: a1 - a0]
                parts = [
                    (sinograms[i, a0:a1], centers[i]) for i in (first, second) if i is not None
                ]
                self._place(buf, parts, pad)
                # two real sinograms in one complex FFT: a real (even) filter acts on each alone
                spec = scipy.fft.fft(buf, axis=-1, workers=1, overwrite_x=True)
                # a NaN or inf anywhere in a view makes its zero-frequency term (its sum) NaN or
                # inf: only then are the views placed again with those values set to 0
                if not np.isfinite(spec[:, 0]).all():
                    self._place(buf, parts, pad)
                    np.nan_to_num(buf, copy=False, nan=0.0, posinf=0.0, neginf=0.0)
                    spec = scipy.fft.fft(buf, axis=-1, workers=1, overwrite_x=True)
                if g1 is g2:
                    spec *= g1
                else:
                    # different sub-pixel shifts: split the two spectra by their symmetry
                    mirror = np.conj(spec[:, (-np.arange(self._length)) % self._length])
                    mirror *= 0.5 * (g1 - g2)
                    spec *= 0.5 * (g1 + g2)
                    spec += mirror
                filtered = scipy.fft.ifft(
                    spec, axis=-1, workers=1, overwrite_x=True, norm="forward"
                )
                rows = lane.window[: a1 - a0]
                rows[...] = filtered[:, lo : lo + self.window]
                rows = scipy.fft.fft(rows, axis=-1, workers=1, overwrite_x=True)
                rows *= self._phase[a0:a1]
                self._spreader.spread(rows, lane.grid, first_view=a0)
            self._to_image(lane, out, first, second)
        finally:
            self._free.put(lane)

    def _to_image(self, lane: _Lane, out: np.ndarray, first: int, second: int | None) -> None:
        """FFT only the grid's rows and columns kept, deconvolve, split into the two slices."""
        grid = lane.grid
        n, fine, d = self.size, self._fine, self._deconv
        neg = n // 2  # modes -neg .. n - neg - 1, the negative ones at the end of the FFT
        for r0 in range(0, fine, _BLOCK):
            rows = grid[r0 : r0 + _BLOCK]
            scipy.fft.ifft(rows, axis=1, workers=1, overwrite_x=True, norm="forward")
        # output columns c0:c1 are the grid's columns (c0 - neg) % fine onwards: blocks of
        # the negative modes (at the grid's end) and of the others (at its start), copied to
        # a contiguous buffer and transformed there (a strided transform is twice as slow)
        starts = [*range(0, neg, _BLOCK), *range(neg, n, _BLOCK)]
        for c0, c1 in zip(starts, [*starts[1:], n], strict=True):
            j0 = (c0 - neg) % fine
            image = lane.columns[:, : c1 - c0]
            image[...] = grid[:, j0 : j0 + c1 - c0]
            image = scipy.fft.ifft(image, axis=0, workers=1, overwrite_x=True, norm="forward")
            for part, index in ((image.real, first), (image.imag, second)):
                if index is not None:
                    _deconvolve(part, d, d[c0:c1], out[index, :, c0:c1])

    def reconstruct(
        self,
        sinograms: np.ndarray,
        centers: np.ndarray,
        *,
        filter_name: str,
        filter_par: tuple[float, ...] | None,
        pad: bool,
        progress: Callable[[int, int], None] | None = None,
    ) -> np.ndarray:
        """Reconstruct a stack of sinograms.

        Parameters
        ----------
        sinograms : array-like, (k, angle, col)
            Sinograms (any real dtype, any strides; NaN and inf are taken as 0).
        centers : ndarray, (k,)
            Rotation axis column of each slice.
        filter_name, filter_par, pad
            See ``detcal.tomo.recon``.
        progress : callable or None
            ``progress(done, total)`` over slices, called from the calling thread.

        Returns
        -------
        ndarray, (k, N, N), float32
            Attenuation per pixel.

        Raises
        ------
        ValueError
            If a centre reaches further than the ``extent`` this instance was made for.
        """
        k, _, n = sinograms.shape
        centers = np.asarray(centers, dtype=np.float64)
        if k and axis_extent(centers, n) > self._reach:
            raise ValueError(
                f"centers {centers.min():g} to {centers.max():g} reach further than the extent "
                f"{self._reach} this back-projector was made for"
            )
        out = np.empty((k, self.size, self.size), dtype=np.float32)
        _map_pages(out)
        gains = self._gains(centers, filter_name, filter_par)
        pairs = [(i, i + 1 if i + 1 < k else None) for i in range(0, k, 2)]
        if progress is not None:
            progress(0, k)
        done = 0
        workers = min(self.nthreads, len(pairs))
        if workers <= 1:
            for first, second in pairs:
                self._pair(sinograms, centers, gains, first, second, pad, out)
                done += 1 if second is None else 2
                if progress is not None:
                    progress(done, k)
            return out
        with ThreadPoolExecutor(max_workers=workers) as pool:
            futures = {
                pool.submit(self._pair, sinograms, centers, gains, a, b, pad, out): b is None
                for a, b in pairs
            }
            try:
                for future in as_completed(futures):
                    future.result()
                    done += 1 if futures[future] else 2
                    if progress is not None:
                        progress(done, k)
            except BaseException:
                for future in futures:
                    future.cancel()
                raise
        return out


def _map_pages(array: np.ndarray) -> None:
    """Have the kernel map every page of a new array now, from the calling thread.

    The first write to a page of fresh memory stops the writing thread while the kernel maps
    and zeroes the page. The workers write the slices into the output; faulting its pages
    there, two at once, they wait on each other, and longer still when another program holds a
    core. Measured for 64 slices of 2048 x 2048 on two cores, one kept busy: 82 ms per slice
    with the faults taken by the workers (21-23 ms of it system time), 69 ms with the pages
    mapped here first (2-3 ms); no change with both cores free. One write per page is enough.
    """
    array.reshape(-1).view(np.uint8)[:: mmap.PAGESIZE] = 0


class _Lane:
    """One worker's scratch buffers: filtering, the polar samples, the grid, image columns."""

    def __init__(self, owner: GriddingBackprojector):
        self.padded = np.empty((_BLOCK, owner._length), dtype=np.complex64)
        self.window = np.empty((_BLOCK, owner.window), dtype=np.complex64)
        self.grid = np.empty((owner._fine, owner._fine), dtype=np.complex64)
        self.columns = np.empty((owner._fine, _BLOCK), dtype=np.complex64)


_BLOCK = 64  # views (or grid rows, image columns) per step: a cache-sized working set


@numba.njit(nogil=True, cache=True)
def _deconvolve(part, row_factors, col_factors, out):
    """``out[r, c] = part[(r - N // 2) % fine, c] * row_factors[r] * col_factors[c]``.

    An image block from its grid columns' FFT: ``part`` is the real or imaginary part of the
    (fine, k) transformed columns, ``out`` the (N, k) block of the slice, the factors the
    kernel correction of each output row and of each of the block's columns.
    """
    fine = part.shape[0]
    n = row_factors.shape[0]
    neg = n // 2
    for r in range(n):
        source = part[r - neg + fine if r < neg else r - neg]
        target = out[r]
        factor = row_factors[r]
        for c in range(out.shape[1]):
            target[c] = source[c] * factor * col_factors[c]


def axis_extent(centers: np.ndarray, n_cols: int) -> int:
    """Largest distance, in whole pixels, from any of ``centers`` to a far detector edge.

    Parameters
    ----------
    centers : ndarray
        Rotation axis columns.
    n_cols : int
        Detector columns.

    Returns
    -------
    int
    """
    base = np.floor(np.asarray(centers, dtype=np.float64))
    return int(max(base.max() + 1, n_cols - base.min()))


_CACHE: list[tuple[tuple, GriddingBackprojector]] = []
_CACHE_LOCK = threading.Lock()


def cached_backprojector(
    theta: np.ndarray,
    n_cols: int,
    size: int,
    *,
    eps: float = 1e-3,
    nthreads: int | None = None,
    extent: int | None = None,
) -> GriddingBackprojector:
    """Return a ``GriddingBackprojector`` for this geometry, reusing the last one made.

    Setting one up (kernel weights of the polar samples, phases) costs about as much as
    reconstructing a slice; dask computes slab after slab with the same geometry. The instance
    is shared by all threads: its lanes keep each set of scratch buffers to one thread at a time
    and bound the work running at once to ``nthreads`` pairs of slices.

    Parameters
    ----------
    theta, n_cols, size, eps, nthreads, extent
        See ``GriddingBackprojector``.

    Returns
    -------
    GriddingBackprojector
    """
    theta = np.asarray(theta, dtype=np.float64)
    key = (theta.tobytes(), int(n_cols), int(size), float(eps), nthreads, extent)
    with _CACHE_LOCK:
        if _CACHE and _CACHE[0][0] == key:
            return _CACHE[0][1]
    projector = GriddingBackprojector(
        theta, n_cols, size, eps=eps, nthreads=nthreads, extent=extent
    )
    with _CACHE_LOCK:
        _CACHE[:] = [(key, projector)]
    return projector
