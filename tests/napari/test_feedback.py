"""Errors shown one way in every widget: a red status line plus a napari notification, in GUI
words, without a traceback; status messages in the normal colour."""

import pytest
from magicgui.widgets import Label
from napari.utils.notifications import NotificationSeverity, notification_manager
from qtpy.QtWidgets import QLabel

from detcal.napari._feedback import ERROR_COLOUR, gui_message, report_error, report_status


@pytest.fixture
def notes():
    seen = []
    notification_manager.notification_ready.connect(seen.append)
    yield seen
    notification_manager.notification_ready.disconnect(seen.append)


@pytest.mark.parametrize("status", [QLabel, Label])
def test_report_error_is_a_red_line_and_a_notification(qtbot, notes, status):
    status = status()
    label = getattr(status, "native", status)
    shown = report_error(status, ValueError("image: expected 2-D, got <3-D>"), action="Correct")
    assert shown == label.text() == "image: expected 2-D, got <3-D>"  # plain text, not HTML
    assert ERROR_COLOUR in label.styleSheet() and label.property("detcal_state") == "error"
    (note,) = [n for n in notes if n.severity == NotificationSeverity.ERROR]
    assert note.message == "Correct: image: expected 2-D, got <3-D>"
    assert "Traceback" not in note.message
    report_status(status, "corrected (lazy)")
    assert label.text() == "corrected (lazy)" and label.styleSheet() == ""
    assert label.property("detcal_state") == "status"


def test_an_unexpected_exception_is_named_not_traced(qtbot, notes, caplog):
    status = QLabel()
    report_error(status, ZeroDivisionError("division by zero"), action="Fit")
    assert status.text() == "unexpected error (ZeroDivisionError): division by zero"
    assert "Traceback" not in status.text()
    assert "Fit failed" in caplog.text  # the traceback goes to the log for a bug report


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("path 'a.zarr' exists; pass overwrite=True (--overwrite) to replace it",
         "path 'a.zarr' exists; tick \"Overwrite\" to replace it"),
        ("output 'a.zarr' already exists (overwrite=True replaces it)",
         "output 'a.zarr' already exists (ticking \"Overwrite\" replaces it)"),
        ("flat_dark=False is needed (--no-flat-dark)", 'unticking "Flat dark" is needed'),
        (FileNotFoundError(2, "No such file or directory", "/d/x.tif"),
         "No such file or directory: /d/x.tif"),
        (KeyError("exchange/data"), "exchange/data"),
    ],
)  # fmt: skip
def test_gui_message_speaks_gui(raw, shown):
    assert gui_message(raw) == shown


def test_a_run_ending_after_its_widget_closed_still_notifies(qtbot, notes):
    """A dock closed while its run finishes: the status line is gone, nothing raises."""

    status = QLabel()
    deleted = []
    status.destroyed.connect(lambda *_: deleted.append(True))
    status.deleteLater()
    qtbot.waitUntil(lambda: bool(deleted), timeout=5000)
    report_status(status, "Reconstruct slice: cancelled")
    assert report_error(status, ValueError("late")) == "late"
    assert [n.message for n in notes if n.severity == NotificationSeverity.ERROR] == ["late"]
