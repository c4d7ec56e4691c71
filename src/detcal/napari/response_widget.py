"""The "Detector response" dock widget: fit per-pixel gains from a beam sweep, correct images.

Fit: choose the sweep and an optional dark (a stack of darks is averaged); the controls come
from :class:`detcal.response.FitOptions`. Fit runs :func:`detcal.response.fit_response` in the
background and adds the ``gains`` and ``fit quality`` (R^2) layers; a fit in which no pixel
gets a gain is an error and leaves the loaded gains as they were. Correct: choose the images,
the gains (any (row, col) layer, e.g. the CT sample's detectorcal coefficients), the dark and
an optional flat of the images' own session, with :class:`detcal.response.CorrectOptions`;
Correct adds a lazy ``corrected`` layer (a pyramid when the images have one). Gains are saved
to and loaded from .zarr, .tif, .h5 or .npy with detcal.io.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import dask.array as da
import numpy as np
from magicgui.widgets import create_widget
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from detcal.filters.pixelwise import load_loop
from detcal.filters.planes import mean_plane
from detcal.io import open_array, save_array
from detcal.napari._background import add_result, is_running, layer_data, run_step
from detcal.napari._controls import OptionsForm
from detcal.napari._feedback import report_error, report_status
from detcal.napari._scrolling import scrolling_content
from detcal.response import correct_image, fit_response
from detcal.response.options import CorrectOptions, FitOptions

if TYPE_CHECKING:
    import napari

GAIN_FILTER = "Gain maps (*.zarr *.tif *.tiff *.h5 *.hdf5 *.npy)"
_GAIN_NAMES = ("gain", "coefficient")


def _image_combo(label: str, *, nullable: bool = False):
    return create_widget(
        annotation="napari.layers.Image", label=label, options={"nullable": nullable}
    )


class ResponseWidget(QWidget):
    """Dock widget for the detector response fit and correction.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (injected by napari).
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        load_loop()  # now, not as the viewer draws the first corrected plane
        layout = QVBoxLayout(scrolling_content(self))

        fit_box = QGroupBox("Fit gains from a beam sweep")
        fit_form = QFormLayout(fit_box)
        self.sweep_combo = _image_combo("sweep")
        self.fit_dark_combo = _image_combo("dark", nullable=True)
        self.fit_options = OptionsForm(FitOptions)
        fit_form.addRow("sweep (z, row, col)", self.sweep_combo.native)
        fit_form.addRow("dark (optional)", self.fit_dark_combo.native)
        fit_form.addRow(self.fit_options.native)
        self.fit_button, self.fit_cancel = QPushButton("Fit"), QPushButton("Cancel")
        fit_form.addRow(_row(self.fit_button, self.fit_cancel))
        layout.addWidget(fit_box)

        correct_box = QGroupBox("Correct images")
        correct_form = QFormLayout(correct_box)
        self.image_combo = _image_combo("image")
        self.gains_combo = _image_combo("gains", nullable=True)
        self.dark_combo = _image_combo("dark", nullable=True)
        self.flat_combo = _image_combo("flat", nullable=True)
        self.correct_options = OptionsForm(CorrectOptions)
        for label, combo in (
            ("images", self.image_combo),
            ("gains (row, col)", self.gains_combo),
            ("dark (optional)", self.dark_combo),
            ("flat (optional)", self.flat_combo),
        ):
            correct_form.addRow(label, combo.native)
        correct_form.addRow(self.correct_options.native)
        self.correct_button, self.correct_cancel = QPushButton("Correct"), QPushButton("Cancel")
        correct_form.addRow(_row(self.correct_button, self.correct_cancel))
        layout.addWidget(correct_box)

        file_box = QGroupBox("Gain map file")
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("gains.zarr / .tif / .h5 / .npy (empty: ask)")
        self.save_button = QPushButton("Save gains")
        self.load_button = QPushButton("Load gains")
        file_layout = QHBoxLayout(file_box)
        file_layout.addWidget(self.path_edit, 1)
        file_layout.addWidget(self.save_button)
        file_layout.addWidget(self.load_button)
        layout.addWidget(file_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        for cancel in (self.fit_cancel, self.correct_cancel):
            cancel.setEnabled(False)
        self.fit_button.clicked.connect(lambda: self.fit())
        self.correct_button.clicked.connect(lambda: self.correct())
        self.save_button.clicked.connect(lambda: self.save_gains())
        self.load_button.clicked.connect(lambda: self.load_gains())
        self.gains_combo.changed.connect(self._update_buttons)
        sigma, smooth = self.fit_options.controls["sigma"], self.correct_options.controls
        sigma.changed.connect(lambda value: setattr(smooth["smooth_sigma"], "value", value))
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    # ------------------------------------------------------------------ state

    def _refresh_layers(self, *_args) -> None:
        for combo in (self.sweep_combo, self.fit_dark_combo, self.image_combo):
            combo.reset_choices()
        for combo in (self.gains_combo, self.dark_combo, self.flat_combo):
            combo.reset_choices()
        layers = list(self.viewer.layers)
        sweeps = [lay for lay in layers if "sweep" in lay.name.lower()]
        if sweeps and self.sweep_combo.value not in sweeps:
            self.sweep_combo.value = sweeps[-1]
        gains = [lay for lay in layers if any(w in lay.name.lower() for w in _GAIN_NAMES)]
        if gains and self.gains_combo.value not in gains:
            self.gains_combo.value = gains[-1]
        # the images to correct: anything but the sweep, the gains and the fit's results
        taken = {self.sweep_combo.value, self.gains_combo.value}
        candidates = [
            lay
            for lay in self.image_combo.choices
            if lay not in taken and lay.name not in ("fit quality", "corrected")
        ]
        if candidates and self.image_combo.value in taken:
            self.image_combo.value = candidates[0]
        self._update_buttons()

    def _update_buttons(self, *_args) -> None:
        has = self.gains_combo.value is not None
        self.save_button.setEnabled(has)
        if not is_running(self.correct_button):
            self.correct_button.setEnabled(has)

    # ------------------------------------------------------------------ actions

    def fit(self):
        """Fit the gains in the background; returns the worker (None on bad input)."""
        try:
            options = self.fit_options.value()
            layer = self.sweep_combo.value
            sweep = layer_data(layer)
            if sweep is None or sweep.ndim != 3:
                shape = None if sweep is None else tuple(sweep.shape)
                raise ValueError(f"sweep: choose a (z, row, col) stack, got shape {shape}")
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Fit")
            return None
        dark = self.fit_dark_combo.value
        params = {"volume": layer, "dark": dark, **options.kwargs()}
        report_status(self.status, f"fitting gains from {layer.name}…")
        return run_step(
            fit_response,
            sweep,
            desc="Detector response fit",
            on_returned=partial(self._on_fitted, layer, params),
            cancel_button=self.fit_cancel,
            button=self.fit_button,
            status=self.status,
            dark=layer_data(dark),
            return_quality=True,
            **options.kwargs(),
        )

    def _on_fitted(self, source, params: dict, result) -> None:
        gains, quality = result
        step = "response.fit_response"
        layer = add_result(
            self.viewer, gains, name="gains", step=step, source=source, params=params
        )
        add_result(
            self.viewer, quality.r_squared, name="fit quality", step=step, source=source,
            params=params, contrast_limits=(0.9, 1.0), visible=False,
        )  # fmt: skip
        self.gains_combo.value = layer
        defined = gains[np.isfinite(gains)]
        report_status(
            self.status,
            f"gains: mean {defined.mean():.4f}, std {defined.std():.4f}; "
            f"{quality.n_undefined} undefined (NaN); median R^2 "
            f"{np.nanmedian(quality.r_squared):.5f}",
        )

    def correct(self):
        """Correct the chosen images in the background; returns the worker (None on bad input).

        The ``corrected`` layer is lazy: napari computes only the planes (and pyramid level)
        shown.
        """
        try:
            options = self.correct_options.value()
            source = self.image_combo.value
            if source is None:
                raise ValueError("images: choose the images to correct")
            if self.gains_combo.value is None:
                raise ValueError("gains: fit, load or choose a gain map first")
            images = layer_data(source, levels=True)
            if isinstance(images, np.ndarray) and images.ndim == 3:
                images = da.from_array(images, chunks=(1, *images.shape[1:]))
            gains = layer_data(self.gains_combo.value)
            if gains.ndim == 3 and gains.shape[0] == 1:
                gains = gains[0]
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action="Correct")
            return None
        params = {
            "coefficients": self.gains_combo.value,
            "dark": self.dark_combo.value,
            "flat": self.flat_combo.value,
            **options.kwargs(),
        }
        report_status(self.status, f"correcting {source.name}…")
        return run_step(
            correct_image,
            images,
            gains,
            desc="Detector response correction",
            on_returned=partial(self._on_corrected, source, params),
            cancel_button=self.correct_cancel,
            button=self.correct_button,
            status=self.status,
            dark=layer_data(self.dark_combo.value),
            flat=layer_data(self.flat_combo.value),
            **options.kwargs(),
        )

    def _on_corrected(self, source, params: dict, corrected) -> None:
        name = "corrected"
        if name in self.viewer.layers:
            old = self.viewer.layers[name]
            if old.multiscale != isinstance(corrected, list):
                self.viewer.layers.remove(old)
        add_result(
            self.viewer, corrected, name=name, step="response.correct_image", source=source,
            params=params,
        )  # fmt: skip
        report_status(
            self.status, f"corrected {source.name} (computed plane by plane as you browse)"
        )

    def _path(self, save: bool) -> Path | None:
        text = self.path_edit.text().strip()
        if not text:
            ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
            text, _ = ask(self, "Gain map", "", GAIN_FILTER)
            if not text:
                return None
            self.path_edit.setText(text)
        return Path(text).expanduser().absolute()

    def save_gains(self):
        """Save the chosen gain map to the path in the file box (asked for when empty)."""
        layer = self.gains_combo.value
        path = None if layer is None else self._path(save=True)
        if path is None:
            return None
        record = layer.metadata.get("detcal")
        return run_step(
            save_array,
            layer_data(layer),
            path,
            desc="Save gains",
            on_returned=lambda saved: report_status(self.status, f"gains saved to {saved}"),
            button=self.save_button,
            status=self.status,
            overwrite=True,
            attrs=record,
        )

    def load_gains(self):
        """Load a gain map from the path in the file box (asked for when empty)."""
        path = self._path(save=False)
        if path is None:
            return None
        try:
            gains = open_array(path)
            if gains.ndim not in (2, 3) or (gains.ndim == 3 and gains.shape[0] != 1):
                raise ValueError(f"gains: expected a (row, col) map, got shape {gains.shape}")
        except (ValueError, TypeError, KeyError, OSError) as exc:
            report_error(self.status, exc, action="Load gains")
            return None
        return run_step(
            mean_plane,
            gains,
            "gains",
            desc="Load gains",
            on_returned=partial(self._on_loaded, path),
            button=self.load_button,
            status=self.status,
        )

    def _on_loaded(self, path: Path, gains: np.ndarray) -> None:
        layer = add_result(
            self.viewer, gains.astype(np.float32), name="gains", step="io.open_array",
            source=str(path), params={"path": path},
        )  # fmt: skip
        layer.metadata["source"] = {"path": str(path)}
        self.gains_combo.value = layer
        report_status(self.status, f"gains loaded from {path}")


def _row(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    for button in buttons:
        row.addWidget(button)
    return row
