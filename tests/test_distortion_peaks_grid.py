"""Spot centres and grid indexing of detcal.distortion against known positions and indices."""

import numpy as np
import pytest
from scipy.spatial import cKDTree
from test_distortion_helpers import render_grid

from detcal.distortion import find_grid_peaks, index_grid
from detcal.sample_data.hole_grid import make_hole_grid


@pytest.fixture(scope="module")
def sample():
    return make_hole_grid(shape=(256, 256), seed=3)


def _matched(found, truth):
    distance, which = cKDTree(truth).query(found)
    return distance, which


def test_peaks_are_sub_pixel_accurate(sample):
    peaks = find_grid_peaks(sample.image)
    assert len(peaks) == len(sample.points)  # every hole, nothing else
    distance, _ = _matched(peaks, sample.points)
    assert np.sqrt(np.mean(distance**2)) < 0.03
    assert distance.max() < 0.1


def test_dark_dots_on_bright_are_found_too(sample):
    inverted = sample.image.max() - sample.image
    peaks = find_grid_peaks(inverted)  # polarity "auto"
    distance, _ = _matched(peaks, sample.points)
    assert len(peaks) == len(sample.points) and distance.max() < 0.1
    explicit = find_grid_peaks(inverted, polarity="dark")
    assert np.array_equal(explicit, peaks)


def test_outliers_are_rejected(sample):
    image = sample.image.copy()
    image[100:103, 100:103] = 60000  # a hot cluster between holes
    image[5:60, 180:240] = 0  # a dark object hiding some holes
    peaks = find_grid_peaks(image)
    distance, _ = _matched(peaks, sample.points)
    assert distance.max() < 0.1  # nothing but real holes


def _index_offset(grid, points, true_points, true_indices):
    _, which = cKDTree(true_points).query(points[grid.on_grid])
    return true_indices[which] - grid.indices


@pytest.mark.parametrize("angle", [0.0, np.deg2rad(20.0), np.deg2rad(-35.0)])
def test_indexing_rotated_grid_with_missing_spots(angle):
    def barrel(r, c):
        v = np.stack([r - 120.0, c - 140.0])
        return -6.0 * v * (v**2).sum(axis=0) / 180.0**3

    image, points, _, indices = render_grid(barrel, angle=angle, seed=1, drop=0.1)
    peaks = find_grid_peaks(image)
    grid = index_grid(peaks)
    assert grid.on_grid.all()
    offset = _index_offset(grid, peaks, points, indices)
    assert (offset == offset[0]).all()  # the same index frame as the truth, up to a shift
    assert grid.rounding_error.max() < 0.05
    pitches = grid.lattice.pitches
    assert np.allclose(pitches, 16.0, rtol=0.05)


def test_strong_barrel_is_indexed():
    sample = make_hole_grid(shape=(384, 384), distortion=14.0, seed=5)
    grid = index_grid(sample.points)
    offset = _index_offset(grid, sample.points, sample.points, sample.grid_indices)
    assert grid.on_grid.all() and (offset == offset[0]).all()
    assert grid.rounding_error.max() < 0.05


def test_stray_point_is_left_out():
    sample = make_hole_grid(shape=(256, 256), seed=2, noise=False)
    stray = sample.points[40] + np.array([8.0, 8.0])  # half way between four holes
    grid = index_grid(np.vstack([sample.points, stray]))
    assert not grid.on_grid[-1] and grid.on_grid[:-1].all()
