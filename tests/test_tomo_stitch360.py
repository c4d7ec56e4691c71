"""360-degree offset-axis scans: stitching against a reference 180-degree sinogram; overlap."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose

from detcal.tomo import prep

DISCS = [(0, 0, 40, 1.0), (15, -10, 12, 0.8), (-20, 18, 8, 1.5), (25, 20, 5, 2.0)]


def _disc_sinogram(theta, offsets):
    """Exact parallel-beam projections of discs at detector offsets from the rotation axis."""
    out = np.zeros((theta.size, offsets.size))
    for x0, y0, r, mu in DISCS:
        centre = x0 * np.cos(theta)[:, None] + y0 * np.sin(theta)[:, None]
        out += 2 * mu * np.sqrt(np.clip(r**2 - (offsets[None] - centre) ** 2, 0, None))
    return out


def _scan_360(center, n_col=100, n_half=180, rows=2):
    theta = np.linspace(0, 2 * np.pi, 2 * n_half, endpoint=False)
    sino = _disc_sinogram(theta, np.arange(n_col) - center)
    return np.repeat(sino[:, None, :], rows, axis=1), theta


@pytest.mark.parametrize("rotation", ["left", "right"])
def test_stitch_matches_reference_180(rotation):
    n_col, overlap = 100, 41
    center = (overlap - 1) / 2 if rotation == "left" else n_col - (overlap + 1) / 2
    tomo, theta = _scan_360(center, n_col)
    out = prep.sino_360_to_180(tomo, overlap=overlap, rotation=rotation)
    width = 2 * n_col - overlap
    assert out.shape == (180, 2, width) and out.dtype == np.float32
    reference = _disc_sinogram(theta[:180], np.arange(width) - (width - 1) / 2)
    assert_allclose(out[:, 0], reference, atol=1e-3 * reference.max())


@pytest.mark.parametrize("rotation", ["left", "right"])
def test_blend_weights_sum_to_one(rotation):
    n_col, overlap = 30, 10
    ones = np.ones((8, 1, n_col))
    assert_allclose(prep.sino_360_to_180(ones, overlap=overlap, rotation=rotation), 1.0)
    first_only = ones.copy()
    first_only[4:] = 0.0  # second half zero: the output is the first half's weight
    out = prep.sino_360_to_180(first_only, overlap=overlap, rotation=rotation)[0, 0]
    lo = n_col - overlap
    weights = out[lo : lo + overlap]
    assert_allclose(weights, prep.blend_weights(overlap, rotation))
    assert np.all(np.diff(weights) > 0) if rotation == "left" else np.all(np.diff(weights) < 0)
    assert_allclose(weights + weights[::-1], 1.0)  # complementary: a linear cross-fade


def test_odd_angle_count_drops_last_and_lazy_matches():
    tomo, _ = _scan_360(20.0, n_half=60)
    tomo = np.concatenate([tomo, tomo[:1]])  # 121 angles: the 360-degree repeat is dropped
    eager = prep.sino_360_to_180(tomo, overlap=41)
    lazy = prep.sino_360_to_180(da.from_array(tomo, chunks=(50, 1, 33)), overlap=41)
    assert isinstance(lazy, da.Array) and eager.shape == (60, 2, 159)
    assert_allclose(lazy.compute(), eager)


@pytest.mark.parametrize("center", [10.0, 20.3, 35.5, 60.25, 80.7])
def test_find_overlap_and_center(center):
    n_col = 100
    tomo, _ = _scan_360(center, n_col)
    found = prep.find_center_360(tomo)
    assert abs(found - center) < 0.25
    overlap, rotation = prep.find_overlap(da.from_array(tomo, chunks=(90, 1, 100)))
    expected_overlap = 2 * center + 1 if center < n_col / 2 else 2 * (n_col - 1 - center) + 1
    assert rotation == ("left" if center < n_col / 2 else "right")
    assert abs(overlap - expected_overlap) < 0.5


def test_find_then_stitch_roundtrip():
    tomo, theta = _scan_360(24.0, n_col=90, rows=1)
    overlap, rotation = prep.find_overlap(tomo)
    assert round(overlap) == 49 and rotation == "left"
    out = prep.sino_360_to_180(tomo, overlap=overlap, rotation=rotation)
    width = out.shape[2]
    reference = _disc_sinogram(theta[:180], np.arange(width) - (width - 1) / 2)
    assert_allclose(out[:, 0], reference, atol=1e-3 * reference.max())


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: prep.sino_360_to_180(np.ones((4, 1, 6)), overlap=7), ValueError, "overlap"),
        (lambda: prep.sino_360_to_180(np.ones((4, 1, 6)), overlap="2"), TypeError, "overlap"),
        (
            lambda: prep.sino_360_to_180(np.ones((4, 1, 6)), overlap=2, rotation="up"),
            ValueError,
            "rotation",
        ),
        (lambda: prep.sino_360_to_180(np.ones((1, 1, 6)), overlap=2), ValueError, "angles"),
        (lambda: prep.find_overlap(np.ones((8, 2, 20)), row=5), ValueError, "row"),
        (lambda: prep.find_overlap(np.ones((8, 2, 20)), min_overlap=30), ValueError, "min_overlap"),
        (lambda: prep.find_center_360(np.ones((8, 20))), ValueError, "tomo"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
