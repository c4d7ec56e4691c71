"""Whole tomography runs: options, validation, laziness, the record, synthetic and real scans."""

from __future__ import annotations

import json
import math
import warnings

import dask
import dask.array as da
import numpy as np
import pytest
from dask.system import CPU_COUNT
from scipy import ndimage
from skimage.transform import iradon

import detcal.tomo.run as run_module
from detcal.io import open_array, read_metadata, save_array
from detcal.sample_data.tomography import make_tomography, relative_rms
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


# -- options ----------------------------------------------------------------------------------
def test_options_json_round_trip(tmp_path):
    opts = ReconOptions(
        stripe="ti", rows=(1, 3), crop=(2, 2, 3, 3), uint8_range=(-0.1, 0.5), center=61.5,
        beam_hardening=(0.0, 1.0, 0.1), ignore_projections=(4, 7), ring_removal=True,
        bilateral=True, angle_range=360.0, fw_pad=False,
    )  # fmt: skip
    path = tmp_path / "o.json"
    path.write_text(opts.to_json({"center": 61.5}))
    assert load_options(path) == opts
    assert json.loads(path.read_text())["run"] == {"center": 61.5}


def test_options_written_before_still_load(tmp_path):
    # a record written by the previous release: lists, "center": null, the run under "run"
    old = {"detcal_tomo_options": 1, "rows": [0, 2], "slab": 8, "ignore_projections": [],
           "stripe": "fw", "fw_level": None, "crop": None, "filter_par": None, "center": None,
           "uint8_range": [-0.1, 0.2], "run": {"center": 300.5, "center_found": True}}  # fmt: skip
    path = tmp_path / "old.json"
    path.write_text(json.dumps(old))
    opts = load_options(path)
    assert opts.rows == (0, 2) and opts.uint8_range == (-0.1, 0.2) and opts.center is None


def test_options_file_errors_name_the_file(tmp_path):
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json")
    with pytest.raises(ValueError, match="broken.json.*not valid JSON"):
        load_options(broken)
    wrong = tmp_path / "wrong.json"
    wrong.write_text(json.dumps({"slab": 0}))
    with pytest.raises(ValueError, match="wrong.json.*slab"):
        load_options(wrong)


@pytest.mark.parametrize(
    ("changes", "error", "words"),
    [
        ({"filter_name": "gauss"}, ValueError, "filter_name: unknown value 'gauss'"),
        ({"stripe": "wavelet"}, ValueError, "stripe: unknown"),
        ({"center_method": "entropy"}, ValueError, "center_method: unknown"),
        ({"rows": (5, 2)}, ValueError, "rows: expected START < END"),
        ({"slab": 0}, ValueError, "slab: expected an integer >= 1"),
        ({"uint8_range": (1.0, 0.0)}, ValueError, "uint8_range: expected LOW < HIGH"),
        ({"crop": (1, 2, 3)}, ValueError, "crop: expected 4 values"),
        ({"crop": (1, 2, 3, -1)}, ValueError, "crop: expected an integer >= 0"),
        ({"phase": "yes"}, TypeError, "phase: expected True or False"),
        ({"alpha": -1.0}, ValueError, "alpha: expected a number > 0"),
        ({"center": float("nan")}, ValueError, "center: expected a finite number"),
        ({"ring_thresh_min": 400.0}, ValueError, "ring_thresh_min"),
        ({"beam_hardening": tuple(range(7))}, ValueError, "beam_hardening: expected 1 to 6"),
        ({"outlier_size": 1.5}, TypeError, "outlier_size: expected an integer"),
    ],
)
def test_options_reject_bad_values(changes, error, words):
    with pytest.raises(error, match=words):
        ReconOptions(**changes)


def test_options_reject_unknown_names():
    with pytest.raises(ValueError, match="unknown tomography option"):
        ReconOptions.from_dict({"strip": "fw"})


def test_every_option_is_declared_with_units_in_its_help():
    from detcal._options import option_fields

    fields = option_fields(ReconOptions)
    assert len(fields) == len(ReconOptions.__dataclass_fields__)
    helps = {field.name: spec.help for field, spec, _ in fields}
    for name, unit in [("pixel_size", "cm"), ("dist", "cm"), ("energy", "keV"),
                       ("angle_offset", "radians"), ("angle_range", "degrees")]:  # fmt: skip
        assert unit in helps[name], name


# -- opening and validation -------------------------------------------------------------------
def test_open_dataset_converts_degrees_and_chunks_in_row_blocks(scan, scan_file):
    ds = open_dataset(scan_file, slab=2)
    assert isinstance(ds.projections, da.Array)
    assert ds.projections.chunks[1] == (2, 2) and ds.projections.chunks[2] == (128,)
    np.testing.assert_allclose(ds.theta, scan.theta, atol=1e-12)
    assert ds.flats.shape == scan.flats.shape


def _write(tmp_path, scan, **changes):
    parts = {"projections": scan.projections, "flats": scan.flats, "darks": scan.darks,
             "theta": scan.theta} | changes  # fmt: skip
    return write_dxchange(tmp_path / "bad.h5", **parts, overwrite=True)


@pytest.mark.parametrize(
    ("changes", "options", "words"),
    [
        ({"theta": np.linspace(0, np.pi, 179, endpoint=False)}, {}, "theta: 179 angles"),
        ({"flats": np.ones((3, 4, 100), np.uint16)}, {}, "flats: expected"),
        ({}, {"center": 500.0}, "center: 500.0 is outside the detector"),
        ({}, {"rows": (0, 9)}, "rows: .* beyond the detector"),
        ({}, {"center_row": 3, "rows": (0, 2)}, "center_row: 3 is outside"),
        ({}, {"ignore_projections": (500,)}, "beyond the 180 projections"),
        ({}, {"full_360": True}, "full_360: .*360-degree scan is needed"),
        ({}, {"crop": (64, 64, 0, 0)}, "crop: .*leaves nothing"),
    ],
)
def test_bad_input_fails_before_writing(tmp_path, scan, changes, options, words):
    path = _write(tmp_path, scan, **changes)
    out = tmp_path / "rec.zarr"
    with pytest.raises(ValueError, match=words):
        reconstruct_dataset(path, out, **options)
    assert not out.exists() and not sidecar_path(out).exists()


def test_output_checks(tmp_path, scan_file):
    with pytest.raises(ValueError, match="output_path"):
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
def test_prepare_reads_nothing_and_a_slab_reads_its_rows(scan, scan_file, reads):
    opts = ReconOptions(slab=2, stripe="fw", outlier_diff=2000.0, outlier_mode="1d")
    prepared = prepare(open_dataset(scan_file, slab=2), opts)
    assert reads["bytes"] == 0  # building the graph reads no projection
    volume = reconstruct_volume(prepared, scan.center, opts)
    assert isinstance(volume, da.Array) and reads["bytes"] == 0
    assert volume.shape == (4, 128, 128) and volume.chunks[0] == (2, 2)
    first = volume[2:4].compute()
    # the slab of rows 2-3 read those rows only: half of the projections
    assert reads["bytes"] == scan.projections[:, 2:4].nbytes
    # one slab computed on its own equals the same rows of the whole volume
    np.testing.assert_allclose(first, volume.compute()[2:4], rtol=1e-5, atol=1e-6)


# -- whole runs ---------------------------------------------------------------------------------
def test_synthetic_run_matches_phantom_and_records_the_centre(tmp_path, scan, scan_file):
    seen = []
    out = reconstruct_dataset(
        scan_file, tmp_path / "rec.zarr", center_method="vo", stripe="ti",
        outlier_diff=2000.0, slab=2, on_center=lambda c, how: seen.append((c, how)),
    )  # fmt: skip
    rec = open_array(out).compute()
    assert rec.shape == scan.phantom.shape
    side = json.loads(sidecar_path(out).read_text())
    center = side["run"]["center"]
    assert abs(center - scan.center) < 0.25
    assert seen == [(center, "found with vo on row 2")]
    # the record holds the centre USED, so a replay does not search again
    assert side["center"] == center and side["run"]["center_found"] is True
    assert side["stripe"] == "ti"
    assert read_metadata(out)["detcal"]["run"]["center"] == center
    error = relative_rms(rec, scan.phantom, scan.object_mask)
    assert error < 0.1, error
    # without preparation the zingers make it worse
    raw = reconstruct_dataset(scan_file, tmp_path / "raw.zarr", center=scan.center)
    assert relative_rms(open_array(raw).compute(), scan.phantom, scan.object_mask) > error


def test_replaying_the_record_does_not_search_again(tmp_path, scan_file, monkeypatch):
    first = reconstruct_dataset(scan_file, tmp_path / "a.npy", center_method="pc", rows=(1, 2))
    import detcal.tomo.scan_center as scan_center

    def no_search(*args, **kwargs):
        raise AssertionError("the centre was searched again")

    monkeypatch.setattr(scan_center, "find_center", no_search)
    again = reconstruct_dataset(scan_file, tmp_path / "b.npy", options=load_options(
        sidecar_path(first)))  # fmt: skip
    np.testing.assert_array_equal(np.load(again), np.load(first))
    assert json.loads(sidecar_path(again).read_text())["run"]["center_how"] == "given"


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


def test_ignore_projections_barely_change_the_result(scan, scan_file):
    opts = ReconOptions(center=scan.center, ignore_projections=(5, 50, 100))
    rec = reconstruct_volume(prepare(open_dataset(scan_file), opts), scan.center, opts)
    assert relative_rms(rec.compute(), scan.phantom, scan.object_mask) < 0.1


def test_angle_offset_is_added_to_the_angles(tmp_path, scan, scan_file):
    offset = 0.3
    opts = ReconOptions(angle_offset=offset, rows=(1, 2))
    prepared = prepare(open_dataset(scan_file), opts)
    np.testing.assert_allclose(prepared.theta, scan.theta + offset, atol=1e-12)
    # the same as a file whose stored angles already hold the offset
    moved = write_dxchange(tmp_path / "moved.h5", scan.projections, scan.flats, scan.darks,
                           scan.theta + offset)  # fmt: skip
    ref = reconstruct_volume(prepare(open_dataset(moved), opts.replace(angle_offset=0.0)),
                             scan.center)  # fmt: skip
    rec = reconstruct_volume(prepared, scan.center).compute()
    np.testing.assert_allclose(rec, ref.compute(), atol=1e-6)
    # and the slice turns by the offset, in the sense the offset says
    plain = reconstruct_volume(prepare(open_dataset(scan_file), ReconOptions(rows=(1, 2))),
                               scan.center).compute()[0]  # fmt: skip
    mask = scan.object_mask[1]
    turned = {s: ndimage.rotate(plain, s * math.degrees(offset), reshape=False, order=1)
              for s in (1, -1)}  # fmt: skip
    right, wrong = (relative_rms(rec[0], turned[s], mask) for s in (1, -1))
    assert right < 0.5 * wrong, (right, wrong)


def test_sweep_dataset_order_and_record(tmp_path, scan, scan_file):
    # asymmetric about the truth: a reversed stack would point 1.5 px away
    centers = np.arange(scan.center - 2.5, scan.center + 1.01, 0.5)
    out = sweep_dataset(scan_file, tmp_path / "sweep.zarr", centers=centers, row=1)
    stack = open_array(out).compute()
    assert stack.shape == (centers.size, 128, 128)
    side = json.loads(sidecar_path(out).read_text())
    np.testing.assert_allclose(side["run"]["centers"], centers)
    np.testing.assert_allclose(read_metadata(out)["detcal"]["centers"], centers)
    errors = [relative_rms(s, scan.phantom[1], scan.object_mask[1]) for s in stack]
    assert abs(centers[int(np.argmin(errors))] - scan.center) <= 0.25


def test_reconstructions_are_saved_on_one_thread_per_core(
    tmp_path, scan_file, monkeypatch, store_threads
):
    # a store's default pool is two threads per core; a slab costs far more to reconstruct
    # than to write, so these saves keep one per core (extra threads only hold more slabs)
    pools = []

    def recording(*args, **kwargs):  # the pool a store started right here gets
        pools.append(store_threads())
        return save_array(*args, **kwargs)

    monkeypatch.setattr(run_module, "save_array", recording)
    reconstruct_dataset(scan_file, tmp_path / "a.zarr", center=63.5, rows=(1, 2))
    sweep_dataset(scan_file, tmp_path / "s.zarr", centers=[63.0, 64.0], row=1)
    with dask.config.set(num_workers=3):  # as --threads 3 sets it
        reconstruct_dataset(scan_file, tmp_path / "b.zarr", center=63.5, rows=(1, 2))
    assert pools == [min(CPU_COUNT, 24)] * 2 + [3]


def test_sweep_refuses_too_many_slices_or_too_little_disk(tmp_path, scan_file, monkeypatch):
    out = tmp_path / "sweep.zarr"
    with pytest.raises(ValueError, match="max_slices: .*1001 slices of 128 x 128"):
        sweep_dataset(scan_file, out, centers=np.linspace(10, 110, 1001))
    monkeypatch.setattr(run_module.shutil, "disk_usage", lambda p: type("U", (), {"free": 10**5}))
    with pytest.raises(ValueError, match="only 0.0001 GB are free"):
        sweep_dataset(scan_file, out, centers=[60.0, 61.0, 62.0])
    assert list(tmp_path.iterdir()) == []


def _detector_axis(center, overlap, rotation, n_cols):
    """Axis column on the detector of a centre in the stitched sinogram."""
    return center - (n_cols - round(overlap)) if rotation == "left" else center


@pytest.mark.parametrize("offset", [30.0, -30.0])
def test_full_360_half_acquisition(tmp_path, offset):
    s = make_tomography(
        n_angles=360, n_rows=2, n_cols=96, full_360=True, half_acquisition=True,
        center_offset=offset, stripes=False, outliers=False, seed=5,
    )  # fmt: skip
    path = write_dxchange(tmp_path / "s360.h5", s.projections, s.flats, s.darks, s.theta)
    out = reconstruct_dataset(path, tmp_path / "r360.zarr", full_360=True)
    run = json.loads(sidecar_path(out).read_text())["run"]
    axis = _detector_axis(run["center"], run["overlap"], run["rotation"], 96)
    assert abs(axis - s.center) < 0.5, (axis, s.center)
    rec = open_array(out).compute()
    n = min(rec.shape[-1], s.phantom.shape[-1])
    crop = lambda a: a[..., (a.shape[-2] - n) // 2 :, (a.shape[-1] - n) // 2 :][..., :n, :n]  # noqa: E731
    assert relative_rms(crop(rec), crop(s.phantom), crop(s.object_mask)) < 0.2


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
    assert relative_rms(rec, scan.phantom, scan.object_mask) < 0.1
