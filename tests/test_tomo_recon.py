"""Reconstruction against the analytic phantom: accuracy, filters, centres, laziness, errors."""

from __future__ import annotations

import importlib.util

import dask.array as da
import numpy as np
import pytest

from detcal.sample_data.tomography import make_tomography, relative_rms
from detcal.tomo.filters import (
    FILTER_NAMES,
    exact_ramp,
    reconstruction_filter,
    tomopy_filter,
)
from detcal.tomo.recon import recon


@pytest.fixture(scope="module")
def clean():
    return make_tomography(n_cols=256, n_angles=360, noise=False, stripes=False, outliers=False)


def rel_rms(rec, scan):
    return relative_rms(rec, scan.phantom, scan.object_mask)


def test_accuracy_against_phantom(clean):
    rec = recon(clean.line_integrals, clean.theta, center=clean.center, filter_name="ramlak")
    assert rec.shape == (4, 256, 256) and rec.dtype == np.float32
    # a plain padded FBP measures about 0.025 here; most of it is the blurred edges
    assert rel_rms(rec, clean) < 0.03
    # quantitative: no DC offset, the mean attenuation inside the object is right
    m = clean.object_mask
    assert rec[m].mean() == pytest.approx(clean.phantom[m].mean(), rel=0.005)
    # the default (Butterworth 0.25, order 2) smooths edges a little more
    default = recon(clean.line_integrals, clean.theta, center=clean.center)
    assert rel_rms(default, clean) < 0.05
    # zero padding instead of edge values: the same, as the object is inside the detector
    zero = recon(clean.line_integrals, clean.theta, center=clean.center, pad=False)
    np.testing.assert_allclose(zero, default, atol=2e-3 * clean.phantom.max())


def test_full_360_scan_weighted_right():
    scan = make_tomography(
        n_cols=256, n_angles=360, full_360=True, noise=False, stripes=False, outliers=False
    )
    rec = recon(scan.line_integrals, scan.theta, center=scan.center, filter_name="ramlak")
    assert rel_rms(rec, scan) < 0.03


def test_noisy_raw_scan_after_minus_log():
    scan = make_tomography(n_cols=256, n_angles=360, stripes=False, outliers=False)
    flat, dark = scan.flats.mean(0), scan.darks.mean(0)
    tomo = -np.log((scan.projections - dark) / (flat - dark))
    assert rel_rms(recon(tomo, scan.theta, center=scan.center), scan) < 0.06
    # the unwindowed ramp lets the counting noise through
    assert rel_rms(recon(tomo, scan.theta, center=scan.center, filter_name="ramlak"), scan) > 0.07


def test_pixel_size_and_circular_mask(clean):
    rec = recon(clean.line_integrals[:, :2], clean.theta, center=clean.center)
    scaled = recon(clean.line_integrals[:, :2], clean.theta, center=clean.center, pixel_size=0.5)
    np.testing.assert_allclose(scaled, rec / 0.5, rtol=1e-6)
    masked = recon(clean.line_integrals[:, :2], clean.theta, center=clean.center, circ_mask=0.8)
    r = np.hypot(*np.meshgrid(np.arange(256) - 127.5, np.arange(256) - 127.5))
    assert np.all(masked[:, r > 0.8 * 128] == 0)
    np.testing.assert_array_equal(masked[:, r < 0.79 * 128], rec[:, r < 0.79 * 128])


def test_center_convention(clean):
    errors = {
        d: rel_rms(
            recon(clean.line_integrals, clean.theta, center=clean.center + d, filter_name="shepp"),
            clean,
        )
        for d in (-2.0, -0.5, 0.0, 0.5, 2.0)
    }
    assert errors[0.0] < 0.5 * min(errors[-0.5], errors[0.5])
    assert errors[0.0] < 0.2 * min(errors[-2.0], errors[2.0])


@pytest.mark.parametrize("n_cols", [200, 201])
def test_sizes_not_a_multiple_of_the_column_block(n_cols):
    # the 2D FFT works on blocks of 64 image columns either side of the axis: 100 (or 101)
    # columns leave a narrower last block on each side, and an odd size shifts the axis pixel
    scan = make_tomography(
        n_cols=n_cols, n_angles=300, n_rows=2, noise=False, stripes=False, outliers=False
    )
    rec = recon(scan.line_integrals, scan.theta, center=scan.center, filter_name="ramlak")
    assert rec.shape == (2, n_cols, n_cols)
    assert rel_rms(rec, scan) < 0.035
    m = scan.object_mask
    assert rec[m].mean() == pytest.approx(scan.phantom[m].mean(), rel=0.005)


def test_per_row_centres():
    a = make_tomography(n_rows=2, center_offset=3.7, noise=False, stripes=False, outliers=False)
    b = make_tomography(n_rows=2, center_offset=-5.2, noise=False, stripes=False, outliers=False)
    tomo = np.concatenate([a.line_integrals, b.line_integrals], axis=1)
    centers = [a.center, a.center, b.center, b.center]
    rec = recon(tomo, a.theta, center=centers, filter_name="ramlak")
    assert rel_rms(rec[:2], a) < 0.04 and rel_rms(rec[2:], b) < 0.04
    single = recon(tomo, a.theta, center=a.center, filter_name="ramlak")
    assert rel_rms(single[2:], b) > 5 * rel_rms(rec[2:], b)


@pytest.mark.parametrize("pad", [True, False])
def test_nan_and_inf_in_projections_count_as_zero(clean, pad):
    tomo = np.array(clean.line_integrals[:, :3], dtype=np.float32)
    tomo[5, 0, 40] = np.nan
    tomo[17, 1, 0] = np.inf  # an edge value: the one edge padding repeats
    tomo[30, 1, -1] = -np.inf
    tomo[31, 2, 100] = np.nan
    zeroed = np.where(np.isfinite(tomo), tomo, np.float32(0))
    # different sub-pixel axes within a pair take the split-spectrum path
    centers = [clean.center, clean.center + 0.3, clean.center - 0.2]
    rec = recon(tomo, clean.theta, center=centers, pad=pad)
    assert np.all(np.isfinite(rec))
    expected = recon(zeroed, clean.theta, center=centers, pad=pad)
    np.testing.assert_array_equal(rec, expected)
    assert np.isnan(tomo[5, 0, 40]) and np.isinf(tomo[17, 1, 0])  # the input is untouched


def test_progress(clean):
    seen = []
    recon(
        clean.line_integrals[:, :3],
        clean.theta,
        center=clean.center,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert seen[0] == (0, 3) and seen[-1] == (3, 3)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_dask_is_lazy_and_equal(clean):
    calls = []

    def load(block, block_info=None):
        calls.append(block_info[None]["chunk-location"])
        return block

    tomo = da.from_array(clean.line_integrals, chunks=(90, 1, 256))
    tomo = tomo.map_blocks(load, dtype=tomo.dtype)
    rec = recon(tomo, clean.theta, center=clean.center, chunk_rows=2)
    assert isinstance(rec, da.Array)
    assert not calls
    assert rec.chunks == ((2, 2), (256,), (256,))
    one = rec[1].compute()
    # only the slab holding row 1 was read: rows 0 and 1, all angle blocks
    assert {loc[1] for loc in calls} == {0, 1}
    eager = recon(clean.line_integrals, clean.theta, center=clean.center)
    np.testing.assert_allclose(one, eager[1], atol=1e-6 * np.abs(eager).max())
    np.testing.assert_allclose(rec.compute(), eager, atol=1e-6 * np.abs(eager).max())


def test_dask_per_row_centres_follow_the_rows():
    a = make_tomography(n_rows=2, center_offset=3.7, noise=False, stripes=False, outliers=False)
    b = make_tomography(n_rows=2, center_offset=-5.2, noise=False, stripes=False, outliers=False)
    tomo = np.concatenate([a.line_integrals, b.line_integrals], axis=1)
    centers = [a.center, a.center, b.center, b.center]
    lazy = recon(da.from_array(tomo, chunks=(60, 1, 128)), a.theta, center=centers, chunk_rows=1)
    eager = recon(tomo, a.theta, center=centers)
    # one slice per chunk is transformed alone, not packed in a pair: float32 rounding apart
    np.testing.assert_allclose(lazy.compute(), eager, atol=1e-4 * np.abs(eager).max())


# independent statements of TomoPy's gridrec filters: ramp |2x| times a window, x in [0, 0.5]
def _expected(name, x, p):
    ramp = np.abs(2 * x)
    return {
        "none": np.ones_like(x),
        "shepp": ramp * np.sin(np.pi * x) / (np.pi * x),
        "cosine": ramp * np.cos(np.pi * x),
        "hann": ramp * (0.5 + 0.5 * np.cos(2 * np.pi * x / p[0])),
        "hamming": ramp * (0.54 + 0.46 * np.cos(2 * np.pi * x / p[0])),
        "ramlak": ramp,
        "parzen": ramp * (1 - np.abs(x) / p[0]) ** 3,
        "butterworth": ramp / (1 + (x / p[0]) ** (2 * p[1])),
    }[name]


@pytest.mark.parametrize("name", FILTER_NAMES)
def test_filter_definitions(name, clean):
    x = np.array([0.05, 0.13, 0.25, 0.4, 0.5])
    for par in [(0.5, 8.0), (0.3, 3.0)]:
        np.testing.assert_allclose(tomopy_filter(name, x, par), _expected(name, x, par), 1e-12)
    # the reconstruction filter keeps the window but uses the exact discrete ramp
    n = 512
    f = np.fft.rfftfreq(n)
    applied = reconstruction_filter(name, n, (0.3, 3.0))
    k = np.array([40, 100, 200])
    np.testing.assert_allclose(applied[k], 0.5 * _expected(name, f[k], (0.3, 3.0)), rtol=0.02)
    rec = recon(clean.line_integrals[:, :1], clean.theta, center=clean.center, filter_name=name)
    assert np.all(np.isfinite(rec))


def test_exact_ramp():
    n = 256
    ramp = exact_ramp(n)
    f = np.fft.rfftfreq(n)
    # |f| away from zero, positive (not zero) at zero frequency
    np.testing.assert_allclose(ramp[20:], f[20:], rtol=0.02)
    assert 0 < ramp[0] < 1.0 / n


def test_bad_input(clean):
    tomo, theta = clean.line_integrals[:, :1], clean.theta
    with pytest.raises(ValueError, match="theta has 359 angles but tomo has 360"):
        recon(tomo, theta[:-1])
    with pytest.raises(ValueError, match="between 0 and 255"):
        recon(tomo, theta, center=300.0)
    with pytest.raises(ValueError, match="one value per row"):
        recon(tomo, theta, center=[100.0, 120.0])
    with pytest.raises(ValueError, match="none, shepp, cosine, hann, hamming, ramlak, parzen"):
        recon(tomo, theta, filter_name="gauss")
    with pytest.raises(ValueError, match="needs 2 positive"):
        recon(tomo, theta, filter_par=(0.2,))
    with pytest.raises(ValueError, match="algorithm"):
        recon(tomo, theta, algorithm="sirt")
    with pytest.raises(ValueError, match="radians"):
        recon(tomo, np.rad2deg(theta))
    with pytest.raises(ValueError, match="3D"):
        recon(tomo[:, 0], theta)
    with pytest.raises(TypeError, match="complex"):
        recon(tomo.astype(np.complex64), theta)
    with pytest.raises(ValueError, match="backend"):
        recon(tomo, theta, backend="cuda")
    for eps in (0.0, -1e-3, 0.5, float("nan")):
        with pytest.raises(ValueError, match="eps"):
            recon(tomo, theta, eps=eps)


@pytest.mark.parametrize("backend", ["tomopy", "astra"])
def test_optional_backends_say_how_to_install(backend, clean):
    if importlib.util.find_spec(backend) is not None:
        pytest.skip(f"{backend} is installed")
    with pytest.raises(ImportError, match="conda install"):
        recon(clean.line_integrals[:, :1], clean.theta, backend=backend)


@pytest.mark.parametrize("backend", ["tomopy", "astra"])
def test_optional_backends_reconstruct_the_phantom(backend, clean):
    pytest.importorskip(backend)
    rec = recon(
        clean.line_integrals[:, :2],
        clean.theta,
        center=clean.center,
        backend=backend,
        filter_name="ramlak",
    )
    assert rec.shape == (2, 256, 256)
    if backend == "tomopy":
        # TomoPy's gridrec reads 5-15 % high (more towards the edge; docs/tomo-recon.md and
        # tests/test_tomopy_parity.py): measured 1.097 over the object. The wrapper owes the
        # geometry (padding, axis pixel), not TomoPy's values.
        m = clean.object_mask[:2]
        ours = recon(
            clean.line_integrals[:, :2], clean.theta, center=clean.center, filter_name="ramlak"
        )
        gain = rec[m].mean() / ours[m].mean()
        assert 1.08 < gain < 1.11
        rec = rec / gain
    # same geometry as ours: the phantom within a plain FBP's error (TomoPy: 0.039 measured)
    assert rel_rms(rec, _two_rows(clean)) < 0.05


def _two_rows(scan):
    from dataclasses import replace

    return replace(scan, phantom=scan.phantom[:2], object_mask=scan.object_mask[:2])
