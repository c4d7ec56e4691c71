"""Spatial distortion from an image of a regular grid of holes: calibrate, correct, save.

The method of Hammersley, Svensson & Thompson (1994, :doi:`10.1016/0168-9002(94)90720-X`):
sub-pixel spot centres (:func:`find_grid_peaks`), each spot's integer grid index and the ideal
regular lattice (:func:`index_grid`), the displacement of each spot from its ideal position,
and a smooth displacement field over every pixel (:func:`calibrate_distortion`). The resulting
:class:`DistortionMap` corrects images (numpy, or dask lazily plane by plane) with one sparse
matrix product per plane, maps points both ways, and is saved as a pyFAI NeXus detector file.
"""

from detcal.distortion.calibrate import calibrate_distortion
from detcal.distortion.lattice import GridIndex, Lattice, index_grid
from detcal.distortion.map import DistortionMap
from detcal.distortion.options import CalibrateOptions, CorrectOptions
from detcal.distortion.peaks import estimate_spot_diameter, find_grid_peaks, find_spots

__all__ = [
    "CalibrateOptions",
    "CorrectOptions",
    "DistortionMap",
    "GridIndex",
    "Lattice",
    "calibrate_distortion",
    "estimate_spot_diameter",
    "find_grid_peaks",
    "find_spots",
    "index_grid",
]
