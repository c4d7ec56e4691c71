"""Tomography preparation: TomoPy parity, normalisation, outliers, phase, laziness, bad input."""

from __future__ import annotations

import dask.array as da
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from detcal.tomo import prep

# ------------------------------------------------------------------ parity with TomoPy's tests


# measured largest difference, relative to the largest expected value: 7.1e-7 (fw), 1.1e-6
# (ti, whose conjugate gradients TomoPy stops early where this solves exactly), 1.2e-7 (phase)
@pytest.mark.parametrize(
    ("func", "expected", "tolerance"),
    [
        (prep.remove_stripe_fw, "remove_stripe_fw", 1e-6),
        (prep.remove_stripe_ti, "remove_stripe_ti", 2e-6),
        (prep.retrieve_phase, "retrieve_phase", 2e-7),
    ],
)
def test_parity_with_tomopy_defaults(tomopy_test_data, func, expected, tolerance):
    proj = np.load(tomopy_test_data / "proj.npy")
    out = func(proj)
    assert out.dtype == np.float32 and out.shape == proj.shape
    reference = np.load(tomopy_test_data / f"{expected}.npy")
    assert_allclose(out, reference, rtol=0, atol=tolerance * np.abs(reference).max())


def test_parity_normalize(tomopy_test_data):
    tomo, flat, dark = (np.load(tomopy_test_data / f"{n}.npy") for n in ("tomo", "flat", "dark"))
    with pytest.warns(RuntimeWarning, match="zero, negative or not finite"):
        out = prep.normalize(tomo, flat, dark)
    assert_array_equal(out, np.load(tomopy_test_data / "normalize.npy"))  # measured: identical


def test_parity_inputs_not_modified(tomopy_test_data):
    proj = np.load(tomopy_test_data / "proj.npy")
    before = proj.copy()
    for func in (prep.remove_stripe_fw, prep.remove_stripe_ti, prep.retrieve_phase):
        func(proj)
    assert_array_equal(proj, before)


# ------------------------------------------------------------------ normalisation


def test_normalize_counts_and_replaces_invalid():
    flat = np.full((2, 3, 4), 110.0)
    dark = np.full((3, 4), 10.0)
    tomo = np.full((2, 3, 4), 60.0)
    tomo[0, 0, 0] = 10.0  # at the dark level -> 0
    tomo[0, 1, 1] = 5.0  # below -> negative
    tomo[1, 2, 3] = np.nan  # not finite
    with pytest.warns(RuntimeWarning, match="3 result"):
        out, count = prep.normalize(tomo, flat, dark, return_count=True)
    assert count == 3
    assert out[0, 0, 0] == 0.0 and out[0, 1, 1] == pytest.approx(-0.05)
    assert out[1, 2, 3] == 0.0  # non-finite -> 0.0 by default
    assert_allclose(out[1, :2], 0.5)
    with pytest.warns(RuntimeWarning):
        floored, count = prep.normalize(tomo, flat, dark, out_invalid=1e-6, return_count=True)
    assert count == 3
    assert floored[0, 0, 0] == floored[0, 1, 1] == floored[1, 2, 3] == np.float32(1e-6)
    assert np.isfinite(prep.minus_log(floored)).all()


def test_normalize_dead_flat_and_cutoff():
    flat = np.full((3, 4), 110.0)
    flat[1, 1] = 10.0  # flat == dark: denominator floored, no inf
    tomo = np.full((1, 3, 4), 200.0)
    out = prep.normalize(tomo, flat, np.full((3, 4), 10.0), cutoff=1.5)
    assert np.isfinite(out).all()
    assert out.max() == np.float32(1.5)


def test_normalize_lazy_count_matches():
    rng = np.random.default_rng(0)
    tomo = rng.uniform(0, 100, (6, 5, 7))
    flat, dark = np.full((5, 7), 90.0), np.full((5, 7), 20.0)
    lazy, count = prep.normalize(
        da.from_array(tomo, chunks=(4, 2, 3)), flat, dark, out_invalid=1e-3, return_count=True
    )
    assert isinstance(lazy, da.Array) and isinstance(count, da.Array)
    with pytest.warns(RuntimeWarning):
        eager, eager_count = prep.normalize(tomo, flat, dark, out_invalid=1e-3, return_count=True)
    assert_array_equal(lazy.compute(), eager)
    assert int(count.compute()) == eager_count == int((tomo <= 20).sum())


def test_normalize_nf_nearest_flats():
    tomo = np.full((6, 2, 3), 60.0)
    flat = np.concatenate([np.full((2, 2, 3), 110.0), np.full((2, 2, 3), 60.0)])
    dark = np.full((2, 2, 3), 10.0)
    out = prep.normalize_nf(tomo, flat, dark, [0, 5])
    # the switch is half way between projection 0 and 5: round(2.5) = 2
    assert_allclose(out[:, 0, 0], [0.5, 0.5, 1.0, 1.0, 1.0, 1.0])
    lazy = prep.normalize_nf(da.from_array(tomo, chunks=(4, 1, 2)), flat, dark, [0, 5])
    assert_array_equal(lazy.compute(), out)


def test_normalize_bg_sets_air_to_one():
    ramp = np.linspace(0.8, 1.2, 20)
    tomo = np.tile(ramp, (3, 2, 1))
    tomo[:, :, 8:12] *= 0.5  # an object in the middle
    out = prep.normalize_bg(tomo, air=1)
    assert_allclose(out[:, :, [0, 1, 18, 19]], 1.0, rtol=1e-5)
    assert_allclose(out[:, :, 10], 0.5, rtol=1e-5)


def test_minus_log_values():
    assert_allclose(prep.minus_log(np.array([1.0, np.exp(-3.0)])), [0.0, 3.0], atol=1e-6)


# ------------------------------------------------------------------ outliers


def _smooth_stack(shape=(12, 20, 24)):
    rng = np.random.default_rng(3)
    angle, row, col = np.meshgrid(*(np.arange(n) for n in shape), indexing="ij")
    base = 1.0 + 0.2 * np.sin(col / 5.0) + 0.1 * np.cos(row / 4.0) + 0.01 * angle
    return (base + 0.001 * rng.standard_normal(shape)).astype(np.float32)


@pytest.mark.parametrize("mode", ["2d", "1d"])
def test_remove_outlier_removes_hot_pixels_only(mode):
    clean = _smooth_stack()
    hot = [(2, 5, 7), (7, 10, 20), (11, 0, 0)]
    data = clean.copy()
    for idx in hot:
        data[idx] += 5.0
    data[4, 4, 4] -= 5.0  # a dark outlier stays (only bright ones are removed)
    out = prep.remove_outlier(data, 0.5, size=3, axis=0, mode=mode)
    changed = np.argwhere(out != data)
    assert sorted(map(tuple, changed)) == sorted(hot)
    for idx in hot:
        assert abs(out[idx] - clean[idx]) < 0.1
    lazy = prep.remove_outlier(da.from_array(data, chunks=(5, 7, 9)), 0.5, mode=mode)
    assert_array_equal(lazy.compute(), out)


def test_remove_outlier_1d_follows_angles():
    data = np.ones((9, 1, 5), dtype=np.float32)
    data[:, 0, 2] = 4.0  # a bright column over all angles is a feature, not an outlier (1d)
    data[4, 0, 1] = 9.0  # a zinger in one projection
    out = prep.remove_outlier(data, 1.0, mode="1d")
    assert_array_equal(out[:, 0, 2], 4.0)
    assert out[4, 0, 1] == 1.0


# ------------------------------------------------------------------ phase retrieval


def test_retrieve_phase_smooths_and_keeps_mean():
    rng = np.random.default_rng(1)
    tomo = (0.8 + 0.05 * rng.standard_normal((2, 32, 40))).astype(np.float32)
    out = prep.retrieve_phase(tomo, alpha=1e-4)
    assert out.std() < 0.5 * tomo.std()
    assert out.mean() == pytest.approx(tomo.mean(), rel=1e-2)
    lazy = prep.retrieve_phase(da.from_array(tomo, chunks=(1, 10, 13)), alpha=1e-4)
    assert_allclose(lazy.compute(), out, rtol=1e-6)
    flat = prep.retrieve_phase(np.full((1, 8, 8), 0.7), pad=False)
    assert_allclose(flat, 0.7, rtol=1e-5)


# ------------------------------------------------------------------ laziness on awkward chunks


@pytest.mark.parametrize(
    ("name", "kwargs"),
    [
        ("remove_stripe_fw", {}),
        ("remove_stripe_ti", {"nblock": 2}),
        ("remove_stripe_sf", {"size": 3}),
        ("remove_all_stripe", {"la_size": 11, "sm_size": 5}),
        ("retrieve_phase", {}),
        ("normalize_bg", {"air": 2}),
        ("minus_log", {}),
    ],
)
def test_dask_matches_numpy(name, kwargs):
    data = _smooth_stack((17, 9, 23))
    func = getattr(prep, name)
    eager = func(data, **kwargs)
    lazy = func(da.from_array(data, chunks=(5, 4, 6)), **kwargs)
    assert isinstance(lazy, da.Array) and isinstance(eager, np.ndarray)
    assert lazy.dtype == eager.dtype == np.float32
    assert_allclose(lazy.compute(), eager, rtol=1e-6, atol=1e-7)


def test_dask_input_is_not_computed_whole():
    calls = []

    def record(block):
        if min(block.shape) > 1:  # not dask's meta probes
            calls.append(block.shape)
        return block

    data = da.from_array(_smooth_stack((8, 6, 10)), chunks=(8, 2, 10))
    out = prep.remove_stripe_sf(data.map_blocks(record, meta=np.empty((0, 0, 0))))
    assert isinstance(out, da.Array) and not calls
    out[:, :2].compute()
    assert calls and all(shape[1] <= 2 for shape in calls)


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (
            lambda: prep.normalize(np.ones((4, 5)), np.ones((4, 5)), np.ones((4, 5))),
            ValueError,
            "tomo",
        ),
        (
            lambda: prep.normalize(np.ones((2, 4, 5)), np.ones((4, 6)), np.ones((4, 5))),
            ValueError,
            "flat",
        ),
        (
            lambda: prep.normalize(np.ones((2, 4, 5)), np.ones((4, 5)), np.ones((3, 5))),
            ValueError,
            "dark",
        ),
        (
            lambda: prep.normalize(np.ones((2, 4, 5)), np.ones((4, 5)), np.ones((4, 5)), cutoff=-1),
            ValueError,
            "cutoff",
        ),
        (
            lambda: prep.normalize(np.array([[["a"]]]), np.ones((1, 1)), np.ones((1, 1))),
            TypeError,
            "tomo",
        ),
        (
            lambda: prep.normalize_nf(
                np.ones((3, 2, 2)), np.ones((2, 2, 2)), np.ones((2, 2)), [2, 1]
            ),
            ValueError,
            "flat_loc",
        ),
        (lambda: prep.normalize_bg(np.ones((2, 2, 6)), air=4), ValueError, "air"),
        (lambda: prep.remove_outlier(np.ones((2, 3, 3)), -1.0), ValueError, "dif"),
        (lambda: prep.remove_outlier(np.ones((2, 3, 3)), 1.0, size=2.5), TypeError, "size"),
        (lambda: prep.remove_outlier(np.ones((2, 3, 3)), 1.0, mode="3d"), ValueError, "mode"),
        (lambda: prep.remove_outlier(np.ones((2, 3, 3)), 1.0, axis=3), ValueError, "axis"),
        (lambda: prep.remove_stripe_fw(np.ones((8, 2, 8)), wname="nope"), ValueError, "wname"),
        (lambda: prep.remove_stripe_fw(np.ones((8, 2, 8)), sigma=0), ValueError, "sigma"),
        (lambda: prep.remove_stripe_fw(np.ones((8, 2, 8)), level=0), ValueError, "level"),
        (lambda: prep.remove_stripe_ti(np.ones((8, 2, 8)), nblock=9), ValueError, "nblock"),
        (lambda: prep.remove_stripe_sf(np.ones((8, 2, 8)), size=0), ValueError, "size"),
        (lambda: prep.remove_all_stripe(np.ones((8, 2, 8)), dim=3), ValueError, "dim"),
        (lambda: prep.remove_all_stripe(np.ones((8, 2, 8)), snr=-1), ValueError, "snr"),
        (lambda: prep.retrieve_phase(np.ones((2, 4, 4)), energy=0), ValueError, "energy"),
        (lambda: prep.retrieve_phase(np.ones((2, 4, 4)), pixel_size="1"), TypeError, "pixel_size"),
    ],
)
def test_bad_input_names_the_argument(call, error, match):
    with pytest.raises(error, match=match):
        call()


# ------------------------------------------------------------------ bounded memory

_PHASE_MEMORY = """
import resource, sys
import dask, dask.array as da
import detcal.tomo._prep_common as common
from detcal.tomo import prep
common.BLOCK_BYTES = 8 * 2**20
# 64 projections of 256 x 256 (16 MiB), each padded to 512 x 512 for the filter
tomo = da.random.default_rng(0).random((64, 256, 256), chunks=(64, 256, 256), dtype="float32")
with dask.config.set(scheduler="synchronous"):
    prep.retrieve_phase(tomo[:1]).sum().compute()  # imports, FFT plans
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    prep.retrieve_phase(tomo).sum().compute()
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024)
"""


def test_retrieve_phase_memory_is_bounded_by_the_padded_working_set():
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", _PHASE_MEMORY], capture_output=True, text=True, check=True
    )
    growth_mib = float(result.stdout.split()[-1])
    # blocks sized by the padded working set: 2 projections (~7 MiB) at a time, the peak grew
    # by 8 MiB; sized by the float32 input (32 projections a block) it grew by 116 MiB
    assert growth_mib < 40
