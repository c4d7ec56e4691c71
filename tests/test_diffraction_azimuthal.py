"""azimuthal_average against the exact radial profile and against pyFAI integrate1d."""

import numpy as np
import pytest

from detcal.diffraction import azimuthal_average
from detcal.sample_data.powder import make_powder


@pytest.fixture(scope="module")
def sample():
    return make_powder(shape=(200, 220), center=(104.3, 98.6), noise=False)


def _true_peaks(sample, largest=95.0):
    """Radii of the maxima of the exact profile (close rings merge into one maximum)."""
    fine = np.arange(15.0, largest, 0.01)
    profile = sample.radial_profile(fine)
    top = (profile[1:-1] > profile[:-2]) & (profile[1:-1] > profile[2:])
    return fine[1:-1][top]


def _peaks(radius, intensity, truth):
    """Sub-bin position and height of the profile maximum nearest each true maximum."""
    step = radius[1] - radius[0]
    found = []
    for ring in truth:
        near = np.nonzero(np.abs(radius - ring) <= 1.2)[0]
        k = near[np.nanargmax(intensity[near])]
        a, b, c = intensity[k - 1 : k + 2]
        offset = 0.5 * (a - c) / (a - 2 * b + c)
        found.append((radius[k] + offset * step, b - 0.25 * (a - c) * offset))
    return np.array(found)


def test_matches_exact_profile(sample):
    radius, intensity = azimuthal_average(sample.image, sample.center, mask=sample.mask,
                                          bin_width=0.5)  # fmt: skip
    rings = _true_peaks(sample)
    assert len(rings) >= 5
    peaks = _peaks(radius, intensity, rings)
    np.testing.assert_allclose(peaks[:, 0], rings, atol=0.3)
    truth = sample.radial_profile(radius)
    inside = (radius > 15) & (radius < 95)
    assert np.nanmax(np.abs(intensity - truth)[inside]) < 0.02 * truth[inside].max()
    assert np.isnan(intensity[0])  # the centre bin lies behind the beam block


def test_pixel_split_and_angular_bounds(sample):
    radius, plain = azimuthal_average(sample.image, sample.center, mask=sample.mask)
    _, split = azimuthal_average(sample.image, sample.center, mask=sample.mask, pixel_split=True)
    truth = sample.radial_profile(radius)
    inside = (radius > 15) & (radius < 95)
    assert np.nanmax(np.abs(split - truth)[inside]) < 0.05 * truth[inside].max()
    assert not np.allclose(split[inside], plain[inside])
    # a quarter (wrapping through +-pi) gives the same rings: the pattern is round
    _, quarter = azimuthal_average(sample.image, sample.center, mask=sample.mask,
                                   angular_bounds=(3 * np.pi / 4, 5 * np.pi / 4))  # fmt: skip
    assert np.nanmax(np.abs(quarter - truth)[inside]) < 0.05 * truth[inside].max()


def test_nan_and_masked_pixels_are_left_out(sample):
    image = sample.image.astype(np.float64)
    image[sample.mask] = 1e9  # would dominate if counted
    image[5:15, 5:200] = np.nan
    _, intensity = azimuthal_average(image, sample.center, mask=sample.mask)
    _, reference = azimuthal_average(sample.image, sample.center, mask=sample.mask)
    finite = np.isfinite(reference)
    assert np.nanmax(intensity[finite]) < 1e6
    assert np.nanmax(np.abs(intensity - reference)[20:90]) < 0.05 * np.nanmax(reference)


@pytest.mark.peer
@pytest.mark.parametrize("split", [False, True])
def test_matches_pyfai(sample, split):
    azimuthal = pytest.importorskip("pyFAI.integrator.azimuthal")
    noisy = make_powder(shape=(200, 220), center=sample.center, seed=4)
    row, col = noisy.center
    integrator = azimuthal.AzimuthalIntegrator(
        dist=1.0, poni1=(row + 0.5) * 1e-3, poni2=(col + 0.5) * 1e-3, pixel1=1e-3, pixel2=1e-3
    )  # pyFAI puts pixel centres at (i + 0.5) * pixel size
    radius, ours = azimuthal_average(noisy.image, noisy.center, mask=noisy.mask,
                                     pixel_split=split)  # fmt: skip
    method = ("bbox", "csr", "cython") if split else ("no", "histogram", "cython")
    result = integrator.integrate1d(
        noisy.image, radius.size, unit="r_mm", radial_range=(0, radius[-1] + 0.5),
        mask=noisy.mask.astype(np.int8), correctSolidAngle=False, polarization_factor=None,
        method=method,
    )  # fmt: skip
    np.testing.assert_allclose(result.radial, radius, atol=1e-4)
    rings = _true_peaks(noisy)
    ours_peaks, theirs_peaks = _peaks(radius, ours, rings), _peaks(radius, result.intensity, rings)
    assert np.abs(ours_peaks[:, 0] - theirs_peaks[:, 0]).max() <= 1.0
    relative = ours_peaks[:, 1] / ours_peaks[0, 1]
    np.testing.assert_allclose(relative, theirs_peaks[:, 1] / theirs_peaks[0, 1], rtol=0.01)
