"""Spatial distortion from an image of a regular grid of holes: calibrate, correct, save.

The method of Hammersley, Svensson & Thompson (1994, :doi:`10.1016/0168-9002(94)90720-X`):
sub-pixel spot centres (:func:`find_grid_peaks`), each spot's integer grid index and the ideal
regular lattice (:func:`index_grid`), the displacement of each spot from its ideal position,
and a smooth displacement field over every pixel (:func:`calibrate_distortion`). The resulting
:class:`DistortionMap` corrects images (numpy, or dask lazily plane by plane) with one sparse
matrix product per plane, maps points both ways, and is saved as a pyFAI NeXus detector file.
The names are imported from their modules when first used (see :mod:`detcal._lazy`).
"""

from detcal._lazy import lazy_package

#: Public name -> the module defining it.
_NAMES = {
    "calibrate_distortion": "calibrate",
    **dict.fromkeys(("GridIndex", "Lattice", "index_grid"), "lattice"),
    "DistortionMap": "map",
    **dict.fromkeys(("CalibrateOptions", "CorrectOptions"), "options"),
    **dict.fromkeys(("estimate_spot_diameter", "find_grid_peaks", "find_spots"), "peaks"),
}

__all__ = sorted(_NAMES)

lazy_package(__name__, _NAMES)
