"""Run core steps in the background and put their results into the viewer.

Every step widget uses these helpers so that long work never freezes the UI:

* :func:`run_step` runs a core function that takes ``progress=callable(done, total)`` in a
  thread of its own, with a napari progress bar that moves and a Cancel. Cancel asks the step
  to stop at its next progress report (which raises :class:`detcal.progress.StepCancelled`);
  the worker's ``aborted`` and ``finished`` signals fire only once the step's thread has
  ended and its cleanup (a temporary output removed) has run. Quitting the application
  cancels running steps and waits for them.
* :func:`add_result` adds (or refreshes) a layer, recording in ``layer.metadata["detcal"]``
  which public function made it, with which parameters, from which layer; its default
  contrast comes from robust percentiles over a few planes, computed off the GUI thread.
* :func:`shapes_to_mask` turns a Shapes layer into a boolean mask, True = ignore.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from napari.qt.threading import GeneratorWorker, create_worker
from qtpy.QtWidgets import QApplication, QPushButton

from detcal.napari._feedback import report_error, report_status
from detcal.progress import StepCancelled

if TYPE_CHECKING:
    import napari

_REPORT_EVERY = 0.05  # seconds between progress reports to the GUI
_RUNNING: set[_StepRun] = set()
_QUIT_HOOKED: list[bool] = []


class _StepRun:
    """One run of a core function in its own thread: its progress, its cancel, its outcome."""

    def __init__(self, func: Callable, args: tuple, kwargs: dict, desc: str):
        self.func, self.args, self.kwargs = func, args, kwargs
        self.cancelled = threading.Event()
        self.latest = (0, 0)
        self.value: Any = None
        self.error: BaseException | None = None
        self.worker: GeneratorWorker | None = None
        # not a daemon: the interpreter waits for it at exit, so a step is never killed
        # half-way through writing (its temporary output would be left behind)
        self.thread = threading.Thread(target=self._target, name=f"detcal: {desc}")

    def progress(self, done: int, total: int) -> None:
        if self.cancelled.is_set():
            raise StepCancelled("cancelled by the user")
        self.latest = (int(done), int(total))

    def _target(self) -> None:
        try:
            self.value = self.func(*self.args, progress=self.progress, **self.kwargs)
        except BaseException as exc:  # handed to the worker's signals by _step_body
            self.error = exc
        finally:
            _RUNNING.discard(self)

    def start(self) -> None:
        _RUNNING.add(self)
        self.thread.start()

    def cancel(self) -> None:
        self.cancelled.set()


class _StepWorker(GeneratorWorker):
    """A worker whose ``quit()`` (Cancel, napari's task manager) asks its step to stop.

    superqt's own ``quit()`` would make the worker report "aborted" at once and leave the
    step running; here the worker ends when the step's thread has ended.
    """

    step: _StepRun

    def quit(self) -> None:
        """Ask the step to stop at its next progress report."""
        if not self.step.cancelled.is_set():
            self.step.cancel()
            if self.pbar is not None:
                self.pbar.set_description(f"{self.pbar.desc.rstrip(': ')}: cancelling…")


def _step_body(run: _StepRun):
    """Start the step and yield its progress until its thread ends (the worker's body)."""
    run.start()
    try:
        while run.thread.is_alive():
            run.thread.join(_REPORT_EVERY)
            yield run.latest
    finally:
        if run.thread.is_alive():  # closed early (the worker was deleted): stop the step
            run.cancel()
    if isinstance(run.error, StepCancelled):
        # the step has stopped and cleaned up: only now may the worker report "aborted"
        GeneratorWorker.quit(run.worker)
        yield run.latest
    if run.error is not None:
        raise run.error
    return run.value


def stop_running_steps(timeout: float | None = None) -> bool:
    """Cancel every running step and wait for their threads to end.

    Connected to ``QApplication.aboutToQuit``, so quitting napari during a run exits cleanly.

    Parameters
    ----------
    timeout : float, optional
        Seconds to wait for each step; None waits as long as it takes.

    Returns
    -------
    bool
        True when no step is running any more.
    """
    runs = list(_RUNNING)
    for run in runs:
        run.cancel()
    for run in runs:
        run.thread.join(timeout)
    return not any(run.thread.is_alive() for run in runs)


def _hook_quit() -> None:
    app = QApplication.instance()
    if app is not None and not _QUIT_HOOKED:
        app.aboutToQuit.connect(stop_running_steps)
        _QUIT_HOOKED.append(True)


def _show_progress(worker: GeneratorWorker, report: tuple[int, int]) -> None:
    """Move the napari progress bar: its ``value`` event is what the Qt bar listens to."""
    done, total = report
    pbar = worker.pbar
    if pbar is None or total <= 0:
        return
    if pbar.total != total:
        pbar.total = total
    if done != pbar.n:
        pbar.update(done - pbar.n)


def _bind_cancel(button: QPushButton, worker: _StepWorker) -> None:
    """Let ``button`` cancel ``worker``'s step; only that worker's end releases it."""
    runs = button.__dict__.setdefault("_detcal_runs", set())
    runs.add(worker)
    cancel = worker.quit
    button.clicked.connect(cancel)
    button.setEnabled(True)

    def release() -> None:
        runs.discard(worker)
        with contextlib.suppress(TypeError, RuntimeError):  # already disconnected
            button.clicked.disconnect(cancel)
        if not runs:
            button.setEnabled(False)

    worker.finished.connect(release)


def run_step(
    func: Callable,
    *args: Any,
    desc: str,
    on_returned: Callable[[Any], None] | None = None,
    on_errored: Callable[[Exception], None] | None = None,
    cancel_button: QPushButton | None = None,
    button: QPushButton | None = None,
    status: Any = None,
    start: bool = True,
    **kwargs: Any,
) -> GeneratorWorker | None:
    """Run ``func(*args, progress=..., **kwargs)`` in the background with a progress bar.

    Parameters
    ----------
    func : callable
        Core function accepting a keyword ``progress(done, total)``.
    *args
        Positional arguments for ``func``.
    desc : str
        Label of the napari progress bar.
    on_returned, on_errored : callable, optional
        Connected to the worker's ``returned`` and ``errored`` signals. Without
        ``on_errored``, an error is shown through ``status`` (see
        :func:`detcal.napari._feedback.report_error`). A result that arrives after the
        window holding ``status`` (or ``button``) has closed is dropped: napari is quitting,
        and the viewer can no longer take a layer.
    cancel_button : QPushButton, optional
        Enabled while the run works; clicking it asks ``func`` to stop at its next progress
        report. Several runs may share it: each releases only its own connection.
    button : QPushButton, optional
        The button that started the run: disabled until the run has truly ended, so one
        button has one run at a time.
    status : QLabel or magicgui Label, optional
        The widget's status line: "cancelling…" on Cancel, "cancelled" when the step has
        stopped, errors in red.
    start : bool, default True
        Start the worker at once (tests pass False and call ``worker.work()``).
    **kwargs
        Keyword arguments for ``func``.

    Returns
    -------
    napari.qt.threading.GeneratorWorker or None
        The worker (its ``yielded`` signal carries ``(done, total)``), or None when
        ``button``'s previous run is still working (nothing is started).
    """
    if is_running(button):
        return None
    run = _StepRun(func, args, kwargs, desc)
    worker = create_worker(
        _step_body,
        run,
        _progress={"desc": desc},
        _worker_class=_StepWorker,
        _ignore_errors=on_errored is not None or status is not None,
    )
    worker.step = run
    run.worker = worker
    worker.yielded.connect(lambda report: _show_progress(worker, report))
    if on_returned is not None:
        worker.returned.connect(_while_open(status or button or cancel_button, on_returned))
    if on_errored is not None:
        worker.errored.connect(on_errored)
    elif status is not None:
        worker.errored.connect(lambda exc: report_error(status, exc, action=desc))
    if status is not None:
        worker.aborted.connect(lambda: report_status(status, f"{desc}: cancelled"))
    if cancel_button is not None:
        _bind_cancel(cancel_button, worker)
        if status is not None:
            cancel = lambda: report_status(status, f"{desc}: cancelling…")  # noqa: E731
            cancel_button.clicked.connect(cancel)
            worker.finished.connect(lambda: _disconnect(cancel_button, cancel))
    if button is not None:
        button.__dict__["_detcal_busy"] = True
        button.setEnabled(False)

        def free() -> None:
            button.__dict__["_detcal_busy"] = False
            button.setEnabled(True)

        worker.finished.connect(free)
    _hook_quit()
    if start:
        worker.start()
    return worker


def _while_open(anchor: Any, callback: Callable[[Any], None]) -> Callable[[Any], None]:
    """Call ``callback(value)`` unless the window that showed ``anchor`` at the start has closed.

    A widget never shown (a script, a test) always gets its result.
    """
    widget = getattr(anchor, "native", anchor)
    shown = widget is not None and widget.window().isVisible()

    def deliver(value: Any) -> None:
        try:
            closed = shown and not widget.window().isVisible()
        except RuntimeError:  # the widget itself has been deleted with its window
            closed = True
        if not closed:
            callback(value)

    return deliver


def is_running(button: QPushButton | None) -> bool:
    """Tell whether the run started by ``button`` (see :func:`run_step`) is still working."""
    return button is not None and bool(button.__dict__.get("_detcal_busy"))


def layer_data(layer, *, levels: bool = False) -> Any:
    """Return a layer's data as numpy or dask, never computed (None for no layer).

    With ``levels``, a multiscale layer gives the list of its levels, else the full
    resolution; other array types are wrapped lazily with ``dask.array.from_array``.
    """
    if layer is None:
        return None
    import dask.array as da

    data = list(layer.data) if layer.multiscale else [layer.data]
    data = [d if isinstance(d, np.ndarray | da.Array) else da.from_array(d) for d in data]
    if levels and len(data) > 1:
        return data
    return data[0]


def _disconnect(button: QPushButton, slot: Callable) -> None:
    with contextlib.suppress(TypeError, RuntimeError):
        button.clicked.disconnect(slot)


def add_result(
    viewer: napari.Viewer,
    data: Any,
    *,
    name: str,
    step: str | None = None,
    source: Any = None,
    params: dict[str, Any] | None = None,
    layer_type: str = "image",
    **layer_kwargs: Any,
):
    """Add ``data`` as a layer named after the step, or refresh the layer of that name.

    Parameters
    ----------
    viewer : napari.Viewer
        Viewer to add to.
    data : array-like or list of array-like
        numpy or dask array (dask stays lazy: napari computes only the planes shown), or a
        list of them, highest resolution first, for a multiscale image.
    name : str
        Layer name, e.g. ``"gains"``; an existing layer of that name gets the new data.
    step : str, optional
        The public function that made the result, e.g. ``"response.correct_image"``
        (recipes replay it); defaults to ``name``.
    source : napari layer or str, optional
        The input layer (or its name).
    params : dict, optional
        The step's parameters, recorded JSON-friendly (see :func:`describe_params`).
    layer_type : {"image", "labels"}
        Kind of layer.
    **layer_kwargs
        Passed to ``viewer.add_image`` / ``viewer.add_labels`` for a new layer.

    Returns
    -------
    napari.layers.Layer
        The new or refreshed layer. ``layer.metadata["detcal"]`` is
        ``{"step": ..., "params": {...}, "source": "<input layer name>" or None}``.
    """
    source_name = getattr(source, "name", source)
    record = {
        "step": step or name,
        "params": describe_params(params or {}),
        "source": None if source_name is None else str(source_name),
    }
    multiscale = isinstance(data, list | tuple) and len(data) > 1
    image = layer_type == "image"
    if name in viewer.layers:
        layer = viewer.layers[name]
        layer.data = data
        layer.metadata.update({"detcal": record})
    else:
        kwargs = dict(layer_kwargs)
        if multiscale:
            kwargs["multiscale"] = True
        if image and "contrast_limits" not in kwargs:
            # napari would compute a range on the GUI thread: start from a cheap guess
            kwargs["contrast_limits"] = _first_guess(data[-1] if multiscale else data)
        add = viewer.add_labels if layer_type == "labels" else viewer.add_image
        layer = add(data, name=name, metadata={"detcal": record}, **kwargs)
        if "contrast_limits" in layer_kwargs:
            return layer
    if image:
        _robust_contrast(layer, data[-1] if multiscale else data)
    return layer


def _first_guess(data: Any) -> tuple[float, float]:
    kind = np.dtype(data.dtype)
    if kind.kind == "b":
        return (0.0, 1.0)
    if np.issubdtype(kind, np.integer) and kind.itemsize == 1:
        info = np.iinfo(kind)
        return (float(info.min), float(info.max))
    return (0.0, 1.0)


def _sample(data: Any, side: int) -> np.ndarray:
    """Return the finite values of the first, middle and last plane, rows and columns strided."""
    rows, cols = data.shape[-2:]
    step = (max(1, rows // side), max(1, cols // side))
    lead = data
    while lead.ndim > 3:
        lead = lead[lead.shape[0] // 2]
    if lead.ndim == 3:
        count = lead.shape[0]
        lead = lead[sorted({0, count // 2, count - 1})]
    values = np.asarray(lead[..., :: step[0], :: step[1]], dtype=np.float64)
    return values[np.isfinite(values)]


def robust_limits(data: Any, *, side: int = 512) -> tuple[float, float]:
    """Contrast limits from the 0.5 and 99.5 percentiles of a few planes, subsampled.

    Parameters
    ----------
    data : array-like
        numpy or dask array, (..., row, col); the first, middle and last plane of the first
        axis are looked at (the middle one of any axis before it).
    side : int, default 512
        Rows and columns are strided to at most about this many each.

    Returns
    -------
    tuple of float
        ``(low, high)``, ``high > low``; NaN and infinities are ignored.

    Examples
    --------
    >>> image = np.zeros((3, 100, 100))
    >>> image[:, 1:] = np.linspace(0, 10, 9900).reshape(99, 100)
    >>> image[:, 0, :5] = 1e6  # a few hot pixels
    >>> low, high = robust_limits(image)
    >>> 0 <= low < 1 and 9 < high <= 10
    True
    """
    return _percentiles(_sample(data, side))


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    if values.size == 0:
        return (0.0, 1.0)
    low, high = (float(v) for v in np.percentile(values, [0.5, 99.5]))
    return (low, high if high > low else low + 1.0)


def _limits_and_range(data: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    values = _sample(data, 512)
    limits = _percentiles(values)
    if values.size == 0:
        return limits, limits
    return limits, (min(float(values.min()), limits[0]), max(float(values.max()), limits[1]))


def _robust_contrast(layer, data: Any) -> None:
    """Set ``layer``'s contrast from :func:`robust_limits`; off the GUI thread for dask data."""

    def apply(found) -> None:
        limits, full = found
        current = layer.data[-1] if layer.multiscale else layer.data
        if current is data:  # the layer still shows what was measured
            layer.contrast_limits_range = full
            layer.contrast_limits = limits

    if isinstance(data, np.ndarray):  # a few subsampled planes in memory: quick
        apply(_limits_and_range(data))
        return
    worker = create_worker(_limits_and_range, data, _ignore_errors=True)
    worker.returned.connect(apply)
    worker.start()


def describe_params(value: Any) -> Any:
    """Turn step parameters into JSON-friendly values, for ``metadata["detcal"]["params"]``.

    Layers become ``{"layer": name}`` (with ``"path"``, and ``"key"``, when the layer was
    opened from a file), paths become ``{"path": absolute path}``, small 1-D arrays become
    lists and other arrays ``{"array": {"shape": [...], "dtype": "..."}}``.

    Parameters
    ----------
    value : Any
        A parameter value or a dict/list of them.

    Returns
    -------
    Any
        A JSON-serialisable equivalent.

    Examples
    --------
    >>> describe_params({"sigma": np.float32(2), "planes": np.arange(3), "out": Path("/a/b")})
    {'sigma': 2.0, 'planes': [0, 1, 2], 'out': {'path': '/a/b'}}
    """
    if isinstance(value, dict):
        return {str(k): describe_params(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [describe_params(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Path):
        return {"path": str(value.expanduser().absolute())}
    if hasattr(value, "name") and hasattr(value, "data") and hasattr(value, "metadata"):
        described: dict[str, Any] = {"layer": value.name}
        origin = value.metadata.get("source") or {}
        if isinstance(origin, dict) and origin.get("path"):
            described["path"] = str(Path(origin["path"]).absolute())
            if origin.get("key"):
                described["key"] = origin["key"]
        return described
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        if isinstance(value, np.ndarray) and value.ndim <= 1 and value.size <= 4096:
            return value.tolist()
        return {"array": {"shape": list(value.shape), "dtype": str(value.dtype)}}
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
