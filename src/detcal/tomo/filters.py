"""Reconstruction filters of filtered back-projection, with TomoPy's names and definitions.

TomoPy's gridrec defines each filter as a function of the frequency ``x`` in cycles per pixel
(0 to 0.5): the ramp ``|2x|`` times a window. ``tomopy_filter`` evaluates those definitions.
The reconstruction itself (``reconstruction_filter``) keeps each window but replaces the
sampled ramp by the exact discrete ramp (the Fourier transform of the band-limited ramp's
sampled kernel, Kak and Slaney 1988, eq. 61), which keeps the zero-frequency term right on a
padded detector: no DC offset in the slice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

FILTER_NAMES = ("none", "shepp", "cosine", "hann", "hamming", "ramlak", "parzen", "butterworth")

#: Default ``filter_par`` per filter: TomoPy's ``[0.5, 8]``, except this project's
#: Butterworth default (cut-off 0.25 cycles per pixel, order 2).
DEFAULT_FILTER_PAR = {name: (0.5, 8.0) for name in FILTER_NAMES} | {"butterworth": (0.25, 2.0)}


def check_filter(filter_name: str, filter_par: Sequence[float] | None) -> tuple[float, ...]:
    """Validate a filter name and return its parameters (defaults filled in).

    Parameters
    ----------
    filter_name : str
        One of ``FILTER_NAMES``.
    filter_par : sequence of float or None
        Filter parameters; None takes ``DEFAULT_FILTER_PAR[filter_name]``.

    Returns
    -------
    tuple of float
        The parameters.

    Raises
    ------
    ValueError
        If the name is unknown or a parameter the filter needs is missing or not positive.
    """
    if filter_name not in FILTER_NAMES:
        raise ValueError(
            f"unknown filter_name {filter_name!r}; expected one of {', '.join(FILTER_NAMES)}"
        )
    par = DEFAULT_FILTER_PAR[filter_name] if filter_par is None else tuple(filter_par)
    par = tuple(float(p) for p in np.atleast_1d(np.asarray(par, dtype=float)))
    needed = {"hann": 1, "hamming": 1, "parzen": 1, "butterworth": 2}.get(filter_name, 0)
    if len(par) < needed or any(p <= 0 for p in par[:needed]):
        raise ValueError(
            f"filter {filter_name!r} needs {needed} positive filter_par value(s); got {par}"
        )
    return par


def filter_window(filter_name: str, x: np.ndarray, filter_par: Sequence[float]) -> np.ndarray:
    """Window of a filter: TomoPy's filter divided by its ramp ``|2x|``.

    Parameters
    ----------
    filter_name : str
        One of ``FILTER_NAMES`` except ``"none"`` (which has no ramp).
    x : ndarray
        Frequencies in cycles per pixel, ``|x| <= 0.5``.
    filter_par : sequence of float
        Filter parameters (see ``check_filter``).

    Returns
    -------
    ndarray
        The window at ``x``.
    """
    x = np.abs(np.asarray(x, dtype=np.float64))
    if filter_name == "ramlak":
        return np.ones_like(x)
    if filter_name == "shepp":
        return np.sinc(x)
    if filter_name == "cosine":
        return np.cos(np.pi * x)
    if filter_name == "hann":
        return 0.5 * (1.0 + np.cos(2.0 * np.pi * x / filter_par[0]))
    if filter_name == "hamming":
        return 0.54 + 0.46 * np.cos(2.0 * np.pi * x / filter_par[0])
    if filter_name == "parzen":
        return (1.0 - x / filter_par[0]) ** 3
    if filter_name == "butterworth":
        return 1.0 / (1.0 + (x / filter_par[0]) ** (2.0 * filter_par[1]))
    raise ValueError(f"filter {filter_name!r} has no window")


def tomopy_filter(
    filter_name: str, x: np.ndarray, filter_par: Sequence[float] | None = None
) -> np.ndarray:
    """TomoPy gridrec's filter response at frequencies ``x`` (cycles per pixel).

    Parameters
    ----------
    filter_name : str
        One of ``FILTER_NAMES``.
    x : ndarray
        Frequencies, ``|x| <= 0.5``.
    filter_par : sequence of float or None
        Parameters; None takes the defaults.

    Returns
    -------
    ndarray
        ``|2x| * window(x)``, or 1 for ``"none"``; 0 at ``x = 0`` for ``"shepp"``.

    Examples
    --------
    >>> float(tomopy_filter("ramlak", np.array([0.25]))[0])
    0.5
    """
    par = check_filter(filter_name, filter_par)
    x = np.asarray(x, dtype=np.float64)
    if filter_name == "none":
        return np.ones_like(x)
    return np.abs(2.0 * x) * filter_window(filter_name, x, par)


def exact_ramp(n: int) -> np.ndarray:
    """Discrete ramp filter of length ``n`` (``n`` even), FFT order, cycles per pixel units.

    The Fourier transform of the sampled kernel of the band-limited ramp ``|f|``
    (``h(0) = 1/4``, ``h(k) = -1 / (pi k)^2`` for odd ``k``, 0 for even ``k``): equal to
    ``|f|`` away from zero frequency and ``1 / (2 n)``-ish at zero, so a padded projection keeps
    its mean.

    Parameters
    ----------
    n : int
        Padded projection length.

    Returns
    -------
    ndarray, (n // 2 + 1,)
        The ramp on ``numpy.fft.rfftfreq(n)`` frequencies.
    """
    k = np.rint(np.fft.fftfreq(n, d=1.0 / n)).astype(np.int64)
    h = np.zeros(n)
    h[0] = 0.25
    odd = (np.abs(k) % 2) == 1
    h[odd] = -1.0 / (np.pi * k[odd]) ** 2
    return np.fft.rfft(h).real


def reconstruction_filter(
    filter_name: str, n: int, filter_par: Sequence[float] | None = None
) -> np.ndarray:
    """Filter applied to the FFT of each padded projection before back-projection.

    Parameters
    ----------
    filter_name : str
        One of ``FILTER_NAMES``.
    n : int
        Padded projection length (even).
    filter_par : sequence of float or None
        Parameters; None takes the defaults.

    Returns
    -------
    ndarray, (n // 2 + 1,)
        Real filter on the ``rfftfreq(n)`` frequencies, in units where the ramp is ``|f|``
        (TomoPy's ``|2x|`` halved), so that back-projection with weight ``pi / n_angles``
        gives attenuation per pixel.

    Raises
    ------
    ValueError
        If the filter name or parameters are invalid.
    """
    par = check_filter(filter_name, filter_par)
    x = np.fft.rfftfreq(n)
    if filter_name == "none":
        return np.full(x.shape, 0.5)
    return exact_ramp(n) * filter_window(filter_name, x, par)
