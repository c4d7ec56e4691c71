"""The steps a recipe may hold: each is one public detcal function applied to the running array.

:data:`STEPS` maps a step name (``"response.correct_image"``) to a :class:`StepSpec`: the public
function it calls, its parameters and what each one is (a calibration file, a number, a flag,
the tomography options). The registry is the whole list of what a recipe can do: a recipe is
data, never code. The runners import their step's module only when they run, and are plain
module-level functions so that a dask graph holding them can be sent to cluster workers.
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from typing import Any

#: Parameter kinds. ``array``: a (row, col) calibration array read from a file with
#: :func:`detcal.io.open_array`; ``array_or_number``: the same, or one number; ``mask``: a
#: boolean array from a file (True = ignore); ``profiles``: a ``profiles.npz`` or a model
#: folder (:func:`detcal.flatfield.load_profiles`); ``map``: a pyFAI NeXus distortion file
#: (:meth:`detcal.distortion.DistortionMap.load`); ``number``, ``positive``, ``integer``,
#: ``boolean``, ``choice`` (one of ``Param.choices``): JSON values.
FILE_KINDS = ("array", "array_or_number", "mask", "profiles", "map")
VALUE_KINDS = ("number", "positive", "integer", "boolean", "choice")


@dataclass(frozen=True)
class Param:
    """One parameter of a step.

    Parameters
    ----------
    kind : str
        One of :data:`FILE_KINDS` or :data:`VALUE_KINDS`.
    help : str
        What it is, for the format reference and ``detcal recipe show``.
    required : bool
        The step cannot run without it.
    minimum : float, optional
        Smallest allowed value of a number or integer.
    choices : tuple of str, optional
        The allowed values of a ``choice``.
    """

    kind: str
    help: str
    required: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] | None = None


@dataclass(frozen=True)
class StepSpec:
    """A step a recipe may hold.

    Parameters
    ----------
    name : str
        The name written in recipes, ``"<module>.<function>"``.
    function : str
        The public function it calls, e.g. ``"detcal.response.correct_image"``.
    summary : str
        One line saying what it does.
    params : dict of str to Param
        Its parameters (for ``"tomo.reconstruct"``: none here, the tomography options are
        checked by :class:`detcal.tomo.options.ReconOptions`).
    scan : bool
        The step takes a whole scan (projections, flats, darks, angles), not an array; it must
        be the last step.
    """

    name: str
    function: str
    summary: str
    params: dict[str, Param] = field(default_factory=dict)
    scan: bool = False


def _correct_image(data, *, coefficients, dark=None, flat=None, sigma=None, smooth_sigma=50.0):
    from detcal.response import correct_image

    return correct_image(
        data, coefficients, dark=dark, flat=flat, sigma=sigma, smooth_sigma=smooth_sigma
    )


def _apply_flatfield(data, *, profiles, keep_dtype=False):
    from detcal.flatfield import apply_flatfield

    return apply_flatfield(data, profiles, keep_dtype=keep_dtype)


@functools.lru_cache(maxsize=4)
def _distortion_map(path: str, mtime_ns: int):
    from detcal.distortion import DistortionMap

    return DistortionMap.load(path)


def load_map(path: str):
    """Load a distortion file once per process (validation, replay and each cluster worker).

    Parameters
    ----------
    path : str
        A pyFAI detector file written by :meth:`detcal.distortion.DistortionMap.save`.

    Returns
    -------
    detcal.distortion.DistortionMap
        The map, shared by every later call for the same unchanged file.
    """
    return _distortion_map(path, os.stat(path).st_mtime_ns)


def _correct_planes(block, path: str, options: dict):
    return load_map(path).correct(block, **options)


def _distortion_correct(data, *, map, **options):  # noqa: A002  (the recipe's name)
    # The graph holds the file's path, not the map: a DistortionMap holds a lock and cannot
    # be sent to cluster workers; each process loads the file once.
    checked = load_map(map).correct(data, **options)  # checks shapes and options, lazily
    if not hasattr(data, "dask"):
        return checked
    planes = data.rechunk({-2: -1, -1: -1})
    return planes.map_blocks(_correct_planes, map, options, dtype=checked.dtype)


def _align(data, *, mask=None, reference=0, fill_value=0.0):
    import numpy as np

    from detcal import _validate
    from detcal.diffraction import align

    index = _validate.integer(reference, "reference", minimum=0, maximum=data.shape[0] - 1)
    aligned, _ = align(data, reference=np.asarray(data[index]), mask=mask, fill_value=fill_value)
    return aligned


RUNNERS = {
    "response.correct_image": _correct_image,
    "flatfield.apply_flatfield": _apply_flatfield,
    "distortion.correct": _distortion_correct,
    "diffraction.align": _align,
}

STEPS: dict[str, StepSpec] = {
    spec.name: spec
    for spec in (
        StepSpec(
            "response.correct_image",
            "detcal.response.correct_image",
            "per-pixel detector response: (image - dark) * gains, optionally / smoothed flat",
            {
                "coefficients": Param("array", "(row, col) gains from detcal response fit", True),
                "dark": Param("array_or_number", "(row, col) dark image, or one dark level"),
                "flat": Param("array", "(row, col) flat (mean of the flat exposures)"),
                "sigma": Param("positive", "residual threshold in standard deviations"),
                "smooth_sigma": Param("positive", "Gaussian sigma (pixels) for the flat"),
            },
        ),
        StepSpec(
            "flatfield.apply_flatfield",
            "detcal.flatfield.apply_flatfield",
            "flat-field profiles: (image - darkfield) / flatfield - baseline",
            {
                "profiles": Param("profiles", "profiles.npz, or a model folder holding one", True),
                "keep_dtype": Param("boolean", "round and clip back to the input's dtype"),
            },
        ),
        StepSpec(
            "distortion.correct",
            "detcal.distortion.DistortionMap.correct",
            "spatial distortion from a hole-grid calibration (pyFAI NeXus detector file)",
            {
                "map": Param("map", "distortion file written by DistortionMap.save", True),
                "preserve": Param(
                    "choice",
                    "intensity: a flat image stays flat; counts: the total is conserved",
                    choices=("intensity", "counts"),
                ),
            },
        ),
        StepSpec(
            "diffraction.align",
            "detcal.diffraction.align",
            "align every plane with a reference plane (masked sub-pixel registration)",
            {
                "mask": Param("mask", "(row, col) boolean mask, True = ignore (beam block)"),
                "reference": Param("integer", "index of the reference plane", minimum=0),
                "fill_value": Param("number", "value of pixels shifted in from outside"),
            },
        ),
        StepSpec(
            "tomo.reconstruct",
            "detcal.tomo.pipeline.reconstruct_dataset",
            "whole tomography run (the ReconOptions fields as parameters); last step",
            scan=True,
        ),
    )
}


def run_array_step(name: str, data: Any, params: dict[str, Any]) -> Any:
    """Apply the array step ``name`` to ``data`` with resolved parameters.

    Parameters
    ----------
    name : str
        A key of :data:`STEPS` that is not a scan step.
    data : numpy.ndarray or dask.array.Array
        The running array.
    params : dict
        Parameters with files already loaded (arrays, profiles, distortion map).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The step's result, lazy for a dask input.

    Examples
    --------
    >>> import numpy as np
    >>> run_array_step("response.correct_image", np.full((2, 2), 3.0),
    ...                {"coefficients": np.full((2, 2), 2.0)}).tolist()
    [[6.0, 6.0], [6.0, 6.0]]
    """
    return RUNNERS[name](data, **params)
