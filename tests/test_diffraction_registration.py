"""register / shift_image / align against the exact shifts of make_powder_series."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage
from skimage.registration import phase_cross_correlation

from detcal.diffraction import align, register, shift_image
from detcal.sample_data.powder import make_powder, make_powder_series


@pytest.fixture(scope="module")
def bright_block_series():
    series = make_powder_series(n=5, shape=(160, 160), max_shift=5.0, seed=2)
    images = series.images.copy()
    images[:, series.mask] = 4000.0  # a bright block fixed on the detector
    return series, images


def test_register_recovers_shifts_under_a_bright_block(bright_block_series):
    series, images = bright_block_series
    for k in range(1, len(images)):
        found = register(images[k], images[0], mask=series.mask)
        # moving pattern k by -shifts[k] puts it onto pattern 0
        assert np.abs(np.add(found, series.shifts[k])).max() <= 0.1, k


def test_unmasked_correlation_locks_near_zero(bright_block_series):
    series, images = bright_block_series
    k = int(np.argmax(np.abs(series.shifts).max(axis=1)))
    assert np.abs(series.shifts[k]).max() >= 4.0
    ours = np.array(register(images[k], images[0]))
    skimage = phase_cross_correlation(images[0], images[k], upsample_factor=20)[0]
    for found in (ours, skimage):
        assert np.abs(found).max() < 1.0  # locked on the fixed block, not the moving rings


def test_nan_pixels_are_ignored(bright_block_series):
    series, images = bright_block_series
    image = images[3].copy()
    image[series.mask] = np.nan
    found = register(image, images[0], mask=series.mask)
    assert np.abs(np.add(found, series.shifts[3])).max() <= 0.1


def test_large_shift_sub_pixel():
    reference = make_powder(shape=(128, 128), center=(60.0, 64.0), seed=1)
    moved = make_powder(shape=(128, 128), center=(71.35, 55.8), seed=2)
    found = register(moved.image, reference.image, mask=reference.mask | moved.mask)
    np.testing.assert_allclose(found, (-11.35, 8.2), atol=0.1)


def test_shift_image_moves_the_pattern():
    a = make_powder(shape=(96, 96), center=(48.0, 47.0), noise=False, beam_block=False)
    b = make_powder(shape=(96, 96), center=(50.6, 45.3), noise=False, beam_block=False)
    moved = shift_image(a.image, (2.6, -1.7), fill_value=-5)
    inner = (slice(8, -8), slice(8, -8))
    assert np.abs(moved[inner] - b.image[inner]).max() < 0.02 * b.image.max()
    assert moved.dtype == np.float32
    assert (moved[:2] == -5).all() and (moved[:, -1] == -5).all()
    with_nan = a.image.astype(np.float64)
    with_nan[40, 40] = np.nan
    out = shift_image(with_nan, (1, 0))
    assert out.dtype == np.float64 and np.isnan(out[41, 40]) and np.isfinite(out[60, 60])


@pytest.mark.parametrize("lazy", [False, True])
def test_align_series(lazy):
    series = make_powder_series(n=4, shape=(96, 96), max_shift=3.0, noise=False, seed=5)
    images = da.from_array(series.images, chunks=(3, 48, 96)) if lazy else series.images
    reports = []
    aligned, shifts = align(images, mask=series.mask, progress=lambda d, t: reports.append((d, t)))
    np.testing.assert_allclose(shifts, -series.shifts, atol=0.1)
    assert isinstance(aligned, da.Array) is lazy and aligned.shape == series.images.shape
    assert reports and reports[-1][0] == reports[-1][1]
    aligned = np.asarray(aligned)
    inner = (slice(12, -12), slice(12, -12))
    for k in range(1, 4):
        expected = shift_image(series.images[k], shifts[k])
        np.testing.assert_allclose(aligned[k], expected, rtol=1e-6)
        # the rings now sit where pattern 0's do
        moved_block = shift_image(series.mask.astype(np.float32), shifts[k]) > 0.01
        # the block's sharp edges ring in the spline for 2 px around it
        blocks = ndimage.binary_dilation(series.mask | moved_block, iterations=2)
        valid = ~blocks[inner]
        diff = np.abs(aligned[k][inner] - series.images[0][inner])[valid]
        assert diff.max() < 0.05 * series.images[0].max()
