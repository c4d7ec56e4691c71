"""Progress reporting shared by the core steps.

Core loops take an optional ``progress`` callable ``progress(done, total)``; the napari side
turns it into a progress bar with Cancel (``detcal.napari._background``) and the command line
into a text bar. A progress callable may raise (for example ``StepCancelled``) to stop the
work: the exception propagates out of the step and nothing is written.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from dask.callbacks import Callback

ProgressCallback = Callable[[int, int], None]


class StepCancelled(Exception):
    """Raised by a progress callback to stop a running step."""


class _DaskTaskProgress(Callback):
    """Report finished dask tasks as ``progress(done, total)``."""

    def __init__(self, progress: ProgressCallback):
        super().__init__()
        self._progress = progress
        self._total = 0
        self._done = 0

    def _start_state(self, dsk, state):
        self._total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self._done = 0
        self._progress(0, self._total)

    def _posttask(self, key, result, dsk, state, worker_id):
        self._done += 1
        self._progress(self._done, self._total)


@contextlib.contextmanager
def dask_progress(progress: ProgressCallback | None) -> Iterator[None]:
    """Report the progress of dask computations run in this block (local schedulers).

    Parameters
    ----------
    progress : callable or None
        ``progress(done, total)`` called as tasks finish; None reports nothing.

    Examples
    --------
    >>> import dask.array as da
    >>> seen = []
    >>> with dask_progress(lambda d, t: seen.append((d, t))):
    ...     _ = da.ones(4, chunks=2).sum().compute()
    >>> seen[-1][0] == seen[-1][1]
    True
    """
    if progress is None:
        yield
        return
    with _DaskTaskProgress(progress):
        yield


def text_progress(label: str) -> ProgressCallback:
    """Return a progress callable that draws a one-line text bar on stderr.

    Parameters
    ----------
    label : str
        Text shown before the bar.

    Returns
    -------
    callable
        ``progress(done, total)``.
    """
    import sys

    last = [-1]

    def report(done: int, total: int) -> None:
        percent = int(100 * done / total) if total else 100
        if percent == last[0]:
            return
        last[0] = percent
        end = "\n" if done >= total else ""
        sys.stderr.write(f"\r{label}: {percent:3d}%{end}")
        sys.stderr.flush()

    return report
