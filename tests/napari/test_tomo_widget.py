"""The Tomography dock widget, through the manifest, on synthetic DXchange scans."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import time  # noqa: E402

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


@pytest.fixture(autouse=True)
def _steps_end(make_napari_viewer, qtbot):
    """Let every background step end before the viewer closes."""
    from detcal.napari import _background

    yield
    qtbot.waitUntil(lambda: not _background._RUNNING, timeout=60000)
    qtbot.wait(100)


def _dock(viewer):
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Tomography"
    )
    return widget


def _sinogram_row(viewer):
    if "sinogram" not in viewer.layers:
        return None
    return viewer.layers["sinogram"].metadata["detcal"]["params"]["row"]


@pytest.fixture
def opened(make_napari_viewer, scan, tmp_path, qtbot):
    path = write_dxchange(tmp_path / "scan.h5", scan.projections, scan.flats, scan.darks,
                          scan.theta)  # fmt: skip
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.file_edit.value = path
    widget.open_button.click()
    qtbot.waitUntil(lambda: widget.status.text() == "opened", timeout=30000)
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == 2, timeout=30000)  # the middle row
    return viewer, widget


def rel_rms(rec, truth, mask):
    return float(np.sqrt(np.mean((rec[mask] - truth[mask]) ** 2) / np.mean(truth[mask] ** 2)))


def test_open_normalize_and_the_sinogram_under_the_cursor(opened, scan, qtbot):
    viewer, widget = opened
    proj = viewer.layers["projections"]
    assert proj.data.shape == (120, 4, 96) and isinstance(proj.data, da.Array)
    np.testing.assert_allclose(proj.metadata["detcal"]["params"]["theta"], scan.theta)
    assert proj.metadata["detcal"]["step"] == "tomo.open_dataset"
    assert viewer.layers["flats"].data.shape == scan.flats.shape
    widget.normalize_button.click()
    norm = viewer.layers["normalized"].data
    assert isinstance(norm, da.Array)
    expected = (scan.projections[7].astype(float) - scan.darks.mean(0)) / (
        scan.flats.mean(0) - scan.darks.mean(0)
    )
    np.testing.assert_allclose(norm[7].compute(), expected, rtol=1e-4)
    # the cursor over row 3 of the projections shows the sinogram of row 3 (not row 2)
    viewer.cursor.position = (0.0, 3.0, 40.0)
    assert widget.row_spin.value() == 3
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == 3, timeout=30000)
    sino = viewer.layers["sinogram"].data
    assert sino.shape == (120, 96)
    inside = ~scan.outlier_mask[:, 3]
    errors = [np.abs(sino - scan.line_integrals[:, r])[inside].mean() for r in range(4)]
    assert int(np.argmin(errors)) == 3
    assert errors[3] < 0.02 * scan.line_integrals[:, 3].max()
    assert viewer.layers["sinogram"].metadata["detcal"]["step"] == "tomo.preview.row_sinogram"


def test_moving_cursor_starts_one_preview_and_drops_stale_ones(opened, qtbot, monkeypatch):
    viewer, widget = opened
    import detcal.napari.tomo_widget as module

    started = []
    real = module.preview.row_sinogram

    def counting(dataset, row, *args, **kwargs):
        started.append(row)
        return real(dataset, row, *args, **kwargs)

    monkeypatch.setattr(module.preview, "row_sinogram", counting)
    for row in (0, 1, 3, 1, 0):  # faster than the debounce
        viewer.cursor.position = (0.0, float(row), 40.0)
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == 0, timeout=30000)
    qtbot.wait(400)
    assert started == [0]


def test_find_centre_sweep_and_slice(opened, scan, qtbot):
    viewer, widget = opened
    widget.form.controls["stripe"].value = "ti"
    widget.form.controls["outlier_diff"].value = "2000"
    widget.row_spin.setValue(2)
    widget.find_button.click()
    assert not widget.find_button.isEnabled()  # one run per button
    qtbot.waitUntil(lambda: widget.find_button.isEnabled(), timeout=60000)
    center = float(widget.form.controls["center"].value)
    assert abs(center - scan.center) < 0.5
    # a sweep asymmetric about the truth; its slices are in the order of the centres
    widget.form.controls["center"].value = f"{scan.center - 1:.2f}"
    widget.sweep_half.value, widget.sweep_step.value = 2.0, 0.5
    widget.sweep_button.click()
    qtbot.waitUntil(lambda: "centre sweep" in viewer.layers, timeout=60000)
    stack = viewer.layers["centre sweep"]
    centers = np.array(stack.metadata["detcal"]["params"]["centers"])
    assert stack.data.shape == (centers.size, 96, 96)
    errors = [rel_rms(s, scan.phantom[2], scan.object_mask[2]) for s in stack.data]
    assert abs(centers[int(np.argmin(errors))] - scan.center) <= 0.25
    viewer.dims.set_current_step(0, 3)
    assert viewer.canvas.overlays.text.text == f"centre sweep: {centers[3]:.2f}"
    assert viewer.canvas.overlays.text.visible
    # a reconstruction afterwards leaves no sweep label over it
    widget.form.controls["center"].value = f"{scan.center:.2f}"
    widget.slice_button.click()
    qtbot.waitUntil(lambda: "slice" in viewer.layers, timeout=60000)
    assert not viewer.canvas.overlays.text.visible
    image = viewer.layers["slice"].data
    assert image.shape == (96, 96)
    assert rel_rms(image, scan.phantom[2], scan.object_mask[2]) < 0.15
    assert "centre" in widget.status.text()


def test_volume_lazy_and_to_zarr(opened, scan, qtbot, tmp_path):
    viewer, widget = opened
    widget.form.controls["center"].value = f"{scan.center}"
    widget.volume_button.click()
    qtbot.waitUntil(lambda: "reconstruction" in viewer.layers, timeout=60000)
    layer = viewer.layers["reconstruction"]
    assert isinstance(layer.data, da.Array) and layer.data.shape == (4, 96, 96)
    assert rel_rms(layer.data[1].compute(), scan.phantom[1], scan.object_mask[1]) < 0.25
    low, high = layer.contrast_limits
    assert low < 0.2 * scan.phantom.max() < high
    out = tmp_path / "rec.zarr"
    widget.save_edit.value = out
    widget.save_button.click()
    qtbot.waitUntil(lambda: widget.status.text().startswith("saved"), timeout=60000)
    saved = open_array(out).compute()
    np.testing.assert_allclose(saved, layer.data.compute(), rtol=1e-5, atol=1e-6)
    assert sidecar_path(out).exists()
    # both reconstructions record the replayable run: its options with the centre used
    saved_layer = viewer.layers["rec.zarr"]
    assert saved_layer.metadata["source"] == {"path": str(out)}
    for record in (layer.metadata["detcal"], saved_layer.metadata["detcal"]):
        assert record["step"] == "tomo.reconstruct" and record["source"] == "projections"
        assert record["params"]["center"] == pytest.approx(scan.center)
        assert "path" not in record["params"]
    viewer.window._qt_window.resize(1500, 950)
    viewer.reset_view()
    assert viewer.screenshot(canvas_only=False).shape[0] > 200


def test_bad_input_shows_an_error(make_napari_viewer, tmp_path, qtbot):
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_file(tmp_path / "missing.h5")
    qtbot.waitUntil(lambda: "does not exist" in widget.status.text(), timeout=30000)
    assert "red" in widget.status.styleSheet() or "#" in widget.status.styleSheet()
    assert not widget.find_button.isEnabled()
    assert "projections" not in viewer.layers


def test_bad_option_is_named_by_its_label(opened, qtbot):
    viewer, widget = opened
    widget.form.controls["filter_par"].value = "0.3"
    widget.slice_button.click()
    assert "Filter parameters" in widget.status.text()
    assert "slice" not in viewer.layers


def test_sample_layers_and_cancel(make_napari_viewer, qtbot, tmp_path, monkeypatch):
    import detcal.napari.tomo_widget as module

    viewer = make_napari_viewer()
    viewer.open_sample("napari-detcal", "tomo_180")
    widget = _dock(viewer)
    proj = viewer.layers["tomo 180 projections"]
    truth = proj.metadata["detcal"]["truth"]["center"]
    assert widget.combos[0].value is proj
    assert widget.combos[1].value is viewer.layers["tomo 180 flats"]
    assert widget.combos[2].value is viewer.layers["tomo 180 darks"]
    widget.use_layers_button.click()
    assert widget.find_button.isEnabled()
    widget.form.controls["center_method"].value = "pc"
    widget.find_button.click()
    qtbot.waitUntil(lambda: widget.form.controls["center"].value != "", timeout=60000)
    assert abs(float(widget.form.controls["center"].value) - truth) < 0.5
    # a slow save, cancelled: nothing is left behind
    real = module.reconstruct_scan

    def slow(*args, progress, **kwargs):
        def report(done, total):
            time.sleep(0.05)
            progress(done, total)

        return real(*args, progress=report, **kwargs)

    monkeypatch.setattr(module, "reconstruct_scan", slow)
    out = tmp_path / "rec.zarr"
    widget.save_edit.value = out
    widget.save_button.click()
    qtbot.waitUntil(widget.cancel_button.isEnabled, timeout=10000)
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: "cancelled" in widget.status.text(), timeout=60000)
    assert widget.save_button.isEnabled()
    assert list(tmp_path.iterdir()) == []


def test_row_preview_of_a_large_scan_never_stalls_the_viewer(make_napari_viewer, tmp_path,
                                                              qtbot):  # fmt: skip
    import h5py
    from qtpy.QtCore import QTimer

    n_angles, n_rows, n_cols = 400, 256, 1024  # 210 MB of uint16
    path = tmp_path / "big.h5"
    cols = np.arange(n_cols, dtype=np.float32)
    with h5py.File(path, "w") as f:
        group = f.create_group("exchange")
        data = group.create_dataset("data", (n_angles, n_rows, n_cols), dtype=np.uint16)
        for a in range(0, n_angles, 50):
            shift = np.sin(np.arange(a, a + 50) / 30.0)[:, None, None] * 100
            data[a : a + 50] = (
                20000
                - 5000 * np.exp(-(((cols - 512 - shift) / 150) ** 2))
                + 0 * (np.arange(n_rows)[None, :, None])
            )
        group["data_white"] = np.full((2, n_rows, n_cols), 20000, np.uint16)
        group["data_dark"] = np.full((2, n_rows, n_cols), 100, np.uint16)
        group["theta"] = np.linspace(0, 180, n_angles, endpoint=False)
    viewer = make_napari_viewer()
    widget = _dock(viewer)
    widget.open_file(path)
    qtbot.waitUntil(lambda: widget.status.text() == "opened", timeout=60000)
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == n_rows // 2, timeout=60000)
    qtbot.wait(500)  # let the first picture settle
    ticks = []
    timer = QTimer()
    timer.setInterval(50)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start()
    qtbot.wait(120)
    viewer.cursor.position = (0.0, 200.0, 300.0)
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == 200, timeout=60000)
    qtbot.wait(300)
    timer.stop()
    gaps = np.diff(ticks)
    print(f"longest GUI-thread gap during the row preview: {gaps.max() * 1000:.0f} ms")
    assert gaps.size > 5
    assert gaps.max() < 0.15, f"GUI thread stalled {gaps.max() * 1000:.0f} ms"
    assert viewer.layers["sinogram"].data.shape == (n_angles, n_cols)


def test_saved_volumes_and_sweeps_open_with_their_axes(make_napari_viewer, scan, tmp_path):
    from detcal.tomo.run import reconstruct_dataset, sweep_dataset

    path = write_dxchange(tmp_path / "scan.h5", scan.projections, scan.flats, scan.darks,
                          scan.theta)  # fmt: skip
    volume = reconstruct_dataset(path, tmp_path / "rec.zarr", center=scan.center,
                                 pixel_size=6.5e-5, rows=(0, 2))  # fmt: skip
    sweep = sweep_dataset(path, tmp_path / "sweep.h5", centers=[47.0, 48.0], row=1)
    viewer = make_napari_viewer()
    (rec,) = viewer.open(str(volume), plugin="napari-detcal")
    assert rec.axis_labels == ("z", "y", "x")
    np.testing.assert_allclose(rec.scale, [6.5e-5] * 3)
    (stack,) = viewer.open(str(sweep), plugin="napari-detcal")
    assert stack.axis_labels == ("center", "y", "x") and tuple(stack.scale) == (1, 1, 1)
    (proj, _, _) = viewer.open(str(path), plugin="napari-detcal")
    assert proj.axis_labels == ("angle", "row", "column")  # DXchange names none: the default


def test_cancel_stops_the_reading_of_a_row(make_napari_viewer, scan, qtbot):
    """Cancel during Reconstruct slice stops the read itself, not only the steps after it."""
    import threading

    from detcal.napari import _background

    read, lock = [], threading.Lock()

    def slow(block):
        time.sleep(0.03)
        with lock:
            read.append(1)
        return block

    projections = da.from_array(scan.projections, chunks=(1, 4, 96)).map_blocks(slow)
    viewer = make_napari_viewer()
    viewer.add_image(projections, name="slow projections", metadata={"theta": scan.theta})
    viewer.add_image(scan.flats, name="slow flats")
    viewer.add_image(scan.darks, name="slow darks")
    widget = _dock(viewer)
    widget.follow_cursor.value = False
    widget.use_layers_button.click()
    qtbot.waitUntil(lambda: _sinogram_row(viewer) == 2, timeout=60000)  # the first preview
    qtbot.waitUntil(lambda: not _background._RUNNING, timeout=60000)
    read.clear()
    widget.form.controls["center"].value = f"{scan.center:.2f}"
    widget.slice_button.click()
    qtbot.waitUntil(lambda: len(read) >= 5, timeout=30000)
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: widget.status.text().endswith("cancelled"), timeout=60000)
    assert len(read) < scan.projections.shape[0] // 2, len(read)
    qtbot.waitUntil(lambda: not _background._RUNNING, timeout=60000)  # every run has ended
    assert "slice" not in viewer.layers and widget.slice_button.isEnabled()
