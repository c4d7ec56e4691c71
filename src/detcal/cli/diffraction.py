"""``detcal diffraction``: align a series, average it, find the pattern centre, radial profile.

``detcal diffraction align SERIES [--mask M] -o ALIGNED [--shifts shifts.csv]`` registers every
plane with the reference plane (masked, sub-pixel) and streams the aligned series to a file;
``detcal diffraction average SERIES -o MEAN [--sem SEM]`` writes the mean and its standard
error in one pass; ``detcal diffraction center IMAGE [--method powder|pattern]`` prints the
centre; ``detcal diffraction azimuthal IMAGE -o profile.csv`` writes the azimuthal average.
Masks (True = ignore) come from an array file or a drawn-shapes file (napari's Shapes CSV
export, or a JSON list of shapes). Option flags are generated from the options dataclasses of
:mod:`detcal.diffraction.options`; outputs are written atomically.
"""

from __future__ import annotations

import argparse
import csv
import io
from pathlib import Path

import numpy as np

from detcal.cli._flags import add_option_flags, options_from_args, recorded_path
from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.diffraction.options import AlignOptions, AzimuthalOptions, CenterOptions, MaskOptions
from detcal.io import atomic_output, check_output


def _inputs(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("input", type=Path, help=what)
    parser.add_argument("--key", help="dataset inside the input file (HDF5 path, Zarr array)")
    parser.add_argument(
        "--mask", type=Path,
        help="mask, True/nonzero = ignore: an array file (.tif .npy .zarr .h5), napari's "
        "Shapes CSV export or a JSON list of shapes",
    )  # fmt: skip
    add_option_flags(parser, MaskOptions)
    add_common_flags(parser)


def register(subparsers) -> None:
    """Add the ``diffraction`` sub-command: ``align``, ``average``, ``center``, ``azimuthal``."""
    parser = subparsers.add_parser(
        "diffraction",
        help="diffraction: align a series, mean/SEM, pattern centre, azimuthal average",
        description="Electron/X-ray diffraction patterns: masked sub-pixel alignment, streaming "
        "mean and standard error, pattern centre, azimuthal average.",
    )
    commands = parser.add_subparsers(dest="diffraction_command", required=True, metavar="ACTION")

    align = commands.add_parser(
        "align", help="align every plane of a series with a reference plane",
        description="Register each plane with the reference plane (masked, sub-pixel) and "
        "write the aligned series.",
    )  # fmt: skip
    _inputs(align, "(plane, row, col) series")
    add_option_flags(align, AlignOptions)
    align.add_argument("-o", "--output", type=Path, required=True, help="aligned series to write")
    align.add_argument("--shifts", type=Path, help="also write the (drow, dcol) shifts as CSV")
    align.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    align.set_defaults(func=_align)

    average = commands.add_parser(
        "average", help="mean and standard error of the mean of a series (one pass)",
        description="Mean and standard error of the mean of a series, streamed once.",
    )  # fmt: skip
    average.add_argument("input", type=Path, help="(plane, row, col) series")
    average.add_argument("--key", help="dataset inside the input file")
    average.add_argument("-o", "--output", type=Path, required=True, help="mean image to write")
    average.add_argument("--sem", type=Path, help="also write the standard error of the mean")
    average.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    add_common_flags(average)
    average.set_defaults(func=_average)

    center = commands.add_parser(
        "center", help="print the centre (row, col) of a pattern",
        description="Find the centre of a pattern (a stack is averaged first) and print it.",
    )  # fmt: skip
    _inputs(center, "(row, col) pattern, or a stack to average")
    add_option_flags(center, CenterOptions)
    center.set_defaults(func=_center)

    azimuthal = commands.add_parser(
        "azimuthal", help="azimuthal average (radial profile) as CSV",
        description="Average a pattern (a stack is averaged first) over rings about its centre "
        "(given, or found) and write radius_px,intensity as CSV.",
    )  # fmt: skip
    _inputs(azimuthal, "(row, col) pattern, or a stack to average")
    add_option_flags(azimuthal, AzimuthalOptions)
    add_option_flags(azimuthal, CenterOptions)
    azimuthal.add_argument("-o", "--output", type=Path, required=True, help="CSV file to write")
    azimuthal.add_argument("--overwrite", action="store_true", help="replace an existing output")
    azimuthal.set_defaults(func=_azimuthal)


def _check_outputs(args: argparse.Namespace, **extra: Path | None) -> None:
    """Check ``--output`` and the other outputs (flag name -> path) before any work."""
    named = {"--output": args.output, **extra}
    paths = {flag: path for flag, path in named.items() if path is not None}
    for flag, path in paths.items():
        check_output(path, overwrite=args.overwrite, array=path.suffix.lower() != ".csv", name=flag)
    if len({p.resolve() for p in paths.values()}) != len(paths):
        raise ValueError("--output: every output must be a different file")


def _csv_path(path: Path | None, name: str) -> None:
    if path is not None and path.suffix.lower() != ".csv":
        raise ValueError(f"{name}: expected a .csv file, got {str(path)!r}")


def _open(args: argparse.Namespace, *, series: bool):
    from detcal.io import open_array

    data = open_array(args.input, key=args.key)
    if series and data.ndim != 3:
        raise ValueError(f"input: expected a (plane, row, col) series, got shape {data.shape}")
    if not series and data.ndim not in (2, 3):
        raise ValueError(f"input: expected a (row, col) pattern or a stack, got {data.shape}")
    return data


def _pattern(data) -> np.ndarray:
    """Return the (row, col) pattern: the input, or the mean of its planes (one pass)."""
    from detcal.progress import compute_with_progress

    if data.ndim == 2:
        return np.asarray(data.compute())
    (mean,) = compute_with_progress(
        data.astype(np.float64).mean(axis=0), progress=terminal_progress("average")
    )
    return np.asarray(mean)


def _mask(args: argparse.Namespace, shape) -> np.ndarray | None:
    from detcal.diffraction import load_mask

    if args.mask is None:
        return None
    options = options_from_args(MaskOptions, args)
    return load_mask(args.mask, shape=tuple(shape[-2:]), line_width=options.line_width)


def _write_csv(path: Path, header: tuple[str, ...], rows) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with atomic_output(path) as tmp:
        tmp.write_text(text.getvalue())


def _align(args: argparse.Namespace) -> int:
    from detcal.diffraction import align
    from detcal.io import save_array

    options = options_from_args(AlignOptions, args)
    _csv_path(args.shifts, "--shifts")
    _check_outputs(args, **{"--shifts": args.shifts})
    series = _open(args, series=True)
    if options.reference >= series.shape[0]:
        raise ValueError(
            f"--reference: expected a plane index < {series.shape[0]}, got {options.reference}"
        )
    mask = _mask(args, series.shape)
    reference = np.asarray(series[options.reference].compute())
    aligned, shifts = align(
        series, reference=reference, mask=mask, fill_value=options.fill_value,
        progress=terminal_progress("register"),
    )  # fmt: skip
    record = {
        "step": "diffraction.align",
        "params": {
            "mask": None if args.mask is None else recorded_path(args.mask),
            "reference": options.reference,
            "fill_value": options.fill_value,
        },
        "source": recorded_path(args.input)["path"],
        "shifts": shifts.tolist(),
    }
    save_array(aligned, args.output, overwrite=args.overwrite, attrs=record,
               progress=terminal_progress("write"))  # fmt: skip
    if args.shifts is not None:
        _write_csv(args.shifts, ("plane", "drow", "dcol"),
                   ((k, f"{r:.4f}", f"{c:.4f}") for k, (r, c) in enumerate(shifts)))  # fmt: skip
    largest = float(np.abs(shifts).max())
    print(f"aligned {series.shape[0]} planes (largest shift {largest:.2f} px) -> {args.output}")
    return 0


def _average(args: argparse.Namespace) -> int:
    from detcal.diffraction import mean_and_sem
    from detcal.io import save_array

    _check_outputs(args, **{"--sem": args.sem})
    series = _open(args, series=True)
    mean, sem = mean_and_sem(series, progress=terminal_progress("average"))
    record = {
        "step": "diffraction.mean_and_sem",
        "params": {},
        "source": recorded_path(args.input)["path"],
        "planes": int(series.shape[0]),
    }
    save_array(mean, args.output, overwrite=args.overwrite, attrs=dict(record, quantity="mean"))
    if args.sem is not None:
        save_array(sem, args.sem, overwrite=args.overwrite, attrs=dict(record, quantity="sem"))
    print(f"mean of {series.shape[0]} planes -> {args.output}")
    return 0


def _find_center(pattern, mask, options: CenterOptions) -> tuple[float, float]:
    from detcal.diffraction import pattern_center, powder_center

    finder = powder_center if options.method == "powder" else pattern_center
    return finder(pattern, mask=mask)


def _center(args: argparse.Namespace) -> int:
    options = options_from_args(CenterOptions, args)
    data = _open(args, series=False)
    mask = _mask(args, data.shape)
    row, col = _find_center(_pattern(data), mask, options)
    print(f"center (row, col): {row:.3f} {col:.3f}")
    return 0


def _azimuthal(args: argparse.Namespace) -> int:
    from detcal.diffraction import azimuthal_average, save_profile

    options = options_from_args(AzimuthalOptions, args)
    center_options = options_from_args(CenterOptions, args)
    _csv_path(args.output, "--output")
    _check_outputs(args)
    data = _open(args, series=False)
    mask = _mask(args, data.shape)
    pattern = _pattern(data)
    center = options.center or _find_center(pattern, mask, center_options)
    radius, intensity = azimuthal_average(
        pattern, center, mask=mask, bin_width=options.bin_width,
        angular_bounds=options.angular_bounds, pixel_split=options.pixel_split,
    )  # fmt: skip
    save_profile(radius, intensity, args.output, overwrite=args.overwrite)
    print(
        f"azimuthal average about ({center[0]:.3f}, {center[1]:.3f}), {radius.size} bins "
        f"-> {args.output}"
    )
    return 0
