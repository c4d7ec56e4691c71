"""Demo of the diffraction step on the synthetic powder pattern and drifting powder series."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detcal.demos.report import Finding
from detcal.diffraction import (
    align,
    azimuthal_average,
    mean_and_sem,
    pattern_center,
    powder_center,
    save_mask,
    save_profile,
)
from detcal.io import save_array
from detcal.sample_data.powder import make_powder, make_powder_series

ORDER = 30
STEP = "diffraction"


def _ring_peaks(radius: np.ndarray, intensity: np.ndarray, rings: np.ndarray) -> np.ndarray:
    """Sub-bin radius of the profile maximum within 1.5 px of each ring."""
    found = []
    for ring in rings:
        near = np.nonzero(np.abs(radius - ring) <= 1.5)[0]
        k = near[np.nanargmax(intensity[near])]
        a, b, c = intensity[k - 1 : k + 2]
        found.append(radius[k] + 0.5 * (a - c) / (a - 2 * b + c) * (radius[1] - radius[0]))
    return np.array(found)


def run(output: Path) -> list[Finding]:
    """Align, average, centre and azimuthally average the powder samples against the truth.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; ``diffraction/`` is created inside it.

    Returns
    -------
    list of Finding
        What was found against the truth.
    """
    folder = Path(output) / STEP
    folder.mkdir(parents=True, exist_ok=True)
    series = make_powder_series()
    aligned, shifts = align(series.images, mask=series.mask)
    shift_error = float(np.abs(shifts + series.shifts).max())
    mean, sem = mean_and_sem(aligned)
    save_array(aligned, folder / "series_aligned.zarr", overwrite=True,
               attrs={"step": "diffraction.align", "shifts": shifts.tolist()})  # fmt: skip
    save_array(np.stack([mean, sem]), folder / "series_mean_sem.zarr", overwrite=True,
               attrs={"step": "diffraction.mean_and_sem", "planes": ["mean", "sem"]})  # fmt: skip
    save_mask(series.mask, folder / "series_mask.tif", overwrite=True)
    n = len(series.images)
    dataset = f"powder series ({n}, 256, 256), drift up to 6 px, beam block fixed"
    findings = [
        Finding(STEP, dataset, "alignment shifts, max error", f"{shift_error:.3f} px",
                "<= 0.1 px", shift_error <= 0.1),
    ]  # fmt: skip

    sample = make_powder()
    dataset = "powder (512, 512), centre (270.3, 241.7), beam block + arm"
    for finder in (powder_center, pattern_center):
        found = finder(sample.image, mask=sample.mask)
        error = float(np.hypot(*np.subtract(found, sample.center)))
        findings.append(
            Finding(STEP, dataset, f"{finder.__name__}", f"({found[0]:.2f}, {found[1]:.2f}), "
                    f"error {error:.3f} px", "<= 0.5 px", error <= 0.5)
        )  # fmt: skip
    center = powder_center(sample.image, mask=sample.mask)
    radius, intensity = azimuthal_average(sample.image, center, mask=sample.mask, bin_width=0.5)
    rings = sample.ring_radii[[0, 1, 2, 5]]  # the rings with no close neighbour
    ring_error = float(np.abs(_ring_peaks(radius, intensity, rings) - rings).max())
    save_profile(radius, intensity, folder / "powder_azimuthal.csv", overwrite=True)
    findings.append(
        Finding(STEP, dataset, "azimuthal average: ring radii, max error", f"{ring_error:.3f} px",
                "<= 0.5 px", ring_error <= 0.5)
    )  # fmt: skip
    noisy_sem = float(np.nanmedian(sem[~series.mask]))
    expected = float(np.sqrt(np.median(mean[~series.mask]) / n))
    findings.append(
        Finding(STEP, "aligned powder series", "median SEM vs Poisson sqrt(mean/n)",
                f"{noisy_sem:.2f} (Poisson {expected:.2f})", "within 30%",
                abs(noisy_sem / expected - 1) < 0.3)
    )  # fmt: skip
    return findings
