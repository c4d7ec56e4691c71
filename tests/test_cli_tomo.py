"""``detcal tomo`` on a synthetic DXchange scan and the real tooth scan."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from detcal.cli import build_parser, main
from detcal.io import open_array, read_metadata
from detcal.sample_data.tomography import make_tomography
from detcal.tomo.options import ReconOptions
from detcal.tomo.pipeline import sidecar_path, write_dxchange


@pytest.fixture(scope="module")
def scan():
    return make_tomography(n_angles=120, n_rows=3, n_cols=96, seed=7)


@pytest.fixture(scope="module")
def scan_file(scan, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "scan.h5"
    return write_dxchange(path, scan.projections, scan.flats, scan.darks, scan.theta)


def _flags(action: str) -> set[str]:
    parser = build_parser(["tomo"])
    tomo = parser._subparsers._group_actions[0].choices["tomo"]
    sub = tomo._subparsers._group_actions[0].choices[action]
    return {s for a in sub._actions for s in a.option_strings}


def test_every_option_has_a_recon_flag_and_one_grammar():
    flags = _flags("recon")
    for name in ReconOptions.__dataclass_fields__:
        assert "--" + name.replace("_", "-") in flags, name
    for flag in ("--ring-removal", "--bilateral", "--angle-range", "--fw-pad", "--no-fw-pad"):
        assert flag in flags
    # the same spelling in every sub-command
    assert {"--center-method", "--center-row"} <= _flags("center")
    assert {"--center-row", "--max-slices", "--centers"} <= _flags("sweep")
    assert "--method" not in _flags("center") and "--row" not in _flags("sweep")


def test_center_prints_the_centre(scan, scan_file, capsys):
    code = main(["tomo", "center", str(scan_file), "--center-method", "vo", "--stripe", "fw",
                 "--center-row", "1"])  # fmt: skip
    assert code == 0
    assert abs(float(capsys.readouterr().out.strip()) - scan.center) < 0.5


def test_recon_prints_and_records_the_centre_used(tmp_path, scan, scan_file, capsys):
    out = tmp_path / "rec.zarr"
    code = main([
        "tomo", "recon", str(scan_file), "-o", str(out), "--center-method", "pc",
        "--stripe", "sf", "--sf-size", "7", "--outlier-diff", "2000", "--outlier-size", "3",
        "--filter-name", "hann", "--rows", "1", "3", "--slab", "1", "-q",
    ])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    rec = open_array(out).compute()
    assert rec.shape == (2, 96, 96)
    side = json.loads(sidecar_path(out).read_text())
    assert side["stripe"] == "sf" and side["sf_size"] == 7 and side["filter_name"] == "hann"
    assert side["rows"] == [1, 3] and side["center_method"] == "pc"
    center = side["run"]["center"]
    assert abs(center - scan.center) < 0.5
    assert side["center"] == center  # replaying uses it, no second search
    assert f"centre {center:.2f} (found with pc on row 2)" in printed and "wrote" in printed
    truth, mask = scan.phantom[1:3], scan.object_mask[1:3]
    err = np.sqrt(np.mean((rec[mask] - truth[mask]) ** 2) / np.mean(truth[mask] ** 2))
    assert err < 0.2
    # OME-NGFF axes: a volume in space; no pixel size given, so no unit is claimed
    axes = read_metadata(out)["axes"]
    assert [(a["name"], a["type"], a["scale"]) for a in axes] == [
        ("z", "space", 1.0), ("y", "space", 1.0), ("x", "space", 1.0)
    ] and not any("unit" in a for a in axes)  # fmt: skip


def test_recon_carries_the_pixel_size_into_the_axes(tmp_path, scan, scan_file):
    out = tmp_path / "rec.zarr"
    assert main(["tomo", "recon", str(scan_file), "-o", str(out), "--center", f"{scan.center}",
                 "--pixel-size", "6.5e-5", "--rows", "0", "1", "-q"]) == 0  # fmt: skip
    axes = read_metadata(out)["axes"]
    assert [a["name"] for a in axes] == ["z", "y", "x"]
    assert all(a["unit"] == "centimeter" and a["scale"] == 6.5e-5 for a in axes)


def test_recon_uint8_crop_and_options_file(tmp_path, scan, scan_file):
    first = tmp_path / "a.h5"
    assert main(["tomo", "recon", str(scan_file), "-o", str(first), "--center",
                 f"{scan.center}", "--uint8-range", "-0.005", "0.03", "--crop", "4", "4", "8",
                 "8", "--ring-removal", "--no-pad", "-q"]) == 0  # fmt: skip
    rec = open_array(first).compute()
    assert rec.dtype == np.uint8 and rec.shape == (3, 88, 80)
    recorded = json.loads(sidecar_path(first).read_text())
    assert recorded["ring_removal"] is True and recorded["pad"] is False
    # replay the saved options with one flag changed
    second = tmp_path / "b.npy"
    assert main(["tomo", "recon", str(scan_file), "-o", str(second), "--options",
                 str(sidecar_path(first)), "--rows", "0", "1", "-q"]) == 0  # fmt: skip
    replay = open_array(second).compute()
    assert replay.shape == (1, 88, 80) and replay.dtype == np.uint8
    # the same slice, up to float rounding at the 8-bit steps
    diff = np.abs(replay[0].astype(int) - rec[0])
    assert diff.max() <= 1 and (diff == 0).mean() > 0.999
    replayed = json.loads(sidecar_path(second).read_text())
    assert replayed["crop"] == [4, 4, 8, 8] and replayed["rows"] == [0, 1]
    assert replayed["ring_removal"] is True and replayed["pad"] is False


def test_sweep_writes_the_centres_into_the_output(tmp_path, scan, scan_file, capsys):
    out = tmp_path / "sweep.zarr"
    c0 = round(scan.center) - 2
    assert main(["tomo", "sweep", str(scan_file), "--centers", str(c0), str(c0 + 4), "1",
                 "--center-row", "1", "-o", str(out), "-q"]) == 0  # fmt: skip
    stack = open_array(out).compute()
    assert stack.shape == (5, 96, 96)
    expected = [c0 + i for i in range(5)]
    assert read_metadata(out)["detcal"]["centers"] == expected
    axes = read_metadata(out)["axes"]
    assert [(a["name"], a["type"]) for a in axes] == [
        ("center", "center"), ("y", "space"), ("x", "space")
    ]  # fmt: skip
    assert json.loads(sidecar_path(out).read_text())["run"]["centers"] == expected
    assert "5 x 96 x 96 float32" in capsys.readouterr().out


def test_sweep_refuses_a_huge_sweep(tmp_path, scan_file, capsys):
    out = tmp_path / "sweep.zarr"
    code = main(["tomo", "sweep", str(scan_file), "--centers", "0", "95", "0.01", "-o", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "--max-slices: the sweep would write 9501 slices of 96 x 96 float32" in err
    assert list(tmp_path.iterdir()) == []


def test_sweep_interrupted_leaves_nothing(tmp_path, scan, as_from_a_terminal):
    big = make_tomography(n_angles=90, n_rows=1, n_cols=256, seed=1)
    path = write_dxchange(tmp_path / "big.h5", big.projections, big.flats, big.darks, big.theta)
    out = tmp_path / "sweep.zarr"
    code = "import sys; from detcal.cli import main; sys.exit(main(sys.argv[1:]))"
    proc = subprocess.Popen(
        [sys.executable, "-c", code, "tomo", "sweep", str(path), "--centers", "100", "155",
         "0.25", "-o", str(out), "--max-slices", "500"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=as_from_a_terminal,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not any(".detcal-tmp-" in p.name for p in tmp_path.iterdir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.3)  # well into writing
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    time.sleep(1.0)  # nothing appears later either
    assert sorted(p.name for p in tmp_path.iterdir()) == ["big.h5"]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--center", "400"], "--center: 400.0 is outside the detector"),
        (["--rows", "0", "50"], "--rows: (0, 50) go beyond the detector"),
        (["--full-360"], "--full-360: theta spans"),
        (["--slab", "0"], "--slab: expected an integer >= 1"),
        (["--alpha", "-1"], "--alpha: expected a number > 0"),
        (["--crop", "1", "1", "1", "-1"], "--crop: expected an integer >= 0"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, scan_file, capsys, extra, words):
    out = tmp_path / "rec.zarr"
    assert main(["tomo", "recon", str(scan_file), "-o", str(out), "-q", *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists() and not sidecar_path(out).exists()


@pytest.mark.parametrize("action", ["recon", "sweep"])
def test_a_bad_output_is_named_by_its_flag(tmp_path, scan_file, capsys, action):
    extra = ["--centers", "40", "41", "1"] if action == "sweep" else []
    out = tmp_path / "missing" / "rec.zarr"
    assert main(["tomo", action, str(scan_file), "-o", str(out), "-q", *extra]) == 2
    assert capsys.readouterr().err.startswith("detcal: error: --output: folder ")
    assert main(["tomo", action, str(scan_file), "-o", str(tmp_path / "r.xyz"), *extra]) == 2
    assert "--output: cannot save" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_unknown_names_are_refused(tmp_path, scan_file):
    for extra in (["--filter-name", "gauss"], ["--stripe", "wavelet"], ["--rows", "a", "b"]):
        with pytest.raises(SystemExit) as exc:
            main(["tomo", "recon", str(scan_file), "-o", str(tmp_path / "r.zarr"), *extra])
        assert exc.value.code == 2


def test_broken_options_file_is_named(tmp_path, scan_file, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    assert main(["tomo", "center", str(scan_file), "--options", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_missing_input(tmp_path, capsys):
    assert main(["tomo", "center", str(tmp_path / "nope.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_tooth_centre(real_data, capsys):
    tooth = str(real_data / "tooth.h5")
    assert main(["tomo", "center", tooth, "--center-method", "pc"]) == 0
    c_pc = float(capsys.readouterr().out)
    assert main(["tomo", "center", tooth, "--center-method", "vo"]) == 0
    c_vo = float(capsys.readouterr().out)
    assert abs(c_pc - c_vo) < 2.0


def test_help_lists_units(capsys):
    with pytest.raises(SystemExit):
        main(["tomo", "recon", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "detector pixel size, cm" in text and "photon energy, keV" in text
    assert "added to every angle, radians" in text
