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
        first = viewer.layers[0]
        first.visible = True
        viewer.layers.selection.active = first
        # show the middle plane of the shown layer, framed: reset_view frames every layer
        steps = [0] * viewer.dims.ndim
        for axis, size in enumerate(first.data.shape[:-2]):
            steps[viewer.dims.ndim - first.ndim + axis] = size // 2
        viewer.dims.current_step = tuple(steps)
        viewer.reset_view()
        low, high = first.extent.world[:, -2:]
        world_low, world_high = viewer.layers.extent.world[:, -2:]
        viewer.scene.camera.center = tuple((low + high) / 2)
        viewer.scene.camera.zoom *= float(min((world_high - world_low) / (high - low)))
    docks = [
        viewer.window.add_plugin_dock_widget(PLUGIN, widget.display_name, tabify=True)[0]
        for widget in manifest.contributions.widgets or []
    ]
    if len(docks) > 1:
        docks[1].raise_()  # the first calibration step rather than Export
    if screenshot is not None:
        viewer.screenshot(str(screenshot), canvas_only=False)
    else:
        napari.run()
    return viewer
