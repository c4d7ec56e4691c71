"""Fast large-sigma Gaussian smoothing of (row, col) planes.

``gaussian_smooth(image, sigma)`` gives what ``scipy.ndimage.gaussian_filter`` gives with
``mode="nearest"`` and ``truncate=4`` over the last two axes, far faster when ``sigma`` is large
(the detector-response fit smooths with sigma 50: a 401-tap kernel per axis in SciPy).

Method. Along one axis of length ``n``, SciPy's filter pads the line with ``r = int(truncate *
sigma + 0.5)`` copies of each edge value and correlates it with the normalised, truncated
kernel. On the padded line of length ``N = n + 2 r`` a circular convolution gives the same
``n`` central outputs, so the filter is exactly ``crop . DFT^-1 . diag(K) . DFT . pad`` with
``K`` the kernel's discrete spectrum. For a wide Gaussian, ``K`` is negligible beyond a few
``1 / sigma`` cycles per pixel: keeping the few frequencies where the Gaussian's spectrum
``exp(-2 pi^2 sigma^2 f^2)`` exceeds 1e-9 turns the filter into a product of two thin real
matrices, ``A (n, k) @ B (k, n)`` with ``k`` about ``1.5 n / sigma + 1`` (59 for a 1024 line at
sigma 50). A plane ``X`` is smoothed as ``A_r (B_r X B_c^T) A_c^T``: two BLAS products of cost
``k`` per pixel each, batched over planes, instead of ``2 r + 1`` taps per pixel per axis. The
frequencies dropped carry only the truncated kernel's tiny side lobes, so the result differs
from SciPy's by about 1e-6 of the signal. When ``sigma`` is small the direct filter is cheaper,
and when ``truncate`` is below about 3.5 the side lobes are too large to drop: SciPy's filter is
used then.

Decimated smoothing. The per-pixel fit of a sweep needs the smoothed planes pixel by pixel but
reads them once: :class:`DecimatedGaussian` computes them from block sums of ``f x f`` pixels
(``f`` about ``sigma / 6``), so the full-resolution work is one pass of block sums and a 4-tap
cubic B-spline read-out, done band of rows by band of rows while the band is in cache. Along
one axis the filter is ``E = G + t0 e0^T + t1 e1^T``: ``t0``, ``t1`` are its columns for
the first and last pixel (with the weights that the edge extension folds onto them) and ``G``
the rest, the Gaussian on the pixels in between (smooth in both indices). ``G`` is
approximated as ``W M D``: ``D`` sums blocks (without the edge pixels),
``W`` is the B-spline basis and the small matrix ``M`` is the least-squares best for inputs
smooth at scale ``0.4 sigma`` plus 0.1% white noise (the output is within about 1e-5 of
SciPy's, smooth or noisy). The edge terms are exact: the first and last rows and columns are
smoothed along their length at full resolution and enter through the same B-spline
coefficients, so the edge pixels' large weight (about half of the output next to them) costs
no accuracy.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import dask.array as da
import numba
import numpy as np
from scipy import ndimage

from detcal._compiled import compiled_input

_SPECTRUM_FLOOR = 1e-9  # frequencies where the Gaussian's spectrum is below this are dropped
_SIDE_LOBE_LIMIT = 1e-4  # ... unless the truncated kernel's spectrum there is above this
_PIXELS_PER_SIGMA = 6.0  # decimation factor: one coarse cell per sigma / 6 pixels ...
_MIN_FACTOR = 4  # ... and at least 4 (below that the exact filter is about as cheap)
_MIN_CELLS = 8  # cells per axis at least, else the exact filter is used
_PRIOR_LENGTH = 0.4  # smooth-input prior: correlation length in sigmas ...
_PRIOR_NOISE = 1e-3  # ... plus white noise of this relative variance
_COLUMN_CHUNK = 128  # columns read out per matrix product


def gaussian_smooth(image, sigma: float, *, truncate: float = 4.0):
    """Gaussian-smooth each (row, col) plane, edges extended with their nearest value.

    Equal (to about 1e-6 relative) to ``scipy.ndimage.gaussian_filter(image, sigma=(0, ...,
    sigma, sigma), mode="nearest", truncate=truncate)``, and much faster for large ``sigma``.

    Parameters
    ----------
    image : numpy.ndarray or dask.array.Array
        (row, col) or (..., row, col) array of any real dtype; each plane is smoothed on its
        own. Values must be finite: with the fast method a NaN spoils its whole plane.
    sigma : float
        Standard deviation of the Gaussian in pixels, > 0.
    truncate : float, default 4.0
        Kernel radius in standard deviations (SciPy's meaning).

    Returns
    -------
    numpy.ndarray or dask.array.Array
        Smoothed planes, same shape; float64 for float64 input, float32 otherwise. A dask input
        gives a lazy dask output, rechunked so that each chunk holds whole planes.

    Raises
    ------
    ValueError
        If ``image`` has fewer than 2 dimensions or ``sigma``/``truncate`` is not positive.
    TypeError
        If ``image`` is not of a real numeric dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = np.random.default_rng(0).random((2, 64, 80)) + 1
    >>> fast = gaussian_smooth(x, 20.0)
    >>> slow = ndimage.gaussian_filter(x, (0, 20, 20), mode="nearest", truncate=4)
    >>> bool(np.allclose(fast, slow, rtol=1e-5))
    True
    """
    dtype = _check(image, sigma, truncate)
    if isinstance(image, da.Array):
        planes = image.rechunk({image.ndim - 2: -1, image.ndim - 1: -1})
        return planes.map_blocks(
            gaussian_smooth,
            sigma,
            truncate=truncate,
            dtype=dtype,
            meta=np.empty((0,) * image.ndim, dtype),
        )
    data = np.asarray(image, dtype=dtype)
    rows, cols = data.shape[-2:]
    fast_rows = _factors(rows, float(sigma), float(truncate), np.dtype(dtype).char)
    fast_cols = _factors(cols, float(sigma), float(truncate), np.dtype(dtype).char)
    if fast_rows is None or fast_cols is None:
        per_axis = (0.0,) * (data.ndim - 2) + (float(sigma),) * 2
        return ndimage.gaussian_filter(data, per_axis, mode="nearest", truncate=truncate)
    expand_r, reduce_r = fast_rows
    expand_c, reduce_c = fast_cols
    # the column products run as one large matrix product over all planes' rows; the small
    # row products plane by plane (numpy's broadcast matmul does not call BLAS for them)
    along_cols = (data.reshape(-1, cols) @ reduce_c.T).reshape(-1, rows, reduce_c.shape[0])
    for plane in along_cols:
        plane[...] = expand_r @ (reduce_r @ plane)
    smoothed = along_cols.reshape(-1, along_cols.shape[-1]) @ expand_c.T
    return smoothed.reshape(data.shape)


def _check(image, sigma: float, truncate: float) -> np.dtype:
    """Validate the arguments and return the working dtype."""
    ndim = getattr(image, "ndim", np.ndim(image))
    if ndim < 2:
        raise ValueError(f"image: expected a (row, col) or (..., row, col) array, got {ndim}-D")
    dtype = np.dtype(getattr(image, "dtype", np.asarray(image).dtype))
    if dtype.kind not in "uif":
        raise TypeError(f"image: expected a real numeric dtype, got {dtype}")
    if not np.isfinite(sigma) or sigma <= 0:
        raise ValueError(f"sigma: expected a positive number, got {sigma!r}")
    if not np.isfinite(truncate) or truncate <= 0:
        raise ValueError(f"truncate: expected a positive number, got {truncate!r}")
    return np.dtype(np.float64) if dtype == np.float64 else np.dtype(np.float32)


@functools.lru_cache(maxsize=32)
def _factors(n: int, sigma: float, truncate: float, dtype_char: str):
    """Return ``(expand (n, k), reduce (k, n))`` with ``expand @ reduce`` = the 1-D filter.

    None when the low-rank form is not cheaper than the direct kernel.
    """
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    length = n + 2 * radius
    circular = np.zeros(length)
    circular[: radius + 1] = taps[radius:]
    if radius:
        circular[-radius:] = taps[:radius]
    spectrum = np.fft.rfft(circular).real  # the kernel is symmetric: its spectrum is real
    freq = np.arange(spectrum.size)
    keep = freq[np.exp(-2.0 * (np.pi * sigma * freq / length) ** 2) > _SPECTRUM_FLOOR]
    has_sine = (keep > 0) & (2 * keep != length)  # DC and Nyquist have no sine part
    side_lobes = np.abs(spectrum[keep.size :]).max(initial=0.0)
    if keep.size + int(has_sine.sum()) >= taps.size or side_lobes > _SIDE_LOBE_LIMIT:
        return None
    # forward: cosine and sine parts of the padded line's spectrum at the kept frequencies,
    # with the edge padding folded onto the first and last samples
    source = np.clip(np.arange(length) - radius, 0, n - 1)
    phase = 2.0 * np.pi * np.outer(np.arange(length), keep) / length
    forward = np.zeros((n, keep.size + int(has_sine.sum())))
    np.add.at(forward, source, np.concatenate([np.cos(phase), np.sin(phase[:, has_sine])], 1))
    # inverse: real inverse DFT restricted to the n central samples, spectrum weights folded in
    weight = np.where(has_sine, 2.0, 1.0) * spectrum[keep] / length
    central = phase[radius : radius + n]
    inverse = np.concatenate(
        [np.cos(central) * weight, np.sin(central[:, has_sine]) * weight[has_sine]], axis=1
    )
    expand = np.ascontiguousarray(inverse, dtype=dtype_char)
    reduce = np.ascontiguousarray(forward.T, dtype=dtype_char)
    expand.setflags(write=False)
    reduce.setflags(write=False)
    return expand, reduce


def decimation_factor(shape: tuple[int, int], sigma: float, truncate: float = 4.0) -> int:
    """Return the block size that :class:`DecimatedGaussian` uses, 0 when it does not apply.

    Decimation needs a wide Gaussian (``sigma >= 24``: blocks of at least 4 pixels, at most
    ``sigma / 6``), a kernel truncated far out (``truncate >= 3.5``, so that it is smooth) and
    at least 8 blocks along each axis.

    Examples
    --------
    >>> decimation_factor((1024, 1024), 50.0), decimation_factor((48, 40), 50.0)
    (8, 0)
    """
    factor = int(sigma / _PIXELS_PER_SIGMA)
    if factor < _MIN_FACTOR or truncate < 3.5 or min(shape) < _MIN_CELLS * factor:
        return 0
    return factor


class DecimatedGaussian:
    """Gaussian smoothing of (plane, row, col) blocks through block sums, read out by bands.

    Equal (to about 1e-5 of the signal, 1e-4 at worst) to
    ``scipy.ndimage.gaussian_filter(planes, (0, sigma, sigma), mode="nearest",
    truncate=truncate)``. :meth:`grid` does the work on the whole block (one pass of block
    sums, then small matrix products); :meth:`rows` reads out any band of rows at full
    resolution (4 products per pixel), so that the caller can use it while it is in cache.

    Parameters
    ----------
    shape : tuple of int
        (row, col) of the planes.
    sigma : float
        Standard deviation of the Gaussian in pixels; :func:`decimation_factor` must be > 0.
    truncate : float, default 4.0
        Kernel radius in standard deviations (SciPy's meaning).

    Raises
    ------
    ValueError
        When decimation does not apply (:func:`decimation_factor` is 0).

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import ndimage
    >>> x = 1000 + 100 * np.random.default_rng(0).random((2, 256, 200))  # noisy counts
    >>> smoother = DecimatedGaussian((256, 200), 30.0)
    >>> bands = smoother.rows(smoother.grid(x), 0, 256)  # (row, plane, col)
    >>> ref = ndimage.gaussian_filter(x, (0, 30, 30), mode="nearest", truncate=4)
    >>> bool(np.allclose(bands.transpose(1, 0, 2), ref, rtol=1e-4))
    True
    """

    def __init__(self, shape: tuple[int, int], sigma: float, truncate: float = 4.0):
        factor = decimation_factor(shape, sigma, truncate)
        if not factor:
            raise ValueError(
                f"sigma: {sigma!r} is too small for decimated smoothing of {tuple(shape)} planes"
            )
        self.factor = factor
        self._rows = _decimated_axis(int(shape[0]), float(sigma), float(truncate), factor)
        self._cols = _decimated_axis(int(shape[1]), float(sigma), float(truncate), factor)
        self._sigma, self._truncate = float(sigma), float(truncate)

    def grid(self, planes: np.ndarray, offset: np.ndarray | None = None) -> np.ndarray:
        """Smooth ``planes`` (minus an offset) down to B-spline coefficients along rows.

        Parameters
        ----------
        planes : numpy.ndarray
            (plane, row, col) of any real dtype (uint16 counts are summed exactly).
        offset : numpy.ndarray, optional
            ``coarse(plane[None])`` of a (row, col) plane to subtract from every plane (a
            dark), computed once for many calls.

        Returns
        -------
        numpy.ndarray
            (coefficient, plane, col) float32, for :meth:`rows`.
        """
        coef = self.coarse(planes)
        if offset is not None:
            coef -= offset
        cols = self._cols
        flat = coef.reshape(-1, coef.shape[2])
        out = np.empty((flat.shape[0], cols.basis.shape[0]), np.float32)
        for start in range(0, out.shape[1], _COLUMN_CHUNK):  # banded: 4 non-zeros per column
            stop = min(start + _COLUMN_CHUNK, out.shape[1])
            lo, hi = cols.first[start], cols.last[stop - 1] + 1
            out[:, start:stop] = flat[:, lo:hi] @ cols.basis_t[lo:hi, start:stop]
        return out.reshape(coef.shape[0], coef.shape[1], -1)

    def rows(
        self, grid: np.ndarray, start: int, stop: int, out: np.ndarray | None = None
    ) -> np.ndarray:
        """Return the smoothed rows ``start:stop`` as a (row, plane, col) float32 array.

        ``out``, if given, is a C-contiguous float32 array of that shape to fill.
        """
        basis = self._rows
        lo, hi = self.span(start, stop)
        shape = (stop - start, grid.shape[1], grid.shape[2])
        if out is None:
            out = np.empty(shape, np.float32)
        weights = basis.basis[start:stop, lo:hi]
        np.matmul(weights, grid[lo:hi].reshape(hi - lo, -1), out=out.reshape(shape[0], -1))
        return out

    def span(self, start: int, stop: int) -> tuple[int, int]:
        """Return the grid's coefficient rows ``lo:hi`` that rows ``start:stop`` are made of.

        Each smoothed value is a weighted mean (weights >= 0, summing to 1) of these rows of
        :meth:`grid` at its plane and column: their minimum bounds the band from below.
        """
        return int(self._rows.first[start]), int(self._rows.last[stop - 1]) + 1

    def coarse(self, planes: np.ndarray) -> np.ndarray:
        """Return the (coefficient row, plane, coefficient col) float32 B-spline coefficients.

        The smoothed planes are ``basis_rows @ coef[:, k] @ basis_cols.T``; linear in
        ``planes``.
        """
        planes = compiled_input(planes)
        rows, cols = self._rows, self._cols
        # block sums without the edge pixels (they enter through the exact edge terms)
        summed = np.empty((planes.shape[0], rows.middle.shape[1], cols.middle.shape[1]), np.float32)
        _interior_block_sums(planes, self.factor, summed)
        n_planes, n_blocks = summed.shape[:2]
        half = (summed.reshape(-1, summed.shape[2]) @ cols.middle.T).reshape(n_planes, n_blocks, -1)
        half = np.ascontiguousarray(half.transpose(1, 0, 2)).reshape(n_blocks, -1)
        coef = (rows.middle @ half).reshape(rows.middle.shape[0], n_planes, -1)
        # the edge rows and columns, smoothed exactly along their length (E, folded edges in)
        along_r = self._along(planes[:, [0, -1], :], cols)
        edges_c = planes[:, :, [0, -1]].transpose(0, 2, 1).astype(np.float32)
        along_c = self._along(edges_c, rows)
        # a column's own edge pixels are in the row terms: keep G (unfolded) of the columns
        along_c -= edges_c[:, :, :1] * rows.tails[0] + edges_c[:, :, -1:] * rows.tails[1]
        # coef += tail_r (x) fit(along_r) + fit(along_c) (x) tail_c, for both edges
        coef += np.einsum("ek,pec->kpc", rows.tail_coef, along_r @ cols.fit.T)
        coef += np.einsum("pek,ec->kpc", along_c @ rows.fit.T, cols.tail_coef)
        return coef

    def _along(self, lines: np.ndarray, axis: _Axis) -> np.ndarray:
        """Smooth (..., n) lines along their length (SciPy's filter, edges extended)."""
        lines = lines.astype(np.float32)
        n = lines.shape[-1]
        factors = _factors(n, self._sigma, self._truncate, "f")
        if factors is None:
            return ndimage.gaussian_filter1d(
                lines, self._sigma, axis=-1, mode="nearest", truncate=self._truncate
            )
        expand, reduce = factors
        flat = lines.reshape(-1, n)
        return ((flat @ reduce.T) @ expand.T).reshape(lines.shape)


class _Axis(NamedTuple):
    """One axis of :class:`DecimatedGaussian` (float32 matrices, read-only)."""

    middle: np.ndarray  # (coefficients, blocks): block sums -> B-spline coefficients
    basis: np.ndarray  # (n, coefficients) cubic B-splines, 4 non-zeros per row
    basis_t: np.ndarray  # its transpose, contiguous
    fit: np.ndarray  # (coefficients, n) least-squares B-spline fit of a line
    tails: np.ndarray  # (2, n) weights folded onto the first and the last pixel
    tail_coef: np.ndarray  # (2, coefficients) their B-spline coefficients
    first: np.ndarray  # (n,) first non-zero coefficient of each row of ``basis``
    last: np.ndarray  # (n,) last one


@functools.lru_cache(maxsize=8)
def _decimated_axis(n: int, sigma: float, truncate: float, factor: int) -> _Axis:
    """Build the matrices of one axis (see the module docstring)."""
    radius = int(truncate * sigma + 0.5)
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    # the filter's whole weight on the first pixel (with what the edge extension folds onto
    # it): sum of g(t) for t <= -i; on the last pixel, its mirror image
    folded = np.concatenate([np.cumsum(taps)[: radius + 1][::-1], np.zeros(max(0, n - radius))])
    tails = np.stack([folded[:n], folded[:n][::-1]])
    n_blocks = -(-n // factor)
    blocks = np.zeros((n, n_blocks))
    blocks[np.arange(n), np.arange(n) // factor] = 1.0
    blocks[[0, -1]] = 0.0  # D^T: block sums without the edge pixels (exact terms) ...
    blocks = blocks[:, blocks.any(axis=0)]  # ... and without a block holding only the last
    # prior covariance of the input: smooth at 0.4 sigma, plus white noise
    length = _PRIOR_LENGTH * sigma
    prior = np.exp(-0.5 * (np.arange(-int(4 * length), int(4 * length) + 1) / length) ** 2)
    cov_d = ndimage.correlate1d(blocks, prior, axis=0, mode="constant") + _PRIOR_NOISE * blocks
    cov_dd = np.add.reduceat(cov_d * blocks.any(axis=1)[:, None], np.arange(0, n, factor))
    cov_dd = cov_dd[: blocks.shape[1]]
    cov_d[[0, -1]] = 0.0  # G has no edge columns
    target = ndimage.correlate1d(cov_d, taps, axis=0, mode="constant")  # G K D^T
    # cubic B-splines centred on the blocks' centres, two beyond each end
    centres = (np.arange(-2, n_blocks + 2) + 0.5) * factor - 0.5
    dist = np.abs(np.arange(n)[:, None] - centres[None, :]) / factor
    basis = np.where(dist < 1, 2 / 3 - dist**2 + dist**3 / 2, np.clip(2 - dist, 0, None) ** 3 / 6)
    basis = basis[:, basis.any(axis=0)]
    fit = np.linalg.solve(basis.T @ basis, basis.T)  # pinv(W)
    middle = np.linalg.solve(cov_dd, (fit @ target).T).T  # W+ G K D^T (D K D^T)^-1
    nonzero = basis != 0
    arrays = [middle, basis, basis.T, fit, tails, tails @ fit.T]
    arrays = [np.ascontiguousarray(a, dtype=np.float32) for a in arrays]
    first = nonzero.argmax(axis=1)
    last = nonzero.shape[1] - 1 - nonzero[:, ::-1].argmax(axis=1)
    for a in (*arrays, first, last):
        a.setflags(write=False)
    return _Axis(*arrays, first, last)


@numba.njit(nogil=True, fastmath=True, cache=True)
def _interior_block_sums(planes, factor, out):
    """Fill ``out[p, i, j]`` with the float32 sum of a block of pixels, edges left out.

    Block ``(i, j)`` is ``factor x factor`` pixels of plane ``p``; the first and last row and
    column of the plane are left out. One pass over the planes: each band of ``factor`` rows
    is summed down its columns (a contiguous, vectorised loop), then across each block's
    columns.
    """
    n_planes, n_rows, n_cols = planes.shape
    column_sums = np.empty(n_cols, np.float32)
    for p in range(n_planes):
        for i in range(out.shape[1]):
            column_sums[:] = 0.0
            for r in range(max(i * factor, 1), min((i + 1) * factor, n_rows - 1)):
                line = planes[p, r]
                for c in range(n_cols):
                    column_sums[c] += line[c]
            for j in range(out.shape[2]):
                total = np.float32(0.0)
                for c in range(max(j * factor, 1), min((j + 1) * factor, n_cols - 1)):
                    total += column_sums[c]
                out[p, i, j] = total
