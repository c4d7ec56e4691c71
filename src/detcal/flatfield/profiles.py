"""Flat-field profiles and their files, in BaSiCPy's ``save_model`` layout.

A model is one unit: ``<folder>/profiles.npz`` holds the ``flatfield``, ``darkfield`` and
``baseline`` arrays and ``<folder>/settings.json`` the fit settings, so a model saved by basicpy
loads here and the other way round. Both are written together or not at all. A file name of
your own (``flat_488.npz``) holds the settings inside the ``.npz`` (key ``"settings"``, a JSON
string): no ``settings.json`` is ever written beside it, nor read from beside it.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from detcal.flatfield import basic as basic_fit
from detcal.io import atomic_output, check_output

PROFILES_NAME = "profiles.npz"
SETTINGS_NAME = "settings.json"


@dataclass(frozen=True, eq=False)
class Profiles:
    """Flat-field profiles, with the keys of BaSiCPy's ``profiles.npz``.

    Parameters
    ----------
    flatfield : numpy.ndarray
        (row, col) multiplicative profile, finite and > 0 (mean 1 when estimated here).
    darkfield : numpy.ndarray, optional
        (row, col) additive offset subtracted before dividing by the flat.
    baseline : numpy.ndarray, optional
        A scalar (0-d or one value), subtracted after the division; or basicpy's per-plane
        baseline of the fitted planes, which (like basicpy's ``transform``) is not applied.
    settings : dict, optional
        basicpy settings written to ``settings.json``.
    info : dict, optional
        How the profiles were made (scenario, planes used, planes rejected); not saved.

    Raises
    ------
    ValueError
        If the flat is not 2-D, not finite or not positive, or the darkfield does not match.
    """

    flatfield: np.ndarray
    darkfield: np.ndarray | None = None
    baseline: np.ndarray | None = None
    settings: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        flat = np.asarray(self.flatfield, dtype=np.float32)
        if flat.ndim != 2:
            raise ValueError(f"flatfield must be a (row, col) image, got shape {flat.shape}")
        bad = int(np.count_nonzero(~np.isfinite(flat) | (flat <= 0)))
        if bad:
            raise ValueError(
                f"flatfield has {bad} pixels that are zero, negative, NaN or infinite; "
                "a flat must be finite and > 0 everywhere"
            )
        object.__setattr__(self, "flatfield", flat)
        if self.darkfield is not None:
            dark = np.asarray(self.darkfield, dtype=np.float32)
            if dark.shape != flat.shape or not np.all(np.isfinite(dark)):
                raise ValueError(
                    f"darkfield must be finite with the flat's shape {flat.shape}, "
                    f"got shape {dark.shape}"
                )
            object.__setattr__(self, "darkfield", dark)
        if self.baseline is not None:
            base = np.asarray(self.baseline, dtype=np.float64)
            if not np.all(np.isfinite(base)):
                raise ValueError("baseline must be finite")
            object.__setattr__(self, "baseline", base)

    @property
    def shape(self) -> tuple[int, int]:
        """(row, col) shape of the profiles."""
        return tuple(self.flatfield.shape)

    def scalar_baseline(self) -> float | None:
        """Return the baseline that :func:`apply_flatfield` subtracts, or None."""
        if self.baseline is None or self.baseline.size != 1:
            return None
        return float(self.baseline.reshape(()))


# --------------------------------------------------------------------------- files


def check_channel(models_folder: str | os.PathLike, channel: str) -> Path:
    """Return ``models_folder / channel``, refusing names that escape the folder.

    Parameters
    ----------
    models_folder : path
        Folder holding one sub-folder per channel.
    channel : str
        Channel name (a folder name; nested names like ``"488/left"`` are allowed).

    Returns
    -------
    pathlib.Path
        The channel's folder.

    Raises
    ------
    ValueError
        If ``channel`` is empty, absolute, contains ``..`` or resolves outside the folder.
    """
    name = str(channel)
    parts = Path(name).parts
    if not name.strip() or Path(name).is_absolute() or ".." in parts or name.startswith("~"):
        raise ValueError(
            f"channel {name!r} is not a folder name inside the models folder "
            "(no absolute paths, no '..')"
        )
    root = Path(models_folder).resolve()
    target = (root / name).resolve()
    if not target.is_relative_to(root):
        raise ValueError(f"channel {name!r} escapes the models folder {root}")
    return target


def _profiles_file(path: str | os.PathLike, channel: str | None) -> Path:
    path = Path(path)
    if channel is not None:
        if not path.is_dir():
            raise FileNotFoundError(f"models folder {path} does not exist")
        path = check_channel(path, channel)
    if path.is_dir():
        candidate = path / PROFILES_NAME
        if not candidate.is_file():
            channels = sorted(p.parent.name for p in path.glob(f"*/{PROFILES_NAME}"))
            hint = f"; channels found: {channels}" if channels else ""
            raise FileNotFoundError(f"no {PROFILES_NAME} in {path}{hint}")
        return candidate
    if not path.is_file():
        raise FileNotFoundError(f"profiles file {path} does not exist")
    return path


def load_profiles(path: str | os.PathLike, *, channel: str | None = None) -> Profiles:
    """Load flat-field profiles saved by BaSiCPy, napari-basicpy or :func:`save_profiles`.

    Parameters
    ----------
    path : path
        A ``profiles.npz`` file, a model folder holding one, or (with ``channel``) a models
        folder holding ``<channel>/profiles.npz``.
    channel : str, optional
        Channel sub-folder; must stay inside ``path``.

    Returns
    -------
    Profiles
        ``flatfield``; ``darkfield`` (None when all zeros); ``baseline`` (None when empty);
        ``settings`` from inside the ``.npz``, or from the ``settings.json`` beside a
        ``profiles.npz`` (a model folder).

    Raises
    ------
    FileNotFoundError
        If the file or folder does not exist.
    ValueError
        If the file has no ``flatfield``, holds objects, or the profiles are invalid.

    Examples
    --------
    >>> import tempfile
    >>> folder = tempfile.mkdtemp()
    >>> _ = save_profiles(Profiles(np.full((4, 4), 1.0)), folder)
    >>> load_profiles(folder).shape
    (4, 4)
    """
    file = _profiles_file(path, channel)
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files if k in ("flatfield", "darkfield", "baseline")}
            embedded = str(npz["settings"]) if "settings" in npz.files else None
    except ValueError as exc:
        raise ValueError(f"{file} holds Python objects, refused (allow_pickle=False)") from exc
    if "flatfield" not in arrays:
        raise ValueError(f"{file} has no 'flatfield' array (keys: flatfield, darkfield, baseline)")
    dark = arrays.get("darkfield")
    if dark is not None and (dark.size == 0 or not np.any(dark)):
        dark = None
    baseline = arrays.get("baseline")
    if baseline is not None and baseline.size == 0:
        baseline = None
    return Profiles(arrays["flatfield"], dark, baseline, settings=_settings(file, embedded))


def _settings(file: Path, embedded: str | None) -> dict[str, Any] | None:
    """Return the settings embedded in the npz, or the ``settings.json`` of a model folder."""
    if embedded is not None:
        return json.loads(embedded)
    beside = file.parent / SETTINGS_NAME
    if file.name == PROFILES_NAME and beside.is_file():
        return json.loads(beside.read_text())
    return None


def save_profiles(profiles: Profiles, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save profiles: a BaSiCPy model folder, or one ``.npz`` file with the settings inside.

    ``BaSiC.load_model(folder)`` loads a saved folder: the settings are basicpy's with numeric
    smoothness values, an absent darkfield is written as zeros and an absent baseline as an
    empty array. The files are written to temporary siblings and renamed into place together:
    an error leaves neither.

    Parameters
    ----------
    profiles : Profiles
        What to save.
    path : path
        A model folder (created if needed) that receives ``profiles.npz`` and
        ``settings.json``; a path ending in ``profiles.npz`` means the same; any other name
        ending in ``.npz`` is written alone, with the settings stored inside it.
    overwrite : bool, default False
        Replace an existing model (both of its files).

    Returns
    -------
    pathlib.Path
        The ``.npz`` file written.

    Raises
    ------
    FileExistsError
        If the model (either of its files) exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> save_profiles(Profiles(np.ones((4, 4))), tempfile.mkdtemp()).name
    'profiles.npz'
    """
    path = Path(path)
    npz_file = path if path.suffix == ".npz" else path / PROFILES_NAME
    in_folder = npz_file.name == PROFILES_NAME
    settings_file = npz_file.parent / SETTINGS_NAME
    targets = (npz_file, settings_file) if in_folder else (npz_file,)
    npz_file.parent.mkdir(parents=True, exist_ok=True)  # a new model folder holds nothing yet
    for target in targets:
        check_output(target, overwrite=overwrite, array=False)
    flat = profiles.flatfield.astype(np.float64)
    dark = np.zeros_like(flat) if profiles.darkfield is None else profiles.darkfield
    base = np.zeros(0) if profiles.baseline is None else profiles.baseline
    settings = dict(basic_fit.SETTINGS_DEFAULTS)
    settings.update(profiles.settings or {})
    arrays = {
        "flatfield": flat,
        "darkfield": np.asarray(dark, dtype=np.float64),
        "baseline": np.asarray(base, dtype=np.float64),
    }
    if not in_folder:
        arrays["settings"] = np.asarray(json.dumps(settings))
    with contextlib.ExitStack() as stack:  # renamed into place together, on success only
        tmp_npz = stack.enter_context(atomic_output(npz_file))
        if in_folder:
            stack.enter_context(atomic_output(settings_file)).write_text(
                json.dumps(settings, indent=1)
            )
        with open(tmp_npz, "wb") as handle:
            np.savez(handle, **arrays)
    return npz_file
