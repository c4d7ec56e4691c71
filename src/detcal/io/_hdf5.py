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

import h5py
import numpy as np

from detcal.io._common import ambiguous, missing_key, regular, store

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
    """Return the dataset's attributes; ``detcal`` and ``axes`` decoded."""
    with h5py.File(path, "r") as f:
        dset = f[_resolve(f, path, key)]
        attrs = {k: _plain(v) for k, v in dset.attrs.items()}
        ndim = dset.ndim
    if isinstance(attrs.get("detcal"), str):
        attrs["detcal"] = json.loads(attrs["detcal"])
    if isinstance(attrs.get("axes"), str):
        attrs["axes"] = _axes(attrs["axes"], ndim)
    return attrs


def _axes(text: str, ndim: int) -> Any:
    """``axes`` as saved by detcal (JSON), or DXchange's ``"theta:y:x"`` as names."""
    try:
        return json.loads(text)
    except ValueError:
        names = text.split(":")
        return [{"name": n} for n in names] if len(names) == ndim else text


def _create(f: h5py.File, name: str, array, attrs: dict[str, Any]):
    """Create the chunked, gzip-compressed dataset for ``array``; return it and the array."""
    array, chunks = regular(array)
    options: dict[str, Any] = {}
    if array.ndim and array.size:
        options = {"chunks": chunks, "compression": "gzip", "compression_opts": 1}
    dset = f.create_dataset(name.strip("/"), shape=array.shape, dtype=array.dtype, **options)
    for attr, value in attrs.items():
        dset.attrs[attr] = value if isinstance(value, (str, int, float)) else json.dumps(value)
    return dset, array


def write(array, tmp: Path, *, key, attrs, labels, progress, axes=None) -> None:
    """Write one chunked, gzip-compressed dataset ``key`` (default ``data``)."""
    stored = {"detcal": attrs, "axes": axes}
    with h5py.File(tmp, "w") as f:
        dset, array = _create(f, key or "data", array, {k: v for k, v in stored.items() if v})
        store(array, dset, lock=threading.Lock(), progress=progress)


def write_group(arrays: dict, tmp: Path, *, attrs, progress) -> None:
    """Write several datasets keyed by path, in one computation."""
    with h5py.File(tmp, "w") as f:
        pairs = [_create(f, name, array, attrs.get(name) or {}) for name, array in arrays.items()]
        targets, sources = zip(*pairs, strict=True)
        store(list(sources), list(targets), lock=threading.Lock(), progress=progress)
