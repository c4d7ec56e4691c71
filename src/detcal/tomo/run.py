"""File-to-file tomography: whole runs, centre finding and centre sweeps, with their record.

Every driver checks everything before it writes, writes its output atomically and records
what it used beside the output (``<output>.json``) and in the output's own metadata: the
options with the centre (and the 360-degree overlap and side) actually used, so that replaying
the record reconstructs the same volume without searching again.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from detcal import _validate
from detcal.io import atomic_output, check_output, save_array
from detcal.progress import ProgressCallback, compute_bound
from detcal.tomo.center import center_sweep
from detcal.tomo.dataset import TomoDataset, open_dataset
from detcal.tomo.graph import PreparedScan, center_row_index, prepare, reconstruct_volume
from detcal.tomo.options import ReconOptions
from detcal.tomo.scan_center import find_scan_center

#: Default limit on the number of slices of a centre sweep written to a file.
MAX_SWEEP_SLICES = 1000


def resolve_options(options: ReconOptions | dict | None, kwargs: dict[str, Any]) -> ReconOptions:
    """Merge an options object (or dict) with keyword options.

    Examples
    --------
    >>> resolve_options({"stripe": "fw"}, {"slab": 4}).slab
    4
    """
    if options is None:
        base = ReconOptions()
    elif isinstance(options, ReconOptions):
        base = options
    elif isinstance(options, dict):
        base = ReconOptions.from_dict(options)
    else:
        raise TypeError(f"options: expected ReconOptions, a dict or None, got {type(options)}")
    return base.replace(**kwargs) if kwargs else base


def sidecar_path(output_path: str | os.PathLike) -> Path:
    """Return the path of the JSON saved beside an output (``<output>.json``).

    Examples
    --------
    >>> sidecar_path("rec.zarr").name
    'rec.zarr.json'
    """
    output = Path(output_path)
    return output.with_name(output.name + ".json")


def _open(input_path: str | os.PathLike, opts: ReconOptions) -> TomoDataset:
    return open_dataset(
        input_path, slab=opts.slab, theta_units=opts.theta_units, angle_range=opts.angle_range
    )


def output_axes(options: ReconOptions, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Return the OME-NGFF axes of a run's output: ``first``, then the detector's y and x.

    The y and x axes (and a ``z`` first axis) are space axes in centimetres scaled by
    ``options.pixel_size`` when that size was set (differs from the default) or used (phase
    retrieval); otherwise they are left in pixels, scale 1, rather than claim a size nobody
    gave.

    Parameters
    ----------
    options : ReconOptions
        The run's options.
    first : dict
        The first axis, ``{"name": "z"}`` for a volume (its rows are detector rows) or, for
        example, ``{"name": "center", "type": "center"}`` for a centre sweep.

    Returns
    -------
    list of dict
        Three ``{"name", "type", "unit"?, "scale"?}`` for :func:`detcal.io.save_array`.

    Examples
    --------
    >>> [a["name"] for a in output_axes(ReconOptions(), {"name": "z"})]
    ['z', 'y', 'x']
    >>> output_axes(ReconOptions(pixel_size=6.5e-5), {"name": "z"})[2]
    {'name': 'x', 'type': 'space', 'unit': 'centimeter', 'scale': 6.5e-05}
    """
    default = ReconOptions.__dataclass_fields__["pixel_size"].default
    space: dict[str, Any] = {"type": "space"}
    if options.phase or options.pixel_size != default:
        space.update(unit="centimeter", scale=float(options.pixel_size))
    return [{**space, **first} if first["name"] == "z" else first,
            {"name": "y", **space}, {"name": "x", **space}]  # fmt: skip


def choose_center(prepared: PreparedScan, options: ReconOptions) -> tuple[float, str]:
    """Return the centre a run uses and how it was chosen (for logs and the record).

    Examples
    --------
    >>> from detcal.sample_data import real_data_path
    >>> scan = prepare(open_dataset(real_data_path() / "tooth.h5"))
    >>> choose_center(scan, ReconOptions(center=300.0))
    (300.0, 'given')
    """
    if options.center is not None:
        return float(options.center), "given"
    center = find_scan_center(prepared, options)
    if prepared.axis_360 is not None:
        return center, "found from the 360-degree overlap"
    row = prepared.first_row + center_row_index(prepared.tomo.shape[1], options, prepared.first_row)
    return center, f"found with {options.center_method} on row {row}"


def reconstruct_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    options: ReconOptions | dict | None = None,
    progress: ProgressCallback | None = None,
    overwrite: bool = False,
    on_center: Callable[[float, str], None] | None = None,
    **kwargs: Any,
) -> Path:
    """Reconstruct a whole scan from a DXchange/HDF5 or Zarr file into a volume file.

    The projections are opened lazily, prepared and reconstructed in slabs of rows and
    written slab by slab; the options with the centre used are saved as JSON beside the
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
    on_center : callable, optional
        ``on_center(center, how)`` once the centre is chosen, before the volume is computed.
    **kwargs
        Options, e.g. ``stripe="fw"``, ``center=301.5``, ``rows=(100, 200)``.

    Returns
    -------
    pathlib.Path
        The output path.

    Raises
    ------
    ValueError
        Bad options or data (see :func:`detcal.tomo.checks.validate_dataset`), unknown
        output format.
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
    ...                           stripe="sf")  # doctest: +SKIP
    """
    opts = resolve_options(options, kwargs)
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    return reconstruct_scan(
        _open(input_path, opts), output, options=opts, overwrite=overwrite, progress=progress,
        on_center=on_center,
    )  # fmt: skip


def reconstruct_scan(
    dataset: TomoDataset,
    output_path: str | os.PathLike,
    *,
    options: ReconOptions | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    on_center: Callable[[float, str], None] | None = None,
) -> Path:
    """Reconstruct an opened scan into a file (see :func:`reconstruct_dataset`).

    Parameters
    ----------
    dataset : TomoDataset
        The scan (from :func:`detcal.tomo.dataset.open_dataset` or layers).
    output_path : str or path-like
        ``.zarr`` (OME-Zarr), ``.h5``/``.hdf5``, ``.tif``/``.tiff`` or ``.npy``.
    options : ReconOptions, optional
        Run options.
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)``; it may raise to stop, leaving nothing written.
    on_center : callable, optional
        ``on_center(center, how)`` once the centre is chosen.

    Returns
    -------
    pathlib.Path
        The output path.

    Examples
    --------
    >>> import tempfile
    >>> from detcal.sample_data import real_data_path
    >>> scan = open_dataset(real_data_path() / "tooth.h5")
    >>> reconstruct_scan(scan, tempfile.mkdtemp() + "/r.npy",
    ...                  options=ReconOptions(center=296.0)).suffix
    '.npy'
    """
    opts = options or ReconOptions()
    check_output(output_path, overwrite=overwrite, name="output_path")
    return write_reconstruction(
        prepare(dataset, opts), output_path, options=opts, overwrite=overwrite,
        progress=progress, source=dataset, on_center=on_center,
    )  # fmt: skip


def write_reconstruction(
    prepared: PreparedScan,
    output_path: str | os.PathLike,
    *,
    options: ReconOptions | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    source: TomoDataset | None = None,
    on_center: Callable[[float, str], None] | None = None,
) -> Path:
    """Reconstruct prepared sinograms into a file, streaming, with the record beside it.

    The volume's axes are ``z, y, x`` (see :func:`output_axes`).

    Parameters
    ----------
    prepared : PreparedScan
        Output of :func:`detcal.tomo.graph.prepare`.
    output_path : str or path-like
        ``.zarr`` (OME-Zarr), ``.h5``/``.hdf5``, ``.tif``/``.tiff`` or ``.npy``.
    options : ReconOptions, optional
        Centre, reconstruction and post-processing options; ``options.center`` None finds the
        centre (see :func:`detcal.tomo.scan_center.find_scan_center`).
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` while the volume is computed and written; it may raise
        (e.g. :class:`detcal.progress.StepCancelled`) to stop, leaving nothing written.
    source : TomoDataset, optional
        The scan the sinograms came from (its path and shape go into the record).
    on_center : callable, optional
        ``on_center(center, how)`` once the centre is chosen.

    Returns
    -------
    pathlib.Path
        The output path; ``<output>.json`` holds the options with the centre used (replaying
        it does not search again) and, under ``"run"``, how the centre was chosen.

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
    center, how = choose_center(prepared, opts)
    if on_center is not None:
        on_center(center, how)
    volume = reconstruct_volume(prepared, center, opts)
    used = opts.replace(center=center)
    if prepared.overlap is not None:
        used = used.replace(overlap=prepared.overlap, rotation=prepared.rotation)
    run = {
        "input": None,
        "output": str(output.resolve()),
        "center": center,
        "center_found": opts.center is None,
        "center_how": how,
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
    attrs = {"step": "tomo.reconstruct_dataset", "tomo_options": used.to_dict(), "run": run}
    # one unit: the record is written first, beside, and renamed into place only once the
    # volume is; a failed or cancelled save leaves neither
    # reconstructing a slab costs far more than writing it: one thread per core
    with atomic_output(sidecar_path(output)) as tmp, compute_bound():
        tmp.write_text(used.to_json(run), encoding="utf-8")
        save_array(volume, output, overwrite=overwrite, progress=progress, attrs=attrs,
                   axes=output_axes(used, {"name": "z"}))  # fmt: skip
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
    opts = resolve_options(options, kwargs)
    return find_scan_center(prepare(_open(input_path, opts), opts), opts)


def sweep_size(n_centers: int, width: int) -> int:
    """Return the bytes a centre sweep of ``n_centers`` float32 slices of ``width``^2 takes.

    An OME-Zarr output adds its pyramid (at most a third more).

    Examples
    --------
    >>> sweep_size(10, 100)
    400000
    """
    return int(n_centers) * int(width) ** 2 * 4


def _check_sweep_room(n: int, width: int, output: Path, max_slices: int) -> None:
    """Refuse a sweep beyond ``max_slices`` or beyond the free space of the output's disk."""
    size = sweep_size(n, width) * (4 / 3 if output.suffix.lower() == ".zarr" else 1)
    what = f"{n} slices of {width} x {width} float32 (about {size / 1e9:.3g} GB)"
    if n > max_slices:
        raise ValueError(
            f"max_slices: the sweep would write {what}, more than the limit of {max_slices}; "
            "use fewer centres or raise the limit"
        )
    free = shutil.disk_usage(output.parent).free
    if size > free:
        raise ValueError(
            f"centers: the sweep would write {what} but only {free / 1e9:.3g} GB are free "
            f"on {str(output.parent)!r}"
        )


def sweep_dataset(
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    centers: Any,
    row: int | None = None,
    options: ReconOptions | dict | None = None,
    overwrite: bool = False,
    progress: ProgressCallback | None = None,
    max_slices: int = MAX_SWEEP_SLICES,
    **kwargs: Any,
) -> Path:
    """Reconstruct one row for a range of candidate centres and save the stack.

    The stack is computed and written a few centres at a time; its first axis is named
    ``center`` (see :func:`output_axes`) and the centres are stored in the output's metadata
    (``read_metadata(out)["detcal"]["centers"]``) and in ``<output>.json``.

    Parameters
    ----------
    input_path : str or path-like
        DXchange HDF5 or Zarr scan.
    output_path : str or path-like
        Output file (``.zarr``, ``.h5``, ``.tif``, ``.npy``).
    centers : array-like of float
        Candidate centres; slice ``i`` of the output is reconstructed at ``centers[i]``.
    row : int, optional
        Detector row (default: ``center_row``, else the middle of the selected rows).
    options : ReconOptions or dict, optional
        Preparation and filter options.
    overwrite : bool
        Replace an existing output.
    progress : callable, optional
        ``progress(done, total)`` while the stack is written.
    max_slices : int
        Refuse sweeps of more centres than this.
    **kwargs
        Options overriding ``options``.

    Returns
    -------
    pathlib.Path
        The output path.

    Raises
    ------
    ValueError
        No centres, a centre outside the detector, more than ``max_slices`` centres or an
        output larger than the free disk space.

    Examples
    --------
    >>> import numpy as np
    >>> from detcal.sample_data import real_data_path
    >>> sweep_dataset(real_data_path() / "tooth.h5", "sweep.zarr",
    ...               centers=np.arange(290, 310, 0.5))  # doctest: +SKIP
    """
    opts = resolve_options(options, kwargs)
    if row is not None:
        opts = opts.replace(center_row=_validate.integer(row, "row", minimum=0))
    max_slices = _validate.integer(max_slices, "max_slices", minimum=1)
    centers = np.asarray(_validate.numbers_tuple(centers, "centers"), dtype=np.float64)
    if centers.size == 0:
        raise ValueError("centers: expected one or more candidate columns, got none")
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    prepared = prepare(_open(input_path, opts), opts)
    width = prepared.tomo.shape[2]
    if centers.min() < 0 or centers.max() > width - 1:
        raise ValueError(
            f"centers: expected columns in [0, {width - 1}] of the sinogram, got "
            f"{centers.min():g} .. {centers.max():g}"
        )
    _check_sweep_room(centers.size, width, output, max_slices)
    index = center_row_index(prepared.tomo.shape[1], opts, prepared.first_row)
    sino = np.asarray(prepared.tomo[:, index : index + 1].compute())
    stack = center_sweep(
        sino, prepared.theta, centers=centers, ind=0, filter_name=opts.filter_name,
        filter_par=opts.filter_par, pad=opts.pad, lazy=True,
    )  # fmt: skip
    run = {
        "input": str(Path(input_path).resolve()),
        "row": prepared.first_row + index,
        "centers": centers.tolist(),
    }
    attrs = {"step": "tomo.sweep_dataset", "tomo_options": opts.to_dict(), **run}
    axes = output_axes(opts, {"name": "center", "type": "center"})
    # one unit with the stack, one thread per core, as above
    with atomic_output(sidecar_path(output)) as tmp, compute_bound():
        tmp.write_text(opts.to_json(run), encoding="utf-8")
        save_array(stack, output, overwrite=overwrite, progress=progress, attrs=attrs, axes=axes)
    return output
