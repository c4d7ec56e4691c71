"""The "Tomography" dock widget: open a scan, prepare it, find the centre, reconstruct.

From top to bottom: open a DXchange/Zarr scan (projections, flats and darks become layers, the
angles are kept), normalise it, watch the sinogram of the row under the cursor, tick the
preparation steps (outliers, stripes, phase, 360 to 180) and set their parameters, find the
centre (or sweep candidate centres and scroll through them), then reconstruct the current row
at once, the whole volume as a lazy layer, or stream it to a Zarr file with progress and
Cancel. All the work is done by :mod:`detcal.tomo.pipeline`, the same code as the command
line, so what the widget shows is what ``detcal tomo recon`` writes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import FileEdit, create_widget
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from detcal.napari._background import add_result, run_step
from detcal.tomo import prep
from detcal.tomo.center import center_sweep
from detcal.tomo.options import CENTER_METHODS, FILTERS, ROTATIONS, ReconOptions
from detcal.tomo.pipeline import (
    PreparedScan,
    TomoDataset,
    dataset_from_arrays,
    find_scan_center,
    open_dataset,
    prepare,
    reconstruct_volume,
    write_reconstruction,
)
from detcal.tomo.recon import recon

if TYPE_CHECKING:
    import napari

#: Gap in pixels between the projections, the sinogram and the slice laid side by side.
_GAP = 16


def _spin(value: float, lo: float, hi: float, *, decimals: int = 3, step: float = 1.0):
    box = QDoubleSpinBox()
    box.setDecimals(decimals)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    return box


def _ispin(value: int, lo: int, hi: int) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    return box


def _group(title: str, checked: bool = False) -> tuple[QGroupBox, QFormLayout]:
    box = QGroupBox(title)
    box.setCheckable(True)
    box.setChecked(checked)
    form = QFormLayout(box)
    return box, form


class TomographyWidget(QWidget):
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
        self.worker = None
        self._cache: dict[Any, np.ndarray] = {}
        self._sweep_centers: np.ndarray | None = None
        self._projections = "projections"  # name of the projections layer in use
        # the controls scroll, so the dock fits small screens
        content = QWidget()
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)
        layout = QVBoxLayout(content)

        # -- open -------------------------------------------------------------------------
        self.file_edit = FileEdit(mode="r", filter="*.h5 *.hdf5 *.zarr")
        self.open_button = QPushButton("Open")
        row = QHBoxLayout()
        row.addWidget(self.file_edit.native, 1)
        row.addWidget(self.open_button)
        layout.addLayout(row)
        layers_box = QGroupBox("or use layers (e.g. File > Open Sample)")
        form = QFormLayout(layers_box)
        self.proj_combo = create_widget(annotation="napari.layers.Image", label="projections")
        self.flat_combo = create_widget(annotation="napari.layers.Image", label="flats")
        self.dark_combo = create_widget(annotation="napari.layers.Image", label="darks")
        form.addRow("projections", self.proj_combo.native)
        form.addRow("flats", self.flat_combo.native)
        form.addRow("darks", self.dark_combo.native)
        self.use_layers_button = QPushButton("Use layers")
        form.addRow(self.use_layers_button)
        layout.addWidget(layers_box)
        self.info_label = QLabel("no scan open")
        self.info_label.setWordWrap(True)
        layout.addWidget(self.info_label)
        self.normalise_button = QPushButton("Normalise")
        layout.addWidget(self.normalise_button)

        # -- sinogram ---------------------------------------------------------------------
        sino_row = QHBoxLayout()
        sino_row.addWidget(QLabel("Sinogram row"))
        self.row_spin = _ispin(0, 0, 0)
        sino_row.addWidget(self.row_spin)
        self.follow_cursor = QCheckBox("follow cursor")
        self.follow_cursor.setChecked(True)
        sino_row.addWidget(self.follow_cursor)
        layout.addLayout(sino_row)

        # -- preparation groups -----------------------------------------------------------
        self.outlier_group, form = _group("Outliers")
        self.outlier_diff = _spin(500.0, 0.001, 1e9, decimals=1, step=50.0)
        self.outlier_size = _ispin(3, 1, 51)
        self.outlier_mode = QComboBox()
        self.outlier_mode.addItems(["2d", "1d"])
        form.addRow("difference", self.outlier_diff)
        form.addRow("size", self.outlier_size)
        form.addRow("mode", self.outlier_mode)
        layout.addWidget(self.outlier_group)

        self.stripe_group, form = _group("Stripes")
        self.stripe_method = QComboBox()
        self.stripe_method.addItems(["fw", "ti", "sf", "vo"])
        form.addRow("method", self.stripe_method)
        self.stripe_pages = QStackedWidget()
        self.fw_level = _ispin(0, 0, 20)
        self.fw_level.setSpecialValueText("auto")
        self.fw_sigma = _spin(2.0, 0.01, 100.0, decimals=2, step=0.5)
        self.ti_nblock = _ispin(0, 0, 100)
        self.ti_alpha = _spin(1.5, 0.01, 100.0, decimals=2, step=0.1)
        self.sf_size = _ispin(5, 1, 255)
        self.vo_snr = _spin(3.0, 0.01, 100.0, decimals=2, step=0.5)
        self.vo_la_size = _ispin(61, 1, 2001)
        self.vo_sm_size = _ispin(21, 1, 2001)
        for rows in (
            (("level", self.fw_level), ("sigma", self.fw_sigma)),
            (("blocks", self.ti_nblock), ("alpha", self.ti_alpha)),
            (("size", self.sf_size),),
            (
                ("SNR", self.vo_snr),
                ("large size", self.vo_la_size),
                ("small size", self.vo_sm_size),
            ),
        ):
            page = QWidget()
            page_form = QFormLayout(page)
            page_form.setContentsMargins(0, 0, 0, 0)
            for label, widget in rows:
                page_form.addRow(label, widget)
            self.stripe_pages.addWidget(page)
        self.stripe_method.currentIndexChanged.connect(self.stripe_pages.setCurrentIndex)
        form.addRow(self.stripe_pages)
        layout.addWidget(self.stripe_group)

        self.phase_group, form = _group("Phase retrieval")
        self.pixel_size = _spin(1e-4, 1e-8, 1.0, decimals=6, step=1e-5)
        self.dist = _spin(50.0, 1e-3, 1e5, decimals=2)
        self.energy = _spin(20.0, 0.1, 1000.0, decimals=2)
        self.alpha = _spin(1e-3, 1e-9, 1e3, decimals=6, step=1e-4)
        form.addRow("pixel size (cm)", self.pixel_size)
        form.addRow("distance (cm)", self.dist)
        form.addRow("energy (keV)", self.energy)
        form.addRow("alpha", self.alpha)
        layout.addWidget(self.phase_group)

        self.full360_group, form = _group("360 to 180")
        self.overlap = _spin(0.0, 0.0, 1e5, decimals=1)
        self.overlap.setSpecialValueText("auto")
        self.rotation = QComboBox()
        self.rotation.addItems(list(ROTATIONS))
        form.addRow("overlap", self.overlap)
        form.addRow("axis side", self.rotation)
        layout.addWidget(self.full360_group)
        self.prepare_button = QPushButton("Show prepared sinograms")
        layout.addWidget(self.prepare_button)

        # -- centre -----------------------------------------------------------------------
        centre_box = QGroupBox("Centre of rotation")
        form = QFormLayout(centre_box)
        self.center_method = QComboBox()
        self.center_method.addItems(list(CENTER_METHODS))
        self.find_button = QPushButton("Find centre")
        line = QHBoxLayout()
        line.addWidget(self.center_method)
        line.addWidget(self.find_button)
        form.addRow("method", line)
        self.center_spin = _spin(0.0, 0.0, 1e5, decimals=2, step=0.25)
        form.addRow("centre", self.center_spin)
        self.center_label = QLabel("")
        form.addRow(self.center_label)
        self.sweep_half = _spin(5.0, 0.25, 1000.0, decimals=2, step=1.0)
        self.sweep_step = _spin(0.5, 0.05, 100.0, decimals=2, step=0.25)
        self.sweep_button = QPushButton("Centre sweep")
        form.addRow("sweep +/-", self.sweep_half)
        form.addRow("sweep step", self.sweep_step)
        form.addRow(self.sweep_button)
        self.sweep_label = QLabel("")
        form.addRow(self.sweep_label)
        layout.addWidget(centre_box)

        # -- reconstruction ---------------------------------------------------------------
        rec_box = QGroupBox("Reconstruction")
        form = QFormLayout(rec_box)
        self.filter_name = QComboBox()
        self.filter_name.addItems(list(FILTERS))
        self.filter_name.setCurrentText("butterworth")
        form.addRow("filter", self.filter_name)
        self.slice_button = QPushButton("Reconstruct slice")
        self.volume_button = QPushButton("Reconstruct volume (lazy)")
        line = QHBoxLayout()
        line.addWidget(self.slice_button)
        line.addWidget(self.volume_button)
        form.addRow(line)
        self.save_edit = FileEdit(mode="w", filter="*.zarr")
        form.addRow("save to", self.save_edit.native)
        self.overwrite = QCheckBox("overwrite")
        self.save_button = QPushButton("Reconstruct to file")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        line = QHBoxLayout()
        line.addWidget(self.overwrite)
        line.addWidget(self.save_button)
        line.addWidget(self.cancel_button)
        form.addRow(line)
        layout.addWidget(rec_box)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        bar = scroll.verticalScrollBar().sizeHint().width()
        scroll.setMinimumWidth(content.minimumSizeHint().width() + bar + 4)

        self.open_button.clicked.connect(lambda: self.open_file())
        self.use_layers_button.clicked.connect(lambda: self.use_layers())
        self.proj_combo.changed.connect(self._pair_layers)
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self.normalise_button.clicked.connect(lambda: self.normalise())
        self.prepare_button.clicked.connect(lambda: self.show_prepared())
        self.find_button.clicked.connect(lambda: self.find_centre())
        self.sweep_button.clicked.connect(lambda: self.centre_sweep())
        self.slice_button.clicked.connect(lambda: self.reconstruct_slice())
        self.volume_button.clicked.connect(lambda: self.reconstruct_volume())
        self.save_button.clicked.connect(lambda: self.save_volume())
        self.row_spin.valueChanged.connect(lambda _: self.update_sinogram())
        self.viewer.cursor.events.position.connect(self._on_cursor)
        self.viewer.dims.events.current_step.connect(self._on_dims)
        self._set_enabled(False)

    # -- state ----------------------------------------------------------------------------
    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Refresh the layer lists once the widget sits in the viewer."""
        super().showEvent(event)
        self._refresh_layers()

    def _refresh_layers(self, *_args) -> None:
        for combo in (self.proj_combo, self.flat_combo, self.dark_combo):
            combo.reset_choices()
        current = self.proj_combo.value
        if current is None or not current.name.endswith("projections"):
            # prefer a scan (e.g. File > Open Sample) over whatever image happens to be first
            scans = [c for c in self.proj_combo.choices if c.name.endswith("projections")]
            if scans:
                self.proj_combo.value = scans[-1]
        self._pair_layers()

    def _pair_layers(self, *_args) -> None:
        """Pick "<name> flats" and "<name> darks" for a "<name> projections" layer."""
        layer = self.proj_combo.value
        if layer is None or not layer.name.endswith("projections"):
            return
        stem = layer.name[: -len("projections")]
        for combo, kind in ((self.flat_combo, "flats"), (self.dark_combo, "darks")):
            if stem + kind in self.viewer.layers:
                combo.value = self.viewer.layers[stem + kind]

    def _set_enabled(self, on: bool) -> None:
        for button in (
            self.normalise_button,
            self.prepare_button,
            self.find_button,
            self.sweep_button,
            self.slice_button,
            self.volume_button,
            self.save_button,
        ):
            button.setEnabled(on)

    def _error(self, exc: Exception) -> None:
        self.status.setText(f"error: {exc}")

    def options(self) -> ReconOptions:
        """Return the run options set in the widget.

        Returns
        -------
        ReconOptions
            Preparation, centre and filter options (centre from the centre box when > 0).
        """
        stripe = self.stripe_method.currentText() if self.stripe_group.isChecked() else "none"
        overlap = self.overlap.value() or None
        center = self.center_spin.value()
        return ReconOptions(
            outlier_diff=self.outlier_diff.value() if self.outlier_group.isChecked() else None,
            outlier_size=self.outlier_size.value(),
            outlier_mode=self.outlier_mode.currentText(),
            stripe=stripe,
            fw_level=self.fw_level.value() or None,
            fw_sigma=self.fw_sigma.value(),
            ti_nblock=self.ti_nblock.value(),
            ti_alpha=self.ti_alpha.value(),
            sf_size=self.sf_size.value(),
            vo_snr=self.vo_snr.value(),
            vo_la_size=self.vo_la_size.value(),
            vo_sm_size=self.vo_sm_size.value(),
            phase=self.phase_group.isChecked(),
            pixel_size=self.pixel_size.value(),
            dist=self.dist.value(),
            energy=self.energy.value(),
            alpha=self.alpha.value(),
            full_360=self.full360_group.isChecked(),
            overlap=overlap,
            rotation=self.rotation.currentText(),
            center=center if center > 0 else None,
            center_method=self.center_method.currentText(),
            filter_name=self.filter_name.currentText(),
        )

    def _prepared(self, options: ReconOptions | None = None) -> PreparedScan:
        if self.dataset is None:
            raise ValueError("open a scan first")
        options = options or self.options()
        key = ("prepared", options.replace(center=None, center_row=None).to_json())
        if key not in self._cache:
            self._cache = {k: v for k, v in self._cache.items() if k[0] != "prepared"}
            self._cache[key] = prepare(self.dataset, options.replace(center=None))
        return self._cache[key]

    def _sinogram(self, row: int) -> np.ndarray:
        """Return the prepared sinogram of a row, (angle, col), cached per option set."""
        options = self.options()
        prepared = self._prepared(options)
        key = ("sino", options.replace(center=None).to_json(), row)
        if key not in self._cache:
            self._cache[key] = np.asarray(prepared.tomo[:, row].compute())
        return self._cache[key]

    # -- open / normalise -----------------------------------------------------------------
    def open_file(self, path: str | Path | None = None) -> None:
        """Open a DXchange HDF5 or Zarr scan and add its projections, flats and darks.

        Parameters
        ----------
        path : str or Path, optional
            Scan to open (default: the file chosen in the file box).
        """
        if path is not None:
            self.file_edit.value = Path(path)
        path = Path(self.file_edit.value)
        try:
            dataset = open_dataset(path)
        except (OSError, ValueError, KeyError) as exc:
            self._error(exc)
            return
        meta = {"theta": dataset.theta.tolist(), "path": str(path)}
        add_result(self.viewer, dataset.projections, name="projections", params=meta)
        for name in ("flats", "darks"):
            ref = getattr(dataset, name)
            if ref is not None:
                add_result(self.viewer, ref, name=name, params={"path": str(path)}, visible=False)
        self._use(dataset, "projections", path.name)

    def use_layers(self) -> None:
        """Use the projections, flats and darks layers chosen in the layer boxes.

        The angles (radians) come from the projections layer's ``metadata["theta"]`` (napari
        sample data) or ``metadata["detcal"]["params"]["theta"]`` (a scan opened here).
        """
        layers = [c.value for c in (self.proj_combo, self.flat_combo, self.dark_combo)]
        if any(layer is None for layer in layers):
            self._error(ValueError("choose the projections, flats and darks layers"))
            return
        proj, flats, darks = layers
        meta = proj.metadata
        theta = meta.get("theta", meta.get("detcal", {}).get("params", {}).get("theta"))
        if theta is None:
            self._error(ValueError(f"layer {proj.name!r} has no angles (metadata 'theta')"))
            return
        try:
            dataset = dataset_from_arrays(proj.data, flats.data, darks.data, theta)
        except ValueError as exc:
            self._error(exc)
            return
        self._use(dataset, proj.name, f"layer {proj.name!r}")

    def _use(self, dataset: TomoDataset, layer_name: str, label: str) -> None:
        """Make ``dataset`` the scan worked on, shown by the layer ``layer_name``."""
        self.dataset = dataset
        self._projections = layer_name
        self._cache.clear()
        n_angles, n_rows, n_cols = dataset.projections.shape
        self.row_spin.setRange(0, n_rows - 1)
        self.row_spin.setValue(n_rows // 2)
        self.center_spin.setMaximum(2 * n_cols)
        span = np.degrees(np.ptp(dataset.theta)) if n_angles > 1 else 0.0
        self.info_label.setText(
            f"{label}: {n_angles} angles ({span:.1f} deg) x {n_rows} rows x {n_cols} columns"
        )
        self._set_enabled(True)
        self.viewer.layers.selection.active = self.viewer.layers[layer_name]
        self.viewer.reset_view()
        self.status.setText("opened")

    def normalise(self):
        """Add the flat/dark-normalised projections as a lazy layer.

        Returns
        -------
        napari.layers.Image
            The "normalised" layer.
        """
        ds = self.dataset
        if ds is None:
            raise ValueError("open a scan first")
        data = prep.normalize(ds.projections, ds.flats, ds.darks)
        return add_result(self.viewer, data, name="normalised", params={"step": "normalize"})

    def show_prepared(self):
        """Add the prepared sinograms (all ticked steps, after the logarithm) as a lazy layer.

        Returns
        -------
        napari.layers.Image
            The "prepared" layer, (angle, row, col).
        """
        options = self.options()
        try:
            prepared = self._prepared(options)
        except ValueError as exc:
            self._error(exc)
            return None
        return add_result(self.viewer, prepared.tomo, name="prepared", params=options.to_dict())

    # -- sinogram under the cursor ----------------------------------------------------------
    def _row_axis(self) -> int | None:
        """World axis of the projections' row axis, or None without projections."""
        if self._projections not in self.viewer.layers:
            return None
        return self.viewer.dims.ndim - 2

    def _on_cursor(self, event=None) -> None:
        if not self.follow_cursor.isChecked() or self.dataset is None:
            return
        axis = self._row_axis()
        if axis is None or axis not in self.viewer.dims.displayed:
            return
        layer = self.viewer.layers[self._projections]
        data_pos = layer.world_to_data(self.viewer.cursor.position)
        row = int(np.floor(data_pos[-2] + 0.5))
        col = data_pos[-1]
        n_rows, n_cols = layer.data.shape[-2:]
        if 0 <= row < n_rows and -0.5 <= col < n_cols - 0.5:
            self.row_spin.setValue(row)

    def _on_dims(self, event=None) -> None:
        axis = self._row_axis()
        if axis is not None and self.follow_cursor.isChecked() and self.dataset is not None:
            if axis not in self.viewer.dims.displayed:
                self.row_spin.setValue(int(self.viewer.dims.current_step[axis]))
        self._label_sweep()

    def update_sinogram(self, row: int | None = None):
        """Show the prepared sinogram of a detector row beside the projections.

        Parameters
        ----------
        row : int, optional
            Detector row (default: the row box, which follows the cursor).

        Returns
        -------
        napari.layers.Image or None
            The "sinogram" layer, (angle, col).
        """
        if self.dataset is None:
            return None
        if row is not None and row != self.row_spin.value():
            self.row_spin.setValue(int(row))  # triggers this method again
            return self.viewer.layers["sinogram"] if "sinogram" in self.viewer.layers else None
        row = self.row_spin.value()
        try:
            sino = self._sinogram(row)
        except ValueError as exc:
            self._error(exc)
            return None
        n_cols = self.dataset.projections.shape[2]
        layer = self._show(
            sino,
            name="sinogram",
            params={"row": row},
            translate=(0, n_cols + _GAP),
            colormap="gray",
        )
        layer.metadata["detcal"]["params"]["row"] = row
        return layer

    # -- centre -----------------------------------------------------------------------------
    def _find_job(self, options: ReconOptions, progress=None) -> float:
        if progress is not None:
            progress(0, 1)
        center = find_scan_center(self._prepared(options), options)
        if progress is not None:
            progress(1, 1)
        return center

    def find_centre(self, *, start: bool = True):
        """Find the rotation centre of the current row in the background.

        Parameters
        ----------
        start : bool
            Start the worker at once (tests pass False and call ``worker.work()``).

        Returns
        -------
        napari.qt.threading.GeneratorWorker
            The worker; on return the centre appears in the centre box.
        """
        options = self.options().replace(center=None, center_row=self.row_spin.value())
        self.status.setText(f"finding the centre ({options.center_method})...")

        def done(center: float) -> None:
            self.center_spin.setValue(center)
            self.center_label.setText(f"found {center:.2f} ({options.center_method})")
            self.status.setText("centre found")

        self.worker = run_step(
            self._find_job, options, desc="Find centre", on_returned=done,
            on_errored=self._error, start=start,
        )  # fmt: skip
        return self.worker

    def _label_sweep(self) -> None:
        centers = self._sweep_centers
        if centers is None or "centre sweep" not in self.viewer.layers:
            return
        axis = self.viewer.dims.ndim - 3
        index = int(np.clip(self.viewer.dims.current_step[axis], 0, centers.size - 1))
        text = f"centre sweep: {centers[index]:.2f}"
        self.sweep_label.setText(text)
        self.viewer.canvas.overlays.text.text = text
        self.viewer.canvas.overlays.text.visible = True

    def centre_sweep(self):
        """Reconstruct the current row for centres around the centre box, as a stack.

        Returns
        -------
        napari.layers.Image
            The "centre sweep" layer, (candidate, N, N); scrolling its slider shows the
            candidate centre in the widget and on the canvas.
        """
        options = self.options()
        try:
            prepared = self._prepared(options)
            row = self.row_spin.value()
            mid = options.center
            if mid is None:
                mid = (prepared.tomo.shape[2] - 1) / 2
            half, step = self.sweep_half.value(), self.sweep_step.value()
            centers = np.arange(mid - half, mid + half + step / 2, step)
            sino = self._sinogram(row)[:, None, :]
            stack = center_sweep(
                sino,
                prepared.theta,
                centers=centers,
                ind=0,
                filter_name=options.filter_name,
                filter_par=options.filter_par,
            )
        except ValueError as exc:
            self._error(exc)
            return None
        self._sweep_centers = centers
        layer = self._show(
            stack,
            name="centre sweep",
            params={"row": row, "centers": centers.tolist()},
            translate=(0, 0, self._slice_offset()),
        )
        axis = self.viewer.dims.ndim - 3
        self.viewer.dims.set_current_step(axis, int(np.argmin(np.abs(centers - mid))))
        self._label_sweep()
        return layer

    def _show(self, data, *, name: str, params: dict, row: int | None = None, **kwargs):
        """Add or refresh a result layer; frame everything when the layer is new.

        ``row`` moves the first slider there (for volumes whose first axis is the row).
        """
        new = name not in self.viewer.layers
        layer = add_result(self.viewer, data, name=name, params=params, **kwargs)
        if row is not None and layer.data.ndim == 3:
            axis = self.viewer.dims.ndim - 3
            self.viewer.dims.set_current_step(axis, min(row, layer.data.shape[0] - 1))
        if new:
            self.viewer.reset_view()
        return layer

    def _slice_offset(self) -> float:
        n_cols = self.dataset.projections.shape[2]
        return 2 * (n_cols + _GAP)

    # -- reconstruction ---------------------------------------------------------------------
    def _center(self, options: ReconOptions, prepared: PreparedScan) -> float:
        if options.center is not None:
            return options.center
        center = find_scan_center(prepared, options)
        self.center_spin.setValue(center)
        self.center_label.setText(f"found {center:.2f} ({options.center_method})")
        return center

    def reconstruct_slice(self):
        """Reconstruct the current row at once.

        Returns
        -------
        napari.layers.Image or None
            The "slice" layer, (N, N).
        """
        options = self.options()
        try:
            prepared = self._prepared(options)
            row = self.row_spin.value()
            center = self._center(options.replace(center_row=row), prepared)
            sino = self._sinogram(row)[:, None, :]
            image = recon(
                sino,
                prepared.theta,
                center=center,
                filter_name=options.filter_name,
                filter_par=options.filter_par,
                pad=options.pad,
                circ_mask=options.circ_mask,
            )[0]
        except ValueError as exc:
            self._error(exc)
            return None
        self.status.setText(f"row {row} reconstructed with centre {center:.2f}")
        return self._show(
            image,
            name="slice",
            params={"row": row, "center": center, "filter_name": options.filter_name},
            translate=(0, self._slice_offset()),
            colormap="gray",
        )

    def reconstruct_volume(self):
        """Add the whole reconstruction as a lazy layer (napari computes the rows shown).

        Returns
        -------
        napari.layers.Image or None
            The "reconstruction" layer, (row, N, N).
        """
        options = self.options()
        try:
            prepared = self._prepared(options)
            center = self._center(options, prepared)
            volume = reconstruct_volume(prepared, center, options)
        except ValueError as exc:
            self._error(exc)
            return None
        self.status.setText(f"lazy volume {volume.shape} with centre {center:.2f}")
        params = options.replace(center=center).to_dict()
        return self._show(
            volume,
            name="reconstruction",
            params=params,
            row=self.row_spin.value(),
            translate=(0, 0, self._slice_offset()),
            contrast_limits=self._limits(prepared, center, options),
        )

    def _limits(self, prepared: PreparedScan, center: float, options: ReconOptions):
        """Contrast limits from the middle row (a lazy layer would otherwise compute all)."""
        mid = prepared.tomo.shape[1] // 2
        sino = np.asarray(prepared.tomo[:, mid : mid + 1].compute())
        image = recon(
            sino,
            prepared.theta,
            center=center,
            filter_name=options.filter_name,
            filter_par=options.filter_par,
        )
        lo, hi = np.percentile(image, [0.5, 99.5])
        return (float(lo), float(hi) if hi > lo else float(lo) + 1.0)

    def save_volume(self, path: str | Path | None = None, *, start: bool = True):
        """Stream the reconstruction of the open scan to a file, with progress and Cancel.

        Parameters
        ----------
        path : str or Path, optional
            Output (default: the "save to" box); ``.zarr`` gives OME-Zarr.
        start : bool
            Start the worker at once (tests pass False and call ``worker.work()``).

        Returns
        -------
        napari.qt.threading.GeneratorWorker or None
            The worker; on return the saved volume is added as a layer.
        """
        out = Path(path) if path is not None else Path(self.save_edit.value)
        options = self.options()
        try:
            prepared = self._prepared(options)
        except ValueError as exc:
            self._error(exc)
            return None
        self.status.setText(f"reconstructing to {out.name}...")

        def done(result: Path) -> None:
            from detcal.io import open_array

            self.status.setText(f"saved {result}")
            self._show(
                open_array(result),
                name=result.name,
                params={"path": str(result)},
                row=self.row_spin.value(),
                translate=(0, 0, self._slice_offset()),
            )

        self.worker = run_step(
            write_reconstruction,
            prepared,
            out,
            options=options,
            overwrite=self.overwrite.isChecked(),
            source=self.dataset,
            desc="Reconstruct volume",
            on_returned=done,
            on_errored=self._error,
            cancel_button=self.cancel_button,
            start=start,
        )
        self.worker.aborted.connect(lambda: self.status.setText("cancelled: nothing written"))
        return self.worker
