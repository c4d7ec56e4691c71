"""The shared background-step helper: progress, result, cancel, layers, masks."""

import threading

import numpy as np
import pytest

from detcal.napari._background import add_result, run_step, shapes_to_mask
from detcal.progress import StepCancelled


def _count_to(n, *, progress):
    for i in range(n):
        progress(i + 1, n)
    return n * 10


def test_run_step_returns_value_and_reports_progress(qtbot):
    seen = []
    worker = run_step(_count_to, 5, desc="count", start=False)
    worker.yielded.connect(seen.append)
    assert worker.work() == 50
    assert all(total in (0, 5) for _, total in seen)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_run_step_shows_progress_of_a_slow_step(qtbot):
    import time

    def slow(*, progress):
        for i in range(4):
            time.sleep(0.08)
            progress(i + 1, 4)
        time.sleep(0.08)
        return "done"

    seen = []
    worker = run_step(slow, desc="slow", start=False)
    worker.yielded.connect(seen.append)
    assert worker.work() == "done"
    assert (4, 4) in seen and any(0 < d < 4 for d, _ in seen)


def test_run_step_errors_reach_the_caller(qtbot):
    def broken(*, progress):
        progress(0, 1)
        raise ValueError("image: expected 2-D, got 3-D")

    worker = run_step(broken, desc="broken", start=False)
    with pytest.raises(ValueError, match="image: expected 2-D"):
        worker.work()


def test_cancel_stops_the_core_function(qtbot):
    started = threading.Event()
    stopped = {}

    def endless(*, progress):
        i = 0
        try:
            while True:
                i += 1
                progress(i, 10**9)
                started.set()
        except StepCancelled:
            stopped["at"] = i
            raise

    from qtpy.QtWidgets import QPushButton

    button = QPushButton("Cancel")
    finished, errors, aborted = [], [], []
    worker = run_step(endless, desc="endless", cancel_button=button, on_errored=errors.append)
    worker.finished.connect(lambda: finished.append(True))
    worker.aborted.connect(lambda: aborted.append(True))
    assert started.wait(10)
    assert button.isEnabled()
    button.click()
    qtbot.waitUntil(lambda: bool(finished), timeout=10000)
    qtbot.waitUntil(lambda: "at" in stopped, timeout=10000)
    assert stopped["at"] > 0
    assert aborted and not errors
    qtbot.waitUntil(lambda: not button.isEnabled(), timeout=5000)


def test_add_result_names_layer_and_keeps_params(make_napari_viewer):
    viewer = make_napari_viewer()
    data = np.arange(12.0).reshape(3, 4)
    layer = add_result(viewer, data, name="gains", params={"sigma": np.float32(50), "dark": data})
    assert layer.name == "gains"
    assert layer.metadata["detcal"] == {
        "step": "gains",
        "params": {"sigma": 50.0, "dark": "array(3, 4):float64"},
    }
    again = add_result(viewer, data * 2, name="gains", params={"sigma": 10})
    assert again is layer and len(viewer.layers) == 1
    np.testing.assert_array_equal(viewer.layers["gains"].data, data * 2)
    assert layer.metadata["detcal"]["params"] == {"sigma": 10}


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
