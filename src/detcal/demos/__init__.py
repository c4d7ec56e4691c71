"""Headless demonstrations of each calibration step on the sample data.

Each module defines ``ORDER`` (an int, the row order in the report) and
``run(output: pathlib.Path) -> list[detcal.demos.report.Finding]``: it runs its step on the
synthetic data (known answers) and the bundled real data, writes its results under ``output``
and returns what it found next to the ground truth. ``detcal demo --headless`` runs them all.
"""
