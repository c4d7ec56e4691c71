"""detcal.filters.gaussian against scipy.ndimage.gaussian_filter(mode="nearest", truncate=4)."""

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage

from detcal.filters.gaussian import DecimatedGaussian, decimation_factor, gaussian_smooth


def _scipy(x, sigma, truncate=4.0):
    per_axis = (0,) * (x.ndim - 2) + (sigma, sigma)
    return ndimage.gaussian_filter(
        x.astype(np.float64), per_axis, mode="nearest", truncate=truncate
    )


def _smooth_field(shape, seed=0):
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[: shape[-2], : shape[-1]]
    phase = rng.uniform(0, 2 * np.pi, 2)
    field = 1000 * (1.5 + np.sin(rows / 90 + phase[0]) * np.cos(cols / 130 + phase[1]))
    return np.broadcast_to(field, shape).copy()


@pytest.mark.parametrize(
    ("shape", "sigma"),
    [
        ((256, 256), 50.0),
        ((300, 211), 50.0),
        ((3, 120, 97), 30.0),
        ((40, 60), 50.0),
        ((7, 5), 50.0),
    ],
)
def test_matches_scipy_on_smooth_data(shape, sigma):
    x = _smooth_field(shape) * (1 + 0.05 * np.random.default_rng(1).standard_normal(shape))
    ref = _scipy(x, sigma)
    out = gaussian_smooth(x, sigma)
    assert out.shape == x.shape
    rel = np.abs(out - ref).max() / np.abs(ref).max()
    assert rel < 1e-3
    assert rel < 1e-5  # in practice far better than the 1e-3 requirement


def test_matches_scipy_on_noise():
    x = np.random.default_rng(2).standard_normal((2, 128, 160))
    ref = _scipy(x, 40.0)
    assert np.abs(gaussian_smooth(x, 40.0) - ref).max() < 1e-4 * x.std()


@pytest.mark.parametrize("truncate", [2.0, 3.0, 6.0])
def test_truncate_is_scipys(truncate):
    x = np.random.default_rng(3).random((90, 70)) + 1
    ref = _scipy(x, 25.0, truncate)
    assert np.allclose(gaussian_smooth(x, 25.0, truncate=truncate), ref, rtol=1e-5, atol=0)


@pytest.mark.parametrize("sigma", [0.5, 2.0, 5.0])
def test_small_sigma_falls_back_to_scipy_exactly(sigma):
    x = np.random.default_rng(4).random((2, 64, 48))
    assert np.allclose(gaussian_smooth(x, sigma), _scipy(x, sigma), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.uint16, np.float32),
        (np.float32, np.float32),
        (np.float64, np.float64),
        (np.int32, np.float32),
    ],
)
def test_dtypes(dtype, expected):
    x = (_smooth_field((50, 40)) / 10).astype(dtype)
    out = gaussian_smooth(x, 20.0)
    assert out.dtype == expected
    assert np.allclose(out, _scipy(x, 20.0), rtol=1e-5)


def test_input_not_modified():
    x = np.random.default_rng(5).random((3, 40, 40)).astype(np.float32)
    before = x.copy()
    gaussian_smooth(x, 15.0)
    assert np.array_equal(x, before)


def test_dask_is_lazy_and_matches_numpy_on_awkward_chunks():
    x = _smooth_field((7, 100, 110)) * (1 + 0.05 * np.random.default_rng(6).random((7, 100, 110)))
    lazy = gaussian_smooth(da.from_array(x, chunks=(3, 50, 55)), 30.0)
    assert isinstance(lazy, da.Array)
    assert lazy.chunks[1:] == ((100,), (110,))
    assert np.allclose(lazy.compute(), gaussian_smooth(x, 30.0), rtol=1e-12)
    assert np.allclose(lazy.compute(), _scipy(x, 30.0), rtol=1e-5)


def test_bad_input():
    with pytest.raises(ValueError, match="image"):
        gaussian_smooth(np.ones(5), 2.0)
    with pytest.raises(ValueError, match="sigma"):
        gaussian_smooth(np.ones((5, 5)), 0.0)
    with pytest.raises(ValueError, match="truncate"):
        gaussian_smooth(np.ones((5, 5)), 1.0, truncate=-1)
    with pytest.raises(TypeError, match="complex"):
        gaussian_smooth(np.ones((5, 5), dtype=complex), 1.0)


# ---------------------------------------------------------------- decimated smoothing


def _decimated(x, sigma, offset=None):
    smoother = DecimatedGaussian(x.shape[-2:], sigma)
    coef = None if offset is None else smoother.coarse(offset[None])
    grid = smoother.grid(x, coef)
    return smoother.rows(grid, 0, x.shape[-2]).transpose(1, 0, 2)


@pytest.mark.parametrize(("shape", "sigma"), [((2, 300, 260), 50.0), ((1, 203, 257), 30.0)])
def test_decimated_matches_scipy_on_noisy_counts(shape, sigma):
    # a detector's counts: a smooth beam times a 5% pixel-to-pixel response, odd sizes
    x = _smooth_field(shape) * (1 + 0.05 * np.random.default_rng(7).standard_normal(shape))
    rel = np.abs(_decimated(x, sigma) / _scipy(x, sigma) - 1)
    assert np.median(rel) < 3e-5
    assert rel.max() < 3e-4


def test_decimated_matches_scipy_on_smooth_data():
    x = _smooth_field((1, 256, 320))
    rel = np.abs(_decimated(x, 50.0) / _scipy(x, 50.0) - 1)
    assert rel.max() < 5e-5


def test_decimated_edges_are_exact():
    # nearest-value edges give the edge pixels about half of the weight next to them: a
    # bright first row and a dark last column must come out as SciPy has them
    x = _smooth_field((1, 256, 240))
    x[:, 0, :] *= 3
    x[:, :, -1] *= 0.2
    x[:, 100, 100] = 5e4  # and a hot pixel inside
    ref = _scipy(x, 50.0)
    assert np.abs(_decimated(x, 50.0) / ref - 1).max() < 5e-5


def test_decimated_offset_is_subtracted():
    rng = np.random.default_rng(8)
    x = rng.uniform(1000, 2000, (3, 200, 208)).astype(np.uint16)
    dark = rng.uniform(90, 110, (200, 208)).astype(np.float32)
    expected = _decimated(x.astype(np.float32) - dark, 30.0)
    assert np.allclose(_decimated(x, 30.0, offset=dark), expected, rtol=1e-5, atol=1e-2)


def test_decimated_rows_are_any_band():
    x = _smooth_field((2, 240, 200)) * (1 + 0.02 * np.random.default_rng(9).random((2, 240, 200)))
    smoother = DecimatedGaussian((240, 200), 40.0)
    grid = smoother.grid(x)
    whole = smoother.rows(grid, 0, 240)
    for start, stop in [(0, 1), (7, 13), (100, 240), (239, 240)]:
        assert np.array_equal(smoother.rows(grid, start, stop), whole[start:stop])
        lo, hi = smoother.span(start, stop)
        # each value is a weighted mean of the grid's rows lo:hi (bounds the band)
        assert whole[start:stop].min() >= grid[lo:hi].min() - 1e-3


@pytest.mark.parametrize(
    ("shape", "sigma", "truncate"),
    [((1024, 1024), 20.0, 4.0), ((60, 1024), 50.0, 4.0), ((1024, 1024), 50.0, 3.0)],
)
def test_decimation_needs_wide_kernel_large_planes_and_smooth_truncation(shape, sigma, truncate):
    assert decimation_factor(shape, sigma, truncate) == 0
    with pytest.raises(ValueError, match="sigma"):
        DecimatedGaussian(shape, sigma, truncate)
    assert decimation_factor((1024, 1024), 50.0) == 8
