"""``detcal distortion``: calibrate spatial distortion from a hole-grid image, correct images.

``detcal distortion calibrate IMAGE --pitch MM -o map.h5`` finds the spots, indexes the grid,
fits the displacement field and writes a pyFAI NeXus detector file (atomically);
``detcal distortion correct DATA --map map.h5 -o out.zarr`` resamples (row, col) or
(plane, row, col) data onto the ideal grid, streamed plane by plane to ``OUT`` by
:func:`detcal.io.save_array`. The option flags are generated from
:class:`detcal.distortion.CalibrateOptions` and :class:`detcal.distortion.CorrectOptions`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from detcal.cli._flags import add_option_flags, options_from_args, recorded_path
from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.distortion.options import CalibrateOptions, CorrectOptions
from detcal.io import check_output


def register(subparsers) -> None:
    """Add the ``distortion`` sub-command with ``calibrate`` and ``correct``."""
    parser = subparsers.add_parser(
        "distortion",
        help="spatial distortion from a hole-grid image: calibrate, correct images",
        description=(
            "Spatial distortion (Hammersley et al. 1994): calibrate from one image of a "
            "regular grid of holes or dots, write a pyFAI detector file, correct images."
        ),
    )
    commands = parser.add_subparsers(dest="distortion_command", required=True, metavar="ACTION")

    calibrate = commands.add_parser(
        "calibrate",
        help="measure the distortion from a grid image and write a pyFAI detector file",
        description="Find the spots, index the grid, fit the displacement field, save it.",
    )
    calibrate.add_argument("image", type=Path, help="(row, col) image of the grid")
    calibrate.add_argument("--key", help="dataset inside the image file")
    add_option_flags(calibrate, CalibrateOptions)
    calibrate.add_argument(
        "-o", "--output", type=Path, required=True, help="pyFAI NeXus detector file (.h5)"
    )
    calibrate.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common_flags(calibrate)
    calibrate.set_defaults(func=_calibrate)

    correct = commands.add_parser(
        "correct",
        help="resample images onto the ideal grid with a distortion map",
        description="Correct (row, col) or (plane, row, col) data, streaming plane by plane.",
    )
    correct.add_argument("data", type=Path, help="images to correct")
    correct.add_argument("--key", help="dataset inside the data file")
    correct.add_argument("--map", type=Path, required=True, help="map from 'calibrate' (.h5)")
    add_option_flags(correct, CorrectOptions)
    correct.add_argument("-o", "--output", type=Path, required=True, help="corrected output")
    correct.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common_flags(correct)
    correct.set_defaults(func=_correct)


def _calibrate(args: argparse.Namespace) -> int:
    from detcal.distortion import calibrate_distortion
    from detcal.io import open_array

    options = options_from_args(CalibrateOptions, args)
    if options.pitch is None:
        raise ValueError("--pitch: the grid pitch (mm) is needed to write a pyFAI detector file")
    if args.output.suffix.lower() not in (".h5", ".hdf5", ".nxs"):
        raise ValueError(f"--output: expected a .h5 pyFAI detector file, got {str(args.output)!r}")
    check_output(args.output, overwrite=args.overwrite, name="--output")
    image = open_array(args.image, key=args.key)
    if image.ndim == 3 and image.shape[0] == 1:
        image = image[0]
    if image.ndim != 2:
        raise ValueError(f"image: expected a (row, col) grid image, got shape {image.shape}")
    dmap = calibrate_distortion(
        np.asarray(image.compute()), progress=terminal_progress("calibrate"), **options.kwargs()
    )
    dmap.save(args.output)
    residual = np.hypot(*dmap.residuals.T)
    print(
        f"{len(dmap.spots)} spots, max rounding error {dmap.rounding_error:.3f} pitch, "
        f"distortion up to {residual.max():.2f} px (r.m.s. {np.sqrt(np.mean(residual**2)):.2f}), "
        f"pixel size {dmap.pixel_size[0] * 1e6:.3f} x {dmap.pixel_size[1] * 1e6:.3f} um "
        f"-> {args.output}"
    )
    return 0


def _correct(args: argparse.Namespace) -> int:
    from detcal.distortion import DistortionMap
    from detcal.io import open_array, save_array

    options = options_from_args(CorrectOptions, args)
    check_output(args.output, overwrite=args.overwrite, name="--output")
    dmap = DistortionMap.load(args.map)
    data = open_array(args.data, key=args.key)
    if data.ndim not in (2, 3):
        raise ValueError(f"data: expected (row, col) or (plane, row, col), got shape {data.shape}")
    corrected = dmap.correct(data, **options.kwargs())
    attrs = {
        "step": "distortion.correct",
        "params": {"map": recorded_path(args.map), **options.kwargs()},
        "source": recorded_path(args.data)["path"],
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
