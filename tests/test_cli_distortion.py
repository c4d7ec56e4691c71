"""``detcal distortion calibrate`` and ``detcal distortion correct`` end to end through files."""

import numpy as np
import pytest

from detcal.cli import main
from detcal.distortion import DistortionMap, calibrate_distortion
from detcal.io import open_array, read_metadata, save_array
from detcal.sample_data.hole_grid import make_hole_grid


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distortion")
    sample = make_hole_grid(shape=(128, 144), distortion=3.0, seed=9)
    save_array(sample.image, folder / "grid.tif")
    save_array(np.stack([sample.image, sample.image + 5]), folder / "data.npy")
    return folder, sample


def test_calibrate_then_correct(files, capsys):
    folder, sample = files
    code = main(["distortion", "calibrate", str(folder / "grid.tif"), "--pitch", "0.25",
                 "-o", str(folder / "map.h5")])  # fmt: skip
    assert code == 0 and "spots" in capsys.readouterr().out
    dmap = DistortionMap.load(folder / "map.h5")
    expected = calibrate_distortion(sample.image, pitch=0.25)
    assert np.allclose(dmap.pixel_size, expected.pixel_size)
    assert np.abs(dmap.displacement - expected.displacement)[:, ~expected.mask].max() < 2e-3

    code = main(["distortion", "correct", str(folder / "data.npy"), "--map",
                 str(folder / "map.h5"), "--preserve", "counts", "-q",
                 "-o", str(folder / "out.zarr")])  # fmt: skip
    assert code == 0 and capsys.readouterr().err == ""
    out = open_array(folder / "out.zarr").compute()
    data = np.load(folder / "data.npy")
    assert out.shape == data.shape
    assert np.allclose(out[1], dmap.correct(data[1], preserve="counts"), rtol=1e-5)
    record = read_metadata(folder / "out.zarr")["detcal"]
    assert record["step"] == "distortion.correct" and record["params"]["preserve"] == "counts"
    assert record["params"]["map"] == {"path": str((folder / "map.h5").resolve())}
    assert record["source"] == str((folder / "data.npy").resolve())


@pytest.mark.parametrize(
    "args, message",
    [
        (["calibrate", "{grid}", "--pitch", "0", "-o", "{out}.h5"], "--pitch"),
        (["calibrate", "{grid}", "-o", "{out}.h5"], "--pitch"),
        (["calibrate", "{flat}", "--pitch", "1", "-o", "{out}.h5"], "no spots found"),
        (["calibrate", "{grid}", "--pitch", "1", "-o", "{out}.zarr"], "--output"),
        (["correct", "{small}", "--map", "{map}", "-o", "{out}.zarr"], "expected (row, col)"),
        (["correct", "{grid}", "--map", "{missing}", "-o", "{out}.zarr"], "no such file"),
        (["calibrate", "{grid}", "--pitch", "1", "-o", "{out}/m.h5"], "--output: folder"),
        (["correct", "{grid}", "--map", "{map}", "-o", "{out}.xyz"], "--output: cannot save"),
        (["correct", "{grid}", "--map", "{map}", "--threads", "0", "-o", "{out}.zarr"], None),
    ],
    ids=[
        "pitch0",
        "no-pitch",
        "flat-image",
        "suffix",
        "other-shape",
        "no-map",
        "no-folder",
        "output-suffix",
        "threads0",
    ],  # fmt: skip
)
def test_errors_write_nothing(files, tmp_path, capsys, args, message):
    folder, _ = files
    if not (folder / "map.h5").exists():
        main(["distortion", "calibrate", str(folder / "grid.tif"), "--pitch", "0.25",
              "-o", str(folder / "map.h5")])  # fmt: skip
    save_array(np.full((64, 64), 3.0), tmp_path / "flat.tif")
    save_array(np.zeros((10, 20)), tmp_path / "small.npy")
    names = {"grid": folder / "grid.tif", "flat": tmp_path / "flat.tif", "out": tmp_path / "out",
             "small": tmp_path / "small.npy", "map": folder / "map.h5",
             "missing": tmp_path / "missing.h5"}  # fmt: skip
    before = sorted(p.name for p in tmp_path.iterdir())
    if message is None:  # refused by the parser itself
        with pytest.raises(SystemExit) as exc:
            main(["distortion", *[a.format(**names) for a in args]])
        code = exc.value.code
    else:
        code = main(["distortion", *[a.format(**names) for a in args]])
        assert message in capsys.readouterr().err
    assert code == 2
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing written
