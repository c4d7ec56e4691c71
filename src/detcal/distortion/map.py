"""The calibrated distortion: a displacement field over every pixel, applied and saved.

Sign convention (the same as :mod:`detcal.sample_data.hole_grid`): a point that belongs at
``q = (row, col)`` on the ideal, undistorted detector is recorded at ``q + field(q)``, with
``field = (dy, dx)`` in pixels, evaluated on the ideal (corrected) grid, pixel ``(i, j)``
centred at ``(i, j)``. pyFAI describes the opposite mapping: the corrected position of each raw
pixel corner, ``(i + dy, j + dx)`` in units where pixel ``(i, j)`` spans ``[i, i + 1] x
[j, j + 1]``; :meth:`DistortionMap.corner_displacement` gives those arrays.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy import ndimage

from detcal import _validate
from detcal.distortion import pyfai_file
from detcal.distortion.field import smooth_map
from detcal.distortion.lattice import Lattice
from detcal.distortion.options import PRESERVE
from detcal.distortion.resample import (
    SparseResampler,
    corner_positions,
    overlap_matrix,
    solve_inverse,
)
from detcal.progress import ProgressCallback


@dataclass(eq=False)
class DistortionMap:
    """A spatial distortion calibration of one detector.

    Parameters
    ----------
    displacement : numpy.ndarray
        (2, rows, cols) float32 (dy, dx) in pixels at each corrected pixel (module docstring).
    mask : numpy.ndarray
        (rows, cols) bool on the corrected grid, True outside the valid region (the convex
        hull of the spots): there the field is extrapolated.
    pixel_size : (float, float) or None
        (pixel1, pixel2): size of a corrected pixel along rows and columns, metres (known when
        the grid pitch was given).
    spots : numpy.ndarray, optional
        (N, 2) measured spot centres (row, col) on the raw image.
    grid_index : numpy.ndarray, optional
        (N, 2) int grid index of each spot.
    lattice : Lattice, optional
        The ideal lattice: spot ``k`` belongs at ``lattice.positions(grid_index[k])``.
    rounding_error : float, optional
        Largest distance of a spot's fractional lattice index from its integer, pitches.

    Examples
    --------
    >>> shift = np.zeros((2, 4, 6), np.float32)
    >>> shift[1] = 1.0  # everything recorded one column to the right
    >>> dmap = DistortionMap(shift, np.zeros((4, 6), bool), None)
    >>> dmap.raw_to_corrected(np.array([[2.0, 3.0]])).tolist()
    [[2.0, 2.0]]
    >>> image = np.tile(np.arange(6.0), (4, 1))
    >>> dmap.correct(image)[0, 1:5].tolist()
    [2.0, 3.0, 4.0, 5.0]
    """

    displacement: np.ndarray
    mask: np.ndarray
    pixel_size: tuple[float, float] | None
    spots: np.ndarray | None = None
    grid_index: np.ndarray | None = None
    lattice: Lattice | None = None
    rounding_error: float | None = None
    _resampler: SparseResampler | None = field(default=None, init=False, repr=False)
    _stored_corners: np.ndarray | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, cols) of the images the map applies to."""
        return tuple(self.displacement.shape[1:])

    @property
    def ideal_spots(self) -> np.ndarray | None:
        """(N, 2) where the spots belong: the ideal lattice positions of their indices."""
        if self.lattice is None or self.grid_index is None:
            return None
        return self.lattice.positions(self.grid_index)

    @property
    def residuals(self) -> np.ndarray | None:
        """(N, 2) displacement of each spot from its ideal position (the measured distortion)."""
        ideal = self.ideal_spots
        return None if ideal is None else self.spots - ideal

    @property
    def misfit(self) -> np.ndarray | None:
        """(N, 2) what the smooth field leaves of each spot's displacement, pixels."""
        ideal = self.ideal_spots
        return None if ideal is None else self.spots - self.corrected_to_raw(ideal)

    # ----------------------------------------------------------------- points

    def corrected_to_raw(self, points) -> np.ndarray:
        """Map (N, 2) corrected (row, col) positions to where they appear on the raw image.

        Parameters
        ----------
        points : array_like
            (N, 2) positions (row, col) on the corrected grid.

        Returns
        -------
        numpy.ndarray
            (N, 2) raw positions ``points + field(points)`` (bilinear interpolation of the
            field; nearest edge value outside the image).
        """
        points = _points(points)
        shift = [ndimage.map_coordinates(f, points.T, order=1, mode="nearest")
                 for f in self.displacement]  # fmt: skip
        return points + np.stack(shift, axis=1)

    def raw_to_corrected(self, points) -> np.ndarray:
        """Map (N, 2) raw (row, col) positions to the corrected grid (inverse of the field).

        Parameters
        ----------
        points : array_like
            (N, 2) positions (row, col) on the raw image.

        Returns
        -------
        numpy.ndarray
            (N, 2) positions ``q`` with ``q + field(q) = points`` (fixed-point iteration).
        """
        points = _points(points)
        return solve_inverse(self.displacement, 0.0, points.T).T

    # ----------------------------------------------------------------- pyFAI corners

    def corner_displacement(self) -> np.ndarray:
        """Return pyFAI's corner displacements (dy, dx) for ``Detector.set_dy`` / ``set_dx``.

        Returns
        -------
        numpy.ndarray
            (2, rows + 1, cols + 1): corner ``(i, j)`` of the raw pixels sits at
            ``(i + dy, j + dx)`` on the corrected grid, in pyFAI's units (pixel ``(i, j)``
            spans ``[i, i + 1] x [j, j + 1]``).
        """
        corners = corner_positions(self.displacement) + 0.5
        rows, cols = self.shape
        grid = np.mgrid[: rows + 1, : cols + 1].astype(np.float64)
        return corners - grid

    # ----------------------------------------------------------------- images

    def prepare(self, *, progress: ProgressCallback | None = None) -> DistortionMap:
        """Build the sparse resampling matrix now (it is otherwise built on first use).

        Parameters
        ----------
        progress : callable, optional
            ``progress(done, total)``.

        Returns
        -------
        DistortionMap
            This map, ready to correct.
        """
        with self._lock:
            if self._resampler is None:
                matrix = overlap_matrix(self._corners(), progress=progress)
                self._resampler = SparseResampler(matrix)
        return self

    def correct(self, image, *, preserve: str = "intensity"):
        """Resample images onto the ideal grid.

        Parameters
        ----------
        image : numpy.ndarray or dask.array.Array
            (row, col) or (plane, row, col) raw images of the map's shape.
        preserve : {"intensity", "counts"}
            "intensity": each corrected pixel is the area-weighted mean of the raw pixels
            overlapping it (a flat image stays flat). "counts": each raw pixel's counts are
            shared among the corrected pixels it overlaps (the total is conserved, as by
            pyFAI's ``Distortion``). Corrected pixels no raw pixel reaches are 0.

        Returns
        -------
        numpy.ndarray or dask.array.Array
            Same shape; float64 for float64 input, float32 otherwise. A dask input gives a lazy
            dask output computed plane by plane, one sparse product per plane.

        Raises
        ------
        ValueError
            An image of another (row, col) shape, or an unknown ``preserve``.
        TypeError
            Not a real numeric array.
        """
        _validate.array(image, "image", ndim=(2, 3),
                        axes="(row, col) or (plane, row, col)")  # fmt: skip
        if not _validate.is_dask(image):
            image = np.asarray(image)
        _validate.choice(preserve, "preserve", PRESERVE)
        if tuple(image.shape[-2:]) != self.shape:
            raise ValueError(
                f"image: expected (row, col) = {self.shape} like the distortion map, got shape "
                f"{tuple(image.shape)}"
            )
        dtype = np.float64 if image.dtype == np.float64 else np.float32
        if _validate.is_dask(image):
            image = image.rechunk({-2: -1, -1: -1})
            return image.map_blocks(self._correct_block, preserve, dtype=dtype)
        return self._correct_block(image, preserve)

    def _correct_block(self, block: np.ndarray, preserve: str) -> np.ndarray:
        resample = self.prepare()._resampler
        if block.ndim == 2:
            return resample(block, preserve)
        return np.stack([resample(plane, preserve) for plane in block])

    # ----------------------------------------------------------------- files

    def save(self, path, *, progress: ProgressCallback | None = None) -> Path:
        """Write the map as a pyFAI NeXus detector file, atomically.

        The file holds the raw pixels' corners on the corrected grid, the mask of the raw
        pixels outside the valid region (1 = masked) and the pixel size; ``pyFAI.
        detector_factory(path)`` loads it and ``pyFAI.distortion.Distortion`` applies it.

        Parameters
        ----------
        path : str or path-like
            Destination (``.h5``).
        progress : callable, optional
            ``progress(done, total)`` over the two stages (corners, file).

        Returns
        -------
        pathlib.Path
            The written file.

        Raises
        ------
        ValueError
            The pixel size is unknown (calibrate with ``pitch``).
        """
        report = progress or (lambda done, total: None)
        if self.pixel_size is None:
            raise ValueError(
                "pitch: the pixel size is unknown; calibrate with pitch= (grid pitch, mm) to "
                "write a pyFAI detector file"
            )
        report(0, 2)
        corners = self._corners() - 0.5
        report(1, 2)
        centres = (corners[:, :-1, :-1] + corners[:, 1:, 1:]) / 2
        rows, cols = self.shape
        r = np.clip(np.rint(centres[0]).astype(np.intp), 0, rows - 1)
        c = np.clip(np.rint(centres[1]).astype(np.intp), 0, cols - 1)
        raw_mask = self.mask[r, c]
        extras = {}
        if self.lattice is not None:
            extras = {
                "spots": self.spots,
                "grid_index": self.grid_index,
                "lattice_origin": self.lattice.origin,
                "lattice_vectors": self.lattice.vectors,
                "rounding_error": float(self.rounding_error),
            }
        saved = pyfai_file.write_detector(path, corners + 0.5, raw_mask, self.pixel_size, extras)
        report(2, 2)
        return saved

    def _corners(self) -> np.ndarray:
        """Raw corners on the corrected grid in pyFAI's units, as the pyFAI file stores them.

        The file keeps float32 metres; rounding the same way here makes the map and its file
        describe exactly the same pixels (a loaded map uses the file's corners as they are).
        """
        if self._stored_corners is not None:
            return self._stored_corners
        corners = corner_positions(self.displacement) + 0.5
        if self.pixel_size is None:
            return corners
        size = np.array(self.pixel_size)[:, None, None]
        return (corners * size).astype(np.float32).astype(np.float64) / size

    @classmethod
    def load(cls, path) -> DistortionMap:
        """Read a map from a pyFAI NeXus detector file (written by :meth:`save` or by pyFAI).

        Parameters
        ----------
        path : str or path-like
            The file.

        Returns
        -------
        DistortionMap
            The map; spots and lattice when the file was written by detcal.

        Raises
        ------
        ValueError
            No detector in the file, or a detector without pixel corners.
        FileNotFoundError
            No such file.
        """
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"path: no such file {str(path)!r}")
        stored = pyfai_file.read_detector(path)
        if stored["corners"] is None:
            raise ValueError(f"path: the detector in {str(path)!r} has no pixel corners")
        rows, cols = stored["shape"]
        raw_corners = np.mgrid[: rows + 1, : cols + 1].astype(np.float64) - 0.5
        # the corrected position of each raw corner, minus the raw one, on the corner grid
        shift = (stored["corners"] - 0.5) - raw_corners
        displacement = smooth_map(
            lambda ideal: solve_inverse(shift, -0.5, ideal) - ideal, np.arange(rows),
            np.arange(cols),
        ).astype(np.float32)  # fmt: skip
        ideal = np.mgrid[:rows, :cols]
        r = np.clip(np.rint(ideal[0] + displacement[0]).astype(np.intp), 0, rows - 1)
        c = np.clip(np.rint(ideal[1] + displacement[1]).astype(np.intp), 0, cols - 1)
        extras = stored["extras"]
        lattice = None
        if "lattice_origin" in extras:
            lattice = Lattice(extras["lattice_origin"], extras["lattice_vectors"])
        loaded = cls(
            displacement=displacement,
            mask=stored["mask"][r, c],
            pixel_size=stored["pixel_size"],
            spots=extras.get("spots"),
            grid_index=extras.get("grid_index"),
            lattice=lattice,
            rounding_error=float(extras["rounding_error"]) if "rounding_error" in extras else None,
        )
        loaded._stored_corners = stored["corners"]  # the pixels exactly as the file has them
        return loaded


def _points(points) -> np.ndarray:
    points = np.asarray(_validate.array(points, "points", ndim=2), dtype=np.float64)
    if points.shape[1] != 2:
        raise ValueError(f"points: expected (N, 2) (row, col), got shape {points.shape}")
    return points
