"""``detcal apply RECIPE INPUT OUTPUT``: replay a recipe on a dataset, streaming, atomically."""

from __future__ import annotations

import argparse
import contextlib
import sys

from detcal.cli._terminal import add_common_flags, terminal_progress
from detcal.cli.io import chunk_size


def apply(args: argparse.Namespace) -> int:
    """Check the recipe, then stream INPUT through it into OUTPUT (on a cluster if asked)."""
    from detcal import recipe as recipes
    from detcal.io import check_output

    recipe = recipes.Recipe.load(args.recipe)
    check_output(args.output, overwrite=args.overwrite, name="OUTPUT")
    with contextlib.ExitStack() as stack:
        client = None
        if args.scheduler is not None:
            from distributed import Client

            try:
                client = stack.enter_context(Client(args.scheduler, set_as_default=False))
            except OSError as exc:
                raise ValueError(
                    f"--scheduler: cannot connect to {args.scheduler!r}: {exc}"
                ) from exc
            print(f"dashboard: {client.dashboard_link}", file=sys.stderr, flush=True)
        out = recipes.apply_recipe(
            recipe,
            args.input,
            args.output,
            scheduler=client,
            overwrite=args.overwrite,
            chunks=args.chunks,
            key=args.key,
            progress=terminal_progress("apply"),
        )
    steps = ", ".join(step.step for step in recipe.steps)
    print(f"wrote {out} ({steps})")
    return 0


def register(subparsers) -> None:
    """Add the ``apply`` sub-command."""
    parser = subparsers.add_parser(
        "apply",
        help="replay a recipe (JSON) on a dataset, streaming, optionally on a dask cluster",
        description=(
            "Replay RECIPE (a detcal recipe, or the .json a tomography run wrote beside its "
            "volume) on INPUT and write OUTPUT (.zarr OME-Zarr, .h5, .tif or .npy) through a "
            "hidden temporary sibling renamed into place: an interrupted run leaves OUTPUT as "
            "it was. The recipe is checked whole before anything is read."
        ),
    )
    parser.add_argument("recipe", metavar="RECIPE", help="recipe .json")
    parser.add_argument("input", metavar="INPUT", help="dataset to correct (opened read-only)")
    parser.add_argument(
        "output", metavar="OUTPUT", help="file to write; its suffix picks the format"
    )
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="dask.distributed scheduler to run on, e.g. tcp://10.0.0.5:8786 (default: this "
        "machine's threads)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.add_argument(
        "--chunks",
        type=chunk_size,
        nargs="+",
        metavar="SIZE",
        help="chunk shape to read the input with, one size per axis, e.g. 1 2048 2048",
    )
    parser.add_argument("--key", help="array inside the input file (HDF5 dataset, Zarr path)")
    add_common_flags(parser)
    parser.set_defaults(func=apply)
