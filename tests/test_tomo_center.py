"""Centre of rotation on synthetic scans with a known axis, and on the real tooth scan."""

from __future__ import annotations

import dask.array as da
import h5py
import numpy as np
import pytest
from scipy import ndimage

from detcal.sample_data.tomography import make_tomography
from detcal.tomo.center import center_sweep, find_center, find_center_pc, find_center_vo
from detcal.tomo.recon import recon


def minus_log(scan):
    flat, dark = scan.flats.mean(0), scan.darks.mean(0)
    return -np.log(np.clip((scan.projections - dark) / (flat - dark), 1e-6, None))


# raw scans with counting noise, ring-making stripes and outliers, normalised inline
SCANS = {
    "180, +3.7": dict(center_offset=3.7),
    "180, -6.3": dict(center_offset=-6.3, seed=3),
    "180, 256 cols": dict(n_cols=256, n_angles=360, center_offset=1.45, seed=5),
    "360, +2.2": dict(full_360=True, n_angles=361, center_offset=2.2, seed=1),
    "360, -4.9": dict(full_360=True, n_angles=360, center_offset=-4.9, seed=2),
}


@pytest.fixture(scope="module", params=list(SCANS))
def scan(request):
    sample = make_tomography(**SCANS[request.param])
    return sample, minus_log(sample)


@pytest.mark.parametrize("method, bound", [("vo", 0.25), ("pc", 0.25), ("nm", 0.5)])
def test_find_center_accuracy(scan, method, bound):
    sample, tomo = scan
    found = find_center(tomo, sample.theta, method=method)
    assert isinstance(found, float)
    assert abs(found - sample.center) <= bound


@pytest.mark.parametrize(
    "kwargs",
    [dict(center_offset=3.7), dict(n_angles=360, center_offset=-6.3, seed=3)],
    ids=["180 angles, +3.7", "360 angles, -6.3"],
)
def test_find_center_nm_on_a_wide_noisy_scan(kwargs):
    # 700 columns seen at 180-360 angles, counting noise, stripes and outliers: the entropy of
    # the raw slice is flat to 0.1 % over +-20 px here (it missed by 8-25 px); judged on the
    # denoised slice it is within 0.04 px
    sample = make_tomography(n_cols=700, **kwargs)
    found = find_center(minus_log(sample), sample.theta, method="nm")
    assert abs(found - sample.center) <= 0.1


def test_find_center_vo_alone_and_on_dask():
    sample = make_tomography(center_offset=-2.3, seed=7)
    tomo = minus_log(sample)
    assert abs(find_center_vo(tomo, sample.theta) - sample.center) <= 0.25
    # theta None means an even 180-degree scan
    assert find_center_vo(tomo) == pytest.approx(find_center_vo(tomo, sample.theta))
    lazy = da.from_array(tomo, chunks=(45, 1, 128))
    for method in ("vo", "pc"):
        assert find_center(lazy, sample.theta, method=method) == pytest.approx(
            find_center(tomo, sample.theta, method=method)
        )


def test_find_center_pc_two_views():
    sample = make_tomography(full_360=True, n_angles=360, center_offset=5.3, outliers=False)
    tomo = minus_log(sample)
    assert abs(find_center_pc(tomo[30], tomo[210], tol=0.1) - sample.center) <= 0.1
    with pytest.raises(ValueError, match="same shape"):
        find_center_pc(tomo[0], tomo[180, :2])


def test_center_sweep_peaks_at_the_axis():
    sample = make_tomography(noise=False, stripes=False, outliers=False)
    # asymmetric about the truth (index 8 of 12), so a reversed stack peaks elsewhere
    centers = sample.center + np.arange(-4, 2, 0.5)
    stack = center_sweep(sample.line_integrals, sample.theta, centers=centers, ind=1)
    assert stack.shape == (12, 128, 128) and stack.dtype == np.float32
    m = sample.object_mask[1]
    err = [np.sqrt(np.mean((s[m] - sample.phantom[1][m]) ** 2)) for s in stack]
    assert int(np.argmin(err)) == 8
    # each plane is the reconstruction at that centre
    np.testing.assert_allclose(
        stack[2],
        recon(sample.line_integrals[:, 1:2], sample.theta, center=centers[2], filter_name="shepp")[
            0
        ],
        atol=1e-4 * np.abs(stack).max(),
    )
    lazy = center_sweep(sample.line_integrals, sample.theta, centers=centers, ind=1, lazy=True)
    assert isinstance(lazy, da.Array) and lazy.chunks[0][0] == 2
    np.testing.assert_allclose(lazy[5:7].compute(), stack[5:7], atol=1e-4 * np.abs(stack).max())
    # a dask scan: nothing is read until a plane is looked at, then only row 1
    rows_read = []

    def load(block, block_info=None):
        rows_read.append(block_info[None]["chunk-location"][1])
        return block

    scan = da.from_array(sample.line_integrals, chunks=(90, 1, 128))
    scan = scan.map_blocks(load, dtype=scan.dtype)
    lazy = center_sweep(scan, sample.theta, centers=centers, ind=1)
    assert isinstance(lazy, da.Array) and not rows_read
    np.testing.assert_allclose(lazy[8].compute(), stack[8], atol=1e-4 * np.abs(stack).max())
    assert set(rows_read) == {1}


def test_360_data_with_180_angles_warns():
    sample = make_tomography(full_360=True, n_angles=180, center_offset=2.0, outliers=False)
    wrong = np.arange(180) * np.pi / 180
    with pytest.warns(UserWarning, match="360-degree scan"):
        find_center(minus_log(sample), wrong, method="vo")


def test_bad_input():
    sample = make_tomography(n_angles=60)
    tomo = minus_log(sample)
    with pytest.raises(ValueError, match="unknown method 'xy'; expected one of vo, pc, nm"):
        find_center(tomo, sample.theta, method="xy")
    with pytest.raises(ValueError, match="theta has 59 angles"):
        find_center(tomo, sample.theta[:-1])
    with pytest.raises(ValueError, match="between 0 and 127"):
        find_center(tomo, sample.theta, method="nm", init=200.0)
    with pytest.raises(ValueError, match="ind must be a row"):
        find_center(tomo, sample.theta, ind=4)
    with pytest.raises(ValueError, match="smin < smax"):
        find_center(tomo, sample.theta, smin=10, smax=-10)
    with pytest.raises(ValueError, match="between 0 and 127"):
        center_sweep(tomo, sample.theta, centers=[60.0, 130.0])
    with pytest.raises(ValueError, match="unknown filter_name"):
        center_sweep(tomo, sample.theta, centers=[60.0], filter_name="box")


def _tooth(real_data):
    with h5py.File(real_data / "tooth.h5", "r") as f:
        proj = f["exchange/data"][:]
        flat = f["exchange/data_white"][:].mean(axis=0)
        dark = f["exchange/data_dark"][:].mean(axis=0)
        theta = np.deg2rad(f["exchange/theta"][:])
    return -np.log(np.clip((proj - dark) / np.maximum(flat - dark, 1e-3), 1e-3, None)), theta


def test_real_tooth_scan(real_data):
    tomo, theta = _tooth(real_data)
    found = {m: find_center(tomo, theta, method=m) for m in ("vo", "pc", "nm")}
    assert abs(found["vo"] - found["pc"]) < 1.5
    assert abs(found["nm"] - found["vo"]) < 2.0
    center = found["vo"]
    n = tomo.shape[2]
    r = np.hypot(*np.meshgrid(np.arange(n) - (n - 1) / 2, np.arange(n) - (n - 1) / 2))
    inside = r < 0.45 * n

    def quality(c):
        rec = recon(tomo[:, :1], theta, center=c, filter_name="shepp")[0]
        gy, gx = np.gradient(ndimage.gaussian_filter(rec, 2))
        # sharper edges, and fewer negative (unphysical) streaks
        return (gx**2 + gy**2)[inside].mean(), -rec[inside][rec[inside] < 0].sum()

    sharp, negative = quality(center)
    for off in (-5.0, 5.0):
        sharp_off, negative_off = quality(center + off)
        assert sharp > sharp_off
        assert negative < negative_off
