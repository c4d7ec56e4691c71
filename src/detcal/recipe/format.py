"""The recipe file: versioned, human-readable JSON, checked whole before any work.

A recipe is ``{"detcal_recipe": 1, "steps": [{"step": NAME, "params": {...}}, ...]}``, with
an optional ``"description"``. Array-valued parameters are file paths, relative to the recipe
file's folder (or absolute). :meth:`Recipe.load` refuses anything it could not run: an unknown
step, an unknown, missing or wrongly typed parameter, a calibration file that is missing or
unreadable, a newer format version. The error names the step's index, its name and the
parameter. No pickle, no code: only JSON numbers, strings, booleans, lists and objects.

A tomography run record (the ``<output>.json`` that ``detcal tomo recon`` writes beside its
volume) is read as a one-step recipe (see :func:`from_tomo_record`).
"""

from __future__ import annotations

import json
import math
import numbers
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detcal.recipe.steps import FILE_KINDS, STEPS, Param, StepSpec, load_map

#: The version this detcal writes and the newest it reads.
FORMAT_VERSION = 1
_TOP_KEYS = {"detcal_recipe", "steps", "description"}
_STEP_KEYS = {"step", "params"}
_TOMO_KEY = "detcal_tomo_options"


class RecipeError(ValueError):
    """A recipe that cannot be run; the message names the step and the parameter."""


class MissingFileError(RecipeError, FileNotFoundError):
    """A calibration file named by a recipe does not exist."""


@dataclass(frozen=True)
class Step:
    """One step of a recipe: a registered step name and its JSON parameters.

    Parameters
    ----------
    step : str
        A name from :data:`detcal.recipe.steps.STEPS`, e.g. ``"response.correct_image"``.
    params : dict
        JSON values; files as paths (relative to the recipe's folder, or absolute).
    """

    step: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> StepSpec:
        """The registry entry of this step."""
        return STEPS[self.step]


def _where(index: int, name: Any, param: str | None = None) -> str:
    where = f"steps[{index}] ({name})" if isinstance(name, str) else f"steps[{index}]"
    return f"{where}: {param}" if param else where


def _resolve(value: str, base: Path | None) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else (base or Path.cwd()) / path


def _check_file(kind: str, path: Path, where: str) -> None:
    """Check that a calibration file exists and can be read as ``kind`` (arrays: metadata only)."""
    if not path.exists():
        raise MissingFileError(f"{where}: no such file or folder {str(path)!r}")
    try:
        if kind in ("array", "array_or_number", "mask"):
            from detcal.io import open_array

            array = open_array(path)
            if array.ndim != 2:
                raise ValueError(f"expected a (row, col) array, got shape {array.shape}")
        elif kind == "profiles":
            from detcal.flatfield import load_profiles

            load_profiles(path)
        elif kind == "map":
            load_map(str(path.resolve()))  # cached: the replay reuses it, one read
    except (ValueError, TypeError, KeyError, OSError, ImportError) as exc:
        raise RecipeError(f"{where}: cannot read {str(path)!r}: {exc}") from exc


def _check_value(param: Param, value: Any, where: str) -> None:
    if param.kind == "boolean":
        if not isinstance(value, bool):
            raise RecipeError(f"{where}: expected true or false, got {value!r}")
        return
    if param.kind == "choice":
        if value not in param.choices:
            listed = ", ".join(repr(c) for c in param.choices)
            raise RecipeError(f"{where}: unknown value {value!r}; expected one of {listed}")
        return
    is_number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if param.kind == "integer" and not (is_number and float(value).is_integer()):
        raise RecipeError(f"{where}: expected an integer, got {value!r}")
    if not is_number:
        raise RecipeError(f"{where}: expected a number, got {value!r}")
    if not math.isfinite(value):
        raise RecipeError(f"{where}: expected a finite number, got {value!r}")
    if param.kind == "positive" and value <= 0:
        raise RecipeError(f"{where}: expected a number > 0, got {value!r}")
    if param.minimum is not None and value < param.minimum:
        raise RecipeError(f"{where}: expected a number >= {param.minimum:g}, got {value!r}")


def _check_params(index: int, spec: StepSpec, params: dict, base: Path | None) -> None:
    if spec.scan:
        tomo_options(index, spec.name, params)
        return
    unknown = sorted(set(params) - set(spec.params))
    if unknown:
        allowed = ", ".join(spec.params)
        raise RecipeError(
            f"{_where(index, spec.name, unknown[0])}: unknown parameter; {spec.name} takes "
            f"{allowed}"
        )
    for name, param in spec.params.items():
        where = _where(index, spec.name, name)
        if name not in params:
            if param.required:
                raise RecipeError(f"{where}: missing; this parameter is required")
            continue
        value = params[name]
        if param.kind in FILE_KINDS:
            if param.kind == "array_or_number" and not isinstance(value, str):
                _check_value(Param("number", ""), value, where)
                continue
            if not isinstance(value, str) or not value:
                raise RecipeError(f"{where}: expected a file path (a string), got {value!r}")
            _check_file(param.kind, _resolve(value, base), where)
        else:
            _check_value(param, value, where)


def tomo_options(index: int, name: str, params: dict):
    """Build the ReconOptions of a ``tomo.reconstruct`` step, naming the step on error.

    Parameters
    ----------
    index : int
        The step's index in the recipe.
    name : str
        The step's name.
    params : dict
        The step's parameters (:class:`detcal.tomo.options.ReconOptions` fields).

    Returns
    -------
    ReconOptions
        The checked options.

    Raises
    ------
    RecipeError
        An unknown option or a bad value.
    """
    from detcal.tomo.options import ReconOptions

    try:
        return ReconOptions.from_dict(params)
    except (ValueError, TypeError) as exc:
        raise RecipeError(f"{_where(index, name)}: {exc}") from exc


def _parse_step(index: int, entry: Any, base: Path | None) -> Step:
    if not isinstance(entry, dict):
        raise RecipeError(f"{_where(index, None)}: expected an object, got {entry!r}")
    extra = sorted(set(entry) - _STEP_KEYS)
    if extra:
        raise RecipeError(f"{_where(index, entry.get('step'))}: unknown key {extra[0]!r}")
    name = entry.get("step")
    if name not in STEPS:
        known = ", ".join(STEPS)
        raise RecipeError(f"{_where(index, None)}: unknown step {name!r}; known steps: {known}")
    params = entry.get("params", {})
    if not isinstance(params, dict):
        raise RecipeError(f"{_where(index, name)}: params must be an object, got {params!r}")
    _check_params(index, STEPS[name], params, base)
    return Step(name, dict(params))


def _version(values: dict) -> int:
    version = values.get("detcal_recipe")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise RecipeError(
            f"detcal_recipe must be the format version (an integer >= 1), got {version!r}"
        )
    if version > FORMAT_VERSION:
        raise RecipeError(
            f"recipe format version {version} is newer than this detcal reads "
            f"({FORMAT_VERSION}); upgrade detcal"
        )
    return version


@dataclass
class Recipe:
    """An ordered list of steps, each one public detcal function applied to the running array.

    Parameters
    ----------
    steps : list of Step
        The steps, applied in order.
    base : pathlib.Path, optional
        Folder that relative file paths are resolved against (the recipe file's folder);
        default: the working directory.
    description : str, optional
        Free text kept in the file.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> np.save(folder / "gains.npy", np.full((2, 2), 0.5))
    >>> recipe = Recipe.from_dict({"detcal_recipe": 1, "steps": [
    ...     {"step": "response.correct_image",
    ...      "params": {"coefficients": "gains.npy", "dark": 10}}]}, base=folder)
    >>> recipe.apply(np.full((2, 2), 110.0)).tolist()
    [[50.0, 50.0], [50.0, 50.0]]
    """

    steps: list[Step]
    base: Path | None = None
    description: str | None = None

    @classmethod
    def from_dict(cls, values: Any, *, base: str | os.PathLike | None = None) -> Recipe:
        """Build a recipe from parsed JSON, checking every step, parameter and file.

        Parameters
        ----------
        values : dict
            ``{"detcal_recipe": 1, "steps": [...]}``, or a tomography run record.
        base : str or path-like, optional
            Folder relative paths are resolved against.

        Returns
        -------
        Recipe
            The checked recipe.

        Raises
        ------
        RecipeError
            Anything that would stop the recipe from running; the message names the step
            (``steps[i] (name)``) and the parameter.
        MissingFileError
            A calibration file does not exist (also a ``FileNotFoundError``).
        """
        base = None if base is None else Path(base).expanduser().resolve()
        if not isinstance(values, dict):
            raise RecipeError(f"a recipe must be a JSON object, got {type(values).__name__}")
        if _TOMO_KEY in values and "detcal_recipe" not in values:
            return _from_tomo_values(values, base)
        _version(values)
        extra = sorted(set(values) - _TOP_KEYS)
        if extra:
            raise RecipeError(f"unknown key {extra[0]!r}; a recipe holds {sorted(_TOP_KEYS)}")
        steps = values.get("steps")
        if not isinstance(steps, list) or not steps:
            raise RecipeError(f"steps must be a non-empty list, got {steps!r}")
        parsed = [_parse_step(i, entry, base) for i, entry in enumerate(steps)]
        for i, step in enumerate(parsed[:-1]):
            if step.spec.scan:
                raise RecipeError(f"{_where(i, step.step)}: must be the last step")
        description = values.get("description")
        if description is not None and not isinstance(description, str):
            raise RecipeError(f"description must be a string, got {description!r}")
        return cls(parsed, base, description)

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recipe:
        """Read and check a recipe file (or a tomography run record).

        Parameters
        ----------
        path : str or path-like
            The JSON file.

        Returns
        -------
        Recipe
            The checked recipe; relative paths resolve against the file's folder.

        Raises
        ------
        FileNotFoundError
            ``path`` (or a calibration file it names) does not exist.
        RecipeError
            Not JSON, or a recipe that could not run (see :meth:`from_dict`).
        """
        path = Path(path).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"recipe {str(path)!r} does not exist")
        text = path.read_text(encoding="utf-8")
        try:
            values = json.loads(text, parse_constant=_refuse_constant)
        except json.JSONDecodeError as exc:
            raise RecipeError(f"{path}: not valid JSON: {exc}") from exc
        try:
            return cls.from_dict(values, base=path.parent)
        except RecipeError as exc:
            raise type(exc)(f"{path}: {exc}") from exc

    def file_params(self) -> list[tuple[int, str, Path]]:
        """List the calibration files the recipe reads.

        Returns
        -------
        list of (int, str, pathlib.Path)
            Step index, parameter name and absolute path of each file parameter.
        """
        found = []
        for i, step in enumerate(self.steps):
            for name, param in step.spec.params.items():
                value = step.params.get(name)
                if param.kind in FILE_KINDS and isinstance(value, str):
                    found.append((i, name, _resolve(value, self.base).resolve()))
        return found

    def to_dict(self, *, relative_to: str | os.PathLike | None = None) -> dict[str, Any]:
        """Return the recipe as JSON values, file paths rewritten for a new location.

        Parameters
        ----------
        relative_to : str or path-like, optional
            Folder the recipe will be saved in: files inside it are written relative to it,
            others absolute. None writes every file path absolute.

        Returns
        -------
        dict
            ``{"detcal_recipe": 1, "steps": [...]}``.
        """
        folder = None if relative_to is None else Path(relative_to).expanduser().resolve()
        files = {(i, name): path for i, name, path in self.file_params()}
        steps = []
        for i, step in enumerate(self.steps):
            params = dict(step.params)
            for name in params:
                path = files.get((i, name))
                if path is not None:
                    params[name] = _relative(path, folder)
            steps.append({"step": step.step, "params": params})
        out: dict[str, Any] = {"detcal_recipe": FORMAT_VERSION}
        if self.description:
            out["description"] = self.description
        out["steps"] = steps
        return out

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the recipe as indented JSON, atomically.

        File paths inside the recipe's new folder are written relative to it, so the folder
        can be moved or copied whole; others are written absolute.

        Parameters
        ----------
        path : str or path-like
            The ``.json`` file.
        overwrite : bool, default False
            Replace an existing file.

        Returns
        -------
        pathlib.Path
            ``path``.

        Raises
        ------
        FileExistsError
            ``path`` exists and ``overwrite`` is False.
        FileNotFoundError
            The folder of ``path`` does not exist.
        """
        from detcal.io import atomic_output

        path = Path(path).expanduser()
        if path.exists() and not overwrite:
            raise FileExistsError(f"path {str(path)!r} exists; pass overwrite=True to replace it")
        if not path.parent.is_dir():
            raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist")
        text = json.dumps(self.to_dict(relative_to=path.parent), indent=2) + "\n"
        with atomic_output(path) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return path

    @property
    def needs_scan(self) -> bool:
        """True when the last step takes a whole scan (``tomo.reconstruct``)."""
        return self.steps[-1].spec.scan

    def apply(self, data: Any) -> Any:
        """Apply the steps lazily (see :func:`detcal.recipe.replay.apply_steps`).

        Parameters
        ----------
        data : numpy.ndarray, dask.array.Array or TomoDataset
            The input; a scan (:class:`detcal.tomo.pipeline.TomoDataset`) when the recipe
            ends with ``tomo.reconstruct``.

        Returns
        -------
        numpy.ndarray or dask.array.Array
            The result; lazy for a dask input.
        """
        from detcal.recipe.replay import apply_steps

        return apply_steps(self, data)


def _relative(path: Path, folder: Path | None) -> str:
    if folder is not None and path.is_relative_to(folder):
        return path.relative_to(folder).as_posix()
    return str(path)


def _refuse_constant(name: str) -> None:
    raise RecipeError(f"{name} is not allowed in a recipe (use a finite number)")


def _from_tomo_values(values: dict, base: Path | None) -> Recipe:
    params = {k: v for k, v in values.items() if k not in (_TOMO_KEY, "run")}
    run = values.get("run")
    if isinstance(run, dict) and run.get("center_found"):
        params["center"] = None  # found on that scan: a new scan gets its own
    if not isinstance(values[_TOMO_KEY], int) or values[_TOMO_KEY] < 1:
        raise RecipeError(f"{_TOMO_KEY} must be an integer version, got {values[_TOMO_KEY]!r}")
    options = tomo_options(0, "tomo.reconstruct", {**params, _TOMO_KEY: values[_TOMO_KEY]})
    params = {k: v for k, v in options.to_dict().items() if k != _TOMO_KEY}
    return Recipe([Step("tomo.reconstruct", params)], base, "from a tomography run record")


def from_tomo_record(path: str | os.PathLike) -> Recipe:
    """Turn the JSON a tomography run wrote beside its volume into a one-step recipe.

    Parameters
    ----------
    path : str or path-like
        ``<output>.json`` from ``detcal tomo recon`` (or
        :func:`detcal.tomo.pipeline.reconstruct_dataset`).

    Returns
    -------
    Recipe
        One ``tomo.reconstruct`` step whose parameters are the run's options. The facts
        recorded under ``"run"`` are dropped, and a centre the run found by itself is left
        unset, so that each new scan gets its own; a centre the user gave is kept.

    Raises
    ------
    RecipeError
        Not a tomography run record, or options this detcal does not know.

    Examples
    --------
    >>> import tempfile
    >>> from detcal.tomo.options import ReconOptions
    >>> record = Path(tempfile.mkdtemp()) / "rec.zarr.json"
    >>> _ = record.write_text(ReconOptions(stripe="fw").to_json({"center": 301.0}))
    >>> recipe = from_tomo_record(record)
    >>> recipe.steps[0].step, recipe.steps[0].params["stripe"]
    ('tomo.reconstruct', 'fw')
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"tomography record {str(path)!r} does not exist")
    try:
        values = json.loads(path.read_text(encoding="utf-8"), parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise RecipeError(f"{path}: not valid JSON: {exc}") from exc
    if not isinstance(values, dict) or _TOMO_KEY not in values:
        raise RecipeError(f"{path}: not a tomography run record (no {_TOMO_KEY!r} key)")
    return _from_tomo_values(values, path.parent.resolve())
