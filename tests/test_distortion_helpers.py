"""Shared helpers of the distortion tests: grid images with a known field, the truth in our gauge.

Not a test module (no tests here); imported by tests/test_distortion_*.py.
"""

from __future__ import annotations

import numpy as np
from scipy.special import erfc


def render_grid(field, *, shape=(256, 256), pitch=16.0, diameter=6.0, angle=0.0, seed=0,
                drop=0.0):  # fmt: skip
    """Holes of a square grid (rotated by ``angle``) seen through ``field``, Poisson noise.

    ``field(rows, cols) -> (2, ...)`` is evaluated at ideal positions; a hole that belongs at
    ``q`` is drawn at ``q + field(q)`` (the hole_grid convention). Returns the image, the
    drawn points, their ideal positions and their integer indices.
    """
    rng = np.random.default_rng(seed)
    reach = int(np.hypot(*shape) / pitch) + 2
    ii, jj = np.mgrid[-reach : reach + 1, -reach : reach + 1]
    rot = np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) * pitch
    centre = np.array(shape) / 2 + rng.uniform(0, 1, 2)
    indices = np.stack([ii.ravel(), jj.ravel()], axis=1)
    ideal = centre + indices @ rot
    points = ideal + np.asarray(field(ideal[:, 0], ideal[:, 1])).T
    margin = diameter / 2 + 4
    inside = np.all((points > margin) & (points < np.array(shape) - 1 - margin), axis=1)
    inside &= rng.uniform(size=len(points)) >= drop
    points, ideal, indices = points[inside], ideal[inside], indices[inside]
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    image = np.full(shape, 20.0)
    half = int(diameter / 2 + 4)
    for r, c in points:
        r0, c0 = int(round(r)), int(round(c))
        win = (slice(r0 - half, r0 + half + 1), slice(c0 - half, c0 + half + 1))
        dist = np.hypot(rr[win] - r, cc[win] - c)
        image[win] += 1000 * 0.5 * erfc((dist - diameter / 2) / (np.sqrt(2) * 0.5))
    return rng.poisson(image).astype(np.float32), points, ideal, indices


def truth_in_our_gauge(dmap, true_points, true_ideal, field):
    """The true displacement at every corrected pixel, expressed with the map's ideal lattice.

    The ideal lattice is a choice (here: the least-squares affine lattice of the spots); the
    true ideal positions are an affine function of ours, found from the spots, so the true
    field in our frame is ``g(q) = D(A(q)) - q`` with ``A`` that affine map and ``D`` the true
    distortion ``x + field(x)``.
    """
    nearest = np.argmin(
        np.hypot(*(dmap.spots[:, None, :] - true_points[None, :, :]).transpose(2, 0, 1)), axis=1
    )
    ours = dmap.ideal_spots
    design = np.column_stack([np.ones(len(ours)), ours])
    affine = np.linalg.lstsq(design, true_ideal[nearest], rcond=None)[0]
    rows, cols = dmap.shape
    q = np.stack(np.mgrid[:rows, :cols], axis=-1).reshape(-1, 2).astype(np.float64)
    x = np.column_stack([np.ones(len(q)), q]) @ affine
    raw = x + np.asarray(field(x[:, 0], x[:, 1])).T
    return (raw - q).T.reshape(2, rows, cols)


def rms_error(dmap, truth):
    """R.m.s. length of (map - truth) over the valid region, pixels."""
    error = np.hypot(*(dmap.displacement - truth))[~dmap.mask]
    return float(np.sqrt(np.mean(error**2)))
