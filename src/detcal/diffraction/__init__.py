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
True where a pixel is to be ignored; NaN pixels are ignored like masked ones. The names are
imported from their modules when first used (see :mod:`detcal._lazy`).
"""

from detcal._lazy import lazy_package

#: Public name -> the module defining it.
_NAMES = {
    **dict.fromkeys(("azimuthal_average", "find_rings", "save_profile"), "azimuthal"),
    **dict.fromkeys(("pattern_center", "powder_center"), "center"),
    **dict.fromkeys(("load_mask", "save_mask", "shapes_to_mask"), "masks"),
    **dict.fromkeys(("AlignOptions", "AzimuthalOptions", "CenterOptions", "MaskOptions"),
                    "options"),
    **dict.fromkeys(("align", "register", "shift_image"), "registration"),
    "mean_and_sem": "statistics",
}  # fmt: skip

__all__ = sorted(_NAMES)

lazy_package(__name__, _NAMES)
