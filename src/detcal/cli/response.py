"""``detcal response``: fit per-pixel detector gains from a beam sweep, correct images with them.

``detcal response fit SWEEP [--dark D] [--sigma S] [--cutoff C] -o gains.zarr [--quality Q]``
streams the sweep once and writes the gain map (and the fit-quality maps);
``detcal response correct IMAGE --gains G [--dark D] [--flat F] [--residual-sigma S] -o OUT``
streams the corrected images to ``OUT`` chunk by chunk. Any format :func:`detcal.io.open_array`
reads is accepted; outputs are written atomically by :func:`detcal.io.save_array`.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

from detcal.io import check_output
from detcal.progress import text_progress

QUALITY_PLANES = ("residual_rms", "r_squared", "n_points")


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
    fit.add_argument("--sigma", type=float, default=50.0, help="smoothing sigma, px (50)")
    fit.add_argument(
        "--cutoff", type=float, default=None, help="smoothed counts cutoff (detectorcal's 300)"
    )
    fit.add_argument("-o", "--output", type=Path, required=True, help="gain map to write")
    fit.add_argument(
        "--quality",
        type=Path,
        help="also write the fit quality as 3 planes: residual r.m.s., R^2, points used",
    )
    fit.add_argument("--overwrite", action="store_true", help="replace existing outputs")
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
    correct.add_argument(
        "--residual-sigma",
        type=float,
        default=None,
        help="with --flat: remove only flat residuals above this many standard deviations",
    )
    correct.add_argument(
        "--smooth-sigma", type=float, default=50.0, help="flat smoothing sigma, px (50)"
    )
    correct.add_argument("-o", "--output", type=Path, required=True, help="corrected output")
    correct.add_argument("--overwrite", action="store_true", help="replace an existing output")
    correct.set_defaults(func=_correct)


def _fit(args: argparse.Namespace) -> int:
    from detcal.io import open_array, save_array
    from detcal.response import DEFAULT_CUTOFF, fit_response

    outputs = [args.output] + ([args.quality] if args.quality else [])
    _check_outputs(outputs, args.overwrite)
    sweep = open_array(args.sweep, key=args.key)
    dark = _dark(args.dark, sweep.shape[-2:])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", RuntimeWarning)
        gains, quality = fit_response(
            sweep,
            dark=dark,
            sigma=args.sigma,
            cutoff=args.cutoff,
            return_quality=True,
            progress=text_progress("fit"),
        )
    if quality.n_undefined == gains.size:
        cutoff = DEFAULT_CUTOFF if args.cutoff is None else args.cutoff
        raise ValueError(
            f"sweep: no pixel has a defined gain (no plane above the cutoff {cutoff:g} after "
            "the dark was removed, or constant readings); check --dark and --cutoff. "
            "Nothing was written"
        )
    for warning in caught:
        print(f"detcal: warning: {warning.message}", file=sys.stderr)
    params = {
        "step": "response.fit_response",
        "sweep": str(args.sweep),
        "dark": args.dark,
        "sigma": args.sigma,
        "cutoff": DEFAULT_CUTOFF if args.cutoff is None else args.cutoff,
        "n_undefined": quality.n_undefined,
    }
    save_array(gains, args.output, overwrite=args.overwrite, attrs=params)
    if args.quality:
        planes = np.stack(
            [quality.residual_rms, quality.r_squared, quality.n_points.astype(np.float32)]
        )
        attrs = dict(params, planes=list(QUALITY_PLANES))
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

    _check_outputs([args.output], args.overwrite)
    image = open_array(args.image, key=args.key)
    if image.ndim not in (2, 3):
        raise ValueError(f"image: expected (row, col) or (z, row, col), got shape {image.shape}")
    plane = image.shape[-2:]
    gains = _plane(args.gains, "gains", plane, average=False)
    dark = _dark(args.dark, plane)
    flat = None if args.flat is None else _plane(Path(args.flat), "flat", plane, average=True)
    corrected = correct_image(
        image,
        gains,
        dark=dark,
        flat=flat,
        sigma=args.residual_sigma,
        smooth_sigma=args.smooth_sigma,
    )
    params = {
        "step": "response.correct_image",
        "image": str(args.image),
        "gains": str(args.gains),
        "dark": args.dark,
        "flat": args.flat,
        "sigma": args.residual_sigma,
        "smooth_sigma": args.smooth_sigma,
    }
    save_array(
        corrected,
        args.output,
        overwrite=args.overwrite,
        progress=text_progress("correct"),
        attrs=params,
    )
    print(f"corrected {corrected.shape} {corrected.dtype} -> {args.output}")
    return 0


def _check_outputs(paths: list[Path], overwrite: bool) -> None:
    """Refuse before any work if an output exists (and --overwrite is not given)."""
    for path in paths:
        check_output(path, overwrite=overwrite)
    if len({p.resolve() for p in paths}) != len(paths):
        raise ValueError("--output and --quality must be different files")


def _dark(value: str | None, plane: tuple[int, ...]):
    """Return the dark level (a number) or the dark image read from a file."""
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return _plane(Path(value), "dark", plane, average=True)


def _plane(path: Path, name: str, plane: tuple[int, ...], *, average: bool) -> np.ndarray:
    """Read a (row, col) calibration image; a stack is averaged when ``average``."""
    from detcal.io import open_array

    array = open_array(path)
    if array.ndim == 3 and (average or array.shape[0] == 1):
        array = array.astype(np.float64).mean(axis=0)
    if array.ndim != 2 or tuple(array.shape) != tuple(plane):
        raise ValueError(
            f"{name}: expected a (row, col) = {tuple(plane)} image, got shape {array.shape} "
            f"in {str(path)!r}"
        )
    return np.asarray(array.compute())
