"""Sub-pixel centres of the spots of a hole-grid (or dot-grid) calibration image.

The spots are found as the local maxima of a Laplacian-of-Gaussian filter matched to their size
(:func:`scipy.ndimage.gaussian_laplace`, :func:`scipy.ndimage.maximum_filter`); each
centre is then the intensity-weighted centroid of the background-subtracted image in a disc
that holds the whole spot. Spots much fainter or brighter, or much wider or narrower, than the
typical spot (dust, a burnt-out hole, a stray object in the field) are rejected.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.filters import threshold_otsu

from detcal import _validate
from detcal.distortion.options import POLARITIES
from detcal.progress import ProgressCallback

# a spot whose integrated signal or size is outside these multiples of the median is rejected
_SIGNAL_RANGE = (0.75, 1.5)
_SIZE_RANGE = (0.85, 1.2)


def spot_signal(image, *, polarity: str = "auto") -> np.ndarray:
    """Return the image as float64 with the spots bright ("dark" spots are negated).

    Parameters
    ----------
    image : array_like
        (row, col) image.
    polarity : {"auto", "bright", "dark"}
        Bright spots on a dark background (a hole grid), dark dots on a bright background (a
        printed dot target), or "auto": the side the intensity histogram is skewed towards.

    Returns
    -------
    numpy.ndarray
        float64 image in which the spots are brighter than the background, clipped to its
        0.1 and 99.9 percentiles (so that a few hot or dead pixels do not set the scale).

    Examples
    --------
    >>> image = np.full((9, 9), 200.0)
    >>> image[3:6, 3:6] = 10.0  # one dark dot on a bright background
    >>> signal = spot_signal(image)
    >>> bool(signal[4, 4] > signal[0, 0])
    True
    """
    _validate.choice(polarity, "polarity", POLARITIES)
    signal = np.array(image, dtype=np.float64)  # a copy: the clipping is done in place
    sample = signal[::3, ::3]  # every 9th pixel sets the scale and the skew
    # a few saturated or dead pixels must not set the scale
    np.clip(signal, *np.percentile(sample, (0.1, 99.9)), out=signal)
    if polarity == "auto":
        polarity = "bright" if sample.mean() >= np.median(sample) else "dark"
    if polarity == "dark":
        np.negative(signal, out=signal)
    return signal


def estimate_spot_diameter(image, *, polarity: str = "auto") -> float:
    """Estimate the diameter of the spots (pixels) from the areas of the thresholded blobs.

    Parameters
    ----------
    image : array_like
        (row, col) image of the grid.
    polarity : {"auto", "bright", "dark"}
        See :func:`spot_signal`.

    Returns
    -------
    float
        Diameter of the disc with the median blob area (blobs of fewer than 4 pixels, and
        blobs touching the image border, are left out).

    Raises
    ------
    ValueError
        No spot at all (a flat or empty image).

    Examples
    --------
    >>> rows, cols = np.mgrid[:64, :64]
    >>> image = (np.hypot((rows % 16) - 8, (cols % 16) - 8) < 3).astype(float)
    >>> round(estimate_spot_diameter(image))
    6
    """
    image = _validate.array(image, "image", ndim=2, axes="(row, col)", min_shape=(8, 8))
    return _diameter(spot_signal(image, polarity=polarity))


def _diameter(signal: np.ndarray) -> float:
    """:func:`estimate_spot_diameter` of the :func:`spot_signal` of an image."""
    if np.ptp(signal) == 0:
        raise ValueError("image: no spots found (the image is flat)")
    labels, count = ndimage.label(signal > threshold_otsu(signal))
    border = np.unique(np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]]))
    areas = np.bincount(labels.ravel(), minlength=count + 1)
    areas[border] = 0
    areas = areas[1:][areas[1:] >= 4]
    if areas.size == 0:
        raise ValueError("image: no spots found (no blob of 4 pixels or more)")
    return float(2 * np.sqrt(np.median(areas) / np.pi))


def find_grid_peaks(image, *, spot_diameter=None, polarity: str = "auto") -> np.ndarray:
    """Find the sub-pixel centres of the spots of a grid image.

    Parameters
    ----------
    image : array_like
        (row, col) image of a hole grid (bright spots) or dot target (dark dots), any real
        dtype.
    spot_diameter : float, optional
        Spot diameter in pixels; None estimates it (:func:`estimate_spot_diameter`).
    polarity : {"auto", "bright", "dark"}
        See :func:`spot_signal`.

    Returns
    -------
    numpy.ndarray
        (N, 2) float64 spot centres (row, col), pixel ``(i, j)`` centred at ``(i, j)``,
        sorted by row then column. Spots cut by the image border are left out.

    Raises
    ------
    ValueError
        Not a 2D image, ``spot_diameter`` <= 0, or no spot found.
    TypeError
        Not a real numeric image.

    Examples
    --------
    >>> rows, cols = np.mgrid[:64, :64]
    >>> image = 10 + 100 * np.exp(-((rows % 16 - 8.3) ** 2 + (cols % 16 - 7.6) ** 2) / 4)
    >>> peaks = find_grid_peaks(image, spot_diameter=5.0)
    >>> len(peaks), np.round(peaks[0], 1).tolist()
    (16, [8.3, 7.6])
    """
    return find_spots(image, spot_diameter=spot_diameter, polarity=polarity)[0]


def find_spots(
    image,
    *,
    spot_diameter=None,
    polarity: str = "auto",
    progress: ProgressCallback | None = None,
) -> tuple[np.ndarray, float]:
    """Find the spots like :func:`find_grid_peaks` and say which spot diameter was used.

    Parameters
    ----------
    image : array_like
        (row, col) image of the grid.
    spot_diameter : float, optional
        Spot diameter in pixels; None estimates it.
    polarity : {"auto", "bright", "dark"}
        See :func:`spot_signal`.
    progress : callable, optional
        ``progress(done, total)`` over the three stages.

    Returns
    -------
    peaks : numpy.ndarray
        (N, 2) spot centres (row, col), as :func:`find_grid_peaks` returns them.
    diameter : float
        The spot diameter used, pixels (the estimate when ``spot_diameter`` is None).

    Raises
    ------
    ValueError
        Not a 2D image, ``spot_diameter`` <= 0, or no spot found.

    Examples
    --------
    >>> rows, cols = np.mgrid[:64, :64]
    >>> image = (np.hypot(rows % 16 - 8, cols % 16 - 8) < 3).astype(float)
    >>> peaks, diameter = find_spots(image)
    >>> len(peaks), round(diameter)
    (16, 6)
    """
    report = progress or (lambda done, total: None)
    image = _validate.array(image, "image", ndim=2, axes="(row, col)", min_shape=(8, 8))
    if _validate.is_dask(image):
        image = image.compute()
    report(0, 3)
    signal = spot_signal(image, polarity=polarity)
    if spot_diameter is None:
        diameter = _diameter(signal)
    else:
        diameter = _validate.positive(spot_diameter, "spot_diameter")
    report(1, 3)
    radius = int(np.ceil(diameter / 2 + 2))
    found = _local_maxima(signal, diameter, border=radius + 1)
    if len(found) == 0:
        raise ValueError(f"image: no spots found (spot diameter {diameter:.3g} px)")
    report(2, 3)
    centres, signals, sizes = _centroids(signal, found, radius, diameter)
    keep = _typical(signals, _SIGNAL_RANGE) & _typical(sizes, _SIZE_RANGE)
    if not keep.any():
        raise ValueError(f"image: no spots found (spot diameter {diameter:.3g} px)")
    centres = _unique(centres[keep], diameter / 2)
    report(3, 3)
    return centres[np.lexsort((centres[:, 1], centres[:, 0]))], diameter


def _local_maxima(signal: np.ndarray, diameter: float, *, border: int) -> np.ndarray:
    """(row, col) of the maxima of the matched filter above 5 noise levels, off the border."""
    response = -ndimage.gaussian_laplace(
        signal.astype(np.float32), diameter / (2 * np.sqrt(2)), output=np.float32
    )
    size = 2 * max(1, int(diameter / 2)) + 1
    peaks = response == ndimage.maximum_filter(response, size=size)
    low = response[::2, ::2]
    low = low[low <= np.median(low)]
    noise = 1.4826 * np.median(np.abs(low - np.median(low))) or np.ptp(response) / 100
    peaks &= response > 5 * noise
    peaks[:border] = peaks[-border:] = False
    peaks[:, :border] = peaks[:, -border:] = False
    return np.argwhere(peaks)


def _unique(centres: np.ndarray, distance: float) -> np.ndarray:
    """Drop centres closer than ``distance`` to an earlier one (a spot found twice)."""
    pairs = cKDTree(centres).query_pairs(distance, output_type="ndarray")
    keep = np.ones(len(centres), dtype=bool)
    keep[pairs.max(axis=1)] = False
    return centres[keep]


def _centroids(signal: np.ndarray, peaks: np.ndarray, radius: int, diameter: float):
    """Background-subtracted intensity-weighted centroids in discs of ``radius`` about peaks.

    Returns the centres (N, 2), the integrated signals (N,) and the r.m.s. radii (N,).
    """
    offsets = np.arange(-radius, radius + 1)
    dr, dc = np.meshgrid(offsets, offsets, indexing="ij")
    dist = np.hypot(dr, dc)
    inside = dist <= radius
    ring = dist > diameter / 2 + 1.5
    patches = signal[peaks[:, 0, None, None] + dr, peaks[:, 1, None, None] + dc]
    background = np.median(patches[:, ring & inside], axis=1)
    weights = (patches - background[:, None, None]) * inside
    total = weights.sum(axis=(1, 2))
    safe = np.where(total > 0, total, 1.0)
    mean_r = (weights * dr).sum(axis=(1, 2)) / safe
    mean_c = (weights * dc).sum(axis=(1, 2)) / safe
    spread = (
        weights * ((dr - mean_r[:, None, None]) ** 2 + (dc - mean_c[:, None, None]) ** 2)
    ).sum(axis=(1, 2)) / safe
    centres = peaks + np.stack([mean_r, mean_c], axis=1)
    sizes = np.sqrt(np.clip(spread, 0, None))
    signals = np.where(total > 0, total, 0.0)
    return centres, signals, sizes


def _typical(values: np.ndarray, allowed: tuple[float, float]) -> np.ndarray:
    """Tell where ``values`` is within ``allowed`` multiples of their median (and positive)."""
    median = np.median(values[values > 0]) if np.any(values > 0) else 0.0
    return (values > allowed[0] * median) & (values < allowed[1] * median)
