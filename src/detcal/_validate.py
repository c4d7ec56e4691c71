"""The one place for argument checks.

Every check names the argument, says what it got and what was expected, and raises before any
output is written: ``TypeError`` for a value of the wrong kind, ``ValueError`` for a value of
the right kind that is out of range or of the wrong shape. Steps call these instead of writing
their own, so that a message reads the same wherever it comes from.
"""

from __future__ import annotations

import math
import numbers
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np


def is_dask(array: Any) -> bool:
    """Tell whether ``array`` is a dask array (without importing dask: none exists before)."""
    dask_array = sys.modules.get("dask.array")
    return dask_array is not None and isinstance(array, dask_array.Array)


def real_dtype(array: Any, name: str, *, kinds: str = "uif") -> None:
    """Check that ``array`` has a real numeric dtype (integer or floating point).

    ``kinds`` lists the allowed numpy dtype kinds (add ``"b"`` to accept booleans).

    Raises
    ------
    TypeError
        If the dtype is complex, object, string, ...
    """
    dtype = np.dtype(array.dtype if hasattr(array, "dtype") else np.asarray(array).dtype)
    if dtype.kind not in kinds:
        raise TypeError(f"{name}: expected a real numeric dtype, got {dtype}")


def array(
    value: Any,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    axes: str | None = None,
    min_shape: Sequence[int] | None = None,
) -> Any:
    """Check an image or stack argument and return it as numpy (or dask, kept lazy).

    Parameters
    ----------
    value : array-like
        The argument.
    name : str
        Its name, used in messages.
    ndim : int or sequence of int, optional
        Allowed numbers of dimensions.
    axes : str, optional
        How the axes are named in messages, e.g. ``"(angle, row, column)"``.
    min_shape : sequence of int, optional
        Smallest allowed size of each axis (same length as the shape).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The argument, unchanged if it is already numpy or dask.

    Raises
    ------
    TypeError
        Not a real numeric array.
    ValueError
        Wrong number of dimensions, empty, or an axis too short.

    Examples
    --------
    >>> array([[1, 2]], "image", ndim=2).shape
    (1, 2)
    """
    if value is None:
        raise TypeError(f"{name}: expected an array, got None")
    if not is_dask(value):
        value = np.asarray(value)
    real_dtype(value, name)
    allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim or ())
    if allowed and value.ndim not in allowed:
        expected = axes or " or ".join(f"{n}D" for n in allowed)
        raise ValueError(f"{name}: expected {expected}, got shape {tuple(value.shape)}")
    if 0 in value.shape:
        raise ValueError(f"{name}: must not be empty, got shape {tuple(value.shape)}")
    if min_shape is not None:
        for size, least in zip(value.shape, min_shape, strict=False):
            if size < least:
                raise ValueError(
                    f"{name}: expected at least {tuple(min_shape)} along its axes, "
                    f"got shape {tuple(value.shape)}"
                )
    return value


def plane(
    value: Any,
    name: str,
    shape: Sequence[int],
    *,
    allow_scalar: bool = False,
    allow_nan: bool = False,
    against: str = "the image",
) -> np.ndarray | None:
    """Check a per-pixel (row, col) argument (dark, flat, gains) and return it as float64.

    Parameters
    ----------
    value : array-like, number or None
        The argument; None is passed through.
    name : str
        Its name, used in messages.
    shape : sequence of int
        The (row, col) shape it must have.
    allow_scalar : bool
        Accept a number, broadcast to ``shape``.
    allow_nan : bool
        Accept NaN or infinite values.
    against : str
        What ``shape`` comes from, for the message ("the image", "the sweep").

    Returns
    -------
    numpy.ndarray or None
        float64 array of ``shape``.

    Raises
    ------
    TypeError
        Not numeric.
    ValueError
        Wrong shape, or non-finite values when not allowed.

    Examples
    --------
    >>> plane(3, "dark", (2, 2), allow_scalar=True).tolist()
    [[3.0, 3.0], [3.0, 3.0]]
    """
    if value is None:
        return None
    shape = tuple(int(s) for s in shape)
    if allow_scalar and isinstance(value, numbers.Real) and not isinstance(value, bool):
        return np.full(shape, finite(value, name), dtype=np.float64)
    values = np.asarray(value)
    real_dtype(values, name)
    if values.shape != shape:
        expected = f"(row, col) = {shape} like {against}" + (" or a number" if allow_scalar else "")
        raise ValueError(f"{name}: expected shape {expected}, got {values.shape}")
    values = values.astype(np.float64)
    if not allow_nan:
        bad = int(np.count_nonzero(~np.isfinite(values)))
        if bad:
            raise ValueError(f"{name}: contains {bad} NaN or infinite values")
    return values


def mask(
    value: Any, name: str, shape: Sequence[int], *, allow_all: bool = False
) -> np.ndarray | None:
    """Check a mask argument (True = ignore the pixel) and return it as a bool array.

    Parameters
    ----------
    value : array-like or None
        The mask; None is passed through.
    name : str
        Its name, used in messages.
    shape : sequence of int
        The (row, col) shape of the image it masks.
    allow_all : bool
        Accept a mask that hides every pixel.

    Returns
    -------
    numpy.ndarray of bool or None
        The mask.

    Raises
    ------
    ValueError
        Wrong shape, or every pixel masked.

    Examples
    --------
    >>> mask([[0, 1]], "mask", (1, 2)).tolist()
    [[False, True]]
    """
    if value is None:
        return None
    values = np.asarray(value)
    shape = tuple(int(s) for s in shape)
    if values.shape != shape:
        raise ValueError(
            f"{name}: expected a (row, col) mask of shape {shape} like the image, "
            f"got {values.shape}"
        )
    if values.dtype.kind == "f":
        values = np.nan_to_num(values, nan=1.0)
    values = values.astype(bool)
    if not allow_all and values.all():
        raise ValueError(f"{name}: hides every pixel (True marks a pixel to ignore)")
    return values


def finite(value: Any, name: str) -> float:
    """Check that ``value`` is a finite real number and return it as float.

    Raises
    ------
    TypeError
        Not a number (bools are not numbers here).
    ValueError
        NaN or infinite.

    Examples
    --------
    >>> finite(2, "sigma")
    2.0
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name}: expected a finite number, got {value!r}")
    return float(value)


def number(
    value: Any,
    name: str,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """Check a finite number within bounds and return it as float.

    Parameters
    ----------
    value : number
        The argument.
    name : str
        Its name, used in messages.
    minimum, maximum : float, optional
        Bounds (inclusive unless ``exclusive_minimum``).
    exclusive_minimum : bool
        ``value`` must be strictly greater than ``minimum``.

    Returns
    -------
    float
        The value.

    Raises
    ------
    TypeError
        Not a number.
    ValueError
        Out of bounds or not finite.

    Examples
    --------
    >>> number(0.5, "alpha", minimum=0, exclusive_minimum=True)
    0.5
    """
    result = finite(value, name)
    if minimum is not None:
        too_small = result <= minimum if exclusive_minimum else result < minimum
        if too_small:
            bound = ">" if exclusive_minimum else ">="
            raise ValueError(f"{name}: expected a number {bound} {minimum:g}, got {value!r}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name}: expected a number <= {maximum:g}, got {value!r}")
    return result


def positive(value: Any, name: str) -> float:
    """Check a finite number > 0 and return it as float.

    Examples
    --------
    >>> positive(3, "sigma")
    3.0
    """
    return number(value, name, minimum=0, exclusive_minimum=True)


def integer(
    value: Any, name: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """Check an integer within bounds and return it as int.

    Raises
    ------
    TypeError
        Not an integer (bools and floats are refused).
    ValueError
        Out of bounds.

    Examples
    --------
    >>> integer(3, "size", minimum=1)
    3
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name}: expected an integer, got {value!r}")
    if minimum is not None and value < minimum:
        raise ValueError(f"{name}: expected an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name}: expected an integer <= {maximum}, got {value}")
    return int(value)


def boolean(value: Any, name: str) -> bool:
    """Check that ``value`` is True or False.

    Examples
    --------
    >>> boolean(True, "pad")
    True
    """
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name}: expected True or False, got {value!r}")
    return bool(value)


def choice(value: Any, name: str, choices: Sequence[Any]) -> Any:
    """Check that ``value`` is one of ``choices`` and return it.

    Examples
    --------
    >>> choice("vo", "method", ("vo", "pc"))
    'vo'
    """
    if value not in tuple(choices):
        listed = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name}: unknown value {value!r}; expected one of {listed}")
    return value


def numbers_tuple(
    value: Any,
    name: str,
    *,
    length: int | Sequence[int] | None = None,
    integer_values: bool = False,
) -> tuple:
    """Check a sequence of numbers (a pair, a list of indices) and return it as a tuple.

    Parameters
    ----------
    value : sequence
        The argument.
    name : str
        Its name, used in messages.
    length : int or sequence of int, optional
        Allowed lengths.
    integer_values : bool
        Every item must be an integer.

    Returns
    -------
    tuple of float or int
        The items.

    Examples
    --------
    >>> numbers_tuple([1, 2], "rows", length=2, integer_values=True)
    (1, 2)
    """
    if isinstance(value, str | bytes):
        raise TypeError(f"{name}: expected a sequence of numbers, got {value!r}")
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name}: expected a sequence of numbers, got {value!r}") from None
    allowed = (length,) if isinstance(length, int) else tuple(length or ())
    if allowed and len(items) not in allowed:
        counts = " or ".join(str(n) for n in allowed)
        raise ValueError(f"{name}: expected {counts} values, got {len(items)}: {value!r}")
    if integer_values:
        return tuple(integer(item, name) for item in items)
    return tuple(finite(item, name) for item in items)
