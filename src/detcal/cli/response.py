"""``detcal response``: fit per-pixel detector gains from a beam sweep, correct images with them.

``detcal response fit SWEEP [--dark D] [--sigma S] [--cutoff C] -o gains.zarr [--quality Q]``
streams the sweep once and writes the gain map (and the fit-quality maps);
``detcal response correct IMAGE --gains G [--dark D] [--flat F] [--residual-sigma S] -o OUT``
streams the corrected images to ``OUT`` chunk by chunk. The option flags are generated from
:class:`detcal.response.FitOptions` and :class:`detcal.response.CorrectOptions`. Any format
:func:`detcal.io.open_array` reads is accepted (a stack of darks or flats is averaged);
outputs are written atomically by :func:`detcal.io.save_array` and record the step, its
parameters and the absolute paths of their inputs.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Any

from detcal.cli._flags import add_option_flags, errors_as_flags, options_from_args, recorded_path
from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.io import check_output
from detcal.response.options import CorrectOptions, FitOptions

QUALITY_PLANES = ("residual_rms", "r_squared", "n_points")
# how the core's argument names read on this command line
_FLAGS = {"volume": "SWEEP", "image": "IMAGE", "dark": "--dark", "flat": "--flat"}
_FLAGS["coefficients"] = "--gains"


def register(subparsers) -> None:
    """Add the ``response`` sub-command with ``fit`` and ``correct``."""
    parser = subparsers.add_parser(
        "response",
        help="per-pixel detector response: fit gains from a beam sweep, correct images",
        description=(
            "Detector response calibration (detectorcal's method): fit per-pixel gains from a "
            "beam sweep, then correct images with them. Inputs: .zarr, .h5, .tif, .npy, .npz."
        ),
    )
    commands = parser.add_subparsers(dest="response_command", required=True, metavar="ACTION")

    fit = commands.add_parser(
        "fit",
        help="fit the gain map from a (z, row, col) beam sweep",
        description="Fit per-pixel gains from a beam sweep, streaming it once.",
    )
    fit.add_argument("sweep", type=Path, help="(z, row, col) beam sweep")
    fit.add_argument("--key", help="dataset inside the sweep file (HDF5 path, Zarr array, npz)")
    fit.add_argument("--dark", help="dark image file (a stack is averaged) or a dark level")
    add_option_flags(fit, FitOptions)
    fit.add_argument("-o", "--output", type=Path, required=True, help="gain map to write")
    fit.add_argument(
        "--quality",
        type=Path,
        help="also write the fit quality as 3 planes: residual r.m.s., R^2, points used",
    )
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_common_flags(fit)
    fit.set_defaults(func=_fit)

    correct = commands.add_parser(
        "correct",
        help="correct images with a gain map (and optionally a flat)",
        description="Correct (row, col) or (z, row, col) images, streaming chunk by chunk.",
    )
    correct.add_argument("image", type=Path, help="images to correct")
    correct.add_argument("--key", help="dataset inside the image file")
    correct.add_argument("--gains", type=Path, required=True, help="gain map from 'fit'")
    correct.add_argument("--dark", help="dark image file (a stack is averaged) or a dark level")
    correct.add_argument("--flat", help="flat image file (a stack is averaged), dark included")
    add_option_flags(correct, CorrectOptions)
    correct.add_argument("-o", "--output", type=Path, required=True, help="corrected output")
    correct.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common_flags(correct)
    correct.set_defaults(func=_correct)


def _fit(args: argparse.Namespace) -> int:
    import numpy as np

    from detcal.io import open_array, save_array
    from detcal.response import fit_response

    options = options_from_args(FitOptions, args)
    outputs = [args.output] + ([args.quality] if args.quality else [])
    _check_outputs(outputs, args.overwrite)
    sweep = open_array(args.sweep, key=args.key)
    dark = _dark(args.dark)
    with warnings.catch_warnings(record=True) as caught, errors_as_flags(_FLAGS):
        warnings.simplefilter("always", RuntimeWarning)
        gains, quality = fit_response(
            sweep,
            dark=dark,
            return_quality=True,
            progress=terminal_progress("fit"),
            **options.kwargs(),
        )
    for warning in caught:
        print(f"detcal: warning: {warning.message}", file=sys.stderr)
    params = {"volume": recorded_path(args.sweep), "dark": _recorded(args.dark), **options.kwargs()}
    attrs = {
        "step": "response.fit_response",
        "params": params,
        "source": recorded_path(args.sweep)["path"],
    }
    attrs["n_undefined"] = quality.n_undefined
    save_array(gains, args.output, overwrite=args.overwrite, attrs=attrs)
    if args.quality:
        planes = np.stack(
            [quality.residual_rms, quality.r_squared, quality.n_points.astype(np.float32)]
        )
        attrs = dict(attrs, planes=list(QUALITY_PLANES))
        save_array(planes, args.quality, overwrite=args.overwrite, attrs=attrs)
    defined = gains[np.isfinite(gains)]
    print(
        f"gains {gains.shape}: mean {defined.mean():.4f}, std {defined.std():.4f}, "
        f"{quality.n_undefined} undefined -> {args.output}"
    )
    return 0


def _correct(args: argparse.Namespace) -> int:
    from detcal.io import open_array, save_array
    from detcal.response import correct_image

    options = options_from_args(CorrectOptions, args)
    _check_outputs([args.output], args.overwrite)
    image = open_array(args.image, key=args.key)
    gains = open_array(args.gains)
    if gains.ndim == 3 and gains.shape[0] == 1:
        gains = gains[0]
    flat = None if args.flat is None else open_array(args.flat)
    with errors_as_flags(_FLAGS):
        corrected = correct_image(
            image, gains.compute(), dark=_dark(args.dark), flat=flat, **options.kwargs()
        )
    params = {
        "coefficients": recorded_path(args.gains),
        "dark": _recorded(args.dark),
        "flat": None if args.flat is None else recorded_path(args.flat),
        **options.kwargs(),
    }
    attrs = {
        "step": "response.correct_image",
        "params": params,
        "source": recorded_path(args.image)["path"],
    }
    save_array(
        corrected,
        args.output,
        overwrite=args.overwrite,
        progress=terminal_progress("correct"),
        attrs=attrs,
    )
    print(f"corrected {corrected.shape} {corrected.dtype} -> {args.output}")
    return 0


def _recorded(dark: str | None) -> Any:
    """Return the dark as recorded: a level, the file's absolute path, or None."""
    if dark is None:
        return None
    level = _level(dark)
    return level if level is not None else recorded_path(dark)


def _level(value: str) -> float | None:
    try:
        return float(value)
    except ValueError:
        return None


def _check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Refuse before any work if an output exists (and --overwrite is not given)."""
    for path in paths:
        check_output(path, overwrite=overwrite)
    if len({p.resolve() for p in paths}) != len(paths):
        raise ValueError("--output and --quality must be different files")


def _dark(value: str | None):
    """Return the dark level (a number) or the dark images opened lazily from a file."""
    if value is None:
        return None
    level = _level(value)
    if level is not None:
        return level
    from detcal.io import open_array

    return open_array(Path(value))
