"""Benchmark cases and their measurement, shared by every ``bench_*.py`` module.

A benchmark module defines ``cases(size)`` returning a list of :class:`Case`; ``size`` is
``"quick"`` (seconds, for a smoke run) or ``"full"`` (the sizes the issues name). Each side of
a case (ours, the peer) runs in a fresh Python process so its time and peak RSS are its own:
``setup()`` prepares inputs (cache large files under ``work_dir()``), the peak-RSS counter is
then reset, and the side is timed. A side returns an optional short quality note, or a
``(note, seconds)`` pair when it times its own steady state (e.g. the best of three runs with
a busy core already spinning): that figure is then the side's time. A case with ``rounds``
alternates its two sides that many times and keeps each side's fastest run.
"""

from __future__ import annotations

import importlib.util
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Case:
    """One benchmark: our function and, optionally, the peer's on the same input."""

    name: str
    setup: Callable[[], Any]
    ours: Callable[[Any], str | tuple[str, float] | None]
    peer_name: str | None = None
    peer: Callable[[Any], str | tuple[str, float] | None] | None = None
    peer_import: str | None = None  # module whose absence means "not installed"
    # sides run ours, peer, ours, peer... this many times, the fastest run of each kept: a
    # slow spell of a shared machine then falls on both sides alike, not on one
    rounds: int = 1


def peer_installed(case: Case) -> bool:
    """Tell whether the peer's module can be imported."""
    return case.peer_import is None or importlib.util.find_spec(case.peer_import) is not None


def work_dir() -> Path:
    """Folder for cached benchmark inputs and outputs (``$DETCAL_BENCH_DIR`` or ./bench-output)."""
    path = Path(os.environ.get("DETCAL_BENCH_DIR", "bench-output")).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def best_of(work: Callable[[], Any], repeats: int) -> tuple[Any, float, float]:
    """Run ``work()`` ``repeats`` times: its last output, the fastest run's wall and CPU s."""
    best = None
    for _ in range(repeats):
        cpu, start = cpu_seconds(), time.perf_counter()
        out = work()
        run = (time.perf_counter() - start, cpu_seconds() - cpu)
        best = run if best is None or run[0] < best[0] else best
    return out, best[0], best[1]


def cpu_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _reset_peak_rss() -> None:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _peak_rss_mib() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(case: Case, side: str) -> dict[str, Any]:
    """Run one side (``"ours"`` or ``"peer"``) of ``case`` and measure it.

    Returns
    -------
    dict
        ``seconds``, ``peak_rss_mib`` and ``note``.
    """
    inputs = case.setup()
    func = case.ours if side == "ours" else case.peer
    _reset_peak_rss()
    start = time.perf_counter()
    note = func(inputs)
    seconds = time.perf_counter() - start
    if isinstance(note, tuple):
        note, seconds = note
    return {"seconds": seconds, "peak_rss_mib": _peak_rss_mib(), "note": note or ""}
