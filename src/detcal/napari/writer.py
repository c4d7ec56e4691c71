"""napari writer: image and labels layers to OME-Zarr through :func:`detcal.io.save_array`.

The layer's ``metadata["detcal"]`` (the parameters of the step that made it) is stored in the
Zarr attributes under ``"detcal"``; the pyramid is rebuilt from the full-resolution data.
napari's save dialog asks before replacing a file, so an existing output is overwritten.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from detcal.io import save_array
from detcal.napari._background import _jsonable


def layer_attrs(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """Return the JSON-friendly ``"detcal"`` entry of a layer's metadata, if any.

    Parameters
    ----------
    metadata : dict or None
        ``layer.metadata``.

    Returns
    -------
    dict or None
        What goes into the Zarr attributes under ``"detcal"``.
    """
    value = (metadata or {}).get("detcal")
    return None if value is None else _jsonable(value)


def _write(path: str, data: Any, meta: dict[str, Any], *, labels: bool) -> list[str]:
    out = Path(path)
    if out.suffix.lower() != ".zarr":
        out = out.with_name(out.name + ".zarr")
    if meta.get("multiscale"):
        data = data[0]
    attrs = layer_attrs(meta.get("metadata"))
    save_array(data, out, overwrite=True, attrs=attrs, labels=labels)
    return [str(out)]


def write_image(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write an image layer as OME-Zarr.

    Parameters
    ----------
    path : str
        Destination (``.zarr`` is appended when missing).
    data : array-like or list of array-like
        Layer data (for a multiscale layer, the levels; the first is written).
    meta : dict
        Layer attributes from napari (``metadata``, ``multiscale``...).

    Returns
    -------
    list of str
        The path written.
    """
    return _write(path, data, meta, labels=False)


def write_labels(path: str, data: Any, meta: dict[str, Any]) -> list[str]:
    """Write a labels layer as OME-Zarr (pyramid by nearest pixel, marked image-label).

    Parameters
    ----------
    path : str
        Destination (``.zarr`` is appended when missing).
    data : array-like or list of array-like
        Layer data.
    meta : dict
        Layer attributes from napari.

    Returns
    -------
    list of str
        The path written.
    """
    return _write(path, data, meta, labels=True)
