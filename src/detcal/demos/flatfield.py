"""Demo of the flat-field step: a synthetic mosaic with a known flat, and real whole-slide tiles."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detcal.demos.report import Finding
from detcal.flatfield import apply_flatfield, estimate_flatfield, save_profiles
from detcal.flatfield import basic as basic_fit
from detcal.io import save_array
from detcal.sample_data import real_data_path
from detcal.sample_data.mosaic import flat_nrms, make_mosaic

ORDER = 20
STEP = "flatfield"


def _pct(value: float) -> str:
    return f"{100 * value:.2f} %"


def run(output: Path) -> list[Finding]:
    """Estimate flats from empty tiles, z-levels and BaSiC; correct; save the models.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; ``flatfield/`` is created inside it.

    Returns
    -------
    list of Finding
        What was found against the truth.
    """
    folder = Path(output) / STEP
    folder.mkdir(parents=True, exist_ok=True)
    sample = make_mosaic()
    findings = []
    low, high = sample.empty_z
    runs = {
        "empty tiles 1,3,7,9": {"fov_list": sample.empty_tiles, "dark": sample.dark},
        f"z-levels ({low}, {high}), corner tiles": {"z_levels": (low, high), "dark": sample.dark},
        "z-levels, dark forgotten": {"z_levels": (low, high)},
    }
    errors = {}
    for label, kwargs in runs.items():
        profiles, _ = estimate_flatfield(sample.tiles, **kwargs)
        errors[label] = flat_nrms(profiles.flatfield, sample.flatfield)
        if label.startswith("empty tiles"):
            best = profiles
    for label, error in errors.items():
        if "forgotten" in label:
            right = errors[f"z-levels ({low}, {high}), corner tiles"]
            ok = error > 2 * right
            expected = f"> 2 x {_pct(right)} (worse)"
        else:
            ok, expected = error <= 0.01, "<= 1 %"
        findings.append(
            Finding(STEP, "synthetic mosaic", f"flat NRMS, {label}", _pct(error), expected, ok)
        )
    n_bad = len(best.info["rejected"])
    findings.append(
        Finding(
            STEP,
            "synthetic mosaic",
            "contaminated 'empty' planes rejected",
            str(n_bad),
            str(int(sample.contaminated.sum())),
            n_bad == int(sample.contaminated.sum()),
        )
    )
    basic, _ = estimate_flatfield(
        sample.tiles, dark=sample.dark, basic_params={"working_size": 32}, n_samples=24
    )
    error = flat_nrms(basic.flatfield, sample.flatfield)
    findings.append(
        Finding(
            STEP,
            "synthetic mosaic",
            "flat NRMS, BaSiC (24 planes)",
            _pct(error),
            "<= 3 %",
            error <= 0.03,
        )
    )
    save_profiles(best, folder / "models" / "synthetic", overwrite=True)
    corrected = apply_flatfield(sample.tiles, best, keep_dtype=True)
    save_array(
        corrected,
        folder / "mosaic_corrected.zarr",
        overwrite=True,
        attrs={
            "step": "flatfield.apply_flatfield",
            "params": {"profiles": {"path": str((folder / "models" / "synthetic").resolve())}},
            "source": "detcal.sample_data.mosaic.make_mosaic()",
        },
    )
    clean = sample.empty_planes & ~sample.contaminated
    level = corrected[clean].astype(np.float64).mean(axis=0)
    flatness = float(level.std() / level.mean())
    findings.append(
        Finding(
            STEP,
            "synthetic mosaic",
            "corrected empty planes: spatial std / mean",
            _pct(flatness),
            "<= 1 %",
            flatness <= 0.01,
        )
    )

    images = np.load(real_data_path() / "wsi_brain.npz", allow_pickle=False)["images"]
    params = {"working_size": 32}
    real, _ = estimate_flatfield(images, basic_params=params, n_samples=16, seed=0)
    BaSiC = basic_fit.import_basic()
    direct = BaSiC(working_size=32)
    direct.fit(images[basic_fit.choose_planes(len(images), 16, seed=0)].astype(np.float32))
    diff = float(np.abs(real.flatfield - direct.flatfield).max())
    findings.append(
        Finding(
            STEP,
            "real wsi_brain (63 tiles)",
            "BaSiC flat: max |ours - basicpy|",
            f"{diff:.1e}",
            "<= 1e-5",
            diff <= 1e-5,
        )
    )
    falloff = float(real.flatfield.min() / real.flatfield.max())
    findings.append(
        Finding(
            STEP,
            "real wsi_brain (63 tiles)",
            "vignetting: flat min / max",
            f"{falloff:.2f}",
            "< 0.95 (visible shading)",
            falloff < 0.95,
        )
    )
    save_profiles(real, folder / "models" / "wsi_brain", overwrite=True)
    save_array(
        apply_flatfield(images, real),
        folder / "wsi_brain_corrected.zarr",
        overwrite=True,
        attrs={
            "step": "flatfield.apply_flatfield",
            "params": {"profiles": {"path": str((folder / "models" / "wsi_brain").resolve())}},
            "source": str((real_data_path() / "wsi_brain.npz").resolve()),
        },
    )
    return findings
