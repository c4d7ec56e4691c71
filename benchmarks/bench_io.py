"""detcal.io: open a large Zarr and show its first plane; save_array throughput.

1. ``io open + first plane``: a (200, 2048, 2048) uint16 OME-Zarr (1.6 GB, written once into
   work_dir()); ours = ``open_array`` + compute plane 0; peer = ``zarr.open_array`` on level 0
   + read plane 0. Both start with the chunk files in the OS cache and dask's scheduler imported
   (as in a running napari).
2. ``io save_array``: a lazily generated noisy float32 stack of several GB (6.4 GB at
   ``full``) saved with ``save_array`` (OME-Zarr with its pyramid, temporary sibling + rename)
   against a plain ``dask.array.to_zarr`` of the same array (one level, Zarr's default codec,
   written in place). A third case saves level 0 only (``pyramid=False``): the cost of
   streaming + atomic rename alone. Figures: docs/benchmarks.md; the README quotes only what
   held on the ``full`` size.
"""

from __future__ import annotations

import shutil
import time

import dask.array as da
import numpy as np
import zarr
from harness import Case, work_dir

from detcal import io

SIZES = {"quick": (16, 1024, 2048), "full": (200, 2048, 2048)}
SAVE_SIZES = {"quick": (16, 1024, 2048), "full": (400, 2048, 2048)}  # float32: 6.4 GB at full


def _stack(shape: tuple[int, int, int], dtype: str = "u2") -> da.Array:
    """Noisy planes made lazily (a fixed Poisson noise tile plus a per-plane offset)."""
    tile = np.random.default_rng(0).poisson(800, shape[1:]).astype(dtype)

    def block(block_info=None):
        plane = block_info[None]["array-location"][0][0]
        return (tile + tile.dtype.type(plane % 1000))[None]

    return da.map_blocks(block, chunks=((1,) * shape[0], (shape[1],), (shape[2],)), dtype=dtype)


def _mib_per_s(nbytes: int, seconds: float) -> str:
    return f"{nbytes / 2**20 / seconds:.0f} MiB/s"


def _open_setup(size: str):
    shape = SIZES[size]
    path = work_dir() / f"bench_io_stack_{'x'.join(map(str, shape))}.zarr"
    if not path.exists():
        io.save_array(_stack(shape), path)
    for chunk in (path / "0" / "c" / "0").rglob("*"):  # same warm OS file cache for both sides
        if chunk.is_file():
            chunk.read_bytes()
    da.zeros(1).sum().compute()  # dask's one-time import of its scheduler machinery (~0.6 s)
    return path


def _open_ours(path) -> str:
    plane = io.open_array(path)[0].compute()
    return f"plane {plane.shape}, mean {plane.mean():.1f}"


def _open_peer(path) -> str:
    plane = zarr.open_array(path / "0", mode="r")[0]
    return f"plane {plane.shape}, mean {plane.mean():.1f}"


def _save_setup(size: str):
    out = work_dir()
    for name in ("bench_io_save_ours.zarr", "bench_io_save_peer.zarr"):
        shutil.rmtree(out / name, ignore_errors=True)
    return _stack(SAVE_SIZES[size], "f4"), out


def _save_ours(inputs) -> str:
    data, out = inputs
    start = time.perf_counter()
    io.save_array(data, out / "bench_io_save_ours.zarr")
    return _mib_per_s(data.nbytes, time.perf_counter() - start) + " (with pyramid)"


def _save_ours_single_level(inputs) -> str:
    data, out = inputs
    start = time.perf_counter()
    io.save_array(data, out / "bench_io_save_ours.zarr", pyramid=False)
    return _mib_per_s(data.nbytes, time.perf_counter() - start) + " (level 0 only)"


def _save_peer(inputs) -> str:
    data, out = inputs
    start = time.perf_counter()
    da.to_zarr(data, str(out / "bench_io_save_peer.zarr"))
    return _mib_per_s(data.nbytes, time.perf_counter() - start)


def cases(size: str) -> list[Case]:
    """Benchmark cases of detcal.io."""
    return [
        Case(
            name="io open + first plane",
            setup=lambda: _open_setup(size),
            ours=_open_ours,
            peer_name="zarr.open_array",
            peer=_open_peer,
            peer_import="zarr",
        ),
        Case(
            name="io save_array",
            setup=lambda: _save_setup(size),
            ours=_save_ours,
            peer_name="dask.array.to_zarr",
            peer=_save_peer,
            peer_import="dask",
        ),
        Case(
            name="io save_array pyramid=False",
            setup=lambda: _save_setup(size),
            ours=_save_ours_single_level,
            peer_name="dask.array.to_zarr",
            peer=_save_peer,
            peer_import="dask",
        ),
    ]
