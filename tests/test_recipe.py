"""detcal.recipe: the file format, its checks, lazy replay on arrays and scans."""

from __future__ import annotations

import json

import dask.array as da
import numpy as np
import pytest
import tifffile

from detcal import io
from detcal.flatfield import Profiles, save_profiles
from detcal.recipe import (
    STEPS,
    MissingFileError,
    Recipe,
    RecipeError,
    Step,
    from_tomo_record,
)

SHAPE = (6, 32, 40)


def make_calibration(folder):
    """Write the calibration files of DESIGN.md's example recipe; return (recipe path, truth).

    ``truth(images)`` is the expected correction, computed here in numpy from the same arrays.
    """
    rng = np.random.default_rng(1)
    gains = rng.uniform(0.8, 1.25, SHAPE[1:])
    dark = rng.uniform(90, 110, SHAPE[1:]).astype(np.float32)
    flatfield = rng.uniform(0.7, 1.3, SHAPE[1:])
    io.save_array(gains, folder / "gains.zarr")
    tifffile.imwrite(folder / "dark.tif", dark)
    (folder / "models").mkdir()
    save_profiles(Profiles(flatfield), folder / "models" / "GFP")
    recipe = {
        "detcal_recipe": 1,
        "steps": [
            {
                "step": "response.correct_image",
                "params": {"coefficients": "gains.zarr", "dark": "dark.tif"},
            },
            {
                "step": "flatfield.apply_flatfield",
                "params": {"profiles": "models/GFP/profiles.npz"},
            },
        ],
    }
    path = folder / "recipe.json"
    path.write_text(json.dumps(recipe))

    def truth(images):
        corrected = ((images.astype(np.float32) - dark) * gains.astype(np.float32)).astype(
            np.float32
        )
        return corrected / flatfield.astype(np.float32)

    return path, truth


def raw_images(seed=2):
    """Detector-like counts (uint16) of shape SHAPE."""
    return np.random.default_rng(seed).poisson(1000, SHAPE).astype(np.uint16)


@pytest.fixture
def calibrated(tmp_path):
    return make_calibration(tmp_path)


def test_hand_written_recipe_replays_numpy_and_lazily_on_dask(calibrated):
    path, truth = calibrated
    recipe = Recipe.load(path)
    assert [s.step for s in recipe.steps] == ["response.correct_image", "flatfield.apply_flatfield"]
    images = raw_images()
    np.testing.assert_allclose(recipe.apply(images), truth(images), rtol=1e-5)
    assert isinstance(recipe.apply(images), np.ndarray)

    computed = []

    def read(block):
        computed.append(block.shape)
        return block

    meta = np.empty((0, 0, 0), images.dtype)
    lazy = da.from_array(images, chunks=(2, 16, 40)).map_blocks(read, meta=meta)
    out = recipe.apply(lazy)
    assert isinstance(out, da.Array) and out.chunks == lazy.chunks
    assert computed == []  # nothing of the input read while the chain is built
    np.testing.assert_allclose(out.compute(), truth(images), rtol=1e-5)
    assert len(computed) == lazy.npartitions  # each input chunk read once


def _write(folder, values):
    path = folder / "bad.json"
    path.write_text(json.dumps(values) if not isinstance(values, str) else values)
    return path


def _one_step(name, params):
    return {"detcal_recipe": 1, "steps": [{"step": name, "params": params}]}


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (_one_step("response.fit_response", {}), ["steps[0]", "unknown step", "fit_response"]),
        (
            _one_step("response.correct_image", {"coefficients": "gains.zarr", "gain": 2}),
            ["steps[0] (response.correct_image): gain", "unknown parameter"],
        ),
        (
            _one_step("response.correct_image", {"dark": 3}),
            ["steps[0] (response.correct_image): coefficients", "required"],
        ),
        (
            _one_step("response.correct_image", {"coefficients": "gains.zarr", "sigma": "3"}),
            ["steps[0] (response.correct_image): sigma", "expected a number"],
        ),
        (
            _one_step("response.correct_image", {"coefficients": "gains.zarr", "sigma": -1}),
            ["sigma", "> 0"],
        ),
        (
            _one_step("response.correct_image", {"coefficients": 2.0}),
            ["coefficients", "expected a file path"],
        ),
        (
            _one_step("flatfield.apply_flatfield", {"profiles": "models/GFP", "keep_dtype": 1}),
            ["steps[0] (flatfield.apply_flatfield): keep_dtype", "true or false"],
        ),
        (
            _one_step("flatfield.apply_flatfield", {"profiles": "dark.tif"}),
            ["steps[0] (flatfield.apply_flatfield): profiles", "cannot read"],
        ),
        (
            {"detcal_recipe": 2, "steps": []},
            ["version 2 is newer", "upgrade detcal"],
        ),
        ({"detcal_recipe": 1, "steps": []}, ["steps must be a non-empty list"]),
        ({"steps": []}, ["detcal_recipe must be the format version"]),
        (
            {
                "detcal_recipe": 1,
                "steps": [
                    {"step": "tomo.reconstruct", "params": {}},
                    {"step": "flatfield.apply_flatfield", "params": {"profiles": "models/GFP"}},
                ],
            },
            ["steps[0] (tomo.reconstruct)", "last step"],
        ),  # fmt: skip
        (
            _one_step("tomo.reconstruct", {"stripe": "nope"}),
            ["steps[0] (tomo.reconstruct)", "stripe"],
        ),
        (
            '{"detcal_recipe": 1, "steps": [{"step": "response.correct_image", '
            '"params": {"coefficients": "gains.zarr", "dark": NaN}}]}',
            ["NaN is not allowed"],
        ),
        ("{not json", ["not valid JSON"]),
    ],
)
def test_loading_refuses_what_could_not_run(calibrated, values, expected):
    path, _ = calibrated
    with pytest.raises(RecipeError) as info:
        Recipe.load(_write(path.parent, values))
    for text in expected:
        assert text in str(info.value)


def test_missing_calibration_file_is_named_before_any_work(calibrated):
    path, _ = calibrated
    values = json.loads(path.read_text())
    values["steps"][1]["params"]["profiles"] = "models/RFP/profiles.npz"
    with pytest.raises(MissingFileError) as info:
        Recipe.load(_write(path.parent, values))
    assert isinstance(info.value, FileNotFoundError)
    message = str(info.value)
    assert "steps[1] (flatfield.apply_flatfield): profiles" in message
    assert "models/RFP/profiles.npz" in message


def test_shape_mismatch_names_the_step(calibrated):
    path, _ = calibrated
    with pytest.raises(RecipeError, match=r"steps\[0\] \(response.correct_image\): ") as info:
        Recipe.load(path).apply(np.zeros((2, 16, 16), np.uint16))
    assert "(16, 16)" in str(info.value) and "(32, 40)" in str(info.value)


def test_save_rebases_paths_and_round_trips(calibrated, tmp_path_factory):
    path, truth = calibrated
    recipe = Recipe.load(path)
    same = recipe.save(path.parent / "copy.json")
    text = same.read_text()
    assert json.loads(text) == json.loads(path.read_text())  # relative paths kept
    assert "\n  " in text  # indented, readable
    elsewhere = recipe.save(tmp_path_factory.mktemp("other") / "moved.json")
    params = json.loads(elsewhere.read_text())["steps"][0]["params"]
    assert params["coefficients"] == str((path.parent / "gains.zarr").resolve())
    images = raw_images(3)
    np.testing.assert_allclose(Recipe.load(elsewhere).apply(images), truth(images), rtol=1e-5)
    with pytest.raises(FileExistsError, match="exists"):
        recipe.save(same)


def test_dark_may_be_a_number(tmp_path):
    np.save(tmp_path / "g.npy", np.full((4, 4), 0.5))
    recipe = Recipe.from_dict(
        _one_step("response.correct_image", {"coefficients": "g.npy", "dark": 10}), base=tmp_path
    )
    np.testing.assert_array_equal(recipe.apply(np.full((4, 4), 110.0)), np.full((4, 4), 50.0))


def test_every_registered_step_names_a_public_function():
    import importlib

    for spec in STEPS.values():
        module_name, _, attr = spec.function.rpartition(".")
        if module_name.endswith("DistortionMap"):
            module_name, _, cls = module_name.rpartition(".")
            attr = f"{cls}.{attr}"
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            pytest.skip(f"{module_name} is not importable yet (being built by another helper)")
        target = module
        for part in attr.split("."):
            target = getattr(target, part)
        assert callable(target), spec.function


def test_tomography_record_becomes_a_recipe_and_replays_a_run(real_data, tmp_path):
    from detcal.tomo.pipeline import reconstruct_dataset, sidecar_path

    first = reconstruct_dataset(
        real_data / "tooth.h5", tmp_path / "rec.npy", center=296.0, stripe="fw"
    )
    recipe = from_tomo_record(sidecar_path(first))
    assert recipe.steps[0].step == "tomo.reconstruct"
    assert recipe.steps[0].params["stripe"] == "fw" and "run" not in recipe.steps[0].params
    assert Recipe.load(sidecar_path(first)) == recipe  # `detcal apply` reads the record too
    from detcal.recipe import apply_recipe

    again = apply_recipe(sidecar_path(first), real_data / "tooth.h5", tmp_path / "again.npy")
    np.testing.assert_array_equal(np.load(again), np.load(first))
    with pytest.raises(TypeError, match="needs a scan"):
        recipe.apply(np.zeros((3, 2, 640)))


def test_detector_correction_then_reconstruction_is_one_recipe(real_data, tmp_path):
    """Gains scale projections, flats and darks alike, so the normalised scan is unchanged."""
    from detcal.recipe import apply_recipe
    from detcal.tomo.pipeline import reconstruct_dataset

    np.save(tmp_path / "gains.npy", np.full((2, 640), 3.0))
    options = {"center": 296.0, "stripe": "none", "slab": 2}
    plain = reconstruct_dataset(real_data / "tooth.h5", tmp_path / "plain.npy", **options)
    chain = {
        "detcal_recipe": 1,
        "steps": [
            {"step": "response.correct_image", "params": {"coefficients": "gains.npy"}},
            {"step": "tomo.reconstruct", "params": options},
        ],
    }
    recipe_path = tmp_path / "chain.json"
    recipe_path.write_text(json.dumps(chain))
    out = apply_recipe(recipe_path, real_data / "tooth.h5", tmp_path / "chain.npy")
    np.testing.assert_allclose(np.load(out), np.load(plain), rtol=1e-4, atol=1e-6)


def test_distortion_step_replays_a_saved_map(tmp_path):
    distortion = pytest.importorskip(
        "detcal.distortion", reason="detcal.distortion is being built by another helper"
    )
    if not hasattr(distortion, "DistortionMap"):
        pytest.skip("detcal.distortion has no DistortionMap yet (being built by another helper)")
    from detcal.sample_data.hole_grid import make_hole_grid

    grid = make_hole_grid()
    dmap = distortion.calibrate_distortion(grid.image, pitch=0.5)
    dmap.save(tmp_path / "map.h5")
    step = Step("distortion.correct", {"map": "map.h5", "preserve": "counts"})
    recipe = Recipe([step], base=tmp_path)
    recipe = Recipe.from_dict(recipe.to_dict(relative_to=tmp_path), base=tmp_path)
    images = da.from_array(np.stack([grid.image, grid.image * 2]), chunks=(1, -1, -1))
    out = recipe.apply(images)
    assert isinstance(out, da.Array)
    expected = distortion.DistortionMap.load(tmp_path / "map.h5").correct(
        grid.image * 2, preserve="counts"
    )
    np.testing.assert_allclose(out[1].compute(), expected, rtol=1e-5)
    with pytest.raises(RecipeError, match=r"steps\[0\] \(distortion.correct\): preserve"):
        Recipe.from_dict(
            _one_step("distortion.correct", {"map": "map.h5", "preserve": "flux"}), base=tmp_path
        )


def test_align_step_uses_a_mask_file(tmp_path):
    diffraction = pytest.importorskip(
        "detcal.diffraction", reason="detcal.diffraction is being built by another helper"
    )
    if not hasattr(diffraction, "align"):
        pytest.skip("detcal.diffraction.align is not public yet (being built by another helper)")
    from detcal.sample_data.powder import make_powder_series

    series = make_powder_series(n=3, shape=(64, 64), max_shift=2.0, noise=False)
    np.save(tmp_path / "mask.npy", series.mask)
    recipe = Recipe.from_dict(
        _one_step("diffraction.align", {"mask": "mask.npy", "reference": 0}), base=tmp_path
    )
    expected, _ = diffraction.align(series.images, mask=series.mask)
    np.testing.assert_allclose(recipe.apply(series.images), expected, rtol=1e-6)
