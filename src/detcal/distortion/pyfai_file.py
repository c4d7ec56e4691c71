"""Read and write pyFAI's NeXus detector file (the layout ``pyFAI.detectors.Detector.save`` writes).

``/entry_0000`` (NXentry: ``program_name``, ``start_time``, ``end_time``) / ``pyFAI``
(NXsubentry: ``definition_local = "pyFAI"``) / ``<name>`` (NXdetector) holding
``pixel_size`` [pixel1, pixel2] in metres, ``max_shape``, ``shape``, ``binning``, ``mask``
(int8, 1 = masked), ``pixel_corners`` float32 (rows, cols, 4, 3): for each pixel its corners
A (i, j), B (i + 1, j), C (i + 1, j + 1), D (i, j + 1) as (z, y, x) in metres, and the flags
``API_VERSION``, ``IS_FLAT``, ``IS_CONTIGUOUS``, ``CORNERS``, ``force_pixel``,
``orientation``. ``pyFAI.detector_factory(path)`` loads it as a ``NexusDetector``.

detcal adds an NXcollection ``/entry_0000/detcal`` with the calibration's spots, grid indices
and lattice; pyFAI ignores it.
"""

from __future__ import annotations

import time
from pathlib import Path

import h5py
import numpy as np

from detcal.io import atomic_output

DETECTOR_NAME = "detcal_distortion"
_API_VERSION = "1.2"


def _isotime() -> str:
    """Return the current time in pyFAI's ISO 8601 form (``2024-01-31T12:00:00+01:00``)."""
    now = time.time()
    offset = time.localtime(now).tm_gmtoff // 60
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset), 60)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.localtime(now)) + f"{sign}{hours:02d}:{minutes:02d}"
    )


def write_detector(
    path: str | Path,
    corners: np.ndarray,
    mask: np.ndarray,
    pixel_size: tuple[float, float],
    extras: dict[str, np.ndarray] | None = None,
) -> Path:
    """Write a pyFAI NeXus detector file atomically.

    Parameters
    ----------
    path : str or path-like
        Destination (``.h5``); replaced only once the new file is complete.
    corners : numpy.ndarray
        (2, rows + 1, cols + 1) position (row, col) of each pixel corner in pyFAI's pixel
        units (corner ``(i, j)`` of an undistorted detector at ``(i, j)``).
    mask : numpy.ndarray
        (rows, cols) bool, True = masked.
    pixel_size : (float, float)
        pixel1 (rows) and pixel2 (columns) in metres.
    extras : dict, optional
        Arrays stored in ``/entry_0000/detcal``.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    path = Path(path)
    y = corners[0] * pixel_size[0]
    x = corners[1] * pixel_size[1]
    rows, cols = mask.shape
    vertices = np.zeros((rows, cols, 4, 3), dtype=np.float32)
    for k, (di, dj) in enumerate(((0, 0), (1, 0), (1, 1), (0, 1))):  # A, B, C, D
        vertices[:, :, k, 1] = y[di : di + rows, dj : dj + cols]
        vertices[:, :, k, 2] = x[di : di + rows, dj : dj + cols]
    stamp = _isotime()
    packed = {"compression": "gzip", "compression_opts": 9, "shuffle": True}
    with atomic_output(path) as tmp, h5py.File(tmp, "w") as h5:
        h5.attrs.update(
            NX_class="NXroot", file_time=stamp, file_name=str(path.resolve()),
            HDF5_Version=h5py.version.hdf5_version, creator="detcal", default="entry_0000",
        )  # fmt: skip
        entry = h5.create_group("entry_0000")
        entry.attrs["NX_class"] = "NXentry"
        entry["program_name"] = "detcal"
        entry["start_time"] = stamp
        entry["end_time"] = stamp
        sub = entry.create_group("pyFAI")
        sub.attrs["NX_class"] = "NXsubentry"
        sub["definition_local"] = "pyFAI"
        det = sub.create_group(DETECTOR_NAME)
        det.attrs["NX_class"] = "NXdetector"
        det["API_VERSION"] = np.bytes_(_API_VERSION)
        det["IS_FLAT"] = True
        det["IS_CONTIGUOUS"] = True
        det["CORNERS"] = 4
        det.create_dataset("pixel_size", data=np.array(pixel_size, np.float64)).attrs["unit"] = "m"
        det["force_pixel"] = False
        for name in ("max_shape", "shape"):
            det[name] = np.array([rows, cols], dtype=np.int32)
        det["binning"] = np.array([1, 1], dtype=np.int32)
        det["orientation"] = np.int32(3)
        det["orientation"].attrs["value"] = "BottomRight"
        det.create_dataset("mask", data=mask.astype(np.int8), **packed).attrs["interpretation"] = (
            "image"
        )
        det.create_dataset("pixel_corners", data=vertices, **packed).attrs["interpretation"] = (
            "vertex"
        )
        if extras:
            group = entry.create_group("detcal")
            group.attrs["NX_class"] = "NXcollection"
            for name, value in extras.items():
                group[name] = value
    return path


def read_detector(path: str | Path) -> dict:
    """Read the first pyFAI NeXus detector of a file.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`write_detector` or by pyFAI's ``Detector.save``.

    Returns
    -------
    dict
        ``corners`` (2, rows + 1, cols + 1) in pixel units (None for a detector without
        ``pixel_corners``), ``mask`` (rows, cols) bool, ``pixel_size`` (pixel1, pixel2) in
        metres, ``shape`` and ``extras`` (the ``detcal`` group's arrays, possibly empty).

    Raises
    ------
    ValueError
        No NXdetector in the file, or corners that are not four per pixel.
    """
    path = Path(path)
    with h5py.File(path, "r") as h5:
        det = _find_detector(h5)
        if det is None:
            raise ValueError(f"path: no pyFAI NXdetector found in {str(path)!r}")
        pixel1, pixel2 = (float(v) for v in det["pixel_size"][()])
        shape = tuple(int(v) for v in det["shape"][()])
        mask = det["mask"][()].astype(bool) if "mask" in det else np.zeros(shape, bool)
        corners = None
        if "pixel_corners" in det:
            vertices = det["pixel_corners"][()]
            if vertices.shape != (*shape, 4, 3):
                raise ValueError(
                    f"path: expected pixel_corners of shape {(*shape, 4, 3)}, got "
                    f"{vertices.shape} in {str(path)!r}"
                )
            corners = np.empty((2, shape[0] + 1, shape[1] + 1))
            for axis, size in ((1, pixel1), (2, pixel2)):
                grid = corners[axis - 1]
                grid[:-1, :-1] = vertices[:, :, 0, axis]
                grid[-1, :-1] = vertices[-1, :, 1, axis]
                grid[-1, -1] = vertices[-1, -1, 2, axis]
                grid[:-1, -1] = vertices[:, -1, 3, axis]
                grid /= size
        extras = {}
        group = det.parent.parent.get("detcal")
        if group is not None:
            extras = {name: group[name][()] for name in group}
    return {
        "corners": corners,
        "mask": mask,
        "pixel_size": (pixel1, pixel2),
        "shape": shape,
        "extras": extras,
    }


def _find_detector(h5: h5py.File):
    """Find the first NXdetector under an NXentry's NXsubentry or NXinstrument (pyFAI's search)."""

    def of_class(group, name):
        return [g for g in group.values() if isinstance(g, h5py.Group)
                and _nx_class(g) == name]  # fmt: skip

    for entry in of_class(h5, "NXentry"):
        for holder in of_class(entry, "NXsubentry") + of_class(entry, "NXinstrument"):
            found = of_class(holder, "NXdetector")
            if found:
                return found[0]
    return None


def _nx_class(group) -> str:
    value = group.attrs.get("NX_class", "")
    return value.decode() if isinstance(value, bytes) else str(value)
