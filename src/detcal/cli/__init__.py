"""The ``detcal`` command line.

Each public module of this package (``detcal.cli.<step>``) contributes its sub-commands through
a ``register(subparsers)`` function; every sub-command's handler takes the parsed arguments and
returns an exit code. Flags of a step's options are generated from its options dataclass by
:mod:`detcal.cli._flags`; ``-q/--quiet`` and ``--threads`` by :mod:`detcal.cli._terminal`.

Exit codes: 0 done; 1 the command ran but a check it reports failed (``demo``); 2 the command
could not run: bad input (``detcal: error: ...``, naming the flag), an input that cannot be
read, an output that cannot be written (exists, read-only folder, disk full), a missing
optional package; 130 interrupted (Ctrl-C). In every case but 0 nothing is left on disk.

To start fast, only the module of the command given is imported (``detcal info`` does not
import the tomography code); command modules import heavy packages inside their handlers.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import pkgutil
import re
import sys

from detcal import __version__

# commands whose module is not named after them
_MODULE_OF = {"info": "io", "convert": "io"}


def _command_modules() -> list[str]:
    """Names of the sub-command modules: every public module of this package."""
    return sorted(m.name for m in pkgutil.iter_modules(__path__) if not m.name.startswith("_"))


def _one_grammar(parser: argparse.ArgumentParser, depth: int = 0) -> None:
    """Name nested sub-commands ``ACTION`` and drop reST markup from every help text."""
    parser.description = _plain(parser.description)
    for action in parser._actions:
        action.help = _plain(action.help)
        if isinstance(action, argparse._SubParsersAction):
            action.metavar = "COMMAND" if depth == 0 else "ACTION"
            for choice in action._choices_actions:
                choice.help = _plain(choice.help)
            for sub in set(action.choices.values()):
                _one_grammar(sub, depth + 1)


def _plain(text: str | None) -> str | None:
    return None if text is None else text.replace("``", "")


def build_parser(commands: list[str] | None = None) -> argparse.ArgumentParser:
    """Build the argument parser with the sub-commands of :mod:`detcal.cli`.

    Parameters
    ----------
    commands : list of str, optional
        Modules to register (default: all of them).

    Returns
    -------
    argparse.ArgumentParser
        The ``detcal`` parser.
    """
    parser = argparse.ArgumentParser(
        prog="detcal",
        description="Detector calibration and correction for X-ray and electron imaging.",
        epilog="Run 'detcal COMMAND --help' for a command's flags. Exit codes: 0 done, "
        "2 bad input or an unreadable input / unwritable output (nothing written), "
        "130 interrupted.",
    )
    parser.add_argument("--version", action="version", version=f"detcal {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in commands or _command_modules():
        importlib.import_module(f"{__name__}.{name}").register(subparsers)
    _one_grammar(parser)
    return parser


def _modules_for(argv: list[str]) -> list[str]:
    """Return the module of the command in ``argv`` when it is known, else every module."""
    modules = _command_modules()
    command = next((a for a in argv if not a.startswith("-")), None)
    module = _MODULE_OF.get(command, command)
    return [module] if module in modules else modules


_ASSIGNED = re.compile(r"^([a-z][a-z0-9_]*)=(['\"]?)([^'\"]*)\2")


def _in_flags(message: str) -> str:
    """Name flags: ``sigma: x`` -> ``--sigma: x``, ``backend='x'`` -> ``--backend x``."""
    from detcal.cli._flags import flag_message, flag_of

    message = _ASSIGNED.sub(lambda m: f"{flag_of(m.group(1))} {m.group(3)}", message, count=1)
    return flag_message(message)


def _error_message(exc: BaseException) -> str | None:
    """Return the one line to print for an error the user can act on; None for a bug."""
    from detcal.io import OutputExistsError, ReadError

    if isinstance(exc, OutputExistsError):
        return f"{exc.path} already exists; add --overwrite to replace it"
    if isinstance(exc, ReadError):
        return str(exc)
    if isinstance(exc, PermissionError):
        where = exc.filename or ""
        return f"permission denied: {where}" if where else _in_flags(str(exc))
    if isinstance(exc, (FileNotFoundError, FileExistsError)) and exc.filename:
        return f"{exc.strerror.lower()}: {exc.filename}"
    if isinstance(exc, KeyError):
        return str(exc.args[0]) if exc.args else "missing key"
    if isinstance(exc, (ValueError, TypeError, ImportError, FileNotFoundError, FileExistsError)):
        return _in_flags(str(exc))
    if isinstance(exc, MemoryError):
        return "out of memory; try fewer --threads or smaller chunks"
    if isinstance(exc, OSError):
        if exc.errno == errno.ENOSPC:
            return f"no space left on the disk while writing {exc.filename or 'the output'}"
        text = exc.strerror or str(exc)
        return f"{text}: {exc.filename}" if exc.filename else text
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the ``detcal`` command.

    Parameters
    ----------
    argv : list of str, optional
        Arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit code: 0 on success, 2 when the command could not run (the error printed as one
        line), 130 when interrupted.
    """
    from detcal.cli._terminal import common_settings, end_line

    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = build_parser(_modules_for(argv)).parse_args(argv)
        with common_settings(args):
            return int(args.func(args) or 0)
    except KeyboardInterrupt:
        end_line()
        print("detcal: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        message = _error_message(exc)
        if message is None:
            raise
        end_line()
        print(f"detcal: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
