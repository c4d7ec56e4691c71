"""The "Grid distortion" dock widget: calibrate spatial distortion from a hole-grid image.

Choose the grid image; the controls come from :class:`detcal.distortion.CalibrateOptions`.
Find spots runs :func:`detcal.distortion.find_spots` and shows the spots as an editable
``grid spots`` Points layer (the spot diameter box shows the estimate used). Fit runs
:func:`detcal.distortion.calibrate_distortion` on the Points layer's current points and adds
``distortion dy`` / ``distortion dx`` images, the ``spot displacement`` vectors (each spot's
displacement from its ideal lattice position, magnified by the exaggeration slider) and the
``valid region`` labels (1 = outside the spots' hull, where the field is extrapolated).
Correct builds the resampling matrix in the background and adds the chosen layer corrected
lazily (:class:`detcal.distortion.CorrectOptions`); Save writes the pyFAI detector file and
Load reads one instead of fitting. The corrected layer records ``distortion.correct`` with the
map's file (``{"path": ...}``, once the map was saved or loaded) for recipes.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import create_widget
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from detcal._planewise import planewise
from detcal.distortion import DistortionMap, calibrate_distortion, find_spots
from detcal.distortion.options import CalibrateOptions, CorrectOptions
from detcal.napari._background import add_result, is_running, run_step
from detcal.napari._controls import OptionsForm
from detcal.napari._feedback import report_error, report_status
from detcal.napari._scrolling import scrolling_content

if TYPE_CHECKING:
    import napari

SPOTS = "grid spots"
VECTORS = "spot displacement"
MAP_FILTER = "pyFAI detector (*.h5)"


def _plane(layer, name: str):
    """Return a layer's (row, col) data, numpy or dask, never computed."""
    if layer is None:
        raise ValueError(f"{name}: choose an image layer first")
    data = layer.data[0] if layer.multiscale else layer.data
    if data.ndim != 2:
        raise ValueError(f"{name}: expected a (row, col) image, got shape {tuple(data.shape)}")
    return data


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    for widget in widgets:
        row.addWidget(widget)
    return row


class DistortionWidget(QWidget):
    """Dock widget for the hole-grid distortion calibration, correction and pyFAI file.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (injected by napari).
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.map: DistortionMap | None = None
        self.map_path: Path | None = None  # the file the map was loaded from or saved to
        layout = QVBoxLayout(scrolling_content(self))

        grid_box = QGroupBox("Calibrate from a grid image")
        grid_form = QFormLayout(grid_box)
        self.grid_combo = create_widget(annotation="napari.layers.Image", label="grid")
        self.options = OptionsForm(CalibrateOptions)
        grid_form.addRow("grid image", self.grid_combo.native)
        grid_form.addRow(self.options.native)
        self.find_button, self.fit_button = QPushButton("Find spots"), QPushButton("Fit")
        self.cancel_button = QPushButton("Cancel")
        grid_form.addRow(_row(self.find_button, self.fit_button, self.cancel_button))
        self.exaggeration = QSlider(Qt.Orientation.Horizontal)
        self.exaggeration.setRange(1, 100)
        self.exaggeration.setValue(10)
        self.exaggeration.setToolTip("magnification of the displacement vectors")
        grid_form.addRow("vector exaggeration", self.exaggeration)
        layout.addWidget(grid_box)

        correct_box = QGroupBox("Correct images")
        correct_form = QFormLayout(correct_box)
        self.image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self.correct_options = OptionsForm(CorrectOptions)
        correct_form.addRow("image", self.image_combo.native)
        correct_form.addRow(self.correct_options.native)
        self.correct_button = QPushButton("Correct")
        correct_form.addRow(self.correct_button)
        layout.addWidget(correct_box)

        file_box = QGroupBox("pyFAI detector file")
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("distortion.h5 (empty: ask)")
        self.load_button, self.save_button = QPushButton("Load"), QPushButton("Save")
        file_layout = QHBoxLayout(file_box)
        file_layout.addWidget(self.path_edit, 1)
        file_layout.addWidget(self.load_button)
        file_layout.addWidget(self.save_button)
        layout.addWidget(file_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.cancel_button.setEnabled(False)
        self.find_button.clicked.connect(lambda: self.find())
        self.fit_button.clicked.connect(lambda: self.fit())
        self.correct_button.clicked.connect(lambda: self.correct())
        self.save_button.clicked.connect(lambda: self.save())
        self.load_button.clicked.connect(lambda: self.load())
        self.exaggeration.valueChanged.connect(self._show_vectors)
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    # ------------------------------------------------------------------ state

    def _refresh_layers(self, *_args) -> None:
        self.grid_combo.reset_choices()
        self.image_combo.reset_choices()
        self._update_buttons()

    def _update_buttons(self) -> None:
        for button in (self.correct_button, self.save_button):
            if not is_running(button):
                button.setEnabled(self.map is not None)

    # ------------------------------------------------------------------ actions

    def find(self):
        """Find the spots in the background; returns the worker (None on bad input)."""
        try:
            options = self.options.value()
            image = _plane(self.grid_combo.value, "grid image")
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Find spots")
            return None
        report_status(self.status, "finding spots…")
        return run_step(
            find_spots,
            image,
            desc="Find grid spots",
            on_returned=self._on_found,
            cancel_button=self.cancel_button,
            button=self.find_button,
            status=self.status,
            spot_diameter=options.spot_diameter,
            polarity=options.polarity,
        )

    def _on_found(self, result) -> None:
        peaks, diameter = result
        if SPOTS in self.viewer.layers:
            self.viewer.layers.remove(SPOTS)
        self.viewer.add_points(
            peaks, name=SPOTS, size=max(diameter, 3.0), face_color="transparent",
            border_color="yellow", border_width=0.1,
        )  # fmt: skip
        self.options.controls["spot_diameter"].value = f"{diameter:.2f}"
        report_status(
            self.status,
            f"{len(peaks)} spots (diameter {diameter:.2f} px): edit the '{SPOTS}' layer, then Fit",
        )

    def fit(self):
        """Fit the distortion to the current spots in the background; returns the worker."""
        try:
            options = self.options.value()
            image = _plane(self.grid_combo.value, "grid image")
            peaks = self.viewer.layers[SPOTS].data if SPOTS in self.viewer.layers else None
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Fit")
            return None
        report_status(self.status, "fitting the distortion…")
        return run_step(
            calibrate_distortion,
            image,
            desc="Fit grid distortion",
            on_returned=partial(self._on_fitted, self.grid_combo.value, options),
            cancel_button=self.cancel_button,
            button=self.fit_button,
            status=self.status,
            peaks=peaks,
            **options.kwargs(),
        )

    def _on_fitted(self, source, options: CalibrateOptions, dmap: DistortionMap) -> None:
        self.map, self.map_path = dmap, None
        params, step = options.kwargs(), "distortion.calibrate_distortion"
        for axis, name in enumerate(("distortion dy", "distortion dx")):
            add_result(
                self.viewer, dmap.displacement[axis], name=name, step=step, source=source,
                params=params, colormap="coolwarm", visible=axis == 0,
            )  # fmt: skip
        add_result(
            self.viewer, dmap.mask.astype(np.uint8), name="valid region", step=step,
            source=source, params=params, layer_type="labels", opacity=0.25,
        )  # fmt: skip
        self._show_vectors()
        size = dmap.residuals
        report_status(
            self.status,
            f"{len(dmap.spots)} spots, max rounding error {dmap.rounding_error:.3f} pitch, "
            f"displacement up to {np.hypot(*size.T).max():.2f} px, smooth-field misfit "
            f"r.m.s. {np.sqrt(np.mean(dmap.misfit**2)):.3f} px",
        )
        self._update_buttons()

    def _show_vectors(self, *_args) -> None:
        if self.map is None or self.map.spots is None:
            return
        vectors = np.stack([self.map.ideal_spots, self.map.residuals * self.exaggeration.value()],
                           axis=1)  # fmt: skip
        if VECTORS in self.viewer.layers:
            self.viewer.layers[VECTORS].data = vectors
        else:
            self.viewer.add_vectors(vectors, name=VECTORS, edge_color="cyan", edge_width=1.0)

    def correct(self):
        """Build the resampling matrix in the background, then add the lazy corrected layer."""
        try:
            options = self.correct_options.value()
            source = self.image_combo.value
            if self.map is None:
                raise ValueError("map: fit the distortion first")
            if source is None:
                raise ValueError("image: choose the layer to correct")
            data = source.data[0] if source.multiscale else source.data
            if tuple(data.shape[-2:]) != self.map.shape:
                raise ValueError(
                    f"image: expected (row, col) = {self.map.shape} like the grid image, got "
                    f"shape {tuple(data.shape)}"
                )
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Correct")
            return None
        data = planewise(data)  # lazy even for numpy: planes as they are viewed
        report_status(self.status, "preparing the resampling matrix…")
        return run_step(
            self.map.prepare,
            desc="Prepare distortion correction",
            on_returned=partial(self._on_prepared, source, data, options),
            cancel_button=self.cancel_button,
            button=self.correct_button,
            status=self.status,
        )

    def _on_prepared(self, source, data, options: CorrectOptions, dmap: DistortionMap) -> None:
        add_result(
            self.viewer, dmap.correct(data, **options.kwargs()), name="distortion corrected",
            step="distortion.correct", source=source,
            params={"map": self.map_path, **options.kwargs()},
        )  # fmt: skip
        unsaved = "" if self.map_path else "; save the map to record it for recipes"
        report_status(self.status, f"corrected {source.name} (computed as you browse){unsaved}")

    def _map_file(self, ask) -> Path | None:
        """Return the path box's file, or ask for one with ``ask`` (a QFileDialog function)."""
        text = self.path_edit.text().strip()
        if not text:
            text, _ = ask(self, "pyFAI detector", "", MAP_FILTER)
            if not text:
                return None
            self.path_edit.setText(text)
        return Path(text).expanduser().absolute()

    def load(self):
        """Read a pyFAI detector file (path box, asked for when empty) as the map to apply."""
        path = self._map_file(QFileDialog.getOpenFileName)
        if path is None:
            return None
        return run_step(
            lambda path, progress: DistortionMap.load(path), path, desc="Load pyFAI detector",
            on_returned=partial(self._on_loaded, path), button=self.load_button,
            status=self.status,
        )  # fmt: skip

    def _on_loaded(self, path: Path, dmap: DistortionMap) -> None:
        self.map, self.map_path = dmap, path
        self._show_vectors()
        self._update_buttons()
        report_status(self.status, f"map {path.name} loaded: {dmap.shape[0]} x {dmap.shape[1]}")

    def save(self):
        """Save the map as a pyFAI detector file (path box, asked for when empty)."""
        path = None if self.map is None else self._map_file(QFileDialog.getSaveFileName)
        if path is None:
            return None
        return run_step(
            self.map.save, path, desc="Save pyFAI detector",
            on_returned=partial(self._on_saved, self.map), button=self.save_button,
            status=self.status,
        )  # fmt: skip

    def _on_saved(self, dmap: DistortionMap, saved: Path) -> None:
        if dmap is self.map:  # the map shown is the one in the file
            self.map_path = Path(saved).absolute()
        report_status(self.status, f"map saved to {saved}")
