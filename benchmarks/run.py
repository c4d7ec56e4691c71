"""Run every benchmark present and print one table: ours, the peer, the ratio, peak RSS.

Usage::

    python benchmarks/run.py [--size quick|full] [--only SUBSTRING]

Each side of each case runs in its own process (see ``harness.py``). A peer that is not
installed is reported as "not installed".
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from harness import measure, peer_installed  # noqa: E402


def _modules() -> list[str]:
    return sorted(p.stem for p in HERE.glob("bench_*.py"))


def _run_side(module: str, index: int, side: str, size: str) -> dict:
    cmd = [sys.executable, str(Path(__file__)), "--one", module, str(index), side, "--size", size]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": tail[:80]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _fastest(kept: dict | None, new: dict) -> dict:
    """The faster of two runs of one side (an error is kept: it is never hidden)."""
    if kept is None or "error" in kept:
        return kept or new
    if "error" in new:
        return new
    fastest = dict(min(kept, new, key=lambda r: r["seconds"]))
    fastest["peak_rss_mib"] = max(kept["peak_rss_mib"], new["peak_rss_mib"])
    return fastest


def _spread_of(ratios: list[float]) -> str:
    """The median and range of the rounds' own ratios: how much the machine moved them."""
    median = statistics.median(ratios)
    return f"ratio by round: median {median:.2f}x, {min(ratios):.2f}-{max(ratios):.2f}x"


def _fmt_s(result: dict | None) -> str:
    if result is None:
        return "-"
    if "error" in result:
        return "error"
    return f"{result['seconds']:.3f}"


def _fmt_rss(result: dict | None) -> str:
    if result is None or "error" in result:
        return "-"
    return f"{result['peak_rss_mib']:.0f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", choices=("quick", "full"), default="full")
    parser.add_argument("--only", default="", help="run cases whose name contains this")
    parser.add_argument(
        "--one", nargs=3, metavar=("MODULE", "INDEX", "SIDE"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()

    if args.one:
        module, index, side = args.one
        case = importlib.import_module(module).cases(args.size)[int(index)]
        print(json.dumps(measure(case, side)))
        return 0

    header = ("benchmark", "ours s", "ours MiB", "peer", "peer s", "peer MiB", "peer/ours", "notes")
    rows = []
    for module in _modules():
        for index, case in enumerate(importlib.import_module(module).cases(args.size)):
            if args.only and args.only not in case.name:
                continue
            peer_label = case.peer_name or "-"
            with_peer = case.peer is not None and peer_installed(case)
            if case.peer is not None and not with_peer:
                peer_label = f"{case.peer_name} (not installed)"
            ours = peer = None
            round_ratios = []
            for _ in range(case.rounds):
                mine = _run_side(module, index, "ours", args.size)
                ours = _fastest(ours, mine)
                if with_peer:
                    theirs = _run_side(module, index, "peer", args.size)
                    peer = _fastest(peer, theirs)
                    if "error" not in mine and "error" not in theirs:
                        round_ratios.append(theirs["seconds"] / max(mine["seconds"], 1e-9))
            if case.rounds > 1:
                for result in (ours, peer):
                    if result and "error" not in result:
                        result["note"] = f"fastest of {case.rounds} alternating rounds: " + (
                            result["note"] or "-"
                        )
                if ours and "error" not in ours and len(round_ratios) > 1:
                    ours["note"] += "; " + _spread_of(round_ratios)
            ratio = "-"
            if ours and peer and "error" not in ours and "error" not in peer:
                ratio = f"{peer['seconds'] / max(ours['seconds'], 1e-9):.1f}x"
            notes = "; ".join(
                f"{who}: {r.get('note') or r.get('error')}"
                for who, r in (("ours", ours), ("peer", peer))
                if r and (r.get("note") or r.get("error"))
            )
            row = (
                case.name,
                _fmt_s(ours),
                _fmt_rss(ours),
                peer_label,
                _fmt_s(peer),
                _fmt_rss(peer),
                ratio,
                notes,
            )
            rows.append(row)
            print("  ".join(row), file=sys.stderr, flush=True)
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    for r in [header, tuple("-" * w for w in widths), *rows]:
        print("  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
