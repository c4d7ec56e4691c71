"""Shared test fixtures."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import dask.array as da
import numpy as np
import pytest

TESTS = Path(__file__).resolve().parent


@pytest.fixture(scope="session")
def real_data() -> Path:
    """Folder of the real sample data bundled with detcal (see its SOURCES.md)."""
    from detcal.sample_data import real_data_path

    return real_data_path()


@pytest.fixture(scope="session")
def tomopy_test_data() -> Path:
    """TomoPy's own test inputs and expected outputs (see tests/data/tomopy_test/SOURCES.md)."""
    return TESTS / "data" / "tomopy_test"


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.fixture
def as_from_a_terminal():
    """``preexec_fn`` that gives a child process Ctrl-C's default action, as a terminal does.

    A shell without job control starts background jobs with SIGINT ignored, and a child
    inherits that: the Ctrl-C tests would then test nothing if the suite itself was started
    in the background (``pytest &`` in a script).
    """
    return _default_sigint


@pytest.fixture
def reads(monkeypatch):
    """Bytes of projections read from HDF5 files (a wrapped source)."""
    from detcal.io._hdf5 import H5Source

    counted = {"bytes": 0}
    real = H5Source.__getitem__

    def counting(self, index):
        out = real(self, index)
        if self.key.endswith("data"):
            counted["bytes"] += out.nbytes
        return out

    monkeypatch.setattr(H5Source, "__getitem__", counting)
    return counted


def _threads_used(run) -> int:
    """How many threads ran the 24 slow tasks that ``run(source)`` computes or stores."""
    names = set()

    def record(block):
        names.add(threading.current_thread().name)
        time.sleep(0.03)
        return block

    run(da.ones((24, 4), chunks=(1, 4)).map_blocks(record, meta=np.array((), float)))
    return len(names)


def _store(source) -> None:
    from detcal.progress import store_with_progress

    store_with_progress(source, np.zeros(source.shape), lock=False)


@pytest.fixture
def threads_used():
    """``threads_used(run)``: threads ``run(source)`` used on 24 slow chunks (its whole pool)."""
    return _threads_used


@pytest.fixture
def store_threads():
    """``store_threads()``: threads a store started here, with its default pool, runs on."""
    return lambda: _threads_used(_store)
