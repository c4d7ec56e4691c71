"""Build a recipe from what napari layers recorded: the chain of steps behind a layer.

Every step widget records, in its result layer's metadata,
``{"detcal": {"step": NAME, "params": {...}, "source": INPUT_LAYER}}``; a calibration array is
recorded as ``{"path": "/abs/file"}`` when it came from a file, or ``{"layer": NAME}`` when it
came from a layer. :func:`chain_behind` follows the ``source`` links from a chosen layer back to
a raw layer (one that no registered step made) and lists the steps in the order they ran.
:func:`save_chain` writes the recipe; calibration arrays that exist only as layers are saved as
files beside it and named by relative paths, so the folder is self-contained.

Everything here takes plain dicts (``{name: {"metadata": ..., "path": ...}}``): the napari
widget only gathers them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from detcal.progress import ProgressCallback
from detcal.recipe.format import FORMAT_VERSION, Recipe, RecipeError
from detcal.recipe.steps import FILE_KINDS, STEPS


@dataclass
class Chain:
    """The steps behind a layer, ready to be saved as a recipe.

    Attributes
    ----------
    steps : list of dict
        ``{"step": NAME, "params": {...}}`` in the order they ran; file parameters are paths,
        except those listed in ``pending``.
    raw : str
        The layer the chain starts from (the input of the first step).
    layers : list of str
        The result layers along the chain, first step's result first.
    pending : dict
        ``{(step index, parameter): layer name}`` for calibration arrays that exist only as
        layers; :func:`save_chain` writes them beside the recipe.
    dropped : list of str
        Recorded parameters the step does not take (not carried into the recipe).
    """

    steps: list[dict[str, Any]]
    raw: str
    layers: list[str]
    pending: dict[tuple[int, str], str] = field(default_factory=dict)
    dropped: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """One line per step, for display.

        Returns
        -------
        list of str
            ``"1. response.correct_image: coefficients=<layer gains>, dark=10"`` ...
        """
        lines = [f"input: layer {self.raw!r}"]
        for i, step in enumerate(self.steps):
            parts = []
            for name, value in step["params"].items():
                layer = self.pending.get((i, name))
                parts.append(f"{name}=<layer {layer}>" if layer else f"{name}={value}")
            lines.append(f"{i + 1}. {step['step']}: {', '.join(parts) or 'no parameters'}")
        return lines


def _record(layers: Mapping[str, Mapping], name: str) -> dict | None:
    record = (layers[name].get("metadata") or {}).get("detcal")
    if isinstance(record, dict) and (record.get("step") in STEPS or record.get("step") == "recipe"):
        return record
    return None


def _file_value(value: Any, layers: Mapping[str, Mapping], where: str) -> tuple[Any, str | None]:
    """Return a recorded file parameter as (path or number, pending layer name)."""
    if isinstance(value, dict) and "path" in value:
        return str(value["path"]), None
    if isinstance(value, dict) and "layer" in value:
        name = value["layer"]
        if name not in layers:
            raise RecipeError(f"{where}: recorded from layer {name!r}, which is not open")
        path = layers[name].get("path")
        return (str(path), None) if path else (None, name)
    return value, None


def _expand_recipe(record: dict, where: str) -> list[dict[str, Any]]:
    """Return the steps of a layer made by applying a whole recipe (absolute paths)."""
    values = (record.get("params") or {}).get("recipe")
    try:
        return Recipe.from_dict(values).to_dict()["steps"]
    except (RecipeError, FileNotFoundError) as exc:
        raise RecipeError(f"{where}: the recorded recipe no longer runs: {exc}") from exc


def chain_behind(layers: Mapping[str, Mapping[str, Any]], name: str) -> Chain:
    """Follow the recorded ``source`` links from a layer back to its raw input.

    Parameters
    ----------
    layers : mapping
        ``{layer name: {"metadata": layer.metadata, "path": file it was opened from or
        None}}`` for every open layer.
    name : str
        The layer whose making is wanted.

    Returns
    -------
    Chain
        The steps, first to last.

    Raises
    ------
    RecipeError
        ``name`` was not made by a recorded step, a ``source`` layer is missing, or the
        links loop.

    Examples
    --------
    >>> layers = {
    ...     "raw": {"metadata": {}, "path": "/data/raw.zarr"},
    ...     "corrected": {"metadata": {"detcal": {
    ...         "step": "response.correct_image", "source": "raw",
    ...         "params": {"coefficients": {"path": "/cal/gains.tif"}, "dark": 10}}}},
    ... }
    >>> chain = chain_behind(layers, "corrected")
    >>> chain.raw, chain.steps[0]["params"]
    ('raw', {'coefficients': '/cal/gains.tif', 'dark': 10})
    """
    if name not in layers:
        raise RecipeError(f"layer {name!r} is not open")
    if _record(layers, name) is None:
        raise RecipeError(
            f"layer {name!r} was not made by a recorded detcal step; choose a result layer"
        )
    found: list[tuple[str, list[dict], dict, list[str]]] = []
    current, seen = name, set()
    while (record := _record(layers, current)) is not None:
        if current in seen:
            raise RecipeError(f"the source links of layer {current!r} form a loop")
        seen.add(current)
        where = f"layer {current!r}"
        if record["step"] == "recipe":
            entries, pending, dropped = _expand_recipe(record, where), {}, []
        else:
            entries, pending, dropped = _translate(record, layers, where)
        found.append((current, entries, pending, dropped))
        source = record.get("source")
        if source not in layers:
            raise RecipeError(f"{where}: its source layer {source!r} is not open")
        current = source
    steps, pending_all, dropped_all, names = [], {}, [], []
    for layer, entries, pending, dropped in reversed(found):
        offset = len(steps)
        steps.extend(entries)
        pending_all.update({(offset + i, p): n for (i, p), n in pending.items()})
        dropped_all.extend(dropped)
        names.append(layer)
    return Chain(steps, current, names, pending_all, dropped_all)


def _translate(record: dict, layers: Mapping, where: str):
    spec = STEPS[record["step"]]
    params, pending, dropped = {}, {}, []
    for key, value in (record.get("params") or {}).items():
        if spec.scan:
            params[key] = value
            continue
        param = spec.params.get(key)
        if param is None:
            dropped.append(f"{where}: {key}")
            continue
        if param.kind in FILE_KINDS:
            value, layer = _file_value(value, layers, f"{where}: {key}")
            if layer is not None:
                pending[(0, key)] = layer
        params[key] = value
    return [{"step": spec.name, "params": params}], pending, dropped


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "array"


def _pending_files(chain: Chain) -> dict[str, str]:
    """Layer name -> file name beside the recipe (``.npy``, or a profiles folder)."""
    kinds = {n: STEPS[chain.steps[i]["step"]].params[p].kind for (i, p), n in chain.pending.items()}
    names: dict[str, str] = {}
    for layer, kind in kinds.items():
        stem = _safe_name(layer)
        candidate, k = stem, 1
        while candidate in names.values():
            k, candidate = k + 1, f"{stem}-{k + 1}"
        names[layer] = candidate if kind == "profiles" else candidate + ".npy"
    return names


def save_chain(
    chain: Chain,
    path: str | os.PathLike,
    arrays: Mapping[str, Any | Callable[[], Any]],
    *,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
) -> Path:
    """Save a chain as a recipe, writing layer-only calibration arrays beside it.

    Parameters
    ----------
    chain : Chain
        From :func:`chain_behind`.
    path : str or path-like
        The recipe's ``.json`` file.
    arrays : mapping
        ``{layer name: array, or a callable returning it}`` for every layer in
        ``chain.pending`` (a profiles layer's array is its flat-field).
    overwrite : bool, default False
        Replace existing files.
    progress : callable, optional
        ``progress(done, total)``, one count per file written.

    Returns
    -------
    pathlib.Path
        ``path``; the recipe it holds is checked (as :meth:`Recipe.load` does) before it is
        written, and array files new to the folder are removed again if it fails.

    Raises
    ------
    KeyError
        An array for a pending layer is missing from ``arrays``.
    FileExistsError
        A file exists and ``overwrite`` is False (checked before anything is written).
    RecipeError
        The chain would not run (the message names the step and parameter).

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> layers = {"raw": {"metadata": {}}, "corrected": {"metadata": {"detcal": {
    ...     "step": "response.correct_image", "source": "raw",
    ...     "params": {"coefficients": {"layer": "gains"}}}}}, "gains": {"metadata": {}}}
    >>> out = save_chain(chain_behind(layers, "corrected"), tempfile.mkdtemp() + "/r.json",
    ...                  {"gains": np.ones((2, 2))})
    >>> Recipe.load(out).steps[0].params
    {'coefficients': 'gains.npy'}
    """
    from detcal.io import check_output, save_array
    from detcal.io._atomic import remove

    path = Path(path).expanduser()
    folder = path.parent
    files = _pending_files(chain)
    missing = sorted(set(files) - set(arrays))
    if missing:
        raise KeyError(f"arrays: no data given for layer {missing[0]!r}")
    for target in [path, *(folder / f for f in files.values())]:
        check_output(target, overwrite=overwrite, array=False)
    if not folder.is_dir():
        raise FileNotFoundError(f"folder {str(folder)!r} does not exist")
    steps = [{"step": s["step"], "params": dict(s["params"])} for s in chain.steps]
    for (i, param), layer in chain.pending.items():
        steps[i]["params"][param] = files[layer]
    existed = {folder / name: (folder / name).exists() for name in files.values()}
    written: list[Path] = []  # new files, removed again if the recipe fails its check
    try:
        for k, (layer, name) in enumerate(files.items()):
            data = arrays[layer]
            data = data() if callable(data) else data
            target = folder / name
            if name.endswith(".npy"):
                save_array(data, target, overwrite=overwrite)
            else:
                from detcal.flatfield import Profiles, save_profiles

                save_profiles(Profiles(_as_numpy(data)), target, overwrite=overwrite)
            if not existed[target]:
                written.append(target)
            if progress is not None:
                progress(k + 1, len(files) + 1)
        recipe = Recipe.from_dict({"detcal_recipe": FORMAT_VERSION, "steps": steps}, base=folder)
        recipe.save(path, overwrite=overwrite)
    except BaseException:
        for target in written:
            remove(target)
        raise
    if progress is not None:
        progress(len(files) + 1, len(files) + 1)
    return path


def _as_numpy(data: Any):
    import numpy as np

    compute = getattr(data, "compute", None)
    return np.asarray(compute() if compute is not None else data)
