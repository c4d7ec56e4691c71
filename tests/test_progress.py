"""Progress callbacks belong to their own computation; a cancel leaves no task running."""

import threading
import time

import dask
import dask.array as da
import numpy as np
import pytest
from dask.system import CPU_COUNT

from detcal.progress import (
    IO_BOUND_WORKERS,
    StepCancelled,
    compute_bound,
    compute_with_progress,
    store_with_progress,
)


class _Running:
    """Counts the tasks of one graph that are running right now, and all that ever ran."""

    def __init__(self, delay):
        self.delay = delay
        self.now = 0
        self.ran = 0
        self.lock = threading.Lock()

    def __call__(self, block):
        with self.lock:
            self.now += 1
            self.ran += 1
        time.sleep(self.delay)
        with self.lock:
            self.now -= 1
        return block


def test_reports_every_task_of_the_call_and_ends_at_total():
    seen = []
    (total,) = compute_with_progress(
        da.ones((6, 4), chunks=(1, 4)).sum(), progress=lambda d, t: seen.append((d, t))
    )
    assert total == 24
    done = [d for d, _ in seen]
    assert done == list(range(len(seen))) and seen[-1][0] == seen[-1][1] >= 6


def test_two_threads_cancel_one_the_other_completes_and_sees_only_its_own_tasks():
    slow = _Running(0.02)
    doomed = da.zeros((200, 8), chunks=(1, 8)).map_blocks(slow, dtype=float).sum()
    other = da.arange(600, chunks=10).map_blocks(_Running(0.005), dtype=int).sum()
    cancel = threading.Event()
    other_seen, outcome = [], {}

    def cancellable(done, total):
        if done >= 5:
            cancel.set()
        if cancel.is_set():
            raise StepCancelled("cancelled")

    def run_doomed():
        try:
            compute_with_progress(doomed, progress=cancellable, num_workers=2)
        except StepCancelled:
            outcome["doomed"] = "cancelled"
            outcome["running at return"] = slow.now
            outcome["ran at return"] = slow.ran

    def run_other():
        outcome["other"] = compute_with_progress(
            other, progress=lambda d, t: other_seen.append((threading.get_ident(), d, t))
        )[0]
        outcome["other thread"] = threading.get_ident()

    threads = [threading.Thread(target=run_doomed), threading.Thread(target=run_other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcome["doomed"] == "cancelled"
    assert outcome["other"] == sum(range(600))
    # the other computation's callback saw its own graph only, from its own thread
    totals = {t for _, _, t in other_seen}
    assert len(totals) == 1 and {i for i, _, _ in other_seen} == {outcome["other thread"]}
    assert [d for _, d, _ in other_seen] == list(range(totals.pop() + 1))
    # the cancelled one returned only once its running tasks had ended, and stopped early
    assert outcome["running at return"] == 0
    time.sleep(0.1)
    assert slow.ran == outcome["ran at return"] < 50


def test_store_cancel_writes_nothing_after_it_returns():
    slow = _Running(0.01)
    target = np.zeros((100, 4))
    source = da.ones((100, 4), chunks=(1, 4)).map_blocks(slow, dtype=float)

    def stop_at_ten(done, total):
        if done >= 10:
            raise StepCancelled("stop")

    with pytest.raises(StepCancelled):
        store_with_progress(source, target, progress=stop_at_ten, lock=False)
    written = target.sum()
    time.sleep(0.1)
    assert target.sum() == written and 10 <= written / 4 < 100 and slow.now == 0


def test_synchronous_scheduler_reports_too():
    seen = []
    with dask.config.set(scheduler="synchronous"):
        (value,) = compute_with_progress(da.ones(4, chunks=1).sum(), progress=lambda d, t:
                                         seen.append(d))  # fmt: skip
    assert value == 4 and seen[-1] > 0


def test_without_progress_it_is_dask_compute():
    assert compute_with_progress(da.ones(3, chunks=1).sum(), 7) == (3, 7)


def test_a_store_runs_on_two_threads_per_core_unless_a_size_is_set(threads_used, store_threads):
    def compute(source):
        compute_with_progress(source.sum())

    assert IO_BOUND_WORKERS == 2 * CPU_COUNT
    assert store_threads() == IO_BOUND_WORKERS
    assert threads_used(compute) == min(CPU_COUNT, 24)
    with dask.config.set(num_workers=3):  # as --threads 3 sets it
        assert store_threads() == threads_used(compute) == 3
    assert threads_used(lambda source: store_with_progress(
        source, np.zeros(source.shape), lock=False, num_workers=1)) == 1  # fmt: skip


def test_a_compute_bound_store_keeps_one_thread_per_core_and_a_set_size_wins(store_threads):
    with compute_bound():
        assert store_threads() == min(CPU_COUNT, 24)
    with dask.config.set(num_workers=3), compute_bound():
        assert store_threads() == 3
    assert store_threads() == IO_BOUND_WORKERS  # the setting ends with the block


def test_compute_bound_in_one_thread_leaves_a_store_in_another_alone(store_threads):
    # napari runs several docks' steps at once: one step's setting must not reach another's
    inside, release, seen = threading.Event(), threading.Event(), []

    def reconstructing():
        with compute_bound():
            inside.set()
            release.wait(10)
            seen.append(store_threads())

    worker = threading.Thread(target=reconstructing)
    worker.start()
    try:
        assert inside.wait(10)
        assert store_threads() == IO_BOUND_WORKERS
    finally:
        release.set()
        worker.join(10)
    assert seen == [min(CPU_COUNT, 24)]
