"""What every computing command shares: a progress bar, ``--quiet`` and ``--threads``.

On a terminal the bar is redrawn in place on one line, with the rate and the time left;
when stderr is a log file or a pipe it writes a plain line every 10% instead, and nothing
with ``--quiet``. ``--threads N`` bounds dask's local workers for the run.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import time
from collections.abc import Callable, Iterator

_state = {"quiet": False, "open_line": False}


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """Add ``-q/--quiet`` and ``--threads N`` to a command that computes.

    :func:`detcal.cli.main` applies them (:func:`common_settings`) while the command runs.
    """
    group = parser.add_argument_group("run")
    group.add_argument("-q", "--quiet", action="store_true", help="print no progress")
    group.add_argument(
        "--threads",
        type=_positive_int,
        metavar="N",
        help="worker threads for the computation (default: one per CPU core, two per core "
        "while writing files)",
    )


@contextlib.contextmanager
def common_settings(args: argparse.Namespace) -> Iterator[None]:
    """Apply ``--quiet`` and ``--threads`` for the duration of one command (absent: no-op).

    The settings are undone afterwards, so a later command in the same process (a script or
    a test calling :func:`detcal.cli.main` again) starts from the defaults.
    """
    quiet = _state["quiet"]
    _state["quiet"] = bool(getattr(args, "quiet", False))
    threads = getattr(args, "threads", None)
    try:
        if threads:
            import dask

            with dask.config.set(scheduler="threads", num_workers=int(threads)):
                yield
        else:
            yield
    finally:
        _state["quiet"] = quiet


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def terminal_progress(
    label: str, *, stream=None, interactive: bool | None = None
) -> Callable[[int, int], None] | None:
    """Return a ``progress(done, total)`` that reports on stderr, or None with ``--quiet``.

    Parameters
    ----------
    label : str
        What is being done, shown first (``"convert"``).
    stream : file-like, optional
        Where to write (default ``sys.stderr``).
    interactive : bool, optional
        Draw a bar redrawn in place; default: when ``stream`` is a terminal. Otherwise one
        plain line per 10% (and at the end), so a log file stays readable.

    Returns
    -------
    callable or None
        The progress callback, or None when ``--quiet`` was given.

    Examples
    --------
    >>> import io
    >>> log = io.StringIO()
    >>> report = terminal_progress("convert", stream=log, interactive=False)
    >>> for done in range(5):
    ...     report(done, 4)
    >>> log.getvalue().splitlines()[-1].startswith("convert: 100% 4/4")
    True
    """
    if _state["quiet"]:
        return None
    out = sys.stderr if stream is None else stream
    tty = bool(getattr(out, "isatty", lambda: False)()) if interactive is None else interactive
    start = time.monotonic()
    last = {"step": -1, "time": 0.0}

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        fraction = min(1.0, done / total) if total else 1.0
        finished = total > 0 and done >= total
        if tty:
            if not finished and now - last["time"] < 0.1:
                return
        else:
            step = int(fraction * 10)
            if step == last["step"] or (step == 10 and not finished):
                return
            last["step"] = step
        last["time"] = now
        elapsed = now - start
        text = f"{label}: {int(100 * fraction):3d}% {done}/{total}"
        if done and elapsed > 0:
            text += f" {done / elapsed:.1f}/s"
            if not finished:
                text += f" ETA {_clock(elapsed * (total - done) / done)}"
            else:
                text += f" in {_clock(elapsed)}"
        if tty:
            bar = "#" * int(20 * fraction)
            out.write(f"\r{label}: [{bar:<20}]{text[len(label) + 1 :]}\033[K")
            _state["open_line"] = not finished
            if finished:
                out.write("\n")
        else:
            out.write(text + "\n")
        out.flush()

    return report


def end_line(stream=None) -> None:
    """End a progress bar left open on the terminal (before printing an error)."""
    if _state["open_line"]:
        (sys.stderr if stream is None else stream).write("\n")
        _state["open_line"] = False
