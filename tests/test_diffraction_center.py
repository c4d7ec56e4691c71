"""powder_center and pattern_center against the exact centres of synthetic patterns."""

import numpy as np
import pytest

from detcal.diffraction import pattern_center, powder_center
from detcal.sample_data.powder import make_powder


def _big_block(sample, radius_fraction=0.14, arm_fraction=0.1):
    """Beam block + arm covering about 10% of the image, bright (not dark) behind."""
    rows, cols = np.indices(sample.image.shape)
    size = min(sample.image.shape)
    row, col = sample.center
    disc = np.hypot(rows - row, cols - col) < radius_fraction * size
    arm = (np.abs(rows - row) < arm_fraction * size / 2) & (cols > col)
    mask = disc | arm | sample.mask
    image = sample.image.copy()
    image[mask] = 3 * image.max()
    return image, mask


@pytest.mark.parametrize("method", [powder_center, pattern_center])
@pytest.mark.parametrize(
    ("shape", "center"),
    [((256, 256), (0.6 * 256 - 0.3, 0.6 * 256 + 0.4)), ((240, 300), (0.4 * 240, 0.6 * 300))],
)
def test_center_off_middle_with_block_and_arm(method, shape, center):
    sample = make_powder(shape=shape, center=center, seed=7)
    image, mask = _big_block(sample)
    assert 0.08 <= mask.mean() <= 0.13
    found = method(image, mask=mask)
    assert np.hypot(*np.subtract(found, sample.center)) <= 0.5


def test_single_crystal_pattern_center():
    rows, cols = np.indices((200, 220))
    center = (93.4, 121.7)
    image = np.zeros((200, 220))
    rng = np.random.default_rng(0)
    for a, b in rng.integers(-3, 4, size=(20, 2)):
        # Friedel pairs of Gaussian spots on a lattice
        for sign in (1, -1):
            dr, dc = sign * (a * 17.0 + b * 5.0), sign * (b * 19.0 - a * 4.0)
            image += np.exp(-((rows - center[0] - dr) ** 2 + (cols - center[1] - dc) ** 2) / 8)
    image += 0.01 * rng.standard_normal(image.shape)
    mask = (np.abs(rows - center[0]) < 6) & (cols < center[1])  # a beam stop and its arm
    found = pattern_center(image, mask=mask)
    assert np.hypot(*np.subtract(found, center)) <= 0.5


@pytest.mark.peer
def test_pattern_center_agrees_with_skued():
    skued = pytest.importorskip("skued")
    sample = make_powder(shape=(256, 256), center=(140.2, 118.9), seed=3)
    ours = pattern_center(sample.image, mask=sample.mask)
    theirs = skued.autocenter(sample.image, mask=~sample.mask)  # skued: True = valid
    assert np.hypot(*np.subtract(ours, theirs)) <= 2.0
    assert np.hypot(*np.subtract(ours, sample.center)) <= 0.5
