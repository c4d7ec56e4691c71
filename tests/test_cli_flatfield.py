"""``detcal flatfield estimate`` and ``detcal flatfield apply`` end to end."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from detcal.cli import main
from detcal.flatfield import Profiles, apply_flatfield, load_profiles, save_profiles
from detcal.io import open_array, save_array
from detcal.sample_data.mosaic import flat_nrms, make_mosaic


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("ff")
    sample = make_mosaic(n_z=10, empty_z=(2, 7), tile_shape=(64, 64), seed=7)
    np.save(folder / "tiles.npy", sample.tiles)
    np.save(folder / "dark.npy", sample.dark)
    save_array(sample.tiles, folder / "tiles.zarr")
    return folder, sample


def test_estimate_empty_data_then_apply(files, tmp_path, capsys):
    folder, sample = files
    out = tmp_path / "model"
    code = main(
        [
            "flatfield",
            "estimate",
            str(folder / "tiles.zarr"),
            "--dark",
            str(folder / "dark.npy"),
            "--z-levels",
            "2",
            "7",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    assert "scenario empty" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["profiles.npz", "settings.json"]
    profiles = load_profiles(out)
    assert flat_nrms(profiles.flatfield, sample.flatfield) <= 0.01
    np.testing.assert_allclose(profiles.darkfield, sample.dark)

    corrected = tmp_path / "corrected.zarr"
    assert (
        main(
            [
                "flatfield",
                "apply",
                str(folder / "tiles.zarr"),
                "--profiles",
                str(out),
                "-o",
                str(corrected),
            ]
        )
        == 0
    )
    result = open_array(corrected)
    assert result.dtype == np.float32
    np.testing.assert_allclose(result.compute(), apply_flatfield(sample.tiles, profiles), rtol=1e-6)
    kept = tmp_path / "kept.zarr"
    assert (
        main(
            [
                "flatfield",
                "apply",
                str(folder / "tiles.npy"),
                "--profiles",
                str(out / "profiles.npz"),
                "-o",
                str(kept),
                "--keep-dtype",
            ]
        )
        == 0
    )
    assert open_array(kept).dtype == np.uint16


def test_estimate_fov_dark_level_and_npz_output(files, tmp_path):
    folder, sample = files
    out = tmp_path / "flat.npz"
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--fov-list",
                "1",
                "3",
                "7",
                "9",
                "--dark-level",
                "100",
                "--baseline-percentile",
                "1",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    profiles = load_profiles(out)
    assert flat_nrms(profiles.flatfield, sample.flatfield) <= 0.01
    assert profiles.scalar_baseline() == pytest.approx(sample.background, rel=0.15)
    # a file of the user's own name holds its settings: no settings.json written beside it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["flat.npz"]
    assert profiles.settings["working_size"] == 128


def test_measured_models_folder_with_channel(files, tmp_path, capsys):
    folder, sample = files
    save_profiles(Profiles(sample.flatfield), tmp_path / "models" / "GFP")
    out = tmp_path / "copy"
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--models-folder",
                str(tmp_path / "models"),
                "--channel",
                "GFP",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "scenario measured" in capsys.readouterr().out
    np.testing.assert_allclose(load_profiles(out).flatfield, sample.flatfield, rtol=1e-6)
    code = main(
        [
            "flatfield",
            "estimate",
            str(folder / "tiles.npy"),
            "--models-folder",
            str(tmp_path / "models"),
            "--channel",
            "../models",
            "-o",
            str(tmp_path / "x"),
        ]
    )
    assert code == 2
    assert "channel" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_basic_scenario_from_the_shell(files, tmp_path, capsys):
    folder, _ = files
    out = tmp_path / "basic"
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--dark-level",
                "100",
                "--n-samples",
                "8",
                "--working-size",
                "16",
                "--max-workers",
                "1",
                "--smoothness-flatfield",
                "0.5",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    assert "scenario basic, a seeded subset of 8 of 90 planes, as asked" in capsys.readouterr().out
    from basicpy import BaSiC

    model = BaSiC.load_model(out)
    assert model.working_size == 16 and model.smoothness_flatfield == 0.5


def test_errors_write_nothing(files, tmp_path, capsys, monkeypatch):
    folder, _ = files
    out = tmp_path / "m"
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--fov-list",
                "1",
                "10",
                "-o",
                str(out),
            ]
        )
        == 2
    )
    assert "fov_list" in capsys.readouterr().err
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--z-levels",
                "7",
                "2",
                "-o",
                str(out),
            ]
        )
        == 2
    )
    assert "reversed" in capsys.readouterr().err
    assert not out.exists()
    monkeypatch.setitem(sys.modules, "basicpy", None)
    assert main(["flatfield", "estimate", str(folder / "tiles.npy"), "-o", str(out)]) == 2
    assert "pip install --no-deps basicpy==2.0.0" in capsys.readouterr().err
    assert not out.exists()
    save_profiles(Profiles(np.ones((8, 8))), tmp_path / "small")
    target = tmp_path / "o.zarr"
    assert (
        main(
            [
                "flatfield",
                "apply",
                str(folder / "tiles.npy"),
                "--profiles",
                str(tmp_path / "small"),
                "-o",
                str(target),
            ]
        )
        == 2
    )
    assert "(8, 8)" in capsys.readouterr().err
    assert not target.exists()
    assert (
        main(
            [
                "flatfield",
                "estimate",
                str(folder / "tiles.npy"),
                "--fov-list",
                "1",
                "-o",
                str(tmp_path / "small"),
            ]
        )
        == 2
    )
    assert "exists" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--smooth-sigma", "-2"], "--smooth-sigma: expected a number >= 0, got -2.0"),
        (["--fov-list", "0", "3"], "--fov-list: expected an integer >= 1"),
        (["--memory-mb", "0"], "--memory-mb: expected a number >= 1"),
        (["--dark", "DARK", "--dark-level", "100"], "--dark: give a dark file or --dark-level"),
    ],
)
def test_bad_flags_are_named_and_nothing_is_written(files, tmp_path, capsys, extra, message):
    folder, _ = files
    out = tmp_path / "never"
    extra = [str(folder / "dark.npy") if a == "DARK" else a for a in extra]
    assert main(["flatfield", "estimate", str(folder / "tiles.npy"), *extra, "-o", str(out)]) == 2
    assert message in capsys.readouterr().err
    assert not out.exists()
