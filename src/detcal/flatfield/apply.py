"""Apply flat-field profiles: ``(image - darkfield) / flatfield - baseline``, lazily for dask."""

from __future__ import annotations

import os
from typing import Any

import dask.array as da
import numpy as np

from detcal.flatfield.profiles import Profiles, load_profiles


def _correct_block(block, flat, dark=None, *, baseline=None, out_dtype=None):
    out = block.astype(np.float32)
    if dark is not None:
        out -= dark
    out /= flat
    if baseline is not None:
        out -= np.float32(baseline)
    if out_dtype is None:
        return out
    if np.issubdtype(out_dtype, np.integer):
        info = np.iinfo(out_dtype)
        np.rint(out, out=out)
        np.clip(out, info.min, info.max, out=out)
    return out.astype(out_dtype)


def apply_flatfield(
    image: Any, profiles: Profiles | str | os.PathLike, *, keep_dtype: bool = False
) -> Any:
    """Correct images: ``(image - darkfield) / flatfield - baseline``, lazily for dask.

    Parameters
    ----------
    image : numpy.ndarray or dask.array.Array
        (..., row, col) images.
    profiles : Profiles or path
        Profiles, or a path given to :func:`load_profiles`.
    keep_dtype : bool, default False
        Round and clip the result back to the input's dtype instead of returning float32.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Corrected images, same kind and shape as ``image``.

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
    if not isinstance(image, np.ndarray | da.Array):
        image = np.asarray(image)
    if image.dtype.kind not in "uif":
        raise TypeError(f"image must hold integers or floats, got dtype {image.dtype}")
    if image.ndim < 2 or tuple(image.shape[-2:]) != profiles.shape:
        raise ValueError(
            f"image of shape {tuple(image.shape)} does not end with the profiles' shape "
            f"{profiles.shape}"
        )
    options = {
        "baseline": profiles.scalar_baseline(),
        "out_dtype": image.dtype if keep_dtype else None,
    }
    out_dtype = image.dtype if keep_dtype else np.dtype(np.float32)
    if isinstance(image, np.ndarray):
        return _correct_block(image, profiles.flatfield, profiles.darkfield, **options)
    chunks = image.chunks[-2:]
    arrays = [da.from_array(profiles.flatfield, chunks=chunks)]
    if profiles.darkfield is not None:
        arrays.append(da.from_array(profiles.darkfield, chunks=chunks))
    meta = np.empty((0,) * image.ndim, dtype=out_dtype)
    return da.map_blocks(_correct_block, image, *arrays, dtype=out_dtype, meta=meta, **options)
