"""The core library imports without Qt, napari or magicgui (only detcal.napari may)."""

import pkgutil
import subprocess
import sys

import detcal


def _core_modules():
    return sorted(
        info.name
        for info in pkgutil.walk_packages(detcal.__path__, prefix="detcal.")
        if not info.name.startswith("detcal.napari")
    )


def test_core_modules_import_without_gui():
    modules = _core_modules()
    assert "detcal.response" in modules and "detcal.io" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in ('qtpy', 'PyQt6', 'napari', 'magicgui') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_io_imports_no_back_end_until_used():
    code = (
        "import sys, detcal.io\n"
        "print(sorted(m for m in ('dask', 'zarr', 'h5py', 'tifffile', 'numpy') "
        "if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
