"""A clickable picture of a tile grid, numbered in "inverted N" acquisition order.

Each tile is a toggle button showing its 1-based number (tile 1 top-left, numbers running down
each column, see :mod:`detcal.flatfield.tiles`); a pressed button marks the tile as empty, so its
planes are sampled for the flat-field.
"""

from __future__ import annotations

from collections.abc import Iterable

from qtpy.QtCore import Signal
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
