"""The interactive demo: napari with every sample dataset and every dock widget open."""

from __future__ import annotations

from pathlib import Path

import napari
from npe2 import PluginManager

PLUGIN = "napari-detcal"


def open_demo_viewer(*, screenshot: Path | None = None) -> napari.Viewer:
    """Open napari with the plugin's sample datasets loaded and all its dock widgets open.

    Parameters
    ----------
    screenshot : pathlib.Path, optional
        Save a screenshot of the whole window to this PNG and return at once; without it,
        run the Qt event loop until the window is closed.

    Returns
    -------
    napari.Viewer
        The viewer.
    """
    viewer = napari.Viewer(title="napari-detcal demo")
    manifest = PluginManager.instance().get_manifest(PLUGIN)
    for sample in manifest.contributions.sample_data or []:
        for layer in viewer.open_sample(PLUGIN, sample.key):
            layer.visible = False
    if len(viewer.layers):
        viewer.layers[0].visible = True
        viewer.layers.selection.active = viewer.layers[0]
        viewer.reset_view()
    for widget in manifest.contributions.widgets or []:
        viewer.window.add_plugin_dock_widget(PLUGIN, widget.display_name, tabify=True)
    if screenshot is not None:
        viewer.screenshot(str(screenshot), canvas_only=False)
    else:
        napari.run()
    return viewer
