"""The lazy graph of a run: raw counts -> prepared sinograms -> reconstructed slices.

The steps follow alsmicroct's ``recon(filename, ...)``: outliers, normalisation, phase
retrieval, logarithm, beam hardening, stripe removal, 360-to-180 conversion, then filtered
reconstruction, ring removal, crop, bilateral filter and 8-bit cast. Nothing is computed here
(except the one row a 360-degree overlap search needs): the sinograms are chunked in slabs of
``options.slab`` rows, so computing a row computes its slab only, and writing the volume
streams it slab by slab.
"""

from __future__ import annotations

from dataclasses import dataclass

import dask.array as da
import numpy as np

from detcal.tomo import prep
from detcal.tomo.checks import validate_dataset
from detcal.tomo.dataset import TomoDataset
from detcal.tomo.options import ReconOptions
from detcal.tomo.recon import recon

#: Transmission given to non-finite or non-positive normalised pixels (finite after -log).
_INVALID_TRANSMISSION = 1e-6


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


def center_row_index(n_rows: int, options: ReconOptions, first_row: int) -> int:
    """Return the index, within prepared rows starting at ``first_row``, of the centre row.

    Examples
    --------
    >>> center_row_index(10, ReconOptions(center_row=7), 4)
    3
    >>> center_row_index(10, ReconOptions(), 4)
    5
    """
    if options.center_row is None:
        return n_rows // 2
    return int(options.center_row) - first_row


def prepare(dataset: TomoDataset, options: ReconOptions | None = None) -> PreparedScan:
    """Build the lazy preparation of a scan: from raw counts to attenuation sinograms.

    Parameters
    ----------
    dataset : TomoDataset
        The opened scan (see :func:`detcal.tomo.dataset.open_dataset`).
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
        See :func:`detcal.tomo.checks.validate_dataset`.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> scan.tomo.shape
    (181, 2, 640)
    """
    options = options or ReconOptions()
    validate_dataset(dataset, options)
    proj, theta = dataset.projections, dataset.theta
    start, end = options.rows if options.rows is not None else (0, proj.shape[1])
    proj, flats, darks = (a[:, start:end] for a in (proj, dataset.flats, dataset.darks))
    if options.ignore_projections:
        proj, theta = prep.drop_projections(proj, theta, options.ignore_projections)
    theta = prep.offset_angles(theta, options.angle_offset)
    slab = (-1, options.slab, -1)
    tomo = proj.rechunk(slab)
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
            tomo, pixel_size=options.pixel_size, dist=options.dist, energy=options.energy,
            alpha=options.alpha, pad=options.phase_pad,
        )  # fmt: skip
    tomo = prep.minus_log(tomo)
    if options.beam_hardening is not None:
        tomo = prep.beam_hardening(tomo, options.beam_hardening)
    tomo = _remove_stripes(tomo.rechunk(slab), options)
    overlap = rotation = axis = None
    if options.full_360:
        tomo, theta, overlap, rotation, axis = _to_180(tomo, theta, options, start)
    return PreparedScan(tomo.rechunk(slab), theta, start, overlap, rotation, axis)


def _remove_outliers(data: da.Array, options: ReconOptions) -> da.Array:
    """Outlier removal: 2D median per projection, or 1D median along the angle axis.

    The 1D median runs on each slab (all angles of a few rows), so one row reads its slab.
    """
    kwargs = {"size": options.outlier_size, "axis": 0, "mode": options.outlier_mode}
    if options.outlier_mode == "1d":
        whole = data.rechunk({0: -1})
        return whole.map_blocks(
            prep.remove_outlier, options.outlier_diff, **kwargs, dtype=np.float32
        )
    return prep.remove_outlier(data, options.outlier_diff, **kwargs)


def _remove_stripes(tomo: da.Array, options: ReconOptions) -> da.Array:
    """Apply the chosen stripe removal to every sinogram."""
    if options.stripe == "fw":
        return prep.remove_stripe_fw(
            tomo, level=options.fw_level, wname=options.fw_wname, sigma=options.fw_sigma,
            pad=options.fw_pad,
        )  # fmt: skip
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
    tomo: da.Array, theta: np.ndarray, options: ReconOptions, first_row: int
) -> tuple[da.Array, np.ndarray, float, str, float]:
    """Convert a 360-degree scan to 180 degrees, finding overlap and side when not given.

    Returns the converted sinograms, their angles, the overlap and side used, and the axis
    column in the converted sinogram.
    """
    overlap, rotation = options.overlap, options.rotation
    if overlap is None or rotation == "auto":
        row = center_row_index(tomo.shape[1], options, first_row)
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

    Raises
    ------
    ValueError
        A centre outside the sinograms.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> reconstruct_volume(scan, 300.0).shape
    (2, 640, 640)
    """
    options = options or ReconOptions()
    width = prepared.tomo.shape[2]
    if not 0.0 <= center <= width - 1:
        raise ValueError(
            f"center: {center} is outside the detector: expected a column in [0, {width - 1}]"
        )
    rec = recon(
        prepared.tomo, prepared.theta, center=center, algorithm=options.algorithm,
        filter_name=options.filter_name, filter_par=options.filter_par, pad=options.pad,
        circ_mask=options.circ_mask, backend=options.backend, chunk_rows=options.slab,
    )  # fmt: skip
    return postprocess(rec, options)


def postprocess(rec, options: ReconOptions):
    """Apply ring removal, crop, bilateral filter and 8-bit cast to reconstructed slices.

    Parameters
    ----------
    rec : numpy.ndarray or dask.array.Array, (row, N, N)
        Reconstructed slices.
    options : ReconOptions
        The post-processing options.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The slices, same kind as ``rec``.

    Examples
    --------
    >>> postprocess(np.zeros((1, 8, 8)), ReconOptions(crop=(1, 1, 2, 2))).shape
    (1, 6, 4)
    """
    if options.ring_removal:
        rec = prep.remove_ring(
            rec, thresh=options.ring_thresh, thresh_max=options.ring_thresh_max,
            thresh_min=options.ring_thresh_min, theta_min=options.ring_theta_min,
            rwidth=options.ring_width,
        )  # fmt: skip
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
