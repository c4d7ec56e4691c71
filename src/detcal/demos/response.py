"""Demo of the detector response step: a synthetic sweep with known gains, and real CT data."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import tifffile
from scipy import ndimage

from detcal.demos.report import Finding
from detcal.io import save_array
from detcal.response import FitOptions, correct_image, fit_response
from detcal.sample_data import real_data_path
from detcal.sample_data.sweep import make_sweep

ORDER = 10
STEP = "response"


def pixel_variation(image: np.ndarray, border: int = 8) -> float:
    """Relative pixel-to-pixel variation: r.m.s. of ``image`` over its local (sigma 4) mean."""
    image = np.asarray(image, dtype=np.float64)
    highpass = image / ndimage.gaussian_filter(image, 4, mode="nearest") - 1
    return float(highpass[border:-border, border:-border].std())


def tile_scale_variation(image: np.ndarray, border: int = 30) -> float:
    """Relative non-uniformity on scales of 8 to 50 pixels (detector tiles, not noise)."""
    image = np.asarray(image, dtype=np.float64)
    fine = ndimage.gaussian_filter(image, 8, mode="nearest")
    coarse = ndimage.gaussian_filter(image, 50, mode="nearest")
    return float((fine / coarse - 1)[border:-border, border:-border].std())


def run(output: Path) -> list[Finding]:
    """Fit gains on the synthetic sweep and correct the bundled real CT projections.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; ``response/`` is created inside it.

    Returns
    -------
    list of Finding
        What was found against the truth.
    """
    folder = Path(output) / STEP
    folder.mkdir(parents=True, exist_ok=True)
    sample = make_sweep()
    gains, quality = fit_response(sample.volume, dark=sample.dark, return_quality=True)
    corrected = correct_image(sample.test_image, gains, dark=sample.dark)
    record = {
        "step": "response.fit_response",
        "params": {"volume": "make_sweep()", "dark": "make_sweep().dark", **FitOptions().kwargs()},
        "source": "detcal.sample_data.sweep.make_sweep()",
    }
    save_array(gains, folder / "sweep_gains.zarr", overwrite=True, attrs=record)
    save_array(
        np.stack([quality.residual_rms, quality.r_squared]),
        folder / "sweep_quality.zarr",
        overwrite=True,
        attrs=dict(record, planes=["residual_rms", "r_squared"]),
    )
    save_array(corrected, folder / "sweep_test_corrected.zarr", overwrite=True)
    correlation = float(np.corrcoef(gains.ravel(), sample.gains.ravel())[0, 1])
    raw_var = pixel_variation(sample.test_image - sample.dark)
    corrected_var = pixel_variation(corrected)
    dataset = "synthetic sweep (20, 256, 256), 5% gain spread"
    findings = [
        Finding(STEP, dataset, "gain correlation with truth", f"{correlation:.4f}", ">= 0.99",
                correlation >= 0.99),
        Finding(STEP, dataset, "flat test image pixel variation, corrected",
                f"{corrected_var:.3%} (raw {raw_var:.2%})", "<= 0.100%", corrected_var <= 1e-3),
        Finding(STEP, dataset, "undefined gains", str(quality.n_undefined), "0",
                quality.n_undefined == 0),
    ]  # fmt: skip

    real = real_data_path()
    ct, dark, flat, coeffs = (
        tifffile.imread(real / f"{name}.tif")
        for name in ("ct_projections", "dark", "flat", "coefficients")
    )
    ct_corrected = correct_image(ct, coeffs, dark=dark, flat=flat)
    save_array(
        ct_corrected,
        folder / "ct_projections_corrected.zarr",
        overwrite=True,
        attrs={
            "step": "response.correct_image",
            "params": {
                name: {"path": str((real / f"{name}.tif").resolve())}
                for name in ("coefficients", "dark", "flat")
            },
            "source": str((real / "ct_projections.tif").resolve()),
        },
    )
    raw_tiles = tile_scale_variation(flat - dark)
    corrected_tiles = tile_scale_variation(correct_image(flat, coeffs, dark=dark))
    findings.append(
        Finding(STEP, "real flat (300, 300) + detectorcal coefficients",
                "tile-scale (8-50 px) non-uniformity, corrected",
                f"{corrected_tiles:.3%} (raw {raw_tiles:.3%})", "< 70% of raw",
                corrected_tiles < 0.7 * raw_tiles)
    )  # fmt: skip
    finite = bool(np.isfinite(ct_corrected).all())
    findings.append(
        Finding(STEP, "real CT projections (10, 300, 300) uint16", "corrected with flat",
                f"float32, {'all finite' if finite else 'non-finite pixels'}, mean "
                f"{ct_corrected.mean():.4f}", "finite", finite)
    )  # fmt: skip
    return findings
