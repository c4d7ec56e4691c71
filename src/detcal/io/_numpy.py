"""NumPy back-ends of :mod:`detcal.io`: ``.npy`` (memory map) and ``.npz`` members.

Only headers are read when opening. ``.npy`` chunks and the members of an uncompressed
``.npz`` (``numpy.savez``) are memory-mapped; a compressed member (``numpy.savez_compressed``)
is inflated whole when read, so it is one chunk.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

import numpy as np

from detcal.io._common import ambiguous, missing_key, store


def _header(f) -> tuple[tuple[int, ...], bool, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(f)
    return np.lib.format.read_array_header_2_0(f)


class MappedSource:
    """An array stored raw at ``offset`` in a file, memory-mapped on each read."""

    def __init__(self, path, offset, shape, fortran, dtype):
        self.path, self.offset, self.fortran = str(path), offset, fortran
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)

    def __getitem__(self, index):
        if 0 in self.shape:
            return np.empty(self.shape, self.dtype)[index]
        order = "F" if self.fortran else "C"
        mapped = np.memmap(
            self.path, self.dtype, mode="r", offset=self.offset, shape=self.shape, order=order
        )
        return np.array(mapped[index])


class InflatedSource:
    """A compressed ``.npz`` member, inflated whole on each read."""

    def __init__(self, path, member, shape, dtype):
        self.path, self.member = str(path), member
        self.shape, self.dtype, self.ndim = tuple(shape), np.dtype(dtype), len(shape)

    def __getitem__(self, index):
        with np.load(self.path) as npz:
            return npz[self.member][index]


class NPY:
    """``.npy``: one array, memory-mapped."""

    @staticmethod
    def open_source(path: Path, key: str | None):
        """Return the mapped array and its default chunks (None: chosen by size)."""
        with open(path, "rb") as f:
            shape, fortran, dtype = _header(f)
            offset = f.tell()
        if dtype.hasobject:
            raise ValueError(f"object arrays are not supported (dtype {dtype})")
        return MappedSource(path, offset, shape, fortran, dtype), None

    @staticmethod
    def write(array, tmp: Path, *, key, attrs, labels, progress, axes=None) -> None:
        """Stream the chunks into a ``.npy`` opened as a memory map (no attributes kept)."""
        out = np.lib.format.open_memmap(tmp, mode="w+", dtype=array.dtype, shape=array.shape)
        try:
            store(array, out, lock=False, progress=progress)
            out.flush()
        finally:
            del out


def _local_data_offset(f, info: zipfile.ZipInfo) -> int:
    f.seek(info.header_offset)
    local = f.read(30)
    if local[:4] != b"PK\x03\x04":
        raise ValueError(f"bad zip member header for {info.filename!r}")
    name_len, extra_len = struct.unpack("<HH", local[26:30])
    return info.header_offset + 30 + name_len + extra_len


class NPZ:
    """``.npz``: named members; uncompressed ones memory-mapped."""

    @staticmethod
    def list_keys(path: Path) -> list[str]:
        """Member names without the ``.npy`` suffix."""
        with zipfile.ZipFile(path) as z:
            return [n[:-4] for n in z.namelist() if n.endswith(".npy")]

    @staticmethod
    def open_source(path: Path, key: str | None):
        """Return the member ``key`` (or the only one) and its default chunks."""
        keys = NPZ.list_keys(path)
        if key is None:
            if len(keys) != 1:
                raise ambiguous(path, keys)
            key = keys[0]
        if key not in keys:
            raise missing_key(path, key, keys)
        with zipfile.ZipFile(path) as z:
            info = z.getinfo(key + ".npy")
            with z.open(info) as member:
                shape, fortran, dtype = _header(member)
                header_len = member.tell()
        if dtype.hasobject:
            raise ValueError(f"object arrays are not supported (member {key!r}, dtype {dtype})")
        if info.compress_type != zipfile.ZIP_STORED:
            return InflatedSource(path, key, shape, dtype), shape
        with open(path, "rb") as f:
            offset = _local_data_offset(f, info) + header_len
        return MappedSource(path, offset, shape, fortran, dtype), None
