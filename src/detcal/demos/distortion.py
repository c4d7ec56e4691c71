"""Demo of the distortion step: a synthetic hole grid with a known field, and a real dot target."""

from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
from scipy.spatial import cKDTree

from detcal.demos.report import Finding
from detcal.distortion import DistortionMap, calibrate_distortion
from detcal.io import save_array
from detcal.sample_data import real_data_path
from detcal.sample_data.hole_grid import make_hole_grid

ORDER = 40
STEP = "distortion"


def true_field_in_map_frame(dmap: DistortionMap, sample) -> np.ndarray:
    """Return the true field in the map's ideal lattice frame (its gauge), (2, rows, cols).

    The true ideal positions are an affine function of the map's; with ``A`` that function
    and ``D(x) = x + field(x)`` the true distortion, the true field at corrected ``q`` is
    ``D(A(q)) - q``.
    """
    _, which = cKDTree(sample.points).query(dmap.spots)
    design = np.column_stack([np.ones(len(dmap.spots)), dmap.ideal_spots])
    affine = np.linalg.lstsq(design, sample.ideal_points[which], rcond=None)[0]
    rows, cols = dmap.shape
    q = np.stack(np.mgrid[:rows, :cols], axis=-1).reshape(-1, 2).astype(np.float64)
    x = np.column_stack([np.ones(len(q)), q]) @ affine
    return (x + sample.field(x[:, 0], x[:, 1]).T - q).T.reshape(2, rows, cols)


def straightness(points: np.ndarray, indices: np.ndarray) -> float:
    """R.m.s. distance of the spots of each grid row and column from their best line, px."""
    residuals = []
    for axis in (0, 1):
        for k in np.unique(indices[:, axis]):
            on = indices[:, axis] == k
            if on.sum() >= 5:
                design = np.column_stack([np.ones(on.sum()), points[on, 1 - axis]])
                fit = np.linalg.lstsq(design, points[on, axis], rcond=None)[0]
                residuals.append(points[on, axis] - design @ fit)
    return float(np.sqrt(np.mean(np.concatenate(residuals) ** 2)))


def _pyfai_agreement(dmap: DistortionMap, path: Path, image: np.ndarray) -> float | None:
    try:
        import pyFAI
        from pyFAI.distortion import Distortion
    except ImportError:
        return None
    theirs = Distortion(pyFAI.detector_factory(str(path)), method="csr").correct(image)
    ours = dmap.correct(image, preserve="counts")
    valid = ~dmap.mask
    return float(np.median(np.abs(ours[valid] - theirs[valid]) / np.abs(theirs[valid])))


def run(output: Path) -> list[Finding]:
    """Calibrate the synthetic hole grid and the real dot target; compare with the truths.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; ``distortion/`` is created inside it.

    Returns
    -------
    list of Finding
        What was found against the truth.
    """
    folder = Path(output) / STEP
    folder.mkdir(parents=True, exist_ok=True)
    sample = make_hole_grid(shape=(512, 512), distortion=6.0, seed=0)
    dmap = calibrate_distortion(sample.image, pitch=0.5)
    truth = true_field_in_map_frame(dmap, sample)
    error = np.hypot(*(dmap.displacement - truth))[~dmap.mask]
    rms = float(np.sqrt(np.mean(error**2)))
    path = dmap.save(folder / "hole_grid_distortion.h5")
    record = {"step": "distortion.correct", "params": {"preserve": "intensity"}}
    save_array(dmap.correct(sample.image), folder / "hole_grid_corrected.zarr", overwrite=True,
               attrs=record)  # fmt: skip
    dataset = "synthetic hole grid (512, 512), up to 6 px"
    findings = [
        Finding(STEP, dataset, "displacement error r.m.s. (valid region)", f"{rms:.3f} px",
                "<= 0.05 px", rms <= 0.05),
        Finding(STEP, dataset, "max rounding error of the grid indices",
                f"{dmap.rounding_error:.3f} pitch", "< 0.2 pitch", dmap.rounding_error < 0.2),
    ]  # fmt: skip
    agreement = _pyfai_agreement(dmap, path, sample.image + 50.0)
    if agreement is not None:
        findings.append(
            Finding(STEP, dataset, "pyFAI Distortion(csr) on our file vs ours (counts)",
                    f"{agreement:.1e} median rel.", "<= 5e-5", agreement <= 5e-5)
        )  # fmt: skip

    image = iio.imread(real_data_path() / "dot_pattern_05.jpg")
    real = calibrate_distortion(image)
    before = straightness(real.spots, real.grid_index)
    after = straightness(real.raw_to_corrected(real.spots), real.grid_index)
    save_array(real.correct(image.astype(np.float32)), folder / "dot_pattern_corrected.zarr",
               overwrite=True)  # fmt: skip
    findings.append(
        Finding(STEP, f"real dot target (800, 1280), {len(real.spots)} dots",
                "grid rows/columns straight-line residual r.m.s.",
                f"{after:.3f} px (raw {before:.3f} px)", "< 10% of raw", after < 0.1 * before)
    )  # fmt: skip
    return findings
