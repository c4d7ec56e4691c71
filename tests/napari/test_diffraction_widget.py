"""The "Diffraction" dock widget driven like a user would, on the drifting powder series."""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "xcb")

import dask.array as da  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from detcal.diffraction import azimuthal_average, mean_and_sem  # noqa: E402
from detcal.sample_data.powder import make_powder_series  # noqa: E402

pytestmark = pytest.mark.gui


@pytest.fixture(scope="module")
def series():
    return make_powder_series(n=4, shape=(128, 128), max_shift=3.0, seed=6)


def _dock(viewer):
    """Open the widget as a user does: through the plugin's manifest."""
    _, widget = viewer.window.add_plugin_dock_widget(
        plugin_name="napari-detcal", widget_name="Diffraction"
    )
    return widget


@pytest.fixture(autouse=True)
def _steps_end(make_napari_viewer, qtbot):
    """Let every background step end before the viewer closes."""
    from detcal.napari import _background

    yield
    qtbot.waitUntil(lambda: not _background._RUNNING, timeout=60000)


def _wait(qtbot, button, worker):
    """Wait for the run ``worker`` of ``button`` to end (result, error or cancel)."""
    assert worker is not None
    qtbot.waitUntil(lambda: not button.__dict__.get("_detcal_busy"), timeout=60000)


def _block_layer(viewer, widget, series):
    """Draw the beam block like a user: a polygon over the disc and a wide path on the arm."""
    layer = widget.new_beam_block()
    # through the manifest napari hands the widget a proxy of the viewer: compare real layers
    assert widget.shapes_combo.value is viewer.layers["beam block"]
    rows, cols = np.nonzero(series.mask)
    top, bottom, left, right = rows.min() - 1, rows.max() + 1, cols.min() - 1, cols.max() + 1
    corner = np.array([[top, left], [top, right], [bottom, right], [bottom, left]])
    layer.add_polygons([corner])
    return layer


def test_align_average_centre_profile(make_napari_viewer, qtbot, series, tmp_path):
    viewer = make_napari_viewer()
    viewer.add_image(series.images, name="series")
    widget = _dock(viewer)
    widget.image_combo.value = viewer.layers["series"]
    block = _block_layer(viewer, widget, series)
    assert block.data

    # Align: a lazy/eager aligned layer, the shifts plotted, the truth recovered
    worker = widget.align()
    assert not widget.align_button.isEnabled()  # one run per button
    assert widget.align() is None  # a second click meanwhile starts nothing
    _wait(qtbot, widget.align_button, worker)
    assert "aligned" in viewer.layers, widget.status.text()
    aligned = viewer.layers["aligned"]
    shifts = np.array(aligned.metadata["shifts"])
    np.testing.assert_allclose(shifts, -series.shifts, atol=0.15)
    # what made it, for recipes: the public step, its parameters, the input layer
    assert aligned.metadata["detcal"] == {
        "step": "diffraction.align", "source": "series",
        "params": {"mask": {"layer": "beam block"}, "reference": 0, "fill_value": 0.0},
    }  # fmt: skip
    assert len(widget.shift_axes.lines) == 2
    np.testing.assert_allclose(widget.shift_axes.lines[0].get_ydata(), shifts[:, 0])

    # Average the aligned series
    widget.image_combo.value = viewer.layers["aligned"]
    _wait(qtbot, widget.average_button, widget.average())
    assert viewer.layers["mean"].metadata["detcal"]["source"] == "aligned"
    mean, sem = mean_and_sem(np.asarray(viewer.layers["aligned"].data))
    np.testing.assert_allclose(viewer.layers["mean"].data, mean, rtol=1e-5)
    np.testing.assert_allclose(viewer.layers["sem"].data, sem, rtol=1e-5)

    # Find the centre of the plane shown (plane 0, the reference)
    widget.image_combo.value = viewer.layers["series"]
    viewer.dims.set_current_step(0, 0)
    _wait(qtbot, widget.center_button, widget.find_centre())
    centre = viewer.layers["centre"].data[-1]
    assert np.hypot(*(centre - series.centers[0])) <= 0.5, widget.status.text()
    rings = viewer.layers["rings"]
    assert len(rings.data) >= 3 and set(rings.shape_type) == {"ellipse"}
    radii = [np.ptp(np.asarray(d)[:, 0]) / 2 for d in rings.data]
    assert min(np.abs(r - series.ring_radii).min() for r in radii) < 1.0

    # Azimuthal average about the point, saved as CSV
    _wait(qtbot, widget.azimuthal_button, widget.azimuthal())
    radius, intensity = widget.profile
    _, expected = azimuthal_average(series.images[0], tuple(centre), mask=None)
    assert radius.size == expected.size
    assert widget.profile_axes.lines and widget.save_button.isEnabled()
    _wait(qtbot, widget.save_button, widget.save_csv(tmp_path / "profile.csv"))
    assert widget.status.text() == f"saved {tmp_path / 'profile.csv'}"
    assert (tmp_path / "profile.csv").read_text().startswith("radius_px,intensity\n")

    # dragging the point recomputes the curve (debounced, in the background)
    before = widget.profile
    viewer.layers["centre"].data = np.array([centre + [4.0, -3.0]])
    qtbot.waitUntil(lambda: widget.profile is not before, timeout=30000)
    moved = np.array(centre + [4.0, -3.0])
    from detcal.diffraction import shapes_to_mask

    mask = shapes_to_mask(block.data, block.shape_type, (128, 128), widths=block.edge_width)
    _, expected = azimuthal_average(series.images[0], tuple(moved), mask=mask)
    np.testing.assert_allclose(widget.profile[1], expected, equal_nan=True)


def test_errors_and_cancel(make_napari_viewer, qtbot, series):
    viewer = make_napari_viewer()
    viewer.add_image(series.images[0], name="one plane")
    widget = _dock(viewer)
    widget.image_combo.value = viewer.layers["one plane"]
    # a single plane cannot be aligned: the error is shown, nothing added
    _wait(qtbot, widget.align_button, widget.align())
    assert "at least 2 planes" in widget.status.text() and "aligned" not in viewer.layers
    assert widget.status.property("detcal_state") == "error"
    # an empty beam-block layer is refused, naming it
    widget.new_beam_block()
    _wait(qtbot, widget.center_button, widget.find_centre())
    assert "Shapes layer is empty" in widget.status.text() and "centre" not in viewer.layers
    # the azimuthal average needs a centre
    assert widget.azimuthal() is None and "find the centre first" in widget.status.text()

    # Cancel a slow average: nothing added, "cancelled" shown
    import time

    def slow(block):
        time.sleep(0.2)
        return block

    lazy = da.from_array(series.images, chunks=(1, 128, 128)).map_blocks(slow)
    viewer.add_image(da.concatenate([lazy] * 10), name="slow")
    widget.image_combo.value = viewer.layers["slow"]
    widget.shapes_combo.value = None
    worker = widget.average()
    aborted = []
    worker.aborted.connect(lambda: aborted.append(True))
    qtbot.waitUntil(lambda: widget.cancel_button.isEnabled(), timeout=10000)
    widget.cancel_button.click()
    assert widget.status.text() == "Average: cancelling…"  # honest until the step has stopped
    _wait(qtbot, widget.average_button, worker)
    assert aborted and widget.average_button.isEnabled()
    assert "mean" not in viewer.layers and widget.status.text() == "Average: cancelled"
