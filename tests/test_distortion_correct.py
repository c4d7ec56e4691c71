"""DistortionMap.correct: flat stays flat, counts are conserved, dask is lazy and equal to numpy."""

import dask.array as da
import numpy as np
import pytest

from detcal.distortion import DistortionMap, calibrate_distortion
from detcal.sample_data.hole_grid import make_hole_grid


@pytest.fixture(scope="module")
def dmap():
    sample = make_hole_grid(shape=(160, 192), distortion=4.0, seed=6)
    return calibrate_distortion(sample.image, pitch=0.4)


def test_intensity_keeps_flat_flat(dmap):
    out = dmap.correct(np.full(dmap.shape, 7.0, np.float32))
    assert out.dtype == np.float32 and out.shape == dmap.shape
    assert np.allclose(out[~dmap.mask], 7.0, rtol=1e-5)


def test_counts_are_conserved(dmap):
    image = np.zeros(dmap.shape)
    image[30:130, 40:150] = np.random.default_rng(0).uniform(0, 100, (100, 110))
    out = dmap.correct(image, preserve="counts")
    assert out.dtype == np.float64
    assert np.isclose(out.sum(), image.sum(), rtol=1e-6)
    # a flat image becomes each corrected pixel's area factor, close to 1, not exactly 1
    area = dmap.correct(np.ones(dmap.shape), preserve="counts")[~dmap.mask]
    assert 0.8 < area.min() < 1 - 1e-3 and 1 + 1e-3 < area.max() < 1.2


def test_correct_moves_spots_to_the_ideal_lattice():
    sample = make_hole_grid(shape=(192, 192), distortion=5.0, seed=7, noise=False)
    dmap = calibrate_distortion(sample.image)
    corrected = calibrate_distortion(dmap.correct(sample.image))
    # the corrected image's spots sit on a regular lattice: almost no distortion is left
    assert np.abs(corrected.residuals).max() < 0.1 < np.abs(dmap.residuals).max()


def test_dask_is_lazy_and_equals_numpy(dmap):
    computed = []

    def plane(block_info=None):
        index = block_info[None]["chunk-location"][0]
        computed.append(index)
        return np.full((1, *dmap.shape), index + 1.0, np.float32) + np.arange(dmap.shape[1])

    stack = da.map_blocks(plane, chunks=((1, 1, 1), (dmap.shape[0],), (dmap.shape[1],)),
                          dtype=np.float32)  # fmt: skip
    out = dmap.correct(stack, preserve="counts")
    assert isinstance(out, da.Array) and computed == []
    second = out[1].compute()
    assert computed == [1]  # only the plane asked for
    expected = dmap.correct(np.asarray(stack[1]), preserve="counts")
    assert np.array_equal(second, expected)


def test_points_both_ways_match_correct():
    shift = np.zeros((2, 20, 30), np.float32)
    shift[0] = 2.0  # every point recorded two rows lower
    dmap = DistortionMap(shift, np.zeros((20, 30), bool), None)
    assert np.allclose(dmap.corrected_to_raw([[5.0, 6.0]]), [[7.0, 6.0]])
    assert np.allclose(dmap.raw_to_corrected([[7.0, 6.0]]), [[5.0, 6.0]])
    image = np.zeros((20, 30))
    image[7, 6] = 1.0
    assert np.unravel_index(np.argmax(dmap.correct(image)), image.shape) == (5, 6)
