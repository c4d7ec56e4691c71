"""Sample datasets with their ground truth, and the bundled real data.

Synthetic generators are seeded and return the data together with the known answers, so tests,
the demo and napari's File > Open Sample all use the same inputs.
"""

from __future__ import annotations

from pathlib import Path


def real_data_path() -> Path:
    """Return the folder of the bundled real datasets (see ``real/SOURCES.md`` there).

    Returns
    -------
    pathlib.Path
        Folder holding ``ct_projections.tif``, ``dark.tif``, ``flat.tif``,
        ``coefficients.tif``, ``tooth.h5``, ``wsi_brain.npz``, ``dot_pattern_05.jpg`` and
        ``coef_dot_05.txt``.
    """
    return Path(__file__).resolve().parent / "real"
