"""Progress reporting shared by the core steps, each report bound to its own computation.

Core loops take an optional ``progress`` callable ``progress(done, total)``; the napari side
turns it into a progress bar with Cancel (``detcal.napari._background``) and the command line
into a text bar. A progress callable may raise (for example ``StepCancelled``) to stop the
work: the exception propagates out of the step and nothing is written.

Dask work reports through :func:`compute_with_progress` and :func:`store_with_progress`: the
callback is handed to the scheduler of that one call, so a computation started elsewhere (napari
slicing a layer, another widget's step) neither reports to it nor receives its cancel. On a
cancel the call returns only once the tasks already running have ended, so whatever the caller
cleans up afterwards (a temporary output) is no longer being written.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import dask
import dask.array as da
from dask import threaded
from dask.base import get_scheduler
from dask.system import CPU_COUNT

ProgressCallback = Callable[[int, int], None]

IO_BOUND_WORKERS = 2 * CPU_COUNT  # threads writing chunks when none are configured
_COMPUTE_BOUND: ContextVar[bool] = ContextVar("detcal_compute_bound", default=False)


class StepCancelled(Exception):
    """Raised by a progress callback to stop a running step."""


class _TaskCounter:
    """Scheduler callbacks of one computation, reported as ``progress(done, total)``."""

    def __init__(self, progress: ProgressCallback):
        self._progress = progress
        self.total = 0
        self.done = 0

    def start_state(self, dsk, state) -> None:
        self.total = sum(len(state[k]) for k in ("ready", "waiting", "running", "finished"))
        self.done = 0
        self._progress(0, self.total)

    def posttask(self, key, result, dsk, state, worker_id) -> None:
        self.done += 1
        self._progress(self.done, self.total)

    @property
    def callback(self) -> tuple:
        """The ``(start, start_state, pretask, posttask, finish)`` tuple dask schedulers take."""
        return (None, self.start_state, None, self.posttask, None)


@contextmanager
def compute_bound() -> Iterator[None]:
    """Within the block, stores keep one thread per CPU core, as computations do.

    For saves whose chunks are costly to compute (a reconstructed slab): threads beyond the
    cores then only hold more chunks in memory. A size configured by the caller (dask's
    ``num_workers``, ``--threads``) still wins. The setting belongs to the calling thread (a
    context variable, not dask's global configuration), so a step running beside it in
    another thread, as napari's docks do, keeps its own. Measured, a (900, 256, 1024) scan
    reconstructed to Zarr on two cores: 9.7-11.2 s and 1.07 GB peak RSS with four threads,
    9.5-11.8 s and 0.69 GB with two.

    Examples
    --------
    >>> import dask.array as da, numpy as np
    >>> with compute_bound():
    ...     store_with_progress(da.ones(4, chunks=2), np.zeros(4))
    """
    token = _COMPUTE_BOUND.set(True)
    try:
        yield
    finally:
        _COMPUTE_BOUND.reset(token)


def compute_with_progress(
    *collections: Any,
    progress: ProgressCallback | None = None,
    scheduler: Any = None,
    num_workers: int | None = None,
    io_bound: bool = False,
    **kwargs: Any,
) -> tuple:
    """Compute dask collections like :func:`dask.compute`, reporting this call's tasks only.

    Parameters
    ----------
    *collections
        Dask collections (arrays, delayed objects) and other values, as for ``dask.compute``.
    progress : callable, optional
        ``progress(done, total)`` called in the calling thread as the tasks of THIS call
        finish; it may raise (e.g. :class:`StepCancelled`) to stop the computation. None
        computes without reporting.
    scheduler : str or callable, optional
        As for ``dask.compute``; by default the configured one. With the threaded scheduler
        (the default for arrays) the call runs on a pool of its own, and when ``progress``
        raises, the tasks already running are waited for before the exception propagates.
        A distributed client reports only the start and the end.
    num_workers : int, optional
        Threads of the pool; by default dask's ``num_workers`` setting or, when it is not set,
        the CPU count.
    io_bound : bool, default False
        The tasks wait on files (reading and writing chunks): the default pool then has
        ``IO_BOUND_WORKERS`` threads, so a core is not left idle while a thread waits. Measured
        with two cores, saving a (100, 2048, 2048) uint16 Zarr to Zarr: 17-22% faster with four
        threads than with two. Stores are marked so (:func:`store_with_progress`); reductions
        that only read are not: a fit reading a Zarr gained 3%.
    **kwargs
        Passed to ``dask.compute``.

    Returns
    -------
    tuple
        The computed values, one per collection.

    Raises
    ------
    StepCancelled
        Whatever ``progress`` raises, after the running tasks have ended.

    Examples
    --------
    >>> import dask.array as da
    >>> seen = []
    >>> (total,) = compute_with_progress(da.ones(8, chunks=2).sum(), progress=lambda d, t:
    ...     seen.append((d, t)))
    >>> int(total), seen[-1][0] == seen[-1][1] > 0
    (8, True)
    """
    if num_workers is not None:
        kwargs["num_workers"] = num_workers
    schedule = get_scheduler(scheduler=scheduler) or threaded.get
    callbacks = [] if progress is None else [_TaskCounter(progress).callback]
    if schedule is threaded.get:
        workers = kwargs.pop("num_workers", None) or dask.config.get("num_workers", None)
        workers = workers or (IO_BOUND_WORKERS if io_bound else CPU_COUNT)
        pool = ThreadPoolExecutor(workers, thread_name_prefix="detcal-dask")
        try:
            return dask.compute(
                *collections,
                scheduler=lambda dsk, keys, **kw: threaded.get(
                    dsk, keys, pool=pool, callbacks=callbacks, **kw
                ),
                **kwargs,
            )
        finally:
            # on an error, a cancel or Ctrl-C the scheduler returns at once: wait for the
            # tasks already running (a chunk being written), drop the ones not yet started
            pool.shutdown(wait=True, cancel_futures=True)
    if getattr(schedule, "__module__", None) in ("dask.local", "dask.multiprocessing"):
        # dask's other local schedulers (synchronous, processes) take the callbacks as well
        return dask.compute(*collections, scheduler=schedule, callbacks=callbacks, **kwargs)
    if progress is None:
        return dask.compute(*collections, scheduler=schedule, **kwargs)
    progress(0, 1)
    result = dask.compute(*collections, scheduler=schedule, **kwargs)
    progress(1, 1)
    return result


def store_with_progress(
    sources: da.Array | Sequence[da.Array],
    targets: Any,
    *,
    progress: ProgressCallback | None = None,
    lock: Any = True,
    regions: Any = None,
    **kwargs: Any,
) -> None:
    """Store dask arrays like :func:`dask.array.store`, reporting this call's tasks only.

    Parameters
    ----------
    sources : dask.array.Array or list of them
        What to write, chunk by chunk.
    targets : array-like or list of them
        Where (anything supporting ``target[region] = block``).
    progress : callable, optional
        As in :func:`compute_with_progress`; a raise stops the store once the chunks being
        written have been written.
    lock : bool or lock, default True
        As for ``dask.array.store``.
    regions : tuple of slices or list of them, optional
        As for ``dask.array.store``.
    **kwargs
        Passed to :func:`compute_with_progress` (a store is ``io_bound``, by default with a
        pool of ``IO_BOUND_WORKERS`` threads, except inside :func:`compute_bound`).

    Examples
    --------
    >>> import numpy as np, dask.array as da
    >>> out = np.zeros(6)
    >>> store_with_progress(da.arange(6, chunks=2), out, progress=lambda d, t: None)
    >>> out.tolist()
    [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    """
    stored = da.store(sources, targets, lock=lock, regions=regions, compute=False)
    kwargs.setdefault("io_bound", not _COMPUTE_BOUND.get())
    compute_with_progress(stored, progress=progress, **kwargs)
