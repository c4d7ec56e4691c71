"""Looking at one detector row: its prepared sinogram, its slice, a centre sweep, contrast.

What the Tomography widget shows while the user picks parameters, as core functions: each reads
only the band of rows the row needs (the row itself; plus the neighbours a 2D outlier median or
the phase-retrieval blur reach, and the 4 neighbours on each side the ``"pc"`` centre method
uses), so looking at one row of a large projection-ordered scan reads about that row's share of
the file. Each takes ``progress(done, total)`` so it can run in a background worker: the
reading and the slices are computed with :func:`detcal.progress.compute_with_progress`, so the
bar moves while the file is read and a cancel stops the read itself.
"""

from __future__ import annotations

import math

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.progress import ProgressCallback, compute_with_progress
from detcal.tomo.center import center_sweep
from detcal.tomo.dataset import TomoDataset
from detcal.tomo.graph import PreparedScan, postprocess, prepare, reconstruct_volume
from detcal.tomo.options import ReconOptions
from detcal.tomo.phase import wavelength_cm
from detcal.tomo.recon import recon
from detcal.tomo.run import choose_center

#: Progress is reported in thousandths of the whole work (a sweep: in candidates).
_WHOLE = 1000


def _report(progress: ProgressCallback | None, fraction: float, whole: int = _WHOLE) -> None:
    if progress is not None:
        progress(round(whole * fraction), whole)


def _compute(
    array, progress: ProgressCallback | None, start: float, stop: float, whole: int = _WHOLE
) -> np.ndarray:
    """Compute ``array``, reporting its tasks as the span ``start .. stop`` of the work."""

    def report(done: int, total: int) -> None:
        _report(progress, start + (stop - start) * (min(1.0, done / total) if total else 1.0),
                whole)  # fmt: skip

    (value,) = compute_with_progress(array, progress=None if progress is None else report)
    return np.asarray(value)


def row_band(n_rows: int, row: int, options: ReconOptions, *, extra: int = 0) -> tuple[int, int]:
    """Return the detector rows ``(start, end)`` that the preparation of ``row`` reads.

    Parameters
    ----------
    n_rows : int
        Rows of the detector.
    row : int
        The row looked at.
    options : ReconOptions
        Preparation options (``rows`` bounds the band).
    extra : int
        Further neighbours on each side (the ``"pc"`` centre search uses 4).

    Returns
    -------
    (int, int)
        Start and end (excluded) of the band.

    Raises
    ------
    ValueError
        If ``row`` is outside the detector or outside ``options.rows``.

    Examples
    --------
    >>> row_band(100, 50, ReconOptions(outlier_diff=500.0, outlier_size=5))
    (48, 53)
    """
    start, end = options.rows if options.rows is not None else (0, n_rows)
    row = _validate.integer(row, "row", minimum=start, maximum=min(end, n_rows) - 1)
    margin = int(extra)
    if options.outlier_diff is not None and options.outlier_mode == "2d":
        margin += options.outlier_size // 2
    if options.phase:
        blur = math.pi * wavelength_cm(options.energy) * options.dist / options.pixel_size**2
        margin += max(1, math.ceil(blur))
    return max(start, row - margin), min(end, n_rows, row + margin + 1)


def prepare_row(
    dataset: TomoDataset, row: int, options: ReconOptions | None = None, *, extra: int = 0
) -> PreparedScan:
    """Prepare (lazily) the band of rows around one detector row.

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    row : int
        Detector row.
    options : ReconOptions, optional
        Preparation options.
    extra : int
        Further neighbours on each side.

    Returns
    -------
    PreparedScan
        The band's sinograms; ``options.center_row`` is set to ``row``.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> prepare_row(open_dataset(real_data_path() / "tooth.h5"), 1).tomo.shape
    (181, 1, 640)
    """
    options = options or ReconOptions()
    band = row_band(dataset.projections.shape[1], row, options, extra=extra)
    return prepare(dataset, options.replace(rows=band, center_row=int(row)))


def row_sinogram(
    dataset: TomoDataset,
    row: int,
    options: ReconOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Return the prepared sinogram of one detector row (all ticked steps, after -log).

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    row : int
        Detector row.
    options : ReconOptions, optional
        Preparation options.
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    numpy.ndarray, (angle, col)
        The sinogram (wider for a 360-degree scan converted to 180 degrees).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> row_sinogram(open_dataset(real_data_path() / "tooth.h5"), 1).shape
    (181, 640)
    """
    prepared = prepare_row(dataset, row, options)
    return _compute(prepared.tomo[:, row - prepared.first_row], progress, 0.0, 1.0)


def _extra(options: ReconOptions) -> int:
    return 4 if options.center is None and options.center_method == "pc" else 0


def find_row_center(
    dataset: TomoDataset,
    row: int,
    options: ReconOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> float:
    """Find the rotation centre on one detector row with ``options.center_method``.

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    row : int
        Detector row.
    options : ReconOptions, optional
        Preparation and centre options (``options.center`` is ignored).
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    float
        The centre (column of the prepared sinogram).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> 280 < find_row_center(open_dataset(real_data_path() / "tooth.h5"), 1) < 340
    True
    """
    options = (options or ReconOptions()).replace(center=None)
    _report(progress, 0.0)
    prepared = prepare_row(dataset, row, options, extra=_extra(options))
    center, _how = choose_center(prepared, options.replace(center_row=int(row)))
    _report(progress, 1.0)
    return center


def reconstruct_row(
    dataset: TomoDataset,
    row: int,
    options: ReconOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, float, str]:
    """Reconstruct one detector row as the whole run would (post-processing included).

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    row : int
        Detector row.
    options : ReconOptions, optional
        Run options; ``options.center`` None finds the centre on this row.
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    image : numpy.ndarray, (N, N)
        The slice.
    center : float
        The centre used.
    how : str
        How the centre was chosen ("given", "found with vo on row 12", ...).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> image, center, how = reconstruct_row(
    ...     open_dataset(real_data_path() / "tooth.h5"), 1, ReconOptions(center=296.0))
    >>> image.shape, how
    ((640, 640), 'given')
    """
    options = options or ReconOptions()
    _report(progress, 0.0)
    prepared = prepare_row(dataset, row, options, extra=_extra(options))
    center, how = choose_center(prepared, options.replace(center_row=int(row)))
    _report(progress, 0.3)
    index = row - prepared.first_row
    sino = _compute(prepared.tomo[:, index : index + 1], progress, 0.3, 0.8)
    image = recon(
        sino, prepared.theta, center=center, algorithm=options.algorithm,
        filter_name=options.filter_name, filter_par=options.filter_par, pad=options.pad,
        circ_mask=options.circ_mask, backend=options.backend,
    )  # fmt: skip
    image = np.asarray(postprocess(image, options))[0]
    _report(progress, 1.0)
    return image, center, how


def sweep_row(
    dataset: TomoDataset,
    row: int,
    centers,
    options: ReconOptions | None = None,
    *,
    progress: ProgressCallback | None = None,
) -> np.ndarray:
    """Reconstruct one detector row at each candidate centre, in the order given.

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    row : int
        Detector row.
    centers : sequence of float
        Candidate centres; slice ``i`` is reconstructed at ``centers[i]``.
    options : ReconOptions, optional
        Preparation and filter options.
    progress : callable, optional
        ``progress(done, total)``, once per candidate (``done`` 0 while the row is read).

    Returns
    -------
    numpy.ndarray, (len(centers), N, N)
        The slices.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> sweep_row(open_dataset(real_data_path() / "tooth.h5"), 1, [295, 297]).shape
    (2, 640, 640)
    """
    options = options or ReconOptions()
    centers = np.asarray(_validate.numbers_tuple(centers, "centers"), dtype=np.float64)
    if centers.size == 0:
        raise ValueError("centers: expected one or more candidate columns, got none")
    prepared = prepare_row(dataset, row, options)
    index = row - prepared.first_row
    # read at 0 of len(centers) (a cancel stops the read), then one count per candidate
    sino = _compute(prepared.tomo[:, index : index + 1], progress, 0.0, 0.0, centers.size)
    slices = []
    for i, center in enumerate(centers):
        _report(progress, i / centers.size, centers.size)
        one = center_sweep(
            sino, prepared.theta, centers=[center], ind=0, filter_name=options.filter_name,
            filter_par=options.filter_par, pad=options.pad, lazy=False,
        )  # fmt: skip
        slices.append(one[0])
    _report(progress, 1.0, centers.size)
    return np.stack(slices)


def contrast_limits(image, percentiles: tuple[float, float] = (0.5, 99.5)) -> tuple[float, float]:
    """Return robust display limits: two percentiles of the finite pixels.

    Parameters
    ----------
    image : array-like
        A slice or a small stack (computed here; pass a few planes of a large volume).
    percentiles : (float, float)
        Lower and upper percentiles.

    Returns
    -------
    (float, float)
        ``low < high`` (``high = low + 1`` for a constant image).

    Examples
    --------
    >>> contrast_limits(np.r_[np.zeros(998), 1e6, -1e6].reshape(10, 100))
    (0.0, 1.0)
    """
    values = np.asarray(image, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 0.0, 1.0
    low, high = (float(v) for v in np.percentile(values, percentiles))
    return (low, high) if high > low else (low, low + 1.0)


def lazy_reconstruction(
    dataset: TomoDataset,
    options: ReconOptions | None = None,
    *,
    row: int | None = None,
    progress: ProgressCallback | None = None,
) -> tuple[da.Array, float, str, tuple[float, float]]:
    """Build the whole reconstruction lazily, with its centre and display limits.

    Only the centre search (a few rows) and the slab holding ``row`` (for the contrast
    limits) are computed; the volume itself stays lazy.

    Parameters
    ----------
    dataset : TomoDataset
        The scan.
    options : ReconOptions, optional
        Run options.
    row : int, optional
        Detector row whose slice sets the contrast limits (default: the middle row).
    progress : callable, optional
        ``progress(done, total)``.

    Returns
    -------
    volume : dask.array.Array, (row, N, N)
        The reconstruction, chunked in slabs of rows.
    center : float
        Centre used.
    how : str
        How it was chosen.
    limits : (float, float)
        Contrast limits from the slice of ``row``.

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> from detcal.tomo.dataset import open_dataset
    >>> vol, c, how, lim = lazy_reconstruction(open_dataset(real_data_path() / "tooth.h5"))
    >>> vol.shape, lim[0] < lim[1]
    ((2, 640, 640), True)
    """
    options = options or ReconOptions()
    _report(progress, 0.0)
    prepared = prepare(dataset, options)
    center, how = choose_center(prepared, options)
    _report(progress, 0.3)
    volume = reconstruct_volume(prepared, center, options)
    index = volume.shape[0] // 2 if row is None else int(row) - prepared.first_row
    index = int(np.clip(index, 0, volume.shape[0] - 1))
    limits = contrast_limits(_compute(volume[index], progress, 0.3, 1.0))
    return volume, center, how, limits
