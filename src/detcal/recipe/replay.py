"""Replay a recipe: lazily on an array, or file to file, streaming, on a laptop or a cluster.

:func:`apply_steps` chains the steps on a numpy or dask array (dask in, dask out, nothing
computed but the small calibration files). :func:`apply_recipe` opens the input read-only,
applies the recipe and streams the result with :func:`detcal.io.save_array` (a hidden temporary
sibling renamed into place, so an interrupted run leaves the destination as it was); the recipe
is stored in the output's attributes. With ``scheduler=`` the chunks are computed on a
dask.distributed cluster.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from detcal.progress import ProgressCallback
from detcal.recipe.format import Recipe, RecipeError, Step, _resolve
from detcal.recipe.steps import FILE_KINDS, run_array_step

#: Task states of a dask.distributed scheduler that mean "not computed yet".
_PENDING = ("released", "waiting", "queued", "processing", "no-worker")


def _read_array(path: Path) -> np.ndarray:
    from detcal.io import open_array

    return np.asarray(open_array(path).compute())


def _load_param(kind: str, value: Any, base: Path | None) -> Any:
    """Turn one JSON parameter into what the step function takes (files are read here)."""
    if kind not in FILE_KINDS or not isinstance(value, str):
        return value
    path = _resolve(value, base)
    if kind == "profiles":
        from detcal.flatfield import load_profiles

        return load_profiles(path)
    if kind == "map":
        return str(path.resolve())  # loaded by the step, once per process (picklable graph)
    return _read_array(path)


def _run_step(index: int, step: Step, data: Any, base: Path | None) -> Any:
    where = f"steps[{index}] ({step.step})"
    try:
        params = {
            name: _load_param(step.spec.params[name].kind, value, base)
            for name, value in step.params.items()
        }
        return run_array_step(step.step, data, params)
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from exc
    except (ValueError, OSError, ImportError) as exc:
        raise RecipeError(f"{where}: {exc}") from exc


def _is_scan(data: Any) -> bool:
    return type(data).__name__ == "TomoDataset" and hasattr(data, "projections")


def _apply_array_steps(steps: list[Step], data: Any, base: Path | None) -> Any:
    for index, step in enumerate(steps):
        data = _run_step(index, step, data, base)
    return data


def _reconstruct(recipe: Recipe, scan: Any) -> Any:
    """Correct every frame of a scan with the array steps, then reconstruct it lazily."""
    from dataclasses import replace

    from detcal.recipe.format import tomo_options
    from detcal.tomo.pipeline import (
        find_scan_center,
        prepare,
        reconstruct_volume,
        validate_dataset,
    )

    *frame_steps, last = recipe.steps
    options = tomo_options(len(frame_steps), last.step, last.params)

    def correct(frames):
        return None if frames is None else _apply_array_steps(frame_steps, frames, recipe.base)

    scan = replace(
        scan,
        projections=correct(scan.projections),
        flats=correct(scan.flats),
        darks=correct(scan.darks),
    )
    where = f"steps[{len(frame_steps)}] ({last.step})"
    try:
        validate_dataset(scan, options)
        prepared = prepare(scan, options)
        center = options.center
        if center is None:
            center = find_scan_center(prepared, options)
        return reconstruct_volume(prepared, center, options)
    except ValueError as exc:
        raise RecipeError(f"{where}: {exc}") from exc


def apply_steps(recipe: Recipe, data: Any) -> Any:
    """Apply a recipe's steps to an array (or a scan), lazily.

    Parameters
    ----------
    recipe : Recipe
        A checked recipe.
    data : numpy.ndarray, dask.array.Array or TomoDataset
        The input: an array for a recipe of array steps; a scan
        (:func:`detcal.tomo.pipeline.open_dataset`) for one ending with ``tomo.reconstruct``,
        whose earlier steps then correct the projections, flats and darks alike.

    Returns
    -------
    numpy.ndarray or dask.array.Array
        The result: lazy for a dask input (only the calibration files, and for a
        reconstruction the rows of the centre search, are read now).

    Raises
    ------
    TypeError
        An array given to a recipe that needs a scan, or the other way round.
    RecipeError
        A step refused its input (the message names the step), e.g. calibration arrays of
        another shape than the images.

    Examples
    --------
    >>> import numpy as np
    >>> recipe = Recipe([Step("response.correct_image",
    ...                       {"coefficients": "gains.npy"})])  # doctest: +SKIP
    >>> apply_steps(recipe, np.ones((3, 4, 4)))  # doctest: +SKIP
    """
    if recipe.needs_scan:
        if not _is_scan(data):
            raise TypeError(
                "data: this recipe ends with tomo.reconstruct and needs a scan (projections, "
                "flats, darks, angles): pass detcal.tomo.pipeline.open_dataset(path), or give "
                f"apply_recipe a DXchange/Zarr file; got {type(data).__name__}"
            )
        return _reconstruct(recipe, data)
    if _is_scan(data) or not (hasattr(data, "shape") and hasattr(data, "dtype")):
        raise TypeError(f"data: expected a numpy or dask array, got {type(data).__name__}")
    return _apply_array_steps(recipe.steps, data, recipe.base)


def _count_pending(dask_scheduler) -> tuple[int, int]:
    """On the scheduler: (tasks not computed yet, tasks known)."""
    tasks = dask_scheduler.tasks.values()
    return sum(ts.state in _PENDING for ts in tasks), len(tasks)


@contextlib.contextmanager
def _cluster_progress(client, progress: ProgressCallback | None) -> Iterator[None]:
    """Report ``progress(done, total)`` from the cluster's count of tasks still to compute.

    dask's local callbacks do not see a distributed computation; the scheduler is asked
    twice a second how many tasks are still waiting (tasks of other clients of a shared
    cluster are counted too).
    """
    if progress is None:
        yield
        return
    stop = threading.Event()
    seen = {"total": 0, "done": 0}

    def poll() -> None:
        while not stop.wait(0.5):
            try:
                pending, _ = client.run_on_scheduler(_count_pending)
            except Exception:  # the cluster went away: the main thread reports it
                return
            seen["total"] = max(seen["total"], pending)
            seen["done"] = max(seen["done"], seen["total"] - pending)
            if seen["total"]:
                progress(seen["done"], seen["total"])

    thread = threading.Thread(target=poll, daemon=True, name="detcal-cluster-progress")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    total = seen["total"] or 1
    progress(total, total)


@contextlib.contextmanager
def _connect(scheduler: Any) -> Iterator[Any]:
    """Yield a dask.distributed Client for ``scheduler`` (an address or a Client), or None."""
    if scheduler is None:
        yield None
        return
    if isinstance(scheduler, str):
        from distributed import Client

        try:
            client = Client(scheduler, set_as_default=False)
        except OSError as exc:
            raise ValueError(f"scheduler: cannot connect to {scheduler!r}: {exc}") from exc
        with client:
            yield client
        return
    if type(scheduler).__name__ == "Client" and hasattr(scheduler, "run_on_scheduler"):
        yield scheduler
        return
    raise TypeError(
        "scheduler: expected an address such as 'tcp://host:8786' or a "
        f"dask.distributed.Client, got {type(scheduler).__name__}"
    )


def _open_input(recipe: Recipe, path: Path, chunks: Any, key: str | None) -> Any:
    from detcal.io import open_array

    if not recipe.needs_scan:
        return open_array(path, key=key, chunks=chunks)
    from detcal.recipe.format import tomo_options
    from detcal.tomo.pipeline import open_dataset

    if chunks is not None or key is not None:
        raise ValueError(
            "chunks/key: a tomography recipe reads the scan's DXchange names in slabs of "
            "`slab` rows; leave chunks and key unset"
        )
    options = tomo_options(len(recipe.steps) - 1, "tomo.reconstruct", recipe.steps[-1].params)
    return open_dataset(
        path, slab=options.slab, theta_units=options.theta_units, angle_range=options.angle_range
    )


def apply_recipe(
    recipe: Recipe | str | os.PathLike,
    input_path: str | os.PathLike,
    output_path: str | os.PathLike,
    *,
    scheduler: Any = None,
    overwrite: bool = False,
    chunks: Any = None,
    key: str | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Replay a recipe on a file and write the result to another, streaming and atomically.

    Parameters
    ----------
    recipe : Recipe or path
        A recipe, or its JSON file (checked whole before anything is read).
    input_path : str or path-like
        Any file :func:`detcal.io.open_array` reads (opened read-only); for a recipe ending
        with ``tomo.reconstruct``, a DXchange HDF5 file or a Zarr group of the same layout.
    output_path : str or path-like
        ``.zarr`` (OME-Zarr), ``.h5``/``.hdf5``, ``.tif``/``.tiff`` or ``.npy``; written to a
        hidden temporary sibling and renamed into place when complete.
    scheduler : str or dask.distributed.Client, optional
        Run on a cluster: a scheduler address (``"tcp://host:8786"``) or a connected Client.
        Default: dask's threads in this process.
    overwrite : bool, default False
        Replace an existing output (only once the new one is complete).
    chunks : optional
        dask chunks to read the input with (default: its storage chunks).
    key : str, optional
        Which array of a container input (HDF5 dataset, Zarr array, ``.npz`` member).
    progress : callable, optional
        ``progress(done, total)`` while the output is computed and written; on the local
        scheduler it may raise (e.g. ``StepCancelled``) to stop, leaving nothing written.

    Returns
    -------
    pathlib.Path
        ``output_path``; its attributes (:func:`detcal.io.read_metadata`) hold
        ``{"detcal": {"recipe": ..., "input": ...}}``.

    Raises
    ------
    RecipeError
        A recipe that could not run (named step and parameter).
    FileExistsError
        The output exists and ``overwrite`` is False.
    FileNotFoundError
        The input, a calibration file or the output's folder does not exist.
    ValueError
        Unknown output suffix, output equal to the input, a scheduler that cannot be reached.

    Examples
    --------
    >>> apply_recipe("recipe.json", "scan.zarr", "corrected.zarr")  # doctest: +SKIP
    PosixPath('corrected.zarr')
    """
    from detcal.io import check_output, save_array

    if not isinstance(recipe, Recipe):
        recipe = Recipe.load(recipe)
    output = check_output(output_path, overwrite=overwrite, name="output_path")
    source = Path(input_path).expanduser()
    if not source.exists():
        raise FileNotFoundError(f"input_path {str(source)!r} does not exist")
    attrs = {"recipe": recipe.to_dict(), "input": str(source.resolve())}
    with _connect(scheduler) as client:
        config = {} if client is None else {"scheduler": client}
        import dask

        with dask.config.set(config):
            result = apply_steps(recipe, _open_input(recipe, source, chunks, key))
            if client is None:
                return save_array(
                    result, output, overwrite=overwrite, progress=progress, attrs=attrs
                )
            with _cluster_progress(client, progress):
                return save_array(result, output, overwrite=overwrite, attrs=attrs)
