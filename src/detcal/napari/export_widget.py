"""The Export dock widget: write an image or labels layer to a file in the background.

Pick a layer and an output path, click Export: :func:`detcal.io.save_array` streams the data
(lazy layers are computed chunk by chunk) with a progress bar; Cancel stops it and leaves
nothing behind. The suffix picks the format (``.zarr`` OME-Zarr, ``.tif``, ``.h5``, ``.npy``;
none gives ``.zarr``). The layer's ``metadata["detcal"]`` goes into the file's attributes, its
axis labels and scale into its axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from magicgui.widgets import CheckBox, ComboBox, Container, FileEdit, Label
from napari.layers import Image, Labels
from napari.utils.notifications import show_info
from qtpy.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from detcal.io import WRITE_SUFFIXES, check_output, save_array
from detcal.napari._background import run_step
from detcal.napari._feedback import report_error, report_status
from detcal.napari.writer import layer_attrs, layer_axes

if TYPE_CHECKING:
    import napari


class ExportWidget(QWidget):
    """Dock widget exporting a layer (OME-Zarr, TIFF, HDF5, npy) with progress and Cancel.

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
        patterns = " ".join(f"*{suffix}" for suffix in WRITE_SUFFIXES)
        self.path = FileEdit(label="Output", mode="w", filter=f"Arrays ({patterns})")
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
            raise ValueError("choose an output path (a .zarr folder or a .tif, .h5, .npy file)")
        if path.suffix.lower() not in WRITE_SUFFIXES:
            path = path.with_name(path.name + ".zarr")
        return check_output(path, overwrite=self.overwrite.value, name="output")

    def export(self):
        """Start writing the chosen layer to the chosen path; returns the worker (or None)."""
        layer = self.layer.value
        try:
            if layer is None:
                raise ValueError("choose an image or labels layer to export")
            path = self._output()
        except (ValueError, OSError) as exc:
            report_error(self.status, exc, action="Export")
            return None
        data = layer.data[0] if layer.multiscale else layer.data
        report_status(self.status, f"Exporting {layer.name}…")
        self.worker = run_step(
            save_array,
            data,
            path,
            desc=f"Export {layer.name}",
            overwrite=self.overwrite.value,
            attrs=layer_attrs(layer.metadata),
            axes=layer_axes(layer.ndim, layer.axis_labels, layer.scale, layer.translate),
            labels=isinstance(layer, Labels),
            on_returned=self._done,
            cancel_button=self.cancel_button,
            button=self.export_button,
            status=self.status,
        )
        return self.worker

    def _done(self, path) -> None:
        report_status(self.status, f"Wrote {path}")
        show_info(f"Exported to {path}")
