"""Azimuthal average: mean intensity in rings of equal width about the centre; its rings; CSV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.signal import find_peaks

from detcal import _validate
from detcal.io import atomic_output, check_output


def _center(center, shape) -> tuple[float, float]:
    row, col = _validate.numbers_tuple(center, "center", length=2)
    if not (-0.5 <= row <= shape[0] - 0.5 and -0.5 <= col <= shape[1] - 0.5):
        raise ValueError(
            f"center: expected a (row, col) inside the image of shape {tuple(shape)}, "
            f"got ({row:g}, {col:g})"
        )
    return row, col


def _angles(bounds) -> tuple[float, float] | None:
    if bounds is None:
        return None
    low, high = _validate.numbers_tuple(bounds, "angular_bounds", length=2)
    if not high > low:
        raise ValueError(f"angular_bounds: expected (low, high) with high > low, got {bounds!r}")
    return low, high


def azimuthal_average(
    image, center, *, mask=None, bin_width=1.0, angular_bounds=None, pixel_split=False
):
    """Average a pattern over rings of equal width about ``center`` (a radial profile).

    Pixel ``(i, j)`` sits at ``(row, col) = (i, j)``; its distance to the centre picks its
    radial bin ``[k, k + 1) * bin_width``. Masked and NaN pixels are left out. With
    ``pixel_split`` each pixel is shared between the two bins whose centres are nearest, in
    proportion to its distance to them (smoother profiles on fine bins).

    Parameters
    ----------
    image : array-like
        (row, col) pattern.
    center : (float, float)
        Pattern centre (row, col) in pixels, inside the image (note: ``skued.azimuthal_average``
        takes ``(col, row)``).
    mask : array-like of bool, optional
        (row, col), True = ignore (beam block, dead pixels).
    bin_width : float, default 1.0
        Width of the radial bins, pixels.
    angular_bounds : (float, float), optional
        Only pixels whose angle, in radians from +col towards +row (``arctan2(drow, dcol)``),
        lies in ``[low, high]`` (taken modulo 2 pi); default: all angles.
    pixel_split : bool, default False
        Share each pixel between the two nearest bins instead of binning its centre.

    Returns
    -------
    radius : numpy.ndarray
        Bin centres ``(k + 0.5) * bin_width`` in pixels, from the centre to the farthest pixel.
    intensity : numpy.ndarray
        Mean intensity in each bin (float64); NaN where a bin holds no pixel.

    Raises
    ------
    ValueError
        A centre outside the image, a mask of the wrong shape or hiding every pixel, an image
        that is all NaN, a bin width <= 0, bounds with high <= low.

    Examples
    --------
    >>> import numpy as np
    >>> rows, cols = np.mgrid[:9, :9]
    >>> image = np.hypot(rows - 4, cols - 4)
    >>> radius, intensity = azimuthal_average(image, (4, 4))
    >>> radius[:3].tolist(), np.round(intensity[:3], 2).tolist()
    ([0.5, 1.5, 2.5], [0.0, 1.21, 2.33])
    """
    image = np.asarray(_validate.array(image, "image", ndim=2, axes="a (row, col) image"))
    mask = _validate.mask(mask, "mask", image.shape)
    row, col = _center(center, image.shape)
    width = _validate.positive(bin_width, "bin_width")
    bounds = _angles(angular_bounds)
    pixel_split = _validate.boolean(pixel_split, "pixel_split")

    values = image.astype(np.float64)
    valid = np.isfinite(values)
    if mask is not None:
        valid &= ~mask
    drow = (np.arange(image.shape[0], dtype=np.float64) - row)[:, None]
    dcol = (np.arange(image.shape[1], dtype=np.float64) - col)[None, :]
    if bounds is not None:
        span = bounds[1] - bounds[0]
        turned = np.mod(np.arctan2(drow, dcol) - bounds[0], 2 * np.pi)
        valid &= (turned <= span) | (span >= 2 * np.pi)
    if not valid.any():
        raise ValueError("image: no pixel left: every pixel is masked, NaN or outside the angles")
    position = np.sqrt(drow**2 + dcol**2).ravel() / width
    weight = valid.ravel().astype(np.float64)
    signal = np.where(valid, values, 0.0).ravel()
    nbins = int(position.max()) + 1
    if pixel_split:
        position = np.maximum(position - 0.5, 0.0)
        lower = position.astype(np.int64)
        upper_share = (position - lower) * weight
        lower_share = weight - upper_share
        counts = np.bincount(lower, lower_share, nbins + 1) + np.bincount(
            lower + 1, upper_share, nbins + 1
        )
        sums = np.bincount(lower, lower_share * signal, nbins + 1) + np.bincount(
            lower + 1, upper_share * signal, nbins + 1
        )
        counts, sums = counts[:nbins], sums[:nbins]
    else:
        index = position.astype(np.int64)
        counts = np.bincount(index, weight, nbins)
        sums = np.bincount(index, signal, nbins)
    with np.errstate(invalid="ignore", divide="ignore"):
        intensity = np.where(counts > 0, sums / counts, np.nan)
    radius = (np.arange(nbins) + 0.5) * width
    return radius, intensity


def find_rings(radius, intensity, *, count=5) -> np.ndarray:
    """Radii of the strongest rings of a radial profile (its most prominent maxima).

    Parameters
    ----------
    radius, intensity : array-like
        A profile from :func:`azimuthal_average` (NaN bins are skipped).
    count : int, default 5
        Largest number of rings returned.

    Returns
    -------
    numpy.ndarray
        Up to ``count`` radii in pixels, increasing.

    Raises
    ------
    ValueError
        Profiles of different lengths, or ``count`` < 1.

    Examples
    --------
    >>> r = np.arange(100.0)
    >>> profile = np.exp(-((r - 30) ** 2) / 8) + 0.5 * np.exp(-((r - 60) ** 2) / 8)
    >>> find_rings(r, profile).tolist()
    [30.0, 60.0]
    """
    radius = np.asarray(radius, dtype=np.float64)
    intensity = np.asarray(intensity, dtype=np.float64)
    if radius.shape != intensity.shape or radius.ndim != 1:
        raise ValueError(
            f"intensity: expected a 1-D profile like radius {radius.shape}, got {intensity.shape}"
        )
    count = _validate.integer(count, "count", minimum=1)
    finite = np.isfinite(intensity)
    peaks, props = find_peaks(intensity[finite], prominence=0)
    strongest = peaks[np.argsort(props["prominences"])[::-1][:count]]
    return np.sort(radius[finite][strongest])


def save_profile(radius, intensity, path, *, overwrite=False) -> Path:
    """Write a radial profile as CSV (``radius_px,intensity``), atomically.

    Parameters
    ----------
    radius, intensity : array-like
        A profile from :func:`azimuthal_average`.
    path : str or path-like
        A ``.csv`` file.
    overwrite : bool, default False
        Replace an existing file.

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    ValueError
        Not a ``.csv`` path, or profiles of different lengths.
    FileExistsError
        ``path`` exists and ``overwrite`` is False.

    Examples
    --------
    >>> import tempfile
    >>> path = save_profile([0.5, 1.5], [3.0, np.nan], tempfile.mkdtemp() + "/p.csv")
    >>> path.read_text().splitlines()
    ['radius_px,intensity', '0.5,3', '1.5,nan']
    """
    path = Path(path).expanduser()
    if path.suffix.lower() != ".csv":
        raise ValueError(f"path: expected a .csv file, got {str(path)!r}")
    radius, intensity = np.ravel(radius), np.ravel(intensity)
    if radius.shape != intensity.shape:
        raise ValueError(
            f"intensity: expected {radius.size} values like radius, got {intensity.size}"
        )
    check_output(path, overwrite=overwrite, array=False)
    if not path.parent.is_dir():
        raise FileNotFoundError(f"folder {str(path.parent)!r} does not exist")
    lines = ["radius_px,intensity"] + [
        f"{r:.6g},{i:.6g}" for r, i in zip(radius, intensity, strict=True)
    ]
    with atomic_output(path) as tmp:
        tmp.write_text("\n".join(lines) + "\n")
    return path
