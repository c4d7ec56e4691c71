"""``detcal tomo``: whole tomography runs, centre finding and centre sweeps from the shell.

``detcal tomo recon INPUT -o OUTPUT`` reconstructs a DXchange/Zarr scan into a volume (streamed
slab by slab), prints the centre it used and records it with the options in ``OUTPUT.json``;
``detcal tomo center INPUT`` prints the rotation centre; ``detcal tomo sweep INPUT --centers
START STOP STEP -o OUT`` writes one slice per candidate centre. Every option of the run is a
flag generated from :class:`detcal.tomo.options.ReconOptions` (``--center-method``,
``--center-row``, ``--rows 0 64``, ``--pad/--no-pad``, ...); ``--options FILE`` starts from a
recorded run and the flags given override it.
"""

from __future__ import annotations

import argparse
import dataclasses

from detcal.cli._flags import add_option_flags, flag_message, options_from_args
from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.tomo.options import ReconOptions, load_options

#: Options that do not change a centre search (left out of ``tomo center``).
_NOT_FOR_CENTER = (
    "center", "filter_name", "filter_par", "pad", "circ_mask", "algorithm", "backend",
    "ring_removal", "ring_thresh", "ring_thresh_max", "ring_thresh_min", "ring_theta_min",
    "ring_width", "crop", "bilateral", "bilateral_sigma_color", "bilateral_sigma_spatial",
    "uint8_range",
)  # fmt: skip
#: Options that do not change a centre sweep's slices (left out of ``tomo sweep``).
_NOT_FOR_SWEEP = tuple(
    name for name in _NOT_FOR_CENTER if name not in ("filter_name", "filter_par", "pad")
) + ("center_method",)


def _options(args: argparse.Namespace) -> ReconOptions:
    """Options from ``--options`` (if given), overridden by the flags given."""
    if args.options is not None:
        base = load_options(args.options)
        for field in dataclasses.fields(ReconOptions):
            if not hasattr(args, field.name):
                setattr(args, field.name, getattr(base, field.name))
    return options_from_args(ReconOptions, args)


def _check_output(args: argparse.Namespace) -> None:
    """Refuse a bad ``--output`` before anything is read (the message names the flag)."""
    from detcal.io import check_output

    check_output(args.output, overwrite=args.overwrite, name="--output")


def _recon(args: argparse.Namespace) -> int:
    from detcal.tomo.run import reconstruct_dataset, sidecar_path

    _check_output(args)

    def tell(center: float, how: str) -> None:
        print(f"centre {center:.2f} ({how})", flush=True)

    out = reconstruct_dataset(
        args.input, args.output, options=_options(args), overwrite=args.overwrite,
        progress=terminal_progress("reconstruct"), on_center=tell,
    )  # fmt: skip
    print(f"wrote {out} (options and centre in {sidecar_path(out)})")
    return 0


def _center(args: argparse.Namespace) -> int:
    from detcal.tomo.run import find_dataset_center

    print(f"{find_dataset_center(args.input, options=_options(args)):.2f}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    import numpy as np

    from detcal.tomo.run import sweep_dataset, sweep_size

    start, stop, step = args.centers
    if step <= 0 or stop < start:
        raise ValueError(
            f"--centers: expected START <= STOP and STEP > 0, got {start:g} {stop:g} {step:g}"
        )
    centers = np.arange(start, stop + step / 2, step)
    _check_output(args)
    try:
        out = sweep_dataset(
            args.input, args.output, centers=centers, options=_options(args),
            overwrite=args.overwrite, progress=terminal_progress("sweep"),
            max_slices=args.max_slices,
        )  # fmt: skip
    except ValueError as exc:
        raise ValueError(flag_message(str(exc))) from None
    from detcal.io import open_array

    width = open_array(out).shape[-1]
    size = sweep_size(centers.size, width) / 1e6
    print(
        f"wrote {out}: {centers.size} centres {centers[0]:g} .. {centers[-1]:g} "
        f"({centers.size} x {width} x {width} float32, {size:.1f} MB)"
    )
    return 0


def _add_common(parser: argparse.ArgumentParser, exclude: tuple[str, ...]) -> None:
    parser.add_argument("input", help="DXchange HDF5 (.h5) or Zarr (.zarr) scan")
    parser.add_argument(
        "--options", metavar="FILE", help="start from the options in this JSON file (a record)"
    )
    add_option_flags(parser, ReconOptions, exclude=exclude)
    add_common_flags(parser)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``detcal tomo`` and its sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``detcal`` sub-command collection.
    """
    tomo = subparsers.add_parser(
        "tomo",
        help="tomography: whole reconstruction runs, centre finding, centre sweeps",
        description=__doc__.splitlines()[0],
    )
    commands = tomo.add_subparsers(dest="tomo_command", required=True, metavar="ACTION")
    output = "output .zarr (OME-Zarr), .h5, .tif or .npy"

    rec = commands.add_parser(
        "recon",
        help="reconstruct a scan into a volume (streaming)",
        description="Reconstruct a DXchange/Zarr scan; the options and the centre used are "
        "saved in OUTPUT.json.",
    )
    rec.add_argument("-o", "--output", required=True, help=output)
    rec.add_argument("--overwrite", action="store_true", help="replace an existing output")
    _add_common(rec, ())
    rec.set_defaults(func=_recon)

    cen = commands.add_parser(
        "center", help="print the rotation centre", description="Find the rotation centre."
    )
    _add_common(cen, _NOT_FOR_CENTER)
    cen.set_defaults(func=_center)

    swp = commands.add_parser(
        "sweep",
        help="one slice per candidate centre, to pick the centre by eye",
        description="Reconstruct the row --center-row (default: the middle row) for each "
        "candidate centre START..STOP by STEP; the centres go into the output's metadata.",
    )
    swp.add_argument(
        "--centers", type=float, nargs=3, required=True, metavar=("START", "STOP", "STEP"),
        help="candidate centres, columns, STOP included",
    )  # fmt: skip
    swp.add_argument("-o", "--output", required=True, help=output)
    swp.add_argument("--overwrite", action="store_true", help="replace an existing output")
    swp.add_argument(
        "--max-slices", type=int, default=1000, metavar="N",
        help="refuse sweeps of more than N centres (default: 1000)",
    )  # fmt: skip
    _add_common(swp, _NOT_FOR_SWEEP)
    swp.set_defaults(func=_sweep)
