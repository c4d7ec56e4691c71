"""Image maths shared by several steps.

Fast large-sigma Gaussian smoothing (:mod:`detcal.filters.gaussian`), and calibration planes
averaged from stacks and brought to pyramid levels (:mod:`detcal.filters.planes`).
"""

from detcal.filters.gaussian import gaussian_smooth
from detcal.filters.planes import block_mean, calibration_plane, mean_plane

__all__ = ["block_mean", "calibration_plane", "gaussian_smooth", "mean_plane"]
