"""Flat-field (illumination non-uniformity): estimate, save, load and apply profiles.

:func:`estimate_flatfield` takes measured profiles, or estimates them from empty tiles or
z-levels, or fits a BaSiC model with basicpy (:mod:`detcal.flatfield.estimate`); profiles are
kept in BaSiCPy's file layout (:mod:`detcal.flatfield.profiles`); :func:`apply_flatfield`
corrects images lazily (:mod:`detcal.flatfield.apply`). Tile numbering is in
:mod:`detcal.flatfield.tiles`, the BaSiC fit in :mod:`detcal.flatfield.basic`, the options
(CLI flags and widget controls) in :mod:`detcal.flatfield.options`.
"""

from detcal.flatfield.apply import apply_flatfield
from detcal.flatfield.estimate import empty_data_flat, estimate_flatfield
from detcal.flatfield.options import ApplyOptions, EstimateOptions
from detcal.flatfield.profiles import (
    PROFILES_NAME,
    SETTINGS_NAME,
    Profiles,
    check_channel,
    load_profiles,
    save_profiles,
)

__all__ = [
    "PROFILES_NAME",
    "ApplyOptions",
    "EstimateOptions",
    "SETTINGS_NAME",
    "Profiles",
    "apply_flatfield",
    "check_channel",
    "empty_data_flat",
    "estimate_flatfield",
    "load_profiles",
    "save_profiles",
]
