"""Synthetic parallel-beam tomography scans with their ground truth.

The object is a small set of ellipsoids; each detector row sees one horizontal slice of it, a
set of ellipses whose line integrals are known in closed form, so the sinogram is exact (not a
discrete Radon transform of a pixel grid). Raw counts are then made the way a detector makes
them: a flat beam with per-pixel gain, attenuated, plus a dark offset and noise, with a few
columns whose gain drifted after the flats were taken (stripes in the sinogram, rings in the
slice) and a few bright outlier pixels (zingers).

Geometry (TomoPy's): projection ``p`` of slice ``f`` at angle ``theta`` and detector column
``j`` is the integral of ``f`` along the line ``c cos(theta) - r sin(theta) = j - center``,
where ``(r, c)`` are the row and column offsets of a point of the slice from the rotation
axis, in detector pixels. The slice grid has the axis at its middle, ``(M - 1) / 2``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Ellipsoids in units of the object radius: x (columns, to the right), y (up, i.e. towards
# smaller row indices), z (detector rows, downwards); semi-axes a (along angle phi), b, c;
# phi in degrees; density added inside, in units of 1 / object radius.
_ELLIPSOIDS = np.array(
    [
        # x0,    y0,    z0,    a,     b,     c,     phi,   density
        [0.00, 0.00, 0.00, 0.95, 0.80, 4.00, 0.0, 1.00],
        [-0.35, 0.10, 0.00, 0.25, 0.45, 2.00, 20.0, -0.40],
        [0.35, 0.10, 0.00, 0.20, 0.35, 2.00, -15.0, 0.60],
        [0.00, -0.45, 0.00, 0.30, 0.12, 1.00, 0.0, 0.80],
        [0.10, 0.50, 0.01, 0.08, 0.08, 0.06, 0.0, 1.50],
        [-0.10, -0.10, -0.01, 0.05, 0.05, 0.05, 0.0, 2.00],
        [0.55, -0.35, 0.00, 0.10, 0.06, 0.50, 45.0, -0.50],
    ]
)


@dataclass(frozen=True)
class TomographySample:
    """A synthetic scan and its ground truth.

    Attributes
    ----------
    projections : ndarray, (angle, row, col), uint16
        Raw detector counts: ``gain * flat_level * exp(-line_integrals) + dark``, with noise,
        stripes and outliers as requested.
    flats : ndarray, (n, row, col), uint16
        Open-beam images (no sample), same gain, with noise.
    darks : ndarray, (n, row, col), uint16
        Images with the beam off.
    theta : ndarray, (angle,), float64
        Rotation angles in radians, evenly spaced over pi (or 2 pi), endpoint excluded.
    center : float
        True rotation axis as a detector column index (TomoPy's convention).
    phantom : ndarray, (row, M, M), float32
        Attenuation per pixel of each slice (pixel averages), axis at ``(M - 1) / 2``.
        ``M = n_cols`` except for half-acquisition scans, where the object is wider than
        the detector and ``M`` covers the whole object.
    line_integrals : ndarray, (angle, row, col), float32
        The exact noise-free sinograms (what ``-log`` of the normalised data estimates).
    stripe_columns : ndarray of int
        Columns whose gain differs between projections and flats.
    outlier_mask : ndarray of bool, (angle, row, col)
        Pixels of ``projections`` replaced by outliers.
    object_mask : ndarray of bool, (row, M, M)
        Pixels inside the object (the outer ellipse).
    """

    projections: np.ndarray
    flats: np.ndarray
    darks: np.ndarray
    theta: np.ndarray
    center: float
    phantom: np.ndarray
    line_integrals: np.ndarray
    stripe_columns: np.ndarray
    outlier_mask: np.ndarray
    object_mask: np.ndarray


def _slice_ellipses(z: float) -> np.ndarray:
    """Return (x0, y0, a, b, phi_rad, density) of the ellipses cut at height ``z``."""
    x0, y0, z0, a, b, c, phi, rho = _ELLIPSOIDS.T
    q = 1.0 - ((z - z0) / c) ** 2
    keep = q > 0
    s = np.sqrt(np.where(keep, q, 0.0))
    out = np.stack([x0, y0, a * s, b * s, np.deg2rad(phi), rho], axis=1)
    return out[keep]


def ellipse_line_integrals(ellipses: np.ndarray, theta: np.ndarray, s: np.ndarray) -> np.ndarray:
    """Line integrals of a sum of uniform ellipses (closed form).

    Parameters
    ----------
    ellipses : ndarray, (k, 6)
        Rows of ``(x0, y0, a, b, phi, density)``: centre (x to the right, y up), semi-axes,
        orientation of ``a`` in radians counter-clockwise from x, density inside.
    theta : ndarray, (angle,)
        Projection angles in radians.
    s : ndarray, (..., col)
        Signed detector positions, same length unit as the ellipses.

    Returns
    -------
    ndarray, (angle, ...)
        Integral of the density along ``x cos(theta) + y sin(theta) = s``.

    Examples
    --------
    >>> disc = np.array([[0.0, 0.0, 1.0, 1.0, 0.0, 1.0]])
    >>> float(ellipse_line_integrals(disc, np.array([0.3]), np.array([0.0]))[0, 0])
    2.0
    """
    theta = np.asarray(theta, dtype=np.float64)
    s = np.asarray(s, dtype=np.float64)
    out = np.zeros(theta.shape + s.shape)
    cos, sin = np.cos(theta), np.sin(theta)
    shape = theta.shape + (1,) * s.ndim
    for x0, y0, a, b, phi, rho in ellipses:
        alpha = theta - phi
        a2 = (a * np.cos(alpha)) ** 2 + (b * np.sin(alpha)) ** 2
        shift = (x0 * cos + y0 * sin).reshape(shape)
        d = s - shift
        r2 = a2.reshape(shape) - d**2
        out += np.where(r2 > 0, 2.0 * rho * a * b * np.sqrt(np.maximum(r2, 0.0)), 0.0) / a2.reshape(
            shape
        )
    return out


def _ellipse_image(ellipses: np.ndarray, size: int, radius: float, sub: int) -> np.ndarray:
    """Pixel averages (``sub`` x ``sub`` samples) of the ellipses on a ``size``^2 grid."""
    image = np.zeros((size, size))
    mid = (size - 1) / 2.0
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    for x0, y0, a, b, phi, rho in ellipses:
        # bounding box in pixels, then sample only there
        extent = max(a, b) * radius + 1.5
        cx, cy = mid + x0 * radius, mid - y0 * radius
        c0, c1 = max(int(cx - extent), 0), min(int(cx + extent) + 2, size)
        r0, r1 = max(int(cy - extent), 0), min(int(cy + extent) + 2, size)
        if c0 >= c1 or r0 >= r1:
            continue
        rows = np.arange(r0, r1)[:, None] + offsets[None, :]
        cols = np.arange(c0, c1)[:, None] + offsets[None, :]
        y = (mid - rows.reshape(-1))[:, None] / radius - y0
        x = (cols.reshape(-1) - mid)[None, :] / radius - x0
        u = x * np.cos(phi) + y * np.sin(phi)
        v = -x * np.sin(phi) + y * np.cos(phi)
        inside = (u / a) ** 2 + (v / b) ** 2 <= 1.0
        frac = inside.reshape(r1 - r0, sub, c1 - c0, sub).mean(axis=(1, 3))
        image[r0:r1, c0:c1] += rho * frac
    return image


def make_tomography(
    *,
    n_angles: int = 180,
    n_rows: int = 4,
    n_cols: int = 128,
    center_offset: float = 3.7,
    full_360: bool = False,
    half_acquisition: bool = False,
    stripes: bool = True,
    outliers: bool = True,
    noise: bool = True,
    flat_level: float = 20000.0,
    dark_level: float = 100.0,
    n_flats: int = 10,
    n_darks: int = 10,
    seed: int = 0,
) -> TomographySample:
    """Make a synthetic parallel-beam scan of an ellipsoid phantom, with its ground truth.

    Parameters
    ----------
    n_angles : int
        Number of projections, evenly spaced over pi (or 2 pi with ``full_360``), endpoint
        excluded.
    n_rows, n_cols : int
        Detector rows (slices) and columns.
    center_offset : float
        Rotation axis minus the detector middle, in pixels: the axis passes through column
        ``(n_cols - 1) / 2 + center_offset``.
    full_360 : bool
        Scan over 2 pi instead of pi.
    half_acquisition : bool
        Make the object wider than the detector, seen whole only by combining opposite views
        (an offset-axis 360-degree scan). Needs ``full_360`` and
        ``abs(center_offset) >= n_cols / 8``.
    stripes : bool
        Give a few columns a gain in the projections that differs from the flats.
    outliers : bool
        Replace a few projection pixels by bright outliers.
    noise : bool
        Poisson counting noise and Gaussian read noise (sigma 3 counts).
    flat_level : float
        Mean open-beam counts above the dark.
    dark_level : float
        Mean dark counts.
    n_flats, n_darks : int
        Number of flat and dark images.
    seed : int
        Seed of the random generator.

    Returns
    -------
    TomographySample
        Raw projections, flats, darks, angles, the true centre and the phantom.

    Raises
    ------
    ValueError
        If a size is too small or the half-acquisition settings are inconsistent.

    Examples
    --------
    >>> scan = make_tomography(n_angles=90, n_rows=2, n_cols=64)
    >>> scan.projections.shape, scan.phantom.shape, round(scan.center, 2)
    ((90, 2, 64), (2, 64, 64), 35.2)
    """
    if n_angles < 2 or n_rows < 1 or n_cols < 16:
        raise ValueError(
            f"need n_angles >= 2, n_rows >= 1 and n_cols >= 16; got {n_angles}, {n_rows}, {n_cols}"
        )
    center = (n_cols - 1) / 2.0 + float(center_offset)
    near = min(center + 0.5, n_cols - 0.5 - center)
    far = max(center + 0.5, n_cols - 0.5 - center)
    if half_acquisition:
        if not full_360:
            raise ValueError("half_acquisition=True needs full_360=True")
        if abs(center_offset) < n_cols / 8:
            raise ValueError(
                f"half_acquisition needs abs(center_offset) >= n_cols / 8 = {n_cols / 8}; "
                f"got {center_offset}"
            )
        radius = 0.92 * far
        size = 2 * int(np.ceil(far))
    else:
        if near < n_cols / 4:
            raise ValueError(
                f"center_offset={center_offset} puts the axis too close to the detector edge "
                f"for a {n_cols}-column scan; use half_acquisition for offset-axis scans"
            )
        radius = 0.92 * near
        size = n_cols
    rng = np.random.default_rng(seed)
    span = 2 * np.pi if full_360 else np.pi
    theta = np.arange(n_angles) * (span / n_angles)

    # exact sinograms, averaged over 4 positions across each detector pixel
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    s = ((np.arange(n_cols) - center)[:, None] + sub[None, :]) / radius
    zs = (np.arange(n_rows) - (n_rows - 1) / 2.0) / radius
    sino = np.empty((n_angles, n_rows, n_cols), dtype=np.float32)
    phantom = np.empty((n_rows, size, size), dtype=np.float32)
    object_mask = np.empty((n_rows, size, size), dtype=bool)
    outer = np.array([[0.0, 0.0, 0.95, 0.80, 0.0, 1.0]])
    for k, z in enumerate(zs):
        ellipses = _slice_ellipses(z)
        # the geometry's x axis is the column, y is up; density in units of 1 / radius
        sino[:, k] = ellipse_line_integrals(ellipses, theta, s).mean(axis=-1)
        phantom[k] = _ellipse_image(ellipses, size, radius, 2) / radius
        object_mask[k] = _ellipse_image(outer, size, radius, 1) > 0

    # detector: smooth beam profile times per-pixel gain (seen by flats and projections)
    cols = np.linspace(-1.0, 1.0, n_cols)
    rows = np.linspace(-1.0, 1.0, n_rows)
    beam = (1.0 - 0.15 * cols[None, :] ** 2) * (1.0 - 0.05 * rows[:, None] ** 2)
    gain = beam * (1.0 + 0.03 * rng.standard_normal((n_rows, n_cols)))
    open_beam = flat_level * gain
    sample_gain = np.ones(n_cols)
    stripe_columns = np.zeros(0, dtype=int)
    if stripes:
        n_stripes = max(2, n_cols // 40)
        stripe_columns = np.sort(rng.choice(n_cols, size=n_stripes, replace=False))
        sample_gain[stripe_columns] += rng.choice([-1.0, 1.0], n_stripes) * rng.uniform(
            0.01, 0.04, n_stripes
        )

    def counts(mean: np.ndarray) -> np.ndarray:
        if noise:
            mean = rng.poisson(np.maximum(mean, 0.0)).astype(np.float64)
            mean += rng.normal(0.0, 3.0, mean.shape)
        return np.clip(np.rint(mean), 0, 65535).astype(np.uint16)

    dark_mean = dark_level + np.zeros((n_rows, n_cols))
    proj = counts(open_beam * sample_gain * np.exp(-sino.astype(np.float64)) + dark_mean)
    flats = counts(np.broadcast_to(open_beam + dark_mean, (n_flats, n_rows, n_cols)))
    darks = counts(np.broadcast_to(dark_mean, (n_darks, n_rows, n_cols)))
    outlier_mask = np.zeros(proj.shape, dtype=bool)
    if outliers:
        n_out = max(1, proj.size // 2000)
        flat_idx = rng.choice(proj.size, size=n_out, replace=False)
        outlier_mask.reshape(-1)[flat_idx] = True
        bright = proj.reshape(-1)[flat_idx].astype(np.float64) + flat_level * rng.uniform(
            0.5, 2.0, n_out
        )
        proj.reshape(-1)[flat_idx] = np.clip(bright, 0, 65535).astype(np.uint16)
    return TomographySample(
        projections=proj,
        flats=flats,
        darks=darks,
        theta=theta,
        center=center,
        phantom=phantom,
        line_integrals=sino,
        stripe_columns=stripe_columns,
        outlier_mask=outlier_mask,
        object_mask=object_mask,
    )


def relative_rms(rec: np.ndarray, truth: np.ndarray, mask: np.ndarray) -> float:
    """Relative r.m.s. error of a reconstruction inside the object: ``||rec - truth|| / ||truth||``.

    Parameters
    ----------
    rec, truth : numpy.ndarray
        Reconstruction and phantom, same shape.
    mask : numpy.ndarray of bool
        Where to compare (the sample's ``object_mask``).

    Returns
    -------
    float
        The error relative to the phantom's r.m.s. value.

    Examples
    --------
    >>> truth = np.ones((2, 2)); mask = np.ones((2, 2), bool)
    >>> round(relative_rms(truth * 1.1, truth, mask), 6)
    0.1
    """
    diff = np.asarray(rec)[mask] - np.asarray(truth)[mask]
    return float(np.sqrt(np.mean(diff**2) / np.mean(np.asarray(truth)[mask] ** 2)))
