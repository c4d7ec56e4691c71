"""detcal.response: fit_response and correct_image against ground truth, detectorcal and SciPy."""

import subprocess
import sys
import warnings

import dask.array as da
import numpy as np
import pytest
import tifffile
from scipy import ndimage

from detcal.filters.gaussian import decimation_factor
from detcal.progress import StepCancelled
from detcal.response import FitQuality, correct_image, fit_response
from detcal.sample_data.sweep import make_sweep


def _scipy_smooth(x, sigma=50.0):
    per_axis = (0,) * (x.ndim - 2) + (sigma, sigma)
    return ndimage.gaussian_filter(np.asarray(x, np.float64), per_axis, mode="nearest", truncate=4)


def _pixel_variation(image, border=8):
    """Relative pixel-to-pixel variation: r.m.s. of the image over its local (sigma 4) mean."""
    highpass = image / ndimage.gaussian_filter(image.astype(np.float64), 4, mode="nearest") - 1
    return float(highpass[border:-border, border:-border].std())


@pytest.fixture(scope="module")
def sample():
    return make_sweep()


@pytest.fixture(scope="module")
def fitted(sample):
    return fit_response(sample.volume, dark=sample.dark, return_quality=True)


# ---------------------------------------------------------------- quality on the sample sweep


def test_gains_correlate_with_truth(sample, fitted):
    gains, quality = fitted
    assert gains.dtype == np.float32 and gains.shape == sample.gains.shape
    assert quality.n_undefined == 0
    assert np.corrcoef(gains.ravel(), sample.gains.ravel())[0, 1] >= 0.99


def test_flat_test_image_variation_drops_below_0_1_percent(sample, fitted):
    gains, _ = fitted
    raw = _pixel_variation(sample.test_image - sample.dark)
    corrected = correct_image(sample.test_image, gains, dark=sample.dark)
    assert raw == pytest.approx(0.05, rel=0.1)
    assert _pixel_variation(corrected) <= 1e-3
    # and the counts are those of the ideal detector, but for the smoothing bias (beam curvature)
    inner = np.s_[50:-50, 50:-50]
    assert np.sqrt(np.mean((corrected / sample.true_intensity - 1)[inner] ** 2)) < 1e-2


def test_flat_correction_gives_the_transmission(sample, fitted):
    gains, _ = fitted
    out = correct_image(sample.test_image, gains, dark=sample.dark, flat=sample.flat)
    assert np.sqrt(np.mean((out / sample.true_transmission - 1) ** 2)) < 3e-3
    assert _pixel_variation(out) <= 1e-3


def test_quality_maps(sample, fitted):
    _, quality = fitted
    assert isinstance(quality, FitQuality)
    assert quality.r_squared.shape == sample.gains.shape
    # the straight line explains the sweep: R^2 close to 1, residuals at the noise level
    assert np.median(quality.r_squared) > 0.999
    signal = sample.volume.astype(np.float64) - sample.dark
    noise = np.sqrt(np.median(signal) / 32)  # shot noise of a plane (32 frames averaged)
    assert 0.1 * noise < np.median(quality.residual_rms) < 2 * noise
    assert quality.n_points.dtype == np.int32
    assert quality.n_points.max() <= sample.volume.shape[0]


# ---------------------------------------------------------------- detectorcal semantics


def _reference_fit(volume, dark, sigma, cutoff):
    """detectorcal's definition, pixel by pixel with numpy's least squares and SciPy's filter."""
    m = volume.astype(np.float64) - dark
    s = _scipy_smooth(m, sigma)
    gains = np.full(m.shape[1:], np.nan)
    for r in range(m.shape[1]):
        for c in range(m.shape[2]):
            used = s[:, r, c] > cutoff
            if used.any():
                gains[r, c] = np.linalg.lstsq(m[used, r, c, None], s[used, r, c], rcond=None)[0][0]
    return gains


def test_fit_matches_pixelwise_least_squares():
    rng = np.random.default_rng(7)
    volume = rng.uniform(100, 1500, (6, 24, 30)).astype(np.uint16)
    dark = rng.uniform(80, 120, (24, 30)).astype(np.float32)
    ref = _reference_fit(volume, dark, sigma=8.0, cutoff=700.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        gains, quality = fit_response(
            volume, dark=dark, sigma=8.0, cutoff=700.0, return_quality=True
        )
    assert np.array_equal(np.isnan(gains), np.isnan(ref))
    assert np.allclose(gains, ref, rtol=1e-5, equal_nan=True)
    # the quality maps agree with direct computation
    m = volume.astype(np.float64) - dark
    s = _scipy_smooth(m, 8.0)
    used = s > 700.0
    assert np.array_equal(quality.n_points, used.sum(0))
    r, c = np.argwhere(quality.n_points >= 3)[0]
    k = used[:, r, c]
    resid = s[k, r, c] - ref[r, c] * m[k, r, c]
    assert quality.residual_rms[r, c] == pytest.approx(np.sqrt(np.mean(resid**2)), rel=1e-3)
    total = np.sum((s[k, r, c] - s[k, r, c].mean()) ** 2)
    assert quality.r_squared[r, c] == pytest.approx(
        1 - np.sum(resid**2) / total, rel=1e-3, abs=1e-4
    )


@pytest.mark.peer
def test_fit_matches_detectorcal_on_sample_sweep():
    pytest.importorskip("detectorcal")
    sample = make_sweep(shape=(6, 48, 40), seed=5)
    ours = fit_response(sample.volume, dark=sample.dark)
    # detectorcal's own smoothing and per-pixel fit: its fit_response wraps these (and starts a
    # dask.distributed Client); calling it took about 20 s even on this small input
    from detectorcal.fit import gaussian_smooth, sequential_fit

    m = sample.volume - sample.dark
    smoothed = gaussian_smooth(m, sigma=50, verbose=False)
    theirs = sequential_fit(m, smoothed, cutoff=300)
    assert np.allclose(ours, theirs, rtol=1e-4)


def _exact_smoothing(monkeypatch):
    """Make fit_response smooth with the exact filter instead of the decimated one."""
    monkeypatch.setattr("detcal.response.fit._smoother", lambda shape, sigma: None)


def test_decimated_fit_equals_the_exact_fit(sample, fitted, monkeypatch):
    gains, quality = fitted
    assert decimation_factor(sample.volume.shape[1:], 50.0) > 0  # the fixture's fit used it
    _exact_smoothing(monkeypatch)
    exact, exact_quality = fit_response(sample.volume, dark=sample.dark, return_quality=True)
    rel = np.abs(gains / exact - 1)
    assert np.median(rel) <= 1e-5
    assert rel.max() <= 1e-4
    assert np.array_equal(quality.n_points, exact_quality.n_points)  # same planes masked
    rms = np.abs(quality.residual_rms / exact_quality.residual_rms - 1)
    assert np.median(rms) < 1e-3
    assert np.abs(quality.r_squared - exact_quality.r_squared).max() < 1e-5


@pytest.mark.parametrize("cutoff", [0.0, 50.0])
def test_real_data_fit_decimated_equals_exact(real_data, monkeypatch, cutoff):
    """Real projections (sharp sample edges) and the real flat as a sweep."""
    ct, dark, flat, _ = _real(real_data)
    volume = np.concatenate([ct, flat[None].astype(np.uint16)])
    assert decimation_factor(volume.shape[1:], 50.0) > 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = fit_response(volume, dark=dark, cutoff=cutoff)
        _exact_smoothing(monkeypatch)
        exact = fit_response(volume, dark=dark, cutoff=cutoff)
    assert np.array_equal(np.isnan(fast), np.isnan(exact))
    both = np.isfinite(exact)
    assert both.mean() > 0.9
    assert np.median(np.abs(fast[both] / exact[both] - 1)) <= 1e-5


# ---------------------------------------------------------------- dask


def test_dask_fit_equals_numpy_on_awkward_chunks(sample, fitted):
    gains, quality = fitted
    lazy = da.from_array(sample.volume, chunks=(3, 50, 55))
    dgains, dquality = fit_response(lazy, dark=sample.dark, return_quality=True)
    assert isinstance(dgains, np.ndarray)
    assert np.allclose(dgains, gains, rtol=1e-6)
    assert np.allclose(dquality.residual_rms, quality.residual_rms, rtol=1e-4)
    assert np.array_equal(dquality.n_points, quality.n_points)


def test_dask_correct_is_lazy_and_equal_on_awkward_chunks(sample, fitted):
    gains, _ = fitted
    stack = np.stack([sample.test_image, sample.flat.astype(np.uint16), sample.test_image])
    eager = correct_image(stack, gains, dark=sample.dark, flat=sample.flat, sigma=3.0)
    lazy = correct_image(
        da.from_array(stack, chunks=(2, 50, 55)),
        gains,
        dark=sample.dark,
        flat=sample.flat,
        sigma=3.0,
    )
    assert isinstance(lazy, da.Array)
    assert lazy.chunks == da.from_array(stack, chunks=(2, 50, 55)).chunks
    assert lazy.dtype == np.float32
    assert np.array_equal(lazy.compute(), eager)


@pytest.mark.parametrize("dtype", [">u2", ">f4", "float16"])
def test_big_endian_and_float16_sweeps_fit_like_native_ones(sample, dtype):
    # as some EDF/FITS readers return them; the compiled loops take native types only
    volume = np.asarray(sample.volume).astype(dtype)
    native = volume.astype(np.float32)  # the same values, native float32
    want = fit_response(native, dark=sample.dark)
    got = fit_response(volume, dark=sample.dark)
    lazy = fit_response(da.from_array(volume, chunks=(4, -1, -1)), dark=sample.dark)
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_allclose(lazy, want, rtol=1e-6)
    assert volume.dtype == np.dtype(dtype)  # the input is not converted in place


def test_fit_streams_a_dask_sweep_in_blocks(sample):
    lazy = da.from_array(sample.volume, chunks=(1, 256, 256))
    seen = []
    fit_response(lazy, dark=sample.dark, progress=lambda d, t: seen.append((d, t)))
    assert seen and seen[-1][0] == seen[-1][1] > 1


# ---------------------------------------------------------------- correct_image semantics


def test_correct_with_flat_matches_formula_with_dark_removed_from_flat():
    rng = np.random.default_rng(8)
    image = rng.uniform(500, 3000, (3, 60, 70)).astype(np.uint16)
    coeffs = rng.uniform(0.9, 1.1, (60, 70))
    dark = rng.uniform(90, 110, (60, 70))
    flat = rng.uniform(2000, 2200, (60, 70))
    smoothed = _scipy_smooth(flat - dark, 20.0)
    expected = (image - dark) * coeffs / smoothed
    out = correct_image(image, coeffs, dark=dark, flat=flat, smooth_sigma=20.0)
    assert out.dtype == np.float32
    assert np.allclose(out, expected, rtol=1e-5)
    # residual correction: divide by the gain-corrected flat where the residual is large
    residual = smoothed - (flat - dark) * coeffs
    large = np.abs(residual) >= 2.0 * residual.std()
    divisor = np.where(large, (flat - dark) * coeffs, smoothed)
    out = correct_image(image, coeffs, dark=dark, flat=flat, sigma=2.0, smooth_sigma=20.0)
    assert large.any() and not large.all()
    assert np.allclose(out, (image - dark) * coeffs / divisor, rtol=1e-5)


def test_residual_sigma_removes_dust_from_the_flat():
    sample = make_sweep(shape=(10, 128, 128), seed=2)
    gains = fit_response(sample.volume, dark=sample.dark)
    dusty_flat = sample.flat.copy()
    dust = np.s_[60:63, 70:73]
    dusty_flat[dust] = sample.dark[dust] + 0.7 * (sample.flat - sample.dark)[dust]
    image = sample.test_image.astype(np.float32)
    image[dust] = sample.dark[dust] + 0.7 * (image - sample.dark)[dust]  # the dust is still there
    plain = correct_image(image, gains, dark=sample.dark, flat=dusty_flat)
    cleaned = correct_image(image, gains, dark=sample.dark, flat=dusty_flat, sigma=3.0)
    assert abs(plain[dust].mean() / 0.6 - 0.7) < 0.02  # dust shows as a dark spot
    assert abs(cleaned[dust].mean() / 0.6 - 1) < 0.02  # gone with the residual correction
    assert np.allclose(cleaned[:50], plain[:50], rtol=1e-3)  # elsewhere the same


def test_uint16_does_not_wrap_and_stays_float32():
    image = np.array([[5, 60000]], dtype=np.uint16)
    out = correct_image(image, np.ones((1, 2)), dark=np.array([[10.0, 0.0]]))
    assert out.dtype == np.float32
    assert out.tolist() == [[-5.0, 60000.0]]
    assert correct_image(image.astype(np.float64), np.ones((1, 2))).dtype == np.float64


def test_nan_gains_give_nan_pixels_and_never_inf():
    coeffs = np.ones((4, 4))
    coeffs[1, 2] = np.nan
    flat = np.full((4, 4), 200.0)
    flat[0, 0] = 100.0  # equals the dark there: divisor zero
    with pytest.warns(RuntimeWarning, match="non-positive"):
        out = correct_image(
            np.full((4, 4), 150.0), coeffs, dark=100.0, flat=flat, sigma=1.0, smooth_sigma=0.5
        )
    assert np.isnan(out[1, 2]) and np.isnan(out[0, 0])
    assert not np.isinf(out).any()
    assert np.isfinite(out).sum() == 14


def test_inputs_not_modified(sample):
    volume = sample.volume[:4, :64, :64].copy()
    dark = sample.dark[:64, :64].copy()
    before = volume.copy(), dark.copy()
    gains = fit_response(volume, dark=dark, sigma=10.0)
    correct_image(volume, gains, dark=dark, flat=dark + 1000, sigma=2.0)
    assert np.array_equal(volume, before[0]) and np.array_equal(dark, before[1])


# ---------------------------------------------------------------- undefined gains and bad input


def test_undefined_gains_are_nan_with_a_count():
    rng = np.random.default_rng(9)
    volume = rng.uniform(1000, 2000, (5, 40, 40)).astype(np.float32)
    volume[:, 5, 5] = 1234.0  # stuck pixel: constant readings
    volume[:, 6, 6] = 0.0  # dead pixel at the dark level: zero readings
    with pytest.warns(RuntimeWarning, match="2 of 1600 pixels"):
        gains, quality = fit_response(volume, sigma=5.0, cutoff=300, return_quality=True)
    assert quality.n_undefined == 2
    assert np.isnan(gains[5, 5]) and np.isnan(gains[6, 6])
    assert np.isfinite(gains).sum() == 1598
    # everything below the cutoff: no gain at all is an error, not an all-NaN map
    with pytest.raises(ValueError, match="volume: no pixel has a defined gain .*cutoff 1e"):
        fit_response(volume, sigma=5.0, cutoff=1e6, return_quality=True)


@pytest.mark.parametrize("lazy", [False, True])
def test_nan_in_sweep_is_an_error(lazy):
    volume = np.full((4, 30, 30), 1000.0)
    volume[2, 3, 4] = np.nan
    if lazy:
        volume = da.from_array(volume, chunks=(1, 30, 30))
    with pytest.raises(ValueError, match="volume: .*NaN"):
        fit_response(volume, sigma=5.0)


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: fit_response(np.ones((1, 8, 8))), ValueError, "at least 2 planes"),
        (lambda: fit_response(np.ones((8, 8))), ValueError, "volume: expected a .z, row, col."),
        (
            lambda: fit_response(np.ones((3, 8, 8)), dark=np.ones((8, 9))),
            ValueError,
            r"dark: .*\(8, 9\)",
        ),
        (lambda: fit_response(np.ones((3, 8, 8)), sigma=-1), ValueError, "sigma"),
        (lambda: fit_response(np.ones((3, 8, 8)), cutoff=np.nan), ValueError, "cutoff"),
        (lambda: fit_response(np.ones((3, 8, 8)), cutoff=-5), ValueError, "cutoff: .*>= 0"),
        (lambda: fit_response(np.ones((3, 8, 8), dtype=complex)), TypeError, "volume"),
        (
            lambda: fit_response(np.ones((3, 8, 8)), dark=np.full((8, 8), np.nan)),
            ValueError,
            "dark: .*NaN",
        ),
        (
            lambda: correct_image(np.ones((8, 8)), np.ones((8, 7))),
            ValueError,
            r"coefficients: .*\(8, 7\)",
        ),
        (
            lambda: correct_image(np.ones((2, 8, 8)), np.ones((8, 8)), flat=np.ones((2, 8, 9))),
            ValueError,
            r"flat: .*\(2, 8, 9\)",
        ),
        (
            lambda: correct_image(np.ones((8, 8)), np.ones((8, 8)), sigma=3.0),
            ValueError,
            "sigma: .*flat",
        ),
        (lambda: correct_image(np.ones(8), np.ones(8)), ValueError, "image"),
        (
            lambda: correct_image(np.ones((8, 8)), np.full((8, 8), np.inf)),
            ValueError,
            "coefficients",
        ),
        (
            lambda: correct_image(np.ones((8, 8)), np.ones((8, 8)), flat=np.full((8, 8), np.nan)),
            ValueError,
            "flat: .*NaN",
        ),
        (lambda: correct_image(np.ones((8, 8), dtype=bool), np.ones((8, 8))), TypeError, "image"),
        (
            lambda: correct_image(np.ones((8, 8)), np.ones((8, 8)), smooth_sigma=0),
            ValueError,
            "smooth_sigma",
        ),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ---------------------------------------------------------------- progress


def test_progress_reports_planes_and_can_cancel(sample):
    seen = []
    fit_response(sample.volume, dark=sample.dark, progress=lambda d, t: seen.append((d, t)))
    assert seen[0] == (0, 20) and seen[-1] == (20, 20)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)

    def cancel(done, total):
        if done:
            raise StepCancelled("stop")

    small = da.from_array(sample.volume, chunks=(2, 256, 256))
    with pytest.raises(StepCancelled):
        fit_response(small, dark=sample.dark, progress=cancel)


# ---------------------------------------------------------------- real data (detectorcal's own)


def _real(real_data):
    read = lambda name: tifffile.imread(real_data / name)  # noqa: E731
    return read("ct_projections.tif"), read("dark.tif"), read("flat.tif"), read("coefficients.tif")


@pytest.mark.peer
@pytest.mark.parametrize("sigma", [None, 1.0, 3.0])
def test_real_correction_matches_detectorcal(real_data, sigma):
    detectorcal = pytest.importorskip("detectorcal")
    ct, dark, flat, coeffs = _real(real_data)
    ours = correct_image(ct, coeffs, dark=dark, flat=flat, sigma=sigma)
    # detectorcal smooths the flat it is given: hand it the dark-corrected flat
    theirs = detectorcal.correct_image(ct, coeffs, dark=dark, flat=flat - dark, sigma=sigma)
    assert np.abs(ours - theirs).max() < 1e-5 * np.abs(theirs).max()
    # and its own call (the raw flat) is off by the dark it forgets: about 20% here
    buggy = detectorcal.correct_image(ct, coeffs, dark=dark, flat=flat, sigma=sigma)
    assert np.abs(ours - buggy).max() > 0.1 * np.abs(theirs).max()


def test_real_coefficients_flatten_the_real_flat(real_data):
    """detectorcal's fitted coefficients reduce the real flat's tile-scale non-uniformity."""
    ct, dark, flat, coeffs = _real(real_data)

    def tile_scale_variation(image):  # band-pass: structure between 8 and 50 pixels
        fine = ndimage.gaussian_filter(image.astype(np.float64), 8, mode="nearest")
        coarse = ndimage.gaussian_filter(image.astype(np.float64), 50, mode="nearest")
        return float((fine / coarse - 1)[30:-30, 30:-30].std())

    raw = tile_scale_variation(flat - dark)
    corrected = tile_scale_variation(correct_image(flat, coeffs, dark=dark))
    assert corrected < 0.7 * raw
    # the dark must be removed first, and the coefficients multiply: otherwise it gets worse
    assert tile_scale_variation(correct_image(flat, coeffs)) > raw
    assert tile_scale_variation(correct_image(flat, 1 / coeffs, dark=dark)) > raw
    # the whole projection stack is corrected plane by plane with the same maps
    out = correct_image(ct, coeffs, dark=dark, flat=flat)
    assert out.shape == ct.shape and out.dtype == np.float32
    expected = (
        (ct[4] - dark.astype(np.float64)) * coeffs / _scipy_smooth(flat - dark.astype(np.float64))
    )
    assert np.allclose(out[4], expected, rtol=1e-4, atol=1e-6)


def test_core_does_not_import_qt():
    code = (
        "import sys, detcal.response, detcal.filters.gaussian; "
        "print('qtpy' in sys.modules, 'napari' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["False", "False"]


# ---------------------------------------------------------------- stacks, pyramids, options


def test_dark_and_flat_stacks_are_averaged_streaming(sample):
    from detcal.filters import mean_plane

    darks = np.stack([sample.dark - 1.0, sample.dark + 1.0]).astype(np.float32)
    lazy = da.from_array(darks, chunks=(1, 32, 32))
    np.testing.assert_allclose(mean_plane(lazy), sample.dark, atol=1e-4)
    np.testing.assert_allclose(mean_plane(darks), sample.dark, atol=1e-4)
    volume = sample.volume[:6]
    np.testing.assert_allclose(
        fit_response(volume, dark=lazy, sigma=20.0),
        fit_response(volume, dark=sample.dark, sigma=20.0),
        rtol=1e-5,
    )
    flats = np.stack([sample.flat * 0.9, sample.flat * 1.1])
    np.testing.assert_allclose(
        correct_image(sample.test_image, np.ones_like(sample.dark), dark=lazy, flat=flats),
        correct_image(sample.test_image, np.ones_like(sample.dark), dark=sample.dark,
                      flat=sample.flat),
        rtol=1e-5,
    )  # fmt: skip


def test_the_odd_shape_is_named():
    gains, dark, flat = np.ones((8, 8)), np.zeros((8, 8)), np.full((8, 8), 100.0)
    with pytest.raises(ValueError, match=r"^image: its planes are \(6, 6\)"):
        correct_image(np.ones((6, 6)), gains, dark=dark, flat=flat)
    with pytest.raises(ValueError, match=r"^coefficients: the gains are \(8, 8\).*match the image"):
        correct_image(np.ones((6, 6)), gains, dark=np.zeros((6, 6)))


class _CountingLevel:
    """An array-like that counts the reads of its chunks (a pyramid level on disk)."""

    def __init__(self, data):
        self.data, self.shape, self.dtype, self.ndim = data, data.shape, data.dtype, data.ndim
        self.reads = 0

    def __getitem__(self, index):
        self.reads += 1
        return self.data[index]


def _pyramid(stack):
    n, side = stack.shape[0], stack.shape[-1]
    half = stack.reshape(n, side // 2, 2, side // 2, 2).mean((2, 4))
    quarter = half.reshape(n, side // 4, 2, side // 4, 2).mean((2, 4))
    return [_CountingLevel(level.astype(np.float32)) for level in (stack, half, quarter)]


def test_pyramid_levels_are_corrected_with_the_calibration_at_their_scale(sample, fitted):
    gains = fitted[0]
    stack = np.stack([sample.test_image] * 4).astype(np.float32)
    levels = _pyramid(stack)
    lazy = [da.from_array(level, chunks=(1, 64, 64)) for level in levels]
    for level in levels:
        level.reads = 0  # from_array reads an empty slice for its meta
    out = correct_image(lazy, gains, dark=sample.dark, flat=sample.flat, smooth_sigma=20.0)
    assert isinstance(out, list) and [o.shape for o in out] == [lv.shape for lv in levels]
    # browsing the coarsest level reads only its chunks, none of the full resolution
    coarse = out[2][1].compute()
    assert levels[0].reads == 0 and levels[1].reads == 0 and levels[2].reads > 0
    full = correct_image(stack, gains, dark=sample.dark, flat=sample.flat, smooth_sigma=20.0)
    side = stack.shape[-1] // 4
    expected = full[1].reshape(side, 4, side, 4).mean((1, 3))  # correct, then downsample
    # the uniformly lit test image: as if corrected at full resolution, then averaged (an
    # arithmetic block mean of the gains would be 0.25 % high: their 5 % spread, squared)
    np.testing.assert_allclose(coarse, expected, rtol=2e-4)
    np.testing.assert_allclose(out[0][1].compute(), full[1], rtol=1e-6)


def test_options_feed_the_functions_and_refuse_bad_values():
    from detcal.response import CorrectOptions, FitOptions

    assert FitOptions().kwargs() == {"sigma": 50.0, "cutoff": 300.0}
    assert CorrectOptions(residual_sigma=3).kwargs() == {"sigma": 3.0, "smooth_sigma": 50.0}
    with pytest.raises(ValueError, match="cutoff: expected a number >= 0"):
        FitOptions(cutoff=-5)
    with pytest.raises(ValueError, match="smooth_sigma: expected a number > 0"):
        CorrectOptions(smooth_sigma=-2)
