"""The polar spreading of the gridding reconstructor against the sums it approximates."""

from __future__ import annotations

import numpy as np
import pytest

from detcal.tomo.spreading import PolarSpreader, kernel_width


def _geometry(views=24, window=40, fine=50):
    theta = np.linspace(0, np.pi, views, endpoint=False) + 0.013
    return theta, window, fine


def _samples(theta, window, rng, hermitian=False):
    data = rng.normal(size=(theta.size, window)) + 1j * rng.normal(size=(theta.size, window))
    if hermitian:  # the spectrum of a real projection: value at -m is the conjugate of +m
        data = np.fft.fft(np.fft.ifft(data, axis=1).real, axis=1)
    data[:, window // 2] = 0.0  # the Nyquist sample is not spread
    return data.astype(np.complex64)


def _type1(spreader, theta, window, samples, size):
    """Spread, FFT, divide by the kernel's transform: the sums at modes -size/2..size/2-1."""
    fine = spreader.fine
    grid = np.zeros((fine, fine), np.complex64)
    spreader.spread(samples, grid)
    k = np.arange(size) - size // 2
    full = np.fft.ifft2(grid.astype(np.complex128)) * fine * fine
    factor = np.where(k % 2 == 0, 1.0, -1.0) / spreader.transform(k)
    return full[np.ix_(k % fine, k % fine)] * np.multiply.outer(factor, factor)


def _direct(theta, window, samples, size):
    """sum_j c_j exp(i (k1 x_j + k2 y_j)) over every sample but the Nyquist one."""
    m = np.fft.fftfreq(window) * 2 * np.pi  # radians per output pixel
    x = np.multiply.outer(-np.sin(theta), m).ravel()
    y = np.multiply.outer(np.cos(theta), m).ravel()
    keep = np.tile(np.arange(window) != window // 2, theta.size)
    k = np.arange(size) - size // 2
    ex = np.exp(1j * np.multiply.outer(k, x[keep]))
    ey = np.exp(1j * np.multiply.outer(k, y[keep]))
    return (ex * samples.ravel()[keep]) @ ey.T


@pytest.mark.parametrize(("eps", "bound"), [(1e-2, 8e-3), (1e-3, 2e-3), (1e-5, 3e-5)])
def test_spreading_gives_the_type1_sums(eps, bound):
    theta, window, fine = _geometry()
    samples = _samples(theta, window, np.random.default_rng(0))
    spreader = PolarSpreader(theta, window, fine, eps)
    size = 40
    got = _type1(spreader, theta, window, samples, size)
    want = _direct(theta, window, samples, size)
    assert np.linalg.norm(got - want) / np.linalg.norm(want) < bound


def test_hermitian_samples_spread_to_an_exactly_hermitian_grid():
    # what keeps two slices packed in one transform apart: the grid of a real slice's
    # samples is its own conjugate mirror image, to float rounding, whatever the kernel width
    theta, window, fine = _geometry()
    samples = _samples(theta, window, np.random.default_rng(1), hermitian=True)
    for eps in (1e-2, 1e-3):
        grid = np.zeros((fine, fine), np.complex64)
        PolarSpreader(theta, window, fine, eps).spread(samples, grid)
        mirror = np.conj(np.roll(grid[::-1, ::-1], 1, axis=(0, 1)))  # cell i -> fine - i
        assert np.abs(grid - mirror).max() < 1e-6 * np.abs(grid).max()


def test_kernel_width_follows_the_precision():
    assert [kernel_width(e) for e in (1e-1, 1e-2, 1e-3, 1e-4, 1e-6)] == [2, 4, 5, 7, 10]
