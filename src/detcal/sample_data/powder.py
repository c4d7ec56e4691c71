"""Synthetic powder diffraction patterns with a beam block, and drifting series of them.

Every pattern is evaluated analytically at each pixel centre (pixel ``(i, j)`` has its centre at
the coordinates ``(row, col) = (i, j)``), so the centre, the ring radii and the noise-free radial
profile returned with the image are exact, sub-pixel centres included.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "PowderSample",
    "PowderSeries",
    "RadialProfile",
    "make_powder",
    "make_powder_series",
]

# Default ring radii follow the allowed reflections of a face-centred cubic powder
# (h^2 + k^2 + l^2 = 3, 4, 8, 11, 12, 16, 19, 20), scaled to the image; the pair 11/12 is close.
_FCC_SQUARES = np.array([3.0, 4.0, 8.0, 11.0, 12.0, 16.0, 19.0, 20.0])
_RING_AMPLITUDES = np.array([1000.0, 550.0, 380.0, 420.0, 160.0, 130.0, 220.0, 170.0])
_DEFAULT_CENTER = (270.3, 241.7)  # for a (512, 512) detector; scaled for other shapes
_BLOCK_TRANSMISSION = 0.005  # fraction of the pattern that leaks through the beam block
_ARM_ANGLE = 2.3  # direction of the beam-block arm, radians from +col towards +row


@dataclass(frozen=True)
class RadialProfile:
    """Noise-free intensity of a powder pattern as a function of the distance to its centre.

    ``profile(r) = background * exp(-r / background_length)
    + sum_k amplitude_k * exp(-(r - radius_k)**2 / (2 * ring_width**2))``, in counts.

    Parameters
    ----------
    ring_radii : tuple of float
        Ring radii in pixels.
    ring_amplitudes : tuple of float
        Peak height of each ring above the background, in counts.
    ring_width : float
        Standard deviation of each ring's Gaussian radial profile, in pixels.
    background : float
        Background at the centre, in counts.
    background_length : float
        Decay length of the exponential background, in pixels.

    Examples
    --------
    >>> profile = RadialProfile((10.0,), (100.0,), 2.0, 0.0, 50.0)
    >>> float(profile(10.0))
    100.0
    """

    ring_radii: tuple[float, ...]
    ring_amplitudes: tuple[float, ...]
    ring_width: float
    background: float
    background_length: float

    def __call__(self, radius: np.ndarray | float) -> np.ndarray:
        """Evaluate the profile.

        Parameters
        ----------
        radius : array_like of float
            Distances to the pattern centre, in pixels.

        Returns
        -------
        numpy.ndarray
            Intensity in counts (float64), same shape as `radius`.
        """
        r = np.asarray(radius, dtype=np.float64)
        out = self.background * np.exp(-r / self.background_length)
        inv = -0.5 / self.ring_width**2
        for r0, amplitude in zip(self.ring_radii, self.ring_amplitudes, strict=True):
            out = out + amplitude * np.exp(inv * (r - r0) ** 2)
        return out


@dataclass(frozen=True, eq=False)
class PowderSample:
    """A powder pattern and its ground truth (see `make_powder`).

    Attributes
    ----------
    image : numpy.ndarray
        (row, col) float32 counts.
    mask : numpy.ndarray
        (row, col) bool, True on the pixels behind the beam block (to ignore).
    center : tuple of float
        True pattern centre (row, col) in pixels.
    ring_radii : numpy.ndarray
        True ring radii in pixels.
    radial_profile : RadialProfile
        Noise-free intensity as a function of the radius (outside the beam block).
    """

    image: np.ndarray
    mask: np.ndarray
    center: tuple[float, float]
    ring_radii: np.ndarray
    radial_profile: RadialProfile


@dataclass(frozen=True, eq=False)
class PowderSeries:
    """A drifting series of powder patterns and its ground truth (see `make_powder_series`).

    Attributes
    ----------
    images : numpy.ndarray
        (n, row, col) float32 counts.
    mask : numpy.ndarray
        (row, col) bool, True behind the beam block; the block is fixed on the detector.
    centers : numpy.ndarray
        (n, 2) true centre (row, col) of each pattern.
    shifts : numpy.ndarray
        (n, 2) ``centers - centers[0]``: where each pattern's centre lies relative to pattern
        0's, (drow, dcol). ``shifts[0]`` is (0, 0). To align pattern i onto pattern 0, move it
        by ``-shifts[i]``.
    ring_radii : numpy.ndarray
        True ring radii in pixels.
    radial_profile : RadialProfile
        Noise-free intensity as a function of the radius (the same for every pattern).
    """

    images: np.ndarray
    mask: np.ndarray
    centers: np.ndarray
    shifts: np.ndarray
    ring_radii: np.ndarray
    radial_profile: RadialProfile


def _check_shape(shape: tuple[int, int]) -> tuple[int, int]:
    dims = tuple(np.atleast_1d(np.asarray(shape)))
    valid = len(dims) == 2 and all(isinstance(d, (int, np.integer)) and d >= 16 for d in dims)
    if not valid:
        raise ValueError(f"shape must be two integers >= 16 (rows, cols), got {shape!r}")
    return (int(dims[0]), int(dims[1]))


def _check_center(center, shape: tuple[int, int], margin: float = 0.0) -> tuple[float, float]:
    if center is None:
        return (_DEFAULT_CENTER[0] * shape[0] / 512, _DEFAULT_CENTER[1] * shape[1] / 512)
    c = np.asarray(center, dtype=np.float64)
    inside = c.shape == (2,) and np.all(np.isfinite(c))
    if not inside or not all(margin <= v <= n - 1 - margin for v, n in zip(c, shape, strict=True)):
        where = f" by at least {margin} px (max_shift)" if margin else ""
        raise ValueError(
            f"center must be a (row, col) inside the image of shape {shape}{where}, got {center!r}"
        )
    return (float(c[0]), float(c[1]))


def _profile(shape, ring_radii, ring_width, background) -> RadialProfile:
    if ring_radii is None:
        radii = 0.45 * min(shape) * np.sqrt(_FCC_SQUARES / _FCC_SQUARES[-1])
        amplitudes = _RING_AMPLITUDES
    else:
        radii = np.asarray(ring_radii, dtype=np.float64)
        if radii.ndim != 1 or radii.size == 0 or not np.all(np.isfinite(radii) & (radii > 0)):
            raise ValueError(
                f"ring_radii must be a non-empty 1-D sequence of positive radii, got {ring_radii!r}"
            )
        amplitudes = np.resize(_RING_AMPLITUDES, radii.size)
    if not (np.isfinite(ring_width) and ring_width > 0):
        raise ValueError(f"ring_width must be a positive number of pixels, got {ring_width!r}")
    if not (np.isfinite(background) and background >= 0):
        raise ValueError(f"background must be a non-negative count, got {background!r}")
    return RadialProfile(
        ring_radii=tuple(float(r) for r in radii),
        ring_amplitudes=tuple(float(a) for a in amplitudes),
        ring_width=float(ring_width),
        background=float(background),
        background_length=0.35 * min(shape),
    )


def _beam_block(shape, center) -> np.ndarray:
    """Disc of radius 5% of the image at `center` plus an arm from it to the image edge."""
    rows = np.arange(shape[0], dtype=np.float64)[:, None] - center[0]
    cols = np.arange(shape[1], dtype=np.float64)[None, :] - center[1]
    size = min(shape)
    disc = rows**2 + cols**2 <= (0.05 * size) ** 2
    along = rows * np.sin(_ARM_ANGLE) + cols * np.cos(_ARM_ANGLE)
    across = rows * np.cos(_ARM_ANGLE) - cols * np.sin(_ARM_ANGLE)
    arm = (along >= 0) & (np.abs(across) <= 0.015 * size)
    return disc | arm


def _render(shape, center, profile, block, rng) -> np.ndarray:
    rows = np.arange(shape[0], dtype=np.float64)[:, None] - center[0]
    cols = np.arange(shape[1], dtype=np.float64)[None, :] - center[1]
    expected = profile(np.hypot(rows, cols))
    if block is not None:
        expected[block] *= _BLOCK_TRANSMISSION
    if rng is not None:
        expected = rng.poisson(expected)
    return expected.astype(np.float32)


def make_powder(
    *,
    shape: tuple[int, int] = (512, 512),
    center: tuple[float, float] | None = None,
    ring_radii=None,
    ring_width: float = 2.0,
    background: float = 200.0,
    noise: bool = True,
    beam_block: bool = True,
    seed: int = 0,
) -> PowderSample:
    """Make a powder diffraction pattern with a known centre, rings and beam block.

    Debye-Scherrer rings with Gaussian radial profiles and varying heights sit on an
    exponentially falling background (see `RadialProfile`), evaluated at every pixel centre
    around the exact sub-pixel `center`. The beam block is a disc (radius 5% of the smaller
    image side) at the centre plus an arm 3% of that side wide running from the centre to the
    image edge; it lets 0.5% of the pattern through, so the image is about 0 there.

    Parameters
    ----------
    shape : tuple of int
        Image shape (rows, cols), each at least 16.
    center : tuple of float, optional
        Pattern centre (row, col) in pixels, inside the image. Default: (270.3, 241.7) scaled
        from a (512, 512) image to `shape`, slightly off the image centre.
    ring_radii : sequence of float, optional
        Ring radii in pixels. Default: the first eight face-centred cubic reflections, the
        largest at 45% of the smaller image side.
    ring_width : float
        Standard deviation of each ring's radial profile, in pixels.
    background : float
        Background at the centre in counts; it decays over 35% of the smaller image side.
    noise : bool
        Draw Poisson noise (the image is then integer counts stored as float32).
    beam_block : bool
        Add the beam block (the mask is all False without it).
    seed : int
        Seed of the noise generator.

    Returns
    -------
    PowderSample
        ``image`` (row, col) float32, ``mask`` (bool, True = blocked, to ignore), ``center``,
        ``ring_radii`` and the noise-free ``radial_profile``.

    Raises
    ------
    ValueError
        If `shape`, `center`, `ring_radii`, `ring_width` or `background` is invalid.

    Examples
    --------
    >>> sample = make_powder(shape=(128, 128), noise=False)
    >>> sample.image.shape, sample.mask.dtype
    ((128, 128), dtype('bool'))
    """
    shape = _check_shape(shape)
    center = _check_center(center, shape)
    profile = _profile(shape, ring_radii, ring_width, background)
    block = _beam_block(shape, center) if beam_block else np.zeros(shape, dtype=bool)
    rng = np.random.default_rng(seed) if noise else None
    image = _render(shape, center, profile, block, rng)
    return PowderSample(
        image=image,
        mask=block,
        center=center,
        ring_radii=np.array(profile.ring_radii),
        radial_profile=profile,
    )


def make_powder_series(
    *,
    n: int = 8,
    shape: tuple[int, int] = (256, 256),
    max_shift: float = 6.0,
    center: tuple[float, float] | None = None,
    ring_radii=None,
    ring_width: float = 2.0,
    background: float = 200.0,
    noise: bool = True,
    beam_block: bool = True,
    seed: int = 0,
) -> PowderSeries:
    """Make a series of the same powder pattern drifting by known sub-pixel shifts.

    The pattern centre follows a random walk starting at `center` (pattern 0), rescaled so that
    the largest shift component equals `max_shift`. Each pattern is evaluated analytically at
    its own centre (no image interpolation), so ``centers`` and ``shifts`` are exact. The beam
    block is part of the detector: it stays where it is (at pattern 0's centre) while the
    pattern moves, and `mask` is the same for every pattern.

    Parameters
    ----------
    n : int
        Number of patterns, at least 1.
    shape : tuple of int
        Shape (rows, cols) of each pattern.
    max_shift : float
        Largest |drow| or |dcol| of any pattern relative to pattern 0, in pixels (>= 0).
    center : tuple of float, optional
        Centre (row, col) of pattern 0; it must lie at least `max_shift` inside the image.
        Default as in `make_powder`.
    ring_radii, ring_width, background, noise, beam_block
        As in `make_powder`.
    seed : int
        Seed of the drift and the noise.

    Returns
    -------
    PowderSeries
        ``images`` (n, row, col) float32, ``mask``, ``centers`` (n, 2), ``shifts`` (n, 2) with
        ``shifts[i] = centers[i] - centers[0]`` (where pattern i's centre lies relative to
        pattern 0's), ``ring_radii`` and ``radial_profile``.

    Raises
    ------
    ValueError
        If `n` < 1, `max_shift` < 0, or another argument is invalid as in `make_powder`.

    Examples
    --------
    >>> series = make_powder_series(n=3, shape=(64, 64), max_shift=2.0, noise=False)
    >>> series.images.shape, series.shifts.shape
    ((3, 64, 64), (3, 2))
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be an integer >= 1 (number of patterns), got {n!r}")
    if not (np.isfinite(max_shift) and max_shift >= 0):
        raise ValueError(f"max_shift must be a non-negative number of pixels, got {max_shift!r}")
    shape = _check_shape(shape)
    center0 = _check_center(center, shape, margin=float(max_shift))
    profile = _profile(shape, ring_radii, ring_width, background)
    rng = np.random.default_rng(seed)
    walk = np.cumsum(rng.standard_normal((int(n), 2)), axis=0)
    shifts = walk - walk[0]
    largest = np.abs(shifts).max()
    if largest > 0:
        shifts *= max_shift / largest
    centers = np.asarray(center0) + shifts
    block = _beam_block(shape, center0) if beam_block else np.zeros(shape, dtype=bool)
    noise_rng = rng if noise else None
    images = np.stack([_render(shape, c, profile, block, noise_rng) for c in centers])
    return PowderSeries(
        images=images,
        mask=block,
        centers=centers,
        shifts=shifts,
        ring_radii=np.array(profile.ring_radii),
        radial_profile=profile,
    )
