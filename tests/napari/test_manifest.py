"""The plugin manifest: valid, every dock widget opens, every sample gives layers, the demo."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from npe2 import PluginManifest

PLUGIN = "napari-detcal"
ROOT = Path(__file__).resolve().parents[2]


def _manifest():
    return PluginManifest.from_file(ROOT / "src/detcal/napari/napari.yaml")


def test_manifest_validates():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run([str(npe2), "validate", PLUGIN], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_root_napari_yaml_is_the_packaged_manifest():
    root = ROOT / "napari.yaml"
    assert root.is_symlink()
    assert root.resolve() == (ROOT / "src/detcal/napari/napari.yaml").resolve()
    assert _manifest().name == PLUGIN


@pytest.mark.parametrize("widget", [w.display_name for w in _manifest().contributions.widgets])
def test_every_dock_widget_opens(make_napari_viewer, widget):
    viewer = make_napari_viewer()
    dock, qwidget = viewer.window.add_plugin_dock_widget(PLUGIN, widget)
    assert viewer.window.dock_widgets[dock.name] is qwidget
    assert dock.widget() is qwidget or dock.widget().isAncestorOf(qwidget)
    assert qwidget.window() is viewer.window._qt_window


@pytest.mark.parametrize("widget", [w.display_name for w in _manifest().contributions.widgets])
def test_every_dock_shows_its_groups_whole_in_a_short_window(make_napari_viewer, qtbot, widget):
    """Group titles fit the dock's width; on a 700-pixel-high window no group is squeezed
    below its natural height (the dock scrolls instead of overlapping its rows), and a dock
    that scrolls is as wide as its controls need (nothing hidden to the right)."""
    from qtpy.QtWidgets import QGroupBox, QScrollArea
    from superqt import QCollapsible

    viewer = make_napari_viewer(show=True)
    _, qwidget = viewer.window.add_plugin_dock_widget(PLUGIN, widget)
    viewer.window._qt_window.resize(1000, 700)
    qtbot.waitUntil(qwidget.isVisible)
    # a layer added once the dock is open: the docks that list layers fill in their labels
    viewer.add_image(np.zeros((9, 4, 64, 64), np.uint16), name="a stack of tiles")
    qtbot.wait(100)  # let the window and the dock's layout settle
    height = viewer.window._qt_window.height()
    assert height <= 700, f"the {widget} dock holds the window at {height} pixels high"
    boxes = [b for b in qwidget.findChildren(QGroupBox) if b.isVisible() and b.title()]
    cut = [
        b.title()
        for b in boxes
        # the title's own width plus its indent and frame inside the box
        if b.fontMetrics().horizontalAdvance(b.title()) + 16 > b.width()
    ]
    assert not cut, f"group titles cut off in the {widget} dock: {cut}"
    groups = [*boxes, *(c for c in qwidget.findChildren(QCollapsible) if c.isVisible())]
    squeezed = [
        (
            g.title() if isinstance(g, QGroupBox) else g.text(),
            g.height(),
            g.minimumSizeHint().height(),
        )
        for g in groups
        if g.height() < g.minimumSizeHint().height()
    ]
    assert not squeezed, f"groups squeezed in the {widget} dock (title, height, needs): {squeezed}"
    for area in qwidget.findChildren(QScrollArea):
        content = area.widget()
        needed = content.minimumSizeHint().width()
        assert content.width() >= needed, f"{widget} dock: {content.width()} < {needed} px wide"


@pytest.mark.parametrize("key", [s.key for s in _manifest().contributions.sample_data])
def test_every_sample_gives_layers(make_napari_viewer, key):
    viewer = make_napari_viewer()
    layers = viewer.open_sample(PLUGIN, key)
    assert len(layers) >= 1
    first = layers[0]
    assert (
        first.data.ndim >= 2 and np.isfinite(np.asarray(first.data[(0,) * (first.ndim - 2)])).all()
    )


def test_demo_viewer_opens_everything(make_napari_viewer, tmp_path, monkeypatch):
    from detcal.napari import demo_viewer

    made = []

    def viewer_factory(**kwargs):
        made.append(make_napari_viewer(**kwargs))
        return made[-1]

    monkeypatch.setattr(demo_viewer.napari, "Viewer", viewer_factory)
    shot = tmp_path / "demo.png"
    viewer = demo_viewer.open_demo_viewer(screenshot=shot)
    assert shot.stat().st_size > 10_000
    samples = _manifest().contributions.sample_data
    assert len(viewer.layers) >= len(samples)
    assert sum(layer.visible for layer in viewer.layers) == 1


def test_mosaic_sample_opens_with_contrast_past_its_saturated_pixels(make_napari_viewer):
    """The mosaic has saturated (65535) pixels: a min/max contrast would show it nearly black."""
    viewer = make_napari_viewer()
    tiles = viewer.open_sample(PLUGIN, "mosaic")[0]
    data = np.asarray(tiles.data)
    low, high = tiles.contrast_limits
    assert data.max() == 65535 and high < 10_000
    assert np.mean(data > high) < 0.02 and np.mean(data < low) < 0.02
