"""Options of the detector response steps: the one list the CLI flags and widget controls use.

:class:`FitOptions` feeds :func:`detcal.response.fit_response` and :class:`CorrectOptions`
feeds :func:`detcal.response.correct_image` (``options.kwargs()`` gives their keywords); the
``detcal response`` flags and the "Detector response" dock widget's controls are generated
from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detcal._options import check_options, option

DEFAULT_CUTOFF = 300.0
"""detectorcal's default cutoff on the smoothed, dark-corrected counts."""


@dataclass(frozen=True)
class FitOptions:
    """Options of :func:`detcal.response.fit_response`.

    Parameters
    ----------
    sigma : float
        Gaussian sigma in pixels estimating the true intensity.
    cutoff : float
        Planes whose smoothed, dark-corrected value is at or below this are left out.
    """

    sigma: float = option(
        50.0, label="Sigma (px)",
        help="Gaussian sigma that estimates the true intensity, px (also the flat's smoothing)",
        group="Fit", minimum=0, exclusive_minimum=True, step=1.0,
    )  # fmt: skip
    cutoff: float = option(
        DEFAULT_CUTOFF, label="Cutoff (counts)",
        help="planes whose smoothed, dark-corrected value is at or below this are not used, "
        "counts", group="Fit", minimum=0, step=10.0,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`detcal.response.fit_response`."""
        return {"sigma": self.sigma, "cutoff": self.cutoff}


@dataclass(frozen=True)
class CorrectOptions:
    """Options of :func:`detcal.response.correct_image`.

    Parameters
    ----------
    residual_sigma : float or None
        With a flat: divide out only the flat's residuals larger than this many standard
        deviations (``correct_image``'s ``sigma``); None divides by the smoothed flat.
    smooth_sigma : float
        Gaussian sigma in pixels smoothing the flat.
    """

    residual_sigma: float | None = option(
        None, label="Residual sigma",
        help="with a flat: divide out only flat residuals above this many standard deviations; "
        "automatic: divide by the smoothed flat everywhere",
        group="Correct", minimum=0, exclusive_minimum=True,
    )  # fmt: skip
    smooth_sigma: float = option(
        50.0, label="Flat smoothing (px)",
        help="Gaussian sigma smoothing the flat, px; use the fit's sigma",
        group="Correct", minimum=0, exclusive_minimum=True, step=1.0,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`detcal.response.correct_image`."""
        return {"sigma": self.residual_sigma, "smooth_sigma": self.smooth_sigma}
