"""``detcal tomo`` on a synthetic DXchange scan and the real tooth scan."""

from __future__ import annotations

import json

import numpy as np
import pytest

from detcal.cli import main
from detcal.io import open_array
from detcal.sample_data.tomography import make_tomography
from detcal.tomo.pipeline import sidecar_path, write_dxchange


@pytest.fixture(scope="module")
def scan():
    return make_tomography(n_angles=120, n_rows=3, n_cols=96, seed=7)


@pytest.fixture(scope="module")
def scan_file(scan, tmp_path_factory):
    path = tmp_path_factory.mktemp("cli") / "scan.h5"
    return write_dxchange(path, scan.projections, scan.flats, scan.darks, scan.theta)


def test_center_prints_the_centre(scan, scan_file, capsys):
    assert main(["tomo", "center", str(scan_file), "--method", "vo", "--stripe", "fw"]) == 0
    assert abs(float(capsys.readouterr().out.strip()) - scan.center) < 0.5


def test_recon_writes_volume_and_options(tmp_path, scan, scan_file, capsys):
    out = tmp_path / "rec.zarr"
    code = main([
        "tomo", "recon", str(scan_file), "-o", str(out), "--center-method", "pc",
        "--stripe", "sf", "--sf-size", "7", "--outlier-diff", "2000", "--outlier-size", "3",
        "--filter", "hann", "--rows", "1:3", "--slab", "1", "-q",
    ])  # fmt: skip
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    rec = open_array(out).compute()
    assert rec.shape == (2, 96, 96)
    side = json.loads(sidecar_path(out).read_text())
    assert side["stripe"] == "sf" and side["sf_size"] == 7 and side["filter_name"] == "hann"
    assert side["rows"] == [1, 3] and side["center_method"] == "pc"
    assert abs(side["run"]["center"] - scan.center) < 0.5
    truth, mask = scan.phantom[1:3], scan.object_mask[1:3]
    err = np.sqrt(np.mean((rec[mask] - truth[mask]) ** 2) / np.mean(truth[mask] ** 2))
    assert err < 0.2


def test_recon_uint8_crop_and_options_file(tmp_path, scan, scan_file):
    first = tmp_path / "a.h5"
    assert main(["tomo", "recon", str(scan_file), "-o", str(first), "--center",
                 f"{scan.center}", "--uint8", "-0.005", "0.03", "--crop", "4", "4", "8", "8",
                 "-q"]) == 0  # fmt: skip
    rec = open_array(first).compute()
    assert rec.dtype == np.uint8 and rec.shape == (3, 88, 80)
    # replay the saved options with one flag changed
    second = tmp_path / "b.npy"
    assert main(["tomo", "recon", str(scan_file), "-o", str(second), "--options",
                 str(sidecar_path(first)), "--rows", "0:1", "-q"]) == 0  # fmt: skip
    replay = open_array(second).compute()
    assert replay.shape == (1, 88, 80) and replay.dtype == np.uint8
    # the same slice, up to float rounding at the 8-bit steps
    diff = np.abs(replay[0].astype(int) - rec[0])
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
    replayed = json.loads(sidecar_path(second).read_text())
    assert replayed["crop"] == [4, 4, 8, 8] and replayed["rows"] == [0, 1]


def test_sweep(tmp_path, scan, scan_file, capsys):
    out = tmp_path / "sweep.zarr"
    c0 = round(scan.center) - 2
    assert main(["tomo", "sweep", str(scan_file), "--centers", str(c0), str(c0 + 4), "1",
                 "--row", "1", "-o", str(out), "-q"]) == 0  # fmt: skip
    stack = open_array(out).compute()
    assert stack.shape == (5, 96, 96)
    assert json.loads(sidecar_path(out).read_text())["run"]["centers"] == [
        c0,
        c0 + 1,
        c0 + 2,
        c0 + 3,
        c0 + 4,
    ]


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--center", "400"], "outside the detector"),
        (["--rows", "0:50"], "beyond the detector"),
        (["--360"], "360-degree scan is needed"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(tmp_path, scan_file, capsys, extra, words):
    out = tmp_path / "rec.zarr"
    assert main(["tomo", "recon", str(scan_file), "-o", str(out), "-q", *extra]) == 2
    assert words in capsys.readouterr().err
    assert not out.exists() and not sidecar_path(out).exists()


def test_unknown_names_are_refused(tmp_path, scan_file):
    for extra in (["--filter", "gauss"], ["--stripe", "wavelet"], ["--rows", "a:b"]):
        with pytest.raises(SystemExit) as exc:
            main(["tomo", "recon", str(scan_file), "-o", str(tmp_path / "r.zarr"), *extra])
        assert exc.value.code == 2


def test_missing_input(tmp_path, capsys):
    assert main(["tomo", "center", str(tmp_path / "nope.h5")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_tooth_centre(real_data, capsys):
    assert main(["tomo", "center", str(real_data / "tooth.h5"), "--method", "pc"]) == 0
    c_pc = float(capsys.readouterr().out)
    assert main(["tomo", "center", str(real_data / "tooth.h5"), "--method", "vo"]) == 0
    c_vo = float(capsys.readouterr().out)
    assert abs(c_pc - c_vo) < 2.0
