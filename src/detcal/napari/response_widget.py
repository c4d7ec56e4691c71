"""The "Detector response" dock widget: fit per-pixel gains from a beam sweep, correct images.

Choose the sweep layer, an optional dark layer, the smoothing sigma and the cutoff; Fit runs
:func:`detcal.response.fit_response` in the background (progress bar, Cancel) and adds the
``gains`` and ``fit quality`` (R^2) layers. Then choose the images to correct, an optional flat
and residual sigma; Correct adds a lazy ``corrected`` layer at once (napari computes only the
planes shown). Gains are saved to and loaded from .tif, .h5, .zarr or .npy with detcal.io.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import dask.array as da
import numpy as np
from magicgui.widgets import create_widget
from qtpy.QtWidgets import (
    QDoubleSpinBox,
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

from detcal.io import open_array, save_array
from detcal.napari._background import add_result, run_step
from detcal.progress import StepCancelled
from detcal.response import DEFAULT_CUTOFF, correct_image, fit_response

if TYPE_CHECKING:
    import napari

GAIN_FILTER = "Gain maps (*.zarr *.tif *.tiff *.h5 *.hdf5 *.npy)"


def _spin(value: float, low: float, high: float, decimals: int, special: str = ""):
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setDecimals(decimals)
    box.setValue(value)
    if special:
        box.setSpecialValueText(special)
    return box


def _layer_array(layer, name: str):
    """Return the layer's full-resolution data as a numpy or dask array."""
    if layer is None:
        raise ValueError(f"{name}: choose a layer first")
    data = layer.data
    if getattr(layer, "multiscale", False):
        data = data[0]
    if not isinstance(data, np.ndarray | da.Array):
        data = np.asarray(data)
    return data


def _plane(layer, name: str):
    """Return a (row, col) calibration image from a layer; a stack is averaged."""
    if layer is None:
        return None
    data = _layer_array(layer, name)
    if data.ndim == 3:
        data = data.astype(np.float64).mean(axis=0)
    if data.ndim != 2:
        raise ValueError(f"{name}: expected a (row, col) image, got shape {data.shape}")
    return np.asarray(data)


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
        self.gains: np.ndarray | None = None
        self.worker = None
        layout = QVBoxLayout(self)

        fit_box = QGroupBox("Fit gains from a beam sweep")
        fit_form = QFormLayout(fit_box)
        self.sweep_combo = create_widget(annotation="napari.layers.Image", label="sweep")
        self.dark_combo = create_widget(
            annotation="napari.layers.Image", label="dark", options={"nullable": True}
        )
        self.sigma = _spin(50.0, 0.5, 1000.0, 1)
        self.sigma.setToolTip(
            "Gaussian sigma (px) estimating the true intensity; also smooths the flat"
        )
        self.cutoff = _spin(DEFAULT_CUTOFF, -1e9, 1e9, 1)
        self.cutoff.setToolTip("planes whose smoothed, dark-corrected value is below are not used")
        fit_form.addRow("sweep (z, row, col)", self.sweep_combo.native)
        fit_form.addRow("dark (optional)", self.dark_combo.native)
        fit_form.addRow("sigma (px)", self.sigma)
        fit_form.addRow("cutoff (counts)", self.cutoff)
        fit_buttons = QHBoxLayout()
        self.fit_button = QPushButton("Fit")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        fit_buttons.addWidget(self.fit_button)
        fit_buttons.addWidget(self.cancel_button)
        fit_form.addRow(fit_buttons)
        layout.addWidget(fit_box)

        correct_box = QGroupBox("Correct images")
        correct_form = QFormLayout(correct_box)
        self.image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self.flat_combo = create_widget(
            annotation="napari.layers.Image", label="flat", options={"nullable": True}
        )
        self.residual_sigma = _spin(0.0, 0.0, 100.0, 2, special="off")
        self.residual_sigma.setToolTip(
            "with a flat: divide out only flat residuals above this many standard deviations"
        )
        correct_form.addRow("image", self.image_combo.native)
        correct_form.addRow("flat (optional)", self.flat_combo.native)
        correct_form.addRow("residual sigma", self.residual_sigma)
        self.correct_button = QPushButton("Correct")
        correct_form.addRow(self.correct_button)
        layout.addWidget(correct_box)

        file_box = QGroupBox("Gain map file")
        file_layout = QHBoxLayout(file_box)
        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("gains.zarr / .tif / .h5 / .npy (empty: ask)")
        self.save_button = QPushButton("Save gains")
        self.load_button = QPushButton("Load gains")
        file_layout.addWidget(self.path_edit, 1)
        file_layout.addWidget(self.save_button)
        file_layout.addWidget(self.load_button)
        layout.addWidget(file_box)

        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)
        layout.addStretch(1)

        self.fit_button.clicked.connect(lambda: self.fit())
        self.correct_button.clicked.connect(lambda: self.correct())
        self.save_button.clicked.connect(lambda: self.save_gains())
        self.load_button.clicked.connect(lambda: self.load_gains())
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()
        self._update_buttons()

    # ------------------------------------------------------------------ state

    def _refresh_layers(self, *_args) -> None:
        for combo in (self.sweep_combo, self.dark_combo, self.image_combo, self.flat_combo):
            combo.reset_choices()

    def _update_buttons(self) -> None:
        has = self.gains is not None
        self.correct_button.setEnabled(has)
        self.save_button.setEnabled(has)

    def _error(self, exc: BaseException) -> None:
        if isinstance(exc, StepCancelled):
            self.status.setText("cancelled")
        else:
            self.status.setText(f"<span style='color:#e05050'>{exc}</span>")
        self.fit_button.setEnabled(True)

    def fit_params(self) -> dict:
        """Return the fit's parameters as chosen in the widget."""
        return {"sigma": self.sigma.value(), "cutoff": self.cutoff.value()}

    # ------------------------------------------------------------------ actions

    def fit(self, *, start: bool = True):
        """Fit the gains in the background; returns the worker (None on bad input)."""
        try:
            volume = _layer_array(self.sweep_combo.value, "sweep")
            if volume.ndim != 3:
                raise ValueError(f"sweep: expected a (z, row, col) stack, got shape {volume.shape}")
            dark = _plane(self.dark_combo.value, "dark")
        except ValueError as exc:
            self._error(exc)
            return None
        self.status.setText("fitting...")
        self.fit_button.setEnabled(False)
        self.worker = run_step(
            fit_response,
            volume,
            desc="Detector response",
            on_returned=self._on_fitted,
            on_errored=self._error,
            cancel_button=self.cancel_button,
            start=start,
            dark=dark,
            return_quality=True,
            **self.fit_params(),
        )
        self.worker.aborted.connect(lambda: self.status.setText("cancelled"))
        self.worker.finished.connect(lambda: self.fit_button.setEnabled(True))
        return self.worker

    def _on_fitted(self, result) -> None:
        gains, quality = result
        params = {"sweep": self.sweep_combo.value, "dark": self.dark_combo.value}
        params.update(self.fit_params())
        self._set_gains(gains, params)
        add_result(
            self.viewer, quality.r_squared, name="fit quality", params=params,
            contrast_limits=(0.9, 1.0), visible=False,
        )  # fmt: skip
        defined = gains[np.isfinite(gains)]
        text = f"gains: mean {defined.mean():.4f}, std {defined.std():.4f}" if defined.size else ""
        self.status.setText(
            f"{text}; {quality.n_undefined} undefined (NaN); median R^2 "
            f"{np.nanmedian(quality.r_squared) if defined.size else float('nan'):.5f}"
        )

    def _set_gains(self, gains: np.ndarray, params: dict) -> None:
        self.gains = np.asarray(gains, dtype=np.float32)
        add_result(self.viewer, self.gains, name="gains", params=params)
        self._update_buttons()

    def correct(self):
        """Add the lazily corrected images as the ``corrected`` layer; returns it (or None)."""
        try:
            if self.gains is None:
                raise ValueError("gains: fit or load a gain map first")
            image = _layer_array(self.image_combo.value, "image")
            if isinstance(image, np.ndarray) and image.ndim == 3:
                image = da.from_array(image, chunks=(1, *image.shape[1:]))
            dark = _plane(self.dark_combo.value, "dark")
            flat = _plane(self.flat_combo.value, "flat")
            residual = self.residual_sigma.value() or None
            corrected = correct_image(
                image, self.gains, dark=dark, flat=flat, sigma=residual,
                smooth_sigma=self.sigma.value(),
            )  # fmt: skip
        except (ValueError, TypeError) as exc:
            self._error(exc)
            return None
        params = {
            "image": self.image_combo.value,
            "dark": self.dark_combo.value,
            "flat": self.flat_combo.value,
            "sigma": residual,
            "smooth_sigma": self.sigma.value(),
        }
        layer = add_result(self.viewer, corrected, name="corrected", params=params)
        self.status.setText(f"corrected {self.image_combo.value.name} (lazy)")
        return layer

    def _path(self, save: bool) -> Path | None:
        text = self.path_edit.text().strip()
        if not text:
            ask = QFileDialog.getSaveFileName if save else QFileDialog.getOpenFileName
            text, _ = ask(self, "Gain map", "", GAIN_FILTER)
            if not text:
                return None
            self.path_edit.setText(text)
        return Path(text)

    def save_gains(self):
        """Save the gain map to the path in the file box (asked for when empty)."""
        if self.gains is None:
            return None
        path = self._path(save=True)
        if path is None:
            return None
        try:
            meta = self.viewer.layers["gains"].metadata.get("detcal", {})
            saved = save_array(self.gains, path, overwrite=True, attrs=meta.get("params"))
        except (ValueError, TypeError, OSError) as exc:
            self._error(exc)
            return None
        self.status.setText(f"gains saved to {saved}")
        return saved

    def load_gains(self):
        """Load a gain map from the path in the file box (asked for when empty)."""
        path = self._path(save=False)
        if path is None:
            return None
        try:
            gains = open_array(path)
            if gains.ndim == 3 and gains.shape[0] == 1:
                gains = gains[0]
            if gains.ndim != 2:
                raise ValueError(f"gains: expected a (row, col) map, got shape {gains.shape}")
            self._set_gains(gains.compute(), {"file": str(path)})
        except (ValueError, TypeError, KeyError, OSError) as exc:
            self._error(exc)
            return None
        self.status.setText(f"gains loaded from {path}")
        return self.gains
