"""Flat-field profiles and their files, in BaSiCPy's ``save_model`` layout.

``<folder>/profiles.npz`` holds the ``flatfield``, ``darkfield`` and ``baseline`` arrays and
``<folder>/settings.json`` the fit settings, so a model saved by basicpy loads here and the
other way round.
"""

from __future__ import annotations

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
        ``settings`` from ``settings.json`` next to the file when present.

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
    settings = None
    settings_file = file.parent / SETTINGS_NAME
    if settings_file.is_file():
        settings = json.loads(settings_file.read_text())
    return Profiles(arrays["flatfield"], dark, baseline, settings=settings)


def save_profiles(profiles: Profiles, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Save profiles in BaSiCPy's model layout: ``profiles.npz`` + ``settings.json``.

    ``BaSiC.load_model(folder)`` loads the result: the settings are basicpy's with numeric
    smoothness values, an absent darkfield is written as zeros and an absent baseline as an
    empty array. Each file is written to a temporary sibling and renamed into place.

    Parameters
    ----------
    profiles : Profiles
        What to save.
    path : path
        A folder (created if needed), or a file name ending in ``.npz`` (``settings.json`` goes
        next to it; basicpy only loads files named ``profiles.npz``).
    overwrite : bool, default False
        Replace existing files.

    Returns
    -------
    pathlib.Path
        The ``.npz`` file written.

    Raises
    ------
    FileExistsError
        If a file exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> save_profiles(Profiles(np.ones((4, 4))), tempfile.mkdtemp()).name
    'profiles.npz'
    """
    path = Path(path)
    npz_file = path if path.suffix == ".npz" else path / PROFILES_NAME
    settings_file = npz_file.parent / SETTINGS_NAME
    for target in (npz_file, settings_file):
        check_output(target, overwrite=overwrite, array=False)
    npz_file.parent.mkdir(parents=True, exist_ok=True)
    flat = profiles.flatfield.astype(np.float64)
    dark = np.zeros_like(flat) if profiles.darkfield is None else profiles.darkfield
    base = np.zeros(0) if profiles.baseline is None else profiles.baseline
    settings = dict(basic_fit.SETTINGS_DEFAULTS)
    settings.update(profiles.settings or {})

    with atomic_output(npz_file) as tmp, open(tmp, "wb") as handle:
        np.savez(
            handle,
            flatfield=flat,
            darkfield=np.asarray(dark, dtype=np.float64),
            baseline=np.asarray(base, dtype=np.float64),
        )
    with atomic_output(settings_file) as tmp:
        tmp.write_text(json.dumps(settings, indent=1))
    return npz_file
