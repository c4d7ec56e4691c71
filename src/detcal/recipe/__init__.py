"""A calibration as data: ordered steps and their parameters, saved as JSON, replayed lazily.

A recipe (:class:`Recipe`) is the chain of public detcal functions that turned raw detector
data into corrected data, with the calibration files they used: built point and click in
napari (:mod:`detcal.recipe.chain`), written by hand or converted from a tomography run record
(:func:`from_tomo_record`), checked whole when loaded (:mod:`detcal.recipe.format`), and replayed
on new data lazily or file to file, on a laptop or a dask.distributed cluster
(:mod:`detcal.recipe.replay`). The steps a recipe may hold are listed in
:mod:`detcal.recipe.steps`.
"""

from detcal.recipe.chain import Chain, chain_behind, save_chain
from detcal.recipe.format import (
    FORMAT_VERSION,
    MissingFileError,
    Recipe,
    RecipeError,
    Step,
    from_tomo_record,
)
from detcal.recipe.replay import apply_recipe, apply_steps
from detcal.recipe.steps import STEPS

__all__ = [
    "FORMAT_VERSION",
    "STEPS",
    "Chain",
    "MissingFileError",
    "Recipe",
    "RecipeError",
    "Step",
    "apply_recipe",
    "apply_steps",
    "chain_behind",
    "from_tomo_record",
    "save_chain",
]
