"""BaSiC fits through basicpy 2.x, plane by plane shrunk to the working size.

basicpy (Peng et al. 2017) loads every image it is given at full size before shrinking them to
its working size, which blows up on large stacks (BaSiCPy issue #127). Here the planes are
chosen first (all of them, or a seeded random subset beyond the memory budget, see
:func:`detcal.flatfield.estimate_flatfield`), each one is read and shrunk on its own with exactly
the interpolation basicpy uses, and basicpy fits the small stack: the profiles equal those of
``BaSiC.fit`` called on the same full-size planes, while memory stays at
``n_samples * working_size**2`` floats.

Two options of the older basicpy releases that 2.0 dropped are provided here:

* ``autosegment``: exclude the sample from the fit. Pixels brighter than the Otsu threshold
  of the (shrunk) planes are sample; the background kept for fitting is eroded by
  ``autosegment_margin`` working-size pixels so that sample edges are excluded too. The result
  is passed to basicpy as ``fitting_weight``.
* ``max_workers``: the number of torch threads used during the fit (restored afterwards).

basicpy's fit takes no callback; it logs each reweighting iteration at debug level. During a fit
here, that log line of the fitting thread is turned into a progress report
(:func:`iteration_reports`), so the fit shows its iterations and a cancel raised by the
progress callable stops it at the start of its next iteration.

References
----------
.. [1] Peng, T. et al. "A BaSiC tool for background and shading correction of optical
   microscopy images." Nature Communications 8, 14836 (2017). :doi:`10.1038/ncomms14836`
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np

INSTALL_HINT = "pip install --no-deps basicpy==2.0.0"

#: Parameters exposed by detcal, with their defaults (``None`` = chosen by basicpy at fit time).
BASIC_DEFAULTS: dict[str, Any] = {
    "autosegment": False,
    "autosegment_margin": 10,
    "epsilon": 0.1,
    "get_darkfield": False,
    "max_workers": None,
    "smoothness_flatfield": None,
    "smoothness_darkfield": None,
    "working_size": 128,
}

#: The settings basicpy 2.0 writes in ``settings.json``, with values that load back
#: (basicpy's own defaults leave the smoothness values null, which ``BaSiC.load_model`` rejects).
SETTINGS_DEFAULTS: dict[str, Any] = {
    "fitting_mode": "approximate",
    "epsilon": 0.1,
    "get_darkfield": False,
    "smoothness_flatfield": 1.0,
    "smoothness_darkfield": 0.1,
    "sparse_cost_darkfield": 0.01,
    "max_iterations": 500,
    "max_reweight_iterations": 10,
    "max_reweight_iterations_baseline": 5,
    "rho": 1.5,
    "mu_coef": 12.5,
    "max_mu_coef": 10000000.0,
    "optimization_tol": 0.001,
    "optimization_tol_diff": 0.01,
    "resize_params": {},
    "reweighting_tol": 0.01,
    "sort_intensity": False,
    "working_size": 128,
    "device": "cpu",
}

_OURS_ONLY = ("autosegment", "autosegment_margin", "max_workers")


def import_basic():
    """Return basicpy's ``BaSiC`` class.

    Returns
    -------
    type
        ``basicpy.BaSiC``.

    Raises
    ------
    ImportError
        If basicpy is not installed; the message gives the install command.
    """
    try:
        from basicpy import BaSiC
    except ImportError as exc:
        raise ImportError(
            "BaSiC flat-field estimation needs basicpy 2.x, which is not installed; install it "
            f"with `{INSTALL_HINT}` (measured profiles and empty-data estimation work "
            "without it)"
        ) from exc
    return BaSiC


def check_basic_params(basic_params: Mapping[str, Any] | None) -> dict[str, Any]:
    """Merge ``basic_params`` over :data:`BASIC_DEFAULTS` and check the names and values.

    Other basicpy fields (``max_iterations``, ``fitting_mode``, ...) pass through to basicpy,
    which validates them.

    Parameters
    ----------
    basic_params : mapping or None
        User parameters.

    Returns
    -------
    dict
        All parameters.

    Raises
    ------
    ValueError
        If a name is not a BaSiC setting or a value is out of range.
    """
    params = dict(BASIC_DEFAULTS)
    for name, value in dict(basic_params or {}).items():
        if name not in params and name not in SETTINGS_DEFAULTS:
            known = sorted(set(BASIC_DEFAULTS) | set(SETTINGS_DEFAULTS))
            raise ValueError(f"basic_params has unknown setting {name!r}; known: {known}")
        params[name] = value
    size = params["working_size"]
    if isinstance(size, bool) or not isinstance(size, int | np.integer) or size < 2:
        raise ValueError(f"basic_params['working_size'] must be an int >= 2, got {size!r}")
    if int(params["autosegment_margin"]) < 0:
        raise ValueError(
            f"basic_params['autosegment_margin'] must be >= 0, got {params['autosegment_margin']}"
        )
    workers = params["max_workers"]
    if workers is not None and int(workers) < 1:
        raise ValueError(f"basic_params['max_workers'] must be >= 1 or None, got {workers}")
    if float(params["epsilon"]) <= 0:
        raise ValueError(f"basic_params['epsilon'] must be > 0, got {params['epsilon']}")
    return params


def choose_planes(n_planes: int, n_samples: int | None, seed: int | None = 0) -> np.ndarray:
    """Pick a seeded random subset of plane indices, sorted.

    Parameters
    ----------
    n_planes : int
        Number of planes available.
    n_samples : int or None
        How many to pick; None or at least ``n_planes`` takes them all.
    seed : int or None, default 0
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    numpy.ndarray of int
        Sorted indices.

    Raises
    ------
    ValueError
        If there are no planes or ``n_samples`` is below 1.

    Examples
    --------
    >>> choose_planes(10, 3, seed=0).tolist()
    [5, 6, 9]
    """
    if n_planes < 1:
        raise ValueError("the selection holds no planes to sample")
    if n_samples is not None and int(n_samples) < 1:
        raise ValueError(f"n_samples must be >= 1 or None, got {n_samples}")
    if n_samples is None or int(n_samples) >= n_planes:
        return np.arange(n_planes)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n_planes, size=int(n_samples), replace=False))


def shrink(plane: np.ndarray, working_size: int) -> np.ndarray:
    """Shrink one plane to ``working_size`` exactly as basicpy does (torch, antialiased).

    Parameters
    ----------
    plane : numpy.ndarray
        (row, col) image.
    working_size : int
        Side of the square working image.

    Returns
    -------
    numpy.ndarray of float32
        (working_size, working_size) image.
    """
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.ascontiguousarray(plane, dtype=np.float32)[None, None])
    out = F.interpolate(
        tensor,
        (int(working_size), int(working_size)),
        mode="bilinear",
        align_corners=True,
        antialias=True,
    )
    return out[0, 0].numpy()


def _enlarge(small: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bring a working-size profile to the plane shape as basicpy does (bilinear, corners)."""
    import torch
    import torch.nn.functional as F

    tensor = torch.from_numpy(np.asarray(small, dtype=np.float32)[None, None])
    out = F.interpolate(tensor, tuple(shape), mode="bilinear", align_corners=True)
    return out[0, 0].numpy()


def segment_background(planes: np.ndarray, margin: int) -> np.ndarray:
    """Fitting weights that keep only the background: 1 below Otsu's threshold, eroded.

    Parameters
    ----------
    planes : numpy.ndarray
        (plane, row, col) shrunk planes.
    margin : int
        Erosion radius in pixels of ``planes``: background this close to the sample is dropped.

    Returns
    -------
    numpy.ndarray of float32
        Weights, 1 = fit this pixel, 0 = sample.
    """
    from scipy import ndimage
    from skimage.filters import threshold_otsu
    from skimage.morphology import disk

    background = planes < threshold_otsu(planes)
    if margin > 0:
        footprint = disk(int(margin))
        background = np.stack(
            [ndimage.binary_erosion(p, structure=footprint, border_value=1) for p in background]
        )
    return background.astype(np.float32)


@contextlib.contextmanager
def torch_threads(max_workers: int | None) -> Iterator[None]:
    """Run the block with ``max_workers`` torch threads (None leaves torch's setting)."""
    if max_workers is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(max_workers))
    try:
        yield
    finally:
        torch.set_num_threads(before)


class _IterationHandler(logging.Handler):
    """Call ``report(i)`` for basicpy's "reweighting iteration i" records of one thread."""

    def __init__(self, report: Callable[[int], None]):
        super().__init__(logging.DEBUG)
        self.report = report
        self.thread = threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.thread == self.thread and text.startswith("reweighting iteration"):
            self.report(int(text.rsplit(" ", 1)[-1]))  # may raise: stops the fit there


@contextlib.contextmanager
def iteration_reports(report: Callable[[int], None] | None) -> Iterator[None]:
    """Call ``report(iteration)`` as basicpy's fit in this thread starts each reweighting.

    An exception raised by ``report`` (a cancel) propagates out of the fit, which so stops at
    the start of its next iteration. basicpy's logger is at debug level and does not pass its
    records on during the block.
    """
    if report is None:
        yield
        return
    logger = logging.getLogger("basicpy.basicpy")
    handler = _IterationHandler(report)
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


def fit_basic(
    planes: np.ndarray,
    plane_shape: tuple[int, int],
    params: Mapping[str, Any],
    report: Callable[[int], None] | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
    """Fit BaSiC on shrunk planes and return full-size profiles and loadable settings.

    Parameters
    ----------
    planes : numpy.ndarray
        (plane, row, col) float32 planes already shrunk with :func:`shrink`.
    plane_shape : pair of int
        (row, col) shape of the original planes.
    params : mapping
        Output of :func:`check_basic_params`.
    report : callable, optional
        ``report(iteration)`` at the start of each reweighting iteration; it may raise to stop
        the fit (:func:`iteration_reports`).

    Returns
    -------
    flatfield, darkfield : numpy.ndarray
        (row, col) profiles at ``plane_shape``.
    baseline : numpy.ndarray
        One baseline value per fitted plane (basicpy's ``baseline``).
    settings : dict
        basicpy's settings with the smoothness values it used, so they load back.

    Raises
    ------
    ImportError
        If basicpy is not installed.
    """
    BaSiC = import_basic()
    model = {k: v for k, v in params.items() if k not in _OURS_ONLY and v is not None}
    weights = None
    if params["autosegment"]:
        weights = segment_background(planes, int(params["autosegment_margin"]))
    basic = BaSiC(**model)
    with torch_threads(params["max_workers"]), iteration_reports(report):
        basic.fit(planes, fitting_weight=weights, skip_shape_warning=True)
    settings = json.loads(basic.model_dump_json())
    settings["smoothness_flatfield"] = float(basic._smoothness_flatfield)
    settings["smoothness_darkfield"] = float(basic._smoothness_darkfield)
    flatfield = _enlarge(basic.flatfield, plane_shape)
    darkfield = _enlarge(basic.darkfield, plane_shape)
    return flatfield, darkfield, np.asarray(basic.baseline, dtype=np.float64), settings
