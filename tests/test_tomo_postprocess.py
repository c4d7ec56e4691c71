"""Steps around reconstruction: beam hardening, angle helpers, polar rings, bilateral, 8 bits."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from detcal.tomo import prep


def test_beam_hardening_polynomial():
    t = np.linspace(0, 2, 7)
    coeffs = (0.1, 1.0, -0.2, 0.05, 0.0, 0.01)
    expected = sum(a * t**k for k, a in enumerate(coeffs))
    assert_allclose(prep.beam_hardening(t, coeffs), expected, rtol=1e-6)
    assert_allclose(prep.beam_hardening(t), t + 0.1 * t**5, rtol=1e-6)  # alsmicroct default
    lazy = prep.beam_hardening(da.from_array(t, chunks=3), coeffs)
    assert isinstance(lazy, da.Array)
    assert_allclose(lazy.compute(), expected, rtol=1e-6)


def test_drop_projections_and_offset():
    tomo = np.arange(5)[:, None, None] * np.ones((5, 2, 3))
    theta = np.linspace(0, np.pi, 5)
    kept, kept_theta = prep.drop_projections(tomo, theta, [0, 3])
    assert_array_equal(kept[:, 0, 0], [1, 2, 4])
    assert_allclose(kept_theta, theta[[1, 2, 4]])
    lazy, _ = prep.drop_projections(da.from_array(tomo, chunks=2), theta, [3])
    assert_array_equal(lazy.compute()[:, 0, 0], [0, 1, 2, 4])
    assert_allclose(prep.offset_angles(theta, np.pi / 2), theta + np.pi / 2)


def _slice_with_rings(n=129):
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    radius = np.hypot(yy, xx)
    clean = np.where(np.hypot(yy - 15, xx + 20) < 18, 1.0, 0.0) + np.where(radius < 55, 0.5, 0.0)
    rings = sum(0.2 * np.exp(-0.5 * ((radius - r) / 0.8) ** 2) for r in (12, 30, 41))
    return clean, rings


def test_remove_ring_reduces_rings_keeps_object():
    clean, rings = _slice_with_rings()
    stack = np.stack([clean + rings, clean + rings])
    out = prep.remove_ring(stack, thresh=0.3, thresh_max=2.0, thresh_min=-1.0, rwidth=8)
    inner = np.hypot(*(np.mgrid[:129, :129] - 64)) < 50
    before = np.abs(rings)[inner].mean()
    after = np.abs(out[0] - clean)[inner].mean()
    assert after < before / 2
    lazy = prep.remove_ring(
        da.from_array(stack, chunks=(1, 60, 60)),
        thresh=0.3,
        thresh_max=2.0,
        thresh_min=-1.0,
        rwidth=8,
    )
    assert_allclose(lazy.compute(), out, atol=1e-6)
    assert prep.remove_ring(stack[0], thresh=0.3, rwidth=8).shape == (129, 129)


def test_bilateral_smooths_noise_keeps_edge():
    rng = np.random.default_rng(0)
    clean = np.zeros((2, 40, 40))
    clean[:, :, 20:] = 1.0
    noisy = clean + 0.05 * rng.standard_normal(clean.shape)
    out = prep.bilateral(noisy, sigma_color=0.2, sigma_spatial=2.0)
    assert np.abs(out - clean).mean() < 0.6 * np.abs(noisy - clean).mean()
    assert out[:, :, 18].mean() < 0.1 and out[:, :, 21].mean() > 0.9  # the edge stays sharp
    lazy = prep.bilateral(
        da.from_array(noisy, chunks=(1, 40, 40)), sigma_color=0.2, sigma_spatial=2.0
    )
    assert_allclose(lazy.compute(), out, rtol=1e-6)


def test_crop_and_uint8():
    rec = np.linspace(-1, 2, 4 * 6 * 5).reshape(4, 6, 5)
    cropped = prep.crop(rec, top=1, bottom=2, left=1, right=1)
    assert_array_equal(cropped, rec[:, 1:4, 1:4])
    out = prep.cast_to_uint8(np.array([np.nan, -1.0, 0.0, 0.25, 1.0, 5.0]), low=0.0, high=1.0)
    assert out.dtype == np.uint8
    assert_array_equal(out, [0, 0, 0, 64, 255, 255])
    lazy = prep.cast_to_uint8(da.from_array(rec, chunks=2), low=-1, high=2)
    assert lazy.dtype == np.uint8 and lazy.compute().max() == 255 and lazy.compute().min() == 0


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: prep.beam_hardening(np.ones(3), (1,) * 7), ValueError, "coefficients"),
        (lambda: prep.beam_hardening(np.ones(3), ("a",)), TypeError, "coefficients"),
        (lambda: prep.drop_projections(np.ones((3, 1, 1)), [0, 1], [0]), ValueError, "theta"),
        (lambda: prep.drop_projections(np.ones((3, 1, 1)), [0, 1, 2], [3]), ValueError, "ignore"),
        (lambda: prep.offset_angles([0.0], "1"), TypeError, "offset"),
        (lambda: prep.remove_ring(np.ones((9, 9)), center=(20, 4)), ValueError, "center"),
        (lambda: prep.remove_ring(np.ones((9, 9)), theta_min=200), ValueError, "theta_min"),
        (
            lambda: prep.remove_ring(np.ones((9, 9)), thresh_min=5, thresh_max=1),
            ValueError,
            "thresh_min",
        ),
        (lambda: prep.bilateral(np.ones((9, 9)), sigma_spatial=0), ValueError, "sigma_spatial"),
        (lambda: prep.crop(np.ones((4, 4)), top=2, bottom=2), ValueError, "margins"),
        (lambda: prep.crop(np.ones((4, 4)), left=-1), ValueError, "left"),
        (lambda: prep.cast_to_uint8(np.ones(3), low=1, high=1), ValueError, "low"),
    ],
)
def test_bad_input(call, error, match):
    with pytest.raises(error, match=match):
        call()
