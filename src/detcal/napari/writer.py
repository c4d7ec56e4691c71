"""napari writer: image and labels layers to OME-Zarr through :func:`detcal.io.save_array`.

The layer's ``metadata["detcal"]`` (the parameters of the step that made it) is stored in the
Zarr attributes under ``"detcal"``, its axis labels and scale as the NGFF axes; the pyramid is
rebuilt from the full-resolution data. napari's save dialog asks before replacing a file, so
an existing output is overwritten.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from detcal.io import save_array
from detcal.io._axes import DEFAULT_NAMES
from detcal.napari._background import describe_params


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
    return None if value is None else describe_params(value)


def layer_axes(
    ndim: int,
    axis_labels: Sequence[str] | None,
    scale: Sequence[float] | None,
    translate: Sequence[float] | None = None,
) -> list[dict[str, Any]]:
    """Describe a layer's axes for :func:`detcal.io.save_array` (``axes=``).

    napari's default labels (``"-3"``, ``"-2"``...) give way to the OME-NGFF default names;
    the last two axes are spatial.

    Parameters
    ----------
    ndim : int
        Number of dimensions of the layer.
    axis_labels : sequence of str or None
        ``layer.axis_labels``.
    scale : sequence of float or None
        ``layer.scale``.
    translate : sequence of float or None
        ``layer.translate`` (written as the NGFF translation).

    Returns
    -------
    list of dict
        One ``{"name", "scale"[, "type", "translation"]}`` per axis.

    Examples
    --------
    >>> layer_axes(3, ("-3", "-2", "-1"), (2.0, 0.5, 0.5))[0]
    {'name': 'z', 'scale': 2.0}
    >>> [a["name"] for a in layer_axes(3, ("angle", "row", "column"), None)]
    ['angle', 'row', 'column']
    """
    labels = list(axis_labels or [str(i - ndim) for i in range(ndim)])
    defaults = DEFAULT_NAMES.get(ndim) or [f"dim_{i}" for i in range(ndim)]
    napari_default = all(label == str(i - ndim) for i, label in enumerate(labels))
    axes = []
    for i in range(ndim):
        axis: dict[str, Any] = {"name": defaults[i] if napari_default else str(labels[i])}
        axis["scale"] = float(scale[i]) if scale is not None else 1.0
        if translate is not None and translate[i]:
            axis["translation"] = float(translate[i])
        if i >= ndim - 2 and not napari_default:
            axis["type"] = "space"
        axes.append(axis)
    return axes


def _write(path: str, data: Any, meta: dict[str, Any], *, labels: bool) -> list[str]:
    out = Path(path)
    if out.suffix.lower() != ".zarr":
        out = out.with_name(out.name + ".zarr")
    if meta.get("multiscale"):
        data = data[0]
    attrs = layer_attrs(meta.get("metadata"))
    axes = layer_axes(data.ndim, meta.get("axis_labels"), meta.get("scale"), meta.get("translate"))
    save_array(data, out, overwrite=True, attrs=attrs, labels=labels, axes=axes)
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
