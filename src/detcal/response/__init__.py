"""Per-pixel detector response: fit gains from a beam sweep, correct images with them.

The method of detectorcal (Croton et al. 2019, :doi:`10.1364/OE.27.014231`): with the dark
removed, each plane of a beam sweep is Gaussian-smoothed to estimate what a perfect detector
would have read; pixel by pixel, the gain is the least-squares slope through the origin of the
smoothed counts against the measured ones. :func:`fit_response` streams the sweep once
(:mod:`detcal.response.fit`); :func:`correct_image` applies the gains, lazily on dask input
(:mod:`detcal.response.correct`). Their options, from which the CLI flags and the widget
controls are generated, are in :mod:`detcal.response.options`.
"""

from detcal._lazy import lazy_package

#: Public name -> the module defining it (imported when first used, see :mod:`detcal._lazy`).
_NAMES = {
    "correct_image": "correct",
    "FitQuality": "fit",
    "fit_response": "fit",
    **dict.fromkeys(("DEFAULT_CUTOFF", "CorrectOptions", "FitOptions"), "options"),
}

__all__ = sorted(_NAMES)

lazy_package(__name__, _NAMES)
