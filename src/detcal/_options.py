"""A step's options as one list: a dataclass whose fields carry label, group, limits and help.

Each step keeps its parameters in one options dataclass built with :func:`option`. That one list
is checked here (:func:`check_options`, called from ``__post_init__``), turned into command-line
flags by :mod:`detcal.cli._flags` and into dock-widget controls by ``detcal.napari._controls``,
so adding an option is one line and the three never disagree.

Supported field types: ``bool``, ``int``, ``float``, ``str`` (with ``choices``), ``tuple[int,
...]``/``tuple[float, ...]`` (fixed length when written ``tuple[float, float]``), and any of those
``| None`` (None = automatic / off).
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from dataclasses import dataclass
from typing import Any

from detcal import _validate

_KEY = "detcal"


@dataclass(frozen=True)
class OptionSpec:
    """What the CLI, the widget and the checks need to know about one option.

    Parameters
    ----------
    label : str
        Short label shown beside the widget control.
    help : str
        One sentence for the ``--help`` line and the control's tooltip (units included).
    group : str
        Collapsible group in the widget and argument group in ``--help``.
    minimum, maximum : float, optional
        Bounds (inclusive unless ``exclusive_minimum``).
    exclusive_minimum : bool
        The value must be strictly greater than ``minimum``.
    choices : tuple, optional
        Allowed values of a ``str`` option.
    step : float, optional
        Increment of the widget's spin box.
    metavar : str or tuple of str, optional
        How ``--help`` names the value(s), e.g. ``("LOW", "HIGH")`` for a pair.
    advanced : bool
        Collapsed by default in the widget.
    cli : bool
        Offer a command-line flag.
    widget : bool
        Offer a widget control.
    """

    label: str
    help: str
    group: str = "Options"
    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False
    choices: tuple[Any, ...] | None = None
    step: float | None = None
    metavar: str | tuple[str, ...] | None = None
    advanced: bool = False
    cli: bool = True
    widget: bool = True


@dataclass(frozen=True)
class OptionType:
    """The shape of an option's value, read from its annotation.

    Parameters
    ----------
    base : type
        ``bool``, ``int``, ``float`` or ``str`` (the item type for tuples).
    optional : bool
        None is allowed.
    length : int or None
        For tuples: the fixed length, or None for any length; ``0`` means not a tuple.
    """

    base: type
    optional: bool
    length: int | None

    @property
    def is_tuple(self) -> bool:
        """Whether the value is a tuple of ``base``."""
        return self.length != 0


def option(default: Any, *, label: str, help: str, **spec: Any) -> Any:
    """Declare one option of a step: a dataclass field with its :class:`OptionSpec`.

    Parameters
    ----------
    default : object
        Default value (tuples are fine; never a list).
    label : str
        Widget label.
    help : str
        Help text (units included).
    **spec
        Further :class:`OptionSpec` fields (group, minimum, maximum, choices, ...).

    Returns
    -------
    dataclasses.Field
        The field.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Opts:
    ...     sigma: float = option(50.0, label="Sigma", help="smoothing, px", minimum=0)
    >>> spec_of(dataclasses.fields(Opts)[0]).label
    'Sigma'
    """
    return dataclasses.field(
        default=default, metadata={_KEY: OptionSpec(label=label, help=help, **spec)}
    )


def spec_of(field: dataclasses.Field) -> OptionSpec | None:
    """Return the :class:`OptionSpec` of a field, or None for a plain field."""
    return field.metadata.get(_KEY)


@functools.cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def type_of(cls: type, field: dataclasses.Field) -> OptionType:
    """Read the :class:`OptionType` of ``field`` from the annotations of ``cls``.

    Raises
    ------
    TypeError
        An annotation this module cannot turn into a flag or a control.
    """
    hint = _hints(cls)[field.name]
    optional = False
    args = typing.get_args(hint)
    if typing.get_origin(hint) in (typing.Union, types.UnionType) and type(None) in args:
        optional = True
        rest = [a for a in args if a is not type(None)]
        if len(rest) != 1:
            raise TypeError(f"option {field.name}: unsupported annotation {hint!r}")
        hint = rest[0]
    if typing.get_origin(hint) is tuple:
        items = typing.get_args(hint)
        if len(items) == 2 and items[1] is Ellipsis:
            return OptionType(items[0], optional, None)
        if len(set(items)) != 1:
            raise TypeError(f"option {field.name}: tuple items must share one type, got {hint!r}")
        return OptionType(items[0], optional, len(items))
    if hint not in (bool, int, float, str):
        raise TypeError(f"option {field.name}: unsupported annotation {hint!r}")
    return OptionType(hint, optional, 0)


def option_fields(cls_or_obj: Any) -> list[tuple[dataclasses.Field, OptionSpec, OptionType]]:
    """List the options of an options dataclass (fields declared with :func:`option`).

    Returns
    -------
    list of (Field, OptionSpec, OptionType)
        In declaration order.
    """
    cls = cls_or_obj if isinstance(cls_or_obj, type) else type(cls_or_obj)
    out = []
    for field in dataclasses.fields(cls):
        spec = spec_of(field)
        if spec is not None:
            out.append((field, spec, type_of(cls, field)))
    return out


def check_value(value: Any, name: str, spec: OptionSpec, kind: OptionType) -> Any:
    """Check one option value against its spec and type; return it normalised.

    Tuples come back as tuples, ints as int, floats as float. Messages start with ``name:``.
    """
    if value is None:
        if kind.optional:
            return None
        raise TypeError(f"{name}: expected a value, got None")
    if kind.is_tuple:
        items = _validate.numbers_tuple(
            value, name, length=kind.length, integer_values=kind.base is int
        )
        return tuple(_check_scalar(item, name, spec, kind.base) for item in items)
    return _check_scalar(value, name, spec, kind.base)


def _check_scalar(value: Any, name: str, spec: OptionSpec, base: type) -> Any:
    if base is bool:
        return _validate.boolean(value, name)
    if base is str:
        if spec.choices is not None:
            return _validate.choice(value, name, spec.choices)
        if not isinstance(value, str):
            raise TypeError(f"{name}: expected text, got {value!r}")
        return value
    if spec.choices is not None:
        _validate.choice(value, name, spec.choices)
    if base is int:
        minimum = None if spec.minimum is None else int(spec.minimum + spec.exclusive_minimum)
        maximum = None if spec.maximum is None else int(spec.maximum)
        return _validate.integer(value, name, minimum=minimum, maximum=maximum)
    return _validate.number(
        value,
        name,
        minimum=spec.minimum,
        maximum=spec.maximum,
        exclusive_minimum=spec.exclusive_minimum,
    )


def check_options(obj: Any) -> None:
    """Check and normalise every option of a dataclass instance in place.

    Call it from the dataclass's ``__post_init__``; cross-field rules follow it there.

    Raises
    ------
    TypeError, ValueError
        The first option of the wrong type or out of range, named.
    """
    for field, spec, kind in option_fields(obj):
        value = check_value(getattr(obj, field.name), field.name, spec, kind)
        object.__setattr__(obj, field.name, value)


def options_dict(obj: Any) -> dict[str, Any]:
    """Return the options of a dataclass instance as JSON-friendly values (lists for tuples).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Opts:
    ...     rows: tuple[int, int] | None = option((0, 2), label="Rows", help="row range")
    >>> options_dict(Opts())
    {'rows': [0, 2]}
    """
    out = {}
    for field, _spec, _kind in option_fields(obj):
        value = getattr(obj, field.name)
        out[field.name] = list(value) if isinstance(value, tuple) else value
    return out
