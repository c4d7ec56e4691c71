"""The "Flat-field" dock widget driven like a user would, on the synthetic mosaic."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import time  # noqa: E402

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal.flatfield import Profiles, load_profiles, save_profiles  # noqa: E402
from detcal.sample_data.mosaic import flat_nrms, make_mosaic  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sample():
    return make_mosaic(n_z=12, empty_z=(3, 8), tile_shape=(64, 64), seed=11)


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Flat-field"
    )
    widget._refresh_layers()
    return widget


def _wait(qtbot, button):
    qtbot.waitUntil(lambda: not button.__dict__.get("_detcal_busy"), timeout=60000)


def _wait_for_flat(qtbot, viewer, widget):
    _wait(qtbot, widget.estimate_button)
    assert "flatfield" in viewer.layers, widget.status.text()


def test_tile_grid_numbers_in_inverted_n(make_napari_viewer, sample):
    viewer = make_napari_viewer()
    viewer.add_image(sample.tiles, name="tiles")
    widget = _dock(viewer)
    widget.layer_combo.value = viewer.layers["tiles"]
    grid = widget.tile_grid
    assert grid.grid_shape == (3, 3)
    layout = grid._grid
    labels = [[layout.itemAtPosition(r, c).widget().text() for c in range(3)] for r in range(3)]
    assert labels == [["1", "4", "7"], ["2", "5", "8"], ["3", "6", "9"]]
    grid.rows_spin.setValue(2)
    grid.cols_spin.setValue(4)
    assert layout.itemAtPosition(1, 3).widget().text() == "8"
    viewer.add_image(sample.tiles[:6], name="six", metadata={"grid_shape": (2, 3)})
    widget.layer_combo.value = viewer.layers["six"]
    assert grid.grid_shape == (2, 3)
    widget.layer_combo.value = viewer.layers["tiles"]
    assert grid.grid_shape == (3, 3)
    grid.button(3).click()
    grid.corners_button.click()
    assert grid.selected() == (1, 3, 7, 9)
    grid.button(3).click()
    assert grid.selected() == (1, 7, 9)
    assert "tiles 1, 7, 9" in widget.scenario_label.text()


def test_estimate_from_clicked_tiles_and_z_range_then_apply(
    make_napari_viewer, qtbot, sample, tmp_path
):
    viewer = make_napari_viewer()
    viewer.add_image(sample.tiles, name="tiles")
    widget = _dock(viewer)
    widget.layer_combo.value = viewer.layers["tiles"]
    for number in (1, 3, 7, 9):
        widget.tile_grid.button(number).click()
    widget.use_z.setChecked(True)
    widget.z_slider.setValue((3, 8))
    widget.options.controls["dark_level"].value = sample.dark_level
    assert "planes below 3 and above 8" in widget.scenario_label.text()
    widget.estimate_button.click()
    _wait_for_flat(qtbot, viewer, widget)
    flat = viewer.layers["flatfield"].data
    assert flat_nrms(flat, sample.flatfield) <= 0.01
    assert np.all(viewer.layers["darkfield"].data == sample.dark_level)
    assert widget.scenario == "empty"
    assert "rejected" in widget.status.text()  # the contaminated planes were dropped
    assert set(widget.plot.curves) == {"row", "column"}
    np.testing.assert_allclose(widget.plot.curves["row"], flat[32])
    record = viewer.layers["flatfield"].metadata["detcal"]
    assert record["step"] == "flatfield.estimate_flatfield" and record["source"] == "tiles"
    params = record["params"]
    assert params["fov_list"] == [1, 3, 7, 9] and params["z_levels"] == [3, 8]
    assert params["dark"] == sample.dark_level and params["scenario"] == "empty"
    assert params["sampling"] == "all 24 planes"  # 4 tiles x 6 empty planes, all fit

    widget.apply_button.click()
    _wait(qtbot, widget.apply_button)
    corrected = viewer.layers["tiles flat-field corrected"]
    assert corrected.metadata["detcal"]["step"] == "flatfield.apply_flatfield"
    assert isinstance(corrected.data, da.Array)  # lazy
    clean = ~sample.contaminated
    out = corrected.data.compute()[clean].mean(axis=0)
    truth = sample.truth[clean].mean(axis=0)
    ratio = out / truth
    assert np.std(ratio) / np.mean(ratio) < 0.01

    written = widget.save_to(tmp_path / "model")
    np.testing.assert_allclose(load_profiles(written).flatfield, flat, rtol=1e-6)

    with pytest.raises(FileExistsError):  # a second model in the same folder
        widget.save_to(tmp_path / "model")
    assert widget.save_to(tmp_path / "model", overwrite=True) == written


def test_basic_when_nothing_marked_and_load_measured(make_napari_viewer, qtbot, sample, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(sample.tiles[4], name="stack")  # one (z, row, col) field
    widget = _dock(viewer)
    widget.layer_combo.value = viewer.layers["stack"]
    assert not widget.tile_grid.isEnabled()
    assert "BaSiC" in widget.scenario_label.text()
    controls = widget.options.controls
    controls["working_size"].value = 16
    controls["max_workers"].value = "1"
    controls["smoothness_flatfield"].value = "0.5"
    controls["n_samples"].value = "8"
    assert widget.options.value().basic_params() == {
        "autosegment": False,
        "autosegment_margin": 10,
        "epsilon": 0.1,
        "get_darkfield": False,
        "working_size": 16,
        "max_workers": 1,
        "smoothness_flatfield": 0.5,
    }
    widget.estimate_button.click()
    _wait_for_flat(qtbot, viewer, widget)
    assert widget.scenario == "basic"
    assert widget.profiles.settings["working_size"] == 16

    save_profiles(Profiles(sample.flatfield, sample.dark), tmp_path / "measured")
    widget.load_from(tmp_path / "measured")
    assert widget.scenario == "measured"
    record = viewer.layers["flatfield"].metadata["detcal"]
    assert record["step"] == "flatfield.load_profiles"
    assert record["params"]["path"] == {"path": str(tmp_path / "measured")}
    np.testing.assert_allclose(viewer.layers["flatfield"].data, sample.flatfield)
    np.testing.assert_allclose(viewer.layers["darkfield"].data, sample.dark)


def test_cancel_and_errors(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()

    def slow(block):
        time.sleep(0.05)
        return block

    lazy = da.from_array(sample.tiles, chunks=(1, 1, 64, 64)).map_blocks(slow)
    viewer.add_image(lazy, name="slow tiles")
    widget = _dock(viewer)
    widget.layer_combo.value = viewer.layers["slow tiles"]
    widget.tile_grid.select_corners()
    # automatic sampling: all 48 planes fit the memory budget, about 2.5 s to read
    widget.estimate_button.click()
    assert not widget.estimate_button.isEnabled()  # one run per button
    qtbot.waitUntil(lambda: widget.cancel_button.isEnabled(), timeout=10000)
    widget.cancel_button.click()
    _wait(qtbot, widget.estimate_button)
    assert widget.estimate_button.isEnabled()
    assert "flatfield" not in viewer.layers
    assert widget.status.text().endswith("cancelled")

    widget.use_z.setChecked(True)
    widget.z_slider.setValue((0, 11))  # selects no plane
    widget.estimate_button.click()
    qtbot.waitUntil(lambda: "select no plane" in widget.status.text(), timeout=30000)
    assert widget.status.property("detcal_state") == "error"
    assert "flatfield" not in viewer.layers
    assert widget.apply() is None and "first" in widget.status.text()


def test_cancel_during_a_basic_fit_says_it_is_finishing(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()
    viewer.add_image(sample.tiles[4], name="stack")
    widget = _dock(viewer)
    widget.layer_combo.value = viewer.layers["stack"]
    widget.options.controls["working_size"].value = 16
    widget.estimate_button.click()
    qtbot.waitUntil(lambda: widget.cancel_button.isEnabled(), timeout=10000)
    widget.cancel_button.click()
    assert widget.status.text() == "cancelling, the fit ends after its current iteration"
    assert not widget.estimate_button.isEnabled()  # until the fit has really stopped
    _wait(qtbot, widget.estimate_button)
    assert widget.estimate_button.isEnabled() and widget.status.text().endswith("cancelled")
    assert "flatfield" not in viewer.layers


@pytest.mark.parametrize("name", ["Flat-field", "Detector response"])
def test_the_correcting_docks_load_the_compiled_loop_when_they_open(
    make_napari_viewer, monkeypatch, name
):
    # so that the viewer does not freeze loading it as it draws the first corrected plane
    import detcal.napari.flatfield_widget as flatfield_widget
    import detcal.napari.response_widget as response_widget

    calls = []
    for module in (flatfield_widget, response_widget):
        monkeypatch.setattr(module, "load_loop", lambda: calls.append(name))
    viewer = make_napari_viewer()
    viewer.window.add_plugin_dock_widget(plugin_name="napari-detcal", widget_name=name)
    assert calls == [name]
