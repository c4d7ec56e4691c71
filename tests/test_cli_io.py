"""`detcal info` and `detcal convert`."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import zarr

from detcal import io
from detcal.cli import main


def test_info_describes_dxchange_without_reading(real_data, capsys):
    assert main(["info", str(real_data / "tooth.h5")]) == 0
    out = capsys.readouterr().out
    assert "exchange/data, exchange/data_dark, exchange/data_white, exchange/theta" in out
    assert "(181, 2, 640)" in out and "float32" in out
    assert main(["info", str(real_data / "tooth.h5"), "--key", "exchange/theta"]) == 0
    assert "(181,)" in capsys.readouterr().out


def test_info_lists_pyramid_levels(tmp_path, capsys):
    out = io.save_array(np.zeros((2, 1100, 2500), np.uint8), tmp_path / "p.zarr", attrs={"a": 1})
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "levels: (2, 1100, 2500) (2, 550, 1250) (2, 275, 625)" in text
    assert "detcal: {'a': 1}" in text


def test_info_on_a_container_without_default_asks_for_a_key(tmp_path, capsys):
    np.savez(tmp_path / "two.npz", a=np.zeros((3, 3)), b=np.ones(4))
    assert main(["info", str(tmp_path / "two.npz")]) == 0
    out = capsys.readouterr().out
    assert "keys:   a, b" in out and "--key" in out


def test_convert_tif_to_zarr_with_chunks(real_data, tmp_path, capsys):
    target = tmp_path / "ct.zarr"
    code = main(
        ["convert", str(real_data / "ct_projections.tif"), str(target), "--chunks", "3,100,128"]
    )
    assert code == 0
    captured = capsys.readouterr()
    assert "wrote" in captured.out and "100%" in captured.err
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


def test_convert_refuses_to_overwrite_then_overwrites(tmp_path, capsys):
    np.save(tmp_path / "a.npy", np.arange(12.0).reshape(3, 4))
    np.save(tmp_path / "b.npy", np.zeros(2))
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "b.npy")]) == 2
    assert "exists" in capsys.readouterr().err
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.zeros(2))
    assert main(["convert", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"), "--overwrite"]) == 0
    np.testing.assert_array_equal(np.load(tmp_path / "b.npy"), np.arange(12.0).reshape(3, 4))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["info", "{tmp}/missing.zarr"], "no such file"),
        (["convert", "{tmp}/a.npy", "{tmp}/out.jpg"], "unknown suffix"),
        (["convert", "{tmp}/a.npy", "{tmp}/out.zarr", "--chunks", "2,2,2"], "3 sizes"),
        (["convert", "{tmp}/a.npy", "{tmp}/a.npy", "--overwrite"], "input"),
    ],
)
def test_bad_input_exits_2_with_a_message(tmp_path, capsys, args, message):
    np.save(tmp_path / "a.npy", np.zeros((4, 5)))
    assert main([a.format(tmp=tmp_path) for a in args]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.npy"]


def test_bad_chunks_text_is_a_usage_error(tmp_path):
    with pytest.raises(SystemExit) as exit_info:
        main(["convert", "a.npy", "b.zarr", "--chunks", "1,x"])
    assert exit_info.value.code == 2
