"""Per-pixel detector response: fit gains from a beam sweep, correct images with them.

The method of detectorcal (Croton et al. 2019, :doi:`10.1364/OE.27.014231`): with the dark
removed, each plane of a beam sweep is Gaussian-smoothed to estimate what a perfect detector
would have read; pixel by pixel, the gain is the least-squares slope through the origin of the
smoothed counts against the measured ones. :func:`fit_response` streams the sweep once
(:mod:`detcal.response.fit`); :func:`correct_image` applies the gains, lazily on dask input
(:mod:`detcal.response.correct`).
"""

from detcal.response.correct import correct_image
from detcal.response.fit import DEFAULT_CUTOFF, FitQuality, fit_response

__all__ = ["DEFAULT_CUTOFF", "FitQuality", "correct_image", "fit_response"]
