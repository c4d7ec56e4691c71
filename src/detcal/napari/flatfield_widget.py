"""The "Flat-field" dock widget: estimate, inspect, apply, save and load flat-field profiles.

Choose the image layer (tiles (tile, z, row, col) or a (z, row, col) stack), click the empty
tiles in the grid and/or tick z-levels and drag the range (planes below and above it are
empty), or leave both off to fit BaSiC; the other controls come from
:class:`detcal.flatfield.EstimateOptions`. Estimate runs in the background with a progress bar
and Cancel (a BaSiC fit stops at its next iteration), then adds ``flatfield`` (and
``darkfield``) layers and draws the flat's profiles through its centre. Apply adds a lazy
corrected layer (a pyramid when the data has one); Save / Load use BaSiCPy's model folder.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from magicgui.widgets import create_widget
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QVBoxLayout,
    QWidget,
)
from superqt import QLabeledRangeSlider

from detcal._planewise import planewise
from detcal.filters.pixelwise import load_loop
from detcal.flatfield import (
    Profiles,
    apply_flatfield,
    estimate_flatfield,
    load_profiles,
    save_profiles,
)
from detcal.flatfield import tiles as tile_layout
from detcal.flatfield.options import EstimateOptions
from detcal.napari._background import add_result, is_running, layer_data, run_step
from detcal.napari._controls import OptionsForm
from detcal.napari._feedback import report_error, report_status
from detcal.napari._scrolling import scrolling_content
from detcal.napari.tile_grid import ProfilePlot, TileGridPicker

if TYPE_CHECKING:
    import napari


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
        load_loop()  # now, not as the viewer draws the first corrected plane
        self.profiles: Profiles | None = None
        self.scenario: str | None = None
        self._record: dict[str, Any] = {}
        self._shown_layer = None
        layout = QVBoxLayout(scrolling_content(self))

        form = QFormLayout()
        self.layer_combo = create_widget(annotation="napari.layers.Image", label="data")
        self.dark_combo = create_widget(
            annotation="napari.layers.Image", label="dark", options={"nullable": True}
        )
        form.addRow("data", self.layer_combo.native)
        self.layout_label = QLabel("")
        form.addRow("", self.layout_label)
        form.addRow("dark image", self.dark_combo.native)
        layout.addLayout(form)

        # a short title: a long one is cut off at the dock's usual width; the hint wraps
        empty_box = QGroupBox("Empty data")
        empty_layout = QVBoxLayout(empty_box)
        self.empty_hint = QLabel(
            "Click the tiles that hold no sample. With z-levels ticked, the planes outside the "
            "range are empty too."
        )
        self.empty_hint.setWordWrap(True)
        empty_layout.addWidget(self.empty_hint)
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
        self.options = OptionsForm(EstimateOptions)
        layout.addWidget(self.options.native)

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

    def _shape(self) -> tuple[int, ...]:
        layer = self.layer_combo.value
        return () if layer is None else tuple(layer_data(layer).shape)

    def _on_layer(self, *_args) -> None:
        layer = self.layer_combo.value
        self._shown_layer = layer
        if layer is None:
            self.layout_label.setText("")
            return
        shape = self._shape()
        text, n_z = tile_layout.describe_layout(shape)
        tiled = len(shape) == 4
        recorded = layer.metadata.get("grid_shape")
        grid = tile_layout.guess_grid_shape(shape[0], recorded) if tiled else (1, 1)
        self.tile_grid.set_grid_shape(grid)
        self.tile_grid.setEnabled(tiled)
        self.layout_label.setText(text)
        self.z_slider.setRange(0, max(n_z - 1, 1))
        self.z_slider.setValue(tile_layout.suggested_z_levels(n_z))
        self._update_scenario()

    def _on_use_z(self, checked: bool) -> None:
        self.z_slider.setEnabled(checked)
        self._update_scenario()

    def selection(self) -> dict[str, Any]:
        """Return the empty-data selection: ``fov_list``, ``z_levels``, ``grid_shape``."""
        four_d = len(self._shape()) == 4
        tiles = self.tile_grid.selected() if four_d else ()
        z_levels = tuple(int(v) for v in self.z_slider.value())
        return {
            "fov_list": tiles or None,
            "z_levels": z_levels if self.use_z.isChecked() else None,
            "grid_shape": self.tile_grid.grid_shape if four_d else None,
        }

    def _update_scenario(self, *_args) -> None:
        if self.layer_combo.value is None:
            self.scenario_label.setText("Add or choose an image layer.")
            return
        sel = self.selection()
        self.scenario_label.setText(
            tile_layout.describe_selection(sel["fov_list"], sel["z_levels"], sel["grid_shape"])
        )

    def _update_buttons(self) -> None:
        has = self.profiles is not None
        self.apply_button.setEnabled(has and not is_running(self.apply_button))
        self.save_button.setEnabled(has)

    # ------------------------------------------------------------------ actions

    def estimate(self):
        """Estimate the profiles in the background; returns the worker (None on bad input)."""
        try:
            source = self.layer_combo.value
            if source is None:
                raise ValueError("data: choose an image layer with the tiles or the stack")
            options = self.options.value(**self.selection())
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Estimate")
            return None
        dark_layer = self.dark_combo.value
        dark = layer_data(dark_layer) if dark_layer is not None else options.dark_level or None
        kwargs = options.kwargs()
        record = {k: kwargs[k] for k in ("fov_list", "z_levels", "grid_shape", "n_samples")}
        record["dark"] = dark_layer if dark_layer is not None else dark
        basic = not (options.fov_list or options.z_levels)
        if basic:
            record["basic_params"] = kwargs["basic_params"]
        report_status(self.status, "estimating…")
        worker = run_step(
            estimate_flatfield,
            layer_data(source),
            desc="Flat-field",
            on_returned=partial(self._on_estimated, source, record),
            cancel_button=self.cancel_button,
            button=self.estimate_button,
            status=self.status,
            dark=dark,
            **kwargs,
        )
        if worker is not None and basic:
            # run_step says "cancelling…" on Cancel; a BaSiC fit stops at its next iteration
            honest = partial(
                report_status, self.status, "cancelling, the fit ends after its current iteration"
            )
            self.cancel_button.clicked.connect(honest)
            worker.finished.connect(lambda: self.cancel_button.clicked.disconnect(honest))
        return worker

    def _on_estimated(self, source, record: dict, result: tuple[Profiles, str]) -> None:
        profiles, scenario = result
        record = {**record, "scenario": scenario, "sampling": profiles.info.get("sampling")}
        rejected = profiles.info.get("rejected") or []
        note = f" ({profiles.info['sampling']}" if profiles.info.get("sampling") else ""
        note += f", {len(rejected)} rejected)" if rejected else (")" if note else "")
        self._show(profiles, scenario, source, record, note)

    def _show(self, profiles, scenario: str, source, params: dict, note: str = "") -> None:
        self.profiles, self.scenario = profiles, scenario
        self._record = {"source": source, "params": params}
        step = "flatfield.load_profiles" if source is None else "flatfield.estimate_flatfield"
        for name, data in (("flatfield", profiles.flatfield), ("darkfield", profiles.darkfield)):
            if data is not None:
                add_result(self.viewer, data, name=name, step=step, source=source, params=params)
            elif name in self.viewer.layers:
                self.viewer.layers.remove(name)
        self.plot.set_profiles(profiles.flatfield)
        flat = profiles.flatfield
        report_status(
            self.status, f"flat-field from {scenario}{note}: {flat.min():.3f} to {flat.max():.3f}"
        )
        self._update_buttons()

    def apply(self):
        """Add the lazily corrected data as a new layer; returns the worker (None on bad input)."""
        source = self.layer_combo.value
        if self.profiles is None or source is None:
            report_error(self.status, "profiles: estimate or load profiles first", action="Apply")
            return None
        path = self._record.get("params", {}).get("path")
        params = {"profiles": path if path is not None else {"layer": "flatfield"}}
        return run_step(
            _apply,
            layer_data(source, levels=True),
            self.profiles,
            desc="Flat-field apply",
            on_returned=partial(self._on_applied, source, params),
            button=self.apply_button,
            status=self.status,
        )

    def _on_applied(self, source, params: dict, corrected) -> None:
        name = f"{source.name} flat-field corrected"
        if name in self.viewer.layers:
            self.viewer.layers.remove(name)
        add_result(
            self.viewer, corrected, name=name, step="flatfield.apply_flatfield", source=source,
            params=params,
        )  # fmt: skip
        report_status(self.status, f"added '{name}' (computed plane by plane as you browse)")

    def save_to(self, folder: str | Path, *, overwrite: bool = False) -> Path:
        """Save the profiles in BaSiCPy's model layout; returns the ``profiles.npz`` path."""
        if self.profiles is None:
            raise ValueError("profiles: estimate or load profiles first")
        written = save_profiles(self.profiles, folder, overwrite=overwrite)
        report_status(self.status, f"saved {written}")
        return written

    def load_from(self, path: str | Path, *, channel: str | None = None) -> Profiles:
        """Load measured profiles (scenario 1) and show them."""
        path = Path(path).expanduser().absolute()
        profiles = load_profiles(path, channel=channel)
        self._show(profiles, "measured", None, {"path": path, "channel": channel}, f" {path}")
        return profiles

    def _save_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save profiles into folder")
        if not folder:
            return
        overwrite = (Path(folder) / "profiles.npz").exists()
        question = f"Replace the model (profiles.npz and settings.json) in {folder}?"
        yes = QMessageBox.StandardButton.Yes
        if overwrite and QMessageBox.question(self, "Overwrite?", question) != yes:
            return
        try:
            self.save_to(folder, overwrite=overwrite)
        except (OSError, ValueError) as exc:
            report_error(self.status, exc, action="Save profiles")

    def _load_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Load profiles", filter="BaSiC profiles (profiles.npz *.npz)"
        )
        if not path:
            return
        try:
            self.load_from(path)
        except (OSError, ValueError) as exc:
            report_error(self.status, exc, action="Load profiles")


def _apply(data, profiles: Profiles, *, progress=None):
    """Run :func:`apply_flatfield` lazily, plane by plane (nothing to report); the worker's body."""
    if isinstance(data, np.ndarray) and data.ndim > 2:
        data = planewise(data)
    return apply_flatfield(data, profiles)
