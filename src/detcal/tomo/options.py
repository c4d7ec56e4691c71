"""Options of a whole tomography run, validated, and saved as JSON beside the output.

:class:`ReconOptions` gathers every choice :func:`detcal.tomo.pipeline.reconstruct_dataset`
makes (the alsmicroct ``recon(filename, ...)`` keywords under TomoPy's names). It checks each
value when it is made, so a bad option fails before any data is read or written, and it
round-trips through JSON so that a run can be recorded and replayed.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: Reconstruction filters (TomoPy's names).
FILTERS = ("none", "shepp", "cosine", "hann", "hamming", "ramlak", "parzen", "butterworth")
#: Stripe removal methods: none, Fourier-wavelet, Titarenko, smoothing filter, Vo's combined.
STRIPE_METHODS = ("none", "fw", "ti", "sf", "vo")
#: Centre-finding methods of :func:`detcal.tomo.center.find_center`.
CENTER_METHODS = ("vo", "pc", "nm")
#: Outlier filters: a 2D median on each projection or a 1D median along the angle axis.
OUTLIER_MODES = ("2d", "1d")
#: Side of the rotation axis in a 360-degree offset scan; "auto" finds it from the data.
ROTATIONS = ("auto", "left", "right")
#: Units of the angles stored in the input file.
THETA_UNITS = ("deg", "rad")
#: Reconstruction back-ends.
BACKENDS = ("auto", "gridding", "tomopy", "astra")
#: Reconstruction algorithms (both filtered back-projection with the gridding back-end).
ALGORITHMS = ("gridrec", "fbp")

_OPTIONS_VERSION = 1


@dataclass
class ReconOptions:
    """Every option of a whole tomography run.

    Parameters
    ----------
    rows : (int, int) or None
        Sinogram range ``(start, end)`` (detector rows, end excluded); None = all rows.
    slab : int
        Rows per slab: the chunk along the row axis that is read, prepared, reconstructed and
        written at a time.
    ignore_projections : tuple of int
        Indices of projections to drop (bad frames).
    angle_offset : float
        Added to every angle, in radians.
    theta_units : {"deg", "rad"}
        Units of ``exchange/theta`` in the file (DXchange stores degrees).
    angle_range : float
        Angular range in degrees assumed when the file has no angles (evenly spaced, end
        excluded).
    normalize_cutoff : float or None
        Upper limit of the normalised transmission (TomoPy's ``cutoff``).
    outlier_diff : float or None
        Remove outliers brighter than the local median by more than this (None = off).
    outlier_size : int
        Median filter size of the outlier removal.
    outlier_mode : {"2d", "1d"}
        "2d": median over each projection; "1d": median along the angle axis of each
        sinogram pixel (alsmicroct's doOutliers2D / doOutliers1D).
    phase : bool
        Paganin phase retrieval (before the logarithm).
    pixel_size, dist, energy, alpha : float
        Phase retrieval: pixel size (cm), propagation distance (cm), energy (keV) and
        regularisation, TomoPy's units and defaults.
    phase_pad : bool
        Pad projections before the phase-retrieval FFT.
    beam_hardening : tuple of float or None
        Polynomial coefficients ``(a0, a1, ..., a5)`` applied to the attenuation.
    stripe : {"none", "fw", "ti", "sf", "vo"}
        Stripe (ring) removal on the sinograms.
    fw_level, fw_wname, fw_sigma, fw_pad
        Fourier-wavelet parameters (level None = from the size).
    ti_nblock, ti_alpha
        Titarenko parameters.
    sf_size
        Smoothing-filter size.
    vo_snr, vo_la_size, vo_sm_size
        Vo's combined method parameters.
    full_360 : bool
        Convert a 360-degree offset-axis scan to 180 degrees before reconstructing.
    overlap : float or None
        Overlap (columns) of the two halves of a 360-degree scan; None = found from the data.
    rotation : {"auto", "left", "right"}
        Side of the rotation axis in a 360-degree scan.
    center : float or None
        Rotation centre (column index of the reconstructed sinogram, TomoPy's convention;
        for a 360-degree scan, of the converted sinogram). None = found with
        ``center_method`` (for a 360-degree scan: from the overlap, the axis of the
        converted sinogram).
    center_method : {"vo", "pc", "nm"}
        Centre-finding method used when ``center`` is None.
    center_row : int or None
        Detector row used to find the centre (None = the middle of ``rows``).
    filter_name : str
        Reconstruction filter (see :data:`FILTERS`).
    filter_par : (float, float) or None
        Filter parameters; None takes each filter's default (Butterworth cut-off 0.25 and
        order 2; TomoPy's (0.5, 8) for the others).
    pad : bool
        Pad sinograms before filtering.
    circ_mask : bool
        Set pixels outside the reconstruction circle to zero.
    algorithm : {"gridrec", "fbp"}
        Reconstruction algorithm (passed on to TomoPy with that back-end).
    backend : {"auto", "gridding", "tomopy", "astra"}
        Reconstruction back-end ("auto": this project's gridding reconstructor).
    ring_removal : bool
        Polar ring removal on the reconstructed slices (TomoPy's ``remove_ring``).
    ring_thresh, ring_thresh_max, ring_thresh_min, ring_theta_min, ring_width
        Ring removal: largest ring amplitude, clipping range, half arc (degrees) and widest
        ring (pixels), TomoPy's defaults.
    crop : (int, int, int, int) or None
        Margins ``(top, bottom, left, right)`` cut from each reconstructed slice.
    bilateral : bool
        Bilateral filter on each reconstructed slice.
    bilateral_sigma_color, bilateral_sigma_spatial : float
        Bilateral filter parameters (None colour sigma = from the slice's spread).
    uint8_range : (float, float) or None
        Cast the output to 8 bits, mapping ``low`` to 0 and ``high`` to 255.

    Raises
    ------
    ValueError
        An option out of range or an unknown name (filter, method, mode).
    TypeError
        An option of the wrong type.

    Examples
    --------
    >>> opts = ReconOptions(stripe="fw", center_method="pc")
    >>> ReconOptions.from_json(opts.to_json()) == opts
    True
    """

    # data selection
    rows: tuple[int, int] | None = None
    slab: int = 8
    ignore_projections: tuple[int, ...] = ()
    angle_offset: float = 0.0
    theta_units: str = "deg"
    angle_range: float = 180.0
    # preparation
    normalize_cutoff: float | None = None
    outlier_diff: float | None = None
    outlier_size: int = 3
    outlier_mode: str = "2d"
    phase: bool = False
    pixel_size: float = 1e-4
    dist: float = 50.0
    energy: float = 20.0
    alpha: float = 1e-3
    phase_pad: bool = True
    beam_hardening: tuple[float, ...] | None = None
    stripe: str = "none"
    fw_level: int | None = None
    fw_wname: str = "db5"
    fw_sigma: float = 2.0
    fw_pad: bool = True
    ti_nblock: int = 0
    ti_alpha: float = 1.5
    sf_size: int = 5
    vo_snr: float = 3.0
    vo_la_size: int = 61
    vo_sm_size: int = 21
    full_360: bool = False
    overlap: float | None = None
    rotation: str = "auto"
    # centre and reconstruction
    center: float | None = None
    center_method: str = "vo"
    center_row: int | None = None
    filter_name: str = "butterworth"
    filter_par: tuple[float, float] | None = None
    pad: bool = True
    circ_mask: bool = True
    algorithm: str = "gridrec"
    backend: str = "auto"
    # post-processing of the slices
    ring_removal: bool = False
    ring_thresh: float = 300.0
    ring_thresh_max: float = 300.0
    ring_thresh_min: float = -100.0
    ring_theta_min: float = 30.0
    ring_width: int = 30
    crop: tuple[int, int, int, int] | None = None
    bilateral: bool = False
    bilateral_sigma_color: float | None = None
    bilateral_sigma_spatial: float = 1.0
    uint8_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        self._validate()

    # -- validation -----------------------------------------------------------------------
    def _validate(self) -> None:
        _choice("theta_units", self.theta_units, THETA_UNITS)
        _choice("outlier_mode", self.outlier_mode, OUTLIER_MODES)
        _choice("stripe", self.stripe, STRIPE_METHODS)
        _choice("rotation", self.rotation, ROTATIONS)
        _choice("center_method", self.center_method, CENTER_METHODS)
        _choice("filter_name", self.filter_name, FILTERS)
        _choice("algorithm", self.algorithm, ALGORITHMS)
        _choice("backend", self.backend, BACKENDS)
        for name in ("phase", "phase_pad", "fw_pad", "full_360", "pad", "circ_mask"):
            _boolean(name, getattr(self, name))
        for name in ("ring_removal", "bilateral"):
            _boolean(name, getattr(self, name))
        _integer("slab", self.slab, minimum=1)
        _integer("outlier_size", self.outlier_size, minimum=1)
        _integer("ti_nblock", self.ti_nblock, minimum=0)
        _integer("sf_size", self.sf_size, minimum=1)
        _integer("vo_la_size", self.vo_la_size, minimum=1)
        _integer("vo_sm_size", self.vo_sm_size, minimum=1)
        _integer("ring_width", self.ring_width, minimum=1)
        if self.fw_level is not None:
            _integer("fw_level", self.fw_level, minimum=1)
        if self.center_row is not None:
            _integer("center_row", self.center_row, minimum=0)
        for name in ("pixel_size", "dist", "energy", "alpha", "fw_sigma", "ti_alpha"):
            _number(name, getattr(self, name), positive=True)
        for name in ("vo_snr", "bilateral_sigma_spatial", "angle_range"):
            _number(name, getattr(self, name), positive=True)
        _number("angle_offset", self.angle_offset)
        _number("ring_thresh", self.ring_thresh, positive=True)
        _number("ring_theta_min", self.ring_theta_min, positive=True)
        _number("ring_thresh_max", self.ring_thresh_max)
        _number("ring_thresh_min", self.ring_thresh_min)
        if not self.ring_thresh_min < self.ring_thresh_max:
            raise ValueError(
                f"ring_thresh_min must be < ring_thresh_max, got {self.ring_thresh_min}, "
                f"{self.ring_thresh_max}"
            )
        for name in ("outlier_diff", "normalize_cutoff", "bilateral_sigma_color"):
            if getattr(self, name) is not None:
                _number(name, getattr(self, name), positive=True)
        if self.overlap is not None:
            _number("overlap", self.overlap, positive=True)
        if self.center is not None:
            _number("center", self.center)
        if not isinstance(self.fw_wname, str) or not self.fw_wname:
            raise TypeError(f"fw_wname must be a wavelet name, got {self.fw_wname!r}")
        self.rows = _pair("rows", self.rows, integer=True)
        if self.rows is not None and not 0 <= self.rows[0] < self.rows[1]:
            raise ValueError(f"rows must be (start, end) with 0 <= start < end, got {self.rows}")
        self.filter_par = _pair("filter_par", self.filter_par)
        self.uint8_range = _pair("uint8_range", self.uint8_range)
        if self.uint8_range is not None and not self.uint8_range[0] < self.uint8_range[1]:
            raise ValueError(
                f"uint8_range must be (low, high) with low < high, got {self.uint8_range}"
            )
        self.ignore_projections = _int_tuple("ignore_projections", self.ignore_projections)
        if any(i < 0 for i in self.ignore_projections):
            raise ValueError(
                f"ignore_projections must be non-negative indices, got {self.ignore_projections}"
            )
        if self.crop is not None:
            self.crop = _int_tuple("crop", self.crop)
            if len(self.crop) != 4 or min(self.crop) < 0:
                raise ValueError(
                    f"crop must be 4 non-negative margins (top, bottom, left, right), "
                    f"got {self.crop}"
                )
        if self.beam_hardening is not None:
            coeffs = tuple(float(_number("beam_hardening", c)) for c in self.beam_hardening)
            if not 1 <= len(coeffs) <= 6:
                raise ValueError(
                    f"beam_hardening must hold 1 to 6 coefficients (a0..a5), got {len(coeffs)}"
                )
            self.beam_hardening = coeffs

    # -- conversion -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the options as a JSON-friendly dict (tuples become lists).

        Returns
        -------
        dict
            One entry per option, plus ``"detcal_tomo_options"`` (the format version).
        """
        out: dict[str, Any] = {"detcal_tomo_options": _OPTIONS_VERSION}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReconOptions:
        """Build options from a dict such as :meth:`to_dict` returns.

        Parameters
        ----------
        values : dict
            Option names and values; ``"detcal_tomo_options"`` and keys written by the run
            (``"center_found"``, ``"input"``, ...) under ``"run"`` are ignored.

        Returns
        -------
        ReconOptions
            The validated options.

        Raises
        ------
        ValueError
            An unknown option name or a newer format version.
        """
        values = dict(values)
        version = values.pop("detcal_tomo_options", _OPTIONS_VERSION)
        if not isinstance(version, int) or version > _OPTIONS_VERSION:
            raise ValueError(
                f"detcal_tomo_options version {version!r} is not supported "
                f"(this detcal reads version {_OPTIONS_VERSION})"
            )
        values.pop("run", None)
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ValueError(f"unknown tomography option(s): {', '.join(unknown)}")
        return cls(**values)

    def to_json(self, extra: dict[str, Any] | None = None) -> str:
        """Return the options as JSON text.

        Parameters
        ----------
        extra : dict, optional
            Facts about the run (centre found, input path, shapes) stored under ``"run"``.

        Returns
        -------
        str
            Indented JSON.
        """
        values = self.to_dict()
        if extra:
            values["run"] = extra
        return json.dumps(values, indent=2, sort_keys=False)

    @classmethod
    def from_json(cls, text: str) -> ReconOptions:
        """Build options from JSON text (see :meth:`to_json`).

        Parameters
        ----------
        text : str
            JSON written by :meth:`to_json` or by a whole run.

        Returns
        -------
        ReconOptions
            The validated options.
        """
        values = json.loads(text)
        if not isinstance(values, dict):
            raise ValueError(f"tomography options JSON must be an object, got {type(values)}")
        return cls.from_dict(values)

    def replace(self, **changes: Any) -> ReconOptions:
        """Return a copy with some options changed (validated).

        Parameters
        ----------
        **changes
            Option names and new values.

        Returns
        -------
        ReconOptions
            The new options.
        """
        return dataclasses.replace(self, **changes)


def load_options(path: str | Path) -> ReconOptions:
    """Read options from a JSON file (for example the one saved beside an output).

    Parameters
    ----------
    path : str or Path
        JSON file.

    Returns
    -------
    ReconOptions
        The validated options.
    """
    return ReconOptions.from_json(Path(path).read_text(encoding="utf-8"))


def _choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; expected one of {', '.join(choices)}")


def _boolean(name: str, value: Any) -> None:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def _integer(name: str, value: Any, *, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")


def _number(name: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    if positive and value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return float(value)


def _pair(name: str, value: Any, *, integer: bool = False) -> tuple | None:
    if value is None:
        return None
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a pair of numbers, got {value!r}") from None
    if len(items) != 2:
        raise ValueError(f"{name} must hold 2 values, got {len(items)}: {value!r}")
    if integer:
        for item in items:
            _integer(name, item, minimum=0)
        return (int(items[0]), int(items[1]))
    return tuple(_number(name, item) for item in items)


def _int_tuple(name: str, value: Any) -> tuple[int, ...]:
    try:
        items = tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be a sequence of integers, got {value!r}") from None
    for item in items:
        if isinstance(item, bool) or not isinstance(item, numbers.Integral):
            raise TypeError(f"{name} must hold integers, got {item!r}")
    return tuple(int(i) for i in items)
