"""Open any detector data lazily; save any array atomically, chunk by chunk.

:func:`open_array` returns a dask array without reading pixels, for Zarr v2/v3 and OME-Zarr,
HDF5/NeXus (DXchange names found by themselves), TIFF (one multi-page file or a folder of
files), ``.npy`` (memory map), ``.npz`` and EDF (with fabio). :func:`save_array` streams a numpy
or dask array to OME-Zarr (with a multiscale pyramid), HDF5, TIFF or ``.npy``: it writes a
hidden temporary sibling and renames it into place, so a failed or cancelled save leaves
nothing at the destination and an existing file untouched.

The format back-ends live in the private modules ``_zarr``, ``_hdf5``, ``_tiff``,
``_numpy`` and ``_edf``; this module holds the public entry points.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detcal.io._atomic import atomic_output
from detcal.io._axes import normalize_axes
from detcal.io._common import (
    PASS_THROUGH,
    AmbiguousKeyError,
    OutputExistsError,
    ReadError,
    Source,
    folder_files,
    looks_like_zarr,
    storage_chunks,
)

if TYPE_CHECKING:
    import dask.array as da
    import numpy as np

    from detcal.progress import ProgressCallback

__all__ = [
    "READ_SUFFIXES",
    "WRITE_SUFFIXES",
    "AmbiguousKeyError",
    "OutputExistsError",
    "ReadError",
    "atomic_output",
    "check_output",
    "describe",
    "format_of",
    "list_keys",
    "open_array",
    "open_levels",
    "read_array",
    "read_metadata",
    "save_array",
    "save_arrays",
]

READ_SUFFIXES = {
    ".zarr": "zarr",
    ".h5": "hdf5",
    ".hdf5": "hdf5",
    ".hdf": "hdf5",
    ".nxs": "hdf5",
    ".cxi": "hdf5",
    ".tif": "tiff",
    ".tiff": "tiff",
    ".npy": "npy",
    ".npz": "npz",
    ".edf": "edf",
}
WRITE_SUFFIXES = {".zarr": "zarr", ".h5": "hdf5", ".hdf5": "hdf5", ".tif": "tiff",
                   ".tiff": "tiff", ".npy": "npy"}  # fmt: skip
# format -> (module, attribute) of its back-end, imported when first used
_BACKENDS = {
    "zarr": ("_zarr", None),
    "hdf5": ("_hdf5", None),
    "tiff": ("_tiff", None),
    "npy": ("_numpy", "NPY"),
    "npz": ("_numpy", "NPZ"),
    "edf": ("_edf", None),
}
_KEYED = {"zarr", "hdf5", "npz"}
# dask layers made by open_array are named with this prefix; dask keeps the source object
# under "original-" + name, which is how save_array finds the files a result reads
_LAYER = "detcal-open-"


def _backend(fmt: str):
    module, attr = _BACKENDS[fmt]
    loaded = importlib.import_module(f"{__name__}.{module}")
    return loaded if attr is None else getattr(loaded, attr)


def _existing(path: str | os.PathLike) -> Path:
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or directory: {str(path)!r}")
    return path


def format_of(path: str | os.PathLike) -> str:
    """Name the format :func:`open_array` would read ``path`` as.

    Parameters
    ----------
    path : str or path-like
        An existing file or folder.

    Returns
    -------
    str
        One of ``"zarr"``, ``"hdf5"``, ``"tiff"``, ``"npy"``, ``"npz"``, ``"edf"``.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    ValueError
        Not a format detcal reads (the message lists the supported suffixes).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> format_of(real_data_path() / "tooth.h5")
    'hdf5'
    """
    path = _existing(path)
    fmt = READ_SUFFIXES.get(path.suffix.lower())
    if path.is_dir():
        if fmt == "zarr" or looks_like_zarr(path):
            return "zarr"
        if folder_files(path):
            return "tiff"
        raise ValueError(
            f"cannot read folder {str(path)!r}: it is neither a Zarr store nor a folder of "
            ".tif/.tiff files"
        )
    if fmt is None or fmt == "zarr":
        known = ", ".join(sorted(READ_SUFFIXES))
        raise ValueError(
            f"unknown format of {str(path)!r} (suffix {path.suffix!r}); supported: {known}, "
            "or a folder of .tif files"
        )
    return fmt


def _call(fmt: str, path: Path, func, *args):
    """Run a back-end function, turning a format failure into a ValueError naming the file.

    Missing keys, missing modules, permissions and memory are reported as themselves: they
    say nothing about the file's format.
    """
    try:
        return func(*args)
    except PASS_THROUGH:
        raise
    except Exception as exc:
        raise ReadError(
            f"cannot read {str(path)!r} as {fmt}: {type(exc).__name__}: {exc}", path
        ) from exc


def _default_chunks(shape: tuple[int, ...], dtype: np.dtype, native) -> tuple:
    """Chunks for a dask view of stored data: the storage chunks, grown when they are tiny."""
    import dask.array as da
    import numpy as np

    if native is None:
        native = tuple(["auto"] * (len(shape) - 2) + list(shape[-2:])) if len(shape) > 2 else "auto"
        return da.core.normalize_chunks(native, shape, limit="32MiB", dtype=dtype)
    native = tuple(max(1, int(c)) for c in native)
    if int(np.prod(native)) * dtype.itemsize >= 2**20:
        return native
    return da.core.normalize_chunks(
        "auto", shape, limit="16MiB", dtype=dtype, previous_chunks=native
    )


def _as_dask(source, path: Path, key: str | None, chunks, native) -> da.Array:
    import dask.array as da
    import numpy as np
    from dask.base import tokenize

    source = Source(source, path.resolve())
    dtype = np.dtype(source.dtype)
    shape = source.shape
    chunks = _default_chunks(shape, dtype, native) if chunks is None else chunks
    stat = path.stat()
    token = tokenize(str(path.resolve()), key, stat.st_mtime_ns, stat.st_size, shape, str(dtype))
    meta = np.empty((0,) * len(shape), dtype)  # so that dask does not slice the source
    return da.from_array(
        source, chunks=chunks, name=_LAYER + token, lock=False, asarray=True, fancy=False,
        meta=meta,
    )  # fmt: skip


def open_array(path: str | os.PathLike, *, key: str | None = None, chunks: Any = None) -> da.Array:
    """Open an array lazily: only metadata is read, pixels are read when computed.

    Parameters
    ----------
    path : str or path-like
        A ``.zarr`` store (Zarr v2/v3, OME-Zarr), an HDF5/NeXus file (``.h5``, ``.hdf5``,
        ``.hdf``, ``.nxs``, ``.cxi``), a ``.tif``/``.tiff`` file or a folder of them (one plane
        per file, sorted by name), ``.npy``, ``.npz`` or ``.edf`` (needs fabio).
    key : str, optional
        Which array inside a container: an HDF5 dataset path (without it, DXchange
        ``exchange/data`` or the only dataset), a Zarr array path or OME-Zarr level (``"0"``,
        ``"1"``...; without it, the highest resolution) or an ``.npz`` member.
    chunks : optional
        dask chunks of the result (anything :func:`dask.array.from_array` takes); default:
        the storage chunks, merged when they are smaller than 1 MiB.

    Returns
    -------
    dask.array.Array
        Lazy view of the stored array.

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    KeyError
        ``key`` is not in the file; the message lists the keys that exist.
    ValueError
        Unknown format, a container holding several arrays and no ``key``, or a corrupt file
        (the message names the file and the format tried).
    ImportError
        An EDF file without fabio installed.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = tempfile.mkdtemp() + "/x.npy"
    >>> np.save(path, np.arange(6).reshape(2, 3))
    >>> open_array(path).sum().compute()
    np.int64(15)
    """
    path = _existing(path)
    fmt = format_of(path)
    if key is not None and fmt not in _KEYED:
        raise ValueError(f"key={key!r} given but a {fmt} file holds a single array: {path}")
    source, native = _call(fmt, path, _backend(fmt).open_source, path, key)
    return _as_dask(source, path, key, chunks, native)


def open_levels(path: str | os.PathLike, *, key: str | None = None) -> list[da.Array]:
    """Open every resolution level of an OME-Zarr image lazily, highest resolution first.

    Parameters
    ----------
    path : str or path-like
        Any file :func:`open_array` reads.
    key : str, optional
        For Zarr, the path of the multiscale group inside the store; otherwise as in
        :func:`open_array`.

    Returns
    -------
    list of dask.array.Array
        The pyramid of an OME-Zarr multiscale image, or a one-element list for anything else.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = save_array(np.zeros((3000, 100)), tempfile.mkdtemp() + "/a.zarr")
    >>> [level.shape for level in open_levels(path)]
    [(3000, 100), (1500, 50), (750, 25)]
    """
    path = _existing(path)
    fmt = format_of(path)
    if fmt != "zarr":
        return [open_array(path, key=key)]
    sources = _call(fmt, path, _backend(fmt).open_level_sources, path, key)
    levels = []
    for level_key, (source, native) in sources:
        levels.append(_as_dask(source, path, level_key, None, native))
    return levels


def list_keys(path: str | os.PathLike) -> list[str]:
    """List the arrays inside a container file without reading them.

    Parameters
    ----------
    path : str or path-like
        Any file :func:`open_array` reads.

    Returns
    -------
    list of str
        HDF5 dataset paths, Zarr array paths or ``.npz`` members; empty for single-array
        formats (TIFF, ``.npy``, EDF).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> list_keys(real_data_path() / "tooth.h5")[:2]
    ['exchange/data', 'exchange/data_dark']
    """
    path = _existing(path)
    fmt = format_of(path)
    if fmt not in _KEYED:
        return []
    return _call(fmt, path, _backend(fmt).list_keys, path)


def read_metadata(path: str | os.PathLike, *, key: str | None = None) -> dict[str, Any]:
    """Read the attributes stored with an array (those :func:`save_array` wrote included).

    Parameters
    ----------
    path : str or path-like
        Any file :func:`open_array` reads.
    key : str, optional
        As in :func:`open_array`.

    Returns
    -------
    dict
        Zarr: the attributes of the image group (``"ome"``/``"multiscales"``, ``"detcal"``...);
        HDF5: the dataset's attributes (``"detcal"`` decoded from JSON, ``"units"``...);
        TIFF: ``{"detcal": ...}`` when written by :func:`save_array`; otherwise ``{}``.
        With ``"axes"`` when the file names its dimensions: a list of ``{"name", "type",
        "unit", "scale"}`` (Zarr: the OME-NGFF axes with the highest resolution's scale, or a
        plain array's dimension names; HDF5 and TIFF: what :func:`save_array` stored).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> out = save_array(np.zeros((4, 4)), tempfile.mkdtemp() + "/a.zarr", attrs={"gain": 2})
    >>> read_metadata(out)["detcal"]
    {'gain': 2}
    """
    path = _existing(path)
    fmt = format_of(path)
    reader = getattr(_backend(fmt), "read_metadata", None)
    if reader is None:
        return {}
    return _call(fmt, path, reader, path, key)


def _write_format(path: Path, name: str = "path") -> str:
    fmt = WRITE_SUFFIXES.get(path.suffix.lower())
    if fmt is None:
        known = ", ".join(WRITE_SUFFIXES)
        raise ValueError(
            f"{name}: cannot save to {str(path)!r}: unknown suffix {path.suffix or '(none)'}; "
            f"supported: {known}"
        )
    return fmt


def check_output(
    path: str | os.PathLike, *, overwrite: bool = False, array: bool = True, name: str = "path"
) -> Path:
    """Check, before any work is done, that ``path`` may be written.

    :func:`save_array` makes the same checks; steps that compute for a long time before
    saving call this first so that a bad output path fails at once.

    Parameters
    ----------
    path : str or path-like
        The output.
    overwrite : bool, default False
        Allow replacing an existing ``path``.
    array : bool, default True
        ``path`` is for :func:`save_array`: its suffix must be one of ``WRITE_SUFFIXES``.
        False checks only the folder and that ``path`` does not already exist (for outputs
        such as a models folder that the caller creates).
    name : str, default "path"
        The argument's name in the caller, used in the error messages.

    Returns
    -------
    pathlib.Path
        ``path``, with ``~`` expanded.

    Raises
    ------
    ValueError
        Unknown suffix (``array=True``).
    OutputExistsError
        ``path`` exists and ``overwrite`` is False (a ``FileExistsError``; its ``path``
        attribute lets a command line or a GUI say how to allow it in its own words).
    FileNotFoundError
        The folder of ``path`` does not exist.
    PermissionError
        The folder of ``path`` cannot be written to.

    Examples
    --------
    >>> import tempfile
    >>> check_output(Path(tempfile.mkdtemp()) / "out.zarr").suffix
    '.zarr'
    """
    path = Path(path).expanduser()
    if array:
        _write_format(path, name)
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputExistsError(
            f"{name}: {str(path)!r} already exists (overwrite=True replaces it)", path
        )
    folder = path.parent
    if not folder.is_dir():
        raise FileNotFoundError(f"{name}: folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise PermissionError(f"{name}: folder {str(folder)!r} is not writable")
    return path


def _to_dask(data: Any) -> da.Array:
    import dask.array as da
    import numpy as np

    if isinstance(data, da.Array):
        return data
    if not (hasattr(data, "shape") and hasattr(data, "dtype")):
        raise TypeError(f"data must be a numpy or dask array, got {type(data).__name__}")
    array = np.asarray(data)
    if array.dtype.hasobject:
        raise TypeError(f"data must have a numeric dtype, got {array.dtype}")
    return da.from_array(array, chunks=storage_chunks(array.shape, array.dtype))


def _inputs_of(data: Any) -> set[Path]:
    """Files that computing ``data`` reads (arrays from :func:`open_array`, numpy memmaps)."""
    import numpy as np

    found = set()
    filename = getattr(data, "filename", None)
    if isinstance(data, np.memmap) and filename:
        found.add(Path(filename).resolve())
    graph = getattr(data, "__dask_graph__", lambda: None)()
    for name, layer in getattr(graph, "layers", {}).items():
        if isinstance(name, str) and name.startswith("original-" + _LAYER):
            source = layer.get(name)
            if isinstance(source, Source):
                found.add(Path(source.path))
    return found


def save_array(
    data: Any,
    path: str | os.PathLike,
    *,
    key: str | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    attrs: dict[str, Any] | None = None,
    axes: Sequence[str | dict[str, Any]] | None = None,
    labels: bool = False,
    pyramid: bool = True,
) -> Path:
    """Save a numpy or dask array chunk by chunk, atomically.

    The array is written to a hidden temporary sibling of ``path`` (same folder) and renamed
    into place when complete; on any error, cancellation or Ctrl-C the writing threads are
    waited for, the temporary is deleted and the destination is left as it was.

    Parameters
    ----------
    data : numpy.ndarray or dask.array.Array
        Array to save; a dask array is computed chunk by chunk, never whole.
    path : str or path-like
        Destination; its suffix picks the format: ``.zarr`` (OME-Zarr NGFF 0.5, Zarr v3, with a
        pyramid halving rows and columns until the longest side fits 1024 pixels; arrays of
        other than 2-5 dimensions are stored as a plain array ``"0"``), ``.h5``/``.hdf5``
        (chunked, gzip level 1), ``.tif``/``.tiff`` (uncompressed, one page per plane,
        BigTIFF above 2 GB) or ``.npy``.
    key : str, optional
        HDF5 dataset path (default ``"data"``) or the Zarr group holding the image (default the
        root); not allowed for other formats.
    overwrite : bool, default False
        Replace an existing ``path``.
    progress : callable, optional
        ``progress(done, total)``; it may raise (e.g. ``StepCancelled``) to stop the save.
    attrs : dict, optional
        JSON-serialisable parameters stored with the array under ``"detcal"`` (Zarr group
        attributes, HDF5 dataset attribute, TIFF description); see :func:`read_metadata`.
    axes : list, optional
        One entry per dimension: a name, or a dict with ``name``, ``type`` (``"space"``,
        ``"time"``, ``"channel"`` or your own such as ``"angle"``; a name x/y/z is space,
        t time, c channel, any other name its own type), ``unit`` (an OME-NGFF unit such as
        ``"micrometer"`` or ``"centimeter"`` for space axes, free for others) and ``scale``
        (the pixel size, default 1). Written as OME-NGFF axes and scales in ``.zarr``
        (pyramid levels scaled accordingly) and as an ``axes`` attribute in ``.h5`` and
        ``.tif``. Default: ``z, y, x`` (``c``, ``t`` in front for 4-5 dimensions), space,
        scale 1. A ``.zarr`` image needs 2 or 3 space axes, last.
    labels : bool, default False
        The array is a label image: Zarr pyramid levels take every other pixel instead of
        the mean, and the image is marked with NGFF ``image-label``.
    pyramid : bool, default True
        Build the multiscale pyramid of a ``.zarr`` output; False writes level ``"0"`` only.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Unknown suffix, ``key`` for a single-array format, ``axes`` not one per dimension
        (or not valid OME-NGFF for ``.zarr``), or ``path`` being (or containing) a file that
        ``data`` is read from.
    TypeError
        ``data`` is not an array, or ``attrs`` is not JSON-serialisable.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.
    FileNotFoundError
        The folder of ``path`` does not exist.
    PermissionError
        The folder of ``path`` is not writable.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> out = save_array(np.eye(3), tempfile.mkdtemp() + "/eye.zarr")
    >>> open_array(out).compute().trace()
    np.float64(3.0)
    >>> angles = np.zeros((180, 64, 64), np.float32)
    >>> out = save_array(angles, tempfile.mkdtemp() + "/sino.zarr",
    ...                  axes=[{"name": "angle", "unit": "degree"}, "y", "x"])
    >>> [a["name"] for a in read_metadata(out)["axes"]]
    ['angle', 'y', 'x']
    """
    path = Path(path).expanduser()
    fmt = _write_format(path)
    if key is not None and fmt not in ("zarr", "hdf5"):
        raise ValueError(f"key={key!r} is only used for .zarr and .h5 outputs, not {path.name!r}")
    array = _to_dask(data)
    try:
        json.dumps(attrs)
    except TypeError as exc:
        raise TypeError(f"attrs must be JSON-serialisable: {exc}") from exc
    given_axes = axes is not None
    axes = normalize_axes(axes, array.ndim)
    if fmt == "zarr" and axes is not None and 2 <= array.ndim <= 5:
        from detcal.io._axes import check_ngff

        check_ngff(axes)
    target = path.resolve()
    for source in _inputs_of(data):
        if source == target or target in source.parents:
            raise ValueError(f"cannot save onto the input it is read from: {str(path)!r}")
    check_output(path, overwrite=overwrite)
    options: dict[str, Any] = {"pyramid": pyramid} if fmt == "zarr" else {}
    if fmt == "zarr" or given_axes:
        options["axes"] = axes
    with atomic_output(path) as tmp:
        _backend(fmt).write(
            array, tmp, key=key, attrs=attrs, labels=labels, progress=progress, **options
        )
    return path


def save_arrays(
    arrays: dict[str, Any],
    path: str | os.PathLike,
    *,
    attrs: dict[str, dict[str, Any]] | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Save several arrays into one ``.zarr`` group or ``.h5`` file, atomically.

    Used for files that hold a set, such as a DXchange scan (``exchange/data``,
    ``exchange/data_white``, ``exchange/data_dark``, ``exchange/theta``). The arrays are
    plain (no pyramid) and written in one dask computation, each chunk once.

    Parameters
    ----------
    arrays : dict of str to array
        Key (a path such as ``"exchange/data"``) -> numpy or dask array.
    path : str or path-like
        ``.zarr``, ``.h5`` or ``.hdf5``.
    attrs : dict of str to dict, optional
        Key -> JSON-serialisable attributes stored on that array (e.g. ``{"units":
        "degrees"}``), read back by ``read_metadata(path, key=key)``.
    overwrite : bool, default False
        Replace an existing ``path``.
    progress : callable, optional
        ``progress(done, total)``; it may raise to stop the save.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        ``path`` is not ``.zarr``/``.h5``, ``arrays`` is empty, or ``path`` is an input.
    TypeError
        An entry is not an array, or ``attrs`` is not JSON-serialisable.
    OutputExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> out = save_arrays({"exchange/data": np.zeros((4, 2, 8)), "exchange/theta":
    ...                    np.arange(4.0)}, tempfile.mkdtemp() + "/scan.zarr",
    ...                   attrs={"exchange/theta": {"units": "degrees"}})
    >>> list_keys(out), read_metadata(out, key="exchange/theta")["units"]
    (['exchange/data', 'exchange/theta'], 'degrees')
    """
    path = Path(path).expanduser()
    fmt = _write_format(path)
    if fmt not in ("zarr", "hdf5"):
        raise ValueError(
            f"path: {path.name!r} can hold one array only; save several arrays to .zarr or .h5"
        )
    if not arrays:
        raise ValueError("arrays: expected at least one array, got none")
    dasked = {str(key): _to_dask(array) for key, array in arrays.items()}
    attrs = dict(attrs or {})
    try:
        json.dumps(attrs)
    except TypeError as exc:
        raise TypeError(f"attrs must be JSON-serialisable: {exc}") from exc
    target = path.resolve()
    for array in arrays.values():
        for source in _inputs_of(array):
            if source == target or target in source.parents:
                raise ValueError(f"cannot save onto the input it is read from: {str(path)!r}")
    check_output(path, overwrite=overwrite)
    with atomic_output(path) as tmp:
        _backend(fmt).write_group(dasked, tmp, attrs=attrs, progress=progress)
    return path


def read_array(path: str | os.PathLike, *, key: str | None = None):
    """Read a small stored array whole into numpy, without dask (angles, a dark image).

    Parameters
    ----------
    path : str or path-like
        Any file :func:`open_array` reads.
    key : str, optional
        As in :func:`open_array`.

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> read_array(real_data_path() / "tooth.h5", key="exchange/theta").shape
    (181,)
    """
    import numpy as np

    path = _existing(path)
    fmt = format_of(path)
    source, _ = _call(fmt, path, _backend(fmt).open_source, path, key)
    return np.asarray(Source(source, path)[tuple(slice(None) for _ in source.shape)])


def describe(path: str | os.PathLike, *, key: str | None = None) -> dict[str, Any]:
    """Describe what a file holds without reading pixels (and without importing dask).

    Parameters
    ----------
    path : str or path-like
        Any file :func:`open_array` reads.
    key : str, optional
        As in :func:`open_array`.

    Returns
    -------
    dict
        ``path``, ``format``, ``keys`` (container files), ``shape``, ``dtype`` (str),
        ``chunks`` (the storage chunks, None when stored contiguous), ``nbytes``, ``levels``
        (shapes of an OME-Zarr pyramid, highest first), ``axes`` (when stored) and ``detcal``
        (the parameters :func:`save_array` stored, or None).

    Raises
    ------
    AmbiguousKeyError
        A container holding several arrays and no ``key`` (a ``ValueError``).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> info = describe(real_data_path() / "tooth.h5", key="exchange/theta")
    >>> info["shape"], info["dtype"]
    ([181], 'float64')
    """
    path = _existing(path)
    fmt = format_of(path)
    backend = _backend(fmt)
    if key is not None and fmt not in _KEYED:
        raise ValueError(f"key={key!r} given but a {fmt} file holds a single array: {path}")
    keys = list_keys(path)
    if fmt == "zarr":
        levels = _call(fmt, path, backend.open_level_sources, path, key)
    else:
        levels = [(key, _call(fmt, path, backend.open_source, path, key))]
    source, native = levels[0][1]
    shape = [int(n) for n in source.shape]
    itemsize = Source(source, path).dtype.itemsize
    metadata = read_metadata(path, key=key)
    out: dict[str, Any] = {
        "path": str(path),
        "format": fmt,
        "keys": keys,
        "shape": shape,
        "dtype": str(source.dtype),
        "chunks": None if native is None else [int(c) for c in native],
        "nbytes": itemsize * _product(shape),
        "levels": [[int(n) for n in s.shape] for _, (s, _) in levels],
        "detcal": metadata.get("detcal"),
    }
    if isinstance(metadata.get("axes"), list):
        out["axes"] = metadata["axes"]
    return out


def _product(values) -> int:
    total = 1
    for v in values:
        total *= int(v)
    return total
