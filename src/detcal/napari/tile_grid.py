"""The flat-field widget's pictures: a clickable tile grid and a plot of the flat's profiles.

:class:`TileGridPicker`: each tile is a toggle button showing its 1-based number in "inverted N"
acquisition order (tile 1 top-left, numbers running down each column, see
:mod:`detcal.flatfield.tiles`); a pressed button marks the tile as empty, so its planes are
sampled for the flat-field. :class:`ProfilePlot`: the flat's centre row and column as curves.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
from qtpy.QtCore import QPointF, Signal
from qtpy.QtGui import QColor, QPainter, QPen, QPolygonF
from qtpy.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from detcal.flatfield import tiles as tile_layout

_CHECKED_STYLE = (
    "QPushButton { min-width: 28px; min-height: 22px; }"
    "QPushButton:checked { background-color: #2a7ab0; color: white; font-weight: bold; }"
)


class TileGridPicker(QWidget):
    """Toggle buttons laid out like the tiles; pressed = empty tile.

    Parameters
    ----------
    grid_shape : (int, int), default (3, 3)
        (rows, cols) of the grid; the spin boxes above the buttons change it.
    parent : QWidget, optional
        Parent widget.

    Attributes
    ----------
    selectionChanged : Signal(tuple)
        Emitted with the sorted tile numbers whenever the selection or grid changes.
    """

    selectionChanged = Signal(tuple)

    def __init__(self, grid_shape: tuple[int, int] = (3, 3), parent: QWidget | None = None):
        super().__init__(parent)
        self._buttons: dict[int, QPushButton] = {}
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        self.rows_spin = QSpinBox()
        self.cols_spin = QSpinBox()
        for spin in (self.rows_spin, self.cols_spin):
            spin.setRange(1, 64)
        header.addWidget(QLabel("grid"))
        header.addWidget(self.rows_spin)
        header.addWidget(QLabel("x"))
        header.addWidget(self.cols_spin)
        self.corners_button = QPushButton("Corners")
        self.clear_button = QPushButton("Clear")
        header.addWidget(self.corners_button)
        header.addWidget(self.clear_button)
        header.addStretch(1)
        layout.addLayout(header)
        self._grid = QGridLayout()
        self._grid.setSpacing(2)
        layout.addLayout(self._grid)
        self.rows_spin.setValue(int(grid_shape[0]))
        self.cols_spin.setValue(int(grid_shape[1]))
        self._rebuild()
        self.rows_spin.valueChanged.connect(self._rebuild)
        self.cols_spin.valueChanged.connect(self._rebuild)
        self.corners_button.clicked.connect(self.select_corners)
        self.clear_button.clicked.connect(lambda: self.set_selected(()))

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(rows, cols) of the grid."""
        return self.rows_spin.value(), self.cols_spin.value()

    def set_grid_shape(self, grid_shape: tuple[int, int]) -> None:
        """Show a grid of ``grid_shape`` tiles (the selection is cleared)."""
        rows, cols = tile_layout.check_grid_shape(grid_shape)
        for spin, value in ((self.rows_spin, rows), (self.cols_spin, cols)):
            spin.blockSignals(True)
            spin.setValue(value)
            spin.blockSignals(False)
        self._rebuild()

    def button(self, number: int) -> QPushButton:
        """Return the button of tile ``number`` (1-based)."""
        return self._buttons[int(number)]

    def selected(self) -> tuple[int, ...]:
        """Sorted numbers of the tiles marked empty."""
        return tuple(sorted(n for n, b in self._buttons.items() if b.isChecked()))

    def set_selected(self, numbers: Iterable[int]) -> None:
        """Mark exactly ``numbers`` as empty."""
        wanted = {int(n) for n in numbers}
        for number, button in self._buttons.items():
            button.blockSignals(True)
            button.setChecked(number in wanted)
            button.blockSignals(False)
        self._emit()

    def select_corners(self) -> None:
        """Mark the four corner tiles as empty."""
        self.set_selected(tile_layout.corner_tiles(self.grid_shape))

    def _rebuild(self) -> None:
        for button in self._buttons.values():
            self._grid.removeWidget(button)
            button.deleteLater()
        self._buttons = {}
        rows, cols = self.grid_shape
        for row in range(rows):
            for col in range(cols):
                number = tile_layout.tile_number(row, col, (rows, cols))
                button = QPushButton(str(number))
                button.setCheckable(True)
                button.setStyleSheet(_CHECKED_STYLE)
                button.setToolTip(f"tile {number}: row {row}, column {col}; pressed = empty")
                button.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
                button.toggled.connect(self._emit)
                self._grid.addWidget(button, row, col)
                self._buttons[number] = button
        self._emit()

    def _emit(self, *_args) -> None:
        self.selectionChanged.emit(self.selected())


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
