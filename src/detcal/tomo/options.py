"""Options of a whole tomography run: one list, validated, saved as JSON beside the output.

:class:`ReconOptions` gathers every choice :func:`detcal.tomo.pipeline.reconstruct_dataset`
makes (the alsmicroct ``recon(filename, ...)`` keywords under TomoPy's names). Each field is
declared with :func:`detcal._options.option` (label, group, limits, help with units), so the
``detcal tomo`` flags and the Tomography widget's controls are generated from this one list.
Values are checked when the options are made, so a bad option fails before any data is read
or written, and the options round-trip through JSON so that a run can be recorded and replayed.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from detcal._options import check_options, option, options_dict

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
_DATA, _OUTLIERS, _PHASE, _STRIPES = "Data", "Outliers", "Phase retrieval", "Stripes"
_PREP, _360, _CENTER, _RECON = "Preparation", "360 to 180", "Centre", "Reconstruction"
_RINGS, _OUTPUT = "Ring removal", "Output"


@dataclass(frozen=True)
class ReconOptions:
    """Every option of a whole tomography run (see each field's help for units and limits).

    Parameters
    ----------
    rows : (int, int) or None
        Sinogram range ``(start, end)`` (detector rows, end excluded); None = all rows.
    slab : int
        Rows read, prepared, reconstructed and written at a time.
    ignore_projections : tuple of int or None
        Indices of projections to drop (bad frames).
    angle_offset : float
        Added to every angle, radians.
    theta_units : {"deg", "rad"}
        Units of ``exchange/theta`` in the file (DXchange stores degrees).
    angle_range : float
        Degrees covered when the file has no angles (evenly spaced, end excluded).
    normalize_cutoff : float or None
        Upper limit of the normalised transmission (TomoPy's ``cutoff``).
    outlier_diff, outlier_size, outlier_mode
        Outlier (zinger) removal: threshold in counts above the local median (None = off),
        median size in pixels, "2d" per projection or "1d" along the angles.
    phase : bool
        Paganin phase retrieval (before the logarithm).
    pixel_size, dist, energy, alpha, phase_pad
        Phase retrieval: pixel size (cm), propagation distance (cm), energy (keV),
        regularisation, padding (TomoPy's units and defaults).
    beam_hardening : tuple of float or None
        Polynomial coefficients ``(a0, ..., a5)`` applied to the attenuation.
    stripe : {"none", "fw", "ti", "sf", "vo"}
        Stripe (ring) removal on the sinograms; ``fw_*``, ``ti_*``, ``sf_size`` and ``vo_*``
        are the parameters of each method.
    full_360, overlap, rotation
        Convert a 360-degree offset-axis scan to 180 degrees; overlap of the halves (columns,
        None = found) and side of the axis.
    center, center_method, center_row
        Rotation centre (column of the reconstructed sinogram, TomoPy's convention; None =
        found with ``center_method`` on ``center_row``).
    filter_name, filter_par, pad, circ_mask, algorithm, backend
        Reconstruction.
    ring_removal, ring_thresh, ring_thresh_max, ring_thresh_min, ring_theta_min, ring_width
        Polar ring removal on the slices (TomoPy's ``remove_ring``).
    crop, bilateral, bilateral_sigma_color, bilateral_sigma_spatial, uint8_range
        Post-processing of the slices.

    Raises
    ------
    ValueError
        An option out of range, an unknown name (filter, method, mode), or contradicting
        options; the message starts with the option's name.
    TypeError
        An option of the wrong type.

    Examples
    --------
    >>> opts = ReconOptions(stripe="fw", center_method="pc")
    >>> ReconOptions.from_json(opts.to_json()) == opts
    True
    """

    # data selection
    rows: tuple[int, int] | None = option(
        None, label="Rows", group=_DATA, minimum=0,
        help="detector rows START END to reconstruct (END excluded); unset: all rows",
    )  # fmt: skip
    slab: int = option(
        8, label="Slab (rows)", group=_DATA, minimum=1, advanced=True,
        help="rows read, prepared, reconstructed and written at a time (memory grows with it)",
    )  # fmt: skip
    ignore_projections: tuple[int, ...] | None = option(
        None, label="Ignore projections", group=_DATA, minimum=0, advanced=True,
        help="indices of projections to drop (bad frames); unset: none",
    )  # fmt: skip
    angle_offset: float = option(
        0.0, label="Angle offset (rad)", group=_DATA, advanced=True,
        help="added to every angle, radians",
    )  # fmt: skip
    theta_units: str = option(
        "deg", label="Angle units in file", group=_DATA, choices=THETA_UNITS, advanced=True,
        help="units of exchange/theta in the file (DXchange stores degrees)",
    )  # fmt: skip
    angle_range: float = option(
        180.0, label="Angle range (deg)", group=_DATA, minimum=0, exclusive_minimum=True,
        maximum=720, advanced=True,
        help="degrees covered when the file has no angles (evenly spaced, end excluded)",
    )  # fmt: skip
    # preparation
    outlier_diff: float | None = option(
        None, label="Outlier difference", group=_OUTLIERS, minimum=0, exclusive_minimum=True,
        help="replace pixels brighter than the local median by this many counts; unset: off",
    )  # fmt: skip
    outlier_size: int = option(
        3, label="Outlier median size", group=_OUTLIERS, minimum=1,
        help="median filter size of the outlier removal, pixels",
    )  # fmt: skip
    outlier_mode: str = option(
        "2d", label="Outlier mode", group=_OUTLIERS, choices=OUTLIER_MODES,
        help="2d: median over each projection; 1d: median along the angles of each pixel",
    )  # fmt: skip
    normalize_cutoff: float | None = option(
        None, label="Transmission cutoff", group=_PREP, minimum=0, exclusive_minimum=True,
        advanced=True, help="upper limit of the normalised transmission; unset: none",
    )  # fmt: skip
    beam_hardening: tuple[float, ...] | None = option(
        None, label="Beam hardening a0..a5", group=_PREP, advanced=True,
        help="polynomial coefficients a0 .. a5 applied to the attenuation; unset: off",
    )  # fmt: skip
    phase: bool = option(
        False, label="Phase retrieval", group=_PHASE, advanced=True,
        help="Paganin phase retrieval before the logarithm",
    )  # fmt: skip
    pixel_size: float = option(
        1e-4, label="Pixel size (cm)", group=_PHASE, minimum=0, exclusive_minimum=True,
        step=1e-5, advanced=True, help="detector pixel size, cm (TomoPy's unit)",
    )  # fmt: skip
    dist: float = option(
        50.0, label="Distance (cm)", group=_PHASE, minimum=0, exclusive_minimum=True,
        advanced=True, help="sample to detector propagation distance, cm (TomoPy's unit)",
    )  # fmt: skip
    energy: float = option(
        20.0, label="Energy (keV)", group=_PHASE, minimum=0, exclusive_minimum=True,
        advanced=True, help="photon energy, keV",
    )  # fmt: skip
    alpha: float = option(
        1e-3, label="Alpha", group=_PHASE, minimum=0, exclusive_minimum=True, step=1e-4,
        advanced=True, help="Paganin regularisation (smaller = stronger low-pass), no unit",
    )  # fmt: skip
    phase_pad: bool = option(
        True, label="Pad projections", group=_PHASE, advanced=True,
        help="pad projections before the phase-retrieval FFT",
    )  # fmt: skip
    stripe: str = option(
        "none", label="Stripe method", group=_STRIPES, choices=STRIPE_METHODS,
        help="stripe removal: fw Fourier-wavelet, ti Titarenko, sf smoothing filter, "
        "vo Vo's combined method",
    )  # fmt: skip
    fw_level: int | None = option(
        None, label="fw level", group=_STRIPES, minimum=1,
        help="Fourier-wavelet decomposition level; unset: from the sinogram size",
    )  # fmt: skip
    fw_wname: str = option(
        "db5", label="fw wavelet", group=_STRIPES, help="Fourier-wavelet wavelet name (pywt)"
    )
    fw_sigma: float = option(
        2.0, label="fw sigma", group=_STRIPES, minimum=0, exclusive_minimum=True,
        help="Fourier-wavelet damping, frequency samples",
    )  # fmt: skip
    fw_pad: bool = option(
        True, label="fw pad", group=_STRIPES, help="pad sinograms before the Fourier-wavelet"
    )
    ti_nblock: int = option(
        0, label="ti blocks", group=_STRIPES, minimum=0,
        help="Titarenko: number of angle blocks (0 = the whole sinogram)",
    )  # fmt: skip
    ti_alpha: float = option(
        1.5, label="ti alpha", group=_STRIPES, minimum=0, exclusive_minimum=True,
        help="Titarenko damping factor",
    )  # fmt: skip
    sf_size: int = option(
        5, label="sf size", group=_STRIPES, minimum=1,
        help="smoothing-filter size, pixels",
    )  # fmt: skip
    vo_snr: float = option(
        3.0, label="vo SNR", group=_STRIPES, minimum=0, exclusive_minimum=True,
        help="Vo: signal-to-noise ratio that marks a stripe",
    )  # fmt: skip
    vo_la_size: int = option(
        61, label="vo large size", group=_STRIPES, minimum=1,
        help="Vo: median window for large stripes, pixels",
    )  # fmt: skip
    vo_sm_size: int = option(
        21, label="vo small size", group=_STRIPES, minimum=1,
        help="Vo: median window for small stripes, pixels",
    )  # fmt: skip
    full_360: bool = option(
        False, label="360-degree scan", group=_360, advanced=True,
        help="convert a 360-degree offset-axis scan to 180 degrees before reconstructing",
    )  # fmt: skip
    overlap: float | None = option(
        None, label="Overlap (columns)", group=_360, minimum=0, exclusive_minimum=True,
        advanced=True, help="overlap of the two halves, columns; unset: found from the data",
    )  # fmt: skip
    rotation: str = option(
        "auto", label="Axis side", group=_360, choices=ROTATIONS, advanced=True,
        help="side of the rotation axis in a 360-degree scan (auto = found from the data)",
    )  # fmt: skip
    # centre and reconstruction
    center: float | None = option(
        None, label="Centre (column)", group=_CENTER, minimum=0,
        help="rotation axis, column of the sinogram (TomoPy's convention; of the stitched "
        "sinogram for a 360-degree scan); unset: found with the centre method",
    )  # fmt: skip
    center_method: str = option(
        "vo", label="Centre method", group=_CENTER, choices=CENTER_METHODS,
        help="how the centre is found: vo (Vo), pc (phase correlation), nm (Nelder-Mead)",
    )  # fmt: skip
    center_row: int | None = option(
        None, label="Centre row", group=_CENTER, minimum=0,
        help="detector row the centre is found on; unset: the middle of the rows",
    )  # fmt: skip
    filter_name: str = option(
        "butterworth", label="Filter", group=_RECON, choices=FILTERS,
        help="reconstruction filter (TomoPy's names)",
    )  # fmt: skip
    filter_par: tuple[float, float] | None = option(
        None, label="Filter parameters", group=_RECON,
        help="two filter parameters; unset: the filter's default (Butterworth 0.25 2)",
    )  # fmt: skip
    pad: bool = option(True, label="Pad sinograms", group=_RECON, help="pad before filtering")
    circ_mask: bool = option(
        True, label="Circular mask", group=_RECON,
        help="set pixels outside the reconstruction circle to zero",
    )  # fmt: skip
    algorithm: str = option(
        "gridrec", label="Algorithm", group=_RECON, choices=ALGORITHMS, advanced=True,
        help="filtered back-projection algorithm (passed on to TomoPy with that back-end)",
    )  # fmt: skip
    backend: str = option(
        "auto", label="Back-end", group=_RECON, choices=BACKENDS, advanced=True,
        help="reconstruction back-end (auto: this project's gridding reconstructor)",
    )  # fmt: skip
    # post-processing of the slices
    ring_removal: bool = option(
        False, label="Ring removal", group=_RINGS, advanced=True,
        help="polar ring removal on the reconstructed slices (TomoPy's remove_ring)",
    )  # fmt: skip
    ring_thresh: float = option(
        300.0, label="Ring threshold", group=_RINGS, minimum=0, exclusive_minimum=True,
        advanced=True, help="largest ring amplitude removed, slice units",
    )  # fmt: skip
    ring_thresh_max: float = option(
        300.0, label="Ring clip max", group=_RINGS, advanced=True,
        help="upper clipping value before ring detection, slice units",
    )  # fmt: skip
    ring_thresh_min: float = option(
        -100.0, label="Ring clip min", group=_RINGS, advanced=True,
        help="lower clipping value before ring detection, slice units",
    )  # fmt: skip
    ring_theta_min: float = option(
        30.0, label="Ring arc (deg)", group=_RINGS, minimum=0, exclusive_minimum=True,
        advanced=True, help="half arc used by the ring filter, degrees",
    )  # fmt: skip
    ring_width: int = option(
        30, label="Ring width (px)", group=_RINGS, minimum=1, advanced=True,
        help="widest ring removed, pixels",
    )  # fmt: skip
    crop: tuple[int, int, int, int] | None = option(
        None, label="Crop T B L R", group=_OUTPUT, minimum=0, advanced=True,
        help="margins TOP BOTTOM LEFT RIGHT cut from each slice, pixels; unset: none",
    )  # fmt: skip
    bilateral: bool = option(
        False, label="Bilateral filter", group=_OUTPUT, advanced=True,
        help="bilateral filter on each reconstructed slice",
    )  # fmt: skip
    bilateral_sigma_color: float | None = option(
        None, label="Bilateral colour sigma", group=_OUTPUT, minimum=0,
        exclusive_minimum=True, advanced=True,
        help="bilateral intensity sigma, slice units; unset: from the slice's spread",
    )  # fmt: skip
    bilateral_sigma_spatial: float = option(
        1.0, label="Bilateral spatial sigma", group=_OUTPUT, minimum=0,
        exclusive_minimum=True, advanced=True, help="bilateral spatial sigma, pixels",
    )  # fmt: skip
    uint8_range: tuple[float, float] | None = option(
        None, label="8-bit range", group=_OUTPUT, advanced=True,
        help="cast the output to 8 bits mapping LOW to 0 and HIGH to 255; unset: float32",
    )  # fmt: skip

    def __post_init__(self) -> None:
        check_options(self)
        if self.rows is not None and not self.rows[0] < self.rows[1]:
            raise ValueError(f"rows: expected START < END, got {self.rows[0]} {self.rows[1]}")
        if self.uint8_range is not None and not self.uint8_range[0] < self.uint8_range[1]:
            raise ValueError(
                f"uint8_range: expected LOW < HIGH, got {self.uint8_range[0]} {self.uint8_range[1]}"
            )
        if not self.ring_thresh_min < self.ring_thresh_max:
            raise ValueError(
                f"ring_thresh_min: expected less than ring_thresh_max {self.ring_thresh_max}, "
                f"got {self.ring_thresh_min}"
            )
        if self.beam_hardening is not None and not 1 <= len(self.beam_hardening) <= 6:
            raise ValueError(
                f"beam_hardening: expected 1 to 6 coefficients a0 .. a5, "
                f"got {len(self.beam_hardening)}"
            )
        if not self.fw_wname:
            raise ValueError("fw_wname: expected a wavelet name, got ''")
        if self.ignore_projections == ():
            object.__setattr__(self, "ignore_projections", None)  # files written before
        if self.ignore_projections and len(set(self.ignore_projections)) != len(
            self.ignore_projections
        ):
            raise ValueError(
                f"ignore_projections: expected distinct indices, got {self.ignore_projections}"
            )

    # -- conversion -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return the options as a JSON-friendly dict (tuples become lists).

        Returns
        -------
        dict
            One entry per option, plus ``"detcal_tomo_options"`` (the format version).
        """
        return {"detcal_tomo_options": _OPTIONS_VERSION, **options_dict(self)}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ReconOptions:
        """Build options from a dict such as :meth:`to_dict` returns.

        Parameters
        ----------
        values : dict
            Option names and values; ``"detcal_tomo_options"`` (the version) and ``"run"``
            (what a run recorded) are read past.

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
                f"detcal_tomo_options: version {version!r} is not supported "
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
        return json.dumps(values, indent=2)

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

        Raises
        ------
        ValueError
            Not JSON, not an object, or a bad option.
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

    Raises
    ------
    FileNotFoundError
        No such file.
    ValueError
        Not JSON or a bad option; the message names the file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"options file {str(path)!r} does not exist")
    try:
        return ReconOptions.from_json(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ValueError(f"options file {str(path)!r} is not valid JSON: {exc}") from None
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"options file {str(path)!r}: {exc}") from None
