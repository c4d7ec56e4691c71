"""``detcal response fit`` and ``detcal response correct`` end to end through files."""

import numpy as np
import pytest
from scipy import ndimage

from detcal.cli import main
from detcal.io import open_array, read_metadata, save_array
from detcal.response import correct_image, fit_response
from detcal.sample_data.sweep import make_sweep


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("response")
    sample = make_sweep(shape=(10, 128, 120), seed=4)
    save_array(sample.volume, folder / "sweep.zarr")
    save_array(sample.dark, folder / "dark.tif")
    save_array(np.stack([sample.flat, sample.flat]), folder / "flats.h5")  # a stack: averaged
    save_array(np.stack([sample.test_image] * 3), folder / "images.npy")
    return folder, sample


def test_fit_then_correct(files):
    folder, sample = files
    code = main(
        [
            "response", "fit", str(folder / "sweep.zarr"), "--dark", str(folder / "dark.tif"),
            "--sigma", "20", "-o", str(folder / "gains.zarr"), "--quality", str(folder / "q.h5"),
        ]
    )  # fmt: skip
    assert code == 0
    gains = open_array(folder / "gains.zarr").compute()
    expected = fit_response(sample.volume, dark=sample.dark, sigma=20.0)
    assert np.allclose(gains, expected, rtol=1e-6)
    assert np.corrcoef(gains.ravel(), sample.gains.ravel())[0, 1] > 0.99
    quality = open_array(folder / "q.h5").compute()
    assert quality.shape == (3, 128, 120)
    assert read_metadata(folder / "q.h5")["detcal"]["planes"] == [
        "residual_rms",
        "r_squared",
        "n_points",
    ]
    record = read_metadata(folder / "gains.zarr")["detcal"]
    assert record["step"] == "response.fit_response"
    assert record["params"]["sigma"] == 20.0 and record["params"]["cutoff"] == 300.0
    # inputs are recorded by absolute path, whatever was typed
    assert record["params"]["dark"] == {"path": str((folder / "dark.tif").resolve())}
    assert record["source"] == str((folder / "sweep.zarr").resolve())

    code = main(
        [
            "response", "correct", str(folder / "images.npy"),
            "--gains", str(folder / "gains.zarr"),
            "--dark", str(folder / "dark.tif"), "--flat", str(folder / "flats.h5"),
            "--residual-sigma", "3", "--smooth-sigma", "20", "-o", str(folder / "out.zarr"),
        ]
    )  # fmt: skip
    assert code == 0
    out = open_array(folder / "out.zarr").compute()
    assert out.shape == (3, 128, 120) and out.dtype == np.float32
    ref = correct_image(
        sample.test_image, gains, dark=sample.dark, flat=sample.flat, sigma=3.0, smooth_sigma=20.0
    )
    assert np.allclose(out[1], ref, rtol=1e-6)
    record = read_metadata(folder / "out.zarr")["detcal"]
    assert record["params"]["coefficients"] == {"path": str((folder / "gains.zarr").resolve())}
    assert record["params"]["sigma"] == 3.0 and record["params"]["smooth_sigma"] == 20.0
    # the flat test image comes out as the absorber's transmission, pixel noise below 0.1%
    assert np.median(out) == pytest.approx(0.6, rel=3e-3)
    highpass = out[0] / ndimage.gaussian_filter(out[0], 4, mode="nearest") - 1
    assert highpass[8:-8, 8:-8].std() < 1e-3


def test_dark_level_and_refusals(files, capsys):
    folder, sample = files
    out = folder / "gains_level.npy"
    assert (
        main(["response", "fit", str(folder / "sweep.zarr"), "--dark", "100", "-o", str(out)]) == 0
    )
    assert np.allclose(np.load(out), fit_response(sample.volume, dark=100.0), rtol=1e-6)
    # existing output: refused, file untouched
    before = out.stat().st_mtime_ns
    assert main(["response", "fit", str(folder / "sweep.zarr"), "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err
    assert out.stat().st_mtime_ns == before
    # shape mismatch between image and gains: an error, nothing written
    save_array(np.ones((5, 5), np.float32), folder / "small.npy")
    bad = folder / "bad.zarr"
    code = main(
        [
            "response",
            "correct",
            str(folder / "images.npy"),
            "--gains",
            str(folder / "small.npy"),
            "-o",
            str(bad),
        ]
    )
    assert code == 2
    assert "--gains: the gains are (5, 5)" in capsys.readouterr().err
    assert not bad.exists()
    # a missing input
    assert main(["response", "fit", str(folder / "nope.zarr"), "-o", str(folder / "x.npy")]) == 2


def test_fit_with_no_defined_gain_is_an_error(files, capsys):
    folder, _ = files
    out = folder / "never.zarr"
    # a cutoff above every smoothed reading leaves no pixel with a gain
    code = main(["response", "fit", str(folder / "sweep.zarr"), "--cutoff", "1e9", "-o", str(out)])
    assert code == 2
    assert "no pixel has a defined gain" in capsys.readouterr().err
    assert not out.exists()


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["response", "correct", "IMG", "--gains", "G", "--smooth-sigma", "-2"], "--smooth-sigma"),
        (["response", "fit", "SWEEP", "--cutoff", "-5"], "--cutoff"),
        (["response", "fit", "SWEEP", "--sigma", "0"], "--sigma"),
    ],
)
def test_out_of_range_flags_are_refused_by_name(files, capsys, argv, flag):
    folder, _ = files
    out = folder / "refused.zarr"
    argv = [str(folder / "images.npy") if a in ("IMG", "SWEEP") else a for a in argv]
    argv = [str(folder / "gains_level.npy") if a == "G" else a for a in argv]
    assert main([*argv, "-o", str(out)]) == 2
    assert f"detcal: error: {flag}: expected a number" in capsys.readouterr().err
    assert not out.exists()


def test_every_option_has_a_flag_with_its_default():
    from detcal.cli import build_parser

    parser = build_parser(["response"])
    sub = parser._subparsers._group_actions[0].choices["response"]
    actions = sub._subparsers._group_actions[0].choices
    fit_help, correct_help = actions["fit"].format_help(), actions["correct"].format_help()
    assert "--sigma SIGMA" in fit_help and "(default: 50.0)" in fit_help
    assert "--cutoff CUTOFF" in fit_help and "(default: 300.0)" in fit_help
    assert "--residual-sigma" in correct_help and "--smooth-sigma" in correct_help


def test_the_docs_list_every_flag():
    from pathlib import Path

    from detcal._options import option_fields
    from detcal.cli._flags import flag_of
    from detcal.flatfield import ApplyOptions, EstimateOptions
    from detcal.response import CorrectOptions, FitOptions

    docs = Path(__file__).resolve().parents[1] / "docs"
    for page, classes in (
        ("response.md", (FitOptions, CorrectOptions)),
        ("flatfield.md", (EstimateOptions, ApplyOptions)),
    ):
        text = (docs / page).read_text()
        for cls in classes:
            for field, _spec, _kind in option_fields(cls):
                assert f"`{flag_of(field.name)}`" in text, (page, field.name)
