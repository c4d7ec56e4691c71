"""Stripe removal on a synthetic sinogram with planted stripes (known clean answer)."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose

from detcal.tomo import prep

STRIPE_COLUMNS = (60, 128, 170)
STRIPE = 0.03


def _blob_sinogram(n_angle=360, n_col=256):
    """Analytic parallel-beam sinogram (line integrals) of off-centre Gaussian blobs."""
    theta = np.linspace(0, np.pi, n_angle, endpoint=False)[:, None]
    t = np.arange(n_col) - (n_col - 1) / 2
    sino = np.zeros((n_angle, n_col))
    for x0, y0, s, a in [(30, -20, 25, 0.02), (-40, 35, 12, 0.04), (10, 60, 8, 0.05)]:
        t0 = x0 * np.cos(theta) + y0 * np.sin(theta)
        sino += a * np.sqrt(2 * np.pi) * s * np.exp(-((t - t0) ** 2) / (2 * s * s))
    return sino


@pytest.fixture(scope="module")
def transmission():
    """Clean transmission stack (360 angles, 3 rows, 256 columns) and its striped copy."""
    rng = np.random.default_rng(0)
    clean = np.stack([np.exp(-_blob_sinogram())] * 3, axis=1)
    clean = (clean + 0.002 * rng.standard_normal(clean.shape)).astype(np.float32)
    striped = clean.copy()
    striped[:, :, list(STRIPE_COLUMNS)] += STRIPE
    return clean, striped


def _stripe_amplitude(out, clean):
    """Mean over stripes of the angle-averaged error at the stripe minus its neighbours."""
    profile = (out - clean).mean(axis=0)
    return np.mean(
        [
            np.abs(profile[:, c] - 0.5 * (profile[:, c - 4] + profile[:, c + 4]))
            for c in STRIPE_COLUMNS
        ]
    )


def _rest_rms(out, clean):
    keep = np.ones(clean.shape[2], bool)
    for c in STRIPE_COLUMNS:
        keep[c - 4 : c + 5] = False
    return np.sqrt(np.mean((out - clean)[:, :, keep] ** 2))


@pytest.mark.parametrize(
    ("name", "kwargs", "factor", "rest"),
    [
        ("remove_stripe_fw", {"level": 3}, 5, 0.005),
        ("remove_stripe_ti", {}, 8, 0.02),
        ("remove_stripe_sf", {"size": 11}, 8, 0.005),
        ("remove_all_stripe", {"la_size": 31, "sm_size": 11}, 5, 0.02),
    ],
)
def test_stripe_removed_rest_kept(transmission, name, kwargs, factor, rest):
    clean, striped = transmission
    assert _stripe_amplitude(striped, clean) == pytest.approx(STRIPE, rel=0.05)
    out = getattr(prep, name)(striped, **kwargs)
    assert _stripe_amplitude(out, clean) < STRIPE / factor
    assert _rest_rms(out, clean) < rest
    assert _rest_rms(out, clean) < 0.2 * np.abs(clean - clean.mean()).mean()


def test_fw_default_level_is_tomopys():
    """Default level = ceil(log2(largest dimension)), the same as passing it."""
    data = np.exp(-_blob_sinogram(90, 100))[:, None, :].astype(np.float32)
    assert_allclose(prep.remove_stripe_fw(data), prep.remove_stripe_fw(data, level=7))


def test_sf_matches_definition():
    """Box-smoothed mean profile subtracted: a single-column stripe keeps only 1/size of itself."""
    data = np.ones((10, 1, 21), dtype=np.float32)
    data[:, 0, 10] += 1.0
    out = prep.remove_stripe_sf(data, size=5)
    assert_allclose(out[:, 0, 10], 1.2, rtol=1e-6)
    assert_allclose(out[:, 0, 8], 1.0 + 0.2, rtol=1e-6)  # neighbours see the box's share
    assert_allclose(out[:, 0, 0], 1.0, rtol=1e-6)


def test_all_stripe_interpolates_dead_column(transmission):
    clean, _ = transmission
    dead = clean.copy()
    dead[:, :, 90] = 0.5  # an unresponsive pixel: constant over angles
    out = prep.remove_all_stripe(dead)
    assert np.abs(out[:, :, 90] - clean[:, :, 90]).mean() < 0.02
    assert np.abs(dead[:, :, 90] - clean[:, :, 90]).mean() > 0.1


def test_ti_blocks_cover_every_angle():
    data = np.exp(-_blob_sinogram(50, 64))[:, None, :].astype(np.float32)
    out = prep.remove_stripe_ti(data, nblock=3)  # 50 = 3 * 16 + 2 left over
    assert np.abs(out[-2:] - data[-2:]).max() < 0.2  # TomoPy would leave 1.0 there


def test_lazy_rows_split_like_eager(transmission):
    _, striped = transmission
    lazy = prep.remove_all_stripe(da.from_array(striped, chunks=(100, 1, 50)))
    assert lazy.chunks[0] == (striped.shape[0],) and lazy.chunks[2] == (striped.shape[2],)
    assert_allclose(lazy[:, 1:2].compute(), prep.remove_all_stripe(striped[:, 1:2]), rtol=1e-6)
