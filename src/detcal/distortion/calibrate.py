"""Calibrate the spatial distortion of a detector from one image of a regular grid of holes.

Hammersley, Svensson & Thompson's method: spot centres (:mod:`.peaks`) -> grid indices and the
ideal regular lattice (:mod:`.lattice`) -> displacement of every spot from its ideal position ->
a smooth displacement field over every pixel (:mod:`.field`).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import ConvexHull, QhullError

from detcal import _validate
from detcal.distortion.field import fit_field
from detcal.distortion.lattice import index_grid
from detcal.distortion.map import DistortionMap
from detcal.distortion.options import DEFAULT_SMOOTHING
from detcal.distortion.peaks import find_grid_peaks
from detcal.progress import ProgressCallback


def calibrate_distortion(
    image,
    *,
    spot_diameter=None,
    pitch=None,
    peaks=None,
    polarity: str = "auto",
    smoothing: float = DEFAULT_SMOOTHING,
    progress: ProgressCallback | None = None,
) -> DistortionMap:
    """Measure the spatial distortion from an image of a regular grid of holes (or dots).

    The ideal grid is the least-squares affine lattice of the spots (origin and two lattice
    vectors, free of any hand-typed origin); the distortion is what is left: the field has no
    mean offset, scale, rotation or shear over the spots. The corrected image therefore keeps
    the detector's frame, with the grid's mean pitch and orientation.

    Parameters
    ----------
    image : array_like
        (row, col) image of the grid (a dask array is computed).
    spot_diameter : float, optional
        Spot diameter in pixels; None estimates it.
    pitch : float, optional
        Grid pitch in millimetres; gives the map's pixel size (needed to save a pyFAI file).
    peaks : array_like, optional
        (N, 2) spot centres (row, col) to use instead of finding them (e.g. edited by hand).
    polarity : {"auto", "bright", "dark"}
        Bright holes on a dark background or dark dots on a bright one.
    smoothing : float
        Curvature penalty of the field relative to the spots (0 interpolates them).
    progress : callable, optional
        ``progress(done, total)`` over the four stages.

    Returns
    -------
    DistortionMap
        Displacement field, valid-region mask, pixel size, spots, indices and lattice.

    Raises
    ------
    ValueError
        No spots, too few spots or spots that are not a grid (saying how many were found),
        ``pitch`` <= 0, bad ``peaks``.
    TypeError
        Not a real numeric image.

    References
    ----------
    Hammersley, A. P., Svensson, S. O. & Thompson, A. (1994). Calibration and correction of
    spatial distortions in 2D detector systems. Nucl. Instrum. Methods Phys. Res. A 346,
    312-321. :doi:`10.1016/0168-9002(94)90720-X`

    Examples
    --------
    >>> from detcal.sample_data.hole_grid import make_hole_grid
    >>> sample = make_hole_grid(shape=(160, 160), noise=False)
    >>> dmap = calibrate_distortion(sample.image, pitch=1.0)
    >>> dmap.displacement.shape, len(dmap.spots) == len(sample.points)
    ((2, 160, 160), True)
    """
    image = _validate.array(image, "image", ndim=2, axes="(row, col)", min_shape=(8, 8))
    if pitch is not None:
        pitch = _validate.positive(pitch, "pitch")
    smoothing = _validate.number(smoothing, "smoothing", minimum=0)
    report = progress or (lambda done, total: None)
    report(0, 4)
    if peaks is None:
        peaks = find_grid_peaks(image, spot_diameter=spot_diameter, polarity=polarity)
    else:
        peaks = np.asarray(_validate.array(peaks, "peaks", ndim=2), dtype=np.float64)
        if peaks.shape[1] != 2:
            raise ValueError(f"peaks: expected (N, 2) (row, col), got shape {peaks.shape}")
    report(1, 4)
    grid = index_grid(peaks)
    spots = peaks[grid.on_grid]
    ideal = grid.lattice.positions(grid.indices)
    report(2, 4)
    shape = tuple(int(s) for s in image.shape)
    displacement = fit_field(grid.indices, spots - ideal, grid.lattice, shape, smoothing=smoothing)
    report(3, 4)
    mask = outside_hull(ideal, shape)
    pixel_size = None
    if pitch is not None:
        # a corrected pixel's step along rows / columns, measured in lattice steps of `pitch`
        steps = np.linalg.inv(grid.lattice.vectors)
        pixel_size = tuple(float(pitch * 1e-3 * np.hypot(*row)) for row in steps)
    report(4, 4)
    return DistortionMap(
        displacement=displacement,
        mask=mask,
        pixel_size=pixel_size,
        spots=spots,
        grid_index=grid.indices,
        lattice=grid.lattice,
        rounding_error=float(grid.rounding_error.max()),
    )


def outside_hull(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Return a (rows, cols) mask, True for pixels whose centre is outside the points' hull.

    Examples
    --------
    >>> square = np.array([[1.0, 1.0], [1.0, 3.0], [3.0, 1.0], [3.0, 3.0]])
    >>> int((~outside_hull(square, (5, 5))).sum())
    9
    """
    rows, cols = shape
    try:
        hull = points[ConvexHull(points).vertices]
    except QhullError:  # all points on a line: no area is valid
        return np.ones(shape, dtype=bool)
    start, stop = hull, np.roll(hull, -1, axis=0)
    r = np.arange(rows, dtype=np.float64)[:, None]
    low, high = np.minimum(start[:, 0], stop[:, 0]), np.maximum(start[:, 0], stop[:, 0])
    crosses = (r >= low - 1e-9) & (r <= high + 1e-9)
    run = np.where(high > low, stop[:, 0] - start[:, 0], 1.0)
    fraction = np.clip((r - start[:, 0]) / run, 0, 1)
    where = start[:, 1] + fraction * (stop[:, 1] - start[:, 1])
    first = np.where(crosses, where, np.inf).min(axis=1)
    last = np.where(crosses, where, -np.inf).max(axis=1)
    c = np.arange(cols)
    return ~((c >= first[:, None] - 1e-9) & (c <= last[:, None] + 1e-9))
