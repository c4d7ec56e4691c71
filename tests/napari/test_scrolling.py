"""Docks that scroll vertically: as wide as their controls need, also after a change."""

from qtpy.QtWidgets import QLabel, QVBoxLayout, QWidget

from detcal.napari._scrolling import scrolling_content


def test_the_dock_asks_for_the_width_of_controls_widened_after_it_was_laid_out(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    layout = QVBoxLayout(scrolling_content(owner))
    label = QLabel("short")
    layout.addWidget(label)
    owner.show()
    qtbot.waitExposed(owner)
    before = owner.minimumSizeHint().width()
    label.setText("a label whose text is set once a layer is picked, much wider than before")
    qtbot.wait(50)  # the layout request reaches the scroll area
    needed = label.minimumSizeHint().width()
    assert before < needed
    assert owner.minimumSizeHint().width() >= needed


def test_a_tall_dock_scrolls_instead_of_asking_for_its_whole_height(qtbot):
    owner = QWidget()
    qtbot.addWidget(owner)
    layout = QVBoxLayout(scrolling_content(owner))
    for i in range(60):
        layout.addWidget(QLabel(f"row {i}"))
    owner.show()
    qtbot.waitExposed(owner)
    content_height = layout.minimumSize().height()
    assert content_height > 600
    assert owner.minimumSizeHint().height() <= 220
