"""detcal.recipe.chain: the steps behind a layer, from recorded metadata, saved as a recipe."""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_recipe import make_calibration, raw_images

from detcal.recipe import Recipe, RecipeError, chain_behind, save_chain


def _layers(folder):
    """Layers as a session leaves them: raw -> corrected (gains from a layer) -> flat-fielded."""
    recipe_path, truth = make_calibration(folder)
    gains = np.asarray(__import__("detcal").io.open_array(folder / "gains.zarr").compute())
    layers = {
        "raw": {"metadata": {}, "path": str(folder / "raw.zarr")},
        "gains": {"metadata": {"detcal": {"step": "response.fit_response", "params": {}}}},
        "corrected": {
            "metadata": {
                "detcal": {
                    "step": "response.correct_image",
                    "source": "raw",
                    "params": {
                        "coefficients": {"layer": "gains"},
                        "dark": {"path": str(folder / "dark.tif")},
                        "smooth_sigma": 50.0,
                    },
                }
            }
        },
        "flat-fielded": {
            "metadata": {
                "detcal": {
                    "step": "flatfield.apply_flatfield",
                    "source": "corrected",
                    "params": {
                        "profiles": {"path": str(folder / "models" / "GFP")},
                        "scenario": "measured",
                    },
                }
            }
        },
    }
    return layers, {"gains": gains}, truth


def test_chain_is_walked_back_to_the_raw_layer_and_saved_self_contained(tmp_path):
    layers, arrays, truth = _layers(tmp_path)
    chain = chain_behind(layers, "flat-fielded")
    assert chain.raw == "raw" and chain.layers == ["corrected", "flat-fielded"]
    assert [s["step"] for s in chain.steps] == [
        "response.correct_image",
        "flatfield.apply_flatfield",
    ]
    assert chain.pending == {(0, "coefficients"): "gains"}
    assert chain.dropped == ["layer 'flat-fielded': scenario"]
    assert "coefficients=<layer gains>" in "\n".join(chain.describe())

    out_dir = tmp_path / "recipes"
    out_dir.mkdir()
    path = save_chain(chain, out_dir / "gfp.json", arrays)
    written = json.loads(path.read_text())
    assert written["steps"][0]["params"]["coefficients"] == "gains.npy"  # beside, relative
    assert (out_dir / "gains.npy").is_file()
    images = raw_images(7)
    np.testing.assert_allclose(Recipe.load(path).apply(images), truth(images), rtol=1e-5)
    with pytest.raises(FileExistsError):
        save_chain(chain, out_dir / "gfp.json", arrays)


def test_a_layer_with_a_file_is_named_by_its_path(tmp_path):
    layers, _, _ = _layers(tmp_path)
    layers["gains"]["path"] = str(tmp_path / "gains.zarr")
    chain = chain_behind(layers, "corrected")
    assert chain.pending == {}
    assert chain.steps[0]["params"]["coefficients"] == str(tmp_path / "gains.zarr")


def test_a_recipe_that_fails_its_check_leaves_no_files(tmp_path):
    layers, _, _ = _layers(tmp_path)
    chain = chain_behind(layers, "corrected")
    out_dir = tmp_path / "recipes"
    out_dir.mkdir()
    with pytest.raises(RecipeError, match=r"steps\[0\] \(response.correct_image\): coefficients"):
        save_chain(chain, out_dir / "r.json", {"gains": np.zeros((4, 4, 4))})
    assert list(out_dir.iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda L: L.pop("raw"), "source layer 'raw' is not open"),
        (lambda L: L["raw"]["metadata"].update(L["corrected"]["metadata"]), "loop"),
        (lambda L: L.pop("gains"), "layer 'gains', which is not open"),
    ],
)
def test_broken_links_are_named(tmp_path, change, message):
    layers, _, _ = _layers(tmp_path)
    change(layers)
    if "raw" in layers and layers["raw"]["metadata"]:
        layers["raw"]["metadata"]["detcal"] = dict(layers["raw"]["metadata"]["detcal"])
        layers["raw"]["metadata"]["detcal"]["source"] = "corrected"
    with pytest.raises(RecipeError, match=message):
        chain_behind(layers, "flat-fielded")


def test_a_raw_layer_has_no_chain(tmp_path):
    layers, _, _ = _layers(tmp_path)
    with pytest.raises(RecipeError, match="not made by a recorded detcal step"):
        chain_behind(layers, "raw")


def test_a_layer_made_by_a_whole_recipe_expands_into_its_steps(tmp_path):
    layers, arrays, _ = _layers(tmp_path)
    recipe = Recipe.load(tmp_path / "recipe.json")
    layers["replayed"] = {
        "metadata": {
            "detcal": {"step": "recipe", "params": {"recipe": recipe.to_dict()}, "source": "raw"}
        }
    }
    chain = chain_behind(layers, "replayed")
    assert [s["step"] for s in chain.steps] == [s.step for s in recipe.steps]
