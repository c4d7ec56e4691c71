"""The ``detcal`` command line.

Each public module of this package (``detcal.cli.<step>``) contributes its sub-commands through
a ``register(subparsers)`` function; every sub-command's handler takes the parsed arguments and
returns an exit code. Flags of a step's options are generated from its options dataclass by
:mod:`detcal.cli._flags`. Bad input is reported as ``detcal: error: ...`` with exit code 2 and
nothing written.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from detcal import __version__


def _command_modules() -> list[str]:
    """Names of the sub-command modules: every public module of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def build_parser() -> argparse.ArgumentParser:
    """Build the argument parser with every sub-command of :mod:`detcal.cli`.

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
    for name in _command_modules():
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
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
