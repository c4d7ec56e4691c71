"""napari reader, writer and Export widget of napari-detcal, in a real viewer under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal import io  # noqa: E402

pytestmark = pytest.mark.gui


def _widget(viewer):
    _dock, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Export"
    )
    return widget


def _export(qtbot, widget):
    """Click Export and wait until its run has ended (the button comes back on finished)."""
    widget.export_button.click()
    qtbot.waitUntil(widget.export_button.isEnabled, timeout=30000)


def _slow_layer(viewer, started, planes=200):
    def slow(block):
        started.append(1)
        time.sleep(0.03)
        return block

    data = da.zeros((planes, 64, 64), chunks=(1, 64, 64)).map_blocks(slow, dtype=float)
    return viewer.add_image(data, name="slow", contrast_limits=(0, 1))


def test_reader_gives_a_lazy_multiscale_layer_for_ome_zarr(make_napari_viewer, tmp_path):
    data = np.arange(3 * 1200 * 2100, dtype=np.uint16).reshape(3, 1200, 2100) % 1000
    attrs = {"step": "gains", "params": {"sigma": 50.0}}
    out = io.save_array(da.from_array(data, chunks=(1, 600, 700)), tmp_path / "g.zarr", attrs=attrs)
    viewer = make_napari_viewer()
    layers = viewer.open(str(out), plugin="napari-detcal")
    assert len(layers) == 1
    layer = layers[0]
    assert layer.multiscale and len(layer.data) == 3
    assert all(isinstance(level, da.Array) for level in layer.data)
    assert layer.data[0].shape == (3, 1200, 2100) and layer.data[2].shape == (3, 300, 525)
    assert layer.metadata["detcal"] == attrs
    assert layer.axis_labels == ("z", "y", "x")
    np.testing.assert_array_equal(layer.data[0][2].compute(), data[2])


def test_a_detcal_zarr_opens_without_naming_the_plugin(make_napari_viewer, tmp_path):
    """napari's own reader accepts every folder: opened with no plugin named (``plugin=None``,
    what drag-and-drop, File > Open and ``napari PATH`` do) napari raises MultipleReaderError
    (a dialog in the GUI) unless a preference names one. Loading the plugin records it."""
    from napari.errors import MultipleReaderError
    from napari.settings import get_settings

    from detcal.napari.reader import prefer_detcal_reader

    out = io.save_array(np.ones((2, 30, 40), np.float32), tmp_path / "flat.zarr")
    viewer = make_napari_viewer()  # napari's test fixture resets the settings
    get_settings().plugins.extension2reader = {}
    with pytest.raises(MultipleReaderError):
        viewer.open(str(out), plugin=None)
    assert prefer_detcal_reader()
    (layer,) = viewer.open(str(out), plugin=None)
    assert layer.source.reader_plugin == "napari-detcal" and layer.data.shape == (2, 30, 40)
    # a user's own choice is kept
    get_settings().plugins.extension2reader = {"*.zarr/": "napari"}
    assert not prefer_detcal_reader()
    assert get_settings().plugins.extension2reader == {"*.zarr/": "napari"}


def test_reader_contrast_ignores_hot_pixels_and_looks_past_plane_0(make_napari_viewer, tmp_path):
    stack = np.random.default_rng(2).random((5, 64, 64)).astype(np.float32) * 100
    stack[0] /= 100
    stack[:, 3, 3] = 1e7
    out = io.save_array(stack, tmp_path / "corrected.zarr")
    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(out), plugin="napari-detcal")
    low, high = layer.contrast_limits
    assert low < 1 and 90 < high < 100


def test_reader_splits_dxchange_into_projections_flats_darks(make_napari_viewer, real_data):
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data / "tooth.h5"), plugin="napari-detcal")
    assert [lyr.name for lyr in layers] == ["projections", "flats", "darks"]
    assert all(isinstance(lyr.data, da.Array) for lyr in layers)
    projections, flats, darks = layers
    assert projections.data.shape == (181, 2, 640) and flats.data.shape == (10, 2, 640)
    assert projections.axis_labels == ("angle", "row", "column")
    theta = np.asarray(projections.metadata["theta"])
    raw = io.open_array(real_data / "tooth.h5", key="exchange/theta").compute()
    np.testing.assert_allclose(theta, np.deg2rad(raw))
    assert 0.99 * np.pi < theta[-1] <= np.pi  # radians, not degrees
    assert float(darks.data.mean()) < float(flats.data.mean())


def test_reader_opens_tif_lazily(make_napari_viewer, real_data):
    import tifffile

    viewer = make_napari_viewer()
    (layer,) = viewer.open(str(real_data / "ct_projections.tif"), plugin="napari-detcal")
    assert isinstance(layer.data, da.Array) and not layer.multiscale
    assert layer.name == "ct_projections"
    truth = tifffile.imread(real_data / "ct_projections.tif")
    np.testing.assert_array_equal(layer.data[7].compute(), truth[7])


def test_reader_declines_what_it_cannot_read(tmp_path):
    from detcal.napari.reader import get_reader

    (tmp_path / "notes.txt").write_text("x")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader([str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) is None
    np.save(tmp_path / "a.npy", np.zeros((4, 4)))
    assert callable(get_reader([str(tmp_path / "a.npy")]))


def test_writer_saves_image_and_labels_layers(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image = np.random.default_rng(1).random((2, 40, 50)).astype(np.float32)
    labels = np.zeros((40, 50), np.int32)
    labels[5:20, 10:30] = 3
    viewer.add_image(image, name="flat", metadata={"detcal": {"step": "flat", "params": {}}})
    viewer.add_labels(labels, name="mask")
    written = viewer.layers["flat"].save(str(tmp_path / "flat.zarr"), plugin="napari-detcal")
    assert written == [str(tmp_path / "flat.zarr")]
    np.testing.assert_array_equal(io.open_array(tmp_path / "flat.zarr").compute(), image)
    assert io.read_metadata(tmp_path / "flat.zarr")["detcal"] == {"step": "flat", "params": {}}
    viewer.layers.selection = {viewer.layers["mask"]}
    saved = viewer.layers.save(str(tmp_path / "mask.zarr"), selected=True, plugin="napari-detcal")
    assert saved == [str(tmp_path / "mask.zarr")]
    (back,) = viewer.open(str(tmp_path / "mask.zarr"), plugin="napari-detcal")
    assert back._type_string == "labels"
    np.testing.assert_array_equal(np.asarray(back.data), labels)


def test_export_widget_writes_ome_zarr_with_metadata(make_napari_viewer, qtbot, tmp_path):
    from ome_zarr.io import parse_url
    from ome_zarr.reader import Reader

    viewer = make_napari_viewer()
    data = da.random.default_rng(3).random((4, 1500, 900), chunks=(1, 500, 450))
    params = {"step": "corrected", "params": {"sigma": 50.0, "dark": {"layer": "dark"}}}
    viewer.add_image(data, name="corrected", metadata={"detcal": params}, scale=(2, 0.5, 0.5),
                     translate=(0.0, 10.0, -4.5))  # fmt: skip
    viewer.add_image(np.zeros((5, 5)), name="other")
    widget = _widget(viewer)
    assert [name for name, _ in widget._layer_choices()] == ["corrected", "other"]
    widget.layer.value = viewer.layers["corrected"]
    widget.path.value = tmp_path / "corrected"  # .zarr is appended
    _export(qtbot, widget)
    assert widget.status.value.startswith("Wrote")
    out = tmp_path / "corrected.zarr"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrected.zarr"]
    nodes = list(Reader(parse_url(str(out)))())
    assert [tuple(level.shape) for level in nodes[0].data] == [(4, 1500, 900), (4, 750, 450)]
    assert io.read_metadata(out)["detcal"] == params
    assert [a["scale"] for a in io.read_metadata(out)["axes"]] == [2.0, 0.5, 0.5]
    # the layer's position is kept: reopened, it sits where it was
    assert [a.get("translation", 0.0) for a in io.read_metadata(out)["axes"]] == [0, 10, -4.5]
    (reopened,) = viewer.open(out, plugin="napari-detcal", name="reopened")
    np.testing.assert_allclose(reopened.translate, (0.0, 10.0, -4.5))
    np.testing.assert_allclose(reopened.scale, (2.0, 0.5, 0.5))
    np.testing.assert_allclose(np.asarray(nodes[0].data[0][3]), data[3].compute())
    viewer.window._qt_window.resize(1200, 700)
    viewer.screenshot(str(tmp_path.parent / "detcal_export_widget.png"), canvas_only=False)

    # a second export to the same path needs the overwrite box, said in GUI words
    _export(qtbot, widget)
    assert '"Overwrite"' in widget.status.value and "overwrite=True" not in widget.status.value
    assert widget.status.native.property("detcal_state") == "error"
    widget.overwrite.value = True
    widget.layer.value = viewer.layers["other"]
    _export(qtbot, widget)
    assert widget.status.value.startswith("Wrote")
    assert io.open_array(out).shape == (5, 5)


def test_export_typed_tif_writes_a_tiff(make_napari_viewer, qtbot, tmp_path):
    import tifffile

    viewer = make_napari_viewer()
    image = np.arange(2 * 30 * 40, dtype=np.uint16).reshape(2, 30, 40)
    viewer.add_image(image, name="image")
    widget = _widget(viewer)
    widget.layer.value = viewer.layers["image"]
    widget.path.value = tmp_path / "image.tif"
    _export(qtbot, widget)
    assert [p.name for p in tmp_path.iterdir()] == ["image.tif"]
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "image.tif"), image)


def test_export_to_a_missing_folder_is_a_clean_error(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(np.zeros((5, 5)), name="z")
    widget = _widget(viewer)
    widget.layer.value = viewer.layers["z"]
    widget.path.value = tmp_path / "nowhere" / "z.zarr"
    assert widget.export() is None  # nothing started, nothing raised
    assert "does not exist" in widget.status.value
    assert widget.status.native.property("detcal_state") == "error"
    assert widget.export_button.isEnabled() and list(tmp_path.iterdir()) == []


def test_export_cancel_leaves_nothing_once_finished_and_never_stalls_the_gui(
    make_napari_viewer, qtbot, tmp_path
):
    from qtpy.QtCore import QTimer

    viewer = make_napari_viewer()
    started = []
    _slow_layer(viewer, started)
    widget = _widget(viewer)
    widget.layer.value = viewer.layers["slow"]
    widget.path.value = tmp_path / "slow.zarr"
    left_on_finish = []
    worker = widget.export()
    worker.finished.connect(lambda: left_on_finish.append(sorted(tmp_path.iterdir())))
    qtbot.waitUntil(lambda: len(started) > 2, timeout=20000)
    ticks = []  # intervals between ticks (the first tick starts the clock)
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(50)
    qtbot.waitUntil(lambda: len(started) > 40, timeout=20000)
    assert widget.cancel_button.isEnabled() and not widget.export_button.isEnabled()
    widget.cancel_button.click()
    qtbot.waitUntil(lambda: bool(left_on_finish), timeout=20000)
    timer.stop()
    assert left_on_finish == [[]]  # no .detcal-tmp-* sibling when finished fires
    assert widget.status.value.endswith("cancelled") and len(started) < 200
    assert widget.export_button.isEnabled() and not widget.cancel_button.isEnabled()
    stalls = np.diff(ticks)
    assert len(stalls) >= 5
    assert stalls.max() < 0.1, f"GUI thread stalled {stalls.max() * 1000:.0f} ms"


def test_quitting_napari_during_an_export_exits_cleanly(tmp_path):
    """Quit while an Export writes: exit code 0, no abort message, no temporary left."""
    script = textwrap.dedent(
        f"""
        import time
        import dask.array as da
        import napari
        from qtpy.QtCore import QTimer
        from qtpy.QtWidgets import QApplication

        def slow(block):  # long chunks: a cancel has to wait for the ones being written
            time.sleep(1.0)
            return block

        viewer = napari.Viewer(show=False)
        data = da.zeros((20, 64, 64), chunks=(1, 64, 64)).map_blocks(slow, dtype=float)
        viewer.add_image(data, name="slow", contrast_limits=(0, 1))
        _, widget = viewer.window.add_plugin_dock_widget("napari-detcal", "Export")
        widget.layer.value = viewer.layers["slow"]
        widget.path.value = {str(tmp_path / "out.zarr")!r}
        widget.export()
        QTimer.singleShot(2000, lambda: (viewer.close(), QApplication.instance().quit()))
        napari.run()
        print("left the event loop", flush=True)
        """
    )
    run = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "left the event loop" in run.stdout
    assert "terminate called" not in run.stderr
    assert [p.name for p in tmp_path.iterdir()] == []


def test_export_widget_needs_a_layer_and_path(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    widget = _widget(viewer)
    widget.export()
    assert "choose an image or labels layer" in widget.status.value
