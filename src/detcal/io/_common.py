"""Pieces shared by the format back-ends of :mod:`detcal.io`.

Nothing here imports dask, zarr, h5py or tifffile at module level, so that looking at a file
(``detcal info``) pays only for the back-end it needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

TIFF_SUFFIXES = (".tif", ".tiff")


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


def looks_like_zarr(path: Path) -> bool:
    """Tell whether a folder holds Zarr metadata at its root."""
    return any((path / name).is_file() for name in ("zarr.json", ".zgroup", ".zarray"))


def folder_files(path: Path) -> list[Path]:
    """List the ``.tif``/``.tiff`` files of a folder (not hidden), sorted by name."""
    return sorted(
        p
        for p in path.iterdir()
        if p.suffix.lower() in TIFF_SUFFIXES and p.is_file() and not p.name.startswith(".")
    )


def storage_chunks(shape: Sequence[int], dtype) -> tuple[int, ...]:
    """Chunk shape for storing an array that has none of its own (about 16 MiB, planes)."""
    import dask.array as da

    shape = tuple(int(n) for n in shape)
    if len(shape) < 2:
        chunks = da.core.normalize_chunks("auto", shape, limit="16MiB", dtype=dtype)
    else:
        plane = tuple(min(n, 2048) for n in shape[-2:])
        spec = ("auto",) * (len(shape) - 2) + plane
        chunks = da.core.normalize_chunks(spec, shape, limit="16MiB", dtype=dtype)
    return tuple(max(1, c[0]) if c else 1 for c in chunks)


def regular(array):
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


def store(sources: Any, targets: Any, *, lock: Any = False, progress=None) -> None:
    """Write dask arrays into array-like targets; return only once no writer is running.

    On the local threaded scheduler the chunks are written by a thread pool owned by this
    call (``num_workers`` from dask's configuration, as ``--threads`` sets it). When a chunk
    fails, the progress callback raises (a cancel) or the user presses Ctrl-C, the pool is
    shut down and waited for before the exception propagates, so the caller's clean-up of a
    temporary output never races a thread still writing into it. Other schedulers (synchronous,
    dask.distributed) are used as configured.
    """
    from detcal.progress import store_with_progress

    store_with_progress(sources, targets, progress=progress, lock=lock)


class OutputExistsError(FileExistsError):
    """The output exists and overwriting was not allowed; ``path`` says which."""

    def __init__(self, message: str, path):
        super().__init__(message)
        self.path = path


class ReadError(ValueError):
    """Stored data could not be read (a corrupt chunk, a truncated file); ``path`` says which."""

    def __init__(self, message: str, path):
        super().__init__(message)
        self.path = path


# errors that say something other than "this file is not what it claims to be"
PASS_THROUGH = (
    KeyError,
    AmbiguousKeyError,
    ImportError,
    MemoryError,
    FileNotFoundError,
    PermissionError,
)


class Source:
    """A back-end's lazy array read through dask; a failed read names the file.

    ``source[index]`` reads from the wrapped back-end source; an exception other than
    :data:`PASS_THROUGH` becomes a :class:`ReadError` naming ``path``.
    """

    def __init__(self, inner, path):
        self.inner, self.path = inner, path
        self.shape, self.dtype = tuple(int(n) for n in inner.shape), inner.dtype
        self.ndim = len(self.shape)

    def __getitem__(self, index):
        try:
            return self.inner[index]
        except PASS_THROUGH:
            raise
        except Exception as exc:
            raise ReadError(
                f"cannot read {str(self.path)!r}: {type(exc).__name__}: {exc}", self.path
            ) from exc
