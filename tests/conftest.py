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
