"""A synthetic detector beam sweep with known per-pixel response, for the response step.

A detector pixel ``(r, c)`` reads ``response[r, c] * intensity + dark[r, c] + noise``. The sweep
records a broad X-ray beam whose centre moves across the detector while the source power changes
from plane to plane, so that every pixel sees a wide range of intensities (the input that
:func:`detcal.response.fit_response` needs). Each sweep plane, the flat and the test image are
means of several exposures, as a detector's calibration series usually are: Poisson noise falls
with the square root of the number of frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SweepSample:
    """A beam sweep, its calibration images and the truth they were made from.

    Attributes
    ----------
    volume : numpy.ndarray
        (z, row, col) uint16 raw sweep counts (dark included).
    dark : numpy.ndarray
        (row, col) float32 measured dark image (mean of many dark frames).
    flat : numpy.ndarray
        (row, col) float32 raw flat exposure, dark included.
    test_image : numpy.ndarray
        (row, col) uint16 raw exposure of a uniform absorber (60% of the flat beam).
    response : numpy.ndarray
        (row, col) float32 true per-pixel response (counts per unit intensity), mean about 1.
    gains : numpy.ndarray
        (row, col) float32 true correction gains, ``response.mean() / response``: what
        :func:`detcal.response.fit_response` estimates (detectorcal's coefficients).
    true_intensity : numpy.ndarray
        (row, col) float32 what ``correct_image(test_image, gains, dark=dark)`` should give:
        the test image as a detector whose every pixel had the mean response would read it,
        dark removed and noise-free.
    true_transmission : numpy.ndarray
        (row, col) float32 what ``correct_image(test_image, gains, dark=dark, flat=flat)``
        should give: the absorber's transmission (0.6 everywhere).
    """

    volume: np.ndarray
    dark: np.ndarray
    flat: np.ndarray
    test_image: np.ndarray
    response: np.ndarray
    gains: np.ndarray
    true_intensity: np.ndarray
    true_transmission: np.ndarray


def make_sweep(
    *,
    shape: tuple[int, int, int] = (20, 256, 256),
    gain_spread: float = 0.05,
    dark_level: float = 100.0,
    peak_counts: float = 40000.0,
    frames: int = 32,
    seed: int = 0,
) -> SweepSample:
    """Make a beam sweep of a detector with known per-pixel response.

    The beam is broad (it falls by 10% of its peak a frame's width from its centre); plane
    ``k`` of ``z`` has its centre at column ``(k / (z - 1) - 0.5)`` frame widths from the
    detector centre and a peak of ``peak_counts`` times a factor between 0.005 and 1 (geometric
    steps, shuffled), so the dimmest planes fall below detectorcal's 300-count cutoff in parts
    of the frame. Pixel responses are ``1 + gain_spread * N(0, 1)``; the dark is
    ``dark_level`` plus a fixed pattern of 3 counts r.m.s.

    Parameters
    ----------
    shape : tuple of int, default (20, 256, 256)
        (z, row, col) of the sweep; z >= 2.
    gain_spread : float, default 0.05
        Relative r.m.s. spread of the pixel responses.
    dark_level : float, default 100.0
        Mean dark counts.
    peak_counts : float, default 40000.0
        Beam peak in counts (dark excluded) on the brightest plane; keep it below 65535.
    frames : int, default 32
        Exposures averaged into each sweep plane and the flat (400 for the test image).
    seed : int, default 0
        Seed of the random generator.

    Returns
    -------
    SweepSample
        The sweep, its dark, flat and test image, and the truth.

    Raises
    ------
    ValueError
        If ``shape`` is not three positive sizes with z >= 2, or the counts would not fit
        uint16.

    Examples
    --------
    >>> sample = make_sweep(shape=(4, 32, 32))
    >>> sample.volume.shape, sample.volume.dtype.name
    ((4, 32, 32), 'uint16')
    """
    if len(shape) != 3 or min(shape) < 1 or shape[0] < 2:
        raise ValueError(f"shape: expected (z, row, col) with z >= 2 and sizes >= 1, got {shape}")
    if not 0 <= gain_spread < 0.3:
        raise ValueError(f"gain_spread: expected a value in [0, 0.3), got {gain_spread}")
    if peak_counts * (1 + 5 * gain_spread) + dark_level + 50 > np.iinfo(np.uint16).max:
        raise ValueError(f"peak_counts: {peak_counts} + dark {dark_level} would overflow uint16")
    if frames < 1:
        raise ValueError(f"frames: expected >= 1, got {frames}")
    nz, rows, cols = (int(s) for s in shape)
    rng = np.random.default_rng(seed)
    response = np.clip(1.0 + gain_spread * rng.standard_normal((rows, cols)), 0.5, 1.5)
    dark = dark_level + 3.0 * rng.standard_normal((rows, cols))

    def beam(centre_col: float) -> np.ndarray:
        u = (np.arange(rows) + 0.5) / rows - 0.5 - 0.1  # beam centre a bit above the middle
        v = (np.arange(cols) + 0.5) / cols - 0.5 - centre_col
        return 1.0 - 0.1 * (u[:, None] ** 2 + v[None, :] ** 2)

    def expose(intensity: np.ndarray, n_frames: int) -> np.ndarray:
        signal = response * intensity
        shot = np.sqrt(signal / n_frames) * rng.standard_normal(signal.shape)
        read = 2.0 / np.sqrt(n_frames) * rng.standard_normal(signal.shape)
        return signal + shot + read + dark

    powers = np.geomspace(0.005, 1.0, nz)
    rng.shuffle(powers)
    volume = np.empty((nz, rows, cols), dtype=np.uint16)
    for k in range(nz):
        plane = expose(peak_counts * powers[k] * beam(k / (nz - 1) - 0.5), frames)
        volume[k] = np.clip(np.rint(plane), 0, np.iinfo(np.uint16).max)
    flat_beam = 0.8 * peak_counts * beam(0.0)
    flat = expose(flat_beam, frames)
    transmission = 0.6
    test_image = np.clip(np.rint(expose(transmission * flat_beam, 400)), 0, 65535)
    measured_dark = dark + 2.0 / np.sqrt(1000) * rng.standard_normal((rows, cols))
    return SweepSample(
        volume=volume,
        dark=measured_dark.astype(np.float32),
        flat=flat.astype(np.float32),
        test_image=test_image.astype(np.uint16),
        response=response.astype(np.float32),
        gains=(response.mean() / response).astype(np.float32),
        true_intensity=(response.mean() * transmission * flat_beam).astype(np.float32),
        true_transmission=np.full((rows, cols), transmission, dtype=np.float32),
    )
