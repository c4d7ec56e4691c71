"""`detcal info` and `detcal convert`."""

from __future__ import annotations

import json

import numpy as np
import pytest
import tifffile
import zarr

from detcal import io
from detcal.cli import main
from detcal.tomo.dataset import open_dataset


def test_info_describes_dxchange_with_its_angles(real_data, capsys):
    assert main(["info", str(real_data / "tooth.h5")]) == 0
    out = capsys.readouterr().out
    assert "exchange/data, exchange/data_dark, exchange/data_white, exchange/theta" in out
    assert "(181, 2, 640)" in out and "float32" in out
    assert "theta:  181 angles from 0 to 179.006, step 0.994475 degrees" in out
    assert "axes:   theta, y, x" in out
    assert "None" not in out and "True" not in out
    assert main(["info", str(real_data / "tooth.h5"), "--key", "exchange/theta"]) == 0
    assert "(181,)" in capsys.readouterr().out


def test_info_json_is_json_with_theta(real_data, capsys):
    assert main(["info", "--json", str(real_data / "tooth.h5")]) == 0
    text = capsys.readouterr().out
    found = json.loads(text)
    assert found["shape"] == [181, 2, 640] and found["dtype"] == "float32"
    assert found["theta"]["units"] == "degrees" and found["theta"]["count"] == 181
    assert found["theta"]["min"] == 0.0 and found["theta"]["max"] == pytest.approx(179.0055, 1e-6)
    assert found["detcal"] is None and "null" in text and "None" not in text


def test_info_lists_pyramid_levels_axes_and_attrs(tmp_path, capsys):
    out = io.save_array(
        np.zeros((2, 1100, 2500), np.uint8),
        tmp_path / "p.zarr",
        attrs={"a": 1, "ok": True},
        axes=["angle", {"name": "y", "unit": "micrometer", "scale": 0.5}, "x"],
    )
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "levels: (2, 1100, 2500) (2, 550, 1250) (2, 275, 625)" in text
    assert 'detcal: {"a": 1, "ok": true}' in text
    assert "axes:   angle, y (space, micrometer, pixel 0.5), x (space)" in text


def test_info_on_a_container_without_default_asks_for_a_key(tmp_path, capsys):
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 3)), b=np.ones(4))
    assert main(["info", str(tmp_path / "two.npz")]) == 0
    out = capsys.readouterr().out
    assert "keys:   a, b" in out and "--key" in out
    assert main(["info", "--json", str(tmp_path / "two.npz")]) == 0
    assert json.loads(capsys.readouterr().out)["key_needed"] is True


def test_convert_dxchange_whole_so_tomo_reads_it(real_data, tmp_path, capsys):
    target = tmp_path / "scan.zarr"
    assert main(["convert", str(real_data / "tooth.h5"), str(target), "-q"]) == 0
    captured = capsys.readouterr()
    assert captured.err == ""  # --quiet
    assert "exchange/data_white (10, 2, 640)" in captured.out
    assert io.list_keys(target) == [
        "exchange/data", "exchange/data_dark", "exchange/data_white", "exchange/theta"
    ]  # fmt: skip
    before, after = open_dataset(real_data / "tooth.h5"), open_dataset(target)
    for name in ("projections", "flats", "darks"):
        np.testing.assert_array_equal(
            getattr(after, name).compute(), getattr(before, name).compute()
        )
    np.testing.assert_array_equal(after.theta, before.theta)
    assert io.read_metadata(target, key="exchange/theta")["units"] == "degrees"
    assert io.open_array(target).shape == (181, 2, 640)  # projections by default, as in HDF5


def test_convert_dxchange_to_a_single_array_format_is_refused(real_data, tmp_path, capsys):
    assert main(["convert", str(real_data / "tooth.h5"), str(tmp_path / "s.tif")]) == 2
    assert "DXchange scan" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_convert_tif_to_zarr_with_chunks(real_data, tmp_path, capsys):
    target = tmp_path / "ct.zarr"
    source = str(real_data / "ct_projections.tif")
    assert main(["convert", source, str(target), "--chunks", "3", "100", "128"]) == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out
    assert "convert: 100%" in captured.err and "\r" not in captured.err  # not a terminal
    back = io.open_array(target)
    np.testing.assert_array_equal(back.compute(), tifffile.imread(real_data / "ct_projections.tif"))
    assert zarr.open_array(target / "0", mode="r").chunks == (3, 100, 128)


def test_convert_h5_key_to_h5_output_key(real_data, tmp_path):
    target = tmp_path / "flats.h5"
    args = ["convert", str(real_data / "tooth.h5"), str(target), "--key", "exchange/data_white"]
    assert main([*args, "--output-key", "flats"]) == 0
    assert io.list_keys(target) == ["flats"]
    truth = io.open_array(real_data / "tooth.h5", key="exchange/data_white").compute()
    np.testing.assert_array_equal(io.open_array(target).compute(), truth)


def test_convert_keeps_axes(tmp_path):
    axes = [{"name": "t", "unit": "second", "scale": 2.0}, "y", "x"]
    source = io.save_array(np.ones((3, 8, 8), np.float32), tmp_path / "a.h5", axes=axes)
    assert main(["convert", str(source), str(tmp_path / "b.zarr"), "-q"]) == 0
    names = [(a["name"], a["type"]) for a in io.read_metadata(tmp_path / "b.zarr")["axes"]]
    assert names == [("t", "time"), ("y", "space"), ("x", "space")]


def test_convert_refuses_to_overwrite_then_overwrites(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(3, 4))
    np.save(tmp_path / "b.npy", np.zeros(2))
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("detcal: error: ") and "add --overwrite" in err
    assert "overwrite=True" not in err and len(err.splitlines()) == 1
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.zeros(2))
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--overwrite"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "{tmp}/missing.zarr"], "no such file"),
        (["convert", "{tmp}/a.npy", "{tmp}/out.jpg"], "OUTPUT: cannot save to"),
        (["convert", "{tmp}/a.npy", "{tmp}/out.zarr", "--chunks", "2", "2", "2"], "3 sizes"),
        (["convert", "{tmp}/a.npy", "{tmp}/a.npy", "--overwrite"], "input"),
        (["convert", "{tmp}/a.npy", "{tmp}/nowhere/out.zarr"], "does not exist"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, args, message):
    np.save(tmp_path / "a.npy", np.zeros((4, 5)))
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert "unknown suffix; " not in err  # said once
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


@pytest.mark.parametrize("chunks", [["1,x"], ["0"], ["1", "2,3"]])
def test_bad_chunks_text_is_a_usage_error(chunks):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "a.npy", "b.zarr", "--chunks", *chunks])
    assert exit_info.value.code == 2
