"""Image filters shared by several steps (the fast Gaussian smoothing of the response fit)."""

from detcal.filters.gaussian import gaussian_smooth

__all__ = ["gaussian_smooth"]
