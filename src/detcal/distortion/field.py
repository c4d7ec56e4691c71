"""A smooth displacement field over every pixel from the displacements measured at the spots.

The displacement of each spot from its ideal lattice position is known at the nodes of the
lattice, in index space (i, j), where the nodes form a regular grid with some nodes missing
(spots cut by the border, rejected, or outside the field of view). The field is solved on the
full grid of nodes as the penalised least-squares surface that follows the measurements and
has the least curvature (second differences, thin-plate style) elsewhere, so missing spots and
the margins are filled smoothly and extrapolated linearly. Every pixel then gets the cubic
B-spline interpolation of that node grid at its fractional lattice index.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sparse
from scipy import ndimage
from scipy.interpolate import RectBivariateSpline
from scipy.sparse.linalg import splu

from detcal.distortion.lattice import Lattice

# extra nodes around what the image and the spots need, so the cubic spline has support
_MARGIN = 3
#: Spacing (pixels) of the coarse grid on which smooth per-pixel maps are evaluated exactly
#: before cubic interpolation to every pixel.
COARSE_STEP = 4


def fit_field(
    indices: np.ndarray,
    displacements: np.ndarray,
    lattice: Lattice,
    shape: tuple[int, int],
    *,
    smoothing: float = 0.01,
) -> np.ndarray:
    """Interpolate the spot displacements to a (dy, dx) field at every pixel.

    Parameters
    ----------
    indices : numpy.ndarray
        (N, 2) integer grid indices of the spots.
    displacements : numpy.ndarray
        (N, 2) measured displacement (drow, dcol) of each spot from its ideal position
        ``lattice.positions(indices)``, pixels.
    lattice : Lattice
        The ideal lattice.
    shape : tuple of int
        (rows, cols) of the image.
    smoothing : float
        Weight of the curvature penalty relative to the measurements (0 = interpolate).

    Returns
    -------
    numpy.ndarray
        (2, rows, cols) float32 (dy, dx): the displacement at each (ideal, corrected) pixel.

    Examples
    --------
    >>> lattice = Lattice(np.zeros(2), 8 * np.eye(2))
    >>> ii, jj = np.mgrid[:5, :5]
    >>> idx = np.stack([ii.ravel(), jj.ravel()], axis=1)
    >>> field = fit_field(idx, np.full((25, 2), 0.5), lattice, (32, 32))
    >>> bool(np.allclose(field, 0.5, atol=1e-4))
    True
    """
    nodes, start = node_grid(indices, displacements, lattice, shape, smoothing=smoothing)
    coefficients = [ndimage.spline_filter(n, order=3, mode="nearest") for n in nodes]
    to_index = np.linalg.inv(lattice.vectors).T  # Lattice.indices, for (2, n) positions

    def at(points: np.ndarray) -> np.ndarray:
        where = to_index @ (points.reshape(2, -1) - lattice.origin[:, None]) - start[:, None]
        values = [ndimage.map_coordinates(c, where, order=3, mode="nearest", prefilter=False)
                  for c in coefficients]  # fmt: skip
        return np.stack(values).reshape(points.shape)

    rows, cols = shape
    return smooth_map(at, np.arange(rows), np.arange(cols)).astype(np.float32)


def smooth_map(func, rows: np.ndarray, cols: np.ndarray, *, step: int = COARSE_STEP):
    """Evaluate a smooth 2-component map on a coarse grid and interpolate it to every point.

    Parameters
    ----------
    func : callable
        ``func(points)`` with ``points`` (2, n, m) positions (row, col) returns (2, n, m).
    rows, cols : numpy.ndarray
        Increasing row and column positions of the output grid.
    step : int
        Spacing of the coarse grid, in steps of ``rows`` and ``cols``.

    Returns
    -------
    numpy.ndarray
        (2, len(rows), len(cols)) float64: bicubic spline interpolation of the coarse values.

    Examples
    --------
    >>> def tilt(p):
    ...     return np.stack([0.1 * p[0], 0.2 * p[1]])
    >>> out = smooth_map(tilt, np.arange(20.0), np.arange(30.0))
    >>> bool(np.allclose(out[1, 3, 17], 3.4))
    True
    """
    coarse_r = _coarse(rows, step)
    coarse_c = _coarse(cols, step)
    values = func(np.stack(np.meshgrid(coarse_r, coarse_c, indexing="ij")))
    order_r, order_c = min(3, len(coarse_r) - 1), min(3, len(coarse_c) - 1)
    out = np.empty((2, len(rows), len(cols)))
    for component, coarse in zip(out, values, strict=True):
        component[:] = RectBivariateSpline(coarse_r, coarse_c, coarse, kx=order_r, ky=order_c)(
            rows, cols
        )
    return out


def _coarse(points: np.ndarray, step: int) -> np.ndarray:
    """Every ``step``-th point of ``points``, the last one always included."""
    picked = points[::step]
    return picked if picked[-1] == points[-1] else np.append(picked, points[-1])


def node_grid(
    indices: np.ndarray,
    displacements: np.ndarray,
    lattice: Lattice,
    shape: tuple[int, int],
    *,
    smoothing: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve the displacement at every lattice node that the image and the spots need.

    Returns
    -------
    nodes : numpy.ndarray
        (2, n_i, n_j) displacement (dy, dx) at the nodes.
    start : numpy.ndarray
        (2,) index (i, j) of node [0, 0].
    """
    rows, cols = shape
    corners = np.array([[-1, -1], [-1, cols], [rows, -1], [rows, cols]], dtype=np.float64)
    reach = np.vstack([lattice.indices(corners), indices])
    start = np.floor(reach.min(axis=0)) - _MARGIN
    stop = np.ceil(reach.max(axis=0)) + _MARGIN
    n_i, n_j = (stop - start).astype(int) + 1
    where = (indices - start).astype(np.intp)
    flat = where[:, 0] * n_j + where[:, 1]
    weight = np.bincount(flat, minlength=n_i * n_j).astype(np.float64)
    penalty = _curvature(n_i, n_j)
    system = (sparse.diags(weight) + smoothing * penalty + 1e-9 * sparse.eye(n_i * n_j)).tocsc()
    # symmetric positive definite: no pivoting, and a fill-reducing order for A + A^T
    solver = splu(system, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0,
                  options={"SymmetricMode": True})  # fmt: skip
    nodes = np.empty((2, n_i, n_j))
    for axis in range(2):
        rhs = np.bincount(flat, weights=displacements[:, axis], minlength=n_i * n_j)
        nodes[axis] = solver.solve(rhs).reshape(n_i, n_j)
    return nodes, start


def _curvature(n_i: int, n_j: int) -> sparse.csr_matrix:
    """Sum of squared second differences (ii, 2 ij, jj) as a quadratic form on the nodes."""

    def second(n: int) -> sparse.csr_matrix:
        return sparse.diags([1.0, -2.0, 1.0], [0, 1, 2], shape=(n - 2, n))

    def first(n: int) -> sparse.csr_matrix:
        return sparse.diags([-1.0, 1.0], [0, 1], shape=(n - 1, n))

    d_ii = sparse.kron(second(n_i), sparse.eye(n_j))
    d_jj = sparse.kron(sparse.eye(n_i), second(n_j))
    d_ij = sparse.kron(first(n_i), first(n_j))
    return (d_ii.T @ d_ii + d_jj.T @ d_jj + 2 * d_ij.T @ d_ij).tocsr()
