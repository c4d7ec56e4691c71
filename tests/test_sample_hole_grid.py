"""Synthetic hole grid: shapes, seeding and agreement with its own ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from detcal.sample_data.hole_grid import make_hole_grid


def centroids(image, points, radius):
    """Intensity-weighted centroid of `image` in a disc of `radius` around each point."""
    rows, cols = np.indices(image.shape, dtype=np.float64)
    found = []
    for r, c in points:
        inside = (rows - r) ** 2 + (cols - c) ** 2 <= radius**2
        weights = image[inside]
        found.append([np.sum(weights * rows[inside]), np.sum(weights * cols[inside])])
        found[-1] = np.array(found[-1]) / weights.sum()
    return np.array(found)


def test_shapes_and_dtypes():
    grid = make_hole_grid()
    assert grid.image.shape == (512, 512) and grid.image.dtype == np.float32
    assert grid.displacement.shape == (2, 512, 512) and grid.displacement.dtype == np.float32
    assert grid.points.shape == grid.ideal_points.shape == grid.grid_indices.shape
    assert grid.points.shape[1] == 2 and grid.points.shape[0] > 800
    assert grid.pitch == 16.0 and grid.hole_diameter == 6.0
    np.testing.assert_array_equal(grid.image, np.round(grid.image))


def test_seeding_is_reproducible():
    a = make_hole_grid(shape=(128, 144), seed=7)
    b = make_hole_grid(shape=(128, 144), seed=7)
    c = make_hole_grid(shape=(128, 144), seed=8)
    np.testing.assert_array_equal(a.image, b.image)
    np.testing.assert_array_equal(a.points, b.points)
    assert not np.array_equal(a.displacement, c.displacement)


def test_ideal_points_form_the_regular_grid():
    grid = make_hole_grid(noise=False)
    origin = grid.ideal_points - grid.grid_indices * grid.pitch
    np.testing.assert_allclose(origin - origin[0], 0.0, atol=1e-9)
    assert np.all(grid.grid_indices.min(axis=0) == 0)


def test_largest_displacement_is_the_requested_distortion():
    for distortion in (2.0, 4.0):
        grid = make_hole_grid(shape=(256, 256), distortion=distortion, noise=False)
        magnitude = np.hypot(grid.displacement[0], grid.displacement[1])
        assert magnitude.max() == pytest.approx(distortion, rel=1e-5)
        # Smooth: neighbouring pixels differ by a tiny amount.
        assert np.abs(np.diff(grid.displacement, axis=1)).max() < 0.05
        assert np.abs(np.diff(grid.displacement, axis=2)).max() < 0.05


def test_field_vanishes_with_its_gradient_at_the_radial_centre():
    grid = make_hole_grid(noise=False)
    r0, c0 = grid.field.radial_center
    at = grid.field(np.array([r0, r0 + 1.0, r0]), np.array([c0, c0, c0 + 1.0]))
    np.testing.assert_allclose(at, 0.0, atol=1e-3)
    # Barrel: far from the centre points move towards it.
    corner = grid.field(np.array(0.0), np.array(0.0))
    assert corner[0] > 0.5 and corner[1] > 0.5


def test_points_are_ideal_points_moved_by_the_displacement_field():
    grid = make_hole_grid(noise=False)
    np.testing.assert_allclose(
        grid.points, grid.ideal_points + grid.field(*grid.ideal_points.T).T, atol=1e-12
    )
    # The per-pixel map agrees with the points (bilinear interpolation of a smooth field).
    inside = np.all((grid.ideal_points >= 0) & (grid.ideal_points <= 511), axis=1)
    sampled = np.stack(
        [
            ndimage.map_coordinates(d, grid.ideal_points[inside].T, order=1)
            for d in grid.displacement
        ]
    )
    np.testing.assert_allclose(
        grid.points[inside] - grid.ideal_points[inside], sampled.T, atol=2e-3
    )
    assert np.abs(grid.points - grid.ideal_points).max() > 1.0


def test_hole_centroids_match_the_points():
    grid = make_hole_grid(noise=False)
    signal = grid.image - grid.image.min()
    found = centroids(signal, grid.points, grid.pitch / 2)
    assert np.abs(found - grid.points).max() < 0.1
    # The same holes are far from the undistorted positions somewhere.
    assert np.abs(found - grid.ideal_points).max() > 1.0


def test_noisy_hole_centroids_stay_close():
    grid = make_hole_grid(shape=(256, 256))
    signal = grid.image - np.median(grid.image)
    found = centroids(signal, grid.points, grid.hole_diameter)
    assert np.abs(found - grid.points).max() < 0.3


def test_holes_are_bright_round_and_dark_between():
    grid = make_hole_grid(noise=False)
    r, c = np.rint(grid.points).astype(int).T
    assert np.all(grid.image[r, c] > 900)
    between = np.rint(grid.points + grid.pitch / 2).astype(int)
    keep = np.all(between < 512, axis=1)
    assert np.all(grid.image[between[keep, 0], between[keep, 1]] < 25)


def test_no_distortion_gives_the_ideal_grid():
    grid = make_hole_grid(shape=(128, 128), distortion=0.0, noise=False)
    np.testing.assert_array_equal(grid.points, grid.ideal_points)
    assert not grid.displacement.any()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"pitch": -16.0}, "pitch"),
        ({"pitch": 0.0}, "pitch"),
        ({"hole_diameter": 20.0}, "hole_diameter"),
        ({"hole_diameter": -1.0}, "hole_diameter"),
        ({"distortion": -1.0}, "distortion"),
        ({"shape": (20, 20)}, "shape"),
        ({"shape": (512, 512, 3)}, "shape"),
    ],
)
def test_bad_arguments_raise(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_hole_grid(**kwargs)
