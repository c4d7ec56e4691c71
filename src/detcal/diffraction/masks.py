"""Masks (True = ignore) from drawn shapes, and mask files.

:func:`shapes_to_mask` rasterises the data of a napari Shapes layer (vertex arrays and shape
types) with plain geometry, no napari needed: rectangles and polygons fill the pixels whose
centres lie inside, ellipses are drawn from their four bounding-box corners, lines and paths
become bands of their width with round joins (a beam stop's arm). :func:`save_mask` and
:func:`load_mask` keep masks as files through :mod:`detcal.io`, and :func:`load_mask` also
reads napari's Shapes CSV export and a small JSON list of shapes.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import numpy as np
from skimage.draw import disk, ellipse, polygon

from detcal import _validate
from detcal.io import open_array, save_array

SHAPE_TYPES = ("rectangle", "polygon", "ellipse", "line", "path")
SHAPE_SUFFIXES = (".csv", ".json")


def _fill(out: np.ndarray, vertices: np.ndarray) -> None:
    rr, cc = polygon(vertices[:, 0], vertices[:, 1], out.shape)
    out[rr, cc] = True


def _ellipse(out: np.ndarray, corners: np.ndarray) -> None:
    centre = corners.mean(axis=0)
    side_a, side_b = corners[1] - corners[0], corners[2] - corners[1]
    rotation = np.arctan2(side_b[1], side_b[0])  # skimage: angle of the row axis towards col
    rr, cc = ellipse(
        centre[0], centre[1], np.hypot(*side_b) / 2, np.hypot(*side_a) / 2, out.shape,
        rotation=rotation,
    )  # fmt: skip
    out[rr, cc] = True


def _band(out: np.ndarray, vertices: np.ndarray, width: float) -> None:
    half = width / 2
    for point in vertices:
        rr, cc = disk(tuple(point), half, shape=out.shape)
        out[rr, cc] = True
    for start, stop in zip(vertices[:-1], vertices[1:], strict=True):
        along = stop - start
        length = np.hypot(*along)
        if length == 0:
            continue
        across = np.array([-along[1], along[0]]) / length * half
        _fill(out, np.array([start + across, stop + across, stop - across, start - across]))


def shapes_to_mask(data, shape_types, shape, *, widths=1.0) -> np.ndarray:
    """Rasterise drawn shapes (a napari Shapes layer's data) into a mask, True inside.

    Parameters
    ----------
    data : list of array-like
        One (n_vertices, D) array of vertex coordinates per shape, as napari's
        ``Shapes.data``; the last two columns are (row, col).
    shape_types : str or list of str
        Each shape's type (napari's ``Shapes.shape_type``): "rectangle", "polygon",
        "ellipse" (its 4 bounding-box corners), "line" or "path".
    shape : (int, int)
        (row, col) shape of the mask.
    widths : float or list of float, default 1.0
        Width in pixels of each line and path (napari's ``Shapes.edge_width``).

    Returns
    -------
    numpy.ndarray of bool
        (row, col) mask, True = ignore.

    Raises
    ------
    ValueError
        No shapes, an unknown shape type, vertices that are not (n, >= 2), lengths that differ.

    Examples
    --------
    >>> mask = shapes_to_mask([[[1, 1], [1, 3], [3, 3], [3, 1]]], ["rectangle"], (5, 5))
    >>> int(mask.sum())
    9
    """
    shapes = list(data)
    if not shapes:
        raise ValueError("shapes: the Shapes layer is empty; draw the beam block first")
    rows, cols = _validate.numbers_tuple(shape, "shape", length=2, integer_values=True)
    kinds = [shape_types] * len(shapes) if isinstance(shape_types, str) else list(shape_types)
    sizes = np.broadcast_to(np.asarray(widths, dtype=np.float64), (len(shapes),))
    if len(kinds) != len(shapes):
        raise ValueError(f"shape_types: expected {len(shapes)} types, got {len(kinds)}")
    out = np.zeros((rows, cols), dtype=bool)
    for k, (vertices, kind, width) in enumerate(zip(shapes, kinds, sizes, strict=True)):
        vertices = np.asarray(vertices, dtype=np.float64)
        if vertices.ndim != 2 or vertices.shape[1] < 2 or len(vertices) == 0:
            raise ValueError(
                f"data[{k}]: expected (n_vertices, 2) coordinates, got {vertices.shape}"
            )
        vertices = vertices[:, -2:]
        _validate.choice(kind, f"shape_types[{k}]", SHAPE_TYPES)
        if kind in ("rectangle", "polygon"):
            _fill(out, vertices)
        elif kind == "ellipse":
            _ellipse(out, vertices)
        else:
            _band(out, vertices, _validate.positive(width, f"widths[{k}]"))
    return out


def save_mask(mask, path, *, overwrite=False) -> Path:
    """Save a mask (True = ignore) as uint8 0/1 with :func:`detcal.io.save_array`, atomically.

    Parameters
    ----------
    mask : array-like of bool
        (row, col) mask.
    path : str or path-like
        ``.tif``, ``.npy``, ``.zarr`` or ``.h5``.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Not a 2-D mask, or an unknown suffix.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> path = save_mask(np.eye(3, dtype=bool), tempfile.mkdtemp() + "/mask.npy")
    >>> int(load_mask(path).sum())
    3
    """
    values = np.asarray(mask)
    _validate.real_dtype(values, "mask", kinds="buif")
    if values.ndim != 2 or values.size == 0:
        raise ValueError(f"mask: expected a (row, col) mask, got shape {values.shape}")
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=1.0)
    return save_array(values.astype(bool).astype(np.uint8), path, overwrite=overwrite,
                      attrs={"mask": "True (1) = ignore"})  # fmt: skip


def _read_csv(path: Path) -> tuple[list, list]:
    shapes: dict[int, list] = {}
    kinds: dict[int, str] = {}
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        columns = reader.fieldnames or []
        axes = sorted((c for c in columns if c.startswith("axis-")), key=lambda c: int(c[5:]))
        if "index" not in columns or "shape-type" not in columns or len(axes) < 2:
            raise ValueError(
                f"mask: {str(path)!r} is not a napari Shapes CSV (columns index, shape-type, "
                f"vertex-index, axis-0, axis-1); got columns {columns}"
            )
        for line in reader:
            index = int(line["index"])
            kinds[index] = line["shape-type"]
            shapes.setdefault(index, []).append([float(line[a]) for a in axes[-2:]])
    order = sorted(shapes)
    return [shapes[i] for i in order], [kinds[i] for i in order]


def _read_json(path: Path) -> tuple[list, list, list]:
    try:
        items = json.loads(path.read_text())
        return (
            [item["vertices"] for item in items],
            [item["type"] for item in items],
            [item.get("width") for item in items],
        )
    except (json.JSONDecodeError, TypeError, KeyError) as exc:
        raise ValueError(
            f"mask: {str(path)!r} is not a list of shapes "
            f'[{{"type": ..., "vertices": [[row, col], ...], "width": ...}}]: {exc}'
        ) from None


def load_mask(path, *, shape=None, line_width=5.0) -> np.ndarray:
    """Read a mask (True = ignore) from an array file or from drawn shapes.

    Parameters
    ----------
    path : str or path-like
        An array file :func:`detcal.io.open_array` reads (nonzero or NaN = ignore; a single
        plane of a stack is accepted), napari's Shapes CSV export (``.csv``: columns index,
        shape-type, vertex-index, axis-0, axis-1) or a ``.json`` list of shapes
        ``[{"type": "path", "vertices": [[row, col], ...], "width": 12}, ...]``.
    shape : (int, int), optional
        (row, col) shape of the image; required for shapes, checked for arrays.
    line_width : float, default 5.0
        Width in pixels of lines and paths that carry none (the CSV has no widths).

    Returns
    -------
    numpy.ndarray of bool
        (row, col) mask.

    Raises
    ------
    ValueError
        Not a mask, shapes without ``shape``, no shapes, or a mask of another shape.
    FileNotFoundError
        ``path`` does not exist.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "shapes.json"
    >>> _ = path.write_text('[{"type": "line", "vertices": [[2, 0], [2, 9]], "width": 3}]')
    >>> int(load_mask(path, shape=(5, 10)).sum())
    30
    """
    path = Path(os.fspath(path)).expanduser()
    if path.suffix.lower() in SHAPE_SUFFIXES:
        if not path.is_file():
            raise FileNotFoundError(f"no such file: {str(path)!r}")
        if shape is None:
            raise ValueError("shape: the (row, col) shape of the image is needed to draw shapes")
        if path.suffix.lower() == ".csv":
            data, kinds = _read_csv(path)
            widths = [line_width] * len(data)
        else:
            data, kinds, widths = _read_json(path)
            widths = [line_width if w is None else w for w in widths]
        return shapes_to_mask(data, kinds, shape, widths=widths)
    array = open_array(path)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.ndim != 2:
        raise ValueError(f"mask: expected a (row, col) mask in {str(path)!r}, got {array.shape}")
    values = np.asarray(array.compute())
    _validate.real_dtype(values, "mask", kinds="buif")
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=1.0)
    values = values != 0
    if shape is not None:
        return _validate.mask(values, "mask", shape, allow_all=True)
    return values
