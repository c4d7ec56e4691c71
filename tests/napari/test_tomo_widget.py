"""The Tomography dock widget, through the manifest, on a synthetic DXchange scan."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal.io import open_array  # noqa: E402
from detcal.sample_data.tomography import make_tomography  # noqa: E402
from detcal.tomo.pipeline import sidecar_path, write_dxchange  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def scan():
    return make_tomography(n_angles=120, n_rows=4, n_cols=96, seed=11)


@pytest.fixture
def opened(make_napari_viewer, scan, tmp_path):
    path = write_dxchange(tmp_path / "scan.h5", scan.projections, scan.flats, scan.darks,
                          scan.theta)  # fmt: skip
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Tomography"
    )
    widget.file_edit.value = path
    widget.open_button.click()
    return viewer, widget


def rel_rms(rec, truth, mask):
    return float(np.sqrt(np.mean((rec[mask] - truth[mask]) ** 2) / np.mean(truth[mask] ** 2)))


def test_open_normalise_and_sinogram_under_cursor(opened, scan):
    viewer, widget = opened
    proj = viewer.layers["projections"]
    assert proj.data.shape == (120, 4, 96) and isinstance(proj.data, da.Array)
    np.testing.assert_allclose(proj.metadata["detcal"]["params"]["theta"], scan.theta)
    assert viewer.layers["flats"].data.shape == scan.flats.shape
    widget.normalise_button.click()
    norm = viewer.layers["normalised"].data
    assert isinstance(norm, da.Array)
    expected = (scan.projections[7].astype(float) - scan.darks.mean(0)) / (
        scan.flats.mean(0) - scan.darks.mean(0)
    )
    np.testing.assert_allclose(norm[7].compute(), expected, rtol=1e-4)
    # the cursor over row 3 of the projections shows the sinogram of row 3
    viewer.cursor.position = (0.0, 3.0, 40.0)
    assert widget.row_spin.value() == 3
    sino = viewer.layers["sinogram"].data
    assert sino.shape == (120, 96)
    clean = scan.line_integrals[:, 3]
    inside = ~scan.outlier_mask[:, 3]
    assert np.abs(sino - clean)[inside].mean() < 0.02 * clean.max()
    widget.update_sinogram(1)
    assert viewer.layers["sinogram"].metadata["detcal"]["params"]["row"] == 1


def test_find_centre_slice_and_sweep(opened, scan, qtbot):
    viewer, widget = opened
    widget.stripe_group.setChecked(True)
    widget.stripe_method.setCurrentText("ti")
    widget.outlier_group.setChecked(True)
    widget.outlier_diff.setValue(2000.0)
    widget.center_method.setCurrentText("vo")
    widget.row_spin.setValue(2)
    widget.find_button.click()
    qtbot.waitUntil(lambda: widget.center_label.text().startswith("found"), timeout=60000)
    assert abs(widget.center_spin.value() - scan.center) < 0.5
    widget.slice_button.click()
    image = viewer.layers["slice"].data
    assert image.shape == (96, 96)
    assert rel_rms(image, scan.phantom[2], scan.object_mask[2]) < 0.2
    widget.sweep_half.setValue(2.0)
    widget.sweep_step.setValue(1.0)
    widget.sweep_button.click()
    stack = viewer.layers["centre sweep"]
    centers = np.array(stack.metadata["detcal"]["params"]["centers"])
    assert stack.data.shape == (centers.size, 96, 96)
    errors = [rel_rms(s, scan.phantom[2], scan.object_mask[2]) for s in stack.data]
    assert abs(centers[int(np.argmin(errors))] - scan.center) <= 0.5
    viewer.dims.set_current_step(0, 0)
    assert widget.sweep_label.text() == f"centre sweep: {centers[0]:.2f}"
    viewer.dims.set_current_step(0, 3)
    assert viewer.canvas.overlays.text.text == f"centre sweep: {centers[3]:.2f}"


def test_volume_lazy_and_to_zarr(opened, scan, qtbot, tmp_path):
    viewer, widget = opened
    widget.center_spin.setValue(scan.center)
    widget.volume_button.click()
    layer = viewer.layers["reconstruction"]
    assert isinstance(layer.data, da.Array) and layer.data.shape == (4, 96, 96)
    assert rel_rms(layer.data[1].compute(), scan.phantom[1], scan.object_mask[1]) < 0.25
    out = tmp_path / "rec.zarr"
    widget.save_edit.value = out
    widget.save_button.click()
    assert widget.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: widget.status.text().startswith("saved"), timeout=60000)
    saved = open_array(out).compute()
    np.testing.assert_allclose(saved, layer.data.compute(), rtol=1e-5, atol=1e-6)
    assert sidecar_path(out).exists()
    assert "rec.zarr" in viewer.layers
    qtbot.waitUntil(lambda: not widget.cancel_button.isEnabled(), timeout=10000)
    widget.update_sinogram(2)
    widget.slice_button.click()
    viewer.layers["reconstruction"].visible = False
    viewer.window._qt_window.resize(1500, 950)
    viewer.reset_view()
    shot = viewer.screenshot(canvas_only=False)
    assert shot.shape[0] > 200
    import imageio.v3 as iio

    iio.imwrite("/tmp/tomo_widget.png", shot)


def test_bad_input_shows_an_error(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Tomography"
    )
    widget.open_file(tmp_path / "missing.h5")
    assert widget.status.text().startswith("error")
    assert not widget.find_button.isEnabled()
    assert "projections" not in viewer.layers


def test_sample_layers_and_cancel(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    import time

    import detcal.napari.tomo_widget as module

    viewer = make_napari_viewer()
    viewer.open_sample("napari-detcal", "tomo_180")
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Tomography"
    )
    proj = viewer.layers["tomo 180 projections"]
    truth = proj.metadata["detcal"]["truth"]["center"]
    widget._refresh_layers()  # what showing the dock does (the test window stays hidden)
    widget.proj_combo.value = proj
    assert widget.flat_combo.value is viewer.layers["tomo 180 flats"]
    assert widget.dark_combo.value is viewer.layers["tomo 180 darks"]
    widget.use_layers_button.click()
    assert widget.find_button.isEnabled()
    widget.center_method.setCurrentText("pc")
    widget.find_button.click()
    qtbot.waitUntil(lambda: widget.center_label.text().startswith("found"), timeout=60000)
    assert abs(widget.center_spin.value() - truth) < 0.5
    # a slow save, cancelled: nothing is left behind
    real = module.write_reconstruction

    def slow(*args, progress, **kwargs):
        def report(done, total):
            time.sleep(0.05)
            progress(done, total)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(module, "write_reconstruction", slow)
    out = tmp_path / "rec.zarr"
    widget.save_edit.value = out
    widget.save_button.click()
    qtbot.waitUntil(widget.cancel_button.isEnabled, timeout=10000)
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: widget.status.text().startswith("cancelled"), timeout=60000)
    # the save stops at its next progress report and removes its temporary files
    qtbot.waitUntil(lambda: list(tmp_path.iterdir()) == [], timeout=30000)
    assert not out.exists() and not sidecar_path(out).exists()
