"""Spreading the polar Fourier samples of a pair of slices onto an oversampled grid.

The first half of a type-1 non-uniform FFT (Dutt and Rokhlin 1993; Barnett et al. 2019): every
sample adds its value, weighted by a separable Kaiser-Bessel kernel ``w`` grid cells wide, to
the cells around it on a grid ``upsampling`` times finer than the output; the grid's FFT,
divided by the kernel's Fourier transform, is then the sum of complex exponentials over the
samples. Written for the polar samples of filtered back-projection, where it is faster and
exact in a way a general NUFFT is not:

- The kernel weights depend only on where the samples are (the angles and the window), not on
  the data: they are computed once per geometry, so the compiled loop that runs for each pair
  of slices only multiplies and adds (no kernel evaluation, no sorting, no gathering). The
  samples are read view by view, each view's samples along its line, which keeps the grid
  cells being updated in cache.
- A projection's sample at frequency ``-k`` sits at the mirror image of the one at ``+k``. Its
  weights are taken as the mirror image of those of ``+k`` (not computed again from a rounded
  position), so the spreading of Hermitian-symmetric data is exactly Hermitian-symmetric. Two
  real slices packed as the real and imaginary parts of one transform then do not leak into
  each other, whatever the kernel width.

The kernel width follows finufft's rule for the requested precision at this upsampling
(``eps`` 1e-3: 5 cells), and the precision is that of finufft at the same ``eps`` (measured:
1.7e-3 relative at ``eps`` 1e-3, 7.6e-3 at 1e-2, 1.4e-5 at 1e-5; finufft 1.6e-3, 6.7e-3).
"""

from __future__ import annotations

import math

import numba
import numpy as np
import scipy.special

UPSAMPLING = 1.25  # fine grid cells per output pixel
_BETA_PER_WIDTH = 1.82  # Kaiser-Bessel shape, the best measured at this upsampling
_TABLE = 4096  # kernel table steps per grid cell


def kernel_width(eps: float) -> int:
    """Return the kernel width in grid cells for relative precision ``eps`` (finufft's rule).

    Examples
    --------
    >>> kernel_width(1e-3), kernel_width(1e-2)
    (5, 4)
    """
    width = math.ceil(math.log(1.0 / eps) / (math.pi * math.sqrt(1.0 - 1.0 / UPSAMPLING)))
    return min(max(width, 2), 16)


class PolarSpreader:
    """Kernel weights of the polar samples of one geometry, and the loop that spreads them.

    Parameters
    ----------
    theta : ndarray, (view,)
        Projection angles in radians.
    window : int
        Samples per view (even), in ``numpy.fft.fftfreq(window)`` order: sample ``m`` is at
        ``m / window`` cycles per pixel along the view's direction ``(-sin, cos)``.
    fine : int
        Grid size (cells per axis), even.
    eps : float
        Relative precision (sets the kernel width, :func:`kernel_width`).
    """

    def __init__(self, theta: np.ndarray, window: int, fine: int, eps: float):
        self.width = kernel_width(eps)
        self.fine = int(fine)
        self._beta = _BETA_PER_WIDTH * self.width
        half = window // 2
        m = np.arange(half, dtype=np.float64)
        # grid position of sample m of each view (the origin at cell fine / 2)
        scale = self.fine / window
        # the kernel over a sample's offset from its first cell, ``first - position`` in
        # ``[-width / 2, 1 - width / 2)``, for each of the ``width`` cells: the weights are
        # read from it (``_TABLE`` steps per cell, linear interpolation: about 1e-7 of the
        # kernel's peak), not computed sample by sample
        offsets = np.arange(_TABLE + 1)[:, None] / _TABLE - self.width / 2 + np.arange(self.width)
        table = self.kernel(offsets).astype(np.float32)
        rows_at = self.fine / 2 + np.multiply.outer(-np.sin(theta), m) * scale
        cols_at = self.fine / 2 + np.multiply.outer(np.cos(theta), m) * scale
        self._rows, self._row_weights = _weights(rows_at, table)
        self._cols, self._col_weights = _weights(cols_at, table)

    def kernel(self, offset: np.ndarray) -> np.ndarray:
        """Return the kernel at ``offset`` cells from a sample (1 at 0, 0 beyond ``width / 2``)."""
        z = 2.0 * np.asarray(offset, dtype=np.float64) / self.width
        inside = np.clip(1.0 - z * z, 0.0, None)
        value = scipy.special.i0(self._beta * np.sqrt(inside)) / scipy.special.i0(self._beta)
        return np.where(np.abs(z) < 1.0, value, 0.0)

    def transform(self, modes: np.ndarray) -> np.ndarray:
        """Return the kernel's Fourier transform at ``modes`` (cycles per ``fine`` cells)."""
        nodes, weights = np.polynomial.legendre.leggauss(4 * self.width + 32)
        u = nodes * self.width / 2
        phase = np.cos(2.0 * np.pi * np.multiply.outer(np.asarray(modes, float), u) / self.fine)
        return (phase * (weights * self.width / 2 * self.kernel(u))).sum(axis=-1)

    def spread(self, samples: np.ndarray, grid: np.ndarray) -> None:
        """Add the samples, weighted by the kernel, to the grid.

        Parameters
        ----------
        samples : ndarray, (view, window) complex64
            C-contiguous, ``fftfreq`` order; the Nyquist sample (``window // 2``) is left out.
        grid : ndarray, (fine, fine) complex64
            C-contiguous, added to.
        """
        _spread(
            samples.view(np.float32),
            self._rows,
            self._cols,
            self._row_weights,
            self._col_weights,
            grid.view(np.float32),
            (0,) * self.width,  # its length makes the width a constant of the compiled loop
        )


@numba.njit(nogil=True, fastmath=True, cache=True)
def _spread(samples, rows, cols, row_weights, col_weights, grid, width_token):
    views, half = rows.shape
    width = len(width_token)
    fine = grid.shape[0]
    window = samples.shape[1] // 2
    last = width - 1
    for v in range(views):
        for m in range(half):
            r0, c0 = rows[v, m], cols[v, m]
            # the mirror image of sample m (at -m): first cells and weights reversed
            r1, c1 = fine - r0 - last, fine - c0 - last
            wr, wc = row_weights[v, m], col_weights[v, m]
            re, im = samples[v, 2 * m], samples[v, 2 * m + 1]
            q = window - m if m > 0 else 0
            re1, im1 = samples[v, 2 * q], samples[v, 2 * q + 1]
            mirror = m > 0
            inside = min(r0, c0, r1, c1) >= 0 and max(r0, c0, r1, c1) + width <= fine
            if inside:
                for a in range(width):
                    row = grid[r0 + a]
                    ar, ai = re * wr[a], im * wr[a]
                    for b in range(width):
                        row[2 * (c0 + b)] += ar * wc[b]
                        row[2 * (c0 + b) + 1] += ai * wc[b]
                if mirror:
                    for a in range(width):
                        row = grid[r1 + a]
                        ar, ai = re1 * wr[last - a], im1 * wr[last - a]
                        for b in range(width):
                            row[2 * (c1 + b)] += ar * wc[last - b]
                            row[2 * (c1 + b) + 1] += ai * wc[last - b]
            else:  # near the grid's edge: indices wrap around
                for a in range(width):
                    row = grid[(r0 + a) % fine]
                    ar, ai = re * wr[a], im * wr[a]
                    for b in range(width):
                        c = (c0 + b) % fine
                        row[2 * c] += ar * wc[b]
                        row[2 * c + 1] += ai * wc[b]
                if mirror:
                    for a in range(width):
                        row = grid[(r1 + a) % fine]
                        ar, ai = re1 * wr[last - a], im1 * wr[last - a]
                        for b in range(width):
                            c = (c1 + b) % fine
                            row[2 * c] += ar * wc[last - b]
                            row[2 * c + 1] += ai * wc[last - b]


def _weights(position: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First cell covered by each sample at ``position`` and the weights of its cells."""
    first = np.empty(position.shape, np.int32)
    weights = np.empty((*position.shape, table.shape[1]), np.float32)
    _tabulated_weights(position, table, first, weights)
    return first, weights


@numba.njit(nogil=True, cache=True)
def _tabulated_weights(position, table, first, weights):
    steps = table.shape[0] - 1
    width = table.shape[1]
    for v in range(position.shape[0]):
        for m in range(position.shape[1]):
            start = np.ceil(position[v, m] - width / 2)
            at = (start - position[v, m] + width / 2) * steps
            index = min(int(at), steps - 1)
            fraction = np.float32(at - index)
            first[v, m] = int(start)
            for a in range(width):
                below = table[index, a]
                weights[v, m, a] = below + fraction * (table[index + 1, a] - below)
