"""Tomography: preparation, centre of rotation and reconstruction, with TomoPy's names.

Arrays follow TomoPy: ``tomo`` is (angle, row, column), a sinogram is one row across all
angles, ``theta`` is in radians. ``from detcal import tomo; tomo.recon(...)`` works like
``tomopy.recon``. The whole run (file in, reconstructed volume out) is
:func:`detcal.tomo.pipeline.reconstruct_dataset`; :mod:`detcal.tomo.pipeline` gathers its parts
(``options``, ``dataset``, ``checks``, ``graph``, ``scan_center``, ``run``), and
:mod:`detcal.tomo.preview` looks at one detector row at a time.

The names below are imported from their modules when first used (``import detcal.tomo``
loads no science; see :mod:`detcal._lazy`).
"""

from detcal._lazy import lazy_package

#: Public name -> the module defining it (the preparation functions are listed in
#: :mod:`detcal.tomo.prep` too).
_NAMES = {
    **dict.fromkeys(("center_sweep", "find_center", "find_center_pc", "find_center_vo"),
                    "center"),
    **dict.fromkeys(("minus_log", "normalize", "normalize_bg", "normalize_nf"), "normalize"),
    "remove_outlier": "outliers",
    **dict.fromkeys(("paganin_filter", "retrieve_phase"), "phase"),
    **dict.fromkeys(("beam_hardening", "bilateral", "cast_to_uint8", "crop", "drop_projections",
                     "offset_angles", "remove_ring"), "postprocess"),
    **dict.fromkeys(("blend_weights", "find_center_360", "find_overlap", "sino_360_to_180"),
                    "stitch360"),
    **dict.fromkeys(("remove_all_stripe", "remove_stripe_fw", "remove_stripe_sf",
                     "remove_stripe_ti"), "stripes"),
    "recon": "recon",
}  # fmt: skip

__all__ = sorted(_NAMES)

lazy_package(__name__, _NAMES)
