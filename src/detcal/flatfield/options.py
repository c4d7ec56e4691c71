"""Options of the flat-field steps: the one list the CLI flags and widget controls use.

:class:`EstimateOptions` feeds :func:`detcal.flatfield.estimate_flatfield` (empty-data
selection, sampling, the memory budget and the BaSiC settings) and :class:`ApplyOptions` feeds
:func:`detcal.flatfield.apply_flatfield`; ``options.kwargs()`` gives their keywords. The
``detcal flatfield`` flags and the "Flat-field" dock widget's controls are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from detcal._options import check_options, option

_BASIC = "BaSiC (used when nothing is marked empty)"
#: The BaSiC settings among the options, as :func:`estimate_flatfield`'s ``basic_params``.
BASIC_OPTIONS = (
    "autosegment",
    "autosegment_margin",
    "epsilon",
    "get_darkfield",
    "max_workers",
    "smoothness_flatfield",
    "smoothness_darkfield",
    "working_size",
)


@dataclass(frozen=True)
class EstimateOptions:
    """Options of :func:`detcal.flatfield.estimate_flatfield` (see its parameters)."""

    fov_list: tuple[int, ...] | None = option(
        None, label="Empty tiles", help="1-based numbers of wholly empty tiles, inverted-N order",
        group="Empty data", minimum=1, widget=False, metavar="TILE",
    )  # fmt: skip
    z_levels: tuple[int, int] | None = option(
        None, label="Z-levels", help="planes below LOW and above HIGH are empty",
        group="Empty data", minimum=0, widget=False, metavar=("LOW", "HIGH"),
    )  # fmt: skip
    grid_shape: tuple[int, int] | None = option(
        None, label="Tile grid", help="rows and columns of the tile grid; automatic: a square grid",
        group="Empty data", minimum=1, widget=False, metavar=("ROWS", "COLUMNS"),
    )  # fmt: skip
    dark_level: float = option(
        0.0, label="Dark level", help="dark level removed first when no dark image is given "
        "(0: none), counts", group="Dark", minimum=0, step=10.0,
    )  # fmt: skip
    n_samples: int | None = option(
        None, label="Planes sampled",
        help="planes used, a seeded random subset; automatic: every plane that fits the "
        "memory budget", group="Sampling", minimum=1,
    )  # fmt: skip
    seed: int = option(0, label="Seed", help="seed of the subset", group="Sampling", minimum=0)
    memory_mb: float = option(
        2048.0, label="Memory budget (MB)",
        help="memory the sampled planes may take; beyond it a subset is sampled, MB",
        group="Sampling", minimum=1, step=256.0,
    )  # fmt: skip
    smooth_sigma: float = option(
        1.0, label="Smoothing (px)", help="Gaussian smoothing of the empty-data flat, px",
        group="Sampling", minimum=0, step=0.5,
    )  # fmt: skip
    baseline_percentile: float | None = option(
        None, label="Baseline percentile",
        help="store this percentile of the corrected empty planes as the baseline; "
        "automatic: no baseline",
        group="Sampling", minimum=0, maximum=100, advanced=True,
    )  # fmt: skip
    autosegment: bool = option(
        False, label="Autosegment", help="exclude the sample (above Otsu's threshold) from the fit",
        group=_BASIC, advanced=True,
    )  # fmt: skip
    autosegment_margin: int = option(
        10, label="Margin (px)", help="background this close to the sample is dropped, "
        "working-size px", group=_BASIC, minimum=0, advanced=True,
    )  # fmt: skip
    epsilon: float = option(
        0.1, label="Epsilon", help="BaSiC's reweighting epsilon", group=_BASIC, minimum=0,
        exclusive_minimum=True, advanced=True,
    )  # fmt: skip
    get_darkfield: bool = option(
        False, label="Fit darkfield", help="also fit an additive darkfield", group=_BASIC,
        advanced=True,
    )  # fmt: skip
    max_workers: int | None = option(
        None, label="Threads", help="torch threads during the fit; automatic: torch's setting",
        group=_BASIC, minimum=1, advanced=True,
    )  # fmt: skip
    smoothness_flatfield: float | None = option(
        None, label="Flat smoothness",
        help="BaSiC's flat-field smoothness; automatic: chosen by basicpy",
        group=_BASIC, minimum=0, exclusive_minimum=True, advanced=True,
    )  # fmt: skip
    smoothness_darkfield: float | None = option(
        None, label="Dark smoothness",
        help="BaSiC's darkfield smoothness; automatic: chosen by basicpy",
        group=_BASIC, minimum=0, exclusive_minimum=True, advanced=True,
    )  # fmt: skip
    working_size: int = option(
        128, label="Working size (px)", help="side of the shrunk planes BaSiC fits, px",
        group=_BASIC, minimum=2, advanced=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def basic_params(self) -> dict[str, Any]:
        """Return the BaSiC settings as ``basic_params`` (automatic ones left out)."""
        values = {name: getattr(self, name) for name in BASIC_OPTIONS}
        return {k: v for k, v in values.items() if v is not None}

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`detcal.flatfield.estimate_flatfield` (``dark`` excluded)."""
        return {
            "fov_list": self.fov_list,
            "z_levels": self.z_levels,
            "grid_shape": self.grid_shape,
            "basic_params": self.basic_params(),
            "n_samples": self.n_samples,
            "seed": self.seed,
            "memory_mb": self.memory_mb,
            "smooth_sigma": self.smooth_sigma,
            "baseline_percentile": self.baseline_percentile,
        }


@dataclass(frozen=True)
class ApplyOptions:
    """Options of :func:`detcal.flatfield.apply_flatfield`.

    Parameters
    ----------
    keep_dtype : bool
        Round and clip the result back to the input's dtype instead of float32.
    """

    keep_dtype: bool = option(
        False, label="Keep dtype", help="round and clip the result to the input's dtype",
        group="Apply",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)

    def kwargs(self) -> dict[str, Any]:
        """Keywords of :func:`detcal.flatfield.apply_flatfield`."""
        return {"keep_dtype": self.keep_dtype}
