"""Options of the diffraction steps: one dataclass per command, the CLI flags and widget controls.

Each class lists its parameters once with :func:`detcal._options.option`; the ``detcal
diffraction`` flags and the "Diffraction" dock widget's controls are generated from them.
"""

from __future__ import annotations

from dataclasses import dataclass

from detcal._options import check_options, option

#: Centre-finding methods: concentric rings, or inversion symmetry of any pattern.
CENTER_METHODS = ("powder", "pattern")


@dataclass(frozen=True)
class MaskOptions:
    """How drawn shapes become a mask.

    Parameters
    ----------
    line_width : float
        Width in pixels of line and path shapes that carry no width (napari's Shapes CSV).
    """

    line_width: float = option(
        5.0, label="Line width (px)", help="width of lines/paths read from a Shapes CSV, px",
        group="Mask", minimum=0, exclusive_minimum=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class AlignOptions:
    """Options of :func:`detcal.diffraction.align`.

    Parameters
    ----------
    reference : int
        Index of the plane the others are aligned to.
    fill_value : float
        Value of the pixels shifted in from outside the image.
    """

    reference: int = option(
        0, label="Reference plane", help="index of the plane the others are aligned to",
        group="Align", minimum=0,
    )  # fmt: skip
    fill_value: float = option(
        0.0, label="Fill value", help="value of pixels shifted in from outside the image",
        group="Align", advanced=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class CenterOptions:
    """Options of the centre finding.

    Parameters
    ----------
    method : {"powder", "pattern"}
        ``"powder"``: :func:`detcal.diffraction.powder_center` (concentric rings);
        ``"pattern"``: :func:`detcal.diffraction.pattern_center` (inversion symmetry).
    """

    method: str = option(
        "powder", label="Method", help="powder: concentric rings; pattern: inversion symmetry",
        group="Centre finding", choices=CENTER_METHODS,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)


@dataclass(frozen=True)
class AzimuthalOptions:
    """Options of :func:`detcal.diffraction.azimuthal_average`.

    Parameters
    ----------
    center_row, center_col : float or None
        Pattern centre; None (both) finds it with :class:`CenterOptions`' method.
    bin_width : float
        Width of the radial bins, pixels.
    angular_bounds : (float, float) or None
        Only pixels at angles between these (radians, from +col towards +row); None = all.
    pixel_split : bool
        Share each pixel between the two nearest radial bins instead of binning its centre.
    """

    center_row: float | None = option(
        None,
        label="Centre row",
        help="pattern centre row, px; automatic: found by the centre method",
        group="Centre",
    )
    center_col: float | None = option(
        None, label="Centre column", group="Centre",
        help="pattern centre column, px; automatic: found by the centre method",
    )  # fmt: skip
    bin_width: float = option(
        1.0, label="Bin width (px)", help="width of the radial bins, px", group="Azimuthal",
        minimum=0, exclusive_minimum=True, step=0.1,
    )  # fmt: skip
    angular_bounds: tuple[float, float] | None = option(
        None, label="Angles (rad)",
        help="only pixels between these angles, radians from +col towards +row; automatic: all",
        group="Azimuthal", advanced=True,
    )  # fmt: skip
    pixel_split: bool = option(
        False, label="Split pixels", help="share each pixel between the two nearest bins",
        group="Azimuthal", advanced=True,
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)
        if (self.center_row is None) != (self.center_col is None):
            raise ValueError("center_row: give both center_row and center_col, or neither")

    @property
    def center(self) -> tuple[float, float] | None:
        """The centre (row, col) given, or None to find it."""
        return None if self.center_row is None else (self.center_row, self.center_col)
