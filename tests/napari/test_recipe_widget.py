"""The "Recipe" dock widget driven like a user would: see a chain, save it, load, apply."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import json  # noqa: E402

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tifffile  # noqa: E402

from detcal.flatfield import Profiles, save_profiles  # noqa: E402
from detcal.io import open_array, save_array  # noqa: E402

pytestmark = pytest.mark.gui

PLANE = (48, 64)


def _dock(viewer):
    """Open the widget as a user does: through the plugin's manifest."""
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Recipe"
    )
    return widget


@pytest.fixture
def session(make_napari_viewer, tmp_path):
    """A viewer as the step widgets leave it: raw -> corrected (gains layer) -> flat-fielded."""
    rng = np.random.default_rng(0)
    gains = rng.uniform(0.8, 1.2, PLANE)
    flatfield = rng.uniform(0.7, 1.3, PLANE)
    tifffile.imwrite(tmp_path / "dark.tif", np.full(PLANE, 100, np.float32))
    save_profiles(Profiles(flatfield), tmp_path / "profiles")
    raw = rng.poisson(1000, (4, *PLANE)).astype(np.uint16)

    def truth(images):
        return ((images.astype(np.float32) - 100) * gains.astype(np.float32)) / flatfield.astype(
            np.float32
        )

    viewer = make_napari_viewer()
    viewer.add_image(raw, name="raw")
    viewer.add_image(gains, name="gains")
    viewer.add_image(truth(raw), name="flat-fielded", metadata={"detcal": {
        "step": "flatfield.apply_flatfield", "source": "corrected",
        "params": {"profiles": {"path": str(tmp_path / "profiles")}}}})  # fmt: skip
    viewer.add_image(truth(raw), name="corrected", metadata={"detcal": {
        "step": "response.correct_image", "source": "raw",
        "params": {"coefficients": {"layer": "gains"},
                   "dark": {"path": str(tmp_path / "dark.tif")}},
    }})  # fmt: skip
    return viewer, truth


def _wait(qtbot, button, timeout=60000):
    qtbot.waitUntil(lambda: not button.__dict__.get("_detcal_busy"), timeout=timeout)


def _is_error(widget) -> bool:
    return widget.status.property("detcal_state") == "error"


def test_chain_save_load_and_apply(session, qtbot, tmp_path):
    viewer, truth = session
    widget = _dock(viewer)
    viewer.layers.selection.active = viewer.layers["flat-fielded"]
    shown = widget.steps_view.toPlainText()
    assert "input: layer 'raw'" in shown
    assert "1. response.correct_image: coefficients=<layer gains>" in shown
    assert "2. flatfield.apply_flatfield" in shown

    folder = tmp_path / "recipes"
    folder.mkdir()
    widget.save_recipe(folder / "gfp.json")
    _wait(qtbot, widget.save_button)
    assert not _is_error(widget), widget.status.text()
    saved = json.loads((folder / "gfp.json").read_text())
    assert saved["steps"][0]["params"]["coefficients"] == "gains.npy"
    np.testing.assert_array_equal(np.load(folder / "gains.npy"), viewer.layers["gains"].data)
    assert "response.correct_image → flatfield.apply_flatfield" in widget.recipe_label.text()

    # a new dataset, opened lazily: the result layer stays lazy
    new = np.random.default_rng(9).poisson(900, (6, *PLANE)).astype(np.uint16)
    viewer.add_image(da.from_array(new, chunks=(1, *PLANE)), name="next run")
    widget.load_recipe(folder / "gfp.json")
    widget.target_box.setCurrentText("next run")
    widget.apply_layer_button.click()
    qtbot.waitUntil(lambda: "next run (recipe)" in viewer.layers, timeout=30000)
    result = viewer.layers["next run (recipe)"]
    assert isinstance(result.data, da.Array)
    np.testing.assert_allclose(result.data.compute(), truth(new), rtol=1e-5)
    assert result.metadata["detcal"]["source"] == "next run"
    # the replayed layer's own chain is the recipe again
    widget.layer_box.setCurrentText("next run (recipe)")
    assert "2. flatfield.apply_flatfield" in widget.steps_view.toPlainText()

    source = save_array(new, tmp_path / "next.zarr")
    widget.input_edit.setText(str(source))
    widget.output_edit.setText(str(tmp_path / "next-corrected.zarr"))
    widget.apply_file_button.click()
    _wait(qtbot, widget.apply_file_button)
    assert "wrote" in widget.status.text(), widget.status.text()
    written = open_array(tmp_path / "next-corrected.zarr").compute()
    np.testing.assert_allclose(written, truth(new), rtol=1e-5)


def test_cancel_leaves_nothing_and_errors_are_shown(session, qtbot, tmp_path):
    viewer, _ = session
    widget = _dock(viewer)
    widget.apply_to_layer()
    assert _is_error(widget) and "save or load a recipe first" in widget.status.text()

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"detcal_recipe": 1, "steps": [
        {"step": "response.correct_image",
         "params": {"coefficients": "nowhere.npy"}}]}))  # fmt: skip
    widget.load_recipe(bad)
    assert _is_error(widget)
    assert "steps[0] (response.correct_image): coefficients" in widget.status.text()

    np.save(tmp_path / "g.npy", np.ones((512, 512)))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"detcal_recipe": 1, "steps": [
        {"step": "response.correct_image", "params": {"coefficients": "g.npy"}}]}))  # fmt: skip
    widget.load_recipe(good)
    big = da.ones((256, 512, 512), chunks=(1, 128, 128), dtype=np.uint16)
    source = save_array(big, tmp_path / "big.zarr", pyramid=False)
    target = tmp_path / "out.zarr"
    widget.input_edit.setText(str(source))
    widget.output_edit.setText(str(target))
    worker = widget.apply_to_file()
    reports = []
    worker.yielded.connect(reports.append)
    qtbot.waitUntil(lambda: any(done > 0 for done, _ in reports), timeout=30000)
    assert widget.cancel_button.isEnabled(), "the run ended before Cancel: make the data bigger"
    widget.cancel_button.click()
    _wait(qtbot, widget.apply_file_button)
    assert "cancelled" in widget.status.text(), widget.status.text()
    assert not target.exists()
    assert not list(tmp_path.glob(".out.zarr*"))  # no temporary left either
