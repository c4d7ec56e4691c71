"""``detcal diffraction align | average | center | azimuthal`` end to end through files."""

import csv

import numpy as np
import pytest

from detcal.cli import main
from detcal.diffraction import azimuthal_average, mean_and_sem
from detcal.io import open_array, read_metadata, save_array
from detcal.sample_data.powder import make_powder, make_powder_series


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("diffraction")
    series = make_powder_series(n=4, shape=(96, 96), max_shift=3.0, seed=3)
    save_array(series.images, folder / "series.zarr")
    save_array(series.mask.astype(np.uint8), folder / "mask.tif")
    powder = make_powder(shape=(128, 120), center=(70.4, 55.2), seed=2)
    save_array(powder.image, folder / "powder.npy")
    save_array(powder.mask.astype(np.uint8), folder / "powder_mask.npy")
    return folder, series, powder


def _csv(path):
    with open(path, newline="") as handle:
        return list(csv.reader(handle))


def test_align(files, capsys):
    folder, series, _ = files
    out, shifts = folder / "aligned.zarr", folder / "shifts.csv"
    argv = ["diffraction", "align", str(folder / "series.zarr"), "--mask", str(folder / "mask.tif"),
            "-o", str(out), "--shifts", str(shifts)]  # fmt: skip
    assert main(argv) == 0
    rows = _csv(shifts)
    assert rows[0] == ["plane", "drow", "dcol"]
    found = np.array([[float(v) for v in row[1:]] for row in rows[1:]])
    np.testing.assert_allclose(found, -series.shifts, atol=0.1)
    aligned = open_array(out).compute()
    assert aligned.shape == series.images.shape and aligned.dtype == np.float32
    record = read_metadata(out)["detcal"]
    np.testing.assert_allclose(record["shifts"], found, atol=1e-3)
    # what made it, as the widgets record it: absolute paths, the calibration file as a path
    assert record["step"] == "diffraction.align"
    assert record["source"] == str((folder / "series.zarr").resolve())
    assert record["params"] == {"mask": {"path": str((folder / "mask.tif").resolve())},
                                "reference": 0, "fill_value": 0.0}  # fmt: skip
    assert "aligned 4 planes" in capsys.readouterr().out
    # existing outputs are refused, untouched
    before = shifts.read_text()
    assert main(argv) == 2
    assert "exists" in capsys.readouterr().err and shifts.read_text() == before


def test_average(files, capsys):
    folder, series, _ = files
    argv = ["diffraction", "average", str(folder / "series.zarr"),
            "-o", str(folder / "mean.tif"), "--sem", str(folder / "sem.npy"), "-q"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().err == ""  # -q: no progress
    mean, sem = mean_and_sem(series.images)
    np.testing.assert_allclose(open_array(folder / "mean.tif").compute(), mean, rtol=1e-12)
    np.testing.assert_allclose(np.load(folder / "sem.npy"), sem, rtol=1e-12)


@pytest.mark.parametrize("method", ["powder", "pattern"])
def test_center(files, capsys, method):
    folder, _, powder = files
    argv = ["diffraction", "center", str(folder / "powder.npy"), "--mask",
            str(folder / "powder_mask.npy"), "--method", method]  # fmt: skip
    assert main(argv) == 0
    line = capsys.readouterr().out.strip()
    row, col = (float(v) for v in line.split(":")[1].split())
    assert np.hypot(row - powder.center[0], col - powder.center[1]) <= 0.5


def test_azimuthal_with_shapes_mask(files, tmp_path):
    folder, _, powder = files
    # the beam block drawn in napari: a disc (ellipse) plus its arm (a wide line), as CSV
    row, col = powder.center
    lines = ["index,shape-type,vertex-index,axis-0,axis-1"]
    corners = [(row - 8, col - 8), (row - 8, col + 8), (row + 8, col + 8), (row + 8, col - 8)]
    lines += [f"0,ellipse,{j},{r},{c}" for j, (r, c) in enumerate(corners)]
    end = (row + 200 * np.sin(2.3), col + 200 * np.cos(2.3))
    lines += [f"1,line,0,{row},{col}", f"1,line,1,{end[0]},{end[1]}"]
    shapes = tmp_path / "block.csv"
    shapes.write_text("\n".join(lines) + "\n")
    out = tmp_path / "profile.csv"
    argv = ["diffraction", "azimuthal", str(folder / "powder.npy"), "--mask", str(shapes),
            "--line-width", "6", "--bin-width", "0.5", "-o", str(out)]  # fmt: skip
    assert main(argv) == 0
    rows = _csv(out)
    assert rows[0] == ["radius_px", "intensity"]
    radius = np.array([float(r[0]) for r in rows[1:]])
    intensity = np.array([float(r[1]) for r in rows[1:]])
    truth = powder.radial_profile(radius)
    inside = (radius > 15) & (radius < 50)
    assert np.nanmax(np.abs(intensity - truth)[inside]) < 0.1 * truth[inside].max()
    # with the centre given: exactly the library's profile
    given = tmp_path / "given.csv"
    argv = ["diffraction", "azimuthal", str(folder / "powder.npy"), "--mask",
            str(folder / "powder_mask.npy"), "--center-row", str(row), "--center-col", str(col),
            "-o", str(given)]  # fmt: skip
    assert main(argv) == 0
    _, expected = azimuthal_average(powder.image, powder.center, mask=powder.mask)
    got = np.array([float(r[1]) for r in _csv(given)[1:]])
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["average", "{folder}/powder.npy", "-o", "{tmp}/m.tif"], "input: expected a (plane"),
        (["align", "{folder}/series.zarr", "--mask", "{folder}/powder_mask.npy", "-o",
          "{tmp}/a.zarr"], "mask: expected a (row, col) mask of shape (96, 96)"),
        (["align", "{folder}/series.zarr", "--reference", "9", "-o", "{tmp}/a.zarr"],
         "--reference: expected a plane index < 4"),
        (["align", "{folder}/series.zarr", "--reference", "-1", "-o", "{tmp}/a.zarr"],
         "--reference: expected an integer >= 0"),
        (["azimuthal", "{folder}/powder.npy", "--center-row", "500", "--center-col", "3",
          "-o", "{tmp}/p.csv"], "center: expected a (row, col) inside the image"),
        (["azimuthal", "{folder}/powder.npy", "--center-row", "5", "-o", "{tmp}/p.csv"],
         "--center-row: give both"),
        (["azimuthal", "{folder}/powder.npy", "-o", "{tmp}/p.tif"],
         "--output: expected a .csv file"),
        (["azimuthal", "{folder}/powder.npy", "--mask", "{tmp}/empty.csv", "-o", "{tmp}/p.csv"],
         "shapes: the Shapes layer is empty"),
        (["center", "{folder}/powder.npy", "--mask", "{tmp}/all.npy"],
         "mask: hides every pixel"),
        (["azimuthal", "{folder}/powder.npy", "--bin-width", "0", "-o", "{tmp}/p.csv"],
         "--bin-width: expected a number > 0"),
        (["average", "{folder}/series.zarr", "-o", "{tmp}/m.tif", "--sem", "{tmp}/no/s.tif"],
         "--sem: folder"),
        (["average", "{folder}/series.zarr", "-o", "{tmp}/m.xyz"], "--output: cannot save"),
        (["azimuthal", "{folder}/powder.npy", "-o", "{tmp}/no/p.csv"], "--output: folder"),
    ],
)  # fmt: skip
def test_errors_write_nothing(files, tmp_path, capsys, argv, message):
    folder, _, _ = files
    (tmp_path / "empty.csv").write_text("index,shape-type,vertex-index,axis-0,axis-1\n")
    np.save(tmp_path / "all.npy", np.ones((128, 120), np.uint8))
    before = set(tmp_path.iterdir())
    argv = [a.format(folder=folder, tmp=tmp_path) for a in argv]
    assert main(["diffraction", *argv]) == 2
    # main says argument names as flags: "mask: ..." is printed "--mask: ..."
    err = capsys.readouterr().err.replace("error: --", "error: ")
    assert err.startswith(f"detcal: error: {message.removeprefix('--')}"), err
    assert set(tmp_path.iterdir()) == before
