"""Whole tomography runs: options, validation, streaming, synthetic and real scans."""

from __future__ import annotations

import json
import math
import warnings

import dask.array as da
import numpy as np
import pytest
from scipy import ndimage
from skimage.transform import iradon

from detcal.io import open_array, read_metadata
from detcal.sample_data.tomography import make_tomography
from detcal.tomo.options import ReconOptions, load_options
from detcal.tomo.pipeline import (
    find_dataset_center,
    open_dataset,
    prepare,
    reconstruct_dataset,
    reconstruct_volume,
    sidecar_path,
    sweep_dataset,
    write_dxchange,
)


@pytest.fixture(scope="module")
def scan():
    return make_tomography(n_angles=180, n_rows=4, n_cols=128, seed=3)


@pytest.fixture(scope="module")
def scan_file(scan, tmp_path_factory):
    path = tmp_path_factory.mktemp("scan") / "scan.h5"
    return write_dxchange(path, scan.projections, scan.flats, scan.darks, scan.theta)


def rel_rms(rec, truth, mask):
    return float(np.sqrt(np.mean((rec[mask] - truth[mask]) ** 2) / np.mean(truth[mask] ** 2)))


# -- options ----------------------------------------------------------------------------------
def test_options_json_round_trip(tmp_path):
    opts = ReconOptions(
        stripe="ti", rows=(1, 3), crop=(2, 2, 3, 3), uint8_range=(-0.1, 0.5), center=61.5,
        beam_hardening=(0.0, 1.0, 0.1), ignore_projections=(4, 7),
    )  # fmt: skip
    path = tmp_path / "o.json"
    path.write_text(opts.to_json({"center": 61.5}))
    assert load_options(path) == opts
    assert json.loads(path.read_text())["run"] == {"center": 61.5}


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"filter_name": "gauss"}, ValueError, "filter_name"),
        ({"stripe": "wavelet"}, ValueError, "stripe"),
        ({"center_method": "entropy"}, ValueError, "center_method"),
        ({"rows": (5, 2)}, ValueError, "rows"),
        ({"slab": 0}, ValueError, "slab"),
        ({"uint8_range": (1.0, 0.0)}, ValueError, "uint8_range"),
        ({"crop": (1, 2, 3)}, ValueError, "crop"),
        ({"phase": "yes"}, TypeError, "phase"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"center": float("nan")}, ValueError, "center"),
    ],
)
def test_options_reject_bad_values(changes, error, words):
    with pytest.raises(error, match=words):
        ReconOptions(**changes)


def test_options_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown tomography option"):
        ReconOptions.from_dict({"strip": "fw"})


# -- opening and validation -------------------------------------------------------------------
def test_open_dataset_converts_degrees(scan, scan_file):
    ds = open_dataset(scan_file, slab=2)
    assert isinstance(ds.projections, da.Array)
    assert ds.projections.chunks[1] == (2, 2)
    np.testing.assert_allclose(ds.theta, scan.theta, atol=1e-12)
    assert ds.flats.shape == scan.flats.shape


def _write(tmp_path, scan, **changes):
    parts = {"projections": scan.projections, "flats": scan.flats, "darks": scan.darks,
             "theta": scan.theta} | changes  # fmt: skip
    return write_dxchange(tmp_path / "bad.h5", **parts, overwrite=True)


@pytest.mark.parametrize(
    ("changes", "options", "words"),
    [
        ({"theta": np.linspace(0, np.pi, 179, endpoint=False)}, {}, "179 angles"),
        ({"flats": np.ones((3, 4, 100), np.uint16)}, {}, "flats must be"),
        ({}, {"center": 500.0}, "outside the detector"),
        ({}, {"rows": (0, 9)}, "beyond the detector"),
        ({}, {"ignore_projections": (500,)}, "beyond the 180 projections"),
        ({}, {"full_360": True}, "360-degree scan is needed"),
        ({}, {"crop": (64, 64, 0, 0)}, "leaves nothing"),
    ],
)
def test_bad_input_fails_before_writing(tmp_path, scan, changes, options, words):
    path = _write(tmp_path, scan, **changes)
    out = tmp_path / "rec.zarr"
    with pytest.raises(ValueError, match=words):
        reconstruct_dataset(path, out, **options)
    assert not out.exists() and not sidecar_path(out).exists()


def test_output_checks(tmp_path, scan_file):
    with pytest.raises(ValueError, match="output_path must end"):
        reconstruct_dataset(scan_file, tmp_path / "rec.png", center=64.0)
    existing = tmp_path / "rec.npy"
    existing.write_bytes(b"keep")
    with pytest.raises(FileExistsError):
        reconstruct_dataset(scan_file, existing, center=64.0)
    assert existing.read_bytes() == b"keep"


def test_360_data_as_180_warns(tmp_path):
    s = make_tomography(n_angles=90, n_rows=1, n_cols=64, full_360=True, noise=False)
    path = write_dxchange(tmp_path / "s.h5", s.projections, s.flats, s.darks, s.theta)
    with pytest.warns(UserWarning, match="360-degree scan"):
        prepare(open_dataset(path))
    s = make_tomography(n_angles=90, n_rows=1, n_cols=64, noise=False)
    path = write_dxchange(tmp_path / "t.h5", s.projections, s.flats, s.darks, s.theta)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prepare(open_dataset(path))


# -- laziness -----------------------------------------------------------------------------------
def test_volume_is_lazy_in_row_slabs(scan, scan_file):
    opts = ReconOptions(slab=2, stripe="fw", outlier_diff=2000.0)
    prepared = prepare(open_dataset(scan_file, slab=2), opts)
    assert isinstance(prepared.tomo, da.Array)
    volume = reconstruct_volume(prepared, scan.center, opts)
    assert isinstance(volume, da.Array)
    assert volume.shape == (4, 128, 128)
    assert volume.chunks[0] == (2, 2)
    # one slab computed on its own equals the same rows of the whole volume
    np.testing.assert_allclose(volume[2:4].compute(), volume.compute()[2:4], rtol=1e-5, atol=1e-6)


# -- whole runs ---------------------------------------------------------------------------------
def test_synthetic_run_matches_phantom(tmp_path, scan, scan_file):
    out = reconstruct_dataset(
        scan_file, tmp_path / "rec.zarr", center_method="vo", stripe="ti",
        outlier_diff=2000.0, slab=2,
    )  # fmt: skip
    rec = open_array(out).compute()
    assert rec.shape == scan.phantom.shape
    side = json.loads(sidecar_path(out).read_text())
    assert abs(side["run"]["center"] - scan.center) < 0.5
    assert side["stripe"] == "ti" and side["run"]["center_found"] is True
    assert read_metadata(out)["detcal"]["run"]["center"] == side["run"]["center"]
    error = rel_rms(rec, scan.phantom, scan.object_mask)
    assert error < 0.1, error
    # without preparation the zingers make it worse
    raw = reconstruct_dataset(scan_file, tmp_path / "raw.zarr", center=scan.center)
    assert rel_rms(open_array(raw).compute(), scan.phantom, scan.object_mask) > error


def test_run_options_rows_crop_uint8_tif(tmp_path, scan, scan_file):
    out = reconstruct_dataset(
        scan_file, tmp_path / "rec.tif", center=scan.center, rows=(1, 3),
        crop=(10, 20, 5, 15), uint8_range=(-0.002, 0.02),
    )  # fmt: skip
    rec = open_array(out).compute()
    assert rec.shape == (2, 128 - 30, 128 - 20) and rec.dtype == np.uint8
    truth = scan.phantom[1:3, 10:-20, 5:-15]
    inside = truth > 0.5 * truth.max()
    assert rec[inside].mean() > 4 * max(rec[truth == 0].mean(), 1)
    assert load_options(sidecar_path(out)).rows == (1, 3)


def test_ignore_projections_and_angle_offset(tmp_path, scan, scan_file):
    # dropping a few projections barely changes the result
    opts = ReconOptions(center=scan.center, ignore_projections=(5, 50, 100))
    rec = reconstruct_volume(prepare(open_dataset(scan_file), opts), scan.center, opts)
    assert rel_rms(rec.compute(), scan.phantom, scan.object_mask) < 0.2
    # a 90-degree angle offset rotates the slice by 90 degrees
    turned = opts.replace(angle_offset=math.pi / 2)
    rot = reconstruct_volume(prepare(open_dataset(scan_file), turned), scan.center, turned)
    ref = np.rot90(rec.compute(), k=1, axes=(1, 2))
    alt = np.rot90(rec.compute(), k=-1, axes=(1, 2))
    m = scan.object_mask
    best = min(rel_rms(rot.compute(), ref, m), rel_rms(rot.compute(), alt, m))
    assert best < 0.2


def test_sweep_dataset(tmp_path, scan, scan_file):
    centers = np.arange(scan.center - 2, scan.center + 2.01, 0.5)
    out = sweep_dataset(scan_file, tmp_path / "sweep.zarr", centers=centers, row=1)
    stack = open_array(out).compute()
    assert stack.shape == (centers.size, 128, 128)
    side = json.loads(sidecar_path(out).read_text())
    np.testing.assert_allclose(side["run"]["centers"], centers)
    errors = [rel_rms(s, scan.phantom[1], scan.object_mask[1]) for s in stack]
    assert abs(centers[int(np.argmin(errors))] - scan.center) <= 0.5


def test_full_360_half_acquisition(tmp_path):
    s = make_tomography(
        n_angles=360, n_rows=2, n_cols=96, full_360=True, half_acquisition=True,
        center_offset=30.0, stripes=False, outliers=False, seed=5,
    )  # fmt: skip
    path = write_dxchange(tmp_path / "s360.h5", s.projections, s.flats, s.darks, s.theta)
    out = reconstruct_dataset(path, tmp_path / "r360.zarr", full_360=True, center_method="vo")
    rec = open_array(out).compute()
    n = min(rec.shape[-1], s.phantom.shape[-1])
    crop = lambda a: a[..., (a.shape[-2] - n) // 2 :, (a.shape[-1] - n) // 2 :][..., :n, :n]  # noqa: E731
    assert rel_rms(crop(rec), crop(s.phantom), crop(s.object_mask)) < 0.25


# -- the real scan ------------------------------------------------------------------------------
def test_tooth_whole_run(tmp_path, real_data):
    tooth = real_data / "tooth.h5"
    c_vo = find_dataset_center(tooth, center_method="vo")
    c_pc = find_dataset_center(tooth, center_method="pc")
    assert abs(c_vo - c_pc) < 2.0, (c_vo, c_pc)
    out = reconstruct_dataset(tooth, tmp_path / "tooth.zarr", stripe="fw", center=c_vo)
    rec = open_array(out).compute()
    assert rec.shape == (2, 640, 640)
    assert json.loads(sidecar_path(out).read_text())["run"]["center"] == pytest.approx(c_vo)
    # the tooth: a dense object in the middle, air around it
    slice0 = rec[0]
    yy, xx = np.mgrid[:640, :640] - 319.5
    r = np.hypot(yy, xx)
    obj = (r < 288) & (slice0 > 0.5 * np.percentile(slice0[r < 288], 99))
    air = (r > 240) & (r < 288) & ~obj
    assert obj.sum() > 5000 and air.sum() > 5000
    assert slice0[obj].mean() > 10 * abs(slice0[air].mean())
    # an independent filtered back-projection (scikit-image) of the same sinogram agrees
    prepared = prepare(open_dataset(tooth), ReconOptions(stripe="fw"))
    sino = prepared.tomo[:, 0].compute()
    shifted = ndimage.shift(sino, (0, 319.5 - c_vo), order=1, mode="nearest")
    ref = iradon(shifted.T, theta=np.rad2deg(prepared.theta), filter_name="ramp", circle=True)
    inner = r < 280
    assert np.corrcoef(ref[inner], slice0[inner])[0, 1] > 0.9


def test_cancelled_run_leaves_nothing(tmp_path, scan, scan_file):
    from detcal.progress import StepCancelled

    def cancel(done, total):
        if done > 0:
            raise StepCancelled("stop")

    out = tmp_path / "rec.zarr"
    with pytest.raises(StepCancelled):
        reconstruct_dataset(scan_file, out, center=scan.center, slab=1, progress=cancel)
    assert not out.exists() and not sidecar_path(out).exists()
    assert list(tmp_path.iterdir()) == []


def test_zarr_input_with_top_level_names(tmp_path, scan):
    import zarr

    group = zarr.open_group(str(tmp_path / "scan.zarr"), mode="w")
    group.create_array("data", data=scan.projections, chunks=(10, 4, 128))
    group.create_array("data_white", data=scan.flats)
    group.create_array("data_dark", data=scan.darks)
    group.create_array("theta", data=np.rad2deg(scan.theta))
    out = reconstruct_dataset(tmp_path / "scan.zarr", tmp_path / "rec.h5", center_method="pc")
    assert abs(json.loads(sidecar_path(out).read_text())["run"]["center"] - scan.center) < 0.5
    rec = open_array(out).compute()
    assert rel_rms(rec, scan.phantom, scan.object_mask) < 0.1
