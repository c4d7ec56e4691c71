"""``detcal info`` and ``detcal convert``: look into a data file, convert between formats."""

from __future__ import annotations

import argparse
import json
from typing import Any

from detcal.cli._terminal import add_common_flags, terminal_progress

# the arrays of a DXchange scan, in the order tomo recon reads them
DXCHANGE = ("exchange/data", "exchange/data_white", "exchange/data_dark", "exchange/theta")


def chunk_size(text: str) -> int:
    """Parse one size of ``--chunks SIZE [SIZE ...]`` (argparse type: an integer > 0 or -1)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value == 0 or value < -1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or -1, got {text!r}")
    return value


def _size(nbytes: int) -> str:
    value, unit = float(nbytes), "B"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def _dxchange(keys: list[str]) -> bool:
    return DXCHANGE[0] in keys and any(k in keys for k in DXCHANGE[1:])


def _theta(path, keys: list[str]) -> dict[str, Any] | None:
    """Range, step and units of a DXchange file's angles (DXchange stores degrees)."""
    from detcal import io

    if DXCHANGE[3] not in keys:
        return None
    values = io.read_array(path, key=DXCHANGE[3]).reshape(-1)
    units = io.read_metadata(path, key=DXCHANGE[3]).get("units") or "degrees"
    out: dict[str, Any] = {"count": int(values.size), "units": str(units)}
    if values.size:
        out["first"], out["last"] = float(values[0]), float(values[-1])
        out["min"], out["max"] = float(values.min()), float(values.max())
    if values.size > 1:
        out["step"] = float((values[-1] - values[0]) / (values.size - 1))
    return out


def _describe(args: argparse.Namespace) -> dict[str, Any]:
    from detcal import io

    try:
        found = io.describe(args.path, key=args.key)
    except io.AmbiguousKeyError:
        return {"path": str(args.path), "format": io.format_of(args.path),
                "keys": io.list_keys(args.path), "key_needed": True}  # fmt: skip
    if args.key is None and _dxchange(found["keys"]):
        found["theta"] = _theta(args.path, found["keys"])
    return found


def _print_text(found: dict[str, Any]) -> None:
    def shape(values) -> str:
        return "(" + ", ".join(str(v) for v in values) + ("," if len(values) == 1 else "") + ")"

    print(f"path:   {found['path']}")
    print(f"format: {found['format']}")
    if found["keys"]:
        print(f"keys:   {', '.join(found['keys'])}")
    if found.get("key_needed"):
        print("pass --key KEY to describe one array")
        return
    print(f"shape:  {shape(found['shape'])}")
    print(f"dtype:  {found['dtype']}")
    chunks = found["chunks"]
    print(f"chunks: {shape(chunks) + ' (stored)' if chunks else 'contiguous'}")
    print(f"size:   {_size(found['nbytes'])}")
    if len(found["levels"]) > 1:
        print(f"levels: {' '.join(shape(level) for level in found['levels'])}")
    axes = []
    for axis in found.get("axes") or []:
        details = [axis.get("type"), axis.get("unit")]
        if axis.get("scale", 1.0) != 1.0:
            details.append(f"pixel {axis['scale']:g}")
        shown = ", ".join(str(d) for d in details if d and d != axis["name"])
        axes.append(axis["name"] + (f" ({shown})" if shown else ""))
    if axes:
        print(f"axes:   {', '.join(axes)}")
    theta = found.get("theta")
    if theta and theta["count"]:
        text = f"{theta['count']} angles from {theta['first']:g} to {theta['last']:g}"
        if "step" in theta:
            text += f", step {theta['step']:.6g}"
        print(f"theta:  {text} {theta['units']}")
    if found["detcal"] is not None:
        print(f"detcal: {json.dumps(found['detcal'])}")


def info(args: argparse.Namespace) -> int:
    """Print what a file holds (shape, dtype, chunks, keys, levels, axes, angles).

    Reads metadata only (and a DXchange file's angles); ``--json`` prints one JSON object.
    """
    found = _describe(args)
    if args.json:
        print(json.dumps(found, indent=2))
    else:
        _print_text(found)
    return 0


def _copyable_attrs(path, key: str) -> dict[str, Any]:
    from detcal import io

    attrs = {}
    for name, value in io.read_metadata(path, key=key).items():
        try:
            json.dumps(value)
        except TypeError:
            continue
        attrs[name] = value
    return attrs


def _convert_scan(args: argparse.Namespace, keys: list[str]):
    """Convert every array of a DXchange scan (projections, flats, darks, angles)."""
    from detcal import io

    arrays = {k: io.open_array(args.input, key=k) for k in keys}
    if args.chunks:
        if len(args.chunks) != arrays[DXCHANGE[0]].ndim:
            raise ValueError(f"--chunks has {len(args.chunks)} sizes but {DXCHANGE[0]} has "
                             f"{arrays[DXCHANGE[0]].ndim} dimensions")  # fmt: skip
        arrays[DXCHANGE[0]] = io.open_array(args.input, key=DXCHANGE[0], chunks=args.chunks)
    attrs = {k: _copyable_attrs(args.input, k) for k in keys}
    out = io.save_arrays(
        arrays,
        args.output,
        attrs=attrs,
        overwrite=args.overwrite,
        progress=terminal_progress("convert"),
    )
    for key, array in arrays.items():
        print(f"wrote {out} {key} {tuple(array.shape)} {array.dtype}")


def _axes(metadata: dict[str, Any], ndim: int) -> list | None:
    """Return the input's axes to carry over when it names one per dimension, else None."""
    axes = metadata.get("axes")
    return axes if isinstance(axes, list) and len(axes) == ndim else None


def convert(args: argparse.Namespace) -> int:
    """Stream a file to another format (from the output suffix); a DXchange scan whole."""
    from detcal import io

    io.check_output(args.output, overwrite=args.overwrite, name="OUTPUT")
    keys = io.list_keys(args.input)
    scan = [k for k in DXCHANGE if k in keys]
    if args.key is None and _dxchange(keys):
        if io.WRITE_SUFFIXES[args.output.suffix.lower()] not in ("zarr", "hdf5"):
            raise ValueError(
                f"{args.input} is a DXchange scan ({', '.join(scan)}): convert it to .zarr or "
                ".h5 to keep it whole, or pick one array with --key"
            )
        _convert_scan(args, scan)
        return 0
    data = io.open_array(args.input, key=args.key)
    if args.chunks:
        if len(args.chunks) != data.ndim:
            raise ValueError(
                f"--chunks has {len(args.chunks)} sizes but the array {data.shape} has "
                f"{data.ndim} dimensions"
            )
        data = io.open_array(args.input, key=args.key, chunks=tuple(args.chunks))
    metadata = io.read_metadata(args.input, key=args.key)
    out = io.save_array(
        data,
        args.output,
        key=args.output_key,
        overwrite=args.overwrite,
        attrs=metadata.get("detcal"),
        axes=_axes(metadata, data.ndim),
        progress=terminal_progress("convert"),
    )
    print(f"wrote {out} {tuple(data.shape)} {data.dtype}")
    return 0


def register(subparsers) -> None:
    """Add the ``info`` and ``convert`` sub-commands."""
    from pathlib import Path

    parser = subparsers.add_parser(
        "info",
        help="show what a data file holds: shape, dtype, chunks, keys, levels, axes, angles",
        description="Describe a data file without reading its pixels. For a DXchange scan, "
        "also the range, step and units of its angles.",
    )
    parser.add_argument(
        "path", type=Path, help="data file (.zarr, .h5, .tif, folder of .tif, .npy, ...)"
    )
    parser.add_argument(
        "--key", metavar="KEY", help="array inside the file (HDF5 dataset, Zarr path, npz key)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=info)

    parser = subparsers.add_parser(
        "convert",
        help="convert a data file to .zarr (OME-Zarr), .h5, .tif or .npy",
        description="Stream an array to another format, chunk by chunk. A DXchange scan "
        "(exchange/data with flats, darks or angles) is converted whole, to .zarr or .h5, "
        "so that 'detcal tomo recon' reads the result; --key converts one array.",
    )
    parser.add_argument("input", type=Path, help="data file to read")
    parser.add_argument("output", type=Path, help="file to write; its suffix picks the format")
    parser.add_argument("--key", metavar="KEY", help="convert only this array of the input")
    parser.add_argument(
        "--output-key", metavar="KEY", help="dataset (HDF5) or group (Zarr) in the output"
    )
    parser.add_argument(
        "--chunks",
        type=chunk_size,
        nargs="+",
        metavar="SIZE",
        help="chunk shape to read and write, one size per dimension, e.g. 1 512 512 "
        "(default: the input's)",
    )
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output")
    add_common_flags(parser)
    parser.set_defaults(func=convert)
