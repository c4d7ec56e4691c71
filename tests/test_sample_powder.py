"""Synthetic powder patterns: shapes, seeding and agreement with their own ground truth."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from detcal.sample_data.powder import make_powder, make_powder_series


def azimuthal_mean(image, center, mask, bin_width):
    """Mean intensity in rings of `bin_width` around `center`, unmasked pixels only."""
    rows, cols = np.indices(image.shape, dtype=np.float64)
    radius = np.hypot(rows - center[0], cols - center[1])
    keep = ~mask
    index = (radius[keep] / bin_width).astype(np.intp)
    total = np.bincount(index, weights=image[keep])
    count = np.bincount(index)
    radius_sum = np.bincount(index, weights=radius[keep])
    valid = count > 0
    return radius_sum[valid] / count[valid], total[valid] / count[valid]


def test_shapes_dtypes_and_truth_types():
    sample = make_powder()
    assert sample.image.shape == (512, 512) and sample.image.dtype == np.float32
    assert sample.mask.shape == (512, 512) and sample.mask.dtype == bool
    assert sample.center == pytest.approx((270.3, 241.7))
    assert sample.ring_radii.ndim == 1 and sample.ring_radii.size >= 5
    assert np.all(np.diff(sample.ring_radii) > 0)
    assert np.all(sample.image >= 0)
    # Poisson noise: whole counts.
    np.testing.assert_array_equal(sample.image, np.round(sample.image))


def test_seeding_is_reproducible():
    a = make_powder(shape=(96, 112), seed=3)
    b = make_powder(shape=(96, 112), seed=3)
    c = make_powder(shape=(96, 112), seed=4)
    np.testing.assert_array_equal(a.image, b.image)
    assert not np.array_equal(a.image, c.image)
    np.testing.assert_array_equal(a.mask, c.mask)


def test_noise_free_image_is_the_profile_at_each_pixel_distance():
    sample = make_powder(shape=(128, 160), center=(60.25, 90.6), noise=False, beam_block=False)
    rows, cols = np.indices(sample.image.shape)
    radius = np.hypot(rows - 60.25, cols - 90.6)
    np.testing.assert_allclose(sample.image, sample.radial_profile(radius), rtol=1e-6)
    assert not sample.mask.any()


def test_azimuthal_maxima_sit_at_the_ring_radii():
    sample = make_powder(noise=False)
    radius, mean = azimuthal_mean(sample.image, sample.center, sample.mask, bin_width=0.25)
    # The binned average is the radial profile evaluated at the bin's mean radius.
    np.testing.assert_allclose(mean, sample.radial_profile(radius), rtol=0.02, atol=0.5)
    for ring in sample.ring_radii:
        near = np.flatnonzero(np.abs(radius - ring) < 3.0)
        peak = near[np.argmax(mean[near])]
        # Parabola through the peak bin and its neighbours.
        y0, y1, y2 = mean[peak - 1 : peak + 2]
        step = radius[peak + 1] - radius[peak]
        found = radius[peak] + 0.5 * step * (y0 - y2) / (y0 - 2 * y1 + y2)
        assert found == pytest.approx(ring, abs=0.5)


def test_azimuthal_average_around_a_wrong_centre_blurs_the_rings():
    sample = make_powder(noise=False)
    wrong = (sample.center[0] + 3.0, sample.center[1] - 2.0)
    _, right_mean = azimuthal_mean(sample.image, sample.center, sample.mask, 1.0)
    _, wrong_mean = azimuthal_mean(sample.image, wrong, sample.mask, 1.0)
    assert wrong_mean.max() < 0.8 * right_mean.max()


def test_mask_covers_the_beam_block():
    clean = make_powder(noise=False, beam_block=False)
    sample = make_powder(noise=False)
    blocked = sample.mask
    assert 0.01 < blocked.mean() < 0.1
    # The disc around the centre is masked.
    r, c = np.rint(sample.center).astype(int)
    assert blocked[r - 10 : r + 11, c - 10 : c + 11].all()
    # Behind the block the image is about 0; elsewhere it is untouched.
    assert np.all(sample.image[blocked] <= 0.01 * clean.image[blocked])
    np.testing.assert_array_equal(sample.image[~blocked], clean.image[~blocked])
    # The arm reaches the image edge.
    edges = np.concatenate([blocked[0], blocked[-1], blocked[:, 0], blocked[:, -1]])
    assert edges.any()
    # With noise the blocked pixels stay near zero.
    noisy = make_powder()
    assert noisy.image[blocked].mean() < 5.0 < noisy.image[~blocked].mean()


def test_series_shapes_and_shift_convention():
    series = make_powder_series()
    assert series.images.shape == (8, 256, 256) and series.images.dtype == np.float32
    assert series.mask.shape == (256, 256) and series.mask.dtype == bool
    assert series.centers.shape == (8, 2) and series.shifts.shape == (8, 2)
    np.testing.assert_array_equal(series.shifts[0], [0.0, 0.0])
    np.testing.assert_allclose(series.centers - series.centers[0], series.shifts)
    assert np.abs(series.shifts).max() == pytest.approx(6.0)
    # Sub-pixel shifts.
    assert np.any(np.abs(series.shifts - np.round(series.shifts)) > 0.05)


def test_series_patterns_are_the_analytic_pattern_at_the_true_centres():
    series = make_powder_series(n=4, shape=(96, 96), max_shift=4.0, noise=False, seed=2)
    rows, cols = np.indices(series.mask.shape)
    for i, (cr, cc) in enumerate(series.centers):
        expected = series.radial_profile(np.hypot(rows - cr, cols - cc))
        keep = ~series.mask
        np.testing.assert_allclose(series.images[i][keep], expected[keep], rtol=1e-6)
    # The block is fixed on the detector: it did not move with the pattern.
    single = make_powder(shape=(96, 96), center=tuple(series.centers[0]), noise=False)
    np.testing.assert_array_equal(series.mask, single.mask)


def test_series_pattern_is_pattern_zero_moved_by_its_shift():
    series = make_powder_series(
        n=5, shape=(128, 128), max_shift=5.0, noise=False, beam_block=False, seed=1
    )
    interior = (slice(16, -16), slice(16, -16))
    scale = series.images[0].max()
    for i in range(1, 5):
        moved = ndimage.shift(series.images[0], series.shifts[i], order=3, mode="nearest")
        backwards = ndimage.shift(series.images[0], -series.shifts[i], order=3, mode="nearest")
        error = np.abs(moved - series.images[i])[interior].max() / scale
        wrong = np.abs(backwards - series.images[i])[interior].max() / scale
        assert error < 0.005
        assert wrong > 10 * error


def test_series_is_seeded_and_block_stays_put_with_noise():
    a = make_powder_series(n=3, shape=(64, 64), max_shift=2.0, seed=5)
    b = make_powder_series(n=3, shape=(64, 64), max_shift=2.0, seed=5)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.shifts, b.shifts)
    for image in a.images:
        assert image[a.mask].mean() < 0.05 * image[~a.mask].mean()


def test_single_pattern_series():
    series = make_powder_series(n=1, shape=(64, 64))
    assert series.images.shape == (1, 64, 64)
    np.testing.assert_array_equal(series.shifts, [[0.0, 0.0]])


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"center": (600.0, 10.0)}, "center"),
        ({"center": (-1.0, 10.0)}, "center"),
        ({"shape": (512,)}, "shape"),
        ({"ring_radii": [10.0, -3.0]}, "ring_radii"),
        ({"ring_width": 0.0}, "ring_width"),
        ({"background": -1.0}, "background"),
    ],
)
def test_make_powder_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_powder(**kwargs)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"n": 0}, "n must"),
        ({"max_shift": -1.0}, "max_shift"),
        ({"center": (3.0, 128.0)}, "center"),
        ({"center": (300.0, 128.0)}, "center"),
    ],
)
def test_make_powder_series_rejects_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        make_powder_series(**kwargs)
