"""The pyFAI NeXus detector file: round trip, and pyFAI's Distortion agrees with our correct."""

import h5py
import numpy as np
import pytest

from detcal.distortion import DistortionMap, calibrate_distortion
from detcal.sample_data.hole_grid import make_hole_grid

pyFAI = pytest.importorskip("pyFAI")
pytestmark = pytest.mark.peer

TOLERANCE = 5e-5  # median relative difference inside the valid region


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    sample = make_hole_grid(shape=(144, 144), distortion=4.0, seed=8)
    dmap = calibrate_distortion(sample.image, pitch=0.3)
    path = dmap.save(tmp_path_factory.mktemp("pyfai") / "map.h5")
    return sample, dmap, path


def _pyfai_correct(path, image):
    from pyFAI.distortion import Distortion

    detector = pyFAI.detector_factory(str(path))
    return Distortion(detector, method="csr").correct(image)


def _disagreement(dmap, path, image):
    ours = dmap.correct(image, preserve="counts")
    theirs = _pyfai_correct(path, image)
    valid = ~dmap.mask
    return float(np.median(np.abs(ours[valid] - theirs[valid]) / np.abs(theirs[valid])))


def test_file_layout_and_round_trip(calibrated):
    _, dmap, path = calibrated
    detector = pyFAI.detector_factory(str(path))
    assert type(detector).__name__ == "NexusDetector"
    assert detector.shape == dmap.shape
    assert np.allclose([detector.pixel1, detector.pixel2], dmap.pixel_size)
    with h5py.File(path) as h5:
        group = h5["entry_0000/pyFAI/detcal_distortion"]
        assert group.attrs["NX_class"] == "NXdetector"
        assert group["pixel_corners"].shape == (*dmap.shape, 4, 3)
        assert group["pixel_corners"].dtype == np.float32
    assert detector.mask.sum() > 0  # the raw pixels outside the spots' hull
    loaded = DistortionMap.load(path)
    valid = ~dmap.mask
    assert np.abs(loaded.displacement - dmap.displacement)[:, valid].max() < 2e-3
    assert (loaded.mask != dmap.mask).mean() < 0.01
    assert np.array_equal(loaded.spots, dmap.spots) and loaded.lattice is not None
    # pyFAI's own corners agree with the map's corner displacement convention
    corners = detector.get_pixel_corners()[..., 1:] / np.array(dmap.pixel_size)
    dy, dx = dmap.corner_displacement()
    assert (
        np.abs(corners[:, :, 0, 0] - (np.arange(dmap.shape[0])[:, None] + dy[:-1, :-1])).max()
        < 1e-3
    )
    assert np.abs(corners[:, :, 0, 1] - (np.arange(dmap.shape[1]) + dx[:-1, :-1])).max() < 1e-3


def test_pyfai_distortion_agrees(calibrated):
    sample, dmap, path = calibrated
    image = sample.image + 50.0
    assert _disagreement(dmap, path, image) <= TOLERANCE


@pytest.mark.parametrize("wrong", ["sign", "swapped", "transposed"])
def test_a_wrong_map_fails_the_agreement(calibrated, tmp_path, wrong):
    sample, dmap, _ = calibrated
    field = dmap.displacement
    bad = {"sign": -field, "swapped": field[::-1], "transposed": field.transpose(0, 2, 1)}[wrong]
    bad_map = DistortionMap(np.ascontiguousarray(bad), dmap.mask, dmap.pixel_size)
    bad_path = bad_map.save(tmp_path / "bad.h5")
    assert _disagreement(dmap, bad_path, sample.image + 50.0) > 100 * TOLERANCE


def test_save_is_atomic_and_needs_pixel_size(calibrated, tmp_path):
    sample, dmap, _ = calibrated
    no_size = DistortionMap(dmap.displacement, dmap.mask, None)
    with pytest.raises(ValueError, match="pitch"):
        no_size.save(tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []
