"""Tomographic reconstruction: filtered back-projection by Fourier gridding, lazy on dask.

``recon`` takes TomoPy's arguments (``tomo`` as (angle, row, column), ``theta`` in radians,
``center`` as the column the rotation axis passes through) and returns slices as
(row, N, N) float32 in attenuation per pixel. The default back-end is this project's
gridding reconstructor (``detcal.tomo.gridding``, numpy/scipy and numba); TomoPy and ASTRA are
used instead when asked for and installed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import dask.array as da
import numpy as np

from detcal import _validate
from detcal.tomo.filters import check_filter
from detcal.tomo.gridding import axis_extent, cached_backprojector

ALGORITHMS = ("gridrec", "fbp")
BACKENDS = ("auto", "gridding", "tomopy", "astra")
_INSTALL = {
    "tomopy": "TomoPy is not on PyPI: install it with `conda install -c conda-forge tomopy`",
    "astra": "install ASTRA with `conda install -c astra-toolbox astra-toolbox` "
    "(or `pip install astra-toolbox`)",
}


def check_geometry(tomo, theta) -> np.ndarray:
    """Validate a projection stack and its angles; return the angles as float64.

    Parameters
    ----------
    tomo : array-like, (angle, row, col)
        Projections (numpy or dask).
    theta : array-like, (angle,)
        Angles in radians.

    Returns
    -------
    ndarray
        ``theta`` as float64.

    Raises
    ------
    ValueError
        If ``tomo`` is not 3D, ``theta`` has another length, or looks like degrees.
    TypeError
        If ``tomo`` is not real-valued numeric.
    """
    if getattr(tomo, "ndim", None) != 3:
        raise ValueError(f"tomo must be a 3D (angle, row, col) array; got shape {np.shape(tomo)}")
    dtype = np.dtype(tomo.dtype)
    if not (np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.floating)):
        raise TypeError(f"tomo must hold real numbers; got dtype {dtype}")
    theta = np.asarray(theta, dtype=np.float64).ravel()
    if theta.size != tomo.shape[0]:
        raise ValueError(
            f"theta has {theta.size} angles but tomo has {tomo.shape[0]} projections "
            f"(tomo shape {tuple(tomo.shape)}, expected (angle, row, col))"
        )
    if not np.all(np.isfinite(theta)):
        raise ValueError("theta contains NaN or inf")
    if np.ptp(theta) > 2 * np.pi + 0.1:
        raise ValueError(
            f"theta spans {np.ptp(theta):.1f}: it must be in radians (convert degrees with "
            "numpy.deg2rad)"
        )
    return theta


def check_centers(center, n_rows: int, n_cols: int) -> np.ndarray:
    """Return one rotation-axis column per row, validated.

    Parameters
    ----------
    center : float, sequence of float or None
        Axis column (TomoPy's convention); None is the detector middle ``(n_cols - 1) / 2``.
    n_rows, n_cols : int
        Detector rows and columns.

    Returns
    -------
    ndarray, (n_rows,), float64

    Raises
    ------
    ValueError
        If the length is wrong or a centre lies outside the detector.
    """
    if center is None:
        return np.full(n_rows, (n_cols - 1) / 2.0)
    centers = np.asarray(center, dtype=np.float64)
    if centers.ndim == 0:
        centers = np.full(n_rows, float(centers))
    centers = centers.ravel()
    if centers.size != n_rows:
        raise ValueError(
            f"center must be a number or one value per row ({n_rows}); got {centers.size}"
        )
    if not np.all(np.isfinite(centers)) or centers.min() < 0 or centers.max() > n_cols - 1:
        raise ValueError(
            f"center must lie on the detector, between 0 and {n_cols - 1}; got "
            f"{centers.min():g} to {centers.max():g}"
        )
    return centers


def _circ_mask(slices: np.ndarray, ratio: float) -> np.ndarray:
    n = slices.shape[-1]
    r = np.arange(n) - (n - 1) / 2.0
    outside = (r[:, None] ** 2 + r[None, :] ** 2) > (ratio * n / 2.0) ** 2
    slices[:, outside] = 0.0
    return slices


def _recon_block(
    block: np.ndarray,
    theta: np.ndarray,
    centers: np.ndarray,
    *,
    extent: int,
    algorithm: str,
    filter_name: str,
    filter_par: tuple[float, ...],
    pad: bool,
    circ_ratio: float | None,
    pixel_size: float | None,
    backend: str,
    ncore: int | None,
    eps: float,
    progress: Callable[[int, int], None] | None,
) -> np.ndarray:
    """Reconstruct a (row, angle, col) numpy block into (row, N, N) float32."""
    n_cols = block.shape[-1]
    if backend in ("tomopy", "astra"):
        sino = np.array(block, dtype=np.float32, order="C")
        sino[~np.isfinite(sino)] = 0.0
        if backend == "tomopy":
            out = _recon_tomopy(
                sino, theta, centers, algorithm, filter_name, filter_par, pad, ncore
            )
        else:
            out = _recon_astra(sino, theta, centers)
    else:
        # the back-projector reads the (possibly strided) block as it is and zeroes NaN/inf
        projector = cached_backprojector(
            theta, n_cols, n_cols, eps=eps, nthreads=ncore, extent=extent
        )
        out = projector.reconstruct(
            block,
            centers,
            filter_name=filter_name,
            filter_par=filter_par,
            pad=pad,
            progress=progress,
        )
    if circ_ratio is not None:
        out = _circ_mask(out, circ_ratio)
    if pixel_size is not None:
        out /= np.float32(pixel_size)
    return out


def _recon_tomopy(sino, theta, centers, algorithm, filter_name, filter_par, pad, ncore):
    """Run TomoPy on the same geometry as the gridding back-end: padded, axis at the middle.

    TomoPy's gridrec zero-fills each projection only up to the next power of two and drops
    the zero frequency, which leaves a DC offset in the slice; here every projection is
    padded (edge values or zeros, as ``pad`` says) to a power of two at least twice its width,
    so the filtering is a linear convolution. TomoPy puts the rotation axis at pixel
    ``(M // 2 - 1, M - M // 2)`` of its ``M x M`` grid where this project puts it at
    ``((M - 1) / 2, (M - 1) / 2)``: each projection is shifted by that image translation
    (a Fourier phase, exact for band-limited data), so the slices overlay ours pixel for pixel.
    TomoPy's values are its own (see docs/tomo-recon.md for the measured scale).
    """
    import scipy.fft
    import tomopy

    n_rows, _, n = sino.shape
    width = 1 << int(np.ceil(np.log2(2 * n)))
    left = (width - n) // 2
    padded = np.pad(
        sino, ((0, 0), (0, 0), (left, width - n - left)), mode="edge" if pad else "constant"
    )
    drow = (n - 1) / 2.0 - (n // 2 - 1)
    dcol = (n - 1) / 2.0 - (n - n // 2)
    shift = dcol * np.cos(theta) - drow * np.sin(theta)
    phase = np.exp(-2j * np.pi * np.fft.rfftfreq(width)[None, :] * shift[:, None])
    workers = ncore or -1
    spectrum = scipy.fft.rfft(padded, axis=-1, workers=workers)
    spectrum *= phase.astype(np.complex64)
    padded = scipy.fft.irfft(spectrum, n=width, axis=-1, workers=workers).astype(np.float32)
    out = tomopy.recon(
        padded,
        theta,
        center=centers + left,
        sinogram_order=True,
        algorithm=algorithm,
        filter_name=filter_name,
        filter_par=np.asarray(filter_par, dtype=np.float32),
        num_gridx=n,
        num_gridy=n,
        ncore=ncore,
    )
    return np.asarray(out, dtype=np.float32).reshape(n_rows, n, n)


def _recon_astra(sino, theta, centers):
    import astra

    n_rows, _, n_cols = sino.shape
    vol = astra.create_vol_geom(n_cols, n_cols)
    out = np.empty((n_rows, n_cols, n_cols), dtype=np.float32)
    for k in range(n_rows):
        # ASTRA puts the axis at the detector middle: shift the projections onto it
        shift = (n_cols - 1) / 2.0 - centers[k]
        freq = np.fft.rfftfreq(n_cols)
        shifted = np.fft.irfft(
            np.fft.rfft(sino[k], axis=-1) * np.exp(-2j * np.pi * freq * shift), n=n_cols
        )
        geom = astra.create_proj_geom("parallel", 1.0, n_cols, theta)
        proj_id = astra.create_projector("linear", geom, vol)
        sino_id = astra.data2d.create("-sino", geom, shifted.astype(np.float32))
        rec_id = astra.data2d.create("-vol", vol)
        cfg = astra.astra_dict("FBP")
        cfg.update(ProjectorId=proj_id, ProjectionDataId=sino_id, ReconstructionDataId=rec_id)
        alg_id = astra.algorithm.create(cfg)
        astra.algorithm.run(alg_id)
        out[k] = astra.data2d.get(rec_id)
        astra.algorithm.delete(alg_id)
        astra.data2d.delete([sino_id, rec_id])
        astra.projector.delete(proj_id)
    return out


def _check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {', '.join(BACKENDS)}")
    if backend in ("tomopy", "astra"):
        import importlib.util

        if importlib.util.find_spec(backend) is None:
            raise ImportError(
                f"backend={backend!r} needs {backend}, which is not installed: {_INSTALL[backend]}"
            )
        return backend
    return "gridding"


def recon(
    tomo,
    theta,
    *,
    center: float | Sequence[float] | np.ndarray | None = None,
    algorithm: str = "gridrec",
    filter_name: str = "butterworth",
    filter_par: Sequence[float] | None = None,
    pad: bool = True,
    circ_mask: bool | float = False,
    pixel_size: float | None = None,
    backend: str = "auto",
    ncore: int | None = None,
    eps: float = 1e-3,
    chunk_rows: int | None = None,
    progress: Callable[[int, int], None] | None = None,
):
    """Reconstruct slices from parallel-beam projections (filtered back-projection).

    Parameters
    ----------
    tomo : ndarray or dask array, (angle, row, col)
        Projections after normalisation and ``-log`` (line integrals). NaN and inf are
        reconstructed as 0.
    theta : array-like, (angle,)
        Angles in radians, over pi or 2 pi (both are weighted right).
    center : float, sequence of float or None
        Column the rotation axis passes through (TomoPy's convention), one value or one per
        row; None is the detector middle ``(n_cols - 1) / 2``.
    algorithm : {"gridrec", "fbp"}
        Both are filtered back-projection here; the name is passed on to TomoPy.
    filter_name : str
        ``"none"``, ``"shepp"``, ``"cosine"``, ``"hann"``, ``"hamming"``, ``"ramlak"``,
        ``"parzen"`` or ``"butterworth"`` (TomoPy's definitions, see
        ``detcal.tomo.filters``).
    filter_par : sequence of float or None
        Filter parameters; None takes ``(0.25, 2)`` for Butterworth (cut-off in cycles per
        pixel, order) and TomoPy's ``(0.5, 8)`` otherwise.
    pad : bool
        Pad projections with their edge values (True) or with zeros (False) before
        filtering; either way the convolution is linear (padded to at least twice the width).
    circ_mask : bool or float
        Zero the pixels outside a circle of radius ``ratio * N / 2`` (True: ratio 1).
    pixel_size : float or None
        Detector pixel size; given, the output is attenuation per that unit of length.
    backend : {"auto", "gridding", "tomopy", "astra"}
        "auto" and "gridding" use this project's reconstructor; "tomopy" and "astra" need
        those packages installed.
    ncore : int or None
        Threads (None: all CPUs); the gridding back-end reconstructs that many pairs of
        slices at once, one thread each.
    eps : float
        Relative precision of the non-uniform FFT (gridding back-end), 1e-10 to 0.1: it sets
        the spreading kernel's width (``detcal.tomo.spreading.kernel_width``).
    chunk_rows : int or None
        Rows per dask chunk of the output (dask input only); None chooses about 128 MiB of
        input per chunk.
    progress : callable or None
        ``progress(done, total)`` over slices (numpy input).

    Returns
    -------
    ndarray or dask array, (row, N, N), float32
        Slices with ``N = n_cols``, the rotation axis at pixel ``((N - 1) / 2, (N - 1) / 2)``,
        in attenuation per pixel. A dask input gives a lazy dask array whose chunks are slabs
        of rows, so only the slices looked at (or being saved) are computed.

    Raises
    ------
    ValueError
        Bad shapes, angles, centres, filter, algorithm or backend names, or ``eps`` out of range.
    TypeError
        Non-numeric ``tomo``.
    ImportError
        ``backend="tomopy"`` or ``"astra"`` when that package is not installed.

    References
    ----------
    Kak and Slaney, Principles of Computerized Tomographic Imaging, IEEE Press (1988),
    doi:10.1137/1.9780898719277. Barnett, Magland and af Klinteberg, SIAM J. Sci. Comput. 41,
    C479 (2019), doi:10.1137/18M120885X (the non-uniform FFT and its kernel).

    Examples
    --------
    >>> from detcal.sample_data.tomography import make_tomography
    >>> scan = make_tomography(n_angles=90, n_rows=2, n_cols=64, noise=False)
    >>> rec = recon(scan.line_integrals, scan.theta, center=scan.center)
    >>> rec.shape, rec.dtype
    ((2, 64, 64), dtype('float32'))
    """
    theta = check_geometry(tomo, theta)
    n_angles, n_rows, n_cols = tomo.shape
    centers = check_centers(center, n_rows, n_cols)
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown algorithm {algorithm!r}; expected one of {', '.join(ALGORITHMS)}"
        )
    par = check_filter(filter_name, filter_par)
    backend = _check_backend(backend)
    circ_ratio = None
    if circ_mask is True:
        circ_ratio = 1.0
    elif circ_mask is not False and circ_mask is not None:
        circ_ratio = float(circ_mask)
        if circ_ratio <= 0:
            raise ValueError(f"circ_mask ratio must be positive; got {circ_mask}")
    if pixel_size is not None and not pixel_size > 0:
        raise ValueError(f"pixel_size must be positive; got {pixel_size}")
    eps = _validate.number(eps, "eps", minimum=1e-10, maximum=0.1)
    options = dict(
        algorithm=algorithm,
        filter_name=filter_name,
        filter_par=par,
        pad=pad,
        circ_ratio=circ_ratio,
        pixel_size=pixel_size,
        backend=backend,
        ncore=ncore,
        eps=eps,
        # one filtering buffer length for every row, so results do not depend on chunking
        extent=axis_extent(centers, n_cols),
    )
    if isinstance(tomo, da.Array):
        return _recon_dask(tomo, theta, centers, chunk_rows, options)
    sino = np.asarray(tomo).transpose(1, 0, 2)
    return _recon_block(sino, theta, centers, progress=progress, **options)


def _recon_dask(tomo: da.Array, theta, centers, chunk_rows, options) -> da.Array:
    n_angles, n_rows, n_cols = tomo.shape
    if chunk_rows is None:
        row_bytes = n_angles * n_cols * 4
        chunk_rows = max(2, min(n_rows, (128 * 2**20) // row_bytes))
    elif chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1; got {chunk_rows}")
    sino = tomo.transpose(1, 0, 2).rechunk((chunk_rows, -1, -1))

    def block_func(block, block_info=None):
        r0, r1 = block_info[0]["array-location"][0]
        return _recon_block(block, theta, centers[r0:r1], progress=None, **options)

    return da.map_blocks(
        block_func,
        sino,
        chunks=(sino.chunks[0], (n_cols,), (n_cols,)),
        dtype=np.float32,
        meta=np.empty((0, 0, 0), dtype=np.float32),
    )
