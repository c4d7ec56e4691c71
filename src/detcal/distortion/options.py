"""Options of the distortion steps: the one list the CLI flags and widget controls use.

:class:`CalibrateOptions` feeds :func:`detcal.distortion.calibrate_distortion` and
:class:`CorrectOptions` feeds :meth:`detcal.distortion.DistortionMap.correct`
(``options.kwargs()`` gives their keywords); the ``detcal distortion`` flags and the "Grid
distortion" dock widget's controls are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detcal._options import check_options, option

#: Spot polarities: bright spots on dark (holes), dark dots on bright, or found from the image.
POLARITIES = ("auto", "bright", "dark")
#: What a correction keeps: a flat image flat ("intensity") or the total counts ("counts").
PRESERVE = ("intensity", "counts")

DEFAULT_SMOOTHING = 0.01
"""Weight of the curvature penalty of the displacement field relative to the spots."""


@dataclass(frozen=True)
class CalibrateOptions:
    """Options of :func:`detcal.distortion.calibrate_distortion`.

    Parameters
    ----------
    spot_diameter : float or None
        Spot diameter in pixels; None estimates it from the image.
    pitch : float or None
        Grid pitch in millimetres; gives the pixel size (needed for a pyFAI file).
    polarity : {"auto", "bright", "dark"}
        Bright holes on a dark background, dark dots on a bright one, or found from the image.
    smoothing : float
        Curvature penalty of the displacement field relative to the spots (0 = interpolate).

    Examples
    --------
    >>> CalibrateOptions(pitch=1.0).kwargs()["pitch"]
    1.0
    """

    spot_diameter: float | None = option(
        None, label="Spot diameter (px)",
        help="diameter of the holes or dots, px (automatic: estimated from the image)",
        group="Spots", minimum=0, exclusive_minimum=True, step=0.5,
    )  # fmt: skip
    polarity: str = option(
        "auto", label="Spots are",
        help="bright holes on a dark background, dark dots on a bright one, or auto",
        group="Spots", choices=POLARITIES,
    )  # fmt: skip
    pitch: float | None = option(
        None, label="Grid pitch (mm)",
        help="distance between neighbouring holes of the grid, mm (gives the pixel size)",
        group="Grid", minimum=0, exclusive_minimum=True,
    )  # fmt: skip
    smoothing: float = option(
        DEFAULT_SMOOTHING, label="Field smoothing",
        help="curvature penalty of the displacement field relative to the spots (0: "
        "interpolate them exactly)", group="Grid", minimum=0, step=0.05, advanced=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`detcal.distortion.calibrate_distortion`."""
        return {
            "spot_diameter": self.spot_diameter,
            "polarity": self.polarity,
            "pitch": self.pitch,
            "smoothing": self.smoothing,
        }


@dataclass(frozen=True)
class CorrectOptions:
    """Options of :meth:`detcal.distortion.DistortionMap.correct`.

    Parameters
    ----------
    preserve : {"intensity", "counts"}
        Keep a flat image flat, or conserve the total counts (pyFAI's rebinning).

    Examples
    --------
    >>> CorrectOptions().kwargs()
    {'preserve': 'intensity'}
    """

    preserve: str = option(
        "intensity", label="Preserve",
        help="intensity: a flat image stays flat; counts: the total is conserved (pyFAI)",
        group="Correct", choices=PRESERVE,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :meth:`detcal.distortion.DistortionMap.correct`."""
        return {"preserve": self.preserve}
