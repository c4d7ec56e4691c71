"""detcal.diffraction: centre, azimuthal average, registration and streaming mean/SEM vs peers.

1. ``diffraction powder_center``: a 2048 x 2048 powder pattern (make_powder, Poisson noise)
   whose centre is 10% off the image centre, behind a bright beam block + arm covering ~10% of
   the image; ours = ``powder_center``, peer = ``skued.autocenter`` (mask True = valid). Notes
   give each one's error against the exact centre. Target: >= 5x faster, error <= 0.5 px.
2. ``diffraction azimuthal``: the same pattern; ours = ``azimuthal_average`` (1 px bins),
   peers = ``skued.azimuthal_average`` (centre given as (col, row)) and pyFAI ``integrate1d``
   (histogram, no solid angle/polarisation; integrator set up inside the timing).
3. ``diffraction register``: two 1024 x 1024 patterns of a drifting series under a bright
   fixed beam block; ours = ``register`` (sub-pixel), peer = scikit-image's masked
   ``phase_cross_correlation`` (integer only). Notes give the error against the true shift.
4. ``diffraction mean_and_sem``: a (256, 1024, 1024) float32 Zarr series (1 GiB; 8-plane
   chunks) read once; ours = ``mean_and_sem``, peer = plain dask ``mean`` and ``std`` computed
   together. The peak RSS columns show the memory used.
"""

from __future__ import annotations

import importlib
import importlib.util

import dask
import dask.array as da
import numpy as np
from harness import Case, work_dir

from detcal.diffraction import azimuthal_average, mean_and_sem, powder_center, register
from detcal.io import open_array, save_array
from detcal.sample_data.powder import make_powder, make_powder_series

SIDES = {"quick": 512, "full": 2048}
REGISTER_SIDES = {"quick": 256, "full": 1024}
SERIES_SHAPES = {"quick": (32, 256, 256), "full": (256, 1024, 1024)}


def _warm_up() -> None:
    """Import the peers and run each function once on a tiny input, outside the timing."""
    for name in ("skued", "pyFAI.integrator.azimuthal"):
        if importlib.util.find_spec(name.split(".")[0]) is not None:
            importlib.import_module(name)
    tiny = make_powder(shape=(64, 64), noise=False)
    powder_center(tiny.image, mask=tiny.mask)
    register(tiny.image, tiny.image, mask=tiny.mask)
    azimuthal_average(tiny.image, tiny.center, mask=tiny.mask)


def _pattern_setup(size: str):
    _warm_up()
    side = SIDES[size]
    folder = work_dir() / f"diffraction_powder_{side}"
    center = (0.6 * side + 0.3, 0.4 * side - 0.4)  # 10% of the image off its centre
    if not (folder / "image.npy").exists():
        folder.mkdir(exist_ok=True)
        sample = make_powder(shape=(side, side), center=center, seed=1)
        rows, cols = np.indices((side, side))
        disc = np.hypot(rows - center[0], cols - center[1]) < 0.15 * side
        arm = (np.abs(rows - center[0]) < 0.03 * side) & (cols > center[1])
        mask = sample.mask | disc | arm
        image = sample.image.copy()
        image[mask] = 3 * image.max()  # a bright block: it must not lock the answer
        np.save(folder / "image.npy", image)
        np.save(folder / "mask.npy", mask)
    return {
        "image": np.load(folder / "image.npy"),
        "mask": np.load(folder / "mask.npy"),
        "center": center,
    }


def _error(found, truth) -> str:
    return f"error {np.hypot(*np.subtract(found, truth)):.3f} px"


def _center_ours(inputs) -> str:
    found = powder_center(inputs["image"], mask=inputs["mask"])
    return f"{_error(found, inputs['center'])}, mask {inputs['mask'].mean():.1%} of the image"


def _center_peer(inputs) -> str:
    import skued

    found = skued.autocenter(inputs["image"], mask=~inputs["mask"])
    return _error(found, inputs["center"])


def _azimuthal_ours(inputs) -> str:
    radius, _ = azimuthal_average(inputs["image"], inputs["center"], mask=inputs["mask"])
    return f"{radius.size} bins"


def _azimuthal_skued(inputs) -> str:
    import skued

    row, col = inputs["center"]
    radius, _ = skued.azimuthal_average(inputs["image"], (col, row), mask=~inputs["mask"])
    return f"{radius.size} bins"


def _azimuthal_pyfai(inputs) -> str:
    from pyFAI.integrator.azimuthal import AzimuthalIntegrator

    row, col = inputs["center"]
    integrator = AzimuthalIntegrator(
        dist=1.0, poni1=(row + 0.5) * 1e-3, poni2=(col + 0.5) * 1e-3, pixel1=1e-3, pixel2=1e-3
    )
    npt = int(np.hypot(*inputs["image"].shape))
    result = integrator.integrate1d(
        inputs["image"], npt, unit="r_mm", radial_range=(0, npt),
        mask=inputs["mask"].astype(np.int8), correctSolidAngle=False,
        polarization_factor=None, method=("no", "histogram", "cython"),
    )  # fmt: skip
    return f"{result.radial.size} bins (histogram)"


def _register_setup(size: str):
    _warm_up()
    side = REGISTER_SIDES[size]
    series = make_powder_series(n=2, shape=(side, side), max_shift=0.02 * side, seed=4)
    images = series.images.copy()
    images[:, series.mask] = 3 * images.max()
    return {"images": images, "mask": series.mask, "truth": -series.shifts[1]}


def _register_ours(inputs) -> str:
    found = register(inputs["images"][1], inputs["images"][0], mask=inputs["mask"])
    return f"error {np.abs(np.subtract(found, inputs['truth'])).max():.3f} px"


def _register_peer(inputs) -> str:
    from skimage.registration import phase_cross_correlation

    valid = ~inputs["mask"]
    found = phase_cross_correlation(
        inputs["images"][0], inputs["images"][1], reference_mask=valid, moving_mask=valid
    )[0]
    return f"error {np.abs(np.subtract(found, inputs['truth'])).max():.3f} px (integer)"


def _series_setup(size: str):
    shape = SERIES_SHAPES[size]
    path = work_dir() / f"diffraction_series_{'x'.join(map(str, shape))}.zarr"
    if not path.exists():
        noise = da.random.default_rng(0).standard_normal(shape, chunks=(8, *shape[1:]))
        series = (1000 + 5 * noise).astype(np.float32)
        with dask.config.set(scheduler="threads", num_workers=2):
            save_array(series, path, pyramid=False)
    return {"path": path}


def _series_ours(inputs) -> str:
    series = open_array(inputs["path"])
    with dask.config.set(scheduler="threads", num_workers=2):
        mean, sem = mean_and_sem(series)
    gib = series.nbytes / 2**30
    return f"{gib:.2f} GiB, chunks {series.chunksize}; median SEM {np.median(sem):.4f}"


def _series_peer(inputs) -> str:
    series = open_array(inputs["path"])
    with dask.config.set(scheduler="threads", num_workers=2):
        mean, std = da.compute(series.mean(axis=0), series.std(axis=0, ddof=1))
    return f"median SEM {np.median(std / np.sqrt(series.shape[0])):.4f}"


def cases(size: str) -> list[Case]:
    """The diffraction benchmarks at ``size`` ("quick" or "full")."""
    side, reg = SIDES[size], REGISTER_SIDES[size]
    series = "x".join(map(str, SERIES_SHAPES[size]))
    pattern = lambda: _pattern_setup(size)  # noqa: E731
    return [
        Case(f"diffraction powder_center {side}x{side}", pattern, _center_ours,
             peer_name="skued.autocenter", peer=_center_peer, peer_import="skued"),
        Case(f"diffraction azimuthal {side}x{side}", pattern, _azimuthal_ours,
             peer_name="skued.azimuthal_average", peer=_azimuthal_skued, peer_import="skued"),
        Case(f"diffraction azimuthal {side}x{side} (pyFAI)", pattern, _azimuthal_ours,
             peer_name="pyFAI integrate1d", peer=_azimuthal_pyfai, peer_import="pyFAI"),
        Case(f"diffraction register {reg}x{reg}", lambda: _register_setup(size), _register_ours,
             peer_name="skimage masked phase_cross_correlation", peer=_register_peer,
             peer_import="skimage"),
        Case(f"diffraction mean_and_sem Zarr {series} float32", lambda: _series_setup(size),
             _series_ours, peer_name="dask mean + std", peer=_series_peer),
    ]  # fmt: skip
