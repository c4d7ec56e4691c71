"""The real dot-grid target (discorpy's dot_pattern_05): straight lines, agreement with discorpy."""

import imageio.v3 as iio
import numpy as np
import pytest

from detcal.distortion import calibrate_distortion


@pytest.fixture(scope="module")
def calibrated(real_data):
    image = iio.imread(real_data / "dot_pattern_05.jpg")
    return image, calibrate_distortion(image)


def straightness(points, indices):
    """R.m.s. distance of the spots of each grid row and column from their best line, px."""
    residuals = []
    for axis in (0, 1):
        for k in np.unique(indices[:, axis]):
            on = indices[:, axis] == k
            if on.sum() < 5:
                continue
            along, across = points[on, 1 - axis], points[on, axis]
            design = np.column_stack([np.ones(on.sum()), along])
            fit = np.linalg.lstsq(design, across, rcond=None)[0]
            residuals.append(across - design @ fit)
    return float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)))


def discorpy_corrected(points, coefficients_file):
    """Undistorted positions of raw points under discorpy's backward radial model.

    discorpy: a point at undistorted radius ru from the centre is recorded at radius
    ``rd = ru * sum(k_n ru**n)``; solve for ru by fixed-point iteration.
    """
    values = {}
    for line in coefficients_file.read_text().splitlines():
        name, value = line.split(":")
        values[name.strip()] = float(value)
    centre = np.array([values["ycenter"], values["xcenter"]])
    factors = [values[f"factor{n}"] for n in range(5)]
    offset = points - centre
    rd = np.hypot(*offset.T)
    ru = rd.copy()
    for _ in range(100):
        ru = rd / np.polyval(factors[::-1], ru)
    return centre + offset / np.polyval(factors[::-1], ru)[:, None]


def test_grid_is_found(calibrated):
    image, dmap = calibrated
    assert len(dmap.spots) > 4000  # a 52 x 85 target, a few dots cut by the border
    assert dmap.rounding_error < 0.2
    assert np.ptp(dmap.grid_index[:, 0]) >= 50 and np.ptp(dmap.grid_index[:, 1]) >= 80


def test_rows_and_columns_become_straight(calibrated):
    _, dmap = calibrated
    before = straightness(dmap.spots, dmap.grid_index)
    after = straightness(dmap.raw_to_corrected(dmap.spots), dmap.grid_index)
    assert before > 0.3  # visible lens distortion (measured 0.42 px)
    assert after < 0.02  # measured 0.004 px


def test_agrees_with_discorpy_reference(calibrated, real_data):
    _, dmap = calibrated
    ours = dmap.raw_to_corrected(dmap.spots)
    theirs = discorpy_corrected(dmap.spots, real_data / "coef_dot_05.txt")
    # the two ideal frames differ by an affine map (discorpy keeps its own scale and centre)
    design = np.column_stack([np.ones(len(theirs)), theirs])
    difference = ours - design @ np.linalg.lstsq(design, ours, rcond=None)[0]
    distance = np.hypot(*difference.T)
    correction = np.hypot(*(dmap.spots - ours).T)
    assert correction.max() > 4  # the correction is several pixels at the corners
    assert np.sqrt(np.mean(distance**2)) < 0.2  # measured 0.13 px r.m.s.
    assert distance.max() < 1.5  # measured 0.99 px, at the corners
