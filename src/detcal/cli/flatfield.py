"""``detcal flatfield``: estimate flat-field profiles and apply them from the shell.

``detcal flatfield estimate DATA -o OUT [options]`` writes a BaSiCPy model folder
(``profiles.npz`` + ``settings.json``), or one ``.npz`` of your own name with the settings
inside, from measured profiles, empty tiles / z-levels or a BaSiC fit; ``detcal flatfield
apply IMAGE --profiles P -o OUT`` streams the corrected images to a new file. The option flags
are generated from :class:`detcal.flatfield.EstimateOptions` and
:class:`detcal.flatfield.ApplyOptions`; outputs record the absolute paths of their inputs.
"""

from __future__ import annotations

import argparse

from detcal.cli._flags import add_option_flags, errors_as_flags, options_from_args, recorded_path
from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.flatfield.options import ApplyOptions, EstimateOptions

_FLAGS = {"dark": "--dark", "data": "DATA", "image": "IMAGE"}


def _add_estimate(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate flat-field profiles (measured, empty data or BaSiC)",
        description="Estimate flat-field profiles. Scenario order: --models-folder (measured), "
        "--fov-list / --z-levels (empty data), otherwise a BaSiC fit (needs basicpy).",
    )
    parser.add_argument("data", help="(tile, z, row, col) or (z, row, col) images, any format")
    parser.add_argument("--key", help="array inside DATA (HDF5 dataset, npz member, ...)")
    parser.add_argument(
        "--dark", metavar="FILE", help="dark image (row, col), or a stack that is averaged"
    )
    parser.add_argument("--dark-key", metavar="K", help="array inside the --dark file")
    parser.add_argument("--models-folder", metavar="M", help="measured profiles.npz or folder")
    parser.add_argument("--channel", metavar="C", help="channel sub-folder of --models-folder")
    add_option_flags(parser, EstimateOptions)
    parser.add_argument(
        "-o",
        "--output",
        required=True,
        help="model folder (profiles.npz + settings.json), or a file name ending in .npz",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing model")
    add_common_flags(parser)
    parser.set_defaults(func=_estimate)


def _estimate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from detcal.flatfield import PROFILES_NAME, SETTINGS_NAME, estimate_flatfield, save_profiles
    from detcal.io import check_output, open_array

    options = options_from_args(EstimateOptions, args)
    if args.dark is not None and options.dark_level:
        raise ValueError("--dark: give a dark file or --dark-level, not both")
    output = Path(args.output)
    npz = output if output.suffix == ".npz" else output / PROFILES_NAME
    targets = [npz] + ([npz.parent / SETTINGS_NAME] if npz.name == PROFILES_NAME else [])
    for target in targets:
        if target.parent.is_dir():
            check_output(target, overwrite=args.overwrite, array=False)
    # one plane per chunk, so that sampling a plane reads only that plane
    ndim = open_array(args.data, key=args.key).ndim
    data = open_array(args.data, key=args.key, chunks=(1,) * (ndim - 2) + (-1, -1))
    dark = options.dark_level or None
    if args.dark is not None:
        dark = open_array(args.dark, key=args.dark_key)
    try:
        with errors_as_flags(_FLAGS):
            profiles, scenario = estimate_flatfield(
                data,
                dark=dark,
                models_folder=args.models_folder,
                channel=args.channel,
                progress=terminal_progress("estimating flat-field"),
                **options.kwargs(),
            )
    except ImportError as exc:
        raise ValueError(str(exc)) from exc
    written = save_profiles(profiles, output, overwrite=args.overwrite)
    sampling = profiles.info.get("sampling")
    used = f", {sampling}" if sampling else ""
    rejected = profiles.info.get("rejected")
    dropped = f", rejected {rejected} (tile, z)" if rejected else ""
    flat = profiles.flatfield
    print(
        f"scenario {scenario}{used}{dropped}; flat {flat.min():.3f}..{flat.max():.3f}; "
        f"wrote {written}"
    )
    return 0


def _add_apply(subparsers) -> None:
    parser = subparsers.add_parser(
        "apply",
        help="correct images with flat-field profiles",
        description="Write (IMAGE - darkfield) / flatfield - baseline, streamed chunk by chunk.",
    )
    parser.add_argument("image", help="images (..., row, col), any format")
    parser.add_argument("--key", help="array inside IMAGE")
    parser.add_argument("--profiles", required=True, help="profiles.npz or model folder")
    parser.add_argument("--channel", help="channel sub-folder of --profiles")
    add_option_flags(parser, ApplyOptions)
    parser.add_argument("-o", "--output", required=True, help="output (.zarr, .h5, .tif, .npy)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common_flags(parser)
    parser.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    from detcal.flatfield import apply_flatfield, load_profiles
    from detcal.io import open_array, save_array

    options = options_from_args(ApplyOptions, args)
    profiles = load_profiles(args.profiles, channel=args.channel)
    image = open_array(args.image, key=args.key)
    with errors_as_flags(_FLAGS):
        corrected = apply_flatfield(image, profiles, **options.kwargs())
    params = {"profiles": recorded_path(args.profiles), **options.kwargs()}
    if args.channel is not None:
        params["channel"] = args.channel
    written = save_array(
        corrected,
        args.output,
        overwrite=args.overwrite,
        progress=terminal_progress("applying flat-field"),
        attrs={
            "step": "flatfield.apply_flatfield",
            "params": params,
            "source": recorded_path(args.image)["path"],
        },
    )
    print(f"wrote {written} {tuple(corrected.shape)} {corrected.dtype}")
    return 0


def register(subparsers) -> None:
    """Add ``detcal flatfield estimate`` and ``detcal flatfield apply``.

    Parameters
    ----------
    subparsers : argparse._SubParsersAction
        The ``detcal`` sub-command collection.
    """
    parser = subparsers.add_parser(
        "flatfield", help="flat-field: estimate profiles, apply them", description=__doc__
    )
    sub = parser.add_subparsers(dest="flatfield_command", required=True, metavar="ACTION")
    _add_estimate(sub)
    _add_apply(sub)
