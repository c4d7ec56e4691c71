"""Flat/dark normalisation and the minus-log transform (TomoPy names and defaults)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import dask.array as da
import numpy as np

from detcal.tomo._prep_common import check_positive, check_stack, is_dask, map_projections

#: Smallest flat - dark denominator, as in TomoPy.
_MIN_DENOMINATOR = np.float32(1e-6)


def _reference(ref: Any, name: str, tomo_shape: tuple[int, ...], *, median: bool = False):
    """Average (or median) a 2D or 3D flat/dark stack over its first axis, as float32."""
    if not is_dask(ref):
        ref = np.asarray(ref)
    if ref.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array; got dtype {ref.dtype}")
    if ref.ndim not in (2, 3) or tuple(ref.shape[-2:]) != tuple(tomo_shape[1:]):
        raise ValueError(
            f"{name} must be (row, col) or (n, row, col) with (row, col) = {tuple(tomo_shape[1:])} "
            f"matching tomo {tuple(tomo_shape)}; got shape {tuple(ref.shape)}"
        )
    if ref.ndim == 3 and ref.shape[0] == 0:
        raise ValueError(f"{name} must hold at least one image; got shape {tuple(ref.shape)}")
    if ref.ndim == 2:
        ref = ref[None]
    xp = da if is_dask(ref) else np
    ref = ref.astype(np.float32)
    if median:
        return xp.median(ref, axis=0) if xp is np else da.median(ref, axis=0)
    return ref.mean(axis=0, dtype=np.float32)


def _divide(tomo, flat, dark, cutoff):
    denom = np.maximum(flat - dark, _MIN_DENOMINATOR)
    out = (tomo.astype(np.float32) - dark) / denom
    if cutoff is not None:
        out = np.minimum(out, np.float32(cutoff))
    return out.astype(np.float32)


def _finish(out, out_invalid, return_count, step):
    """Count invalid results (non-finite or <= 0), replace them, warn for numpy input."""
    xp = da if is_dask(out) else np
    finite = xp.isfinite(out)
    invalid = ~finite | (out <= 0)
    count = invalid.sum()
    if out_invalid is None:
        out = xp.where(finite, out, np.float32(0.0))
    else:
        out = xp.where(invalid, np.float32(out_invalid), out)
    out = out.astype(np.float32)
    if not is_dask(out):
        count = int(count)
        if count:
            what = f"replaced by {out_invalid!r}" if out_invalid is not None else "kept as computed"
            warnings.warn(
                f"{step}: {count} result(s) were zero, negative or not finite ({what}; "
                "non-finite ones become 0.0 unless out_invalid is given). Pass out_invalid="
                "1e-6 (for example) before minus_log.",
                RuntimeWarning,
                stacklevel=3,
            )
    return (out, count) if return_count else out


def _check_options(cutoff, out_invalid):
    if cutoff is not None:
        cutoff = check_positive(cutoff, "cutoff")
    if out_invalid is not None:
        if isinstance(out_invalid, bool) or not isinstance(
            out_invalid, int | float | np.integer | np.floating
        ):
            raise TypeError(f"out_invalid must be a number or None; got {out_invalid!r}")
        if not np.isfinite(out_invalid):
            raise ValueError(f"out_invalid must be finite; got {out_invalid!r}")
    return cutoff, out_invalid


def normalize(
    tomo,
    flat,
    dark,
    *,
    cutoff: float | None = None,
    out_invalid: float | None = None,
    return_count: bool = False,
):
    """Normalise raw projections with flat (bright) and dark fields: (tomo - dark)/(flat - dark).

    Flats and darks are averaged over their first axis; the denominator ``flat - dark`` is
    floored at 1e-6 (TomoPy's value), so a dead flat pixel never divides by zero.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Raw projections, ``(angle, row, column)``.
    flat, dark : array_like or dask.array.Array
        Flat and dark fields, ``(row, column)`` or ``(n, row, column)``.
    cutoff : float, optional
        Results above ``cutoff`` are clipped to it (TomoPy's ``cutoff``).
    out_invalid : float, optional
        Value given to *invalid* results: not finite (NaN/inf, from NaN/inf in the inputs) or
        not positive (a pixel at or below its dark level). None (the default) keeps TomoPy's
        behaviour for finite results - zero and negative values stay as computed - and sets
        non-finite results to 0.0. A small positive floor such as 1e-6 keeps a following
        :func:`minus_log` finite.
    return_count : bool, default False
        Also return the number of invalid results (an int for numpy input, a lazy 0-d dask
        array for dask input). For numpy input a ``RuntimeWarning`` reports a non-zero count.

    Returns
    -------
    ndarray or dask.array.Array
        Normalised float32 stack, same shape and kind as ``tomo``; ``(stack, count)`` when
        ``return_count`` is True.

    Raises
    ------
    TypeError
        If an input is not numeric or ``out_invalid``/``cutoff`` is not a number.
    ValueError
        If ``tomo`` is not 3D, ``flat``/``dark`` do not match its (row, column) shape, or
        ``cutoff`` is not positive.

    Examples
    --------
    >>> import numpy as np
    >>> tomo = np.full((2, 3, 4), 60.0)
    >>> normalize(tomo, np.full((3, 4), 110.0), np.full((3, 4), 10.0))[0, 0, 0]
    np.float32(0.5)
    """
    tomo = check_stack(tomo)
    cutoff, out_invalid = _check_options(cutoff, out_invalid)
    flat = _reference(flat, "flat", tomo.shape)
    dark = _reference(dark, "dark", tomo.shape)
    if not is_dask(tomo):
        flat, dark = np.asarray(flat), np.asarray(dark)
    out = _divide(tomo, flat, dark, cutoff)
    return _finish(out, out_invalid, return_count, "normalize")


def normalize_nf(
    tomo,
    flat,
    dark,
    flat_loc: Sequence[int],
    *,
    cutoff: float | None = None,
    out_invalid: float | None = None,
    return_count: bool = False,
):
    """Normalise with the nearest set of flats, for scans that took flats several times.

    TomoPy's ``normalize_nf``: the flats are split into ``len(flat_loc)`` equal groups in
    acquisition order; group ``m`` was taken at projection index ``flat_loc[m]``. Each
    projection is normalised with the median of the group taken nearest to it (the switch
    happens half way between two locations), and the dark is the median of the darks.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Raw projections, ``(angle, row, column)``.
    flat : array_like or dask.array.Array
        All flats, ``(n_flat, row, column)``, grouped in the order of ``flat_loc``.
    dark : array_like or dask.array.Array
        Darks, ``(row, column)`` or ``(n, row, column)``.
    flat_loc : sequence of int
        Increasing projection indices at which each group of flats was taken.
    cutoff, out_invalid, return_count
        As in :func:`normalize`.

    Returns
    -------
    ndarray or dask.array.Array
        Normalised float32 stack (and the invalid count when ``return_count``).

    Raises
    ------
    TypeError
        If an input is not numeric.
    ValueError
        If shapes do not match, ``flat_loc`` is empty, not increasing, or has more groups
        than there are flats.

    Examples
    --------
    >>> import numpy as np
    >>> tomo = np.full((4, 2, 2), 50.0)
    >>> flat = np.concatenate([np.full((2, 2, 2), 100.0), np.full((2, 2, 2), 50.0)])
    >>> normalize_nf(tomo, flat, np.zeros((2, 2)), [0, 3])[:, 0, 0]
    array([0.5, 0.5, 1. , 1. ], dtype=float32)
    """
    tomo = check_stack(tomo)
    cutoff, out_invalid = _check_options(cutoff, out_invalid)
    locs = [int(v) for v in np.atleast_1d(np.asarray(flat_loc))]
    if not is_dask(flat):
        flat = np.asarray(flat)
    if flat.ndim != 3:
        raise ValueError(f"flat must be (n_flat, row, col) for normalize_nf; got {flat.shape}")
    if not locs or len(locs) > flat.shape[0] or np.any(np.diff(locs) <= 0):
        raise ValueError(
            f"flat_loc must be 1 to {flat.shape[0]} increasing projection indices; got {locs}"
        )
    dark = _reference(dark, "dark", tomo.shape, median=True)
    per_group = flat.shape[0] // len(locs)
    xp = da if is_dask(tomo) else np
    if xp is np:
        dark = np.asarray(dark)
    parts, start = [], 0
    for m, loc in enumerate(locs):
        group = _reference(
            flat[m * per_group : (m + 1) * per_group], "flat", tomo.shape, median=True
        )
        if xp is np:
            group = np.asarray(group)
        end = tomo.shape[0] if m == len(locs) - 1 else int(np.round((locs[m + 1] - loc) / 2)) + loc
        end = min(max(end, start), tomo.shape[0])
        if end > start:
            parts.append(_divide(tomo[start:end], group, dark, cutoff))
        start = end
    out = xp.concatenate(parts, axis=0)
    return _finish(out, out_invalid, return_count, "normalize_nf")


def _normalize_bg_block(block: np.ndarray, air: int) -> np.ndarray:
    left = block[..., :air].mean(axis=-1, keepdims=True)
    right = block[..., -air:].mean(axis=-1, keepdims=True)
    left = np.where(left > 0, left, np.float32(1.0))
    right = np.where(right > 0, right, np.float32(1.0))
    ramp = np.linspace(0.0, 1.0, block.shape[-1], dtype=np.float32)
    return block / (left + (right - left) * ramp)


def normalize_bg(tomo, *, air: int = 1):
    """Normalise each projection row to the background (air) intensity at its two ends.

    TomoPy's ``normalize_bg``: in every projection row the mean of the first and of the last
    ``air`` pixels define a straight background line across the row (a non-positive mean is
    taken as 1); the row is divided by it, so the air on both sides becomes 1.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Normalised projections, ``(angle, row, column)``.
    air : int, default 1
        Number of pixels at each end of a row used to measure the background.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 stack, same shape and kind as ``tomo``.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or ``air`` is not an integer.
    ValueError
        If ``tomo`` is not 3D or ``air`` is not in 1 .. columns // 2.

    Examples
    --------
    >>> import numpy as np
    >>> row = np.array([2.0, 1.5, 3.0, 4.0])
    >>> normalize_bg(np.tile(row, (1, 1, 1)))[0, 0]
    array([1.    , 0.5625, 0.9   , 1.    ], dtype=float32)
    """
    tomo = check_stack(tomo)
    air = check_positive(air, "air", integer=True)
    if air > tomo.shape[2] // 2:
        raise ValueError(f"air must be <= columns // 2 = {tomo.shape[2] // 2}; got {air}")
    return map_projections(_normalize_bg_block, tomo, air=air)


def minus_log(tomo):
    """Return ``-log(tomo)``: transmission to attenuation line integrals (TomoPy's minus_log).

    Non-positive inputs give inf/NaN as in TomoPy; normalise with ``out_invalid`` (for example
    1e-6) to avoid them.

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Normalised transmission, any shape.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 array of the same shape and kind.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric.

    Examples
    --------
    >>> import numpy as np
    >>> minus_log(np.array([1.0, np.exp(-2.0)]))
    array([-0.,  2.], dtype=float32)
    """
    if not is_dask(tomo):
        tomo = np.asarray(tomo)
    if tomo.dtype.kind not in "biuf":
        raise TypeError(f"tomo must be a real numeric array; got dtype {tomo.dtype}")
    xp = da if is_dask(tomo) else np
    with np.errstate(divide="ignore", invalid="ignore"):
        return -xp.log(tomo.astype(np.float32))
