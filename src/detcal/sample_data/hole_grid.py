"""Synthetic hole-grid calibration image seen through a known smooth spatial distortion.

Displacement convention (used by `SmoothDistortion`, ``HoleGridSample.displacement`` and the
points): a point that would appear at ``(r, c)`` on an ideal, undistorted detector appears at
``(r + dy(r, c), c + dx(r, c))`` on this one. The field is evaluated at ideal coordinates, in
pixels, with pixel ``(i, j)`` centred at ``(row, col) = (i, j)``. pyFAI's ``set_dy``/``set_dx``
describe the opposite mapping (where a detector pixel really sits), so to first order they are
the negatives of this field.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import erfc

__all__ = ["HoleGridSample", "SmoothDistortion", "make_hole_grid"]

_EDGE_SIGMA = 0.5  # Gaussian blur of the hole edges, pixels
_HOLE_COUNTS = 1000.0  # brightness inside a hole, counts
_DARK_COUNTS = 20.0  # background between the holes, counts


@dataclass(frozen=True)
class SmoothDistortion:
    """A radial (barrel) distortion about an off-centre point plus a gentle sinusoidal warp.

    With ``v = p - radial_center`` and ``x_k = 2 pi wavevector_k . v``,
    ``d(p) = radial_coefficient * v * |v|**2 / radius**3
    + sum_k amplitude_k * (sin(x_k + phase_k) - sin(phase_k) - x_k cos(phase_k))``, in pixels,
    with separate sinusoidal terms for the row (dy) and column (dx) components. A negative
    `radial_coefficient` is barrel distortion (points move towards `radial_center`), a positive
    one pincushion. The field and its first derivatives vanish at `radial_center` (the optical
    axis): around it the distorted grid has the ideal pitch, position and orientation, which
    makes the field recoverable from an image of the grid alone.

    Parameters
    ----------
    radial_center : tuple of float
        Centre of the radial term (row, col).
    radial_coefficient : float
        Radial displacement in pixels at distance `radius` from the centre.
    radius : float
        Normalising radius of the radial term, in pixels.
    amplitudes : tuple of tuple of float
        ``(dy amplitudes, dx amplitudes)`` of the sinusoidal terms, in pixels.
    wavevectors : tuple of tuple of tuple of float
        ``(dy terms, dx terms)``, each term's (row, col) spatial frequency in cycles per pixel.
    phases : tuple of tuple of float
        ``(dy phases, dx phases)`` in radians.

    Examples
    --------
    >>> field = SmoothDistortion((0.0, 0.0), -1.0, 10.0, ((), ()), ((), ()), ((), ()))
    >>> field(np.array(10.0), np.array(0.0)).tolist()
    [-1.0, -0.0]
    """

    radial_center: tuple[float, float]
    radial_coefficient: float
    radius: float
    amplitudes: tuple[tuple[float, ...], tuple[float, ...]]
    wavevectors: tuple[tuple[tuple[float, float], ...], tuple[tuple[float, float], ...]]
    phases: tuple[tuple[float, ...], tuple[float, ...]]

    def __call__(self, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Evaluate the displacement at ideal positions.

        Parameters
        ----------
        rows, cols : array_like of float
            Ideal (undistorted) coordinates; broadcast together.

        Returns
        -------
        numpy.ndarray
            ``(2, *broadcast shape)`` float64: (dy, dx) in pixels.
        """
        rows, cols = np.broadcast_arrays(
            np.asarray(rows, dtype=np.float64), np.asarray(cols, dtype=np.float64)
        )
        vr = rows - self.radial_center[0]
        vc = cols - self.radial_center[1]
        gain = self.radial_coefficient * (vr**2 + vc**2) / self.radius**3
        out = np.stack([gain * vr, gain * vc])
        for axis in range(2):
            terms = zip(
                self.amplitudes[axis], self.wavevectors[axis], self.phases[axis], strict=True
            )
            for amplitude, (kr, kc), phase in terms:
                x = 2 * np.pi * (kr * vr + kc * vc)
                out[axis] += amplitude * (np.sin(x + phase) - np.sin(phase) - x * np.cos(phase))
        return out

    def scaled(self, factor: float) -> SmoothDistortion:
        """Return the same field multiplied by `factor`.

        Parameters
        ----------
        factor : float
            Multiplier of every displacement.

        Returns
        -------
        SmoothDistortion
            The scaled field.
        """
        return SmoothDistortion(
            radial_center=self.radial_center,
            radial_coefficient=self.radial_coefficient * factor,
            radius=self.radius,
            amplitudes=tuple(tuple(a * factor for a in axis) for axis in self.amplitudes),
            wavevectors=self.wavevectors,
            phases=self.phases,
        )


@dataclass(frozen=True, eq=False)
class HoleGridSample:
    """A distorted hole-grid image and its ground truth (see `make_hole_grid`).

    Attributes
    ----------
    image : numpy.ndarray
        (row, col) float32 counts: bright holes on a dark background.
    displacement : numpy.ndarray
        (2, row, col) float32 true (dy, dx) at every pixel, in pixels (module docstring).
    ideal_points : numpy.ndarray
        (N, 2) undistorted hole centres (row, col), a regular grid of spacing `pitch`.
    points : numpy.ndarray
        (N, 2) where those holes appear in `image`: ``ideal_points + field(ideal_points)``.
    grid_indices : numpy.ndarray
        (N, 2) int, the (row, col) index of each hole in the grid.
    pitch : float
        Grid spacing in pixels.
    hole_diameter : float
        Hole diameter in pixels.
    field : SmoothDistortion
        The analytic displacement field, to evaluate at any ideal position.
    """

    image: np.ndarray
    displacement: np.ndarray
    ideal_points: np.ndarray
    points: np.ndarray
    grid_indices: np.ndarray
    pitch: float
    hole_diameter: float
    field: SmoothDistortion


def _random_field(shape: tuple[int, int], rng: np.random.Generator) -> SmoothDistortion:
    """Unnormalised field: radial term of size 0.7 at the far corner, warp of up to 0.3."""
    h, w = shape
    center = (
        (0.43 + 0.04 * rng.uniform(-1, 1)) * (h - 1),
        (0.57 + 0.04 * rng.uniform(-1, 1)) * (w - 1),
    )
    corners = np.array([[0, 0], [0, w - 1], [h - 1, 0], [h - 1, w - 1]], dtype=np.float64)
    radius = float(np.max(np.hypot(*(corners - center).T)))
    size = np.array([h, w], dtype=np.float64)
    amplitudes, wavevectors, phases = [], [], []
    for _ in range(2):
        cycles = rng.uniform(0.3, 0.8, 2)
        angles = rng.uniform(0, np.pi, 2)
        k = cycles[:, None] * np.stack([np.sin(angles), np.cos(angles)], axis=1) / size
        amplitudes.append(tuple(float(a) for a in rng.uniform(0.1, 0.15, 2)))
        wavevectors.append(tuple((float(kr), float(kc)) for kr, kc in k))
        phases.append(tuple(float(p) for p in rng.uniform(0, 2 * np.pi, 2)))
    return SmoothDistortion(
        radial_center=(float(center[0]), float(center[1])),
        radial_coefficient=-0.7,
        radius=radius,
        amplitudes=tuple(amplitudes),
        wavevectors=tuple(wavevectors),
        phases=tuple(phases),
    )


def _check(shape, pitch, hole_diameter, distortion) -> tuple[int, int]:
    dims = tuple(np.atleast_1d(np.asarray(shape)))
    if len(dims) != 2 or not all(isinstance(d, (int, np.integer)) for d in dims):
        raise ValueError(f"shape must be two integers (rows, cols), got {shape!r}")
    if not (np.isfinite(pitch) and pitch > 0):
        raise ValueError(f"pitch must be a positive number of pixels, got {pitch!r}")
    if not (np.isfinite(hole_diameter) and 0 < hole_diameter < pitch):
        raise ValueError(
            f"hole_diameter must be positive and smaller than pitch={pitch}, got {hole_diameter!r}"
        )
    if not (np.isfinite(distortion) and distortion >= 0):
        raise ValueError(f"distortion must be a non-negative number of pixels, got {distortion!r}")
    if min(dims) < 2 * pitch + 2 * hole_diameter:
        raise ValueError(
            f"shape must hold at least two holes along each axis (>= 2 * (pitch + hole_diameter)"
            f" = {2 * (pitch + hole_diameter)} px), got {shape!r}"
        )
    return (int(dims[0]), int(dims[1]))


def _render(shape, points, hole_diameter) -> np.ndarray:
    """Sum of erfc-edged discs centred exactly at `points`, evaluated at pixel centres."""
    radius = hole_diameter / 2
    half = int(np.ceil(radius + 4 * _EDGE_SIGMA)) + 1
    offsets = np.arange(-half, half + 1)
    base = np.rint(points).astype(np.intp)
    rows = base[:, 0, None, None] + offsets[None, :, None]
    cols = base[:, 1, None, None] + offsets[None, None, :]
    rows, cols = np.broadcast_arrays(rows, cols)
    dist = np.hypot(rows - points[:, 0, None, None], cols - points[:, 1, None, None])
    values = 0.5 * erfc((dist - radius) / (np.sqrt(2) * _EDGE_SIGMA))
    flat = np.ravel_multi_index((rows.ravel(), cols.ravel()), shape)
    discs = np.bincount(flat, weights=values.ravel(), minlength=shape[0] * shape[1])
    return discs.reshape(shape)


def make_hole_grid(
    *,
    shape: tuple[int, int] = (512, 512),
    pitch: float = 16.0,
    hole_diameter: float = 6.0,
    distortion: float = 3.0,
    seed: int = 0,
    noise: bool = True,
) -> HoleGridSample:
    """Make an image of a regular grid of holes seen through a known smooth distortion.

    The ideal grid is axis-aligned with spacing `pitch` and a seeded sub-pixel offset. The
    displacement field (`SmoothDistortion`) is a barrel term about a point off the image
    centre plus a gentle sinusoidal warp, both without displacement or stretch at that point,
    scaled so that the largest displacement magnitude over the image pixels equals
    `distortion`. Each hole is drawn as a disc of `hole_diameter` with edges blurred by a
    0.5 px Gaussian, centred exactly at its distorted position (the hole's own shape is not
    distorted), so ``points`` are exact. Only holes lying wholly inside the image are drawn and
    listed. Holes are 1000 counts bright on a background of 20 counts.

    Parameters
    ----------
    shape : tuple of int
        Image shape (rows, cols); it must hold at least two holes along each axis.
    pitch : float
        Spacing of the ideal grid, in pixels (> 0).
    hole_diameter : float
        Hole diameter in pixels, smaller than `pitch`.
    distortion : float
        Largest displacement magnitude over the image, in pixels (>= 0; 0 = no distortion).
    seed : int
        Seed of the field, the grid offset and the noise.
    noise : bool
        Draw Poisson noise (the image is then integer counts stored as float32).

    Returns
    -------
    HoleGridSample
        ``image`` float32, ``displacement`` (2, row, col) float32 (dy, dx), ``ideal_points``
        and ``points`` (N, 2), ``grid_indices``, ``pitch``, ``hole_diameter`` and the
        analytic ``field``.

    Raises
    ------
    ValueError
        If `shape`, `pitch`, `hole_diameter` or `distortion` is invalid.

    Examples
    --------
    >>> grid = make_hole_grid(shape=(128, 128), noise=False)
    >>> grid.displacement.shape, grid.points.shape == grid.ideal_points.shape
    ((2, 128, 128), True)
    """
    shape = _check(shape, pitch, hole_diameter, distortion)
    rng = np.random.default_rng(seed)
    unit = _random_field(shape, rng)
    rows = np.arange(shape[0], dtype=np.float64)[:, None]
    cols = np.arange(shape[1], dtype=np.float64)[None, :]
    unit_map = unit(rows, cols)
    largest = float(np.max(np.hypot(unit_map[0], unit_map[1])))
    factor = distortion / largest
    field = unit.scaled(factor)
    displacement = (unit_map * factor).astype(np.float32)

    offset = rng.uniform(0, pitch, 2)
    reach = distortion + pitch
    i = np.arange(np.floor((-reach - offset[0]) / pitch), np.ceil((shape[0] + reach) / pitch) + 1)
    j = np.arange(np.floor((-reach - offset[1]) / pitch), np.ceil((shape[1] + reach) / pitch) + 1)
    ii, jj = np.meshgrid(i, j, indexing="ij")
    ideal = np.stack([offset[0] + ii.ravel() * pitch, offset[1] + jj.ravel() * pitch], axis=1)
    points = ideal + field(ideal[:, 0], ideal[:, 1]).T
    margin = np.ceil(hole_diameter / 2 + 4 * _EDGE_SIGMA) + 2
    inside = np.all((points >= margin) & (points <= np.array(shape) - 1 - margin), axis=1)
    ideal, points = ideal[inside], points[inside]
    indices = np.stack([ii.ravel(), jj.ravel()], axis=1)[inside].astype(np.intp)
    indices -= indices.min(axis=0)

    expected = _DARK_COUNTS + _HOLE_COUNTS * _render(shape, points, hole_diameter)
    if noise:
        expected = rng.poisson(expected)
    return HoleGridSample(
        image=expected.astype(np.float32),
        displacement=displacement,
        ideal_points=ideal,
        points=points,
        grid_indices=indices,
        pitch=float(pitch),
        hole_diameter=float(hole_diameter),
        field=field,
    )
