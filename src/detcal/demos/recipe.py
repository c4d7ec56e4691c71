"""Demo of recipes: a response + flat-field calibration written as JSON and replayed on a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from detcal.demos.report import Finding
from detcal.flatfield import Profiles, apply_flatfield, save_profiles
from detcal.io import open_array, read_metadata, save_array
from detcal.recipe import Recipe, apply_recipe
from detcal.response import correct_image, fit_response
from detcal.sample_data.mosaic import vignetting
from detcal.sample_data.sweep import make_sweep

ORDER = 50
STEP = "recipe"


def run(output: Path) -> list[Finding]:
    """Calibrate interactively (in Python), save the chain as a recipe, replay it on a file.

    Parameters
    ----------
    output : pathlib.Path
        Folder for the results; ``recipe/`` is created inside it.

    Returns
    -------
    list of Finding
        Whether the replay equals the interactive chain and records itself.
    """
    folder = Path(output) / STEP
    folder.mkdir(parents=True, exist_ok=True)
    sample = make_sweep()
    gains = fit_response(sample.volume, dark=sample.dark)
    flat = vignetting(gains.shape, strength=0.3)
    save_array(gains, folder / "gains.zarr", overwrite=True)
    save_array(sample.dark, folder / "dark.tif", overwrite=True)
    save_profiles(Profiles(flat), folder / "model", overwrite=True)
    raw = np.stack([sample.test_image * flat * (1 + k / 10) for k in range(4)]).astype(np.float32)
    save_array(raw, folder / "run-0001.zarr", overwrite=True)

    interactive = apply_flatfield(correct_image(raw, gains, dark=sample.dark), Profiles(flat))
    recipe = Recipe.from_dict(
        {
            "detcal_recipe": 1,
            "description": "demo: response correction, then flat-field",
            "steps": [
                {
                    "step": "response.correct_image",
                    "params": {"coefficients": "gains.zarr", "dark": "dark.tif"},
                },
                {"step": "flatfield.apply_flatfield", "params": {"profiles": "model"}},
            ],
        },
        base=folder,
    )
    recipe.save(folder / "recipe.json", overwrite=True)
    replayed_path = apply_recipe(
        Recipe.load(folder / "recipe.json"),
        folder / "run-0001.zarr",
        folder / "run-0001-corrected.zarr",
        overwrite=True,
    )
    replayed = open_array(replayed_path).compute()
    difference = float(np.nanmax(np.abs(replayed - interactive)))
    stored = read_metadata(replayed_path)
    recorded = json.dumps(stored).count("response.correct_image") > 0
    dataset = "synthetic sweep gains + vignetting flat, 4 frames (256, 256)"
    return [
        Finding(STEP, dataset, "replayed recipe vs interactive chain, max |difference|",
                f"{difference:.1e}", "<= 1e-5", difference <= 1e-5),
        Finding(STEP, dataset, "recipe stored in the output's attributes",
                "yes" if recorded else "no", "yes", recorded),
    ]  # fmt: skip
