"""The synthetic beam sweep: shapes, determinism and that its truth is self-consistent."""

import numpy as np
import pytest

from detcal.sample_data.sweep import SweepSample, make_sweep


@pytest.fixture(scope="module")
def sample() -> SweepSample:
    return make_sweep(shape=(12, 96, 80), seed=3)


def test_shapes_and_dtypes(sample):
    assert sample.volume.shape == (12, 96, 80)
    assert sample.volume.dtype == np.uint16
    assert sample.test_image.dtype == np.uint16
    for plane in (sample.dark, sample.flat, sample.response, sample.gains, sample.true_intensity):
        assert plane.shape == (96, 80)
        assert plane.dtype == np.float32


def test_seeded():
    a, b, c = (
        make_sweep(shape=(3, 16, 16), seed=1),
        make_sweep(shape=(3, 16, 16), seed=1),
        make_sweep(shape=(3, 16, 16), seed=2),
    )
    assert np.array_equal(a.volume, b.volume)
    assert not np.array_equal(a.volume, c.volume)


def test_gain_spread_and_truth_relation(sample):
    assert sample.response.std() / sample.response.mean() == pytest.approx(0.05, rel=0.1)
    assert np.allclose(sample.gains * sample.response, sample.response.mean(), rtol=1e-6)


def test_each_pixel_sees_a_range_of_intensities(sample):
    signal = sample.volume - sample.dark
    ratio = signal.max(axis=0) / np.maximum(signal.min(axis=0), 1)
    assert ratio.min() > 20
    # most of the sweep is above detectorcal's 300-count cutoff, the dimmest planes below it
    above = (signal > 300).mean()
    assert 0.6 < above < 1.0


def test_test_image_matches_true_intensity(sample):
    # an ideal detector with the mean response reads true_intensity: undo each pixel's response
    ideal = (sample.test_image - sample.dark) / sample.response * sample.response.mean()
    assert np.sqrt(np.mean((ideal / sample.true_intensity - 1) ** 2)) < 2e-3
    # the raw test image carries the ~5% pixel-to-pixel response variation
    raw = (sample.test_image - sample.dark) / sample.true_intensity
    assert raw.std() / raw.mean() == pytest.approx(0.05, rel=0.15)


def test_flat_is_the_beam_through_the_detector(sample):
    flat_signal = (sample.flat - sample.dark) / sample.response
    transmission = sample.true_intensity / sample.response.mean() / flat_signal
    assert np.median(transmission) == pytest.approx(sample.true_transmission.mean(), rel=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"shape": (1, 16, 16)}, "shape"),
        ({"shape": (16, 16)}, "shape"),
        ({"peak_counts": 70000.0}, "peak_counts"),
        ({"frames": 0}, "frames"),
        ({"gain_spread": 0.5}, "gain_spread"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        make_sweep(**kwargs)
