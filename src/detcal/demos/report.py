"""A demo finding: what a step found, next to the ground truth, and whether it is good enough."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Finding:
    """One row of the demo report.

    Parameters
    ----------
    step : str
        The calibration step, e.g. ``"response"``.
    dataset : str
        The input, e.g. ``"synthetic sweep"`` or ``"real CT projections"``.
    quantity : str
        What was measured, e.g. ``"gain correlation with truth"``.
    found : str
        The value found, formatted.
    expected : str
        The ground truth or the acceptance bound, formatted (e.g. ``">= 0.99"``).
    ok : bool
        Whether ``found`` meets ``expected``.
    """

    step: str
    dataset: str
    quantity: str
    found: str
    expected: str
    ok: bool


def format_table(findings: list[Finding]) -> str:
    """Format findings as a plain-text table.

    Parameters
    ----------
    findings : list of Finding
        Rows to format.

    Returns
    -------
    str
        The table, one line per finding, with a header.
    """
    header = ("step", "dataset", "quantity", "found", "expected", "ok")
    rows = [header] + [
        (f.step, f.dataset, f.quantity, f.found, f.expected, "yes" if f.ok else "NO")
        for f in findings
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
