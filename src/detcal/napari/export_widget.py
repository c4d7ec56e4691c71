"""The Export dock widget: write an image or labels layer to OME-Zarr in the background.

Pick a layer and an output path, click Export: :func:`detcal.io.save_array` streams the data
(lazy layers are computed chunk by chunk) with a progress bar; Cancel stops it and leaves
nothing behind. The layer's ``metadata["detcal"]`` goes into the Zarr attributes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label
from napari.layers import Image, Labels
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from detcal.io import check_output, save_array
from detcal.napari._background import run_step
from detcal.napari.writer import layer_attrs

if TYPE_CHECKING:
    import napari


class ExportWidget(QWidget):
    """Dock widget exporting a layer to OME-Zarr with progress and Cancel.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer whose layers can be exported.
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.worker = None
        self.layer = ComboBox(label="Layer", choices=self._layer_choices, nullable=True)
        self.path = FileEdit(label="Output", mode="w", filter="*.zarr")
        self.overwrite = CheckBox(text="Overwrite an existing output", value=False)
        self.status = Label(value="")
        self.status.native.setWordWrap(True)
        self.form = Container(widgets=[self.layer, self.path, self.overwrite, self.status])
        self.export_button = QPushButton("Export")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.export_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.form.native)
        layout.addLayout(buttons)
        layout.addStretch()
        self.export_button.clicked.connect(self.export)
        self.layer.changed.connect(self._suggest_path)
        self.reset_choices()

    def _layer_choices(self, _widget=None) -> list[tuple[str, object]]:
        return [(lyr.name, lyr) for lyr in self.viewer.layers if isinstance(lyr, Image | Labels)]

    def reset_choices(self, *_args) -> None:
        """Refresh the layer list (napari calls this when layers change)."""
        self.form.reset_choices()
        self._suggest_path()

    def _suggest_path(self, *_args) -> None:
        layer = self.layer.value
        if layer is not None and str(self.path.value) in ("", "."):
            self.path.value = Path.cwd() / f"{layer.name}.zarr"

    def _output(self) -> Path:
        path = Path(self.path.value)
        if str(path) in ("", "."):
            raise ValueError("choose an output path (a .zarr folder)")
        if path.suffix.lower() != ".zarr":
            path = path.with_name(path.name + ".zarr")
        return check_output(path, overwrite=self.overwrite.value)

    def export(self) -> None:
        """Start writing the chosen layer to the chosen path (in a background worker)."""
        layer = self.layer.value
        try:
            if layer is None:
                raise ValueError("choose an image or labels layer to export")
            path = self._output()
        except (ValueError, FileExistsError) as exc:
            self._failed(exc)
            return
        data = layer.data[0] if layer.multiscale else layer.data
        self.status.value = f"Exporting {layer.name}..."
        self.export_button.setEnabled(False)
        self.worker = run_step(
            save_array,
            data,
            path,
            desc=f"Export {layer.name}",
            overwrite=self.overwrite.value,
            attrs=layer_attrs(layer.metadata),
            labels=isinstance(layer, Labels),
            on_returned=self._done,
            on_errored=self._failed,
            cancel_button=self.cancel_button,
        )
        self.worker.aborted.connect(self._cancelled)
        self.worker.finished.connect(lambda: self.export_button.setEnabled(True))

    def _cancelled(self) -> None:
        self.status.value = "Export cancelled; nothing written."

    def _done(self, path) -> None:
        self.status.value = f"Wrote {path}"
        show_info(f"Exported to {path}")

    def _failed(self, exc: Exception) -> None:
        self.status.value = f"Error: {exc}"
        self.export_button.setEnabled(True)
        show_error(f"Export failed: {exc}")
