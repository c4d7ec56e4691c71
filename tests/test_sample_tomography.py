"""The synthetic tomography scan: geometry, counts and ground truth agree with each other."""

from __future__ import annotations

import numpy as np
import pytest

from detcal.sample_data.tomography import ellipse_line_integrals, make_tomography


def _minus_log(scan):
    flat = scan.flats.mean(axis=0)
    dark = scan.darks.mean(axis=0)
    return -np.log((scan.projections - dark) / (flat - dark))


def test_shapes_dtypes_and_angles():
    scan = make_tomography()
    assert scan.projections.shape == (180, 4, 128)
    assert scan.projections.dtype == np.uint16
    assert scan.flats.shape == (10, 4, 128) and scan.darks.shape == (10, 4, 128)
    assert scan.phantom.shape == (4, 128, 128) and scan.phantom.dtype == np.float32
    assert scan.center == pytest.approx(63.5 + 3.7)
    np.testing.assert_allclose(scan.theta, np.arange(180) * np.pi / 180)
    full = make_tomography(n_angles=90, full_360=True)
    np.testing.assert_allclose(full.theta, np.arange(90) * 2 * np.pi / 90)


def test_seeded():
    a, b = make_tomography(seed=3), make_tomography(seed=3)
    np.testing.assert_array_equal(a.projections, b.projections)
    assert not np.array_equal(a.projections, make_tomography(seed=4).projections)


def test_closed_form_disc():
    disc = np.array([[0.2, -0.1, 0.5, 0.5, 0.0, 2.0]])
    theta = np.array([0.0, 1.0])
    s = np.array([0.2 + 0.3 * np.cos(0.0), 0.2 * np.cos(1.0) - 0.1 * np.sin(1.0)])
    out = ellipse_line_integrals(disc, theta, s)
    # chord at distance 0.3 from the centre, and through the centre
    assert out[0, 0] == pytest.approx(2.0 * 2.0 * np.sqrt(0.25 - 0.09))
    assert out[1, 1] == pytest.approx(2.0 * 2.0 * 0.5)


def test_sinogram_matches_phantom_geometry():
    scan = make_tomography(n_angles=4, noise=False, stripes=False, outliers=False)
    phantom = scan.phantom.astype(np.float64)
    c = scan.center
    n = phantom.shape[-1]
    mid = (n - 1) / 2
    # theta = 0: rays along the rows, the detector sees columns (shifted by the axis offset)
    cols = np.arange(n) - (c - mid)
    expected0 = np.stack([np.interp(cols, np.arange(n), p.sum(axis=0)) for p in phantom])
    # theta = pi / 2: s = -(row offset), rays along the columns
    rows = mid - (np.arange(n) - c)
    expected90 = np.stack([np.interp(rows, np.arange(n), p.sum(axis=1)) for p in phantom])
    mirrored90 = np.stack([np.interp(2 * mid - rows, np.arange(n), p.sum(axis=1)) for p in phantom])
    scale = scan.line_integrals.max()
    assert np.abs(scan.line_integrals[0] - expected0).max() < 0.03 * scale
    assert np.abs(scan.line_integrals[2] - expected90).max() < 0.03 * scale
    # the rotation sense matters: the mirrored view is far off
    assert np.abs(scan.line_integrals[2] - mirrored90).max() > 0.15 * scale
    # every view carries the same total mass as the phantom slice
    mass = scan.line_integrals.sum(axis=2)
    np.testing.assert_allclose(mass, np.broadcast_to(phantom.sum(axis=(1, 2)), mass.shape), 2e-3)


def test_counts_follow_beer_lambert():
    clean = make_tomography(noise=False, stripes=False, outliers=False)
    np.testing.assert_allclose(_minus_log(clean), clean.line_integrals, atol=2e-3)
    noisy = make_tomography(stripes=False, outliers=False)
    resid = _minus_log(noisy) - noisy.line_integrals
    assert 0.003 < resid.std() < 0.05
    assert abs(resid.mean()) < 2e-3


def test_stripes_and_outliers_are_where_stated():
    scan = make_tomography()
    resid = _minus_log(scan) - scan.line_integrals
    resid[scan.outlier_mask] = 0.0
    column_offset = np.abs(resid.mean(axis=(0, 1)))
    assert scan.stripe_columns.size >= 2
    others = np.setdiff1d(np.arange(128), scan.stripe_columns)
    assert column_offset[scan.stripe_columns].min() > 5 * column_offset[others].max()
    assert scan.outlier_mask.sum() == scan.projections.size // 2000
    raw = scan.projections.astype(float)
    expected = scan.flats.mean(0) * np.exp(-scan.line_integrals)
    assert np.all(raw[scan.outlier_mask] > expected[scan.outlier_mask] * 1.2)


def test_object_mask_and_phantom_values():
    scan = make_tomography(stripes=False)
    radius = 0.92 * (63.5 - 3.7 + 0.5)
    # outer ellipse of density 1 / radius per pixel, and nothing outside it
    assert np.median(scan.phantom[scan.object_mask]) == pytest.approx(1 / radius, rel=0.05)
    # nothing outside the object, apart from partial pixels on its edge
    from scipy.ndimage import binary_dilation

    edge = binary_dilation(scan.object_mask, iterations=1, axes=(1, 2))
    assert np.all(scan.phantom[~edge] == 0)
    assert np.all(scan.phantom[~scan.object_mask] < 1 / radius)


def test_half_acquisition():
    scan = make_tomography(n_angles=120, full_360=True, half_acquisition=True, center_offset=40)
    far = scan.center + 0.5
    assert scan.phantom.shape[-1] == 2 * int(np.ceil(far)) > 128
    # the object is wider than the detector: views are cut at the edge near the axis
    assert scan.line_integrals[:, :, -1].max() > 0.5
    assert scan.line_integrals[:, :, 0].max() == 0
    with pytest.raises(ValueError, match="full_360"):
        make_tomography(half_acquisition=True, center_offset=40)
    with pytest.raises(ValueError, match="n_cols / 8"):
        make_tomography(full_360=True, half_acquisition=True)
    with pytest.raises(ValueError, match="too close"):
        make_tomography(center_offset=50)
    with pytest.raises(ValueError, match="n_cols >= 16"):
        make_tomography(n_cols=8)
