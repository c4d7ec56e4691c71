"""Centre of rotation: Vo's Fourier metric, phase correlation, minimum entropy, and a sweep.

All results follow TomoPy's convention: the rotation axis passes through detector column
``center`` (a float). A parallel-beam view at ``theta + pi`` is the view at ``theta`` mirrored
about that column, which every method here exploits; 360-degree scans give many such pairs.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import dask
import dask.array as da
import numpy as np
import scipy.fft
import scipy.ndimage
import scipy.optimize
from skimage.registration import phase_cross_correlation

from detcal.tomo.gridding import GriddingBackprojector, axis_extent, cached_backprojector
from detcal.tomo.recon import check_centers, check_geometry

METHODS = ("vo", "pc", "nm")


def _sinogram(tomo, ind: int | None) -> np.ndarray:
    """One row of ``tomo`` as a float64 (angle, col) numpy sinogram (computing only it)."""
    n_rows = tomo.shape[1]
    ind = n_rows // 2 if ind is None else int(ind)
    if not 0 <= ind < n_rows:
        raise ValueError(f"ind must be a row of tomo, 0 to {n_rows - 1}; got {ind}")
    sino = tomo[:, ind, :]
    if isinstance(sino, da.Array):
        sino = sino.compute()
    return _clean(sino)


def _clean(sino) -> np.ndarray:
    """Return a sinogram as float64 with NaN and inf set to 0."""
    return np.nan_to_num(np.asarray(sino, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)


def _span(theta: np.ndarray) -> float:
    """Angular range covered, counting one step beyond the last angle."""
    if theta.size < 2:
        return 0.0
    step = np.median(np.abs(np.diff(theta)))
    return float(np.ptp(theta) + step)


def _is_360(theta: np.ndarray) -> bool:
    return _span(theta) > 1.5 * np.pi


def _best_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Peak normalised circular cross-correlation of two zero-padded 1D profiles."""
    a = a - a.mean()
    b = b - b.mean()
    norm = np.linalg.norm(a) * np.linalg.norm(b)
    if norm == 0:
        return 0.0
    n = scipy.fft.next_fast_len(2 * a.size)
    cc = scipy.fft.irfft(scipy.fft.rfft(a, n) * np.conj(scipy.fft.rfft(b, n)), n)
    return float(cc.max() / norm)


def _warn_if_360(sino: np.ndarray, theta: np.ndarray) -> None:
    """Warn when angles say 180 degrees but the last view repeats the first unmirrored."""
    if _is_360(theta) or sino.shape[0] < 4:
        return
    first, last = sino[0], sino[-1]
    plain = _best_correlation(first, last)
    mirrored = _best_correlation(first, last[::-1])
    if plain > 0.98 and plain - mirrored > 0.02:
        warnings.warn(
            "theta spans 180 degrees but the last projection matches the first one "
            f"unmirrored (correlation {plain:.3f} vs {mirrored:.3f} mirrored): this looks like "
            "a 360-degree scan given 180-degree angles; pass the real angles (0 to 2 pi) or "
            "convert it with sino_360_to_180",
            UserWarning,
            stacklevel=3,
        )


def _halves(sino: np.ndarray, theta: np.ndarray) -> list[np.ndarray]:
    """Split a sinogram into 180-degree parts (one for a 180 scan, two for 360)."""
    if not _is_360(theta):
        return [sino]
    rel = np.mod(theta - theta[0], 2 * np.pi)
    first = rel < np.pi
    return [sino[first], sino[~first]]


def _decimate(sino: np.ndarray, max_angles: int, binning: int) -> np.ndarray:
    step = max(1, math.ceil(sino.shape[0] / max_angles))
    sino = sino[::step]
    if binning > 1:
        n = sino.shape[1] // binning * binning
        sino = sino[:, :n].reshape(sino.shape[0], -1, binning).mean(axis=2)
    return sino


def _vo_mask(n_rows: int, n_freq: int, n_cols: int, radius: float, drop: int) -> np.ndarray:
    """Inverse double wedge on an (angle frequency, rfft column frequency) grid.

    True where a consistent 360-degree sinogram of an object of ``radius`` pixels has (almost)
    no energy: high angular frequency ``a`` against low detector frequency ``u``,
    ``|u| * n_cols < |a| * n_cols / (2 pi radius)``.
    """
    a = np.abs(np.fft.fftfreq(n_rows, d=1.0 / n_rows))[:, None]
    u = np.arange(n_freq)[None, :]
    mask = u < a * n_cols / (2.0 * np.pi * radius)
    mask &= a > min(drop, math.ceil(0.05 * n_rows))
    mask[:, :2] = False
    return mask


def _vo_metrics(
    halves: list[np.ndarray], centers: np.ndarray, ratio: float, drop: int
) -> np.ndarray:
    """Vo's metric (mean spectrum magnitude in the inverse double wedge) per candidate centre.

    The mirrored sinogram is moved by a periodic (Fourier) shift, so every candidate uses the
    full detector width and the metrics are comparable.
    """
    n_cols = halves[0].shape[1]
    mid = (n_cols - 1) / 2.0
    shifts = 2.0 * (centers - mid)
    freq = np.fft.rfftfreq(n_cols)
    metrics = np.zeros(centers.size)
    for sino in halves:
        spec_flip = scipy.fft.rfft(sino[:, ::-1], axis=1)
        mask = _vo_mask(2 * sino.shape[0], n_cols // 2 + 1, n_cols, 0.5 * ratio * n_cols, drop)
        for i, d in enumerate(shifts):
            # mirrored view moved so that column j holds p(theta, 2 c - j)
            moved = scipy.fft.irfft(spec_flip * np.exp(-2j * np.pi * freq * d), n=n_cols, axis=1)
            spec = np.abs(scipy.fft.rfft2(np.vstack([sino, moved]), workers=-1))
            metrics[i] += spec[mask].mean()
    return metrics


def _parabolic_minimum(x: np.ndarray, y: np.ndarray) -> float:
    """Minimum of the parabola through the lowest sample and its neighbours."""
    i = int(np.argmin(y))
    if i == 0 or i == len(y) - 1:
        return float(x[i])
    y0, y1, y2 = y[i - 1], y[i], y[i + 1]
    denom = y0 - 2.0 * y1 + y2
    if denom <= 0:
        return float(x[i])
    offset = 0.5 * (y0 - y2) / denom
    return float(x[i] + offset * (x[i + 1] - x[i]))


def find_center_vo(
    tomo,
    theta=None,
    *,
    ind: int | None = None,
    smin: float = -50.0,
    smax: float = 50.0,
    srad: float = 6.0,
    step: float = 0.25,
    ratio: float = 0.5,
    drop: int = 20,
) -> float:
    """Find the rotation axis with Vo's Fourier-space metric (coarse, then fine).

    Each candidate centre mirrors the 180-degree sinogram about that column and stacks it
    under the original, making a 360-degree sinogram; when the centre is right, the stack's 2D
    spectrum has almost no energy inside an inverse double wedge. A coarse search on a binned
    sinogram over ``[mid + smin, mid + smax]`` is followed by a fine one within ``srad`` at
    ``step``, and a parabola through the best three.

    Parameters
    ----------
    tomo : ndarray or dask array, (angle, row, col)
        Normalised, ``-log`` projections; only row ``ind`` is read.
    theta : array-like or None
        Angles in radians; None means evenly over 180 degrees. A 360-degree scan is split into
        its two halves and their metrics added.
    ind : int or None
        Row to use; None is the middle row.
    smin, smax : float
        Coarse search range relative to the detector middle, in pixels.
    srad : float
        Fine search radius around the coarse result, in pixels.
    step : float
        Fine search step, in pixels.
    ratio : float
        Object diameter over the detector width (sets the wedge).
    drop : int
        Lowest angular frequencies left out of the metric.

    Returns
    -------
    float
        The rotation axis column.

    Raises
    ------
    ValueError
        Bad shapes, angles, row or search range.

    References
    ----------
    Vo, Drakopoulos, Atwood and Reinhard, Opt. Express 22, 19078 (2014),
    doi:10.1364/OE.22.019078.

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> scan = make_tomography(noise=False, stripes=False, outliers=False)
    >>> abs(find_center_vo(scan.line_integrals, scan.theta) - scan.center) < 0.25
    True
    """
    if theta is None:
        theta = np.arange(tomo.shape[0]) * (np.pi / tomo.shape[0])
    theta = check_geometry(tomo, theta)
    if not (smin < smax and srad > 0 and step > 0 and 0 < ratio <= 1):
        raise ValueError(
            f"need smin < smax, srad > 0, step > 0 and 0 < ratio <= 1; got smin={smin}, "
            f"smax={smax}, srad={srad}, step={step}, ratio={ratio}"
        )
    sino = _sinogram(tomo, ind)
    _warn_if_360(sino, theta)
    n_cols = sino.shape[1]
    mid = (n_cols - 1) / 2.0
    smin = max(smin, -n_cols / 2.0 + 4)
    smax = min(smax, n_cols / 2.0 - 4)
    # a 3 x 3 median keeps isolated outliers (zingers) out of the spectrum
    halves = _halves(scipy.ndimage.median_filter(sino, size=3, mode="nearest"), theta)
    binning = max(1, n_cols // 512)
    coarse = [_decimate(h, 256, binning) for h in halves]
    cmid = (coarse[0].shape[1] - 1) / 2.0
    cand = cmid + np.arange(math.ceil(2 * smin / binning), math.floor(2 * smax / binning) + 1) / 2
    metrics = _vo_metrics(coarse, cand, ratio, drop)
    # binned column k covers columns k * binning to (k + 1) * binning - 1
    rough = cand[int(np.argmin(metrics))] * binning + (binning - 1) / 2.0
    fine = [_decimate(h, 720, 1) for h in halves]
    lo = max(rough - srad, mid + smin)
    hi = min(rough + srad, mid + smax)
    cand = np.arange(lo, hi + step / 2, step)
    metrics = _vo_metrics(fine, cand, ratio, drop)
    return _parabolic_minimum(cand, metrics)


def find_center_pc(proj1, proj2, *, tol: float = 0.5) -> float:
    """Find the rotation axis from two projections 180 degrees apart (phase correlation).

    The second projection, mirrored, is the first one shifted by ``2 * center - (n - 1)``.

    Parameters
    ----------
    proj1, proj2 : array-like, (row, col) or (col,)
        Projections at ``theta`` and ``theta + pi``.
    tol : float
        Precision of the registration shift in pixels (the centre's is half of it).

    Returns
    -------
    float
        The rotation axis column.

    Raises
    ------
    ValueError
        If the projections differ in shape or ``tol`` is not positive.

    References
    ----------
    Guizar-Sicairos, Thurman and Fienup, Opt. Lett. 33, 156 (2008),
    doi:10.1364/OL.33.000156 (sub-pixel registration).

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> scan = make_tomography(n_angles=360, full_360=True, noise=False, stripes=False,
    ...                        outliers=False)
    >>> p = scan.line_integrals
    >>> abs(find_center_pc(p[0], p[180], tol=0.1) - scan.center) < 0.1
    True
    """
    a = np.atleast_2d(np.asarray(proj1, dtype=np.float64))
    b = np.atleast_2d(np.asarray(proj2, dtype=np.float64))
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(
            f"proj1 and proj2 must be projections of the same shape; got {a.shape}, {b.shape}"
        )
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol}")
    return _pc_shift(a, b[:, ::-1], math.ceil(1.0 / tol)) / 2.0 + (a.shape[1] - 1) / 2.0


def _pc_shift(reference: np.ndarray, mirrored: np.ndarray, upsample: int) -> float:
    """Column shift that registers ``mirrored`` onto ``reference`` (cross-correlation peak)."""
    shift, _, _ = phase_cross_correlation(
        reference, mirrored, upsample_factor=upsample, normalization=None
    )
    return float(shift[-1])


def _opposite_pairs(theta: np.ndarray, max_pairs: int) -> list[tuple[int, int, float]]:
    """Pairs (i, j, gap) of views with theta_j close to theta_i + pi; gap in radians."""
    n = theta.size
    step = float(np.median(np.abs(np.diff(theta)))) if n > 1 else np.pi
    if _is_360(theta):
        starts = np.unique(np.linspace(0, n - 1, 2 * max_pairs).astype(int))
    else:
        starts = np.arange(min(3, n))
    pairs = []
    for i in starts:
        gap = np.mod(theta - theta[i] - np.pi + np.pi, 2 * np.pi) - np.pi
        for j in np.argsort(np.abs(gap))[:2]:
            if j != i and abs(gap[j]) <= 4.5 * step:
                pairs.append((int(i), int(j), float(gap[j])))
    best = sorted(pairs, key=lambda p: abs(p[2]))[: 2 * max_pairs]
    if not best:
        raise ValueError("theta has no pair of views about 180 degrees apart")
    return best


def _center_pc(tomo, theta: np.ndarray, tol: float) -> float:
    n_cols = tomo.shape[2]
    pairs = _opposite_pairs(theta, 6)
    needed = sorted({k for i, j, _ in pairs for k in (i, j)})
    views = tomo[needed]
    if isinstance(views, da.Array):
        views = views.compute()
    views = np.nan_to_num(np.asarray(views, dtype=np.float64))
    lookup = {k: views[n] for n, k in enumerate(needed)}
    upsample = max(4, math.ceil(4.0 / tol))
    shifts = np.array([_pc_shift(lookup[i], lookup[j][:, ::-1], upsample) for i, j, _ in pairs])
    gaps = np.array([g for _, _, g in pairs])
    if np.ptp(gaps) < 1e-6:
        shift = float(np.median(shifts))
    else:
        # the shift drifts linearly with the angle mismatch: extrapolate to exactly pi
        shift = float(np.polyval(np.polyfit(gaps, shifts, 1), 0.0))
    return shift / 2.0 + (n_cols - 1) / 2.0


def _entropy(image: np.ndarray, lo: float, hi: float, bins: int = 128) -> float:
    """Shannon entropy of a histogram with linear (soft) binning, for a smooth objective."""
    pos = (np.clip(image, lo, hi) - lo) / (hi - lo) * (bins - 1)
    low = np.floor(pos).astype(int)
    frac = pos - low
    hist = np.bincount(low, weights=1.0 - frac, minlength=bins + 1)
    hist += np.bincount(low + 1, weights=frac, minlength=bins + 1)
    p = hist[hist > 0] / image.size
    return float(-(p * np.log(p)).sum())


#: Low-pass of the slices whose entropy ``"nm"`` compares (Butterworth cut-off, order).
_NM_FILTER = (0.15, 2.0)


def _center_nm(
    sino: np.ndarray, theta: np.ndarray, init: float, tol: float, smin: float, smax: float
) -> float:
    n_cols = sino.shape[1]
    if _is_360(theta):
        # a wrong centre blurs a 360-degree slice into smooth rings of low entropy: use the
        # first half, where it makes the usual sharp arcs
        first = np.mod(theta - theta[0], 2 * np.pi) < np.pi
        sino, theta = sino[first], theta[first]
    step = max(1, math.ceil(theta.size / 360))
    # the entropy of a noisy slice is ruled by its noise, not by the axis: judge a denoised
    # one (a 3 x 3 median takes out outliers and most counting noise, a low-pass the rest;
    # both are symmetric, so they move no edge)
    sino, theta_d = scipy.ndimage.median_filter(sino[::step], size=3), theta[::step]
    projector = GriddingBackprojector(theta_d, n_cols, n_cols)
    r = np.arange(n_cols) - (n_cols - 1) / 2.0
    inside = (r[:, None] ** 2 + r[None, :] ** 2) < (0.45 * n_cols) ** 2

    def slices(centers: np.ndarray) -> np.ndarray:
        stack = np.broadcast_to(sino, (centers.size,) + sino.shape)
        rec = projector.reconstruct(
            stack, centers, filter_name="butterworth", filter_par=_NM_FILTER, pad=True
        )
        return rec[:, inside]

    first = slices(np.array([init]))[0]
    lo, hi = np.percentile(first, [0.5, 99.5])
    spread = hi - lo if hi > lo else 1.0
    lo, hi = lo - 0.5 * spread, hi + 0.5 * spread

    def cost(centers: np.ndarray) -> np.ndarray:
        return np.array([_entropy(s, lo, hi) for s in slices(centers)])

    lower, upper = max(init + smin, 1.0), min(init + smax, n_cols - 2.0)
    grid = np.arange(lower, upper + 1.0, 2.0)
    best = grid[int(np.argmin(cost(grid)))]
    result = scipy.optimize.minimize_scalar(
        lambda c: cost(np.array([c]))[0],
        bounds=(max(best - 2.0, lower), min(best + 2.0, upper)),
        method="bounded",
        options={"xatol": tol / 4.0},
    )
    return float(result.x)


def find_center(
    tomo,
    theta,
    *,
    method: str = "vo",
    ind: int | None = None,
    init: float | None = None,
    tol: float = 0.5,
    ratio: float = 0.5,
    smin: float = -50.0,
    smax: float = 50.0,
    srad: float = 6.0,
    step: float = 0.25,
    drop: int = 20,
) -> float:
    """Find the rotation axis column of a parallel-beam scan.

    Parameters
    ----------
    tomo : ndarray or dask array, (angle, row, col)
        Normalised, ``-log`` projections (line integrals). A dask array is read only where
        needed (one sinogram, or a few projections for ``"pc"``).
    theta : array-like, (angle,)
        Angles in radians, over 180 or 360 degrees.
    method : {"vo", "pc", "nm"}
        ``"vo"``: Vo's Fourier metric on sinogram ``ind`` (see ``find_center_vo``).
        ``"pc"``: phase correlation of whole projections with their mirrored opposites; on a
        180-degree scan (whose last view falls one step short of 180 degrees) several pairs
        are registered and the shift extrapolated linearly to an exact 180-degree pair; on a
        360-degree scan the shifts of exact pairs are averaged.
        ``"nm"``: the centre whose reconstruction of sinogram ``ind`` has the lowest
        histogram entropy (grid search at 2 px, then bounded Brent refinement).
    ind : int or None
        Row for ``"vo"`` and ``"nm"``; None is the middle row.
    init : float or None
        Starting guess for ``"nm"`` (None: the detector middle).
    tol : float
        Precision in pixels for ``"pc"`` (registration to ``tol / 4``) and ``"nm"``
        (refinement to ``tol / 4``).
    ratio, smin, smax, srad, step, drop
        Search settings (see ``find_center_vo``); ``smin``/``smax`` also bound ``"nm"``'s
        search around ``init``.

    Returns
    -------
    float
        The rotation axis column (TomoPy's convention).

    Raises
    ------
    ValueError
        Unknown method; bad shapes, angles, row or initial guess.

    Warns
    -----
    UserWarning
        If the angles span 180 degrees but the data look like a 360-degree scan.

    References
    ----------
    Vo et al., Opt. Express 22, 19078 (2014), doi:10.1364/OE.22.019078. Donath et al.,
    J. Opt. Soc. Am. A 23, 1048 (2006), doi:10.1364/JOSAA.23.001048 (entropy).

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> scan = make_tomography(noise=False, stripes=False, outliers=False)
    >>> abs(find_center(scan.line_integrals, scan.theta, method="pc") - scan.center) < 0.25
    True
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; expected one of {', '.join(METHODS)}")
    theta = check_geometry(tomo, theta)
    if not tol > 0:
        raise ValueError(f"tol must be positive; got {tol}")
    n_cols = tomo.shape[2]
    if method == "vo":
        return find_center_vo(
            tomo,
            theta,
            ind=ind,
            smin=smin,
            smax=smax,
            srad=srad,
            step=step,
            ratio=ratio,
            drop=drop,
        )
    sino = _sinogram(tomo, ind)
    _warn_if_360(sino, theta)
    if method == "pc":
        return _center_pc(tomo, theta, tol)
    init = (n_cols - 1) / 2.0 if init is None else float(init)
    check_centers(init, 1, n_cols)
    return _center_nm(sino, theta, init, tol, smin, smax)


def center_sweep(
    tomo,
    theta,
    *,
    centers: Sequence[float] | np.ndarray,
    ind: int | None = None,
    filter_name: str = "shepp",
    filter_par: Sequence[float] | None = None,
    pad: bool = True,
    ncore: int | None = None,
    lazy: bool | None = None,
):
    """Reconstruct one slice at each of several candidate centres, as a stack to scroll.

    Parameters
    ----------
    tomo : ndarray or dask array, (angle, row, col)
        Normalised, ``-log`` projections; only row ``ind`` is read.
    theta : array-like, (angle,)
        Angles in radians.
    centers : sequence of float
        Candidate rotation axis columns.
    ind : int or None
        Row to reconstruct; None is the middle row.
    filter_name, filter_par, pad
        See ``detcal.tomo.recon.recon``.
    ncore : int or None
        Threads.
    lazy : bool or None
        Return a dask array computed two centres per chunk; None: lazy when ``tomo`` is a
        dask array or the stack would exceed 256 MiB.

    Returns
    -------
    ndarray or dask array, (len(centers), N, N), float32
        Slice ``ind`` reconstructed at each centre.

    Raises
    ------
    ValueError
        Bad shapes, angles, row, centres or filter.

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> scan = make_tomography(noise=False)
    >>> center_sweep(scan.line_integrals, scan.theta, centers=[66, 67, 68]).shape
    (3, 128, 128)
    """
    from detcal.tomo.filters import check_filter

    theta = check_geometry(tomo, theta)
    n_cols = tomo.shape[2]
    centers = np.asarray(centers, dtype=np.float64).ravel()
    if centers.size == 0:
        raise ValueError("centers is empty")
    centers = check_centers(centers, centers.size, n_cols)
    par = check_filter(filter_name, filter_par)
    if lazy is None:
        lazy = isinstance(tomo, da.Array) or centers.size * n_cols**2 * 4 > 256 * 2**20
    n_rows = tomo.shape[1]
    ind = n_rows // 2 if ind is None else int(ind)
    if not 0 <= ind < n_rows:
        raise ValueError(f"ind must be a row of tomo, 0 to {n_rows - 1}; got {ind}")

    extent = axis_extent(centers, n_cols)

    def block(sino: np.ndarray, cs: np.ndarray) -> np.ndarray:
        projector = cached_backprojector(theta, n_cols, n_cols, nthreads=ncore, extent=extent)
        stack = np.broadcast_to(sino, (cs.size,) + sino.shape)
        return projector.reconstruct(stack, cs, filter_name=filter_name, filter_par=par, pad=pad)

    if not lazy:
        return block(_sinogram(tomo, ind), centers)
    # the sinogram is read once (when the first plane is computed) and shared by the chunks
    sino = dask.delayed(_clean)(tomo[:, ind, :])
    parts = [
        da.from_delayed(
            dask.delayed(block)(sino, centers[i : i + 2]),
            shape=(centers[i : i + 2].size, n_cols, n_cols),
            dtype=np.float32,
        )
        for i in range(0, centers.size, 2)
    ]
    return da.concatenate(parts, axis=0)
