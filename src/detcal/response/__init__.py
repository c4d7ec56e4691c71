"""Per-pixel detector response: fit gains from a beam sweep, correct images with them.

The method of detectorcal (Croton et al. 2019, :doi:`10.1364/OE.27.014231`): with the dark
removed, each plane of a beam sweep is Gaussian-smoothed to estimate what a perfect detector
would have read; pixel by pixel, the gain is the least-squares slope through the origin of the
smoothed counts against the measured ones. :func:`fit_response` streams the sweep once
(:mod:`detcal.response.fit`); :func:`correct_image` applies the gains, lazily on dask input
(:mod:`detcal.response.correct`). Their options, from which the CLI flags and the widget
controls are generated, are in :mod:`detcal.response.options`.
"""

from detcal.response.correct import correct_image
from detcal.response.fit import FitQuality, fit_response
from detcal.response.options import DEFAULT_CUTOFF, CorrectOptions, FitOptions

__all__ = [
    "DEFAULT_CUTOFF",
    "CorrectOptions",
    "FitOptions",
    "FitQuality",
    "correct_image",
    "fit_response",
]
