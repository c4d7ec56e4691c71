"""Tomography preparation: the public entry to every step before (and around) reconstruction.

TomoPy names, defaults and array layout ``(angle, row, column)``; numpy in gives numpy out,
dask in gives a lazy dask array out. See docs/tomo-prep.md.

==========================  =====================================================
Normalisation               :func:`normalize`, :func:`normalize_nf`,
                            :func:`normalize_bg`, :func:`minus_log`
Outliers                    :func:`remove_outlier` (2D per projection, 1D along angles)
Stripes / rings             :func:`remove_stripe_fw`, :func:`remove_stripe_ti`,
                            :func:`remove_stripe_sf`, :func:`remove_all_stripe`,
                            :func:`remove_ring` (polar, on reconstructed slices)
Phase                       :func:`retrieve_phase`
360-degree scans            :func:`sino_360_to_180`, :func:`find_overlap`,
                            :func:`find_center_360`
Around reconstruction       :func:`beam_hardening`, :func:`drop_projections`,
                            :func:`offset_angles`, :func:`crop`, :func:`cast_to_uint8`,
                            :func:`bilateral`
==========================  =====================================================
"""

from __future__ import annotations

from detcal.tomo.normalize import minus_log, normalize, normalize_bg, normalize_nf
from detcal.tomo.outliers import remove_outlier
from detcal.tomo.phase import paganin_filter, retrieve_phase
from detcal.tomo.postprocess import (
    beam_hardening,
    bilateral,
    cast_to_uint8,
    crop,
    drop_projections,
    offset_angles,
    remove_ring,
)
from detcal.tomo.stitch360 import blend_weights, find_center_360, find_overlap, sino_360_to_180
from detcal.tomo.stripes import (
    remove_all_stripe,
    remove_stripe_fw,
    remove_stripe_sf,
    remove_stripe_ti,
)

__all__ = [
    "beam_hardening",
    "bilateral",
    "blend_weights",
    "cast_to_uint8",
    "crop",
    "drop_projections",
    "find_center_360",
    "find_overlap",
    "minus_log",
    "normalize",
    "normalize_bg",
    "normalize_nf",
    "offset_angles",
    "paganin_filter",
    "remove_all_stripe",
    "remove_outlier",
    "remove_ring",
    "remove_stripe_fw",
    "remove_stripe_sf",
    "remove_stripe_ti",
    "retrieve_phase",
    "sino_360_to_180",
]
