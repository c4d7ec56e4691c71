"""Axis descriptions of saved arrays: name, NGFF type, unit and scale.

:func:`detcal.io.save_array` takes ``axes=`` as names (``"angle"``, ``"y"``, ``"x"``) or
dictionaries (``{"name": "x", "type": "space", "unit": "micrometer", "scale": 0.65}``) and
writes them as OME-NGFF axes (Zarr) or as an ``axes`` attribute (HDF5, TIFF);
:func:`detcal.io.read_metadata` gives them back under ``"axes"``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

# OME-NGFF 0.5 default axes by number of dimensions
DEFAULT_NAMES = {
    2: ("y", "x"),
    3: ("z", "y", "x"),
    4: ("c", "z", "y", "x"),
    5: ("t", "c", "z", "y", "x"),
}
_TYPE_OF_NAME = {"x": "space", "y": "space", "z": "space", "t": "time", "time": "time",
                 "c": "channel", "channel": "channel"}  # fmt: skip
_PREFIXES = ("atto", "centi", "deci", "exa", "femto", "giga", "hecto", "kilo", "mega",
             "micro", "milli", "nano", "peta", "pico", "tera", "yocto", "yotta", "zepto",
             "zetta", "")  # fmt: skip
# the units OME-NGFF allows for space and time axes (UCUM names)
SPACE_UNITS = frozenset(
    [p + "meter" for p in _PREFIXES] + ["angstrom", "foot", "inch", "mile", "parsec", "yard"]
)
TIME_UNITS = frozenset([p + "second" for p in _PREFIXES] + ["minute", "hour", "day"])
_KEYS = {"name", "type", "unit", "scale", "translation"}


def _one(axis: Any, position: int) -> dict[str, Any]:
    where = f"axes[{position}]"
    if isinstance(axis, str):
        axis = {"name": axis}
    if not isinstance(axis, Mapping):
        raise TypeError(f"{where} must be a name or a dict with name, type, unit, scale; got "
                        f"{type(axis).__name__}")  # fmt: skip
    unknown = set(axis) - _KEYS
    if unknown:
        raise ValueError(f"{where} has unknown keys {sorted(unknown)}; allowed: name, type, "
                         "unit, scale, translation")  # fmt: skip
    name = axis.get("name")
    if not isinstance(name, str) or not name:
        raise ValueError(f"{where} needs a non-empty name, got {name!r}")
    kind = axis.get("type") or _TYPE_OF_NAME.get(name.lower(), name)
    if not isinstance(kind, str):
        raise TypeError(f"{where} type must be a string, got {kind!r}")
    out: dict[str, Any] = {"name": name, "type": kind}
    unit = axis.get("unit")
    if unit is not None:
        allowed = {"space": SPACE_UNITS, "time": TIME_UNITS}.get(kind)
        if allowed is not None and unit not in allowed:
            raise ValueError(
                f"{where} unit {unit!r} is not an OME-NGFF {kind} unit (e.g. "
                f"{'micrometer, millimeter, centimeter' if kind == 'space' else 'second'})"
            )
        out["unit"] = str(unit)
    scale = axis.get("scale", 1.0)
    if (
        isinstance(scale, bool)
        or not isinstance(scale, (int, float))
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise ValueError(f"{where} scale must be a number > 0, got {scale!r}")
    out["scale"] = float(scale)
    translation = axis.get("translation", 0.0)
    if (
        isinstance(translation, bool)
        or not isinstance(translation, (int, float))
        or not math.isfinite(translation)
    ):
        raise ValueError(f"{where} translation must be a finite number, got {translation!r}")
    if translation:
        out["translation"] = float(translation)
    return out


def normalize_axes(axes: Sequence[Any] | None, ndim: int) -> list[dict[str, Any]] | None:
    """Return one ``{"name", "type", "unit"?, "scale"}`` per dimension, or None.

    ``axes=None`` gives the NGFF defaults (``z, y, x`` of type space, scale 1) for 2-5
    dimensions and None otherwise.

    Examples
    --------
    >>> normalize_axes(["angle", {"name": "y", "unit": "micrometer", "scale": 0.5}, "x"], 3)[:2]
    [{'name': 'angle', 'type': 'angle', 'scale': 1.0}, {'name': 'y', 'type': 'space', \
'unit': 'micrometer', 'scale': 0.5}]
    """
    if axes is None:
        names = DEFAULT_NAMES.get(ndim)
        return None if names is None else [_one(n, i) for i, n in enumerate(names)]
    if isinstance(axes, (str, Mapping)) or not isinstance(axes, Sequence):
        raise TypeError(f"axes must be a list with one entry per dimension, got {axes!r}")
    if len(axes) != ndim:
        raise ValueError(f"axes has {len(axes)} entries but the array has {ndim} dimensions")
    out = [_one(axis, i) for i, axis in enumerate(axes)]
    names = [a["name"] for a in out]
    if len(set(names)) != len(names):
        raise ValueError(f"axes names must differ, got {names}")
    return out


def check_ngff(axes: list[dict[str, Any]]) -> None:
    """Refuse axes that an OME-NGFF image cannot have (2 or 3 space axes, last)."""
    kinds = [a["type"] for a in axes]
    spaces = kinds.count("space")
    if spaces not in (2, 3) or any(k != "space" for k in kinds[len(kinds) - spaces :]):
        raise ValueError(
            f"axes of an OME-Zarr image must end with 2 or 3 space axes (types {kinds}); "
            "give the others a type such as time, channel or angle"
        )
    if kinds.count("time") > 1 or (kinds.count("time") == 1 and kinds[0] != "time"):
        raise ValueError(f"axes: a time axis must come first (types {kinds})")
