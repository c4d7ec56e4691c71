"""Pieces shared by the format back-ends of :mod:`detcal.io`."""

from __future__ import annotations

from collections.abc import Sequence

import dask.array as da


class AmbiguousKeyError(ValueError):
    """A container holds several arrays and no key says which one to open."""


def missing_key(path, key: str, keys: Sequence[str]) -> KeyError:
    """Build the KeyError for a key that is not in ``path``, listing the keys that are."""
    listed = ", ".join(repr(k) for k in keys) or "none"
    return KeyError(f"key {key!r} not found in {str(path)!r}; keys: {listed}")


def ambiguous(path, keys: Sequence[str]) -> AmbiguousKeyError:
    """Build the error for a container with several arrays opened without a key."""
    listed = ", ".join(repr(k) for k in keys) or "none"
    return AmbiguousKeyError(f"{str(path)!r} holds several arrays; pass key= one of: {listed}")


def storage_chunks(shape: Sequence[int], dtype) -> tuple[int, ...]:
    """Chunk shape for storing an array that has none of its own (about 16 MiB, planes)."""
    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        chunks = da.core.normalize_chunks("auto", shape, limit="16MiB", dtype=dtype)
    else:
        plane = tuple(min(n, 2048) for n in shape[-2:])
        spec = ("auto",) * (len(shape) - 2) + plane
        chunks = da.core.normalize_chunks(spec, shape, limit="16MiB", dtype=dtype)
    return tuple(max(1, c[0]) if c else 1 for c in chunks)


def regular(array: da.Array) -> tuple[da.Array, tuple[int, ...]]:
    """Return ``array`` on a regular chunk grid (rechunked if needed) and that chunk shape.

    A grid is regular when every chunk along an axis but the last has the same size and the
    last is not larger; that is what Zarr, HDF5 and dask.store need to write without locks.
    """
    chunks = []
    is_regular = True
    for sizes in array.chunks:
        first = sizes[0] if sizes else 1
        if any(s != first for s in sizes[:-1]) or (sizes and sizes[-1] > first):
            is_regular = False
            first = max(sizes)
        chunks.append(max(1, int(first)))
    chunks = tuple(chunks)
    if not is_regular:
        array = array.rechunk(chunks)
    return array, chunks
