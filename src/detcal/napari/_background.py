"""Run core steps in the background and put their results into the viewer.

Every step widget uses these helpers so that long work never freezes the UI:

* :func:`run_step` runs a core function that takes ``progress=callable(done, total)`` in a
  napari ``thread_worker`` with a progress bar; ``worker.quit()`` (the widget's Cancel button)
  makes the next progress report raise :class:`detcal.progress.StepCancelled`.
* :func:`add_result` adds (or refreshes) a layer named after the step, with the step's
  parameters in ``layer.metadata["detcal"]`` so that Export writes them into the Zarr.
* :func:`shapes_to_mask` turns a Shapes layer into a boolean mask, True = ignore.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.qt.threading import create_worker
from qtpy.QtWidgets import QPushButton

from detcal.progress import StepCancelled

if TYPE_CHECKING:
    import napari


def _step_body(func: Callable, args: tuple, kwargs: dict, cancelled: threading.Event):
    """Start ``func`` in a thread and yield its latest progress report (the worker's body).

    Reports are sampled every 50 ms (a core loop may report far more often than a progress bar
    can draw); a report is yielded even when unchanged so the worker can notice a Cancel.
    """
    latest: dict[str, tuple[int, int]] = {}
    outcome: dict[str, Any] = {}

    def progress(done: int, total: int) -> None:
        if cancelled.is_set():
            raise StepCancelled("cancelled by the user")
        latest["report"] = (int(done), int(total))

    def target() -> None:
        try:
            outcome["value"] = func(*args, progress=progress, **kwargs)
        except BaseException as exc:  # handed to the worker's errored signal below
            outcome["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        while thread.is_alive():
            thread.join(0.05)
            yield latest.get("report", (0, 0))
    finally:
        # reached normally, or via GeneratorExit if the generator is closed early
        cancelled.set()
    if isinstance(outcome.get("error"), StepCancelled):
        # the user cancelled: keep yielding until the worker acts on its quit request, so it
        # ends as "aborted" rather than "errored"
        while True:
            time.sleep(0.05)
            yield latest.get("report", (0, 0))
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


def run_step(
    func: Callable,
    *args: Any,
    desc: str,
    on_returned: Callable[[Any], None] | None = None,
    on_errored: Callable[[Exception], None] | None = None,
    cancel_button: QPushButton | None = None,
    start: bool = True,
    **kwargs: Any,
):
    """Run ``func(*args, progress=..., **kwargs)`` in a worker thread with a progress bar.

    Parameters
    ----------
    func : callable
        Core function accepting a keyword ``progress(done, total)``.
    *args
        Positional arguments for ``func``.
    desc : str
        Label of the napari progress bar.
    on_returned, on_errored : callable, optional
        Connected to the worker's ``returned`` and ``errored`` signals.
    cancel_button : QPushButton, optional
        Enabled while the worker runs; clicking it quits the worker, which stops ``func`` at
        its next progress report (raising :class:`detcal.progress.StepCancelled` there).
    start : bool, default True
        Start the worker at once (tests pass False and call ``worker.work()``).
    **kwargs
        Keyword arguments for ``func``.

    Returns
    -------
    napari.qt.threading.GeneratorWorker
        The worker; its ``yielded`` signal carries ``(done, total)``.
    """
    cancelled = threading.Event()
    worker = create_worker(
        _step_body,
        func,
        args,
        kwargs,
        cancelled,
        _progress={"desc": desc},
        # a caller that handles errors shows them itself; do not re-raise into the event loop
        _ignore_errors=on_errored is not None,
    )
    worker.aborted.connect(cancelled.set)

    def show(report: tuple[int, int]) -> None:
        done, total = report
        pbar = worker.pbar
        if pbar is not None and total:
            if pbar.total != total:
                pbar.total = total
            pbar.n = done
            pbar.refresh()

    worker.yielded.connect(show)
    if on_returned is not None:
        worker.returned.connect(on_returned)
    if on_errored is not None:
        worker.errored.connect(on_errored)
    if cancel_button is not None:

        def cancel() -> None:
            cancelled.set()
            worker.quit()

        cancel_button.setEnabled(True)
        cancel_button.clicked.connect(cancel)

        def release() -> None:
            cancel_button.setEnabled(False)
            with contextlib.suppress(TypeError, RuntimeError):  # already disconnected
                cancel_button.clicked.disconnect(cancel)

        worker.finished.connect(release)
    if start:
        worker.start()
    return worker


def add_result(
    viewer: napari.Viewer,
    data: Any,
    *,
    name: str,
    params: dict[str, Any] | None = None,
    layer_type: str = "image",
    **layer_kwargs: Any,
):
    """Add ``data`` as a layer named after the step, or refresh the layer of that name.

    Parameters
    ----------
    viewer : napari.Viewer
        Viewer to add to.
    data : array-like
        numpy or dask array (dask stays lazy: napari computes only the planes shown).
    name : str
        Layer name, e.g. ``"gains"``; an existing layer of that name gets the new data.
    params : dict, optional
        Parameters of the step that made the result; stored as
        ``layer.metadata["detcal"] = {"step": name, "params": params}``.
    layer_type : {"image", "labels"}
        Kind of layer.
    **layer_kwargs
        Passed to ``viewer.add_image`` / ``viewer.add_labels`` for a new layer.

    Returns
    -------
    napari.layers.Layer
        The new or refreshed layer.
    """
    metadata = {"detcal": {"step": name, "params": _jsonable(params or {})}}
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        layer.metadata.update(metadata)
        if layer_type == "image":
            layer.reset_contrast_limits()
        return layer
    add = viewer.add_labels if layer_type == "labels" else viewer.add_image
    return add(data, name=name, metadata=metadata, **layer_kwargs)


def _jsonable(value: Any) -> Any:
    """Turn parameters into JSON-friendly values (arrays and layers become descriptions)."""
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "name") and hasattr(value, "data"):  # a napari layer
        return f"layer:{value.name}"
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"array{tuple(value.shape)}:{value.dtype}"
    return str(value)


def shapes_to_mask(
    shapes: napari.layers.Shapes | None, shape: tuple[int, ...]
) -> np.ndarray | None:
    """Rasterise a Shapes layer into a mask where True marks pixels to ignore.

    Parameters
    ----------
    shapes : napari.layers.Shapes or None
        Drawn regions (beam block, dead pixels); None gives None.
    shape : tuple of int
        Shape of the image the mask is for; the mask covers its last two axes (row, col).

    Returns
    -------
    numpy.ndarray of bool or None
        (row, col) mask, True inside any shape.
    """
    if shapes is None:
        return None
    rows, cols = int(shape[-2]), int(shape[-1])
    if len(shapes.data) == 0:
        return np.zeros((rows, cols), dtype=bool)
    masks = shapes.to_masks(mask_shape=(rows, cols))
    return np.asarray(masks).reshape(-1, rows, cols).any(axis=0)
