"""The rotation centre of a prepared scan: from the 360-degree overlap or a centre search."""

from __future__ import annotations

import numpy as np

from detcal.tomo.center import find_center
from detcal.tomo.graph import PreparedScan, center_row_index
from detcal.tomo.options import ReconOptions


def find_scan_center(prepared: PreparedScan, options: ReconOptions | None = None) -> float:
    """Find the rotation centre of prepared sinograms (computing only a few rows).

    For a 360-degree scan converted to 180 degrees the centre is the axis found with the
    overlap (see :func:`detcal.tomo.prep.find_overlap`); otherwise ``center_method`` runs on
    the sinogram of ``center_row`` (with its 4 neighbours on each side for ``"pc"``).

    Parameters
    ----------
    prepared : PreparedScan
        Output of :func:`detcal.tomo.graph.prepare`.
    options : ReconOptions, optional
        ``center_method`` and ``center_row`` are used.

    Returns
    -------
    float
        Centre as a column index of the prepared sinograms (TomoPy's convention).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> from detcal.tomo.graph import prepare
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> 280 < find_scan_center(scan) < 340
    True
    """
    options = options or ReconOptions()
    if prepared.axis_360 is not None:
        return prepared.axis_360
    n_rows = prepared.tomo.shape[1]
    row = center_row_index(n_rows, options, prepared.first_row)
    half = 0 if options.center_method in ("vo", "nm") else 4
    lo, hi = max(0, row - half), min(n_rows, row + half + 1)
    block = np.asarray(prepared.tomo[:, lo:hi].compute())
    return float(find_center(block, prepared.theta, method=options.center_method, ind=row - lo))
