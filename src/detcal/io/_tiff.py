"""TIFF back-end of :mod:`detcal.io`: multi-page files and folders of files, page by page.

Reading goes through tifffile's Zarr view of the file (``aszarr``), so a chunk reads only the
pages (and tiles) it covers. A folder is one stack only when all its files hold the same
number of pages of the same shape and type. Writing creates one uncompressed shaped series
and streams every chunk into it in one dask computation (each input chunk read once); files
above 2 GB are written as BigTIFF.
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

import numpy as np
import tifffile
import zarr

from detcal.io._common import folder_files, store

_BIGTIFF_ABOVE = 2**31 - 2**25  # leave room for the tags
CACHE_SIZE = 8
_cache: OrderedDict[tuple, Any] = OrderedDict()
_cache_lock = threading.Lock()


def _files(path: Path) -> list[str]:
    return [str(p) for p in folder_files(path)] if path.is_dir() else [str(path)]


def _stamp(files: tuple[str, ...]) -> tuple:
    """Return what changes when the stack is rewritten: first and last files' mtime, size."""
    ends = {files[0], files[-1]}
    return tuple((os.stat(f).st_mtime_ns, os.stat(f).st_size) for f in sorted(ends))


def _view(files: tuple[str, ...]):
    """Return a cached, read-only Zarr view of the files (reopened when a file changes).

    At most :data:`CACHE_SIZE` views (and their open files) are kept, least recently used
    dropped first.
    """
    cache_key = (files, _stamp(files))
    with _cache_lock:
        view = _cache.get(cache_key)
        if view is not None:
            _cache.move_to_end(cache_key)
            return view
        store_ = tifffile.imread(files[0] if len(files) == 1 else list(files), aszarr=True)
        view = zarr.open(store_, mode="r")
        _cache[cache_key] = view
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
        return view


class TiffSource:
    """TIFF pages read lazily: ``source[slices]`` reads only the pages that cover them."""

    def __init__(self, files: list[str], shape: tuple[int, ...], dtype: np.dtype):
        self.files = tuple(files)
        self.path = self.files[0] if len(self.files) == 1 else str(Path(self.files[0]).parent)
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    def __getitem__(self, index):
        return _view(self.files)[index]


def _describe(file: str) -> tuple[tuple[int, ...], np.dtype]:
    with tifffile.TiffFile(file) as tif:
        series = tif.series[0]
        return tuple(series.shape), np.dtype(series.dtype)


def check_folder(path: Path, files: list[str]) -> None:
    """Refuse a folder whose files differ in shape, type or number of pages."""
    first = _describe(files[0])
    for file in files[1:]:
        other = _describe(file)
        if other != first:
            raise ValueError(
                f"cannot stack folder {str(path)!r}: {Path(file).name} holds {other[0]} "
                f"{other[1]} but {Path(files[0]).name} holds {first[0]} {first[1]}; every file "
                "must hold the same number of pages of the same shape and type (move the odd "
                "files out, or open them one by one)"
            )


def open_source(path: Path, key: str | None):
    """Return the lazy pages and their natural chunks (one page, or one file of a folder)."""
    files = _files(path)
    if len(files) > 1:
        check_folder(path, files)
    view = _view(tuple(files))
    source = TiffSource(files, tuple(view.shape), np.dtype(view.dtype))
    return source, tuple(view.chunks)


def read_metadata(path: Path, key: str | None) -> dict[str, Any]:
    """``{"detcal": ..., "axes": ...}`` from a file written by ``save_array``, else ``{}``."""
    with tifffile.TiffFile(_files(path)[0]) as tif:
        shaped = tif.shaped_metadata
    if not (shaped and isinstance(shaped[0], dict)):
        return {}
    meta = {}
    for name in ("detcal", "axes"):
        if name in shaped[0]:
            meta[name] = shaped[0][name]
    return meta


def write(array, tmp: Path, *, key, attrs, labels, progress, axes=None) -> None:
    """Write one shaped series, one page per plane, in a single pass over ``array``.

    The file is created uncompressed and memory-mapped; every chunk is stored into its
    place as dask computes it, so each input chunk is read once whatever the chunking.
    """
    shape = array.shape
    if array.ndim > 2:
        flat = array.reshape((-1,) + shape[-2:], merge_chunks=False)
    else:
        flat = array.reshape((1,) + shape[-2:] if array.ndim == 2 else (1, 1, -1))
    metadata: dict[str, Any] = {"shape": list(shape)}
    if attrs is not None:
        metadata["detcal"] = attrs
    if axes is not None:
        metadata["axes"] = axes
    target = tifffile.memmap(
        tmp,
        shape=flat.shape,
        dtype=array.dtype,
        photometric="minisblack",
        metadata=metadata,
        bigtiff=array.nbytes > _BIGTIFF_ABOVE,
    )
    try:
        store(flat, target, lock=False, progress=progress)
        target.flush()
    finally:
        del target
