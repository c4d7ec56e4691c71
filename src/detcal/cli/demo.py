"""``detcal demo``: the sample data in napari, or every step run headless against the truth."""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import sys
from dataclasses import asdict
from pathlib import Path

from detcal import demos
from detcal.demos.report import Finding, format_table
from detcal.io import atomic_output


def register(subparsers) -> None:
    """Add the ``demo`` sub-command."""
    parser = subparsers.add_parser(
        "demo",
        help="open napari with the sample data and every widget, or run all steps headless",
        description=(
            "With a display: open napari with the sample datasets loaded and every dock widget "
            "of the plugin open. With --headless (or no display): run each calibration step on "
            "the synthetic data (known answers) and the bundled real data, print what it found "
            "against the ground truth and write the results under --output."
        ),
    )
    parser.add_argument("--headless", action="store_true", help="run without a window")
    parser.add_argument(
        "--output",
        type=Path,
        default=Path("detcal-demo-output"),
        help="folder for the headless results (default: ./detcal-demo-output)",
    )
    parser.add_argument(
        "--screenshot",
        type=Path,
        default=None,
        help="with a display: save a screenshot of the window to this PNG and close",
    )
    parser.set_defaults(func=_run)


def has_display() -> bool:
    """Tell whether a graphical display is available to open napari on."""
    if sys.platform in ("win32", "darwin"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def run_headless(output: Path) -> list[Finding]:
    """Run every demo module and write ``findings.json`` and ``report.txt`` under ``output``.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; created if missing.

    Returns
    -------
    list of Finding
        All findings, in the demos' order.
    """
    output.mkdir(parents=True, exist_ok=True)
    modules = [
        importlib.import_module(f"{demos.__name__}.{info.name}")
        for info in pkgutil.iter_modules(demos.__path__)
        if info.name != "report"
    ]
    findings: list[Finding] = []
    for module in sorted(modules, key=lambda m: m.ORDER):
        print(f"running {module.__name__.rsplit('.', 1)[-1]} ...", file=sys.stderr, flush=True)
        findings.extend(module.run(output))
    table = format_table(findings)
    with atomic_output(output / "report.txt") as tmp:
        tmp.write_text(table + "\n")
    with atomic_output(output / "findings.json") as tmp:
        tmp.write_text(json.dumps([asdict(f) for f in findings], indent=2))
    return findings


def _run(args: argparse.Namespace) -> int:
    if args.headless or not has_display():
        if not args.headless:
            print("no display found: running the headless demo", file=sys.stderr)
        findings = run_headless(args.output)
        print(format_table(findings))
        print(f"\nresults written under {args.output.resolve()}")
        return 0 if all(f.ok for f in findings) else 1
    from detcal.napari.demo_viewer import open_demo_viewer

    viewer = open_demo_viewer(screenshot=args.screenshot)
    if args.screenshot is not None:
        viewer.close()
    return 0
