"""napari reader: every format :mod:`detcal.io` reads, as lazy (dask) layers.

* OME-Zarr with levels -> one multiscale layer (labels when marked ``image-label``); the
  ``detcal`` attributes come back as ``layer.metadata["detcal"]``.
* DXchange HDF5 -> ``projections``, ``flats`` and ``darks`` layers; the angles
  (``exchange/theta``, in radians) are in the projections' ``metadata["theta"]``.
* Any container holding several arrays and no default -> one layer per 2D+ array.
* Everything else -> one image layer.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detcal import io
from detcal.io._common import AmbiguousKeyError

LayerData = tuple[Any, dict[str, Any], str]
_DXCHANGE = {
    "projections": "exchange/data",
    "flats": "exchange/data_white",
    "darks": "exchange/data_dark",
}


def get_reader(path: str | list[str]) -> Callable[[str], list[LayerData]] | None:
    """Return :func:`read` when detcal can open ``path``, else None.

    Parameters
    ----------
    path : str or list of str
        What napari was asked to open; a list is accepted when it holds one path.

    Returns
    -------
    callable or None
        The reader function.
    """
    if isinstance(path, list | tuple):
        if len(path) != 1:
            return None
        path = path[0]
    try:
        io.format_of(path)
    except (ValueError, FileNotFoundError):
        return None
    return read


def _theta_radians(path: Path) -> list[float] | None:
    if "exchange/theta" not in io.list_keys(path):
        return None
    theta = io.open_array(path, key="exchange/theta").compute().astype(float).ravel()
    units = str(io.read_metadata(path, key="exchange/theta").get("units", "degrees"))
    if not units.lower().startswith("rad"):
        theta = np.deg2rad(theta)
    return theta.tolist()


def _dxchange(path: Path) -> list[LayerData]:
    keys = io.list_keys(path)
    theta = _theta_radians(path)
    layers = []
    for name, key in _DXCHANGE.items():
        if key not in keys:
            continue
        metadata: dict[str, Any] = {"source": {"path": str(path), "key": key}}
        if name == "projections" and theta is not None:
            metadata["theta"] = theta
        data = io.open_array(path, key=key)
        layers.append((data, {"name": name, "metadata": metadata}, "image"))
    return layers


def _one(path: Path, key: str | None, name: str) -> LayerData:
    levels = io.open_levels(path, key=key)
    attrs = io.read_metadata(path, key=key)
    ome = attrs.get("ome") if isinstance(attrs.get("ome"), dict) else attrs
    layer_type = "labels" if "image-label" in ome else "image"
    metadata: dict[str, Any] = {"source": {"path": str(path), "key": key}}
    if "detcal" in attrs:
        metadata["detcal"] = attrs["detcal"]
    kwargs: dict[str, Any] = {"name": name, "metadata": metadata}
    if len(levels) > 1:
        kwargs["multiscale"] = True
        return levels, kwargs, layer_type
    return levels[0], kwargs, layer_type


def read(path: str) -> list[LayerData]:
    """Open ``path`` as lazy napari layers.

    Parameters
    ----------
    path : str
        A file or folder :func:`detcal.io.open_array` reads.

    Returns
    -------
    list of tuple
        ``(data, kwargs, layer_type)`` per layer; ``data`` is a dask array, or a list of them
        (highest resolution first) for a multiscale image.
    """
    path = Path(path)
    name = path.stem if path.suffix else path.name
    if io.format_of(path) == "hdf5" and _DXCHANGE["projections"] in io.list_keys(path):
        return _dxchange(path)
    try:
        return [_one(path, None, name)]
    except AmbiguousKeyError:
        keys = io.list_keys(path)
    layers = []
    for key in keys:
        if io.open_array(path, key=key).ndim >= 2:
            layers.append(_one(path, key, f"{name} {key}"))
    return layers
