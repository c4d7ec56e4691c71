"""Dock content that scrolls when the window is shorter than the dock's controls.

Without a scroll area, Qt squeezes a tall dock's rows below their natural height on a short
screen (a laptop's, or napari's window beside another one), and the rows' text overlaps. The
area scrolls vertically only: it asks for the content's full width, so no control is hidden
behind a horizontal scroll bar.
"""

from __future__ import annotations

from qtpy.QtCore import QEvent, QObject, QSize, Qt
from qtpy.QtWidgets import QFrame, QScrollArea, QStyle, QVBoxLayout, QWidget

_SHORTEST = 200  # pixels of controls a dock shows at least before it scrolls


class _VerticalScrollArea(QScrollArea):
    """A scroll area as wide as its content needs, and as short as ``_SHORTEST``.

    The content's needs change after the area is made (controls added, a label's text set
    when a layer is picked). QScrollArea filters its widget's events; here it also passes each
    layout change on to the dock's layout, which would otherwise keep the width it first got.
    """

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if watched is self.widget() and event.type() == QEvent.Type.LayoutRequest:
            self.updateGeometry()
        return super().eventFilter(watched, event)

    def _bar_width(self) -> int:
        return self.style().pixelMetric(QStyle.PixelMetric.PM_ScrollBarExtent)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        needed = self.widget().minimumSizeHint()
        return QSize(needed.width() + self._bar_width(), min(needed.height(), _SHORTEST))

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt API)
        wanted = self.widget().sizeHint()
        return QSize(wanted.width() + self._bar_width(), wanted.height())


def scrolling_content(owner: QWidget) -> QWidget:
    """Fill ``owner`` with a vertical scroll area and return the widget to lay controls in.

    Parameters
    ----------
    owner : QWidget
        The dock widget; it must not have a layout yet.

    Returns
    -------
    QWidget
        The scrolled content: give it the dock's layout (``QVBoxLayout(content)``). It takes
        the dock's width and scrolls vertically when the dock is shorter than its controls.
    """
    content = QWidget()
    scroll = _VerticalScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    scroll.setWidget(content)
    outer = QVBoxLayout(owner)
    outer.setContentsMargins(0, 0, 0, 0)
    outer.addWidget(scroll)
    return content
