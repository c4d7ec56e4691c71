"""Masks from Shapes layer data (no napari), mask files, napari's Shapes CSV and a JSON list."""

import numpy as np
import pytest

from detcal.diffraction import load_mask, save_mask, shapes_to_mask

SHAPE = (120, 140)
BEAM_STOP = [
    np.array([[60.0, 70.0], [60.0, 139.0]]),  # arm: a line to the edge
    np.array([[50.0, 60.0], [50.0, 80.0], [70.0, 80.0], [70.0, 60.0]]),  # disc's bounding box
    np.array([[5.0, 5.0], [5.0, 25.0], [30.0, 25.0], [30.0, 5.0]]),  # a dead corner
    np.array([[100.0, 10.0], [110.0, 40.0], [90.0, 40.0]]),  # a triangle
    np.array([[10.0, 100.0], [30.0, 120.0], [10.0, 130.0]]),  # a bent cable
]
TYPES = ["line", "ellipse", "rectangle", "polygon", "path"]
WIDTHS = [8.0, 1.0, 1.0, 1.0, 4.0]


def test_geometry_of_each_shape():
    mask = shapes_to_mask(BEAM_STOP, TYPES, SHAPE, widths=WIDTHS)
    rows, cols = np.indices(SHAPE)
    # the rectangle: exactly the pixels with centres inside, corners included
    assert mask[5:31, 5:26].all() and not mask[4, 5:26].any() and not mask[5:31, 26].any()
    # the ellipse (a disc of radius 10 at (60, 70)) and the arm 8 px wide
    disc = np.hypot(rows - 60, cols - 70) <= 9.5
    assert mask[disc].all()
    assert mask[57:64, 70:140].all() and not mask[55, 85:135].any() and not mask[65, 85:135].any()
    # the triangle: its centroid in, a point beside it out
    assert mask[100, 30] and not mask[100, 45]
    # the path: a band of width 4, about length * width pixels
    alone = shapes_to_mask([BEAM_STOP[4]], "path", SHAPE, widths=4.0)
    length = np.hypot(20, 20) + np.hypot(20, 10)
    assert abs(alone.sum() - length * 4) < 0.15 * length * 4
    assert alone[20, 110] and not alone[20, 100]


def test_rotated_ellipse_area():
    angle = 0.5
    half_row, half_col = 20.0, 8.0
    axis_a = np.array([np.cos(angle), np.sin(angle)]) * half_row
    axis_b = np.array([-np.sin(angle), np.cos(angle)]) * half_col
    centre = np.array([60.0, 70.0])
    corners = np.array([centre - axis_a - axis_b, centre - axis_a + axis_b,
                        centre + axis_a + axis_b, centre + axis_a - axis_b])  # fmt: skip
    mask = shapes_to_mask([corners], ["ellipse"], SHAPE)
    assert abs(mask.sum() - np.pi * half_row * half_col) < 0.05 * np.pi * half_row * half_col
    tip = np.round(centre + 0.9 * axis_a).astype(int)
    side = np.round(centre + 0.9 * half_row * np.array([-np.sin(angle), np.cos(angle)])).astype(int)
    assert mask[tuple(tip)] and not mask[tuple(side)]


@pytest.mark.gui
def test_agrees_with_napari_to_masks():
    layers = pytest.importorskip("napari.layers")
    kinds = ["ellipse", "rectangle", "polygon"]
    data = [BEAM_STOP[1], BEAM_STOP[2], BEAM_STOP[3]]
    ours = shapes_to_mask(data, kinds, SHAPE)
    theirs = layers.Shapes(data, shape_type=kinds).to_masks(mask_shape=SHAPE).any(axis=0)
    assert (ours & theirs).sum() / (ours | theirs).sum() > 0.9


def test_files_round_trip(tmp_path):
    mask = shapes_to_mask(BEAM_STOP, TYPES, SHAPE, widths=WIDTHS)
    for suffix in (".npy", ".tif", ".zarr"):
        path = save_mask(mask, tmp_path / f"mask{suffix}")
        np.testing.assert_array_equal(load_mask(path, shape=SHAPE), mask)
    # a float mask: NaN and nonzero are masked
    floats = np.zeros(SHAPE)
    floats[3, 4] = np.nan
    floats[5, 6] = 2.0
    np.save(tmp_path / "floats.npy", floats)
    assert set(zip(*np.nonzero(load_mask(tmp_path / "floats.npy")), strict=True)) == {
        (3, 4),
        (5, 6),
    }


def test_napari_csv_and_json(tmp_path):
    lines = ["index,shape-type,vertex-index,axis-0,axis-1"]
    for k, (vertices, kind) in enumerate(zip(BEAM_STOP, TYPES, strict=True)):
        lines += [f"{k},{kind},{j},{r},{c}" for j, (r, c) in enumerate(vertices)]
    (tmp_path / "shapes.csv").write_text("\n".join(lines) + "\n")
    from_csv = load_mask(tmp_path / "shapes.csv", shape=SHAPE, line_width=8.0)
    expected = shapes_to_mask(BEAM_STOP, TYPES, SHAPE, widths=8.0)
    np.testing.assert_array_equal(from_csv, expected)
    (tmp_path / "shapes.json").write_text(
        '[{"type": "path", "vertices": [[10, 100], [30, 120], [10, 130]], "width": 4}]'
    )
    np.testing.assert_array_equal(
        load_mask(tmp_path / "shapes.json", shape=SHAPE),
        shapes_to_mask([BEAM_STOP[4]], "path", SHAPE, widths=4.0),
    )
