"""Bad input: every diffraction function refuses it with the argument named, nothing written."""

import dask.array as da
import numpy as np
import pytest

from detcal.diffraction import (
    AzimuthalOptions,
    CenterOptions,
    align,
    azimuthal_average,
    load_mask,
    mean_and_sem,
    pattern_center,
    powder_center,
    register,
    save_mask,
    shapes_to_mask,
    shift_image,
)

IMAGE = np.random.default_rng(0).random((32, 32))
SERIES = np.random.default_rng(1).random((3, 32, 32))
ALL = np.ones((32, 32), bool)
NAN = np.full((32, 32), np.nan)

CASES = [
    ("register mask shape", lambda: register(IMAGE, IMAGE, mask=np.zeros((31, 32), bool)),
     ValueError, "mask: expected a (row, col) mask of shape (32, 32)"),
    ("register mask hides all", lambda: register(IMAGE, IMAGE, mask=ALL), ValueError,
     "mask: hides every pixel"),
    ("register reference shape", lambda: register(IMAGE, IMAGE[:30]), ValueError,
     "reference: expected shape (32, 32)"),
    ("register all NaN", lambda: register(NAN, IMAGE), ValueError,
     "image: every pixel is masked or NaN"),
    ("register a series", lambda: register(SERIES, IMAGE), ValueError, "image: expected a (row"),
    ("register text", lambda: register(IMAGE.astype(str), IMAGE), TypeError, "image: expected"),
    ("shift not a pair", lambda: shift_image(IMAGE, (1,)), ValueError, "shift: expected 2"),
    ("shift NaN", lambda: shift_image(IMAGE, (np.nan, 0)), ValueError, "shift: expected a finite"),
    ("align one plane", lambda: align(SERIES[:1]), ValueError,
     "images: expected a series of at least 2 planes"),
    ("align mask shape", lambda: align(SERIES, mask=ALL[:5]), ValueError, "mask: expected"),
    ("align reference shape", lambda: align(SERIES, reference=IMAGE[:4]), ValueError,
     "reference: expected shape (32, 32)"),
    ("sem one plane", lambda: mean_and_sem(SERIES[:1]), ValueError,
     "images: the standard error needs at least 2 planes"),
    ("sem one lazy plane", lambda: mean_and_sem(da.from_array(SERIES[:1])), ValueError,
     "images: the standard error needs at least 2 planes"),
    ("sem one weighted plane", lambda: mean_and_sem(SERIES, weights=[0, 1, 0]), ValueError,
     "images: the standard error needs at least 2 planes"),
    ("sem empty generator", lambda: mean_and_sem(iter([])), ValueError, "images: the series"),
    ("sem ragged generator", lambda: mean_and_sem(iter([IMAGE, IMAGE[:3]])), ValueError,
     "images[1]: expected shape (32, 32)"),
    ("sem weights length", lambda: mean_and_sem(SERIES, weights=[1, 2]), ValueError,
     "weights: expected one weight per plane"),
    ("sem negative weight", lambda: mean_and_sem(SERIES, weights=[1, -2, 1]), ValueError,
     "weights: expected finite weights >= 0"),
    ("sem not images", lambda: mean_and_sem(3), TypeError, "images: expected an array"),
    ("centre mask hides all", lambda: powder_center(IMAGE, mask=ALL), ValueError,
     "mask: hides every pixel"),
    ("centre all NaN", lambda: pattern_center(NAN), ValueError, "image: every pixel"),
    ("centre tiny", lambda: powder_center(IMAGE[:4]), ValueError, "image: expected at least"),
    ("azimuthal centre outside", lambda: azimuthal_average(IMAGE, (40, 3)), ValueError,
     "center: expected a (row, col) inside the image"),
    ("azimuthal centre NaN", lambda: azimuthal_average(IMAGE, (np.nan, 3)), ValueError,
     "center: expected a finite"),
    ("azimuthal mask shape", lambda: azimuthal_average(IMAGE, (3, 3), mask=ALL[:3]), ValueError,
     "mask: expected"),
    ("azimuthal all NaN", lambda: azimuthal_average(NAN, (3, 3)), ValueError,
     "image: no pixel left"),
    ("azimuthal bin width", lambda: azimuthal_average(IMAGE, (3, 3), bin_width=0), ValueError,
     "bin_width: expected a number > 0"),
    ("azimuthal bounds", lambda: azimuthal_average(IMAGE, (3, 3), angular_bounds=(1, 0)),
     ValueError, "angular_bounds: expected (low, high) with high > low"),
    ("empty shapes", lambda: shapes_to_mask([], [], (8, 8)), ValueError,
     "shapes: the Shapes layer is empty"),
    ("unknown shape", lambda: shapes_to_mask([[[0, 0], [1, 1]]], ["star"], (8, 8)), ValueError,
     "shape_types[0]: unknown value 'star'"),
    ("shape vertices", lambda: shapes_to_mask([[1, 2, 3]], ["polygon"], (8, 8)), ValueError,
     "data[0]: expected (n_vertices, 2)"),
    ("options method", lambda: CenterOptions(method="hough"), ValueError,
     "method: unknown value 'hough'"),
    ("options half centre", lambda: AzimuthalOptions(center_row=3.0), ValueError,
     "center_row: give both"),
    ("options bin width", lambda: AzimuthalOptions(bin_width=-1.0), ValueError,
     "bin_width: expected a number > 0"),
]  # fmt: skip


@pytest.mark.parametrize(("call", "error", "message"), [c[1:] for c in CASES],
                         ids=[c[0] for c in CASES])  # fmt: skip
def test_bad_input(call, error, message):
    with pytest.raises(error) as info:
        call()
    assert str(info.value).startswith(message), str(info.value)


def test_mask_files_refused_and_nothing_written(tmp_path):
    with pytest.raises(ValueError, match="^mask: expected a \\(row, col\\) mask"):
        save_mask(np.zeros((2, 3, 4), bool), tmp_path / "m.npy")
    with pytest.raises(ValueError, match="unknown suffix"):
        save_mask(np.zeros((3, 4), bool), tmp_path / "m.png")
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "bad.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="^mask: .* is not a napari Shapes CSV"):
        load_mask(tmp_path / "bad.csv", shape=(8, 8))
    (tmp_path / "empty.csv").write_text("index,shape-type,vertex-index,axis-0,axis-1\n")
    with pytest.raises(ValueError, match="^shapes: the Shapes layer is empty"):
        load_mask(tmp_path / "empty.csv", shape=(8, 8))
    with pytest.raises(ValueError, match="^shape: the \\(row, col\\) shape"):
        load_mask(tmp_path / "empty.csv")
    np.save(tmp_path / "small.npy", np.zeros((4, 4)))
    with pytest.raises(ValueError, match="^mask: expected a \\(row, col\\) mask of shape"):
        load_mask(tmp_path / "small.npy", shape=(8, 8))
