"""detcal.response: fit speed vs detectorcal, smoothing accuracy, out-of-core fit and correct.

1. ``response fit``: a synthetic (50, 1024, 1024) float32 beam sweep (make_sweep, cached as
   .npy); ours = ``fit_response``; peer = ``detectorcal.fit_response`` 0.0.1 on the same
   arrays. Both gain maps are saved under work_dir(); the peer's note compares them. Target:
   at least 20x faster, gains within 1e-3 relative where both are defined.
2. ``response gaussian``: smoothing the same 50 planes with sigma 50; ours = ``gaussian_smooth``
   (low-rank spectral), peer = ``scipy.ndimage.gaussian_filter(mode="nearest", truncate=4)``
   plane by plane; the peer's note gives our error relative to SciPy on plane 0.
3. ``response fit Zarr``: ``fit_response`` of a (256, 1024, 1024) uint16 Zarr sweep (8-plane
   chunks, out of core) against a plain dask read + sum of the same Zarr, both on dask's
   threaded scheduler (2 threads), page cache warm, each side the best of three runs (the
   setup fits a tiny sweep first, so numba's compiled loop is loaded untimed). Target: ours
   >= 0.5x the plain read's throughput.
4. ``response fit Zarr, busy machine``: the same with a CPU-burning process pinned to one of
   the cores (``os.sched_setaffinity``) beside each side.
5. ``response out-of-core``: a uint16 OME-Zarr sweep, 1024 x 1024 planes, 4 GiB at "full"
   (2048 planes), made lazily once; fit, then correct the whole stack Zarr -> float32 OME-Zarr
   (threaded scheduler, 2 threads), 8-plane chunks; the peak RSS column shows the memory used.
6. ``response correct Zarr->Zarr``: ``correct_image`` (gains, dark, flat) streamed from a
   (256, 1024, 1024) uint16 Zarr to Zarr with ``save_array``; peer = a plain dask copy of the
   same data cast to float32 through the same ``save_array``; each side the best of three
   saves (the time of the save alone). Target: ours >= 0.9x the copy.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import time

import dask
import dask.array as da
import numpy as np
from harness import Case, best_of, work_dir

from detcal.filters.gaussian import gaussian_smooth
from detcal.io import open_array, save_array
from detcal.response import correct_image, fit_response
from detcal.sample_data.sweep import make_sweep

FIT_SHAPES = {"quick": (6, 128, 128), "full": (50, 1024, 1024)}
BIG_SHAPES = {"quick": (32, 256, 256), "full": (2048, 1024, 1024)}
COPY_SHAPES = {"quick": (16, 256, 256), "full": (256, 1024, 1024)}
CHUNK_PLANES = 8


def _name(shape) -> str:
    return "x".join(map(str, shape))


# ---------------------------------------------------------------- 1 and 2: in-memory sweep


def _fit_setup(size: str):
    shape = FIT_SHAPES[size]
    folder = work_dir() / f"response_sweep_{_name(shape)}"
    if not (folder / "volume.npy").exists():
        folder.mkdir(exist_ok=True)
        sample = make_sweep(shape=shape, seed=0)
        np.save(folder / "dark.npy", sample.dark)
        np.save(folder / "gains_true.npy", sample.gains)
        np.save(folder / "volume.npy", sample.volume.astype(np.float32))
    return {
        "folder": folder,
        "volume": np.load(folder / "volume.npy"),
        "dark": np.load(folder / "dark.npy"),
        "truth": np.load(folder / "gains_true.npy"),
    }


def _fit_ours(inputs) -> str:
    gains = fit_response(inputs["volume"], dark=inputs["dark"])
    np.save(inputs["folder"] / "gains_ours.npy", gains)
    corr = np.corrcoef(gains.ravel(), inputs["truth"].ravel())[0, 1]
    return f"corr with truth {corr:.4f}"


def _fit_peer(inputs) -> str:
    import detectorcal

    gains = np.asarray(detectorcal.fit_response(inputs["volume"], dark=inputs["dark"]))
    np.save(inputs["folder"] / "gains_detectorcal.npy", gains)
    corr = np.corrcoef(gains.ravel(), inputs["truth"].ravel())[0, 1]
    note = f"corr with truth {corr:.4f}"
    ours_path = inputs["folder"] / "gains_ours.npy"
    if ours_path.exists():
        ours = np.load(ours_path)
        both = np.isfinite(ours) & np.isfinite(gains)
        rel = np.abs(ours[both] / gains[both] - 1)
        note += (
            f"; |ours/detectorcal - 1| median {np.median(rel):.1e}, max {rel.max():.1e} "
            f"on {both.sum()} pixels"
        )
    return note


def _gauss_ours(inputs) -> str:
    smoothed = gaussian_smooth(inputs["volume"], 50.0)
    np.save(inputs["folder"] / "smoothed_plane0_ours.npy", smoothed[0])
    return f"{smoothed.shape[0]} planes, sigma 50"


def _gauss_peer(inputs) -> str:
    from scipy import ndimage

    volume = inputs["volume"]
    out = np.empty_like(volume)
    for k in range(volume.shape[0]):
        out[k] = ndimage.gaussian_filter(volume[k], 50.0, mode="nearest", truncate=4.0)
    ours_path = inputs["folder"] / "smoothed_plane0_ours.npy"
    if not ours_path.exists():
        return ""
    ref = ndimage.gaussian_filter(volume[0].astype(np.float64), 50.0, mode="nearest", truncate=4)
    err = np.abs(np.load(ours_path) - ref).max() / np.abs(ref).max()
    return f"ours vs scipy (float64) plane 0: max error {err:.1e} of max"


# ---------------------------------------------------------------- 3 and 4: Zarr on disk


def _lazy_sweep(shape) -> tuple[da.Array, np.ndarray, np.ndarray]:
    """A uint16 sweep made block by block: broad beam drifting across, power ramping."""
    nz, rows, cols = shape
    rng = np.random.default_rng(0)
    response = (1 + 0.05 * rng.standard_normal((rows, cols))).astype(np.float32)
    dark = (100 + 3 * rng.standard_normal((rows, cols))).astype(np.float32)
    u = (np.arange(rows) + 0.5) / rows - 0.5
    v = (np.arange(cols) + 0.5) / cols - 0.5

    def block(block_info=None):
        start, stop = block_info[None]["array-location"][0]
        noise = np.random.default_rng(start)
        out = np.empty((stop - start, rows, cols), np.uint16)
        for i, k in enumerate(range(start, stop)):
            centre = (k % 64) / 63 - 0.5
            power = 2000 + 38000 * ((k * 37) % 64) / 63
            beam = power * (1 - 0.1 * (u[:, None] ** 2 + (v[None, :] - centre) ** 2))
            signal = response * beam
            signal += np.sqrt(signal / 32) * noise.standard_normal((rows, cols), np.float32)
            out[i] = np.clip(signal + dark, 0, 65535)
        return out

    chunks = (CHUNK_PLANES, rows, cols)
    volume = da.map_blocks(block, chunks=da.core.normalize_chunks(chunks, shape), dtype="u2")
    return volume, dark, response


def _zarr_setup(shape):
    path = work_dir() / f"response_sweep_{_name(shape)}.zarr"
    dark_path = work_dir() / f"response_dark_{_name(shape[1:])}.npy"
    if not path.exists():
        volume, dark, _ = _lazy_sweep(shape)
        with dask.config.set(scheduler="threads", num_workers=2):
            save_array(volume, path)
        np.save(dark_path, dark)
    return path, dark_path


@contextlib.contextmanager
def _busy_core(busy: bool):
    """Keep one core busy with a CPU-burning process (pinned to it) while the block runs."""
    if not busy:
        yield
        return
    code = "import os; os.sched_setaffinity(0, {0})\nwhile True: pass"
    burner = subprocess.Popen([sys.executable, "-c", code])
    try:
        time.sleep(0.5)  # spinning before the timing starts
        yield
    finally:
        burner.kill()
        burner.wait()


def _read_setup(size: str):
    path, dark_path = _zarr_setup(COPY_SHAPES[size])
    open_array(path).sum().compute()  # imports and page cache warm for both sides
    counts = np.random.default_rng(0).integers(1000, 2000, (4, 64, 64), dtype=np.uint16)
    tiny = da.from_array(counts, chunks=(2, 64, 64))
    fit_response(tiny, dark=100.0)  # the compiled loop loaded (numba's cache), untimed
    return {"path": path, "dark": np.load(dark_path)}


def _best_of_three(work, busy: bool) -> tuple[str, float]:
    """Time ``work()`` three times (busy core spinning throughout); note the fastest."""
    with _busy_core(busy), dask.config.set(scheduler="threads", num_workers=2):
        nbytes, best, _ = best_of(work, 3)
    note = f"best of 3: {nbytes / 2**20 / best:.0f} MiB/s; load {os.getloadavg()[0]:.1f}"
    return note, best


def _fit_zarr(inputs, busy: bool) -> tuple[str, float]:
    sweep = open_array(inputs["path"])

    def work() -> int:
        fit_response(sweep, dark=inputs["dark"])
        return sweep.nbytes

    return _best_of_three(work, busy)


def _read_zarr(inputs, busy: bool) -> tuple[str, float]:
    sweep = open_array(inputs["path"])

    def work() -> int:
        sweep.sum(axis=0, dtype=np.float64).compute()
        return sweep.nbytes

    return _best_of_three(work, busy)


def _big_setup(size: str):
    path, dark_path = _zarr_setup(BIG_SHAPES[size])
    out = work_dir() / "response_big_corrected.zarr"
    shutil.rmtree(out, ignore_errors=True)
    return {"path": path, "dark": np.load(dark_path), "out": out}


def _big_ours(inputs) -> str:
    sweep = open_array(inputs["path"], chunks=(CHUNK_PLANES, -1, -1))
    start = time.perf_counter()
    with dask.config.set(scheduler="threads", num_workers=2):
        gains = fit_response(sweep, dark=inputs["dark"])
        fitted = time.perf_counter() - start
        corrected = correct_image(sweep, gains, dark=inputs["dark"])
        save_array(corrected, inputs["out"], overwrite=True)
    gib = sweep.nbytes / 2**30
    total = time.perf_counter() - start
    shutil.rmtree(inputs["out"], ignore_errors=True)
    return (
        f"{gib:.1f} GiB uint16 {sweep.shape}: fit {fitted:.0f} s ({gib * 1024 / fitted:.0f} "
        f"MiB/s), correct->Zarr {total - fitted:.0f} s ({gib * 1024 / (total - fitted):.0f} "
        "MiB/s in)"
    )


def _copy_setup(size: str):
    shape = COPY_SHAPES[size]
    path, dark_path = _zarr_setup(shape)
    dark = np.load(dark_path)
    flat = dark + 30000 * np.ones(shape[1:], np.float32)
    gains = np.full(shape[1:], 1.0, np.float32)
    out = work_dir() / "response_copy_out.zarr"
    shutil.rmtree(out, ignore_errors=True)
    return {"path": path, "dark": dark, "flat": flat, "gains": gains, "out": out}


def _best_save(inputs, make) -> tuple[str, float]:
    """Save ``make(image)`` three times (threaded scheduler, 2 threads); note the fastest."""
    with dask.config.set(scheduler="threads", num_workers=2):
        image = open_array(inputs["path"])
        out = make(image)  # lazy: built once, saved three times
        _, best, _ = best_of(lambda: save_array(out, inputs["out"], overwrite=True), 3)
    shutil.rmtree(inputs["out"], ignore_errors=True)
    return f"best of 3: {image.nbytes / 2**20 / best:.0f} MiB/s of uint16 input", best


def _copy_ours(inputs) -> tuple[str, float]:
    return _best_save(
        inputs,
        lambda image: correct_image(
            image, inputs["gains"], dark=inputs["dark"], flat=inputs["flat"]
        ),
    )


def _copy_peer(inputs) -> tuple[str, float]:
    return _best_save(inputs, lambda image: image.astype(np.float32))


def cases(size: str) -> list[Case]:
    """The response benchmarks at ``size`` ("quick" or "full")."""
    fit_shape = _name(FIT_SHAPES[size])
    return [
        Case(
            f"response fit {fit_shape} float32",
            lambda: _fit_setup(size),
            _fit_ours,
            peer_name="detectorcal 0.0.1",
            peer=_fit_peer,
            peer_import="detectorcal",
        ),
        Case(
            f"response gaussian sigma 50 {fit_shape}",
            lambda: _fit_setup(size),
            _gauss_ours,
            peer_name="scipy.ndimage",
            peer=_gauss_peer,
            peer_import="scipy",
        ),
        Case(
            f"response fit Zarr {_name(COPY_SHAPES[size])} uint16",
            lambda: _read_setup(size),
            lambda inputs: _fit_zarr(inputs, busy=False),
            peer_name="dask read + sum (same Zarr)",
            peer=lambda inputs: _read_zarr(inputs, busy=False),
            rounds=3,
        ),
        Case(
            f"response fit Zarr {_name(COPY_SHAPES[size])} uint16, one core busy",
            lambda: _read_setup(size),
            lambda inputs: _fit_zarr(inputs, busy=True),
            peer_name="dask read + sum, one core busy",
            peer=lambda inputs: _read_zarr(inputs, busy=True),
            rounds=3,
        ),
        Case(
            f"response out-of-core fit+correct {_name(BIG_SHAPES[size])} uint16 Zarr",
            lambda: _big_setup(size),
            _big_ours,
        ),
        Case(
            f"response correct Zarr->Zarr {_name(COPY_SHAPES[size])} uint16",
            lambda: _copy_setup(size),
            _copy_ours,
            peer_name="dask copy (astype float32, save_array)",
            peer=_copy_peer,
            rounds=3,
        ),
    ]
