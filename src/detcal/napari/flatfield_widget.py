"""The "Flat-field" dock widget: estimate, inspect, apply, save and load flat-field profiles.

Choose the image layer (tiles (tile, z, row, col) or a (z, row, col) stack), click the empty
tiles in the grid and/or tick z-levels and drag the range (planes below and above it are
empty), or leave both off to fit BaSiC. Estimate runs in the background with a progress bar
and Cancel, then adds ``flatfield`` (and ``darkfield``) layers and draws the flat's profiles
through its centre. Apply adds a lazy corrected layer; Save / Load use BaSiCPy's model folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import dask.array as da
import numpy as np
from magicgui.widgets import create_widget
from qtpy.QtCore import QPointF, Qt
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)
from superqt import QCollapsible, QLabeledRangeSlider

from detcal.flatfield import tiles as tile_layout
from detcal.flatfield import (
    Profiles,
    apply_flatfield,
    estimate_flatfield,
    load_profiles,
    save_profiles,
)
from detcal.napari._background import add_result, run_step
from detcal.napari.tile_grid import TileGridPicker
from detcal.progress import StepCancelled

if TYPE_CHECKING:
    import napari


class ProfilePlot(QWidget):
    """A small line plot of the flat's row and column profiles through its centre."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setMinimumHeight(110)
        self.curves: dict[str, np.ndarray] = {}

    def set_profiles(self, flatfield: np.ndarray | None) -> None:
        """Plot the centre row and centre column of ``flatfield`` (None clears)."""
        if flatfield is None:
            self.curves = {}
        else:
            rows, cols = flatfield.shape
            self.curves = {
                "row": np.asarray(flatfield[rows // 2], dtype=float),
                "column": np.asarray(flatfield[:, cols // 2], dtype=float),
            }
        self.update()

    def paintEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Draw the axes box, the curves and their range."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        width, height = self.width(), self.height()
        left, right, top, bottom = 38, 8, 8, 18
        painter.setPen(QPen(QColor("#888888")))
        painter.drawRect(left, top, width - left - right, height - top - bottom)
        if not self.curves:
            painter.drawText(left + 6, top + 16, "no flat-field yet")
            return
        low = min(float(c.min()) for c in self.curves.values())
        high = max(float(c.max()) for c in self.curves.values())
        span = max(high - low, 1e-6)
        painter.drawText(2, top + 10, f"{high:.2f}")
        painter.drawText(2, height - bottom, f"{low:.2f}")
        colours = {"row": QColor("#ff7f0e"), "column": QColor("#1f77b4")}
        for i, (name, curve) in enumerate(self.curves.items()):
            xs = np.linspace(left, width - right, len(curve))
            ys = top + (high - curve) / span * (height - top - bottom)
            polygon = QPolygonF([QPointF(float(x), float(y)) for x, y in zip(xs, ys, strict=True)])
            painter.setPen(QPen(colours[name], 1.5))
            painter.drawPolyline(polygon)
            painter.drawText(left + 6 + 90 * i, height - 4, f"centre {name}")


def _spin(value: float, low: float, high: float, decimals: int = 3, special: str = "") -> Any:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _ispin(value: int, low: int, high: int, special: str = "") -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


class FlatfieldWidget(QWidget):
    """Dock widget for flat-field estimation and correction.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (injected by napari).
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.profiles: Profiles | None = None
        self.scenario: str | None = None
        self.worker = None
        self._shown_layer = None
        layout = QVBoxLayout(self)

        form = QFormLayout()
        self.layer_combo = create_widget(annotation="napari.layers.Image", label="data")
        self.dark_combo = create_widget(
            annotation="napari.layers.Image", label="dark", options={"nullable": True}
        )
        form.addRow("data", self.layer_combo.native)
        self.layout_label = QLabel("")
        form.addRow("", self.layout_label)
        self.dark_level = _spin(0.0, 0.0, 1e9, decimals=1, special="none")
        form.addRow("dark level", self.dark_level)
        form.addRow("dark image", self.dark_combo.native)
        layout.addLayout(form)

        empty_box = QGroupBox("Empty data (click empty tiles; planes outside the z-range)")
        empty_layout = QVBoxLayout(empty_box)
        self.tile_grid = TileGridPicker()
        empty_layout.addWidget(self.tile_grid)
        z_row = QHBoxLayout()
        self.use_z = QCheckBox("z-levels")
        self.z_slider = QLabeledRangeSlider(Qt.Orientation.Horizontal)
        self.z_slider.setRange(0, 1)
        self.z_slider.setValue((0, 1))
        self.z_slider.setEnabled(False)
        z_row.addWidget(self.use_z)
        z_row.addWidget(self.z_slider, 1)
        empty_layout.addLayout(z_row)
        layout.addWidget(empty_box)

        sampling = QFormLayout()
        self.n_samples = _ispin(100, 0, 100000, special="all")
        self.seed = _ispin(0, 0, 2**31 - 1)
        self.smooth_sigma = _spin(1.0, 0.0, 100.0, decimals=2)
        sampling.addRow("planes sampled", self.n_samples)
        sampling.addRow("seed", self.seed)
        sampling.addRow("smoothing (px)", self.smooth_sigma)
        layout.addLayout(sampling)

        self.basic_group = QCollapsible("BaSiC parameters (used when nothing is marked empty)")
        basic = QWidget()
        basic_form = QFormLayout(basic)
        self.autosegment = QCheckBox()
        self.autosegment_margin = _ispin(10, 0, 1000)
        self.epsilon = _spin(0.1, 1e-4, 100.0, decimals=4)
        self.get_darkfield = QCheckBox()
        self.max_workers = _ispin(0, 0, 256, special="auto")
        self.smoothness_flatfield = _spin(0.0, 0.0, 100.0, decimals=3, special="auto")
        self.smoothness_darkfield = _spin(0.0, 0.0, 100.0, decimals=3, special="auto")
        self.working_size = _ispin(128, 8, 4096)
        for label, widget in (
            ("autosegment", self.autosegment),
            ("margin (px)", self.autosegment_margin),
            ("epsilon", self.epsilon),
            ("get darkfield", self.get_darkfield),
            ("max workers", self.max_workers),
            ("smoothness flat", self.smoothness_flatfield),
            ("smoothness dark", self.smoothness_darkfield),
            ("working size", self.working_size),
        ):
            basic_form.addRow(label, widget)
        self.basic_group.addWidget(basic)
        layout.addWidget(self.basic_group)

        self.scenario_label = QLabel("")
        self.scenario_label.setWordWrap(True)
        layout.addWidget(self.scenario_label)
        buttons = QHBoxLayout()
        self.estimate_button = QPushButton("Estimate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        buttons.addWidget(self.estimate_button)
        buttons.addWidget(self.cancel_button)
        layout.addLayout(buttons)
        self.plot = ProfilePlot()
        layout.addWidget(self.plot)
        actions = QHBoxLayout()
        self.apply_button = QPushButton("Apply")
        self.save_button = QPushButton("Save profiles...")
        self.load_button = QPushButton("Load profiles...")
        for button in (self.apply_button, self.save_button, self.load_button):
            actions.addWidget(button)
        layout.addLayout(actions)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.layer_combo.changed.connect(self._on_layer)
        self.tile_grid.selectionChanged.connect(self._update_scenario)
        self.use_z.toggled.connect(self._on_use_z)
        self.z_slider.valueChanged.connect(self._update_scenario)
        self.estimate_button.clicked.connect(lambda: self.estimate())
        self.apply_button.clicked.connect(lambda: self.apply())
        self.save_button.clicked.connect(self._save_dialog)
        self.load_button.clicked.connect(self._load_dialog)
        events = self.viewer.layers.events
        for event in (events.inserted, events.removed, events.reordered):
            event.connect(self._refresh_layers)
        self._update_buttons()
        self._update_scenario()

    # ------------------------------------------------------------------ layers and layout

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        """Refresh the layer lists once the widget sits in the viewer."""
        super().showEvent(event)
        self._refresh_layers()

    def _refresh_layers(self, *_args) -> None:
        self.layer_combo.reset_choices()
        self.dark_combo.reset_choices()
        if self.layer_combo.value is not self._shown_layer:
            self._on_layer()

    def _data(self) -> Any:
        layer = self.layer_combo.value
        if layer is None:
            raise ValueError("choose an image layer with the tiles or the stack")
        return layer.data[0] if layer.multiscale else layer.data

    def _on_layer(self, *_args) -> None:
        layer = self.layer_combo.value
        self._shown_layer = layer
        if layer is None:
            self.layout_label.setText("")
            return
        shape = tuple(self._data().shape)
        if len(shape) == 4:
            n_tiles, n_z = shape[:2]
            try:  # a grid recorded with the layer (e.g. the mosaic sample), else a square
                grid = tile_layout.check_grid_shape(layer.metadata["grid_shape"], n_tiles)
            except (KeyError, TypeError, ValueError):
                try:
                    grid = tile_layout.infer_grid_shape(n_tiles)
                except ValueError:
                    grid = (n_tiles, 1)
            self.tile_grid.set_grid_shape(grid)
            self.tile_grid.setEnabled(True)
            text = f"{n_tiles} tiles x {n_z} planes of {shape[2]} x {shape[3]}"
        elif len(shape) == 3:
            n_z = shape[0]
            self.tile_grid.set_grid_shape((1, 1))
            self.tile_grid.setEnabled(False)
            text = f"one field: {n_z} planes of {shape[1]} x {shape[2]}"
        else:
            n_z = 1
            text = f"shape {shape}: expected (tile, z, row, col) or (z, row, col)"
        self.layout_label.setText(text)
        self.z_slider.setRange(0, max(n_z - 1, 1))
        self.z_slider.setValue((min(n_z // 4, n_z - 1), max(n_z - 1 - n_z // 4, 0)))
        self._update_scenario()

    def _on_use_z(self, checked: bool) -> None:
        self.z_slider.setEnabled(checked)
        self._update_scenario()

    # ------------------------------------------------------------------ parameters

    def selection(self) -> dict[str, Any]:
        """Return the empty-data selection: ``fov_list``, ``z_levels``, ``grid_shape``."""
        layer = self.layer_combo.value
        four_d = layer is not None and self._data().ndim == 4
        tiles = self.tile_grid.selected() if four_d else ()
        return {
            "fov_list": tiles or None,
            "z_levels": tuple(int(v) for v in self.z_slider.value())
            if self.use_z.isChecked()
            else None,
            "grid_shape": self.tile_grid.grid_shape if four_d else None,
        }

    def basic_params(self) -> dict[str, Any]:
        """Return the BaSiC settings of the collapsible group (0 = chosen by basicpy)."""
        params: dict[str, Any] = {
            "autosegment": self.autosegment.isChecked(),
            "autosegment_margin": self.autosegment_margin.value(),
            "epsilon": self.epsilon.value(),
            "get_darkfield": self.get_darkfield.isChecked(),
            "working_size": self.working_size.value(),
        }
        if self.max_workers.value() > 0:
            params["max_workers"] = self.max_workers.value()
        for name in ("smoothness_flatfield", "smoothness_darkfield"):
            value = getattr(self, name).value()
            if value > 0:
                params[name] = value
        return params

    def _dark(self) -> Any:
        layer = self.dark_combo.value
        if layer is not None:
            return np.asarray(layer.data)
        level = self.dark_level.value()
        return level if level > 0 else None

    def _update_scenario(self, *_args) -> None:
        if self.layer_combo.value is None:
            self.scenario_label.setText("Add or choose an image layer.")
            return
        sel = self.selection()
        parts = []
        if sel["fov_list"]:
            parts.append("tiles " + ", ".join(str(n) for n in sel["fov_list"]))
        if sel["z_levels"]:
            low, high = sel["z_levels"]
            if not sel["fov_list"] and sel["grid_shape"]:
                corners = tile_layout.corner_tiles(sel["grid_shape"])
                parts.append("corner tiles " + ", ".join(str(n) for n in corners))
            parts.append(f"planes below {low} and above {high}")
        if parts:
            text = "Estimate uses empty data: " + "; ".join(parts) + "."
        else:
            text = "Nothing marked empty: Estimate fits BaSiC (basicpy)."
        self.scenario_label.setText(text)

    def _update_buttons(self) -> None:
        has = self.profiles is not None
        self.apply_button.setEnabled(has)
        self.save_button.setEnabled(has)

    # ------------------------------------------------------------------ actions

    def estimate(self, *, start: bool = True):
        """Estimate the profiles in the background; returns the worker (None on bad input)."""
        try:
            data = self._data()
            sel = self.selection()
            dark = self._dark()
        except ValueError as exc:
            self._error(exc)
            return None
        self.status.setText("estimating...")
        self.estimate_button.setEnabled(False)
        n_samples = self.n_samples.value() or None
        self.worker = run_step(
            estimate_flatfield,
            data,
            desc="Flat-field",
            on_returned=self._on_estimated,
            on_errored=self._error,
            cancel_button=self.cancel_button,
            start=start,
            dark=dark,
            basic_params=self.basic_params(),
            n_samples=n_samples,
            seed=self.seed.value(),
            smooth_sigma=self.smooth_sigma.value(),
            **sel,
        )
        self.worker.aborted.connect(self._on_cancelled)
        self.worker.finished.connect(lambda: self.estimate_button.setEnabled(True))
        return self.worker

    def _on_estimated(self, result: tuple[Profiles, str]) -> None:
        profiles, scenario = result
        rejected = profiles.info.get("rejected") or []
        planes = profiles.info.get("planes") or []
        note = f" ({len(planes)} planes" + (f", {len(rejected)} rejected)" if rejected else ")")
        self._show(profiles, scenario, note if planes else "")

    def _show(self, profiles: Profiles, scenario: str, note: str = "") -> None:
        self.profiles, self.scenario = profiles, scenario
        params = {"scenario": scenario, **self.selection()}
        if scenario == "basic":
            params["basic"] = self.basic_params()
        add_result(self.viewer, profiles.flatfield, name="flatfield", params=params)
        if profiles.darkfield is not None:
            add_result(self.viewer, profiles.darkfield, name="darkfield", params=params)
        elif "darkfield" in self.viewer.layers:
            self.viewer.layers.remove("darkfield")
        self.plot.set_profiles(profiles.flatfield)
        flat = profiles.flatfield
        self.status.setText(
            f"flat-field from {scenario}{note}: {flat.min():.3f} to {flat.max():.3f}"
        )
        self._update_buttons()

    def _on_cancelled(self) -> None:
        self.status.setText("cancelled")

    def _error(self, exc: BaseException) -> None:
        if isinstance(exc, StepCancelled):
            self._on_cancelled()
            return
        self.status.setText(f"<span style='color:#e05050'>{exc}</span>")
        self.estimate_button.setEnabled(True)

    def apply(self):
        """Add the lazily corrected data as a new layer; returns it (None on bad input)."""
        if self.profiles is None:
            self._error(ValueError("estimate or load profiles first"))
            return None
        try:
            data = self._data()
            if not isinstance(data, da.Array):
                chunks = (1,) * (data.ndim - 2) + tuple(data.shape[-2:])
                data = da.from_array(data, chunks=chunks)
            corrected = apply_flatfield(data, self.profiles)
        except (ValueError, TypeError) as exc:
            self._error(exc)
            return None
        source = self.layer_combo.value
        name = f"{source.name} flat-field corrected"
        layer = add_result(self.viewer, corrected, name=name, params={"scenario": self.scenario})
        # display range from one middle plane (computing a single plane only)
        middle = tuple(n // 2 for n in corrected.shape[:-2])
        plane = np.asarray(corrected[middle])
        low, high = np.percentile(plane, (0.5, 99.5))
        if high > low:
            layer.contrast_limits = (float(low), float(high))
        self.status.setText(f"added '{name}' (computed plane by plane as you browse)")
        return layer

    def save_to(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Save the profiles in BaSiCPy's model layout; returns the ``profiles.npz`` path."""
        if self.profiles is None:
            raise ValueError("estimate or load profiles first")
        written = save_profiles(self.profiles, folder, overwrite=overwrite)
        self.status.setText(f"saved {written}")
        return written

    def load_from(self, path: str | Path, *, channel: str | None = None) -> Profiles:
        """Load measured profiles (scenario 1) and show them."""
        profiles = load_profiles(path, channel=channel)
        self._show(profiles, "measured", f" {path}")
        return profiles

    def _save_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save profiles into folder")
        if not folder:
            return
        overwrite = False
        if (Path(folder) / "profiles.npz").exists():
            answer = QMessageBox.question(self, "Overwrite?", f"Replace the model in {folder}?")
            if answer != QMessageBox.StandardButton.Yes:
                return
            overwrite = True
        try:
            self.save_to(folder, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            self._error(exc)

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load profiles", filter="BaSiC profiles (profiles.npz *.npz)"
        )
        if not path:
            return
        try:
            self.load_from(path)
        except (OSError, ValueError) as exc:
            self._error(exc)
