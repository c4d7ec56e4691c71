"""The "Detector response" dock widget driven like a user would, on the synthetic sweep."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import time  # noqa: E402

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
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


def _fit(qtbot, widget):
    widget.fit_button.click()
    qtbot.waitUntil(lambda: widget.fit_button.isEnabled(), timeout=60000)


def test_fit_correct_save_load(make_napari_viewer, qtbot, sample, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(sample.volume, name="sweep")
    viewer.add_image(sample.dark, name="dark")
    viewer.add_image(sample.flat, name="flat")
    viewer.add_image(np.stack([sample.test_image] * 4), name="test images")
    widget = _dock(viewer)
    assert not widget.correct_button.isEnabled()
    widget.sweep_combo.value = viewer.layers["sweep"]
    widget.dark_combo.value = viewer.layers["dark"]
    widget.sigma.setValue(20.0)
    _fit(qtbot, widget)
    assert "gains" in viewer.layers and "fit quality" in viewer.layers, widget.status.text()
    gains = viewer.layers["gains"].data
    assert np.allclose(gains, fit_response(sample.volume, dark=sample.dark, sigma=20.0), rtol=1e-6)
    assert np.corrcoef(gains.ravel(), sample.gains.ravel())[0, 1] > 0.99
    assert viewer.layers["gains"].metadata["detcal"]["params"]["sigma"] == 20.0
    assert np.nanmedian(viewer.layers["fit quality"].data) > 0.999
    assert "0 undefined" in widget.status.text()

    widget.image_combo.value = viewer.layers["test images"]
    widget.flat_combo.value = viewer.layers["flat"]
    widget.residual_sigma.setValue(3.0)
    widget.correct_button.click()
    layer = viewer.layers["corrected"]
    assert isinstance(layer.data, da.Array)  # lazy: only the planes viewed are computed
    plane = np.asarray(layer.data[2])
    expected = correct_image(sample.test_image, gains, dark=sample.dark, flat=sample.flat,
                             sigma=3.0, smooth_sigma=20.0)  # fmt: skip
    assert np.allclose(plane, expected, rtol=1e-6)
    assert np.median(plane) == pytest.approx(0.6, rel=3e-3)  # the absorber's transmission
    highpass = plane / ndimage.gaussian_filter(plane, 4, mode="nearest") - 1
    assert highpass[8:-8, 8:-8].std() < 1e-3

    shot = viewer.screenshot(canvas_only=False)
    from imageio.v3 import imwrite

    imwrite("/tmp/response_widget.png", shot)

    # save, then load into a fresh widget state
    path = tmp_path / "gains.h5"
    widget.path_edit.setText(str(path))
    widget.save_button.click()
    assert np.allclose(open_array(path).compute(), gains)
    widget.gains = None
    viewer.layers.remove("gains")
    save_array(gains * 2, tmp_path / "double.npy")
    widget.path_edit.setText(str(tmp_path / "double.npy"))
    widget.load_button.click()
    assert np.allclose(viewer.layers["gains"].data, gains * 2)
    assert widget.correct_button.isEnabled()
    assert "loaded" in widget.status.text()


def test_cancel_and_bad_input(make_napari_viewer, qtbot, sample):
    viewer = make_napari_viewer()

    def slow(block):
        time.sleep(0.1)
        return block

    lazy = da.from_array(sample.volume, chunks=(1, 128, 128)).map_blocks(slow)
    viewer.add_image(lazy, name="slow sweep")
    widget = _dock(viewer)
    widget.sweep_combo.value = viewer.layers["slow sweep"]
    widget.fit_button.click()
    qtbot.waitUntil(lambda: widget.cancel_button.isEnabled(), timeout=10000)
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: widget.fit_button.isEnabled(), timeout=30000)
    assert "gains" not in viewer.layers
    assert widget.status.text() == "cancelled"

    # a single plane is not a sweep: the widget reports it, nothing is added
    viewer.add_image(sample.dark, name="one plane")
    widget.sweep_combo.value = viewer.layers["one plane"]
    assert widget.fit() is None
    assert "sweep" in widget.status.text() and "gains" not in viewer.layers
    # correcting before any gains exist
    assert widget.correct() is None and "first" in widget.status.text()
    # a gain file of the wrong shape is refused when correcting
    widget.gains = np.ones((5, 5), np.float32)
    widget.image_combo.value = viewer.layers["one plane"]
    assert widget.correct() is None and "coefficients" in widget.status.text()
