"""Dock-widget controls generated from a step's options dataclass.

:class:`OptionsForm` turns every option declared with :func:`detcal._options.option` into a
magicgui control (check box, spin box, drop-down, or a text box for "automatic" values and
lists), arranged in collapsible groups named after the options' groups, with the option's help
as tooltip. ``form.value()`` returns the validated options, so a widget never lists its
parameters again and a bad entry is reported with the control's label.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from magicgui import widgets
from psygnal import Signal
from qtpy.QtWidgets import QVBoxLayout, QWidget
from superqt import QCollapsible

from detcal._options import OptionSpec, OptionType, option_fields

_BIG = 1e9


def _control(name: str, spec: OptionSpec, kind: OptionType, default: Any) -> widgets.Widget:
    """One magicgui control for one option."""
    common = {"name": name, "label": spec.label, "tooltip": spec.help}
    if kind.is_tuple or (kind.optional and kind.base is not str):
        text = "" if default is None else " ".join(str(v) for v in _as_tuple(default))
        control = widgets.LineEdit(value=text, **common)
        control.native.setPlaceholderText("automatic" if kind.optional else "values")
        return control
    if kind.base is bool:
        return widgets.CheckBox(value=bool(default), **common)
    if spec.choices is not None:
        return widgets.ComboBox(value=default, choices=list(spec.choices), **common)
    if kind.base is str:
        return widgets.LineEdit(value=default or "", **common)
    low = -_BIG if spec.minimum is None else spec.minimum
    high = _BIG if spec.maximum is None else spec.maximum
    if kind.base is int:
        low = int(low + (1 if spec.exclusive_minimum else 0))
        return widgets.SpinBox(value=int(default), min=int(low), max=int(high), **common)
    step = spec.step or _default_step(default)
    if spec.exclusive_minimum:
        low = low + step / 100
    return widgets.FloatSpinBox(value=float(default), min=low, max=high, step=step, **common)


def _default_step(default: float) -> float:
    magnitude = abs(float(default)) or 1.0
    step = 10.0 ** (int(f"{magnitude:e}".split("e")[1]) - 1)
    return max(step, 1e-6)


def _as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, tuple | list) else (value,)


class OptionsForm:
    """Controls for the options of one step, grouped and validated.

    Parameters
    ----------
    options_class : type
        Options dataclass (fields declared with :func:`detcal._options.option`).
    exclude : tuple of str
        Options not shown (the widget sets them itself, e.g. from a layer).

    Attributes
    ----------
    native : QWidget
        The widget to put in a dock.
    changed : Signal
        Emitted (with no value) when any control changes.
    """

    changed = Signal()

    def __init__(self, options_class: type, *, exclude: tuple[str, ...] = ()) -> None:
        self._class = options_class
        self._kinds: dict[str, tuple[OptionSpec, OptionType]] = {}
        self.controls: dict[str, widgets.Widget] = {}
        self.native = QWidget()
        layout = QVBoxLayout(self.native)
        layout.setContentsMargins(0, 0, 0, 0)
        groups: dict[str, widgets.Container] = {}
        advanced: dict[str, bool] = {}
        for field, spec, kind in option_fields(options_class):
            if not spec.widget or field.name in exclude:
                continue
            control = _control(field.name, spec, kind, field.default)
            control.changed.connect(lambda *_: self.changed.emit())
            self.controls[field.name] = control
            self._kinds[field.name] = (spec, kind)
            if spec.group not in groups:
                groups[spec.group] = widgets.Container(labels=True)
                advanced[spec.group] = spec.advanced
            groups[spec.group].append(control)
        for title, container in groups.items():
            box = QCollapsible(title)
            box.addWidget(container.native)
            if not advanced[title]:
                box.expand(animate=False)
            layout.addWidget(box)
        self._groups = groups

    def _read(self, name: str) -> Any:
        spec, kind = self._kinds[name]
        value = self.controls[name].value
        if not isinstance(self.controls[name], widgets.LineEdit) or kind.base is str:
            return value
        words = str(value).replace(",", " ").split()
        if not words:
            if kind.optional:
                return None
            if kind.is_tuple and kind.length is None:
                return ()
            raise ValueError(f"{spec.label}: enter one or more numbers")
        try:
            items = tuple(kind.base(w) if kind.base is float else int(w) for w in words)
        except ValueError:
            raise ValueError(f"{spec.label}: expected numbers, got {value!r}") from None
        return items if kind.is_tuple else items[0] if len(items) == 1 else items

    def value(self, **fixed: Any) -> Any:
        """Return the options as the controls show them, validated.

        Parameters
        ----------
        **fixed
            Values for options the form does not show (or overrides).

        Returns
        -------
        object
            An instance of the options dataclass.

        Raises
        ------
        ValueError, TypeError
            An entry out of range or unreadable, named by its label.
        """
        values = {name: self._read(name) for name in self.controls}
        values.update(fixed)
        try:
            return self._class(**values)
        except (ValueError, TypeError) as exc:
            raise type(exc)(self._labelled(str(exc))) from None

    def _labelled(self, message: str) -> str:
        name, sep, rest = message.partition(":")
        if sep and name in self._kinds:
            return f"{self._kinds[name][0].label}:{rest}"
        return message

    def set_value(self, options: Any) -> None:
        """Show ``options`` in the controls (options not shown are ignored)."""
        for field in dataclasses.fields(options):
            if field.name not in self.controls:
                continue
            value = getattr(options, field.name)
            control = self.controls[field.name]
            if isinstance(control, widgets.LineEdit) and self._kinds[field.name][1].base is not str:
                value = "" if value is None else " ".join(str(v) for v in _as_tuple(value))
            control.value = value
