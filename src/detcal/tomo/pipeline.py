"""A whole tomography run: raw DXchange/Zarr scan in, reconstructed volume out, streaming.

The run follows alsmicroct's ``recon(filename, ...)``: outliers, normalisation, phase
retrieval, logarithm, beam hardening, stripe removal, 360-to-180 conversion, centre, filtered
reconstruction, ring removal, crop, bilateral filter and 8-bit cast. Every step is lazy: the
projections are opened as a dask array chunked in slabs of detector rows (all angles, all
columns), each step maps over those slabs, and :func:`detcal.io.save_array` computes and writes
the volume slab by slab, so a scan stored in projection order is never loaded whole and never
re-ordered through a temporary file. Only the centre search computes a few rows up front.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dask.array as da
import numpy as np

from detcal.io import atomic_output, check_output, list_keys, open_array, save_array
from detcal.progress import ProgressCallback
from detcal.tomo import prep
from detcal.tomo.center import center_sweep, find_center
from detcal.tomo.options import ReconOptions
from detcal.tomo.recon import recon

#: DXchange dataset names, looked up under ``exchange/`` first, then at the top level.
_NAMES = {
    "projections": "data",
    "flats": "data_white",
    "darks": "data_dark",
    "theta": "theta",
}

#: Transmission given to non-finite or non-positive normalised pixels (finite after -log).
_INVALID_TRANSMISSION = 1e-6


@dataclass
class TomoDataset:
    """A raw scan, opened lazily.

    Attributes
    ----------
    projections : dask.array.Array, (angle, row, col)
        Raw projections.
    flats, darks : dask.array.Array or None, (n, row, col)
        Open-beam and dark images.
    theta : numpy.ndarray, (angle,)
        Angles in radians.
    path : pathlib.Path or None
        File the scan came from.
    """

    projections: da.Array
    flats: da.Array | None
    darks: da.Array | None
    theta: np.ndarray
    path: Path | None = None


@dataclass
class PreparedScan:
    """Prepared sinograms, lazy, ready for the centre search and the reconstruction.

    Attributes
    ----------
    tomo : dask.array.Array, (angle, row, col)
        Attenuation sinograms of the selected rows, chunked in slabs of rows.
    theta : numpy.ndarray
        Angles (radians) of the kept projections, offset applied.
    first_row : int
        Detector row of ``tomo[:, 0]``.
    overlap : float or None
        Overlap used by the 360-to-180 conversion (None for a 180-degree scan).
    rotation : str or None
        Side of the axis used by the 360-to-180 conversion.
    axis_360 : float or None
        Axis column of the converted sinograms of a 360-degree scan, from the overlap.
    """

    tomo: da.Array
    theta: np.ndarray
    first_row: int
    overlap: float | None = None
    rotation: str | None = None
    axis_360: float | None = None


def open_dataset(
    path: str | os.PathLike,
    *,
    slab: int = 8,
    theta_units: str = "deg",
    angle_range: float = 180.0,
) -> TomoDataset:
    """Open a DXchange HDF5 file or a Zarr group of the same layout, lazily.

    Parameters
    ----------
    path : str or path-like
        ``.h5``/``.hdf5`` with ``exchange/data``, ``exchange/data_white``,
        ``exchange/data_dark`` and ``exchange/theta`` (or the same names at the top level,
        which is also how a Zarr group is read).
    slab : int
        Rows per chunk of the returned projections.
    theta_units : {"deg", "rad"}
        Units of the stored angles (DXchange stores degrees).
    angle_range : float
        Degrees covered when the file has no angles (evenly spaced, end excluded).

    Returns
    -------
    TomoDataset
        Projections, flats and darks as dask arrays; angles in radians.

    Raises
    ------
    FileNotFoundError
        If ``path`` does not exist.
    ValueError
        If the file has no projections, or an array has the wrong number of dimensions.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = open_dataset(real_data_path() / "tooth.h5")
    >>> scan.projections.shape, round(float(scan.theta[1]), 4)
    ((181, 2, 640), 0.0174)
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"input_path {str(path)!r} does not exist")
    if path.suffix.lower() not in (".h5", ".hdf5", ".hdf", ".nxs", ".zarr"):
        raise ValueError(
            f"input_path must be a DXchange HDF5 file (.h5, .hdf5) or a Zarr group (.zarr), "
            f"got {path.name!r}"
        )
    keys = set(list_keys(path))

    def find(name: str) -> str | None:
        for key in (f"exchange/{name}", name):
            if key in keys:
                return key
        return None

    data_key = find(_NAMES["projections"])
    if data_key is None:
        raise ValueError(
            f"input_path {str(path)!r} holds no projections: expected exchange/data "
            f"(DXchange) or data; found {sorted(keys)}"
        )
    proj = open_array(path, key=data_key)
    if proj.ndim != 3:
        raise ValueError(f"{data_key} must be 3D (angle, row, col), got shape {tuple(proj.shape)}")
    proj = proj.rechunk((-1, max(1, int(slab)), -1))
    refs = {}
    for name in ("flats", "darks"):
        key = find(_NAMES[name])
        ref = None if key is None else open_array(path, key=key)
        refs[name] = ref[None] if ref is not None and ref.ndim == 2 else ref
    theta_key = find(_NAMES["theta"])
    if theta_key is None:
        n = proj.shape[0]
        theta = np.arange(n) * (math.radians(angle_range) / n)
    else:
        theta = np.asarray(open_array(path, key=theta_key).compute(), dtype=np.float64)
        theta = theta.reshape(-1)
        if theta_units == "deg":
            theta = np.deg2rad(theta)
    return TomoDataset(proj, refs["flats"], refs["darks"], theta, path)


def dataset_from_arrays(
    projections: Any,
    flats: Any,
    darks: Any,
    theta: Any,
    *,
    slab: int = 8,
) -> TomoDataset:
    """Wrap in-memory (or dask) arrays as a lazy scan, like :func:`open_dataset` does a file.

    Parameters
    ----------
    projections : array-like, (angle, row, col)
        Raw projections.
    flats, darks : array-like, (row, col) or (n, row, col)
        Open-beam and dark images.
    theta : array-like, (angle,)
        Angles in radians.
    slab : int
        Rows per chunk of the projections.

    Returns
    -------
    TomoDataset
        The scan, with no file path.

    Raises
    ------
    ValueError
        If the projections are not 3D.

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> s = make_tomography(n_angles=30, n_rows=2, n_cols=32)
    >>> dataset_from_arrays(s.projections, s.flats, s.darks, s.theta).projections.chunks[1]
    (2,)
    """
    proj = da.asarray(projections)
    if proj.ndim != 3:
        raise ValueError(f"projections must be 3D (angle, row, col), got shape {tuple(proj.shape)}")
    refs = []
    for ref in (flats, darks):
        ref = da.asarray(ref)
        refs.append(ref[None] if ref.ndim == 2 else ref)
    theta = np.asarray(theta, dtype=np.float64).reshape(-1)
    return TomoDataset(proj.rechunk((-1, max(1, int(slab)), -1)), refs[0], refs[1], theta)


def write_dxchange(
    path: str | os.PathLike,
    projections: Any,
    flats: Any,
    darks: Any,
    theta: Any,
    *,
    overwrite: bool = False,
) -> Path:
    """Write a raw scan as a DXchange HDF5 file (angles stored in degrees), atomically.

    Parameters
    ----------
    path : str or path-like
        Destination ``.h5``/``.hdf5`` file.
    projections : array-like, (angle, row, col)
        Raw projections (``exchange/data``).
    flats, darks : array-like, (n, row, col)
        Open-beam and dark images (``exchange/data_white``, ``exchange/data_dark``).
    theta : array-like, (angle,)
        Angles in radians (written in degrees, the DXchange convention).
    overwrite : bool
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Wrong suffix or dimensions.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from detcal.sample_data.tomography import make_tomography
    >>> s = make_tomography(n_angles=30, n_rows=2, n_cols=32)
    >>> out = write_dxchange(tempfile.mkdtemp() + "/scan.h5", s.projections, s.flats,
    ...                      s.darks, s.theta)
    >>> open_dataset(out).projections.shape
    (30, 2, 32)
    """
    import h5py

    path = Path(path)
    if path.suffix.lower() not in (".h5", ".hdf5"):
        raise ValueError(f"path must end in .h5 or .hdf5, got {path.name!r}")
    check_output(path, overwrite=overwrite)
    arrays = {
        "data": np.asarray(projections),
        "data_white": np.asarray(flats),
        "data_dark": np.asarray(darks),
    }
    for name, array in arrays.items():
        if array.ndim != 3:
            raise ValueError(f"{name} must be 3D (n, row, col), got shape {array.shape}")
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with h5py.File(tmp, "w") as handle:
            group = handle.create_group("exchange")
            for name, array in arrays.items():
                group.create_dataset(name, data=array)
            group.create_dataset("theta", data=np.rad2deg(np.asarray(theta, dtype=np.float64)))
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def _theta_span(theta: np.ndarray) -> float:
    """Angular range covered by the projections (the step counted once), in radians."""
    if theta.size < 2:
        return 0.0
    step = float(np.median(np.abs(np.diff(theta))))
    return float(theta.max() - theta.min()) + step


def validate_dataset(dataset: TomoDataset, options: ReconOptions) -> None:
    """Check a scan against the options before anything is computed or written.

    Parameters
    ----------
    dataset : TomoDataset
        The opened scan.
    options : ReconOptions
        The run's options.

    Raises
    ------
    ValueError
        Angles not matching the projections, flats or darks of another shape, rows, ignored
        projections, centre row or crop outside the data, a 180-degree scan passed as 360,
        or a given centre outside the detector.

    Warns
    -----
    UserWarning
        The angles span about 360 degrees but ``full_360`` is off.
    """
    proj = dataset.projections
    n_angles, n_rows, n_cols = proj.shape
    if dataset.theta.shape != (n_angles,):
        raise ValueError(
            f"theta has {dataset.theta.size} angles but the projections have {n_angles} "
            f"(projections shape {tuple(proj.shape)})"
        )
    if not np.all(np.isfinite(dataset.theta)):
        raise ValueError("theta holds NaN or infinite angles")
    for name in ("flats", "darks"):
        ref = getattr(dataset, name)
        if ref is None:
            continue
        if ref.ndim != 3 or ref.shape[1:] != (n_rows, n_cols):
            raise ValueError(
                f"{name} must be (n, {n_rows}, {n_cols}) like the projections' (row, col), "
                f"got shape {tuple(ref.shape)}"
            )
    if dataset.flats is None or dataset.darks is None:
        raise ValueError(
            "the scan needs flats (exchange/data_white) and darks (exchange/data_dark) "
            "to be normalised"
        )
    start, end = options.rows if options.rows is not None else (0, n_rows)
    if end > n_rows:
        raise ValueError(f"rows {options.rows} go beyond the detector's {n_rows} rows")
    if options.center_row is not None and not start <= options.center_row < end:
        raise ValueError(
            f"center_row {options.center_row} is outside the reconstructed rows {start}:{end}"
        )
    bad = [i for i in options.ignore_projections if i >= n_angles]
    if bad:
        raise ValueError(
            f"ignore_projections {bad} are beyond the {n_angles} projections of the scan"
        )
    if len(set(options.ignore_projections)) >= n_angles - 1:
        raise ValueError("ignore_projections would leave fewer than 2 projections")
    span = math.degrees(_theta_span(dataset.theta))
    if options.full_360 and span < 270.0:
        raise ValueError(
            f"full_360 is on but theta spans {span:.1f} degrees; a 360-degree scan is needed"
        )
    if not options.full_360 and span > 270.0:
        warnings.warn(
            f"theta spans {span:.1f} degrees: this looks like a 360-degree scan; if the "
            "rotation axis is off-centre (half acquisition) pass full_360=True (--360)",
            UserWarning,
            stacklevel=3,
        )
    width = n_cols
    if options.full_360 and options.overlap is not None:
        if options.overlap >= n_cols:
            raise ValueError(
                f"overlap {options.overlap} must be smaller than the {n_cols} detector columns"
            )
        width = 2 * n_cols - int(round(options.overlap))
    if options.center is not None and not 0.0 <= options.center <= width - 1:
        raise ValueError(
            f"center {options.center} is outside the detector: expected a column in "
            f"[0, {width - 1}] of the {width}-column sinogram"
        )
    if options.crop is not None:
        top, bottom, left, right = options.crop
        if top + bottom >= width or left + right >= width:
            raise ValueError(f"crop {options.crop} leaves nothing of the {width} x {width} slices")


def prepare(dataset: TomoDataset, options: ReconOptions | None = None) -> PreparedScan:
    """Build the lazy preparation of a scan: from raw counts to attenuation sinograms.

    Parameters
    ----------
    dataset : TomoDataset
        The opened scan (see :func:`open_dataset`).
    options : ReconOptions, optional
        Preparation options (default: :class:`ReconOptions` defaults).

    Returns
    -------
    PreparedScan
        Lazy sinograms of the selected rows, chunked in slabs of ``options.slab`` rows, and
        their angles.

    Raises
    ------
    ValueError
        See :func:`validate_dataset`.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> scan.tomo.shape
    (181, 2, 640)
    """
    options = options or ReconOptions()
    validate_dataset(dataset, options)
    proj, theta = dataset.projections, dataset.theta
    n_rows = proj.shape[1]
    if options.ignore_projections:
        proj, theta = prep.drop_projections(proj, theta, options.ignore_projections)
    theta = prep.offset_angles(theta, options.angle_offset)
    start, end = options.rows if options.rows is not None else (0, n_rows)
    slab = (-1, options.slab, -1)
    tomo = proj[:, start:end].rechunk(slab)
    flats = dataset.flats[:, start:end]
    darks = dataset.darks[:, start:end]
    if options.outlier_diff is not None:
        tomo = _remove_outliers(tomo, options)
        if options.outlier_mode == "2d":  # as alsmicroct: flats and darks too, frame by frame
            flats, darks = _remove_outliers(flats, options), _remove_outliers(darks, options)
    # a non-positive transmission (counts at or below the dark) would give NaN after the
    # logarithm, and one NaN spreads over a whole slice in the filtered backprojection
    tomo = prep.normalize(
        tomo, flats, darks, cutoff=options.normalize_cutoff, out_invalid=_INVALID_TRANSMISSION
    )
    if options.phase:
        tomo = prep.retrieve_phase(
            tomo,
            pixel_size=options.pixel_size,
            dist=options.dist,
            energy=options.energy,
            alpha=options.alpha,
            pad=options.phase_pad,
        )
    tomo = prep.minus_log(tomo)
    if options.beam_hardening is not None:
        tomo = prep.beam_hardening(tomo, options.beam_hardening)
    tomo = _remove_stripes(tomo.rechunk(slab), options)
    overlap = rotation = axis = None
    if options.full_360:
        tomo, theta, overlap, rotation, axis = _to_180(tomo, theta, options)
    return PreparedScan(tomo.rechunk(slab), theta, start, overlap, rotation, axis)


def _remove_outliers(data: da.Array, options: ReconOptions) -> da.Array:
    """Outlier removal: 2D median per projection, or 1D median along the angle axis."""
    return prep.remove_outlier(
        data, options.outlier_diff, size=options.outlier_size, axis=0, mode=options.outlier_mode
    )


def _remove_stripes(tomo: da.Array, options: ReconOptions) -> da.Array:
    """Apply the chosen stripe removal to every sinogram."""
    if options.stripe == "fw":
        return prep.remove_stripe_fw(
            tomo,
            level=options.fw_level,
            wname=options.fw_wname,
            sigma=options.fw_sigma,
            pad=options.fw_pad,
        )
    if options.stripe == "ti":
        return prep.remove_stripe_ti(tomo, nblock=options.ti_nblock, alpha=options.ti_alpha)
    if options.stripe == "sf":
        return prep.remove_stripe_sf(tomo, size=options.sf_size)
    if options.stripe == "vo":
        return prep.remove_all_stripe(
            tomo, snr=options.vo_snr, la_size=options.vo_la_size, sm_size=options.vo_sm_size
        )
    return tomo


def _to_180(
    tomo: da.Array, theta: np.ndarray, options: ReconOptions
) -> tuple[da.Array, np.ndarray, float, str, float]:
    """Convert a 360-degree scan to 180 degrees, finding overlap and side when not given.

    Returns the converted sinograms, their angles, the overlap and side used, and the axis
    column in the converted sinogram.
    """
    overlap, rotation = options.overlap, options.rotation
    if overlap is None or rotation == "auto":
        row = _center_row(tomo.shape[1], options, 0)
        sino = np.asarray(tomo[:, row : row + 1].compute())
        found_overlap, found_side = prep.find_overlap(sino)
        overlap = found_overlap if overlap is None else overlap
        rotation = found_side if rotation == "auto" else rotation
    n_cols = tomo.shape[2]
    out = prep.sino_360_to_180(tomo, overlap=overlap, rotation=rotation)
    # the axis sits (overlap - 1) / 2 from the detector edge on its side (sub-pixel even
    # though the stitch itself uses a whole number of columns)
    axis = (overlap - 1) / 2
    center = n_cols - round(overlap) + axis if rotation == "left" else n_cols - 1 - axis
    return out, theta[: out.shape[0]], float(overlap), str(rotation), float(center)


def _center_row(n_rows: int, options: ReconOptions, first_row: int) -> int:
    """Index (within the prepared rows) of the row used for the centre search."""
    if options.center_row is None:
        return n_rows // 2
    return int(options.center_row) - first_row


def find_scan_center(prepared: PreparedScan, options: ReconOptions | None = None) -> float:
    """Find the rotation centre of prepared sinograms (computing only a few rows).

    For a 360-degree scan converted to 180 degrees the centre is the axis found with the
    overlap (see :func:`detcal.tomo.prep.find_overlap`); otherwise ``center_method`` runs on
    the sinogram of ``center_row``.

    Parameters
    ----------
    prepared : PreparedScan
        Output of :func:`prepare`.
    options : ReconOptions, optional
        ``center_method`` and ``center_row`` are used.

    Returns
    -------
    float
        Centre as a column index of the prepared sinograms (TomoPy's convention).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> 280 < find_scan_center(scan) < 340
    True
    """
    options = options or ReconOptions()
    if prepared.axis_360 is not None:
        return prepared.axis_360
    n_rows = prepared.tomo.shape[1]
    row = _center_row(n_rows, options, prepared.first_row)
    half = 0 if options.center_method in ("vo", "nm") else 4
    lo, hi = max(0, row - half), min(n_rows, row + half + 1)
    block = np.asarray(prepared.tomo[:, lo:hi].compute())
    return float(find_center(block, prepared.theta, method=options.center_method, ind=row - lo))


def reconstruct_volume(
    prepared: PreparedScan, center: float, options: ReconOptions | None = None
) -> da.Array:
    """Reconstruct prepared sinograms lazily and apply the post-processing options.

    Parameters
    ----------
    prepared : PreparedScan
        Output of :func:`prepare`.
    center : float
        Rotation centre (column of the prepared sinograms).
    options : ReconOptions, optional
        Reconstruction and post-processing options.

    Returns
    -------
    dask.array.Array, (row, N, N)
        The volume, chunked in slabs of rows (float32, or uint8 with ``uint8_range``).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> reconstruct_volume(scan, 300.0).shape
    (2, 640, 640)
    """
    options = options or ReconOptions()
    width = prepared.tomo.shape[2]
    if not 0.0 <= center <= width - 1:
        raise ValueError(
            f"center {center} is outside the detector: expected a column in [0, {width - 1}]"
        )
    rec = recon(
        prepared.tomo,
        prepared.theta,
        center=center,
        algorithm=options.algorithm,
        filter_name=options.filter_name,
        filter_par=options.filter_par,
        pad=options.pad,
        circ_mask=options.circ_mask,
        backend=options.backend,
        chunk_rows=options.slab,
    )
    if options.ring_removal:
        rec = prep.remove_ring(
            rec,
            thresh=options.ring_thresh,
            thresh_max=options.ring_thresh_max,
            thresh_min=options.ring_thresh_min,
            theta_min=options.ring_theta_min,
            rwidth=options.ring_width,
        )
    if options.crop is not None:
        top, bottom, left, right = options.crop
        rec = prep.crop(rec, top=top, bottom=bottom, left=left, right=right)
    if options.bilateral:
        rec = prep.bilateral(
            rec,
            sigma_color=options.bilateral_sigma_color,
            sigma_spatial=options.bilateral_sigma_spatial,
        )
    if options.uint8_range is not None:
        low, high = options.uint8_range
        rec = prep.cast_to_uint8(rec, low=low, high=high)
    return rec


def _resolve_options(options: ReconOptions | dict | None, kwargs: dict[str, Any]) -> ReconOptions:
    """Merge an options object (or dict) with keyword options."""
    if options is None:
        base = ReconOptions()
    elif isinstance(options, ReconOptions):
        base = options
    elif isinstance(options, dict):
        base = ReconOptions.from_dict(options)
    else:
        raise TypeError(f"options must be ReconOptions, a dict or None, got {type(options)}")
    return base.replace(**kwargs) if kwargs else base


def sidecar_path(output_path: str | os.PathLike) -> Path:
    """Return the path of the JSON saved beside an output (``<output>.json``).

    Parameters
    ----------
    output_path : str or path-like
        The reconstructed volume's path.

    Returns
    -------
    pathlib.Path
        ``output_path`` with ``.json`` appended.

    Examples
    --------
    >>> sidecar_path("rec.zarr").name
    'rec.zarr.json'
    """
    output = Path(output_path)
    return output.with_name(output.name + ".json")


def reconstruct_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    options: ReconOptions | dict | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    **kwargs: Any,
) -> Path:
    """Reconstruct a whole scan from a DXchange/HDF5 or Zarr file into a volume file.

    The projections are opened lazily, prepared and reconstructed in slabs of rows and
    written slab by slab; the options (and the centre used) are saved as JSON beside the
    output, at ``<output>.json``. Everything is checked before anything is written.

    Parameters
    ----------
    input_path : str or path-like
        DXchange HDF5 (``exchange/data``, ``data_white``, ``data_dark``, ``theta`` in
        degrees) or a Zarr group with the same names.
    output_path : str or path-like
        ``.zarr`` (OME-Zarr), ``.h5``/``.hdf5``, ``.tif``/``.tiff`` or ``.npy``.
    options : ReconOptions or dict, optional
        Run options; keyword arguments (any :class:`ReconOptions` field) override them.
    progress : callable, optional
        ``progress(done, total)`` while the volume is computed and written.
    overwrite : bool
        Replace an existing output.
    **kwargs
        Options, e.g. ``stripe="fw"``, ``center=301.5``, ``rows=(100, 200)``.

    Returns
    -------
    pathlib.Path
        The output path.

    Raises
    ------
    ValueError
        Bad options or data (see :func:`validate_dataset`), unknown output format.
    FileExistsError
        If the output exists and ``overwrite`` is False.
    FileNotFoundError
        If the input or the output's folder does not exist.

    References
    ----------
    .. [1] D. Gürsoy et al., "TomoPy: a framework for the analysis of synchrotron
       tomographic data", J. Synchrotron Rad. 21, 1188-1193 (2014).
       https://doi.org/10.1107/S1600577514013939

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> out = reconstruct_dataset(real_data_path() / "tooth.h5", "rec.zarr",
    ...                           stripe="fw")  # doctest: +SKIP
    """
    opts = _resolve_options(options, kwargs)
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    dataset = open_dataset(
        input_path, slab=opts.slab, theta_units=opts.theta_units, angle_range=opts.angle_range
    )
    prepared = prepare(dataset, opts)
    return write_reconstruction(
        prepared,
        output,
        options=opts,
        overwrite=overwrite,
        progress=progress,
        source=dataset,
    )


def write_reconstruction(
    prepared: PreparedScan,
    output_path: str | os.PathLike,
    *,
    options: ReconOptions | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    source: TomoDataset | None = None,
) -> Path:
    """Reconstruct prepared sinograms into a file, streaming, with the options JSON beside it.

    Parameters
    ----------
    prepared : PreparedScan
        Output of :func:`prepare`.
    output_path : str or path-like
        ``.zarr`` (OME-Zarr), ``.h5``/``.hdf5``, ``.tif``/``.tiff`` or ``.npy``.
    options : ReconOptions, optional
        Centre, reconstruction and post-processing options; ``options.center`` None finds the
        centre (see :func:`find_scan_center`).
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` while the volume is computed and written; it may raise
        (e.g. :class:`detcal.progress.StepCancelled`) to stop, leaving nothing written.
    source : TomoDataset, optional
        The scan the sinograms came from (its path and shape go into the JSON).

    Returns
    -------
    pathlib.Path
        The output path; ``<output>.json`` holds the options and, under ``"run"``, the centre
        used.

    Raises
    ------
    ValueError
        Unknown output format or a centre outside the sinograms.
    FileExistsError
        If the output exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> from detcal.sample_data import real_data_path
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> out = write_reconstruction(scan, tempfile.mkdtemp() + "/rec.npy",
    ...                            options=ReconOptions(center=296.0))
    >>> sidecar_path(out).exists()
    True
    """
    opts = options or ReconOptions()
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    center = opts.center if opts.center is not None else find_scan_center(prepared, opts)
    volume = reconstruct_volume(prepared, center, opts)
    run = {
        "input": None,
        "output": str(output.resolve()),
        "center": float(center),
        "center_found": opts.center is None,
        "overlap": prepared.overlap,
        "rotation": prepared.rotation,
        "projections_shape": None,
        "output_shape": list(volume.shape),
        "output_dtype": str(volume.dtype),
    }
    if source is not None:
        run["projections_shape"] = list(source.projections.shape)
        if source.path is not None:
            run["input"] = str(Path(source.path).resolve())
    attrs = {"tomo_options": opts.to_dict(), "run": run}
    save_array(volume, output, overwrite=overwrite, progress=progress, attrs=attrs)
    with atomic_output(sidecar_path(output)) as tmp:
        tmp.write_text(opts.to_json(run), encoding="utf-8")
    return output


def find_dataset_center(
    input_path: str | os.PathLike,
    *,
    options: ReconOptions | dict | None = None,
    **kwargs: Any,
) -> float:
    """Find the rotation centre of a scan file after its preparation.

    Parameters
    ----------
    input_path : str or path-like
        DXchange HDF5 or Zarr scan.
    options : ReconOptions or dict, optional
        Preparation and centre options (``center_method``, ``center_row``, ...).
    **kwargs
        Options overriding ``options``.

    Returns
    -------
    float
        Centre column (TomoPy's convention), of the converted sinogram for 360-degree scans.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> c = find_dataset_center(real_data_path() / "tooth.h5", center_method="pc")
    >>> 280 < c < 340
    True
    """
    opts = _resolve_options(options, kwargs)
    dataset = open_dataset(
        input_path, slab=opts.slab, theta_units=opts.theta_units, angle_range=opts.angle_range
    )
    return find_scan_center(prepare(dataset, opts), opts)


def sweep_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    centers: np.ndarray,
    row: int | None = None,
    options: ReconOptions | dict | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
    **kwargs: Any,
) -> Path:
    """Reconstruct one row for a range of candidate centres and save the stack.

    Parameters
    ----------
    input_path : str or path-like
        DXchange HDF5 or Zarr scan.
    output_path : str or path-like
        Output file (``.zarr``, ``.h5``, ``.tif``, ``.npy``); the centres are saved beside it
        in ``<output>.json``.
    centers : array-like of float
        Candidate centres.
    row : int, optional
        Detector row (default: the middle of the selected rows).
    options : ReconOptions or dict, optional
        Preparation and filter options.
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` while the stack is written.
    **kwargs
        Options overriding ``options``.

    Returns
    -------
    pathlib.Path
        The output path.

    Raises
    ------
    ValueError
        No centres, or a centre outside the detector.

    Examples
    --------
    >>> import numpy as np
    >>> from detcal.sample_data import real_data_path
    >>> sweep_dataset(real_data_path() / "tooth.h5", "sweep.zarr",
    ...               centers=np.arange(290, 310, 0.5))  # doctest: +SKIP
    """
    opts = _resolve_options(options, kwargs)
    if row is not None:
        opts = opts.replace(center_row=int(row))
    centers = np.atleast_1d(np.asarray(centers, dtype=np.float64))
    if centers.ndim != 1 or centers.size == 0:
        raise ValueError(f"centers must be a non-empty list of columns, got {centers!r}")
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    dataset = open_dataset(
        input_path, slab=opts.slab, theta_units=opts.theta_units, angle_range=opts.angle_range
    )
    prepared = prepare(dataset, opts)
    width = prepared.tomo.shape[2]
    if centers.min() < 0 or centers.max() > width - 1:
        raise ValueError(
            f"centers must lie in [0, {width - 1}] (the sinogram's columns), got "
            f"{centers.min()}..{centers.max()}"
        )
    index = _center_row(prepared.tomo.shape[1], opts, prepared.first_row)
    sino = np.asarray(prepared.tomo[:, index : index + 1].compute())
    stack = center_sweep(
        sino,
        prepared.theta,
        centers=centers,
        ind=0,
        filter_name=opts.filter_name,
        filter_par=opts.filter_par,
        pad=opts.pad,
    )
    save_array(stack, output, overwrite=overwrite, progress=progress)
    run = {
        "input": str(Path(input_path).resolve()),
        "row": prepared.first_row + index,
        "centers": centers.tolist(),
    }
    with atomic_output(sidecar_path(output)) as tmp:
        tmp.write_text(opts.to_json(run), encoding="utf-8")
    return output
