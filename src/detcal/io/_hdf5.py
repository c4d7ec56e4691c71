"""HDF5 / NeXus back-end of :mod:`detcal.io`.

Without a key, the DXchange projections ``exchange/data``, else the NeXus default signal, else
the only numeric dataset is opened. Reads open the file for each chunk, so nothing stays open
and the source pickles to dask.distributed workers.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import dask.array as da
import h5py
import numpy as np

from detcal.io._common import ambiguous, missing_key, regular
from detcal.progress import dask_progress

DXCHANGE_DATA = "exchange/data"


class H5Source:
    """A dataset read lazily: ``source[slices]`` opens the file and reads that region."""

    def __init__(self, path: Path, key: str, shape: tuple[int, ...], dtype: np.dtype):
        self.path, self.key = str(path), key
        self.shape, self.dtype, self.ndim = shape, dtype, len(shape)

    def __getitem__(self, index):
        with h5py.File(self.path, "r") as f:
            return f[self.key][index]


def _numeric(obj) -> bool:
    return isinstance(obj, h5py.Dataset) and obj.dtype.kind in "biufc" and obj.ndim >= 1


def _datasets(f: h5py.File) -> list[str]:
    found: list[str] = []
    f.visititems(lambda name, obj: found.append(name) if _numeric(obj) else None)
    return sorted(found)


def list_keys(path: Path) -> list[str]:
    """Paths of the numeric datasets in the file."""
    with h5py.File(path, "r") as f:
        return _datasets(f)


def _nexus_signal(f: h5py.File) -> str | None:
    """Follow NeXus ``default`` attributes from the root to the NXdata ``signal``."""
    node = f
    for _ in range(4):
        name = node.attrs.get("default")
        if isinstance(name, bytes):
            name = name.decode()
        if name is None or name not in node:
            break
        node = node[name]
    signal = node.attrs.get("signal") if isinstance(node, h5py.Group) else None
    if isinstance(signal, bytes):
        signal = signal.decode()
    if signal and signal in node and _numeric(node[signal]):
        return node[signal].name.lstrip("/")
    return None


def _resolve(f: h5py.File, path: Path, key: str | None) -> str:
    if key is not None:
        key = key.strip("/")
        if key not in f or not isinstance(f[key], h5py.Dataset):
            raise missing_key(path, key, _datasets(f))
        return key
    if DXCHANGE_DATA in f and _numeric(f[DXCHANGE_DATA]):
        return DXCHANGE_DATA
    signal = _nexus_signal(f)
    if signal:
        return signal
    keys = _datasets(f)
    if len(keys) != 1:
        raise ambiguous(path, keys)
    return keys[0]


def open_source(path: Path, key: str | None):
    """Return the lazy dataset and its storage chunks (None when contiguous)."""
    with h5py.File(path, "r") as f:
        name = _resolve(f, path, key)
        dset = f[name]
        source = H5Source(path, name, tuple(dset.shape), np.dtype(dset.dtype))
        return source, dset.chunks


def _plain(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()] if value.dtype.kind in "OS" else value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_metadata(path: Path, key: str | None) -> dict[str, Any]:
    """Return the dataset's attributes; ``detcal`` decoded from JSON."""
    with h5py.File(path, "r") as f:
        attrs = {k: _plain(v) for k, v in f[_resolve(f, path, key)].attrs.items()}
    if isinstance(attrs.get("detcal"), str):
        attrs["detcal"] = json.loads(attrs["detcal"])
    return attrs


def write(array: da.Array, tmp: Path, *, key, attrs, labels, progress) -> None:
    """Write one chunked, gzip-compressed dataset ``key`` (default ``data``)."""
    array, chunks = regular(array)
    options: dict[str, Any] = {}
    if array.ndim and array.size:
        options = {"chunks": chunks, "compression": "gzip", "compression_opts": 1}
    with h5py.File(tmp, "w") as f:
        dset = f.create_dataset(
            (key or "data").strip("/"), shape=array.shape, dtype=array.dtype, **options
        )
        if attrs is not None:
            dset.attrs["detcal"] = json.dumps(attrs)
        with dask_progress(progress):
            da.store(array, dset, lock=threading.Lock())
