"""``detcal info`` and ``detcal convert``: look into a data file, convert between formats."""

from __future__ import annotations

import argparse

from detcal import io
from detcal.io._common import AmbiguousKeyError
from detcal.progress import text_progress


def _chunks(text: str) -> tuple[int, ...]:
    try:
        chunks = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"--chunks must be comma-separated integers such as 1,512,512, got {text!r}"
        ) from None
    if any(c == 0 or c < -1 for c in chunks):
        raise argparse.ArgumentTypeError(f"--chunks sizes must be positive or -1, got {text!r}")
    return chunks


def _size(nbytes: int) -> str:
    value, unit = float(nbytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def info(args: argparse.Namespace) -> int:
    """Print what a file holds (shape, dtype, chunks, keys, levels) without reading pixels."""
    keys = io.list_keys(args.path)
    print(f"path:   {args.path}")
    if keys:
        print(f"keys:   {', '.join(keys)}")
    try:
        levels = io.open_levels(args.path, key=args.key)
    except AmbiguousKeyError:
        print("pass --key KEY to describe one array")
        return 0
    array = levels[0]
    print(f"shape:  {array.shape}")
    print(f"dtype:  {array.dtype}")
    print(f"chunks: {array.chunksize} ({array.npartitions} chunks)")
    print(f"size:   {_size(array.nbytes)}")
    if len(levels) > 1:
        print(f"levels: {' '.join(str(level.shape) for level in levels)}")
    detcal_attrs = io.read_metadata(args.path, key=args.key).get("detcal")
    if detcal_attrs:
        print(f"detcal: {detcal_attrs}")
    return 0


def convert(args: argparse.Namespace) -> int:
    """Stream an array from one file to another (format from the output suffix)."""
    data = io.open_array(args.input, key=args.key)
    if args.chunks is not None:
        if len(args.chunks) != data.ndim:
            raise ValueError(
                f"--chunks has {len(args.chunks)} sizes but the array {data.shape} has "
                f"{data.ndim} dimensions"
            )
        data = io.open_array(args.input, key=args.key, chunks=args.chunks)
    attrs = io.read_metadata(args.input, key=args.key).get("detcal")
    out = io.save_array(
        data,
        args.output,
        key=args.output_key,
        overwrite=args.overwrite,
        attrs=attrs,
        progress=text_progress("convert"),
    )
    print(f"wrote {out} {data.shape} {data.dtype}")
    return 0


def register(subparsers) -> None:
    """Add the ``info`` and ``convert`` sub-commands."""
    parser = subparsers.add_parser(
        "info", help="show shape, dtype, chunks, keys and levels of a data file"
    )
    parser.add_argument("path", help="data file (.zarr, .h5, .tif, folder of .tif, .npy, ...)")
    parser.add_argument("--key", help="array inside the file (HDF5 dataset, Zarr path, npz key)")
    parser.set_defaults(func=info)

    parser = subparsers.add_parser(
        "convert", help="convert a data file to .zarr (OME-Zarr), .h5, .tif or .npy"
    )
    parser.add_argument("input", help="data file to read")
    parser.add_argument("output", help="file to write; its suffix picks the format")
    parser.add_argument("--key", help="array inside the input file")
    parser.add_argument("--output-key", help="dataset (HDF5) or group (Zarr) in the output")
    parser.add_argument(
        "--chunks", type=_chunks, help="chunk shape to read and write, e.g. 1,512,512"
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    parser.set_defaults(func=convert)
