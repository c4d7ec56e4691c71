"""The displacement field of detcal.distortion against known fields (hole_grid and rendered)."""

import numpy as np
import pytest
from test_distortion_helpers import render_grid, rms_error, truth_in_our_gauge

from detcal.distortion import calibrate_distortion
from detcal.sample_data.hole_grid import SmoothDistortion, make_hole_grid


def _pincushion(r, c):
    field = SmoothDistortion((110.0, 150.0), 3.0, 180.0, ((), ()), ((), ()), ((), ()))
    return field(r, c)


def _wobble(r, c):  # local +-2 px wobble, about 2 periods across the image
    return np.stack([2.0 * np.sin(2 * np.pi * (r + 0.6 * c) / 140 + 0.3),
                     2.0 * np.cos(2 * np.pi * (c - 0.3 * r) / 120)])  # fmt: skip


@pytest.mark.parametrize("seed, distortion", [(0, 3.0), (4, 8.0)])
def test_hole_grid_field_error(seed, distortion):
    sample = make_hole_grid(shape=(256, 288), distortion=distortion, seed=seed)
    dmap = calibrate_distortion(sample.image, pitch=0.5)
    truth = truth_in_our_gauge(dmap, sample.points, sample.ideal_points, sample.field)
    assert rms_error(dmap, truth) <= 0.05
    assert np.hypot(*truth)[~dmap.mask].max() > distortion / 4  # a field worth measuring
    assert dmap.rounding_error < 0.05


@pytest.mark.parametrize("field", [_pincushion, _wobble], ids=["pincushion", "wobble"])
def test_rendered_field_error(field):
    image, points, ideal, _ = render_grid(field, shape=(256, 256), seed=2)
    dmap = calibrate_distortion(image)
    truth = truth_in_our_gauge(dmap, points, ideal, field)
    assert rms_error(dmap, truth) <= 0.05
    # the field is really there: ignoring it would be far off
    assert np.sqrt(np.mean(np.hypot(*truth)[~dmap.mask] ** 2)) > 0.2


def test_field_sign_and_points_round_trip():
    sample = make_hole_grid(shape=(256, 256), distortion=5.0, seed=1)
    dmap = calibrate_distortion(sample.image)
    # the ideal spots map onto the measured ones, and back
    assert np.abs(dmap.corrected_to_raw(dmap.ideal_spots) - dmap.spots).max() < 0.1
    back = dmap.raw_to_corrected(dmap.corrected_to_raw(dmap.ideal_spots))
    assert np.abs(back - dmap.ideal_spots).max() < 1e-3
    assert np.abs(dmap.misfit).max() < 0.1
    # the gauge: the field has no mean offset or linear part over the spots
    design = np.column_stack([np.ones(len(dmap.spots)), dmap.ideal_spots])
    linear = np.linalg.lstsq(design, dmap.residuals, rcond=None)[0]
    assert np.abs(linear[0] + linear[1:].T @ dmap.ideal_spots.mean(axis=0)).max() < 1e-6 + 1e-2
    assert np.abs(linear[1:]).max() < 1e-9 + 1e-6


def test_pixel_size_from_pitch():
    sample = make_hole_grid(shape=(200, 200), distortion=1.0, pitch=20.0, seed=0)
    dmap = calibrate_distortion(sample.image, pitch=2.0)  # 2 mm per 20 px
    assert np.allclose(dmap.pixel_size, 1e-4, rtol=5e-3)  # the mean pitch of a barrel grid
    assert calibrate_distortion(sample.image).pixel_size is None
