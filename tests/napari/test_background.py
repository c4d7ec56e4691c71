"""The shared background runner: progress that moves, Cancel that cancels, one run per button,
results that record what made them, contrast from robust percentiles, masks from shapes."""

import threading
import time

import dask.array as da
import numpy as np
import pytest
from qtpy.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from detcal.napari._background import (
    add_result,
    robust_limits,
    run_step,
    shapes_to_mask,
    stop_running_steps,
)
from detcal.progress import StepCancelled


def _count_to(n, *, progress):
    for i in range(n):
        progress(i + 1, n)
    return n * 10


def _steps(total, delay, log):
    """A core function: ``total`` steps of ``delay`` s; records whether its cleanup ran."""

    def step(*, progress):
        try:
            for i in range(total):
                time.sleep(delay)
                progress(i + 1, total)
            return "done"
        finally:
            log.append("cleaned up")

    return step


def test_run_step_returns_value_and_reports_progress(qtbot):
    seen = []
    worker = run_step(_count_to, 5, desc="count", start=False)
    worker.yielded.connect(seen.append)
    assert worker.work() == 50
    assert all(total in (0, 5) for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_run_step_errors_reach_the_caller(qtbot):
    def broken(*, progress):
        progress(0, 1)
        raise ValueError("image: expected 2-D, got 3-D")

    worker = run_step(broken, desc="broken", start=False)
    with pytest.raises(ValueError, match="image: expected 2-D"):
        worker.work()


def _qt_bars(viewer):
    from napari._qt.widgets.qt_progress_bar import QtLabeledProgressBar

    return viewer.window._qt_window.findChildren(QtLabeledProgressBar)


def test_the_qt_progress_bar_moves_while_the_step_runs(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    log = []
    _worker = run_step(_steps(40, 0.03, log), desc="forty steps")
    values = []

    def bar_moved():
        bars = _qt_bars(viewer)
        if bars:
            values.append(bars[0].qt_progress_bar.value())
        return any(10 <= v < 40 for v in values)

    qtbot.waitUntil(bar_moved, timeout=10000)
    assert _qt_bars(viewer)[0].qt_progress_bar.maximum() == 40
    assert not log  # read mid-run
    qtbot.waitUntil(lambda: log == ["cleaned up"], timeout=20000)


def test_cancel_waits_for_the_step_to_end_and_says_so(qtbot):
    """A step that reports only now and then: Cancel says "cancelling…", the worker ends
    (and the buttons come back) only once the step has stopped and cleaned up."""
    log, events = [], []
    button, cancel, status = QPushButton("Fit"), QPushButton("Cancel"), QLabel()
    worker = run_step(
        _steps(6, 0.4, log), desc="Fit", button=button, cancel_button=cancel, status=status
    )
    worker.aborted.connect(lambda: events.append(("aborted", list(log))))
    worker.finished.connect(lambda: events.append(("finished", worker.step.thread.is_alive())))
    worker.returned.connect(lambda _: events.append("returned"))
    qtbot.waitUntil(lambda: worker.step.latest[0] >= 1, timeout=10000)
    assert not button.isEnabled() and cancel.isEnabled()
    cancel.click()
    assert status.text() == "Fit: cancelling…"
    assert not log and worker.step.thread.is_alive()  # still inside its 0.4 s step
    qtbot.waitUntil(lambda: len(events) == 2, timeout=10000)
    assert events == [("aborted", ["cleaned up"]), ("finished", False)]
    assert not worker.step.thread.is_alive()
    qtbot.waitUntil(button.isEnabled, timeout=5000)
    assert not cancel.isEnabled() and status.text() == "Fit: cancelled"


def test_one_run_per_button_and_each_run_releases_only_its_own_cancel(qtbot):
    first_log, second_log = [], []
    button_a, button_b, cancel = QPushButton("A"), QPushButton("B"), QPushButton("Cancel")
    # signals are awaited from before the work can end (a fast step may finish at once)
    first = run_step(_steps(3, 0.05, first_log), desc="A", button=button_a, cancel_button=cancel,
                     start=False)  # fmt: skip
    assert run_step(_count_to, 3, desc="A again", button=button_a) is None  # nothing started
    second = run_step(_steps(40, 0.05, second_log), desc="B", button=button_b,
                      cancel_button=cancel)  # fmt: skip
    with qtbot.waitSignal(first.finished, timeout=10000):
        first.start()
    assert button_a.isEnabled() and not button_b.isEnabled()
    assert cancel.isEnabled()  # the second run still holds it
    with qtbot.waitSignal(second.finished, timeout=10000):
        cancel.click()
    assert second_log == ["cleaned up"] and second.step.latest[0] < 40
    assert not cancel.isEnabled() and button_b.isEnabled()


def test_napari_task_manager_cancel_goes_through_the_step(qtbot):
    """superqt's quit() would abandon the step; here it asks the step to stop."""
    log, aborted = [], []
    worker = run_step(_steps(100, 0.02, log), desc="quit me")
    worker.aborted.connect(lambda: aborted.append(list(log)))
    qtbot.waitUntil(lambda: worker.step.latest[0] >= 2, timeout=10000)
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.quit()
    assert aborted == [["cleaned up"]] and worker.step.latest[0] < 100


def test_stop_running_steps_cancels_and_joins(qtbot):
    log, finished = [], []
    worker = run_step(_steps(500, 0.01, log), desc="long")
    worker.finished.connect(lambda: finished.append(True))
    qtbot.waitUntil(lambda: worker.step.latest[0] >= 1, timeout=10000)
    assert stop_running_steps(timeout=10)
    assert log == ["cleaned up"] and not worker.step.thread.is_alive()
    qtbot.waitUntil(lambda: finished == [True], timeout=10000)


def test_errors_show_one_way_on_the_status_line(qtbot):
    def broken(*, progress):
        raise FileExistsError("path '/x.zarr' exists; pass overwrite=True (--overwrite) to "
                              "replace it")  # fmt: skip

    status = QLabel()
    worker = run_step(broken, desc="Export", status=status, start=False)
    with qtbot.waitSignal(worker.finished, timeout=10000):
        worker.start()
    assert status.text() == "path '/x.zarr' exists; tick \"Overwrite\" to replace it"
    assert status.property("detcal_state") == "error"


def test_add_result_records_step_params_and_source(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    data = np.arange(12.0).reshape(3, 4)
    raw = viewer.add_image(data, name="raw", metadata={"source": {"path": str(tmp_path / "r.tif"),
                                                                   "key": None}})  # fmt: skip
    layer = add_result(
        viewer, data, name="gains", step="response.fit_response", source=raw,
        params={"sigma": np.float32(50), "dark": data, "flat": raw, "out": tmp_path / "g.zarr"},
    )  # fmt: skip
    assert layer.name == "gains"
    assert layer.metadata["detcal"] == {
        "step": "response.fit_response",
        "params": {
            "sigma": 50.0,
            "dark": {"array": {"shape": [3, 4], "dtype": "float64"}},
            "flat": {"layer": "raw", "path": str(tmp_path / "r.tif")},
            "out": {"path": str(tmp_path / "g.zarr")},
        },
        "source": "raw",
    }
    again = add_result(viewer, data * 2, name="gains", params={"sigma": 10}, source="raw")
    assert again is layer and len(viewer.layers) == 2
    np.testing.assert_array_equal(viewer.layers["gains"].data, data * 2)
    assert layer.metadata["detcal"]["params"] == {"sigma": 10}


def test_add_result_takes_multiscale_data(make_napari_viewer):
    viewer = make_napari_viewer()
    levels = [da.zeros((4, 256, 256), chunks=(1, 256, 256)), da.zeros((4, 128, 128))]
    layer = add_result(viewer, levels, name="pyramid", step="response.correct_image")
    assert layer.multiscale and len(layer.data) == 2


def test_default_contrast_comes_from_percentiles_of_a_few_planes(make_napari_viewer, qtbot):
    """Plane 0 spans 0-1, the others 0-1000, with hot pixels: a plane-0 min/max would show
    the stack white; the robust limits ignore the hot pixels and cover every plane."""
    rng = np.random.default_rng(0)
    stack = rng.random((9, 200, 200)) * 1000
    stack[0] /= 1000
    stack[:, ::50, ::50] = 1e9
    viewer = make_napari_viewer()
    layer = add_result(viewer, da.from_array(stack, chunks=(1, 200, 200)), name="corrected")
    qtbot.waitUntil(lambda: tuple(layer.contrast_limits) != (0.0, 1.0), timeout=10000)
    low, high = layer.contrast_limits
    assert 0 <= low < 10 and 900 < high < 1000
    assert robust_limits(stack) == pytest.approx((low, high))


def test_shapes_to_mask_marks_pixels_inside(make_napari_viewer):
    viewer = make_napari_viewer()
    shapes = viewer.add_shapes(
        [np.array([[10, 20], [10, 40], [30, 40], [30, 20]])], shape_type="rectangle"
    )
    mask = shapes_to_mask(shapes, (5, 64, 80))
    assert mask.shape == (64, 80) and mask.dtype == bool
    rows, cols = np.nonzero(mask)
    assert rows.min() in (10, 11) and rows.max() in (29, 30)
    assert cols.min() in (20, 21) and cols.max() in (39, 40)
    assert not mask[:9].any() and not mask[:, 42:].any()
    assert shapes_to_mask(None, (64, 80)) is None
    shapes.data = []
    assert not shapes_to_mask(shapes, (64, 80)).any()


def test_a_cancelled_step_never_reaches_returned(qtbot):
    stop = threading.Event()

    def endless(*, progress):
        i = 0
        while True:
            i += 1
            progress(i, 10**9)
            stop.set()

    cancel, returned = QPushButton("Cancel"), []
    worker = run_step(endless, desc="endless", cancel_button=cancel)
    worker.returned.connect(returned.append)
    assert stop.wait(10)
    with qtbot.waitSignal(worker.aborted, timeout=10000):
        cancel.click()
    assert not returned
    with pytest.raises(StepCancelled):
        worker.step.progress(1, 1)


@pytest.mark.parametrize("close", [False, True])
def test_a_result_after_its_window_closed_is_dropped(qtbot, close):
    """napari quitting mid-step: the result must not reach a viewer that is being torn down."""
    window = QWidget()
    qtbot.addWidget(window)
    status = QLabel()
    QVBoxLayout(window).addWidget(status)
    window.show()
    qtbot.waitExposed(window)
    release, got = threading.Event(), []

    def step(*, progress):
        release.wait(30)
        return "result"

    worker = run_step(step, desc="slow", status=status, on_returned=got.append)
    with qtbot.waitSignal(worker.finished, timeout=30000):  # listening before the step ends
        if close:
            window.close()
        release.set()
    qtbot.wait(50)
    assert got == ([] if close else ["result"])
