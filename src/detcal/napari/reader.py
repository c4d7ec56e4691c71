"""napari reader: every format :mod:`detcal.io` reads, as lazy (dask) layers.

* OME-Zarr with levels -> one multiscale layer (labels when marked ``image-label``); the
  ``detcal`` attributes come back as ``layer.metadata["detcal"]``.
* DXchange HDF5 -> ``projections``, ``flats`` and ``darks`` layers; the angles
  (``exchange/theta``, in radians) are in the projections' ``metadata["theta"]``.
* Any container holding several arrays and no default -> one layer per 2D+ array.
* Everything else -> one image layer.

Axis names from :func:`detcal.io.read_metadata` (OME-Zarr axes, Zarr dimension names, the axes
:func:`detcal.io.save_array` stored in HDF5 and TIFF; always ``angle, row, column`` for
DXchange scans) become the layers' ``axis_labels``, and their scales the layers' ``scale``;
the default contrast comes from robust percentiles of a few planes of the smallest level.
:func:`prefer_detcal_reader` makes napari open ``.zarr`` folders with this plugin without
asking which reader to use (napari's own reader claims them too).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detcal import io
from detcal.io._common import AmbiguousKeyError
from detcal.napari._background import robust_limits

PLUGIN = "napari-detcal"
# napari matches reader preferences against the real path, with a separator after a folder
ZARR_PATTERNS = ("*.zarr/", "*.zarr")

LayerData = tuple[Any, dict[str, Any], str]
_DXCHANGE = {
    "projections": "exchange/data",
    "flats": "exchange/data_white",
    "darks": "exchange/data_dark",
}
_DXCHANGE_AXES = {"projections": "angle", "flats": "flat", "darks": "dark"}


def prefer_detcal_reader() -> bool:
    """Make napari open ``.zarr`` folders with detcal without asking, unless the user chose.

    napari raises ``MultipleReaderError`` (or shows a dialog) when two plugins can read a
    path and its settings name no preferred reader; napari's own reader accepts every folder.
    This records detcal for ``*.zarr`` in napari's ``plugins.extension2reader`` setting (the
    one napari's dialog and Preferences edit), only when no preference covers ``.zarr`` yet.

    Returns
    -------
    bool
        True when detcal is now the reader for ``.zarr`` folders.
    """
    from napari.settings import get_settings

    plugins = get_settings().plugins
    current = dict(plugins.extension2reader)
    chosen = [current[p] for p in ZARR_PATTERNS if p in current]
    if chosen:
        return all(reader == PLUGIN for reader in chosen)
    plugins.extension2reader = {**current, **dict.fromkeys(ZARR_PATTERNS, PLUGIN)}
    return True


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


def _axes_kwargs(axes: list | None, ndim: int) -> dict[str, Any]:
    """Return ``axis_labels`` (``scale``, ``translate`` when set) from the file's axes."""
    axes = [a for a in axes or [] if isinstance(a, dict) and a.get("name")]
    if len(axes) != ndim:
        return {}
    kwargs: dict[str, Any] = {"axis_labels": tuple(str(a["name"]) for a in axes)}
    scale = tuple(float(a.get("scale", 1.0)) for a in axes)
    if any(value != 1.0 for value in scale):
        kwargs["scale"] = scale
    translate = tuple(float(a.get("translation", 0.0)) for a in axes)
    if any(translate):
        kwargs["translate"] = translate
    return kwargs


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
        # one naming for every scan (DXchange files call theirs theta:y:x, or nothing)
        labels = [{"name": n} for n in (_DXCHANGE_AXES[name], "row", "column")]
        kwargs = {"name": name, "metadata": metadata, "contrast_limits": robust_limits(data),
                  **_axes_kwargs(labels, data.ndim)}  # fmt: skip
        layers.append((data, kwargs, "image"))
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
    kwargs.update(_axes_kwargs(attrs.get("axes"), levels[0].ndim))
    if layer_type == "image":
        kwargs["contrast_limits"] = robust_limits(levels[-1])
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
