"""Filtered back-projection by Fourier gridding: one 2D non-uniform FFT per pair of slices.

By the Fourier slice theorem the 1D Fourier transform of a projection at angle ``theta`` is
the slice's 2D transform on a line through the origin at that angle. Filtered back-projection
is then a sum of complex exponentials over those polar frequency samples, evaluated on the
pixel grid: exactly a type-1 non-uniform FFT (finufft, Barnett et al. 2019,
doi:10.1137/18M120885X). The steps, per pair of slices:

1. pad each projection (edge values or zeros), its axis in the middle, by at least half its
   width, so the filtering is a linear convolution;
2. FFT, multiply by the filter and by a linear phase that moves the rotation axis onto an
   integer sample, inverse FFT;
3. cut a window of ``L`` samples centred on the axis (``L`` a little more than ``N``, which
   covers the circle inscribed in the slice: the part every view sees), pack the two real
   slices as real and imaginary parts, FFT;
4. one type-1 NUFFT from the ``n_angles * L`` polar samples to the ``N x N`` grid: the
   real part is the first slice, the imaginary part the second.

Pixels outside the inscribed circle (the corners) are outside some views; their values are
not meaningful (``circ_mask`` clears them).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import finufft
import numpy as np
import scipy.fft

from detcal.tomo.filters import reconstruction_filter


def _even_fast_len(n: int) -> int:
    n = scipy.fft.next_fast_len(int(n))
    while n % 2:
        n = scipy.fft.next_fast_len(n + 1)
    return n


class GriddingBackprojector:
    """Reusable gridding reconstructor for one geometry (angles, detector width, grid size).

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
        Threads for the FFTs (None: all CPUs).
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
        cos, sin = np.cos(self.theta)[:, None], np.sin(self.theta)[:, None]
        # pixel (r, c): x = c - (N-1)/2 = k2 + delta, y_up = (N-1)/2 - r = -k1 - delta
        delta = self.size // 2 - (self.size - 1) / 2.0
        phase = np.exp(2j * np.pi * omega[None, :] * delta * (cos - sin))
        weight = np.where(nyquist, 0.0, np.pi / n_angles / self.window)
        self._phase = (weight * np.where(m % 2 == 0, 1.0, -1.0) * phase).astype(np.complex64)
        self._plan = finufft.Plan(
            1,
            (self.size, self.size),
            eps=eps,
            isign=1,
            dtype="complex64",
            nthreads=self.nthreads,
            upsampfac=1.25,
        )
        k1 = (-2.0 * np.pi * omega[None, :] * sin).astype(np.float32).ravel()
        k2 = (2.0 * np.pi * omega[None, :] * cos).astype(np.float32).ravel()
        self._plan.setpts(k1, k2)

    def filtered_windows(
        self,
        sinograms: np.ndarray,
        centers: np.ndarray,
        *,
        filter_name: str,
        filter_par: tuple[float, ...] | None,
        pad: bool,
    ) -> np.ndarray:
        """Filter sinograms and cut the window centred on each slice's axis.

        Parameters
        ----------
        sinograms : ndarray, (k, angle, col)
            Sinograms of ``k`` slices.
        centers : ndarray, (k,)
            Rotation axis column of each.
        filter_name, filter_par, pad
            See ``detcal.tomo.recon``.

        Returns
        -------
        ndarray, (k, angle, L), float32
            Filtered projections sampled at ``s = t - L / 2`` from the axis.
        """
        k, n_angles, n = sinograms.shape
        half = self.window // 2
        length = self._length
        base = np.floor(centers).astype(int)
        if axis_extent(centers, n) > self._reach:
            raise ValueError(
                f"centers {centers.min():g} to {centers.max():g} reach further than the extent "
                f"{self._reach} this back-projector was made for"
            )
        # each slice's axis (its integer part) lands on the middle of its own buffer, so a
        # slice's result does not depend on the other slices filtered with it
        buf = np.empty((k, n_angles, length), dtype=np.float32)
        for i in range(k):
            start = length // 2 - base[i]
            buf[i, :, start : start + n] = sinograms[i]
            buf[i, :, :start] = sinograms[i, :, :1] if pad else 0.0
            buf[i, :, start + n :] = sinograms[i, :, -1:] if pad else 0.0
        freq = np.fft.rfftfreq(length)
        filt = reconstruction_filter(filter_name, length, filter_par)
        filt[-1] = 0.0
        frac = (centers - base)[:, None]
        gain = (filt[None, :] * np.exp(2j * np.pi * freq[None, :] * frac)).astype(np.complex64)
        spec = scipy.fft.rfft(buf, axis=-1, workers=self.nthreads)
        spec *= gain[:, None, :]
        filtered = scipy.fft.irfft(spec, n=length, axis=-1, workers=self.nthreads)
        lo = length // 2 - half
        out = filtered[:, :, lo : lo + self.window]
        return out

    def backproject_pair(
        self, first: np.ndarray, second: np.ndarray | None, out: np.ndarray
    ) -> None:
        """Back-project one or two filtered windows (from ``filtered_windows``) into ``out``.

        Parameters
        ----------
        first, second : ndarray, (angle, L)
            Filtered windows; ``second`` may be None.
        out : ndarray, (1 or 2, N, N), float32
            Receives the slices.
        """
        packed = np.empty(first.shape, dtype=np.complex64)
        packed.real = first
        packed.imag = 0.0 if second is None else second
        spec = scipy.fft.fft(packed, axis=-1, workers=self.nthreads, overwrite_x=True)
        spec *= self._phase
        image = self._plan.execute(spec.ravel())
        out[0] = image.real
        if second is not None:
            out[1] = image.imag

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
        sinograms : ndarray, (k, angle, col)
            Sinograms.
        centers : ndarray, (k,)
            Rotation axis column of each slice.
        filter_name, filter_par, pad
            See ``detcal.tomo.recon``.
        progress : callable or None
            ``progress(done, total)`` over slices.

        Returns
        -------
        ndarray, (k, N, N), float32
            Attenuation per pixel.
        """
        k = sinograms.shape[0]
        out = np.empty((k, self.size, self.size), dtype=np.float32)
        step = 8  # filter a few slices at a time to bound memory
        if progress is not None:
            progress(0, k)
        for s0 in range(0, k, step):
            s1 = min(s0 + step, k)
            windows = self.filtered_windows(
                sinograms[s0:s1],
                centers[s0:s1],
                filter_name=filter_name,
                filter_par=filter_par,
                pad=pad,
            )
            for i in range(0, s1 - s0, 2):
                second = windows[i + 1] if i + 1 < s1 - s0 else None
                done = s0 + i + (1 if second is None else 2)
                self.backproject_pair(windows[i], second, out[s0 + i : done])
                if progress is not None:
                    progress(done, k)
        return out


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


_LOCAL = threading.local()


def cached_backprojector(
    theta: np.ndarray,
    n_cols: int,
    size: int,
    *,
    eps: float = 1e-3,
    nthreads: int | None = None,
    extent: int | None = None,
) -> GriddingBackprojector:
    """Return a ``GriddingBackprojector`` for this geometry, reusing this thread's last one.

    Setting one up (polar points, phases, the finufft plan) costs about as much as
    reconstructing a slice; dask computes slab after slab with the same geometry. The cache is
    per thread because a finufft plan must not run in two threads at once.

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
    cached = getattr(_LOCAL, "entry", None)
    if cached is None or cached[0] != key:
        projector = GriddingBackprojector(
            theta, n_cols, size, eps=eps, nthreads=nthreads, extent=extent
        )
        cached = (key, projector)
        _LOCAL.entry = cached
    return cached[1]
