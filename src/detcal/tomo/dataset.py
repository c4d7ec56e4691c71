"""A raw tomography scan, opened lazily: DXchange HDF5 or Zarr in, DXchange HDF5 out.

The projections are opened as a dask array in blocks of ``slab`` detector rows and about
1 MiB, read straight from the file (no re-ordering), so that one row's sinogram reads about
that row's share of a projection-ordered file and a whole run reads each row block once.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.io import atomic_output, check_output, list_keys, open_array

#: DXchange dataset names, looked up under ``exchange/`` first, then at the top level.
_NAMES = {"projections": "data", "flats": "data_white", "darks": "data_dark", "theta": "theta"}
#: Suffixes of the files a scan is read from.
_SUFFIXES = (".h5", ".hdf5", ".hdf", ".nxs", ".zarr")
#: Target size of one block of projections (rows x columns x angles), bytes.
_BLOCK_BYTES = 2**20


@dataclass
class TomoDataset:
    """A raw scan, opened lazily.

    Attributes
    ----------
    projections : dask.array.Array, (angle, row, col)
        Raw projections, in blocks of a few rows (see :func:`projection_chunks`).
    flats, darks : dask.array.Array or None, (n, row, col)
        Open-beam and dark images.
    theta : numpy.ndarray, (angle,)
        Angles in radians.
    path : pathlib.Path or None
        File the scan came from.
    """

    projections: da.Array
    flats: da.Array | None
    darks: da.Array | None
    theta: np.ndarray
    path: Path | None = None


def projection_chunks(shape: tuple[int, int, int], itemsize: int, slab: int) -> tuple:
    """Return the dask chunks of a scan: ``slab`` rows, all columns, about 1 MiB per block.

    Parameters
    ----------
    shape : (int, int, int)
        (angle, row, col) shape of the projections.
    itemsize : int
        Bytes per pixel.
    slab : int
        Rows per block.

    Returns
    -------
    tuple
        ``(angles, slab, columns)`` per block.

    Examples
    --------
    >>> projection_chunks((1800, 2048, 2048), 2, 8)
    (32, 8, 2048)
    """
    n_angles, n_rows, n_cols = shape
    rows = max(1, min(int(slab), n_rows))
    angles = max(1, min(n_angles, _BLOCK_BYTES // max(1, rows * n_cols * itemsize)))
    return (angles, rows, n_cols)


def open_dataset(
    path: str | os.PathLike,
    *,
    slab: int = 8,
    theta_units: str = "deg",
    angle_range: float = 180.0,
) -> TomoDataset:
    """Open a DXchange HDF5 file or a Zarr group of the same layout, lazily.

    Parameters
    ----------
    path : str or path-like
        ``.h5``/``.hdf5`` with ``exchange/data``, ``exchange/data_white``,
        ``exchange/data_dark`` and ``exchange/theta`` (or the same names at the top level,
        which is also how a Zarr group is read).
    slab : int
        Rows per block of the returned projections.
    theta_units : {"deg", "rad"}
        Units of the stored angles (DXchange stores degrees).
    angle_range : float
        Degrees covered when the file has no angles (evenly spaced, end excluded).

    Returns
    -------
    TomoDataset
        Projections, flats and darks as dask arrays; angles in radians.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no projections, or an array has the wrong number of dimensions.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = open_dataset(real_data_path() / "tooth.h5")
    >>> scan.projections.shape, round(float(scan.theta[1]), 4)
    ((181, 2, 640), 0.0174)
    """
    slab = _validate.integer(slab, "slab", minimum=1)
    theta_units = _validate.choice(theta_units, "theta_units", ("deg", "rad"))
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input_path: {str(path)!r} does not exist")
    if path.suffix.lower() not in _SUFFIXES:
        raise ValueError(
            f"input_path: expected a DXchange HDF5 file (.h5, .hdf5) or a Zarr group (.zarr), "
            f"got {path.name!r}"
        )
    keys = set(list_keys(path))

    def find(name: str) -> str | None:
        for key in (f"exchange/{name}", name):
            if key in keys:
                return key
        return None

    data_key = find(_NAMES["projections"])
    if data_key is None:
        raise ValueError(
            f"input_path: {str(path)!r} holds no projections: expected exchange/data "
            f"(DXchange) or data; found {sorted(keys)}"
        )
    proj = open_array(path, key=data_key)
    if proj.ndim != 3:
        raise ValueError(f"{data_key}: expected 3D (angle, row, col), got shape {proj.shape}")
    proj = open_array(path, key=data_key, chunks=projection_chunks(proj.shape, proj.itemsize, slab))
    refs = {}
    for name in ("flats", "darks"):
        key = find(_NAMES[name])
        ref = None if key is None else open_array(path, key=key)
        refs[name] = ref[None] if ref is not None and ref.ndim == 2 else ref
    theta_key = find(_NAMES["theta"])
    if theta_key is None:
        n = proj.shape[0]
        theta = np.arange(n) * (math.radians(angle_range) / n)
    else:
        theta = np.asarray(open_array(path, key=theta_key).compute(), dtype=np.float64)
        theta = theta.reshape(-1)
        if theta_units == "deg":
            theta = np.deg2rad(theta)
    return TomoDataset(proj, refs["flats"], refs["darks"], theta, path)


def dataset_from_arrays(
    projections: Any, flats: Any, darks: Any, theta: Any, *, slab: int = 8
) -> TomoDataset:
    """Wrap in-memory (or dask) arrays as a lazy scan, like :func:`open_dataset` does a file.

    Parameters
    ----------
    projections : array-like, (angle, row, col)
        Raw projections.
    flats, darks : array-like, (row, col) or (n, row, col)
        Open-beam and dark images.
    theta : array-like, (angle,)
        Angles in radians.
    slab : int
        Rows per block of the projections.

    Returns
    -------
    TomoDataset
        The scan, with no file path.

    Raises
    ------
    ValueError
        If the projections are not 3D or an array is empty.
    TypeError
        If an array is not numeric.

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> s = make_tomography(n_angles=30, n_rows=2, n_cols=32)
    >>> dataset_from_arrays(s.projections, s.flats, s.darks, s.theta).projections.chunks[1]
    (2,)
    """
    slab = _validate.integer(slab, "slab", minimum=1)
    proj = _validate.array(projections, "projections", ndim=3, axes="(angle, row, column)")
    chunks = projection_chunks(proj.shape, proj.dtype.itemsize, slab)
    proj = proj.rechunk(chunks) if _validate.is_dask(proj) else da.from_array(proj, chunks)
    refs = []
    for name, ref in (("flats", flats), ("darks", darks)):
        ref = da.asarray(_validate.array(ref, name, ndim=(2, 3)))
        refs.append(ref[None] if ref.ndim == 2 else ref)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    return TomoDataset(proj, refs[0], refs[1], theta)


def write_dxchange(
    path: str | os.PathLike,
    projections: Any,
    flats: Any,
    darks: Any,
    theta: Any,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a raw scan as a DXchange HDF5 file (angles stored in degrees), atomically.

    Parameters
    ----------
    path : str or path-like
        Destination ``.h5``/``.hdf5`` file.
    projections : array-like, (angle, row, col)
        Raw projections (``exchange/data``).
    flats, darks : array-like, (n, row, col)
        Open-beam and dark images (``exchange/data_white``, ``exchange/data_dark``).
    theta : array-like, (angle,)
        Angles in radians (written in degrees, the DXchange convention).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Wrong suffix or dimensions.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from detcal.sample_data.tomography import make_tomography
    >>> s = make_tomography(n_angles=30, n_rows=2, n_cols=32)
    >>> out = write_dxchange(tempfile.mkdtemp() + "/scan.h5", s.projections, s.flats,
    ...                      s.darks, s.theta)
    >>> open_dataset(out).projections.shape
    (30, 2, 32)
    """
    import h5py

    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"path: expected a name ending in .h5 or .hdf5, got {path.name!r}")
    check_output(path, overwrite=overwrite)
    arrays = {
        "data": _validate.array(projections, "projections", ndim=3),
        "data_white": _validate.array(flats, "flats", ndim=3),
        "data_dark": _validate.array(darks, "darks", ndim=3),
    }
    degrees = np.rad2deg(np.asarray(theta, dtype=np.float64))
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as handle:
        group = handle.create_group("exchange")
        for name, array in arrays.items():
            group.create_dataset(name, data=np.asarray(array))
        group.create_dataset("theta", data=degrees)
    return path
