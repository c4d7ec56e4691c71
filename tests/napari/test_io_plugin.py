"""napari reader, writer and Export widget of napari-detcal, in a real viewer under Xvfb."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal import io  # noqa: E402

pytestmark = pytest.mark.gui
SHOTS = Path(os.environ.get("DETCAL_SCREENSHOTS", "/tmp"))


def _widget(viewer):
    _dock, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Export"
    )
    return widget


def _wait_for(qtbot, widget, text):
    qtbot.waitUntil(lambda: text in widget.status.value, timeout=20000)


def test_manifest_validates():
    npe2 = Path(sys.executable).with_name("npe2")
    run = subprocess.run([str(npe2), "validate", "napari-detcal"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "valid" in run.stdout


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
    np.testing.assert_array_equal(layer.data[0][2].compute(), data[2])


def test_reader_splits_dxchange_into_projections_flats_darks(make_napari_viewer, real_data):
    viewer = make_napari_viewer()
    layers = viewer.open(str(real_data / "tooth.h5"), plugin="napari-detcal")
    assert [lyr.name for lyr in layers] == ["projections", "flats", "darks"]
    assert all(isinstance(lyr.data, da.Array) for lyr in layers)
    projections, flats, darks = layers
    assert projections.data.shape == (181, 2, 640) and flats.data.shape == (10, 2, 640)
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
    params = {"step": "corrected", "params": {"sigma": 50.0, "dark": "layer:dark"}}
    viewer.add_image(data, name="corrected", metadata={"detcal": params})
    viewer.add_image(np.zeros((5, 5)), name="other")
    widget = _widget(viewer)
    assert [name for name, _ in widget._layer_choices()] == ["corrected", "other"]
    widget.layer.value = viewer.layers["corrected"]
    widget.path.value = tmp_path / "corrected"  # .zarr is appended
    widget.export_button.click()
    _wait_for(qtbot, widget, "Wrote")
    out = tmp_path / "corrected.zarr"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corrected.zarr"]
    nodes = list(Reader(parse_url(str(out)))())
    assert [tuple(level.shape) for level in nodes[0].data] == [(4, 1500, 900), (4, 750, 450)]
    assert io.read_metadata(out)["detcal"] == params
    np.testing.assert_allclose(np.asarray(nodes[0].data[0][3]), data[3].compute())
    viewer.window._qt_window.resize(1200, 700)
    shot = viewer.screenshot(canvas_only=False)
    import imageio.v3 as iio

    iio.imwrite(SHOTS / "detcal_export_widget.png", shot)

    # a second export to the same path needs the overwrite box
    widget.export_button.click()
    _wait_for(qtbot, widget, "Error")
    assert "exists" in widget.status.value
    widget.overwrite.value = True
    widget.layer.value = viewer.layers["other"]
    widget.export_button.click()
    _wait_for(qtbot, widget, "Wrote")
    assert io.open_array(out).shape == (5, 5)


def test_export_widget_cancel_leaves_nothing(make_napari_viewer, qtbot, tmp_path):
    viewer = make_napari_viewer()
    started = []

    def slow(block):
        started.append(1)
        import time

        time.sleep(0.05)
        return block

    data = da.zeros((200, 64, 64), chunks=(1, 64, 64)).map_blocks(slow, dtype=float)
    viewer.add_image(data, name="slow", contrast_limits=(0, 1))
    widget = _widget(viewer)
    widget.layer.value = viewer.layers["slow"]
    widget.path.value = tmp_path / "slow.zarr"
    widget.export_button.click()
    qtbot.waitUntil(lambda: len(started) > 3, timeout=20000)
    assert widget.cancel_button.isEnabled()
    widget.cancel_button.click()
    _wait_for(qtbot, widget, "cancelled")
    qtbot.waitUntil(lambda: list(tmp_path.iterdir()) == [], timeout=20000)
    assert len(started) < 200


def test_export_widget_needs_a_layer_and_path(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    widget = _widget(viewer)
    widget.export()
    assert "choose an image or labels layer" in widget.status.value
