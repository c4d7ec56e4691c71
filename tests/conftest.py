"""Shared test fixtures."""

from __future__ import annotations

from pathlib import Path

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
