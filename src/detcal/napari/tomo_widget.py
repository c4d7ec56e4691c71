"""The "Tomography" dock widget: open a scan, look at a row, find the centre, reconstruct.

The option groups come from :class:`detcal.tomo.options.ReconOptions` (as the CLI flags do).
Every button calls one core function of :mod:`detcal.tomo` in the background with progress and
Cancel; nothing computes on the GUI thread. Reconstructions record ``tomo.reconstruct`` with
the options and the centre used, for recipes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import CheckBox, FileEdit, FloatSpinBox, create_widget
from qtpy import QtWidgets as qw
from qtpy.QtCore import QTimer

from detcal.io import open_array
from detcal.napari._background import add_result, run_step
from detcal.napari._controls import OptionsForm
from detcal.napari._feedback import report_error, report_status
from detcal.napari._scrolling import scrolling_content
from detcal.tomo import prep, preview
from detcal.tomo.dataset import TomoDataset, dataset_from_arrays, open_dataset
from detcal.tomo.graph import prepare
from detcal.tomo.options import ReconOptions, load_options
from detcal.tomo.run import reconstruct_scan, sidecar_path

if TYPE_CHECKING:
    import napari

#: Gap in pixels between the projections, the sinogram and the slice laid side by side.
_GAP = 16
#: Delay before the sinogram follows the cursor (ms): a moving cursor starts no work.
_DEBOUNCE_MS = 150
_SWEEP = "centre sweep"
_BESIDE = (_SWEEP, "sinogram", "projections", "flats", "darks", "normalized")


class TomographyWidget(qw.QWidget):
    """Dock widget for a whole tomography workflow.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (injected by napari).
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.dataset: TomoDataset | None = None
        self._layer = "projections"  # the layer showing the scan
        self._preview_id = 0  # the latest row preview asked for; older results are dropped
        self._sweep_centers: np.ndarray | None = None
        self.form = OptionsForm(ReconOptions, exclude=("center_row",))
        self.file_edit = FileEdit(mode="r", filter="*.h5 *.hdf5 *.zarr")
        self.combos = [create_widget(annotation="napari.layers.Image", label=kind)
                       for kind in ("projections", "flats", "darks")]  # fmt: skip
        self.info_label, self.status = qw.QLabel("no scan open"), qw.QLabel("")
        self.status.setWordWrap(True)
        self.row_spin = qw.QSpinBox()
        self.follow_cursor = CheckBox(value=True, text="follow cursor")
        self.sweep_half = FloatSpinBox(value=5.0, min=0.25, max=1000.0, step=0.5)
        self.sweep_step = FloatSpinBox(value=0.5, min=0.01, max=100.0, step=0.25)
        self.save_edit = FileEdit(mode="w", filter="*.zarr *.h5 *.tif *.npy")
        self.overwrite = CheckBox(text="Overwrite")
        for attr, text, slot in (
            ("open_button", "Open", self.open_file), ("use_layers_button", "Use layers",
            self.use_layers), ("normalize_button", "Normalize", self.normalize),
            ("find_button", "Find centre", self.find_center), ("sweep_button", "Centre sweep",
            self.center_sweep), ("slice_button", "Reconstruct slice", self.reconstruct_slice),
            ("volume_button", "Reconstruct volume (lazy)", self.reconstruct_volume),
            ("save_button", "Reconstruct to file", self.save_volume),
            ("cancel_button", "Cancel", None),
        ):  # fmt: skip
            setattr(self, attr, qw.QPushButton(text))
            if slot is not None:
                getattr(self, attr).clicked.connect(lambda _=False, slot=slot: slot())
        self.cancel_button.setEnabled(False)
        self._layout()
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(_DEBOUNCE_MS)
        self._timer.timeout.connect(self.preview_row)
        self.row_spin.valueChanged.connect(lambda _: self._timer.start())
        self.form.changed.connect(lambda: self._timer.start())
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self.viewer.cursor.events.position.connect(self._on_cursor)
        self.viewer.dims.events.current_step.connect(self._on_dims)
        self._needs_scan = (self.normalize_button, self.find_button, self.sweep_button,
                            self.slice_button, self.volume_button, self.save_button)  # fmt: skip
        for button in self._needs_scan:
            button.setEnabled(False)
        self._refresh_layers()

    def _layout(self) -> None:
        def line(*widgets) -> qw.QHBoxLayout:
            box = qw.QHBoxLayout()
            for widget in widgets:
                box.addWidget(getattr(widget, "native", widget))
            return box

        layout = qw.QVBoxLayout(scrolling_content(self))
        top, bottom = qw.QFormLayout(), qw.QFormLayout()
        top.addRow(line(self.file_edit, self.open_button))
        for combo in self.combos:
            top.addRow(combo.label, combo.native)
        for row in (self.use_layers_button, self.info_label, self.normalize_button):
            top.addRow(row)
        top.addRow("Sinogram row", line(self.row_spin, self.follow_cursor))
        bottom.addRow(self.find_button)
        bottom.addRow("Sweep +/- (columns)", self.sweep_half.native)
        bottom.addRow("Sweep step (columns)", self.sweep_step.native)
        for row in (self.sweep_button, self.slice_button, self.volume_button):
            bottom.addRow(row)
        bottom.addRow("Save to", self.save_edit.native)
        bottom.addRow(line(self.overwrite, self.save_button, self.cancel_button))
        bottom.addRow(self.status)
        layout.addLayout(top)
        layout.addWidget(self.form.native)
        layout.addLayout(bottom)
        layout.addStretch(1)

    def _refresh_layers(self, *_args) -> None:
        """List the image layers; pick the last "<name> projections" with its flats, darks."""
        for combo in self.combos:
            combo.reset_choices()
        scans = [layer.name for layer in self.viewer.layers if layer.name.endswith("projections")]
        stem = scans[-1][: -len("projections")] if scans else None
        for combo, kind in zip(self.combos, ("projections", "flats", "darks"), strict=True):
            if stem is not None and stem + kind in self.viewer.layers:
                combo.value = self.viewer.layers[stem + kind]

    def _start(self, func, *args, button, desc: str, done, fixed=None, **kwargs):
        """Run ``func(dataset, *args, options=...)`` in the background; ``button`` waits."""
        try:
            options = self.form.value(**(fixed or {}))
        except (ValueError, TypeError) as exc:
            return report_error(self.status, exc)
        return run_step(
            func, self.dataset, *args, options=options, desc=desc, button=button,
            on_returned=lambda result: done(result, options), status=self.status,
            cancel_button=self.cancel_button if button is not None else None, **kwargs,
        )  # fmt: skip

    def _show(self, data, name: str, step: str, options=None, **kwargs):
        """Add or refresh a result layer (other keywords are recorded as its parameters)."""
        if name not in _BESIDE:  # a slice or volume shown where the sweep was: hide its label
            self.viewer.canvas.overlays.text.visible = False
            if _SWEEP in self.viewer.layers:
                self.viewer.layers[_SWEEP].visible = False
        shown = ("colormap", "contrast_limits", "visible", "translate")
        layer_kwargs = {k: kwargs.pop(k) for k in shown if k in kwargs}
        params = {**kwargs, **(options.to_dict() if options is not None else {})}
        new = name not in self.viewer.layers
        layer = add_result(self.viewer, data, name=name, step=step, source=self._layer,
                           params=params, **layer_kwargs)  # fmt: skip
        layer.visible = layer_kwargs.get("visible", True)
        if new:
            self.viewer.reset_view()
        return layer

    def _offset(self, k: int) -> float:
        """Column where the k-th picture right of the projections starts."""
        return k * (self.dataset.projections.shape[2] + _GAP)

    def open_file(self, path: str | Path | None = None):
        """Open a DXchange HDF5 or Zarr scan in the background and add its layers."""
        if path is not None:
            self.file_edit.value = Path(path)
        path = Path(self.file_edit.value).absolute()

        def done(dataset: TomoDataset) -> None:
            self._show(dataset.projections, "projections", "tomo.open_dataset", path=str(path),
                       theta=dataset.theta.tolist())  # fmt: skip
            for kind in ("flats", "darks"):
                self._show(getattr(dataset, kind), kind, "tomo.open_dataset", path=str(path),
                           visible=False)  # fmt: skip
            self._use(dataset, "projections", path.name)

        return run_step(lambda path, progress: open_dataset(path), path, desc="Open scan",
                        button=self.open_button, status=self.status, on_returned=done)  # fmt: skip

    def use_layers(self) -> None:
        """Use the projections, flats and darks layers chosen (angles from the metadata)."""
        proj, flats, darks = (combo.value for combo in self.combos)
        try:
            if None in (proj, flats, darks):
                raise ValueError("choose the projections, flats and darks layers")
            meta = proj.metadata
            theta = meta.get("theta", meta.get("detcal", {}).get("params", {}).get("theta"))
            if theta is None:
                raise ValueError(f"layer {proj.name!r} has no angles (metadata 'theta')")
            dataset = dataset_from_arrays(proj.data, flats.data, darks.data, theta)
            prepare(dataset, ReconOptions())  # checks shapes and angles; computes nothing
        except (ValueError, TypeError) as exc:
            return report_error(self.status, exc)
        self._use(dataset, proj.name, f"layer {proj.name!r}")

    def _use(self, dataset: TomoDataset, layer_name: str, label: str) -> None:
        self.dataset, self._layer = dataset, layer_name
        n_angles, n_rows, n_cols = dataset.projections.shape
        span = np.degrees(np.ptp(dataset.theta)) if n_angles > 1 else 0.0
        self.info_label.setText(
            f"{label}: {n_angles} angles ({span:.1f} deg) x {n_rows} rows x {n_cols} columns"
        )
        for button in self._needs_scan:
            button.setEnabled(True)
        self.viewer.layers.selection.active = self.viewer.layers[layer_name]
        self.viewer.reset_view()
        report_status(self.status, "opened")
        self.row_spin.setRange(0, n_rows - 1)
        self.row_spin.setValue(n_rows // 2)
        self._timer.start()

    def normalize(self):
        """Add the flat/dark-normalised projections as a lazy layer (computes nothing)."""
        ds = self.dataset
        return self._show(prep.normalize(ds.projections, ds.flats, ds.darks), "normalized",
                          "tomo.normalize")  # fmt: skip

    # -- the row under the cursor -----------------------------------------------------------
    def _on_cursor(self, event=None) -> None:
        axis, dims = self.viewer.dims.ndim - 2, self.viewer.dims
        if not (self.follow_cursor.value and self.dataset is not None and axis in dims.displayed
                and self._layer in self.viewer.layers):  # fmt: skip
            return
        layer = self.viewer.layers[self._layer]
        pos = layer.world_to_data(self.viewer.cursor.position)
        row, col = int(np.floor(pos[-2] + 0.5)), pos[-1]
        if 0 <= row < layer.data.shape[-2] and -0.5 <= col < layer.data.shape[-1] - 0.5:
            self.row_spin.setValue(row)

    def _on_dims(self, event=None) -> None:
        axis = self.viewer.dims.ndim - 2
        if self.follow_cursor.value and self.dataset is not None:
            if axis not in self.viewer.dims.displayed and self._layer in self.viewer.layers:
                self.row_spin.setValue(int(self.viewer.dims.current_step[axis]))
        self._label_sweep()

    def preview_row(self):
        """Show the prepared sinogram of the current row (computed in the background)."""
        if self.dataset is None:
            return None
        self._preview_id += 1
        ask, row = self._preview_id, self.row_spin.value()

        def done(sino: np.ndarray, options: ReconOptions) -> None:
            if ask == self._preview_id:  # a newer row was asked for meanwhile: drop this one
                self._show(sino, "sinogram", "tomo.preview.row_sinogram", options, row=row,
                           translate=(0, self._offset(1)), colormap="gray")  # fmt: skip

        return self._start(preview.row_sinogram, row, button=None, desc=f"Sinogram of row {row}",
                           done=done)  # fmt: skip

    def _centre_found(self, center: float, how: str, what: str) -> None:
        self.form.controls["center"].value = f"{center:.2f}"
        report_status(self.status, f"{what}: centre {center:.2f} ({how})")

    def find_center(self):
        """Find the centre on the current row; it fills the form's centre."""
        row = self.row_spin.value()

        def done(center: float, options: ReconOptions) -> None:
            self._centre_found(center, f"found with {options.center_method} on row {row}", "row")

        return self._start(preview.find_row_center, row, button=self.find_button, done=done,
                           desc="Find centre", fixed={"center": None})  # fmt: skip

    def _label_sweep(self) -> None:
        centers, text = self._sweep_centers, self.viewer.canvas.overlays.text
        layer = self.viewer.layers[_SWEEP] if _SWEEP in self.viewer.layers else None
        if centers is None or layer is None or not layer.visible:
            text.visible = False
            return
        index = int(np.clip(self.viewer.dims.current_step[self.viewer.dims.ndim - 3], 0,
                            centers.size - 1))  # fmt: skip
        text.text = f"centre sweep: {centers[index]:.2f}"
        text.visible = True

    def center_sweep(self):
        """Reconstruct the current row for centres around the form's centre, as a stack."""
        row, center = self.row_spin.value(), self.form.controls["center"].value
        mid = float(center) if str(center).strip() else (self.dataset.projections.shape[2] - 1) / 2
        half, step = self.sweep_half.value, self.sweep_step.value
        centers = np.arange(mid - half, mid + half + step / 2, step)

        def done(stack: np.ndarray, options: ReconOptions) -> None:
            self._sweep_centers = centers
            self._show(stack, _SWEEP, "tomo.preview.sweep_row", options, row=row,
                       centers=centers.tolist(), translate=(0, 0, self._offset(2)))  # fmt: skip
            axis = self.viewer.dims.ndim - 3
            self.viewer.dims.set_current_step(axis, int(np.argmin(np.abs(centers - mid))))
            self._label_sweep()

        return self._start(preview.sweep_row, row, centers, button=self.sweep_button,
                           desc="Centre sweep", done=done)  # fmt: skip

    # -- reconstruction ---------------------------------------------------------------------
    def reconstruct_slice(self):
        """Reconstruct the current row (finding the centre when the form has none)."""
        row = self.row_spin.value()

        def done(result, options: ReconOptions) -> None:
            image, center, how = result
            self._centre_found(center, how, f"row {row} reconstructed")
            self._show(image, "slice", "tomo.preview.reconstruct_row",
                       options.replace(center=center), row=row,
                       translate=(0, self._offset(2)), colormap="gray")  # fmt: skip

        return self._start(preview.reconstruct_row, row, button=self.slice_button,
                           desc="Reconstruct slice", done=done)  # fmt: skip

    def reconstruct_volume(self):
        """Add the whole reconstruction as a lazy layer (napari computes the rows shown)."""

        def done(result, options: ReconOptions) -> None:
            volume, center, how, limits = result
            self._centre_found(center, how, f"lazy volume {volume.shape}")
            self._show(volume, "reconstruction", "tomo.reconstruct",
                       options.replace(center=center), translate=(0, 0, self._offset(2)),
                       contrast_limits=limits)  # fmt: skip

        return self._start(preview.lazy_reconstruction, row=self.row_spin.value(), done=done,
                           button=self.volume_button, desc="Reconstruct volume")  # fmt: skip

    def save_volume(self, path: str | Path | None = None):
        """Stream the reconstruction to a file with progress and Cancel; then show it."""
        out = Path(path if path is not None else self.save_edit.value).absolute()

        def done(result: Path, options: ReconOptions) -> None:
            report_status(self.status, f"saved {result}")
            used = load_options(sidecar_path(result))  # with the centre the run used
            layer = self._show(open_array(result), result.name, "tomo.reconstruct", used,
                               translate=(0, 0, self._offset(2)))  # fmt: skip
            layer.metadata["source"] = {"path": str(result)}  # as the reader records it

        report_status(self.status, f"reconstructing to {out.name}…")
        return self._start(reconstruct_scan, out, overwrite=self.overwrite.value, done=done,
                           button=self.save_button, desc="Reconstruct to file")  # fmt: skip
