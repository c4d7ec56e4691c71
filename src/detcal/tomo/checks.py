"""Checks of a scan against a run's options, made before anything is computed or written."""

from __future__ import annotations

import math
import warnings

import numpy as np

from detcal.tomo.dataset import TomoDataset
from detcal.tomo.options import ReconOptions


def theta_span(theta: np.ndarray) -> float:
    """Return the angular range covered by the projections (the step counted once), radians.

    Examples
    --------
    >>> round(math.degrees(theta_span(np.deg2rad(np.arange(0, 180, 1.0)))), 6)
    180.0
    """
    if theta.size < 2:
        return 0.0
    step = float(np.median(np.abs(np.diff(theta))))
    return float(theta.max() - theta.min()) + step


def sinogram_width(n_cols: int, options: ReconOptions) -> int:
    """Return the columns of the sinogram reconstructed (wider after a 360 -> 180 stitch).

    Examples
    --------
    >>> sinogram_width(100, ReconOptions(full_360=True, overlap=20.0))
    180
    """
    if options.full_360 and options.overlap is not None:
        return 2 * n_cols - int(round(options.overlap))
    return n_cols


def validate_dataset(dataset: TomoDataset, options: ReconOptions) -> None:
    """Check a scan against the options before anything is computed or written.

    Parameters
    ----------
    dataset : TomoDataset
        The opened scan.
    options : ReconOptions
        The run's options.

    Raises
    ------
    ValueError
        Angles not matching the projections, flats or darks of another shape, rows, ignored
        projections, centre row or crop outside the data, a 180-degree scan passed as 360,
        or a given centre outside the detector; the message starts with the option's name.

    Warns
    -----
    UserWarning
        The angles span about 360 degrees but ``full_360`` is off.

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> from detcal.tomo.dataset import dataset_from_arrays
    >>> s = make_tomography(n_angles=30, n_rows=2, n_cols=32)
    >>> scan = dataset_from_arrays(s.projections, s.flats, s.darks, s.theta)
    >>> validate_dataset(scan, ReconOptions(rows=(0, 3)))
    Traceback (most recent call last):
    ...
    ValueError: rows: (0, 3) go beyond the detector's 2 rows
    """
    proj = dataset.projections
    n_angles, n_rows, n_cols = proj.shape
    if dataset.theta.shape != (n_angles,):
        raise ValueError(
            f"theta: {dataset.theta.size} angles but the projections have {n_angles} "
            f"(projections shape {tuple(proj.shape)})"
        )
    if not np.all(np.isfinite(dataset.theta)):
        raise ValueError("theta: holds NaN or infinite angles")
    if dataset.flats is None or dataset.darks is None:
        raise ValueError(
            "flats: the scan needs flats (exchange/data_white) and darks (exchange/data_dark) "
            "to be normalised"
        )
    for name in ("flats", "darks"):
        ref = getattr(dataset, name)
        if ref.ndim != 3 or ref.shape[1:] != (n_rows, n_cols):
            raise ValueError(
                f"{name}: expected (n, {n_rows}, {n_cols}) like the projections' (row, col), "
                f"got shape {tuple(ref.shape)}"
            )
    start, end = options.rows if options.rows is not None else (0, n_rows)
    if end > n_rows:
        raise ValueError(f"rows: {options.rows} go beyond the detector's {n_rows} rows")
    if options.center_row is not None and not start <= options.center_row < end:
        raise ValueError(
            f"center_row: {options.center_row} is outside the reconstructed rows {start} {end}"
        )
    ignore = options.ignore_projections or ()
    bad = [i for i in ignore if i >= n_angles]
    if bad:
        raise ValueError(
            f"ignore_projections: {bad} are beyond the {n_angles} projections of the scan"
        )
    if len(ignore) >= n_angles - 1:
        raise ValueError("ignore_projections: would leave fewer than 2 projections")
    span = math.degrees(theta_span(dataset.theta))
    if options.full_360 and span < 270.0:
        raise ValueError(f"full_360: theta spans {span:.1f} degrees; a 360-degree scan is needed")
    if not options.full_360 and span > 270.0:
        warnings.warn(
            f"theta spans {span:.1f} degrees: this looks like a 360-degree scan; if the "
            "rotation axis is off-centre (half acquisition) turn on full_360 (--full-360)",
            UserWarning,
            stacklevel=3,
        )
    if options.full_360 and options.overlap is not None and options.overlap >= n_cols:
        raise ValueError(
            f"overlap: {options.overlap} must be smaller than the {n_cols} detector columns"
        )
    width = sinogram_width(n_cols, options)
    if options.center is not None and not options.center <= width - 1:
        raise ValueError(
            f"center: {options.center} is outside the detector: expected a column in "
            f"[0, {width - 1}] of the {width}-column sinogram"
        )
    if options.crop is not None:
        top, bottom, left, right = options.crop
        if top + bottom >= width or left + right >= width:
            raise ValueError(f"crop: {options.crop} leaves nothing of the {width} x {width} slices")
