"""A lazy view of an array with one (row, col) plane per chunk.

Corrections are applied plane by plane, and napari reads only the planes shown: a numpy stack
or an array-like (h5py, zarr) viewed this way is read and corrected a plane at a time.
"""

from __future__ import annotations

from typing import Any

import dask.array as da


def planewise(data: Any) -> da.Array:
    """Return ``data`` as a dask array chunked one (row, col) plane per chunk.

    Parameters
    ----------
    data : array-like
        (..., row, col) numpy array or anything with ``shape``, ``dtype`` and slicing; a dask
        array is returned as it is.

    Examples
    --------
    >>> import numpy as np
    >>> planewise(np.zeros((2, 3, 4, 5))).chunksize
    (1, 1, 4, 5)
    """
    if isinstance(data, da.Array):
        return data
    return da.from_array(data, chunks=(1,) * (len(data.shape) - 2) + tuple(data.shape[-2:]))
