"""Flat-field (illumination non-uniformity): estimate, save, load and apply profiles.

:func:`estimate_flatfield` takes measured profiles, or estimates them from empty tiles or
z-levels, or fits a BaSiC model with basicpy (:mod:`detcal.flatfield.estimate`); profiles are
kept in BaSiCPy's file layout (:mod:`detcal.flatfield.profiles`); :func:`apply_flatfield`
corrects images lazily (:mod:`detcal.flatfield.apply`). Tile numbering is in
:mod:`detcal.flatfield.tiles`, the BaSiC fit in :mod:`detcal.flatfield.basic`, the options
(CLI flags and widget controls) in :mod:`detcal.flatfield.options`.
"""

from detcal._lazy import lazy_package

#: Public name -> the module defining it (imported when first used, see :mod:`detcal._lazy`).
_NAMES = {
    "apply_flatfield": "apply",
    **dict.fromkeys(("empty_data_flat", "estimate_flatfield"), "estimate"),
    **dict.fromkeys(("ApplyOptions", "EstimateOptions"), "options"),
    **dict.fromkeys(
        ("PROFILES_NAME", "SETTINGS_NAME", "Profiles", "check_channel", "load_profiles",
         "save_profiles"),
        "profiles",
    ),
}  # fmt: skip

__all__ = sorted(_NAMES)

lazy_package(__name__, _NAMES)
