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


HEAVY = ("dask", "scipy", "skimage", "pywt", "zarr", "h5py")


def _loaded_after(code: str) -> list[str]:
    script = f"import sys\n{code}\nprint(sorted(m for m in {HEAVY!r} if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return eval(result.stdout.strip().splitlines()[-1])


def test_step_packages_and_option_modules_import_no_science():
    code = (
        "import detcal.tomo, detcal.diffraction, detcal.distortion, detcal._validate\n"
        "import detcal.tomo.options, detcal.diffraction.options"
    )
    assert _loaded_after(code) == []


def test_a_public_name_imports_its_module_on_first_use():
    assert "scipy" in _loaded_after("from detcal.tomo import recon")


# the public surface of DESIGN.md, per step package
DESIGN = {
    "tomo": ["normalize", "minus_log", "remove_outlier", "remove_stripe_fw", "remove_stripe_ti",
             "remove_stripe_sf", "retrieve_phase", "sino_360_to_180", "find_center", "recon"],
    "diffraction": ["register", "shift_image", "align", "mean_and_sem", "powder_center",
                    "pattern_center", "azimuthal_average"],
    "distortion": ["find_grid_peaks", "calibrate_distortion", "DistortionMap"],
}  # fmt: skip


def test_every_public_name_resolves_and_is_listed():
    import importlib

    for step, names in DESIGN.items():
        package = importlib.import_module(f"detcal.{step}")
        assert set(names) <= set(package.__all__) and set(names) <= set(dir(package)), step
        for name in package.__all__:
            value = getattr(package, name)
            assert callable(value) and value.__name__ == name, (step, name)
            assert value.__module__.startswith(f"detcal.{step}."), (step, name)


def test_a_function_named_like_its_module_stays_the_function():
    # importing the module detcal.tomo.recon (as detcal.tomo.preview does) binds it on the
    # package; the public name must still be the function, as with an eager import
    code = (
        "import detcal.tomo as tomo\n"
        "import detcal.tomo.preview\n"
        "from detcal.tomo import recon, normalize\n"
        "assert tomo.recon is recon and callable(recon) and recon.__name__ == 'recon'\n"
        "assert tomo.normalize is normalize and normalize.__name__ == 'normalize'\n"
        "assert tomo.stripes.__name__ == 'detcal.tomo.stripes'  # submodules on demand\n"
    )
    assert "scipy" in _loaded_after(code)
