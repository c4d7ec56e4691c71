"""Diffraction: masked sub-pixel alignment, streaming mean/SEM, pattern centre, radial profile.

* :func:`mean_and_sem` - mean and standard error of a series in one streaming pass
  (:mod:`~detcal.diffraction.statistics`);
* :func:`register`, :func:`shift_image`, :func:`align` - masked sub-pixel registration of
  patterns and alignment of a series (:mod:`~detcal.diffraction.registration`);
* :func:`powder_center`, :func:`pattern_center` - centre of concentric rings, or of any
  pattern by inversion symmetry (:mod:`~detcal.diffraction.center`);
* :func:`azimuthal_average`, :func:`find_rings`, :func:`save_profile` - the radial profile,
  its rings, as CSV (:mod:`~detcal.diffraction.azimuthal`);
* :func:`shapes_to_mask`, :func:`save_mask`, :func:`load_mask` - beam-block masks from drawn
  shapes and files (:mod:`~detcal.diffraction.masks`).

Conventions: coordinates are (row, col) with pixel ``(i, j)`` centred at ``(i, j)``; masks are
True where a pixel is to be ignored; NaN pixels are ignored like masked ones.
"""

from detcal.diffraction.azimuthal import azimuthal_average, find_rings, save_profile
from detcal.diffraction.center import pattern_center, powder_center
from detcal.diffraction.masks import load_mask, save_mask, shapes_to_mask
from detcal.diffraction.options import AlignOptions, AzimuthalOptions, CenterOptions, MaskOptions
from detcal.diffraction.registration import align, register, shift_image
from detcal.diffraction.statistics import mean_and_sem

__all__ = [
    "AlignOptions",
    "AzimuthalOptions",
    "CenterOptions",
    "MaskOptions",
    "align",
    "azimuthal_average",
    "find_rings",
    "load_mask",
    "mean_and_sem",
    "pattern_center",
    "powder_center",
    "register",
    "save_mask",
    "save_profile",
    "shapes_to_mask",
    "shift_image",
]
