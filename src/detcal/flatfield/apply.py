"""Apply flat-field profiles: ``(image - darkfield) / flatfield - baseline``, lazily for dask.

A multiscale pyramid (a list of levels) gives a lazy pyramid, each level corrected with the
profiles brought to its shape (:func:`detcal.filters.block_mean`).
"""

from __future__ import annotations

import os
from typing import Any

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.filters.pixelwise import offset_and_scale
from detcal.filters.planes import block_mean
from detcal.flatfield.profiles import Profiles, load_profiles


def _correct_block(block, flat, dark=None, *, baseline=None, out_dtype=None):
    """Return ``(block - dark) / flat - baseline`` in float32, or rounded to ``out_dtype``.

    One pass over the block (:func:`detcal.filters.pixelwise.offset_and_scale`); an integer
    ``out_dtype`` gets the values rounded to the nearest integer and clipped to its range.
    """
    dtype = np.float32 if out_dtype is None else out_dtype
    base = 0.0 if baseline is None else float(baseline)
    return offset_and_scale(block, dark, flat, dtype, divide=True, baseline=base)


def apply_flatfield(
    image: Any, profiles: Profiles | str | os.PathLike, *, keep_dtype: bool = False
) -> Any:
    """Correct images: ``(image - darkfield) / flatfield - baseline``, lazily for dask.

    Parameters
    ----------
    image : numpy.ndarray, dask.array.Array or list of them
        (..., row, col) images; or a multiscale pyramid, a list of such arrays, highest
        resolution first.
    profiles : Profiles or path
        Profiles, or a path given to :func:`load_profiles`.
    keep_dtype : bool, default False
        Round and clip the result back to the input's dtype instead of returning float32.

    Returns
    -------
    numpy.ndarray, dask.array.Array or list of dask.array.Array
        Corrected images, same kind and shape as ``image``; for a pyramid, level ``k`` is
        level ``k`` of the input corrected with the profiles block-averaged to its shape.

    Raises
    ------
    ValueError
        If the profiles' shape does not match the images' last two axes.
    TypeError
        If ``image`` is not numeric.

    Examples
    --------
    >>> flat = np.array([[0.5, 1.5]])
    >>> apply_flatfield(np.array([[10, 30]]), Profiles(flat)).tolist()
    [[20.0, 20.0]]
    """
    if not isinstance(profiles, Profiles):
        profiles = load_profiles(profiles)
    levels = list(image) if isinstance(image, list | tuple) else [image]
    levels = [v if isinstance(v, np.ndarray | da.Array) else np.asarray(v) for v in levels]
    for level in levels:
        _validate.real_dtype(level, "image")
    first = levels[0]
    if first.ndim < 2 or tuple(first.shape[-2:]) != profiles.shape:
        raise ValueError(
            f"image: shape {tuple(first.shape)} does not end with the profiles' shape "
            f"{profiles.shape}; the profiles were made for another detector or binning"
        )
    options = {
        "baseline": profiles.scalar_baseline(),
        "out_dtype": first.dtype if keep_dtype else None,
    }
    if len(levels) == 1 and isinstance(first, np.ndarray):
        return _correct_block(first, profiles.flatfield, profiles.darkfield, **options)
    out_dtype = first.dtype if keep_dtype else np.dtype(np.float32)
    out = []
    for level in levels:
        level = level if isinstance(level, da.Array) else da.from_array(level)
        shape, chunks = level.shape[-2:], level.chunks[-2:]
        arrays = [da.from_array(block_mean(profiles.flatfield, shape), chunks=chunks)]
        if profiles.darkfield is not None:
            arrays.append(da.from_array(block_mean(profiles.darkfield, shape), chunks=chunks))
        meta = np.empty((0,) * level.ndim, dtype=out_dtype)
        out.append(
            da.map_blocks(_correct_block, level, *arrays, dtype=out_dtype, meta=meta, **options)
        )
    return out if isinstance(image, list | tuple) else out[0]
