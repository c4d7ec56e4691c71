"""Single-distance phase retrieval (Paganin filter) with TomoPy's units and defaults."""

from __future__ import annotations

import numpy as np
import scipy.fft

from detcal.tomo._prep_common import check_positive, check_stack, map_projections

# Constants as TomoPy writes them (so the filter matches TomoPy's to the last digit).
_PI = 3.14159265359
_PLANCK_KEV_S = 6.58211928e-19  # reduced Planck constant, keV s
_LIGHT_CM_S = 299792458e2  # cm / s


def wavelength_cm(energy: float) -> float:
    """Return the X-ray wavelength in cm for a photon energy in keV.

    Parameters
    ----------
    energy : float
        Photon energy, keV.

    Returns
    -------
    float
        Wavelength, cm.

    Examples
    --------
    >>> round(wavelength_cm(12.398) * 1e8, 4)  # about 1 angstrom
    1.0
    """
    return 2 * _PI * _PLANCK_KEV_S * _LIGHT_CM_S / energy


def _pad_width(size: int, pixel_size: float, wavelength: float, dist: float) -> int:
    """Pad each side so the padded size is a power of two holding the Fresnel blur."""
    blur = np.ceil(_PI * wavelength * dist / pixel_size**2)
    return int((2 ** np.ceil(np.log2(size + blur)) - size) * 0.5)


def _frequencies_sq(size: int, pixel_size: float) -> np.ndarray:
    """TomoPy's reciprocal coordinates (-1/(2 p) .. 1/(2 p), ``size`` samples), squared."""
    last = size - 1
    coord = np.arange(-last, size, 2, dtype=np.float64) * (0.5 / (max(last, 1) * pixel_size))
    return coord**2


def paganin_filter(shape, *, pixel_size=1e-4, dist=50, energy=20, alpha=1e-3) -> np.ndarray:
    """Return the Paganin low-pass filter (max 1) for FFTs of ``shape``, in unshifted order.

    ``1 / (wavelength * dist * |k|^2 / (4 pi) + alpha)`` normalised to its maximum, on
    TomoPy's reciprocal grid.

    Parameters
    ----------
    shape : tuple of int
        ``(rows, columns)`` of the (padded) projection.
    pixel_size, dist, energy, alpha
        As in :func:`retrieve_phase`.

    Returns
    -------
    ndarray
        Float64 filter of ``shape``.

    Examples
    --------
    >>> paganin_filter((4, 4)).max()
    np.float64(1.0)
    """
    k2 = np.add.outer(_frequencies_sq(shape[0], pixel_size), _frequencies_sq(shape[1], pixel_size))
    filt = 1.0 / (wavelength_cm(energy) * dist * k2 / (4 * _PI) + alpha)
    filt = np.fft.fftshift(filt)
    return filt / filt.max()


#: Bytes of working set per padded pixel of a projection: the float32 padded copy and its
#: complex64 spectrum (filtered and inverse-transformed in place).
_WORK_BYTES_PER_PADDED_PIXEL = 4 + 8


def _phase_block(block: np.ndarray, filt: np.ndarray, pad_rows: int, pad_cols: int):
    padded = np.pad(block, ((0, 0), (pad_rows, pad_rows), (pad_cols, pad_cols)), mode="edge")
    spectrum = scipy.fft.fft2(padded, axes=(1, 2))
    del padded
    spectrum *= filt[None]
    spectrum = scipy.fft.ifft2(spectrum, axes=(1, 2), overwrite_x=True)
    rows, cols = block.shape[1:]
    return spectrum.real[:, pad_rows : pad_rows + rows, pad_cols : pad_cols + cols].copy()


def retrieve_phase(tomo, *, pixel_size=1e-4, dist=50, energy=20, alpha=1e-3, pad=True):
    """Single-step phase retrieval of each projection with Paganin's filter (TomoPy units).

    Each projection (edge-padded to a power of two that holds the Fresnel blur when ``pad``)
    is multiplied in Fourier space by ``1 / (wavelength * dist * |k|^2 / (4 pi) + alpha)``
    normalised to its maximum, so the mean intensity is kept and fringes are smoothed away.
    Same filter, grid and padding as TomoPy's ``retrieve_phase``; the result is the filtered
    intensity (take :func:`minus_log` afterwards).

    Parameters
    ----------
    tomo : array_like or dask.array.Array
        Normalised projections ``(angle, row, column)``.
    pixel_size : float, default 1e-4
        Detector pixel size, cm.
    dist : float, default 50
        Propagation (sample to detector) distance, cm.
    energy : float, default 20
        Photon energy, keV.
    alpha : float, default 1e-3
        Regularisation; smaller gives a stronger low-pass.
    pad : bool, default True
        Pad the projections (edge values) before filtering.

    Returns
    -------
    ndarray or dask.array.Array
        Float32 stack of the same shape and kind.

    Raises
    ------
    TypeError
        If ``tomo`` is not numeric or a parameter is not a number.
    ValueError
        If ``tomo`` is not 3D or a parameter is not positive.

    References
    ----------
    .. [1] D. Paganin, S. C. Mayo, T. E. Gureyev, P. R. Miller, S. W. Wilkins, "Simultaneous
       phase and amplitude extraction from a single defocused image of a homogeneous object",
       J. Microsc. 206, 33 (2002). :doi:`10.1046/j.1365-2818.2002.01010.x`

    Examples
    --------
    >>> import numpy as np
    >>> out = retrieve_phase(np.ones((2, 8, 8)))
    >>> bool(np.allclose(out, 1.0, atol=1e-5))
    True
    """
    tomo = check_stack(tomo)
    pixel_size = check_positive(pixel_size, "pixel_size")
    dist = check_positive(dist, "dist")
    energy = check_positive(energy, "energy")
    alpha = check_positive(alpha, "alpha")
    rows, cols = tomo.shape[1:]
    pad_rows = pad_cols = 0
    if pad:
        lam = wavelength_cm(energy)
        pad_rows = _pad_width(rows, pixel_size, lam, dist)
        pad_cols = _pad_width(cols, pixel_size, lam, dist)
    filt = paganin_filter(
        (rows + 2 * pad_rows, cols + 2 * pad_cols),
        pixel_size=pixel_size,
        dist=dist,
        energy=energy,
        alpha=alpha,
    )
    # blocks are sized by what the filtering holds (the padded complex spectrum, the input
    # and output), not by the input alone: peak memory stays near BLOCK_BYTES per thread
    padded_pixels = filt.size
    plane_bytes = padded_pixels * _WORK_BYTES_PER_PADDED_PIXEL + rows * cols * 8
    filt = filt.astype(np.float32)
    return map_projections(
        _phase_block,
        tomo,
        plane_bytes=plane_bytes,
        filt=filt,
        pad_rows=pad_rows,
        pad_cols=pad_cols,
    )
