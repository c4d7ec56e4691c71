"""Command-line flags generated from a step's options dataclass.

One grammar for every command: an option ``center_row`` is the flag ``--center-row``; a
True/False option is ``--pad`` / ``--no-pad``; a list is space separated (``--rows 0 64``,
``--centers 10 11 12``); an option that may be "automatic" (None) is left out to keep it so.
Each help line says the default and, where the spec has them, the units and limits.
"""

from __future__ import annotations

import argparse
import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from detcal._options import OptionSpec, OptionType, option_fields


def flag_of(name: str) -> str:
    """Return the flag spelling of an option name (``center_row`` -> ``--center-row``).

    Examples
    --------
    >>> flag_of("center_row")
    '--center-row'
    """
    return "--" + name.replace("_", "-")


def _help(spec: OptionSpec, kind: OptionType, default: Any) -> str:
    text = spec.help.rstrip(".")
    if spec.choices is not None:
        text += f"; one of {', '.join(str(c) for c in spec.choices)}"
    if kind.base is bool and not kind.is_tuple:
        shown = "on" if default else "off"
    elif default is None:
        shown = "automatic" if kind.base is not str else "none"
    elif isinstance(default, tuple):
        shown = " ".join(str(v) for v in default) or "none"
    else:
        shown = str(default)
    return f"{text} (default: {shown})".replace("%", "%%")


def add_option_flags(
    parser: argparse.ArgumentParser,
    options_class: type,
    *,
    exclude: tuple[str, ...] = (),
    grouped: bool = True,
) -> None:
    """Add one flag per option of ``options_class`` to ``parser``.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    options_class : type
        An options dataclass whose fields were declared with :func:`detcal._options.option`.
    exclude : tuple of str
        Option names not offered (for example those a positional argument fills).
    grouped : bool
        Put the flags in argument groups named after the options' groups.
    """
    groups: dict[str, Any] = {}
    for field, spec, kind in option_fields(options_class):
        if not spec.cli or field.name in exclude:
            continue
        target = parser
        if grouped:
            if spec.group not in groups:
                groups[spec.group] = parser.add_argument_group(spec.group.lower())
            target = groups[spec.group]
        flag = flag_of(field.name)
        kwargs: dict[str, Any] = {"dest": field.name, "default": argparse.SUPPRESS}
        kwargs["help"] = _help(spec, kind, field.default)
        if kind.is_tuple:
            kwargs["type"] = kind.base
            kwargs["nargs"] = kind.length or "+"
            kwargs["metavar"] = spec.metavar or field.name.upper().split("_")[-1]
        elif kind.base is bool:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = kind.base
            if spec.choices is not None:
                kwargs["choices"] = spec.choices
            else:
                kwargs["metavar"] = spec.metavar or field.name.upper().split("_")[-1]
        target.add_argument(flag, **kwargs)


def options_from_args(options_class: type, args: argparse.Namespace, **fixed: Any) -> Any:
    """Build the options from the parsed flags (flags not given keep their defaults).

    Parameters
    ----------
    options_class : type
        The options dataclass.
    args : argparse.Namespace
        Parsed arguments (from flags added by :func:`add_option_flags`).
    **fixed
        Values set by the command itself (they win over flags).

    Returns
    -------
    object
        The validated options.

    Raises
    ------
    ValueError, TypeError
        A flag out of range, with the message naming the flag (``--sigma: ...``).
    """
    values: dict[str, Any] = {}
    for field, _spec, kind in option_fields(options_class):
        if hasattr(args, field.name):
            value = getattr(args, field.name)
            values[field.name] = tuple(value) if kind.is_tuple and value is not None else value
    values.update(fixed)
    try:
        return options_class(**values)
    except (ValueError, TypeError) as exc:
        raise type(exc)(flag_message(str(exc))) from None


_NAME = re.compile(r"^([a-z][a-z0-9_]*):")


def flag_message(message: str) -> str:
    """Say a check's message in flags: a leading ``center_row:`` becomes ``--center-row:``.

    Examples
    --------
    >>> flag_message("smooth_sigma: expected a number > 0, got -2")
    '--smooth-sigma: expected a number > 0, got -2'
    """
    return _NAME.sub(lambda m: flag_of(m.group(1)) + ":", message, count=1)


@contextlib.contextmanager
def errors_as_flags(names: dict[str, str]) -> Iterator[None]:
    """Say the core's argument names as the command's flags in errors raised in the block.

    Parameters
    ----------
    names : dict
        Core argument name -> how the command line calls it (``{"coefficients": "--gains"}``).
    """
    try:
        yield
    except (ValueError, TypeError) as exc:
        name = re.match(r"^([a-z_]+):", str(exc))
        if name is None or name.group(1) not in names:
            raise
        raise type(exc)(names[name.group(1)] + str(exc)[len(name.group(1)) :]) from exc


def recorded_path(path: str | Path) -> dict[str, str]:
    """Return an input file as outputs record it: ``{"path": absolute path}``."""
    return {"path": str(Path(path).expanduser().resolve())}
