"""``detcal tomo``: whole tomography runs, centre finding and centre sweeps from the shell.

``detcal tomo recon INPUT -o OUTPUT [options]`` reconstructs a DXchange/Zarr scan into a
volume (streamed slab by slab) and saves the options beside it; ``detcal tomo center INPUT``
prints the rotation centre; ``detcal tomo sweep INPUT --centers START STOP STEP -o OUT``
writes one slice per candidate centre.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

import numpy as np

from detcal.tomo.options import (
    ALGORITHMS,
    BACKENDS,
    CENTER_METHODS,
    FILTERS,
    OUTLIER_MODES,
    ROTATIONS,
    STRIPE_METHODS,
    THETA_UNITS,
    ReconOptions,
    load_options,
)


def _row_range(text: str) -> tuple[int, int]:
    """Parse ``START:END`` (end excluded)."""
    try:
        start, end = (int(part) for part in text.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected START:END (two integers), got {text!r}"
        ) from None
    return start, end


def _add_prep_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by recon, center and sweep: data selection and preparation.

    Every default is None (suppressed) so that only options given on the command line
    override those of an ``--options`` file.
    """
    sup = argparse.SUPPRESS
    parser.add_argument("input", help="DXchange HDF5 (.h5) or Zarr (.zarr) scan")
    parser.add_argument(
        "--options", metavar="JSON", help="start from the options in this JSON file"
    )
    data = parser.add_argument_group("data selection")
    data.add_argument(
        "--rows", type=_row_range, default=sup, metavar="START:END", help="sinogram range"
    )
    data.add_argument("--slab", type=int, default=sup, metavar="N", help="rows per slab")
    data.add_argument(
        "--ignore-projections",
        type=int,
        nargs="+",
        default=sup,
        metavar="I",
        help="indices of projections to drop",
    )
    data.add_argument(
        "--angle-offset", type=float, default=sup, metavar="DEG", help="added to every angle"
    )
    data.add_argument("--theta-units", choices=THETA_UNITS, default=sup)
    prep = parser.add_argument_group("preparation")
    prep.add_argument(
        "--cutoff",
        dest="normalize_cutoff",
        type=float,
        default=sup,
        metavar="C",
        help="clip the normalised transmission at C",
    )
    prep.add_argument(
        "--outlier-diff",
        type=float,
        default=sup,
        metavar="D",
        help="remove outliers brighter than the local median by D counts",
    )
    prep.add_argument("--outlier-size", type=int, default=sup, metavar="S")
    prep.add_argument(
        "--outlier-mode",
        choices=OUTLIER_MODES,
        default=sup,
        help="2d: per projection (default); 1d: along the angles",
    )
    prep.add_argument("--phase", action="store_true", default=sup, help="Paganin phase retrieval")
    prep.add_argument("--pixel-size", type=float, default=sup, help="cm")
    prep.add_argument("--dist", type=float, default=sup, help="cm")
    prep.add_argument("--energy", type=float, default=sup, help="keV")
    prep.add_argument("--alpha", type=float, default=sup)
    prep.add_argument(
        "--beam-hardening", type=float, nargs="+", default=sup, metavar="A", help="a0 .. a5"
    )
    prep.add_argument(
        "--stripe",
        choices=STRIPE_METHODS,
        default=sup,
        help="stripe removal: Fourier-wavelet, Titarenko, smoothing filter, Vo's combined",
    )
    prep.add_argument("--fw-level", type=int, default=sup)
    prep.add_argument("--fw-wname", default=sup)
    prep.add_argument("--fw-sigma", type=float, default=sup)
    prep.add_argument("--ti-nblock", type=int, default=sup)
    prep.add_argument("--ti-alpha", type=float, default=sup)
    prep.add_argument("--sf-size", type=int, default=sup)
    prep.add_argument("--vo-snr", type=float, default=sup)
    prep.add_argument("--vo-la-size", type=int, default=sup)
    prep.add_argument("--vo-sm-size", type=int, default=sup)
    prep.add_argument(
        "--360",
        dest="full_360",
        action="store_true",
        default=sup,
        help="convert a 360-degree offset-axis scan to 180 degrees",
    )
    prep.add_argument(
        "--overlap",
        type=float,
        default=sup,
        metavar="N",
        help="overlap of the two halves in columns (default: found from the data)",
    )
    prep.add_argument("--rotation", choices=ROTATIONS, default=sup)


def _add_recon_arguments(parser: argparse.ArgumentParser) -> None:
    """Filter options shared by recon and sweep."""
    sup = argparse.SUPPRESS
    group = parser.add_argument_group("reconstruction")
    group.add_argument("--filter", dest="filter_name", choices=FILTERS, default=sup)
    group.add_argument("--filter-par", type=float, nargs=2, default=sup, metavar=("A", "B"))
    group.add_argument("--no-pad", dest="pad", action="store_false", default=sup)
    group.add_argument("--no-circ-mask", dest="circ_mask", action="store_false", default=sup)
    group.add_argument("--algorithm", choices=ALGORITHMS, default=sup)
    group.add_argument("--backend", choices=BACKENDS, default=sup)


def _options(args: argparse.Namespace, skip: tuple[str, ...] = ()) -> ReconOptions:
    """Options from ``--options`` (if any) overridden by the flags given."""
    base = load_options(args.options) if args.options else ReconOptions()
    names = set(ReconOptions.__dataclass_fields__)
    given: dict[str, Any] = {k: v for k, v in vars(args).items() if k in names and k not in skip}
    if "angle_offset" in given:
        given["angle_offset"] = math.radians(given["angle_offset"])
    for key in ("ignore_projections", "beam_hardening", "filter_par", "uint8_range", "crop"):
        if key in given:
            given[key] = tuple(given[key])
    return base.replace(**given)


def _recon(args: argparse.Namespace) -> int:
    from detcal.progress import text_progress
    from detcal.tomo.pipeline import reconstruct_dataset, sidecar_path

    options = _options(args)
    out = reconstruct_dataset(
        args.input,
        args.output,
        options=options,
        overwrite=args.overwrite,
        progress=None if args.quiet else text_progress("reconstructing"),
    )
    print(f"wrote {out} (options in {sidecar_path(out)})")
    return 0


def _center(args: argparse.Namespace) -> int:
    from detcal.tomo.pipeline import find_dataset_center

    options = _options(args)
    print(f"{find_dataset_center(args.input, options=options):.2f}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from detcal.progress import text_progress
    from detcal.tomo.pipeline import sweep_dataset

    start, stop, step = args.centers
    if step <= 0 or stop <= start:
        raise ValueError(f"--centers needs START < STOP and STEP > 0, got {start} {stop} {step}")
    centers = np.arange(start, stop + step / 2, step)
    out = sweep_dataset(
        args.input,
        args.output,
        centers=centers,
        row=args.row,
        options=_options(args),
        overwrite=args.overwrite,
        progress=None if args.quiet else text_progress("sweep"),
    )
    print(f"wrote {out}: {centers.size} centres {centers[0]:g}..{centers[-1]:g}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``detcal tomo`` and its sub-commands.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``detcal`` sub-command collection.
    """
    sup = argparse.SUPPRESS
    tomo = subparsers.add_parser(
        "tomo",
        help="tomography: whole reconstruction runs, centre finding, centre sweeps",
        description=__doc__.splitlines()[0],
    )
    commands = tomo.add_subparsers(dest="tomo_command", required=True, metavar="COMMAND")

    rec = commands.add_parser(
        "recon",
        help="reconstruct a scan into a volume (streaming)",
        description="Reconstruct a DXchange/Zarr scan; the options are saved in OUTPUT.json.",
    )
    _add_prep_arguments(rec)
    rec.add_argument(
        "-o", "--output", required=True, help="output .zarr (OME-Zarr), .h5, .tif or .npy"
    )
    centre = rec.add_mutually_exclusive_group()
    centre.add_argument(
        "--center", type=float, default=sup, metavar="X", help="rotation axis column"
    )
    centre.add_argument(
        "--center-method",
        choices=CENTER_METHODS,
        default=sup,
        help="find the centre: vo (default), pc or nm",
    )
    rec.add_argument(
        "--center-row", type=int, default=sup, metavar="R", help="row used to find the centre"
    )
    _add_recon_arguments(rec)
    post = rec.add_argument_group("post-processing")
    post.add_argument(
        "--ring-removal", action="store_true", default=sup, help="polar ring removal on slices"
    )
    post.add_argument(
        "--crop", type=int, nargs=4, default=sup, metavar=("TOP", "BOTTOM", "LEFT", "RIGHT")
    )
    post.add_argument(
        "--bilateral", action="store_true", default=sup, help="bilateral filter on slices"
    )
    post.add_argument(
        "--uint8",
        dest="uint8_range",
        type=float,
        nargs=2,
        default=sup,
        metavar=("LOW", "HIGH"),
        help="cast to 8 bits, LOW -> 0 and HIGH -> 255",
    )
    rec.add_argument("--overwrite", action="store_true", help="replace an existing output")
    rec.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    rec.set_defaults(func=_recon)

    cen = commands.add_parser(
        "center", help="print the rotation centre", description="Find the rotation centre."
    )
    _add_prep_arguments(cen)
    cen.add_argument("--method", dest="center_method", choices=CENTER_METHODS, default=sup)
    cen.add_argument("--row", dest="center_row", type=int, default=sup, metavar="R")
    cen.set_defaults(func=_center)

    swp = commands.add_parser(
        "sweep",
        help="one slice per candidate centre, to pick the centre by eye",
        description="Reconstruct one row for each candidate centre START..STOP by STEP.",
    )
    _add_prep_arguments(swp)
    swp.add_argument(
        "--centers",
        type=float,
        nargs=3,
        required=True,
        metavar=("START", "STOP", "STEP"),
        help="candidate centres, STOP included",
    )
    swp.add_argument("--row", type=int, default=None, metavar="R")
    swp.add_argument("-o", "--output", required=True, help="output .zarr, .h5, .tif or .npy")
    _add_recon_arguments(swp)
    swp.add_argument("--overwrite", action="store_true")
    swp.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    swp.set_defaults(func=_sweep)
