"""The interactive demo: napari with every sample dataset and every dock widget open."""

from __future__ import annotations

from pathlib import Path

import napari
from npe2 import PluginManager

PLUGIN = "napari-detcal"


def open_demo_viewer(*, screenshot: Path | None = None, block: bool = True) -> napari.Viewer:
    """Open napari with the plugin's sample datasets loaded and all its dock widgets open.

    Parameters
    ----------
    screenshot : pathlib.Path, optional
        Save a screenshot of the whole window to this PNG, then close the viewer.
    block : bool, default True
        Run the Qt event loop until the window is closed (ignored with ``screenshot``).

    Returns
    -------
    napari.Viewer
        The viewer (already closed when ``screenshot`` was given).
    """
    viewer = napari.Viewer(title="napari-detcal demo")
    manifest = PluginManager.instance().get_manifest(PLUGIN)
    for sample in manifest.contributions.sample_data or []:
        layers = viewer.open_sample(PLUGIN, sample.key)
        for layer in layers:
            layer.visible = False
    for layer in viewer.layers[:1]:
        layer.visible = True
    if len(viewer.layers):
        viewer.layers.selection.active = viewer.layers[0]
        viewer.reset_view()
    for widget in manifest.contributions.widgets or []:
        viewer.window.add_plugin_dock_widget(PLUGIN, widget.display_name, tabify=True)
    if screenshot is not None:
        viewer.screenshot(str(screenshot), canvas_only=False)
        viewer.close()
    elif block:
        napari.run()
    return viewer
