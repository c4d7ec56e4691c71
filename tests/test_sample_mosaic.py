"""The synthetic mosaic: layout, ground truth and its empty / contaminated planes."""

from __future__ import annotations

import numpy as np
import pytest

from detcal.flatfield import tiles as tile_layout
from detcal.sample_data.mosaic import flat_nrms, make_mosaic, vignetting


@pytest.fixture(scope="module")
def sample():
    return make_mosaic(grid_shape=(3, 4), n_z=10, empty_z=(2, 7), tile_shape=(40, 48), seed=5)


def test_shapes_dtypes_and_flat(sample):
    assert sample.tiles.shape == (12, 10, 40, 48)
    assert sample.tiles.dtype == np.uint16
    assert sample.truth.shape == sample.tiles.shape
    assert sample.flatfield.shape == sample.dark.shape == (40, 48)
    assert sample.flatfield.mean() == pytest.approx(1.0, abs=1e-5)
    assert 0.5 < sample.flatfield.min() < 0.8 < 1.1 < sample.flatfield.max() < 1.3
    assert sample.empty_tiles == (1, 3, 10, 12)  # the corners of a 3 x 4 grid
    assert sample.grid_shape == (3, 4)


def test_empty_planes_hold_only_background(sample):
    empty = sample.empty_planes & ~sample.contaminated
    assert np.all(sample.truth[empty] == sample.background)
    assert np.all(sample.truth[~sample.empty_planes] >= sample.background)
    for number in sample.empty_tiles:
        assert sample.empty_planes[number - 1].all()
    assert sample.empty_planes[:, :2].all() and sample.empty_planes[:, 8:].all()
    # every non-empty tile holds sample in its middle planes
    for tile in range(12):
        if tile + 1 not in sample.empty_tiles:
            assert sample.truth[tile, 2:8].max() > sample.background + 100


def test_contaminated_planes_are_in_empty_tiles_at_empty_z(sample):
    bad = np.argwhere(sample.contaminated)
    assert len(bad) == 2
    for tile, z in bad:
        assert tile + 1 in sample.empty_tiles
        assert z < 2 or z > 7
        assert sample.truth[tile, z].max() > 2 * sample.background
    saturated = [(sample.tiles[t, z] == 65535).any() for t, z in bad]
    assert saturated.count(True) >= 1


def test_tiles_follow_the_model(sample):
    # averaged over the clean empty planes: (tiles - dark) / background == flat
    clean = sample.empty_planes & ~sample.contaminated
    mean = (sample.tiles[clean].astype(np.float64) - sample.dark).mean(axis=0)
    assert flat_nrms(mean, sample.flatfield) < 0.01


def test_inverted_n_placement_is_continuous():
    # the sample is one smooth volume: reassembling the tiles with the inverted-N layout
    # gives jumps across tile borders like the steps inside tiles; row-major order does not
    full = make_mosaic(grid_shape=(3, 4), n_z=6, empty_z=(1, 4), empty_tiles=(), seed=6)
    rows, cols = full.tiles.shape[-2:]

    def border_steps(order):
        canvas = np.zeros((3 * rows, 4 * cols))
        for number in range(1, 13):
            r, c = order(number)
            canvas[r * rows : (r + 1) * rows, c * cols : (c + 1) * cols] = full.truth[number - 1, 3]
        steps = np.abs(np.diff(canvas, axis=0))
        return steps[rows - 1 :: rows].mean(), steps.mean()

    border, inside = border_steps(lambda n: tile_layout.tile_position(n, (3, 4)))
    assert border < 2 * inside
    wrong, _ = border_steps(lambda n: divmod(n - 1, 4))
    assert wrong > 5 * inside


def test_seeded_and_options():
    a = make_mosaic(n_z=6, empty_z=(1, 4), tile_shape=(16, 16), seed=3)
    b = make_mosaic(n_z=6, empty_z=(1, 4), tile_shape=(16, 16), seed=3)
    np.testing.assert_array_equal(a.tiles, b.tiles)
    c = make_mosaic(n_z=6, empty_z=(1, 4), tile_shape=(16, 16), empty_tiles=(5,), n_contaminated=0)
    assert c.empty_tiles == (5,) and not c.contaminated.any()
    assert vignetting((8, 8)).mean() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="empty_z"):
        make_mosaic(n_z=6, empty_z=(4, 1))
    with pytest.raises(ValueError, match="fov_list"):
        make_mosaic(empty_tiles=(10,))
