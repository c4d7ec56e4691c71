"""One place and one look for what the widgets tell the user.

* :func:`report_error`: the widget's status line in red plus a napari notification; the
  message speaks GUI (:func:`gui_message`), never a traceback.
* :func:`report_status`: the status line in the normal colour (progress, results, cancels).

The status line is a ``QLabel`` or a magicgui ``Label``; its ``detcal_state`` Qt property is
``"error"`` or ``"status"``, so tests and style sheets can tell them apart.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from napari.utils.notifications import show_error
from qtpy.QtCore import Qt
from qtpy.QtWidgets import QLabel

ERROR_COLOUR = "#e05050"
_LOG = logging.getLogger("detcal.napari")
# exceptions whose message is meant for the user (bad input, files); others are our bugs
_EXPECTED = (ValueError, TypeError, KeyError, OSError, MemoryError)
# "pass overwrite=True (--overwrite)", "overwrite=True replaces it": the control instead
_OPTION = re.compile(r"(pass )?\b([a-z][a-z_]*)=(True|False)\b(?: \(--[\w-]+\))?")
_CLI_FLAG = re.compile(r" \(--[\w-]+\)")


def _label(status: Any) -> QLabel | None:
    """Return the status line's QLabel, or None once its widget was closed (runs end later)."""
    try:
        label = getattr(status, "native", status)
        label.objectName()  # raises once the C++ object is deleted
    except RuntimeError:
        return None
    return label


def gui_message(error: BaseException | str) -> str:
    """Say an error the way a widget user acts on it.

    Command-line advice is translated ("pass overwrite=True (--overwrite) to replace it"
    becomes 'tick "Overwrite" to replace it', "overwrite=True replaces it" becomes 'ticking
    "Overwrite" replaces it'), CLI flags in brackets are dropped, an
    ``OSError`` reads "what: file", and an unexpected exception is named by its type.

    Parameters
    ----------
    error : Exception or str
        What went wrong.

    Returns
    -------
    str
        One line for the status bar.

    Examples
    --------
    >>> gui_message(FileExistsError("path /d/a.zarr exists; pass overwrite=True "
    ...                             "(--overwrite) to replace it"))
    'path /d/a.zarr exists; tick "Overwrite" to replace it'
    >>> print(gui_message("output a.zarr already exists (overwrite=True replaces it)"))
    output a.zarr already exists (ticking "Overwrite" replaces it)
    >>> gui_message(ZeroDivisionError("division by zero"))
    'unexpected error (ZeroDivisionError): division by zero'
    """
    if isinstance(error, str):
        text = error
    elif isinstance(error, OSError) and error.strerror and error.filename:
        text = f"{error.strerror}: {error.filename}"
    elif isinstance(error, KeyError) and len(error.args) == 1:
        text = str(error.args[0])
    else:
        text = str(error) or type(error).__name__
        if not isinstance(error, _EXPECTED):
            text = f"unexpected error ({type(error).__name__}): {text}"
    text = _OPTION.sub(_tick, text)
    return _CLI_FLAG.sub("", text)


def _tick(match: re.Match) -> str:
    imperative, name, value = match.groups()
    verb = "tick" if value == "True" else "untick"
    label = name.replace("_", " ").capitalize()
    return f'{verb if imperative else verb + "ing"} "{label}"'


def report_error(status: Any, error: BaseException | str, *, action: str | None = None) -> str:
    """Show an error: the status line in red and a napari notification, no traceback.

    Parameters
    ----------
    status : QLabel or magicgui Label
        The widget's status line.
    error : Exception or str
        What went wrong; an unexpected exception's traceback goes to the log only.
    action : str, optional
        What was being done ("Export"), put before the message in the notification.

    Returns
    -------
    str
        The message shown.
    """
    message = gui_message(error)
    if isinstance(error, BaseException) and not isinstance(error, _EXPECTED):
        _LOG.error("%s failed", action or "step", exc_info=error)
    label = _label(status)
    if label is not None:
        label.setTextFormat(Qt.TextFormat.PlainText)
        label.setText(message)
        label.setStyleSheet(f"color: {ERROR_COLOUR};")
        label.setProperty("detcal_state", "error")
    show_error(f"{action}: {message}" if action else message)
    return message


def report_status(status: Any, text: str) -> None:
    """Show ``text`` on the status line in the normal colour.

    Parameters
    ----------
    status : QLabel or magicgui Label
        The widget's status line.
    text : str
        What to say.
    """
    label = _label(status)
    if label is None:  # the widget was closed while its run was ending
        return
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    label.setStyleSheet("")
    label.setProperty("detcal_state", "status")
