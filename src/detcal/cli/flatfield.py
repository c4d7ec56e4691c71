"""``detcal flatfield``: estimate flat-field profiles and apply them from the shell.

``detcal flatfield estimate DATA -o OUT [options]`` writes ``profiles.npz`` and
``settings.json`` (BaSiCPy's model layout) from measured profiles, empty tiles / z-levels or
a BaSiC fit; ``detcal flatfield apply IMAGE --profiles P -o OUT`` streams the corrected
images to a new file.
"""

from __future__ import annotations

import argparse

from detcal.progress import text_progress


def _fov_list(text: str) -> list[int]:
    """Parse ``1,3,7,9``."""
    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated tile numbers like 1,3,7,9, got {text!r}"
        ) from None


def _add_estimate(subparsers) -> None:
    parser = subparsers.add_parser(
        "estimate",
        help="estimate flat-field profiles (measured, empty data or BaSiC)",
        description="Estimate flat-field profiles. Scenario order: --models-folder (measured), "
        "--fov / --z-levels (empty data), otherwise a BaSiC fit (needs basicpy).",
    )
    parser.add_argument("data", help="(tile, z, row, col) or (z, row, col) images, any format")
    parser.add_argument("--key", help="array inside DATA (HDF5 dataset, npz member, ...)")
    dark = parser.add_mutually_exclusive_group()
    dark.add_argument("--dark", metavar="FILE", help="dark image (row, col) to remove first")
    dark.add_argument("--dark-level", type=float, metavar="V", help="dark level to remove first")
    parser.add_argument("--dark-key", metavar="K", help="array inside the --dark file")
    parser.add_argument("--models-folder", metavar="M", help="measured profiles.npz or folder")
    parser.add_argument("--channel", metavar="C", help="channel sub-folder of --models-folder")
    parser.add_argument(
        "--fov", type=_fov_list, metavar="1,3,7,9", help="empty tiles (1-based, inverted N)"
    )
    parser.add_argument(
        "--z-levels",
        type=int,
        nargs=2,
        metavar=("LOW", "HIGH"),
        help="planes below LOW and above HIGH are empty",
    )
    parser.add_argument("--grid", type=int, nargs=2, metavar=("ROWS", "COLS"), help="tile grid")
    parser.add_argument(
        "--n-samples", type=int, default=100, metavar="N", help="planes sampled (100; 0 = all)"
    )
    parser.add_argument("--seed", type=int, default=0, metavar="S", help="seed of the subset")
    parser.add_argument(
        "--smooth-sigma", type=float, default=1.0, metavar="PX", help="empty-data smoothing"
    )
    parser.add_argument(
        "--baseline-percentile", type=float, metavar="P", help="store this percentile as baseline"
    )
    basic = parser.add_argument_group("BaSiC (scenario 3)")
    basic.add_argument("--basic-autosegment", action="store_true", help="exclude the sample")
    basic.add_argument("--basic-autosegment-margin", type=int, metavar="PX")
    basic.add_argument("--basic-epsilon", type=float, metavar="E")
    basic.add_argument("--basic-get-darkfield", action="store_true")
    basic.add_argument("--basic-max-workers", type=int, metavar="N", help="torch threads")
    basic.add_argument("--basic-smoothness-flatfield", type=float, metavar="F")
    basic.add_argument("--basic-smoothness-darkfield", type=float, metavar="F")
    basic.add_argument("--basic-working-size", type=int, metavar="PX")
    parser.add_argument(
        "-o", "--output", required=True, help="model folder, or a file name ending in .npz"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace existing files")
    parser.set_defaults(func=_estimate)


def _basic_params(args: argparse.Namespace) -> dict:
    names = (
        "autosegment_margin",
        "epsilon",
        "max_workers",
        "smoothness_flatfield",
        "smoothness_darkfield",
        "working_size",
    )
    params = {n: getattr(args, f"basic_{n}") for n in names}
    params = {k: v for k, v in params.items() if v is not None}
    if args.basic_autosegment:
        params["autosegment"] = True
    if args.basic_get_darkfield:
        params["get_darkfield"] = True
    return params


def _estimate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from detcal.flatfield import PROFILES_NAME, SETTINGS_NAME, estimate_flatfield, save_profiles
    from detcal.io import check_output, open_array

    output = Path(args.output)
    npz = output if output.suffix == ".npz" else output / PROFILES_NAME
    for target in (npz, npz.parent / SETTINGS_NAME):
        check_output(target, overwrite=args.overwrite, array=False)
    # one plane per chunk, so that sampling a plane reads only that plane
    ndim = open_array(args.data, key=args.key).ndim
    data = open_array(args.data, key=args.key, chunks=(1,) * (ndim - 2) + (-1, -1))
    dark = args.dark_level
    if args.dark is not None:
        dark = open_array(args.dark, key=args.dark_key).compute()
    try:
        profiles, scenario = estimate_flatfield(
            data,
            dark=dark,
            models_folder=args.models_folder,
            channel=args.channel,
            fov_list=args.fov,
            z_levels=args.z_levels,
            grid_shape=args.grid,
            basic_params=_basic_params(args),
            n_samples=args.n_samples or None,
            seed=args.seed,
            smooth_sigma=args.smooth_sigma,
            baseline_percentile=args.baseline_percentile,
            progress=text_progress("estimating flat-field"),
        )
    except ImportError as exc:
        raise ValueError(str(exc)) from exc
    written = save_profiles(profiles, output, overwrite=args.overwrite)
    planes = profiles.info.get("planes")
    used = f", {len(planes)} planes sampled" if planes else ""
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
    parser.add_argument("-o", "--output", required=True, help="output (.zarr, .h5, .tif, .npy)")
    parser.add_argument(
        "--keep-dtype", action="store_true", help="round and clip to the input dtype"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=_apply)


def _apply(args: argparse.Namespace) -> int:
    from detcal.flatfield import apply_flatfield, load_profiles
    from detcal.io import open_array, save_array

    profiles = load_profiles(args.profiles, channel=args.channel)
    image = open_array(args.image, key=args.key)
    corrected = apply_flatfield(image, profiles, keep_dtype=args.keep_dtype)
    params = {"profiles": str(args.profiles), "keep_dtype": bool(args.keep_dtype)}
    if args.channel is not None:
        params["channel"] = args.channel
    written = save_array(
        corrected,
        args.output,
        overwrite=args.overwrite,
        progress=text_progress("applying flat-field"),
        attrs={"step": "flatfield.apply_flatfield", "params": params},
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
