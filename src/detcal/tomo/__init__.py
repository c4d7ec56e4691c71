"""Tomography: preparation, centre of rotation and reconstruction, with TomoPy's names.

Arrays follow TomoPy: ``tomo`` is (angle, row, column), a sinogram is one row across all
angles, ``theta`` is in radians. ``from detcal import tomo; tomo.recon(...)`` works like
``tomopy.recon``. The whole run (file in, reconstructed volume out) is
:func:`detcal.tomo.pipeline.reconstruct_dataset`; :mod:`detcal.tomo.pipeline` gathers its parts
(``options``, ``dataset``, ``checks``, ``graph``, ``scan_center``, ``run``), and
:mod:`detcal.tomo.preview` looks at one detector row at a time.
"""

from detcal.tomo.center import center_sweep, find_center, find_center_pc, find_center_vo
from detcal.tomo.prep import *  # noqa: F403  (the preparation functions, listed in prep.__all__)
from detcal.tomo.prep import __all__ as _prep_all
from detcal.tomo.recon import recon

__all__ = [*_prep_all, "center_sweep", "find_center", "find_center_pc", "find_center_vo", "recon"]
