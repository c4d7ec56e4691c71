"""detcal.recipe: throughput of ``apply_recipe`` on a Zarr stack larger than the memory budget.

The recipe is the detector chain of issue 13: response correction (gains + dark level), then
flat-field profiles, then the hole-grid distortion correction (when ``detcal.distortion`` is
installed). The input is a uint16 (plane, row, col) OME-Zarr stack made once into
``work_dir()``: ``full`` is (384, 2048, 2048), 3 GiB raw, written as float32 (6 GiB); the
workers are limited to 4 GiB each. Three cases: dask's threads in this process, a
``LocalCluster`` of 1 worker process and one of 2 (one thread each). The note gives the
throughput in input MiB/s and the peak RSS of each worker (the table's RSS column is this
process: the client).

Run ``python benchmarks/run.py --only recipe --size full``, or this file directly for the
same three runs in one process.
"""

from __future__ import annotations

import json
import resource
import shutil
import sys
import time
from pathlib import Path

import dask.array as da
import numpy as np
from harness import Case, work_dir

from detcal import io
from detcal.flatfield import Profiles, save_profiles
from detcal.recipe import Recipe, apply_recipe

SIZES = {"quick": (16, 512, 512), "full": (384, 2048, 2048)}


def _stack(shape: tuple[int, int, int]) -> da.Array:
    """Noisy uint16 planes made lazily (a fixed noise tile plus a per-plane offset)."""
    tile = np.random.default_rng(0).poisson(800, shape[1:]).astype(np.uint16)

    def block(block_info=None):
        plane = block_info[None]["array-location"][0][0]
        return (tile + np.uint16(plane % 100))[None]

    return da.map_blocks(block, chunks=((1,) * shape[0], (shape[1],), (shape[2],)), dtype="u2")


def _distortion_file(folder: Path, plane: tuple[int, int]) -> Path | None:
    try:
        from detcal.distortion import calibrate_distortion
    except ImportError:
        return None
    from detcal.sample_data.hole_grid import make_hole_grid

    path = folder / "distortion.h5"
    if not path.exists():
        grid = make_hole_grid(shape=plane, pitch=32.0, hole_diameter=10.0, distortion=3.0)
        calibrate_distortion(grid.image, pitch=0.5).save(path)
    return path


def prepare(size: str) -> tuple[Path, Path, int]:
    """Write (once) the input stack and the recipe's calibration files; return their paths."""
    shape = SIZES[size]
    folder = work_dir() / f"recipe-{size}"
    folder.mkdir(exist_ok=True)
    source = folder / "raw.zarr"
    if not source.exists():
        io.save_array(_stack(shape), source, pyramid=False)
    rng = np.random.default_rng(1)
    np.save(folder / "gains.npy", rng.uniform(0.9, 1.1, shape[1:]))
    if not (folder / "profiles").exists():
        save_profiles(Profiles(rng.uniform(0.8, 1.2, shape[1:])), folder / "profiles")
    steps = [
        {"step": "response.correct_image", "params": {"coefficients": "gains.npy", "dark": 20}},
        {"step": "flatfield.apply_flatfield", "params": {"profiles": "profiles"}},
    ]
    distortion = _distortion_file(folder, shape[1:])
    if distortion is not None:
        steps.append({"step": "distortion.correct", "params": {"map": distortion.name}})
    recipe = folder / "recipe.json"
    recipe.write_text(json.dumps({"detcal_recipe": 1, "steps": steps}, indent=2))
    return recipe, source, int(np.prod(shape)) * 2


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run(size: str, workers: int | None) -> str:
    """Apply the recipe once (``workers`` None: local threads); return the note."""
    recipe, source, nbytes = prepare(size)
    output = recipe.parent / "out.zarr"
    shutil.rmtree(output, ignore_errors=True)
    steps = " + ".join(s.step.split(".")[0] for s in Recipe.load(recipe).steps)
    start = time.perf_counter()
    if workers is None:
        apply_recipe(recipe, source, output)
        worker_rss = ""
    else:
        from distributed import Client, LocalCluster

        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True,
                memory_limit="4GiB", dashboard_address=":0",
            ) as cluster,
            Client(cluster) as client,
        ):  # fmt: skip
            apply_recipe(recipe, source, output, scheduler=client)
            peaks = client.run(_peak_rss_mib)
        worker_rss = ", worker peak RSS " + " / ".join(f"{v:.0f}" for v in peaks.values()) + " MiB"
    seconds = time.perf_counter() - start
    shutil.rmtree(output, ignore_errors=True)
    rate = nbytes / 2**20 / seconds
    return f"{steps}: {nbytes / 2**30:.2f} GiB in, {rate:.0f} MiB/s{worker_rss}"


def cases(size: str) -> list[Case]:
    """The three runs: local threads, 1 worker process, 2 worker processes."""
    return [
        Case(f"recipe apply, {label}", lambda: None, lambda _, w=workers: run(size, w))
        for label, workers in (("threads", None), ("1 worker", 1), ("2 workers", 2))
    ]


if __name__ == "__main__":
    chosen = sys.argv[1] if len(sys.argv) > 1 else "quick"
    for label, workers in (("threads", None), ("1 worker", 1), ("2 workers", 2)):
        begin = time.perf_counter()
        note = run(chosen, workers)
        print(f"{label:10s} {time.perf_counter() - begin:7.1f} s  {note}", flush=True)
    print(f"client peak RSS {_peak_rss_mib():.0f} MiB")
