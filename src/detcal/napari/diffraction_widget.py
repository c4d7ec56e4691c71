"""The "Diffraction" dock widget: align a series, average it, find the centre, radial profile.

Pick the image or series layer and, optionally, a Shapes layer drawn over the beam block (the
"New beam block" button adds an empty one named "beam block"; lines and paths count with their
edge width, for the arm). Align adds a lazy ``aligned`` layer and plots the shifts per plane;
Average adds ``mean`` and ``sem``; Find centre adds a ``centre`` point and a ``rings`` layer of
circles on the strongest rings; Azimuthal average plots the radial profile about the centre
point, and dragging the point recomputes it. Every button runs one core function through
:func:`detcal.napari._background.run_step` (worker thread, progress bar, Cancel; one run per
button at a time); result layers record the step, its parameters and the input layer.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from magicgui.widgets import create_widget
from matplotlib.backends.backend_qtagg import FigureCanvasQTAgg
from matplotlib.figure import Figure
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QFileDialog, QGridLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from detcal.diffraction import (
    AlignOptions,
    AzimuthalOptions,
    CenterOptions,
    align,
    azimuthal_average,
    find_rings,
    mean_and_sem,
    pattern_center,
    powder_center,
    save_profile,
    shapes_to_mask,
)
from detcal.napari._background import add_result, is_running, run_step
from detcal.napari._controls import OptionsForm
from detcal.napari._feedback import report_error, report_status
from detcal.napari._scrolling import scrolling_content

if TYPE_CHECKING:
    import napari

BEAM_BLOCK = "beam block"
CENTRE = "centre"
RINGS = "rings"
DEBOUNCE_MS = 300


def _mask(shapes: dict | None, shape: tuple[int, ...]) -> np.ndarray | None:
    """Rasterise the beam-block shapes (copied from the layer) for an image of ``shape``."""
    if shapes is None:
        return None
    return shapes_to_mask(shapes["data"], shapes["types"], shape[-2:], widths=shapes["widths"])


def _align_job(images, shapes, options: AlignOptions, progress=None):
    images = images if images.ndim == 3 else images[None]
    if not 0 <= options.reference < images.shape[0]:
        raise ValueError(f"Reference plane: expected an index < {images.shape[0]}")
    reference = np.asarray(images[options.reference])
    return align(images, reference=reference, mask=_mask(shapes, images.shape),
                 fill_value=options.fill_value, progress=progress)  # fmt: skip


def _average_job(images, progress=None):
    return mean_and_sem(images, progress=progress)


def _centre_job(plane, shapes, method: str, progress=None):
    plane = np.asarray(plane)
    mask = _mask(shapes, plane.shape)
    centre = (powder_center if method == "powder" else pattern_center)(plane, mask=mask)
    radius, intensity = azimuthal_average(plane, centre, mask=mask)
    return centre, find_rings(radius, intensity)


def _profile_job(plane, centre, shapes, options: AzimuthalOptions, progress=None):
    plane = np.asarray(plane)
    return azimuthal_average(
        plane, centre, mask=_mask(shapes, plane.shape), bin_width=options.bin_width,
        angular_bounds=options.angular_bounds, pixel_split=options.pixel_split,
    )  # fmt: skip


class DiffractionWidget(QWidget):
    """Dock widget for diffraction patterns: alignment, mean/SEM, centre, azimuthal average.

    Parameters
    ----------
    napari_viewer : napari.Viewer
        The viewer (injected by napari).
    """

    def __init__(self, napari_viewer: napari.Viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.profile: tuple[np.ndarray, np.ndarray] | None = None
        layout = QVBoxLayout(scrolling_content(self))
        self.image_combo = create_widget(annotation="napari.layers.Image", label="image")
        self.shapes_combo = create_widget(
            annotation="napari.layers.Shapes", label="mask", options={"nullable": True}
        )
        self.new_block_button = QPushButton("New beam block")
        self.align_form = OptionsForm(AlignOptions)
        self.center_form = OptionsForm(CenterOptions)
        self.azimuthal_form = OptionsForm(AzimuthalOptions, exclude=("center_row", "center_col"))
        grid = QGridLayout()
        grid.addWidget(QLabel("image / series"), 0, 0)
        grid.addWidget(self.image_combo.native, 0, 1)
        grid.addWidget(QLabel("beam block (Shapes)"), 1, 0)
        grid.addWidget(self.shapes_combo.native, 1, 1)
        grid.addWidget(self.new_block_button, 2, 1)
        layout.addLayout(grid)
        for form in (self.align_form, self.center_form, self.azimuthal_form):
            layout.addWidget(form.native)
        buttons = QGridLayout()
        self.align_button = QPushButton("Align")
        self.average_button = QPushButton("Average")
        self.center_button = QPushButton("Find centre")
        self.azimuthal_button = QPushButton("Azimuthal average")
        self.save_button = QPushButton("Save CSV")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.save_button.setEnabled(False)
        for k, button in enumerate(
            (
                self.align_button,
                self.average_button,
                self.center_button,
                self.azimuthal_button,
                self.save_button,
                self.cancel_button,
            )
        ):
            buttons.addWidget(button, k // 2, k % 2)  # fmt: skip
        layout.addLayout(buttons)
        self.figure = Figure(figsize=(4, 4), tight_layout=True)
        self.shift_axes, self.profile_axes = self.figure.subplots(2, 1)
        self.canvas = FigureCanvasQTAgg(self.figure)
        self.canvas.setMinimumHeight(260)
        layout.addWidget(self.canvas)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        layout.addWidget(self.status)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.azimuthal())
        self.new_block_button.clicked.connect(lambda: self.new_beam_block())
        self.align_button.clicked.connect(lambda: self.align())
        self.average_button.clicked.connect(lambda: self.average())
        self.center_button.clicked.connect(lambda: self.find_centre())
        self.azimuthal_button.clicked.connect(lambda: self.azimuthal())
        self.save_button.clicked.connect(lambda: self.save_csv())
        self.viewer.layers.events.inserted.connect(self._refresh_layers)
        self.viewer.layers.events.removed.connect(self._refresh_layers)
        self._refresh_layers()

    # ------------------------------------------------------------------ helpers

    def _refresh_layers(self, *_args) -> None:
        self.image_combo.reset_choices()
        self.shapes_combo.reset_choices()

    def _say(self, text: str) -> None:
        report_status(self.status, text)

    def _data(self):
        layer = self.image_combo.value
        if layer is None:
            raise ValueError("image: choose an image or series layer first")
        return layer.data[0] if layer.multiscale else layer.data

    def _plane(self):
        """Return the (row, col) plane shown of the chosen layer (lazy: read in the worker)."""
        data = self._data()
        while data.ndim > 2:
            data = data[min(self.viewer.dims.current_step[0], data.shape[0] - 1)]
        return data

    def _shapes(self) -> dict | None:
        layer = self.shapes_combo.value
        if layer is None:
            return None
        return {"data": [np.array(d) for d in layer.data], "types": list(layer.shape_type),
                "widths": list(layer.edge_width)}  # fmt: skip

    def _run(self, func, *args, desc: str, button: QPushButton, done, **kwargs):
        """Run ``func`` in the background for ``button`` (errors and cancel on the status)."""
        worker = run_step(
            func, *args, desc=desc, on_returned=done, button=button, status=self.status,
            cancel_button=self.cancel_button, **kwargs,
        )  # fmt: skip
        if worker is not None:
            self._say(f"{desc}…")
        return worker

    def _try(self, action: str, start):
        """Call ``start()``; a bad input it finds is shown as the error of ``action``."""
        try:
            return start()
        except (ValueError, TypeError) as exc:
            report_error(self.status, exc, action=action)
            return None

    # ------------------------------------------------------------------ actions

    def new_beam_block(self):
        """Add an empty Shapes layer named "beam block" and choose it as the mask."""
        layer = self.viewer.add_shapes(name=BEAM_BLOCK, edge_width=8, face_color="#ff000040",
                                       edge_color="red", ndim=2)  # fmt: skip
        layer.mode = "add_polygon"
        self.shapes_combo.value = layer
        return layer

    def align(self):
        """Align the series with its reference plane in the background; returns the worker."""

        def start():
            source, options = self.image_combo.value, self.align_form.value()
            params = {"mask": self.shapes_combo.value, "reference": options.reference,
                      "fill_value": options.fill_value}  # fmt: skip
            return self._run(
                _align_job,
                self._data(),
                self._shapes(),
                options,
                desc="Align",
                button=self.align_button,
                done=lambda result: self._on_aligned(result, source, params),
            )

        return self._try("Align", start)

    def _on_aligned(self, result, source, params: dict) -> None:
        aligned, shifts = result
        layer = add_result(self.viewer, aligned, name="aligned", step="diffraction.align",
                           source=source, params=params)  # fmt: skip
        layer.metadata["shifts"] = shifts.tolist()
        self.shift_axes.clear()
        self.shift_axes.plot(shifts[:, 0], "o-", label="drow")
        self.shift_axes.plot(shifts[:, 1], "s-", label="dcol")
        self.shift_axes.set(xlabel="plane", ylabel="shift (px)")
        self.shift_axes.legend(fontsize="small")
        self.canvas.draw_idle()
        self._say(f"aligned {len(shifts)} planes; largest shift "
                            f"{np.abs(shifts).max():.2f} px")  # fmt: skip

    def average(self):
        """Compute the mean and SEM of the series in the background; returns the worker."""

        def start():
            source = self.image_combo.value
            return self._run(_average_job, self._data(), desc="Average",
                             button=self.average_button,
                             done=lambda result: self._on_averaged(result, source))  # fmt: skip

        return self._try("Average", start)

    def _on_averaged(self, result, source) -> None:
        mean, sem = result
        step = "diffraction.mean_and_sem"
        add_result(self.viewer, mean.astype(np.float32), name="mean", step=step, source=source)
        add_result(self.viewer, sem.astype(np.float32), name="sem", step=step, source=source,
                   visible=False)  # fmt: skip
        self._say("mean and SEM added")

    def find_centre(self):
        """Find the pattern centre (and its rings) in the background; returns the worker."""
        return self._try("Find centre", lambda: self._run(
            _centre_job, self._plane(), self._shapes(), self.center_form.value().method,
            desc="Find centre", button=self.center_button, done=self._on_centre,
        ))  # fmt: skip

    def _on_centre(self, result) -> None:
        (row, col), radii = result
        if CENTRE in self.viewer.layers:
            points = self.viewer.layers[CENTRE]
            with points.events.data.blocker():
                points.data = np.array([[row, col]])
        else:
            points = self.viewer.add_points([[row, col]], name=CENTRE, size=12,
                                            face_color="cyan", ndim=2)  # fmt: skip
            points.events.data.connect(lambda *_: self._debounce.start())
        circles = [np.array([[row - r, col - r], [row - r, col + r], [row + r, col + r],
                             [row + r, col - r]]) for r in radii]  # fmt: skip
        if RINGS in self.viewer.layers:
            self.viewer.layers.remove(RINGS)
        self.viewer.add_shapes(circles, shape_type="ellipse", name=RINGS, edge_color="yellow",
                               face_color="transparent", edge_width=1, ndim=2)  # fmt: skip
        self.viewer.layers.selection.active = points
        self._say(f"centre (row, col) = ({row:.2f}, {col:.2f}); rings at "
                            + ", ".join(f"{r:.1f}" for r in radii) + " px")  # fmt: skip

    def centre(self) -> tuple[float, float]:
        """Return the centre (row, col): the last point of the "centre" Points layer."""
        if CENTRE not in self.viewer.layers or len(self.viewer.layers[CENTRE].data) == 0:
            raise ValueError("centre: find the centre first (or add a point named 'centre')")
        row, col = self.viewer.layers[CENTRE].data[-1][-2:]
        return float(row), float(col)

    def azimuthal(self):
        """Compute the azimuthal average about the centre point; returns the worker.

        While a profile is being computed the button is busy; a request meanwhile (the point
        dragged again) is retried once that run has ended, so the last position wins.
        """
        if is_running(self.azimuthal_button):
            self._debounce.start()
            return None
        return self._try("Azimuthal average", lambda: self._run(
            _profile_job, self._plane(), self.centre(), self._shapes(),
            self.azimuthal_form.value(), desc="Azimuthal average",
            button=self.azimuthal_button, done=self._on_profile,
        ))  # fmt: skip

    def _on_profile(self, result) -> None:
        self.profile = result
        radius, intensity = result
        self.profile_axes.clear()
        self.profile_axes.plot(radius, intensity, lw=1)
        self.profile_axes.set(xlabel="radius (px)", ylabel="intensity")
        self.canvas.draw_idle()
        self.save_button.setEnabled(True)
        row, col = self.centre()
        self._say(f"azimuthal average about ({row:.2f}, {col:.2f}): {radius.size} bins")

    def save_csv(self, path: str | Path | None = None):
        """Save the azimuthal average as CSV in the background (asks for a file when None)."""
        if self.profile is None:
            return None
        if path is None:
            path, _ = QFileDialog.getSaveFileName(self, "Azimuthal average", "", "CSV (*.csv)")
            if not path:
                return None
        radius, intensity = self.profile
        return self._run(
            lambda progress: save_profile(radius, intensity, path, overwrite=True),
            desc="Save CSV", button=self.save_button,
            done=lambda saved: self._say(f"saved {saved}"),
        )  # fmt: skip
