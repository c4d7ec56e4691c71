"""TIFF back-end of :mod:`detcal.io`: multi-page files and folders of files, page by page.

Reading goes through tifffile's Zarr view of the file (``aszarr``), so a chunk reads only the
pages (and tiles) it covers. Writing streams slabs of planes into one shaped series; files
above 2 GB are written as BigTIFF.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np
import tifffile
import zarr

_SUFFIXES = (".tif", ".tiff")
_BIGTIFF_ABOVE = 2**31 - 2**25  # leave room for the tags
_CACHE_SIZE = 8
_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()


def folder_files(path: Path) -> list[Path]:
    """List the ``.tif``/``.tiff`` files of a folder (not hidden), sorted by name."""
    return sorted(
        p
        for p in path.iterdir()
        if p.suffix.lower() in _SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def _files(path: Path) -> list[str]:
    return [str(p) for p in folder_files(path)] if path.is_dir() else [str(path)]


def _view(files: tuple[str, ...]):
    """Return a cached, read-only Zarr view of the files (reopened when a file changes)."""
    stamp = tuple(os.stat(f).st_mtime_ns for f in files[:1])
    cache_key = (files, stamp)
    with _cache_lock:
        view = _cache.get(cache_key)
        if view is not None:
            _cache.move_to_end(cache_key)
            return view
        store = tifffile.imread(files[0] if len(files) == 1 else list(files), aszarr=True)
        view = zarr.open(store, mode="r")
        _cache[cache_key] = view
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
        return view


class TiffSource:
    """TIFF pages read lazily: ``source[slices]`` reads only the pages that cover them."""

    def __init__(self, files: list[str], shape: tuple[int, ...], dtype: np.dtype):
        self.files = tuple(files)
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    def __getitem__(self, index):
        return _view(self.files)[index]


def open_source(path: Path, key: str | None):
    """Return the lazy pages and their natural chunks (one page, or one file of a folder)."""
    files = _files(path)
    view = _view(tuple(files))
    source = TiffSource(files, tuple(view.shape), np.dtype(view.dtype))
    return source, tuple(view.chunks)


def read_metadata(path: Path, key: str | None) -> dict[str, Any]:
    """``{"detcal": ...}`` from a file written by :func:`detcal.io.save_array`, else ``{}``."""
    with tifffile.TiffFile(_files(path)[0]) as tif:
        shaped = tif.shaped_metadata
    if shaped and isinstance(shaped[0], dict) and "detcal" in shaped[0]:
        return {"detcal": shaped[0]["detcal"]}
    return {}


def write(array: da.Array, tmp: Path, *, key, attrs, labels, progress) -> None:
    """Write one shaped series, one page per plane, computing a slab of planes at a time."""
    shape = array.shape
    if array.ndim > 2:
        flat = array.reshape((-1,) + shape[-2:], merge_chunks=False)
    else:
        flat = array.reshape((1,) + shape[-2:] if array.ndim == 2 else (1, 1, -1))
    bounds = np.cumsum((0,) + flat.chunks[0])
    total = len(bounds) - 1

    def planes():
        for i in range(total):
            slab = flat[bounds[i] : bounds[i + 1]].compute()
            yield from slab
            if progress is not None:
                progress(i + 1, total)

    if progress is not None:
        progress(0, total)
    metadata = {} if attrs is None else {"detcal": attrs}
    with tifffile.TiffWriter(tmp, bigtiff=array.nbytes > _BIGTIFF_ABOVE) as tif:
        tif.write(
            planes(),
            shape=flat.shape,
            dtype=array.dtype,
            photometric="minisblack",
            metadata={"shape": list(shape), **metadata},
        )
