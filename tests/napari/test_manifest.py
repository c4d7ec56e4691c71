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
