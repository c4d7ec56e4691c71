"""The ``detcal`` command line.

Each module in :mod:`detcal.commands` contributes its sub-commands through a
``register(subparsers)`` function; every sub-command's handler takes the parsed arguments and
returns an exit code. Bad input is reported as ``detcal: error: ...`` with exit code 2 and
nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from detcal import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command of :mod:`detcal.commands`.

    Returns
    -------
    argparse.ArgumentParser
        The ``detcal`` parser.
    """
    parser = argparse.ArgumentParser(
        prog="detcal",
        description="Detector calibration and correction for X-ray and electron imaging.",
    )
    parser.add_argument("--version", action="version", version=f"detcal {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{info.name}")
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``detcal`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 on success, 2 on bad input.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (ValueError, TypeError, KeyError, FileNotFoundError, FileExistsError) as exc:
        message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"detcal: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
