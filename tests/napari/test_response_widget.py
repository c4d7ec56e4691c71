"""The "Detector response" dock widget driven like a user would, on the synthetic sweep."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import time  # noqa: E402

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import tifffile  # noqa: E402
from scipy import ndimage  # noqa: E402

from detcal.io import open_array, save_array  # noqa: E402
from detcal.response import correct_image, fit_response  # noqa: E402
from detcal.sample_data.sweep import make_sweep  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def sample():
    return make_sweep(shape=(12, 128, 128), seed=1)


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Detector response"
    )
    return widget


def _click_and_wait(qtbot, button):
    """Click a step's button and wait until its run has ended (the runner frees the button)."""
    button.click()
    qtbot.waitUntil(lambda: not button.__dict__.get("_detcal_busy"), timeout=60000)


def _is_error(widget) -> bool:
    return widget.status.property("detcal_state") == "error"


def test_fit_correct_save_load(make_napari_viewer, qtbot, sample, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(sample.volume, name="sweep")
    viewer.add_image(np.stack([sample.dark] * 3), name="darks")  # a stack: averaged
    viewer.add_image(sample.flat, name="flat")
    viewer.add_image(np.stack([sample.test_image] * 4), name="test images")
    widget = _dock(viewer)
    assert widget.sweep_combo.value.name == "sweep"
    assert widget.image_combo.value.name != "sweep"  # the images box avoids the sweep
    assert not widget.correct_button.isEnabled()  # no gains yet
    widget.fit_dark_combo.value = viewer.layers["darks"]
    widget.fit_options.controls["sigma"].value = 20.0
    assert widget.correct_options.controls["smooth_sigma"].value == 20.0  # follows the fit's
    _click_and_wait(qtbot, widget.fit_button)
    assert "gains" in viewer.layers and "fit quality" in viewer.layers, widget.status.text()
    gains = viewer.layers["gains"].data
    assert np.allclose(gains, fit_response(sample.volume, dark=sample.dark, sigma=20.0), rtol=1e-5)
    assert np.corrcoef(gains.ravel(), sample.gains.ravel())[0, 1] > 0.99
    record = viewer.layers["gains"].metadata["detcal"]
    assert record["step"] == "response.fit_response" and record["source"] == "sweep"
    assert record["params"]["sigma"] == 20.0 and record["params"]["dark"] == {"layer": "darks"}
    assert np.nanmedian(viewer.layers["fit quality"].data) > 0.999
    assert "0 undefined" in widget.status.text() and not _is_error(widget)
    assert widget.gains_combo.value is viewer.layers["gains"]
    assert widget.correct_button.isEnabled()

    widget.image_combo.value = viewer.layers["test images"]
    widget.dark_combo.value = viewer.layers["darks"]  # the Correct section's own dark
    widget.flat_combo.value = viewer.layers["flat"]
    widget.correct_options.controls["residual_sigma"].value = "3"
    _click_and_wait(qtbot, widget.correct_button)
    layer = viewer.layers["corrected"]
    assert isinstance(layer.data, da.Array)  # lazy: only the planes viewed are computed
    plane = np.asarray(layer.data[2])
    expected = correct_image(sample.test_image, gains, dark=sample.dark, flat=sample.flat,
                             sigma=3.0, smooth_sigma=20.0)  # fmt: skip
    assert np.allclose(plane, expected, rtol=1e-5)
    assert np.median(plane) == pytest.approx(0.6, rel=3e-3)  # the absorber's transmission
    highpass = plane / ndimage.gaussian_filter(plane, 4, mode="nearest") - 1
    assert highpass[8:-8, 8:-8].std() < 1e-3
    record = layer.metadata["detcal"]
    assert record["step"] == "response.correct_image" and record["source"] == "test images"
    assert record["params"]["coefficients"] == {"layer": "gains"}
    assert record["params"]["flat"] == {"layer": "flat"} and record["params"]["sigma"] == 3.0

    # save, then load from a file: the loaded layer records its absolute path
    path = tmp_path / "gains.h5"
    widget.path_edit.setText(str(path))
    _click_and_wait(qtbot, widget.save_button)
    assert np.allclose(open_array(path).compute(), gains)
    viewer.layers.remove("gains")
    save_array(gains * 2, tmp_path / "double.npy")
    widget.path_edit.setText(str(tmp_path / "double.npy"))
    _click_and_wait(qtbot, widget.load_button)
    assert np.allclose(viewer.layers["gains"].data, gains * 2)
    assert widget.correct_button.isEnabled()
    assert "loaded" in widget.status.text()
    _click_and_wait(qtbot, widget.correct_button)
    applied = viewer.layers["corrected"].metadata["detcal"]["params"]["coefficients"]
    assert applied["layer"] == "gains" and applied["path"] == str(tmp_path / "double.npy")


def test_no_gain_is_an_error_and_keeps_the_loaded_gains(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()
    viewer.add_image(sample.volume, name="sweep")
    viewer.add_image(np.ones((128, 128), np.float32), name="gains")
    widget = _dock(viewer)
    assert widget.correct_button.isEnabled()
    widget.fit_options.controls["cutoff"].value = 1e8  # above every smoothed reading
    _click_and_wait(qtbot, widget.fit_button)
    assert _is_error(widget) and "no pixel has a defined gain" in widget.status.text()
    assert np.array_equal(viewer.layers["gains"].data, np.ones((128, 128)))  # untouched
    assert "fit quality" not in viewer.layers


def test_ct_sample_coefficients_correct_the_ct_projections(make_napari_viewer, qtbot, real_data):
    viewer = make_napari_viewer()
    ct = tifffile.imread(real_data / "ct_projections.tif")
    dark, flat = (tifffile.imread(real_data / f"{n}.tif") for n in ("dark", "flat"))
    coefficients = tifffile.imread(real_data / "coefficients.tif")
    viewer.add_image(ct, name="CT projections")
    viewer.add_image(dark, name="CT dark")
    viewer.add_image(flat, name="CT flat")
    viewer.add_image(coefficients, name="CT coefficients (detectorcal)", visible=False)
    widget = _dock(viewer)
    assert widget.gains_combo.value.name == "CT coefficients (detectorcal)"
    widget.image_combo.value = viewer.layers["CT projections"]
    widget.dark_combo.value = viewer.layers["CT dark"]
    widget.flat_combo.value = viewer.layers["CT flat"]
    _click_and_wait(qtbot, widget.correct_button)
    out = np.asarray(viewer.layers["corrected"].data[3])
    np.testing.assert_allclose(out, correct_image(ct[3], coefficients, dark=dark, flat=flat),
                               rtol=1e-5)  # fmt: skip

    # images of another detector: the images are blamed, not the gains
    viewer.add_image(np.ones((2, 64, 64), np.float32), name="other detector")
    widget.image_combo.value = viewer.layers["other detector"]
    _click_and_wait(qtbot, widget.correct_button)
    assert _is_error(widget)
    assert widget.status.text().startswith("image: its planes are (64, 64)")


def test_multiscale_images_give_a_multiscale_result(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()
    full = np.stack([sample.test_image] * 2).astype(np.float32)
    levels = [da.from_array(full), da.from_array(full.reshape(2, 64, 2, 64, 2).mean((2, 4)))]
    viewer.add_image(levels, name="pyramid", multiscale=True)
    viewer.add_image(sample.gains.astype(np.float32), name="gains")
    widget = _dock(viewer)
    widget.image_combo.value = viewer.layers["pyramid"]
    _click_and_wait(qtbot, widget.correct_button)
    layer = viewer.layers["corrected"]
    assert layer.multiscale and [lv.shape for lv in layer.data] == [(2, 128, 128), (2, 64, 64)]


def test_cancel_and_bad_input(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()

    def slow(block):
        time.sleep(0.1)
        return block

    lazy = da.from_array(sample.volume, chunks=(1, 128, 128)).map_blocks(slow)
    viewer.add_image(lazy, name="slow sweep", contrast_limits=(0, 5000))
    widget = _dock(viewer)
    widget.sweep_combo.value = viewer.layers["slow sweep"]
    widget.fit_button.click()
    assert not widget.fit_button.isEnabled()  # one run per button
    assert widget.fit() is None
    qtbot.waitUntil(lambda: widget.fit_cancel.isEnabled(), timeout=10000)
    widget.fit_cancel.click()
    qtbot.waitUntil(lambda: widget.fit_button.isEnabled(), timeout=30000)
    assert "gains" not in viewer.layers
    assert "cancelled" in widget.status.text()

    # a single plane is not a sweep: the widget reports it, nothing is added
    viewer.add_image(sample.dark, name="one plane")
    widget.sweep_combo.value = viewer.layers["one plane"]
    assert widget.fit() is None
    assert _is_error(widget) and widget.status.text().startswith("sweep:")
    assert "gains" not in viewer.layers
    # correcting with a gain map of another shape: the gains are named
    viewer.add_image(np.ones((5, 5), np.float32), name="small gains")
    widget.gains_combo.value = viewer.layers["small gains"]
    widget.image_combo.value = viewer.layers["one plane"]
    _click_and_wait(qtbot, widget.correct_button)
    assert _is_error(widget) and "coefficients: the gains are (5, 5)" in widget.status.text()
    assert "corrected" not in viewer.layers
