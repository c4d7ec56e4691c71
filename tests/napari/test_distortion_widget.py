"""The "Grid distortion" dock widget driven like a user would, on a synthetic hole grid."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal.distortion import DistortionMap, calibrate_distortion  # noqa: E402
from detcal.sample_data.hole_grid import make_hole_grid  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sample():
    return make_hole_grid(shape=(160, 176), distortion=4.0, seed=11)


def _dock(viewer):
    """Open the widget as a user does: through the plugin's manifest."""
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Grid distortion"
    )
    return widget


def _click_and_wait(qtbot, button):
    button.click()
    qtbot.waitUntil(lambda: not button.__dict__.get("_detcal_busy"), timeout=60000)


def _is_error(widget) -> bool:
    return widget.status.property("detcal_state") == "error"


def test_find_edit_fit_correct_save(make_napari_viewer, qtbot, sample, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="hole grid")
    viewer.add_image(np.stack([sample.image, sample.image * 2]), name="data")
    widget = _dock(viewer)
    widget.grid_combo.value = viewer.layers["hole grid"]
    assert not widget.correct_button.isEnabled() and not widget.save_button.isEnabled()

    _click_and_wait(qtbot, widget.find_button)
    spots = viewer.layers["grid spots"]
    assert len(spots.data) == len(sample.points), widget.status.text()
    assert widget.options.controls["spot_diameter"].value  # the estimate is shown

    # the user deletes a few spots before fitting: the fit uses what the layer holds
    spots.data = spots.data[5:]
    widget.options.controls["pitch"].value = "0.5"
    _click_and_wait(qtbot, widget.fit_button)
    assert not _is_error(widget), widget.status.text()
    assert len(widget.map.spots) == len(sample.points) - 5
    expected = calibrate_distortion(sample.image, peaks=spots.data, pitch=0.5)
    assert np.allclose(viewer.layers["distortion dy"].data, expected.displacement[0])
    assert np.allclose(viewer.layers["distortion dx"].data, expected.displacement[1])
    assert viewer.layers["valid region"].data.max() == 1
    vectors = viewer.layers["spot displacement"]
    assert vectors.data.shape == (len(sample.points) - 5, 2, 2)
    widget.exaggeration.setValue(50)
    assert np.allclose(vectors.data[:, 1], expected.residuals * 50)

    widget.image_combo.value = viewer.layers["data"]
    widget.correct_options.controls["preserve"].value = "counts"
    _click_and_wait(qtbot, widget.correct_button)
    corrected = viewer.layers["distortion corrected"]
    assert isinstance(corrected.data, da.Array)  # lazy
    plane = np.asarray(corrected.data[1])
    assert np.allclose(plane, expected.correct(sample.image * 2, preserve="counts"), rtol=1e-5)
    # the map is not in a file yet: the record says so, the status says how to fix it
    assert corrected.metadata["detcal"] == {
        "step": "distortion.correct", "source": "data",
        "params": {"map": None, "preserve": "counts"},
    }  # fmt: skip
    assert "save the map" in widget.status.text()
    fitted = viewer.layers["distortion dy"].metadata["detcal"]
    assert fitted["step"] == "distortion.calibrate_distortion"
    assert fitted["source"] == "hole grid" and fitted["params"]["pitch"] == 0.5

    path = tmp_path / "distortion.h5"
    widget.path_edit.setText(str(path))
    _click_and_wait(qtbot, widget.save_button)
    assert "saved" in widget.status.text()
    loaded = DistortionMap.load(path)
    assert np.abs(loaded.displacement - expected.displacement)[:, ~expected.mask].max() < 2e-3
    # correcting with the saved map records its file, for recipes
    _click_and_wait(qtbot, widget.correct_button)
    params = viewer.layers["distortion corrected"].metadata["detcal"]["params"]
    assert params["map"] == {"path": str(path)}


def test_load_a_map_and_correct(make_napari_viewer, qtbot, sample, tmp_path):
    path = calibrate_distortion(sample.image, pitch=0.5).save(tmp_path / "map.h5")
    viewer = make_napari_viewer()
    viewer.add_image(sample.image, name="image")
    widget = _dock(viewer)
    assert not widget.correct_button.isEnabled()
    widget.path_edit.setText(str(path))
    _click_and_wait(qtbot, widget.load_button)
    assert widget.correct_button.isEnabled(), widget.status.text()
    widget.image_combo.value = viewer.layers["image"]
    _click_and_wait(qtbot, widget.correct_button)
    corrected = viewer.layers["distortion corrected"]
    expected = DistortionMap.load(path).correct(sample.image)
    assert np.allclose(np.asarray(corrected.data), expected, rtol=1e-5)
    assert corrected.metadata["detcal"]["params"]["map"] == {"path": str(path)}


def test_errors_are_shown(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    viewer.add_image(np.full((64, 64), 7.0, np.float32), name="flat")
    widget = _dock(viewer)
    _click_and_wait(qtbot, widget.find_button)
    assert _is_error(widget) and "no spots found" in widget.status.text()
    assert "grid spots" not in viewer.layers
    widget.options.controls["pitch"].value = "-1"
    widget.fit()
    assert _is_error(widget) and "pitch" in widget.status.text().lower()
