"""Outlier (zinger, hot pixel) removal by a selective median filter, TomoPy semantics."""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from detcal.tomo._prep_common import check_positive, check_stack, map_full


def _outlier_block(block: np.ndarray, dif: float, size: tuple[int, ...], mode: str):
    median = median_filter(block, size=size, mode=mode)
    return np.where(block - median >= dif, median, block)


def remove_outlier(tomo, dif, *, size: int = 3, axis: int = 0, mode: str = "2d"):
    """Replace by the local median the pixels brighter than it by at least ``dif``.

    Two variants, as in TomoPy and alsmicroct:

    * ``mode="2d"`` (TomoPy's ``remove_outlier``, alsmicroct's ``doOutliers2D``): a
      ``size x size`` median over the planes perpendicular to ``axis`` - with ``axis=0``
      each projection is filtered on its own (edges reflected).
    * ``mode="1d"`` (TomoPy's ``remove_outlier1d``, alsmicroct's ``doOutliers1D``): a
      ``size``-long median along ``axis`` - with ``axis=0`` along the angles of every
      detector pixel, i.e. along each sinogram column (edges mirrored).

    Only bright outliers (zingers, hot pixels) are replaced; darker pixels are kept.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Stack ``(angle, row, column)`` (also flats or darks).
    dif : float
        Threshold: a pixel is replaced when ``pixel - median >= dif``.
    size : int, default 3
        Median window size.
    axis : {0, 1, 2}, default 0
        "2d": the axis the planes are taken along; "1d": the axis filtered along.
    mode : {"2d", "1d"}, default "2d"
        Variant, see above.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 stack of the same shape and kind.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``dif``/``size`` have the wrong type.
    ValueError
        If ``tomo`` is not 3D, ``dif``/``size`` are not positive, ``axis`` is not 0, 1 or 2,
        or ``mode`` is unknown.

    Examples
    --------
    >>> import numpy as np
    >>> tomo = np.ones((1, 5, 5)); tomo[0, 2, 2] = 100.0
    >>> float(remove_outlier(tomo, 10.0)[0, 2, 2])
    1.0
    """
    tomo = check_stack(tomo)
    dif = check_positive(dif, "dif")
    size = check_positive(size, "size", integer=True)
    if axis not in (0, 1, 2) or isinstance(axis, bool):
        raise ValueError(f"axis must be 0, 1 or 2; got {axis!r}")
    if mode not in ("2d", "1d"):
        raise ValueError(f"mode must be '2d' or '1d'; got {mode!r}")
    others = tuple(a for a in range(3) if a != axis)
    window = [size] * 3
    if mode == "2d":
        window[axis] = 1
        full, split, edge = others, axis, "reflect"
    else:
        window = [1, 1, 1]
        window[axis] = size
        split = max(others, key=lambda a: tomo.shape[a])
        full, edge = (axis, *(a for a in others if a != split)), "mirror"
    return map_full(
        _outlier_block, tomo, tuple(sorted(full)), split, dif=dif, size=tuple(window), mode=edge
    )
