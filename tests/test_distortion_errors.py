"""Bad input to detcal.distortion: clear errors naming the argument, before any work."""

import numpy as np
import pytest

from detcal.distortion import DistortionMap, calibrate_distortion, find_grid_peaks, index_grid
from detcal.sample_data.hole_grid import make_hole_grid


@pytest.fixture(scope="module")
def grid_image():
    return make_hole_grid(shape=(128, 128), seed=0).image


@pytest.fixture(scope="module")
def dmap(grid_image):
    return calibrate_distortion(grid_image)


def _random_cloud(n, seed=0):
    return np.random.default_rng(seed).uniform(0, 500, (n, 2))


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda img: find_grid_peaks(np.zeros((64, 64))), ValueError, "image: no spots found"),
        (lambda img: calibrate_distortion(np.full((64, 64), 5.0)), ValueError, "no spots found"),
        (lambda img: find_grid_peaks(img[0]), ValueError, "image: expected"),
        (lambda img: find_grid_peaks(img.astype(complex)), TypeError, "image"),
        (lambda img: find_grid_peaks(img, spot_diameter=-2), ValueError, "spot_diameter"),
        (lambda img: find_grid_peaks(img, polarity="up"), ValueError, "polarity"),
        (lambda img: calibrate_distortion(img, pitch=0), ValueError, "pitch"),
        (lambda img: calibrate_distortion(img, pitch=-1.5), ValueError, "pitch"),
        (lambda img: calibrate_distortion(img, peaks=np.zeros((5, 3))), ValueError, "peaks"),
        (lambda img: index_grid(_random_cloud(5)), ValueError, "found 5 spots"),
        (lambda img: index_grid(_random_cloud(300)), ValueError, "300 spots found do not form"),
        (lambda img: calibrate_distortion(img[:40, :40]), ValueError, "spots"),
    ],
    ids=["zeros", "flat", "1d", "complex", "diameter", "polarity", "pitch0", "pitch<0",
         "peaks-shape", "too-few", "not-a-grid", "few-in-crop"],
)  # fmt: skip
def test_bad_input(grid_image, call, error, match):
    with pytest.raises(error, match=match):
        call(grid_image)


def test_map_on_another_shape(dmap):
    with pytest.raises(ValueError, match=r"image: expected \(row, col\) = \(128, 128\)"):
        dmap.correct(np.zeros((100, 128)))
    with pytest.raises(ValueError, match="preserve"):
        dmap.correct(np.zeros((128, 128)), preserve="energy")
    with pytest.raises(ValueError, match="points"):
        dmap.raw_to_corrected(np.zeros((3, 3)))


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="path"):
        DistortionMap.load(tmp_path / "missing.h5")
    import h5py

    with h5py.File(tmp_path / "empty.h5", "w") as h5:
        h5["x"] = 1
    with pytest.raises(ValueError, match="no pyFAI NXdetector"):
        DistortionMap.load(tmp_path / "empty.h5")
