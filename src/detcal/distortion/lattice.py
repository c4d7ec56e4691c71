"""Give each spot its integer grid index and fit the ideal regular lattice.

No origin is typed by hand: the pitch and the two lattice directions come from the statistics
of nearest-neighbour vectors (:class:`scipy.spatial.cKDTree`). Indexing starts from the spot
nearest the centre of the cloud, where the local lattice is taken as is, and grows outwards
one pitch at a time: each new spot's fractional index is predicted by an affine fit (position
to index) to its 8 nearest indexed spots and rounded. Such a local model follows strong barrel
or pincushion distortion and local wobbles, so rounding stays safe. At the end every spot's
index is predicted again from its neighbours alone; the distance of that prediction from the
integer (the rounding error, in pitches) is kept and checked. The ideal lattice is the
least-squares affine fit of position to index over every indexed spot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from detcal import _validate

#: Spots whose rounding error (in pitches) exceeds this are not on the grid.
MAX_ROUNDING_ERROR = 0.2
#: Fewest spots that make a grid (3 x 3).
MIN_SPOTS = 9
# indexing fails when more than this fraction of the spots is off the grid
_MAX_OFF_GRID = 0.2
# each spot is indexed from an affine fit to this many indexed neighbours
_NEIGHBOURS = 8
# the indexed neighbours are looked for among this many nearest points first
_SEARCHED = 40


@dataclass(frozen=True)
class Lattice:
    """A regular lattice: ``position = origin + index @ vectors``.

    Parameters
    ----------
    origin : numpy.ndarray
        (2,) position (row, col) of index (0, 0), pixels.
    vectors : numpy.ndarray
        (2, 2): row 0 is the step of the first index (mostly along rows), row 1 the step of the
        second (mostly along columns), each as (row, col) in pixels.

    Examples
    --------
    >>> lattice = Lattice(np.array([5.0, 5.0]), np.array([[10.0, 0.0], [0.0, 10.0]]))
    >>> lattice.positions(np.array([[1, 2]])).tolist()
    [[15.0, 25.0]]
    >>> lattice.indices(np.array([[15.0, 25.0]])).tolist()
    [[1.0, 2.0]]
    """

    origin: np.ndarray
    vectors: np.ndarray

    def positions(self, indices: np.ndarray) -> np.ndarray:
        """Return the (N, 2) positions (row, col) of (N, 2) (fractional) indices."""
        return self.origin + np.asarray(indices, dtype=np.float64) @ self.vectors

    def indices(self, positions: np.ndarray) -> np.ndarray:
        """Return the (N, 2) fractional indices of (N, 2) positions (row, col)."""
        return (np.asarray(positions, dtype=np.float64) - self.origin) @ np.linalg.inv(self.vectors)

    @property
    def pitches(self) -> np.ndarray:
        """Lengths of the two lattice vectors, pixels."""
        return np.hypot(self.vectors[:, 0], self.vectors[:, 1])


@dataclass(frozen=True)
class GridIndex:
    """The result of :func:`index_grid`.

    Attributes
    ----------
    on_grid : numpy.ndarray
        (N,) bool: which of the input points were indexed.
    indices : numpy.ndarray
        (M, 2) int grid index (i, j) of each indexed point (M = on_grid.sum()), the smallest
        index 0 along each axis.
    lattice : Lattice
        Least-squares ideal lattice of the indexed points (in the same index frame).
    rounding_error : numpy.ndarray
        (M,) distance of each point's fractional index from its integer index, in pitches.
    """

    on_grid: np.ndarray
    indices: np.ndarray
    lattice: Lattice
    rounding_error: np.ndarray


def index_grid(points) -> GridIndex:
    """Give each point of a (distorted) regular grid its integer (i, j) index.

    Parameters
    ----------
    points : array_like
        (N, 2) spot centres (row, col), e.g. from :func:`find_grid_peaks`.

    Returns
    -------
    GridIndex
        The indices of the points on the grid, the fitted lattice and the rounding errors.
        Index i grows along the lattice vector closest to the row axis, j along the other.

    Raises
    ------
    ValueError
        Fewer than 9 points, or points that do not form a regular grid (more than 20% of
        them off the grid), with the number of points found.

    Examples
    --------
    >>> ii, jj = np.mgrid[:4, :5]
    >>> points = np.stack([3 + 10.0 * ii.ravel(), 7 + 10.0 * jj.ravel()], axis=1)
    >>> grid = index_grid(points)
    >>> grid.indices[:3].tolist(), np.abs(np.round(grid.lattice.vectors, 6)).tolist()
    ([[0, 0], [0, 1], [0, 2]], [[10.0, 0.0], [0.0, 10.0]])
    """
    points = _validate.array(points, "points", ndim=2, axes="(N, 2) (row, col)")
    points = np.asarray(points, dtype=np.float64)
    if points.shape[1] != 2:
        raise ValueError(f"points: expected (N, 2) (row, col), got shape {points.shape}")
    if len(points) < MIN_SPOTS:
        raise ValueError(
            f"points: found {len(points)} spots, need at least {MIN_SPOTS} (3 x 3) on a grid"
        )
    distances, nearest = cKDTree(points).query(points, k=min(_SEARCHED + 1, len(points)))
    vectors = _lattice_vectors(points, distances[:, :5], nearest[:, :5])
    rounded, error = _grow(points, vectors, _Neighbours(points, nearest[:, 1:]))
    on_grid = (error <= MAX_ROUNDING_ERROR) & _first_of_each_index(rounded, error)
    if on_grid.sum() < max(MIN_SPOTS, (1 - _MAX_OFF_GRID) * len(points)):
        raise ValueError(
            f"points: the {len(points)} spots found do not form a regular grid: only "
            f"{int(on_grid.sum())} could be indexed with a rounding error <= "
            f"{MAX_ROUNDING_ERROR} pitch"
        )
    indices = rounded[on_grid].astype(np.intp)
    indices -= indices.min(axis=0)
    lattice = fit_lattice(indices, points[on_grid])
    return GridIndex(on_grid, indices, lattice, error[on_grid])


def fit_lattice(indices: np.ndarray, points: np.ndarray) -> Lattice:
    """Fit ``points = origin + indices @ vectors`` by least squares.

    Parameters
    ----------
    indices : numpy.ndarray
        (N, 2) integer grid indices.
    points : numpy.ndarray
        (N, 2) positions (row, col).

    Returns
    -------
    Lattice
        The fitted lattice.

    Examples
    --------
    >>> idx = np.array([[0, 0], [0, 1], [1, 0], [1, 1]])
    >>> np.round(fit_lattice(idx, 2.0 + 4.0 * idx).origin, 9).tolist()
    [2.0, 2.0]
    """
    design = np.column_stack([np.ones(len(indices)), indices])
    solution = np.linalg.lstsq(design, points, rcond=None)[0]
    return Lattice(origin=solution[0], vectors=solution[1:])


def _lattice_vectors(points: np.ndarray, distances, neighbours) -> np.ndarray:
    """Find the two lattice vectors from the nearest-neighbour vectors of every point.

    ``distances`` and ``neighbours`` are each point's nearest points (itself first), as
    :meth:`scipy.spatial.cKDTree.query` gives them.
    """
    pitch = np.median(distances[:, 1])
    steps = (points[neighbours[:, 1:]] - points[:, None, :]).reshape(-1, 2)
    length = np.hypot(steps[:, 0], steps[:, 1])
    steps = steps[(length > 0.7 * pitch) & (length < 1.3 * pitch)]
    doubled = 2 * np.arctan2(steps[:, 0], steps[:, 1])  # a step and its opposite coincide
    directions, vectors = [], []
    for _ in range(2):
        histogram, edges = np.histogram(doubled, bins=72, range=(-np.pi, np.pi))
        centres = (edges[:-1] + edges[1:]) / 2
        for previous in directions:  # the second direction lies at least 30 degrees away
            histogram[np.abs(np.angle(np.exp(1j * (centres - previous)))) < np.pi / 3] = 0
        peak = centres[np.argmax(histogram)]
        near = np.abs(np.angle(np.exp(1j * (doubled - peak)))) < np.pi / 6
        directions.append(np.angle(np.exp(1j * doubled[near]).mean()))
        unit = np.array([np.sin(directions[-1] / 2), np.cos(directions[-1] / 2)])
        vectors.append(np.median(steps[near] * np.sign(steps[near] @ unit)[:, None], axis=0))
    vectors = np.array(vectors)
    if abs(vectors[0, 0]) < abs(vectors[1, 0]):  # the first index runs along the rows
        vectors = vectors[::-1]
    vectors[0] *= np.sign(vectors[0, 0]) or 1.0
    vectors[1] *= np.sign(vectors[1, 1]) or 1.0
    return vectors


def _grow(
    points: np.ndarray, vectors: np.ndarray, nearest: _Neighbours
) -> tuple[np.ndarray, np.ndarray]:
    """Integer indices of the points, grown outwards from the centre with local affine models.

    Returns the indices (N, 2) and the final rounding errors (N,) (inf where not indexed).
    """
    seed = points[np.argmin(np.hypot(*(points - points.mean(axis=0)).T))]
    distance = np.hypot(*(points - seed).T)
    pitch = float(np.hypot(*vectors.T).mean())
    fractional = (points - seed) @ np.linalg.inv(vectors)
    rounded = np.rint(fractional)
    radius = 2.5 * pitch
    indexed = (distance <= radius) & (np.abs(fractional - rounded).max(axis=1) < 0.3)
    while radius <= distance.max() + pitch and indexed.sum() >= _NEIGHBOURS:
        radius += pitch
        candidates = np.flatnonzero(~indexed & (distance <= radius))
        if len(candidates):
            near = nearest.indexed(candidates, indexed)
            predicted = _local_prediction(points, rounded, candidates, near)
            rounded_now = np.rint(predicted)
            accept = np.abs(predicted - rounded_now).max(axis=1) < 0.3
            rounded[candidates[accept]] = rounded_now[accept]
            indexed[candidates[accept]] = True
    error = np.full(len(points), np.inf)
    if indexed.sum() > _NEIGHBOURS:
        which = np.flatnonzero(indexed)
        check = _local_prediction(points, rounded, which, nearest.indexed(which, indexed))
        error[which] = np.abs(check - rounded[which]).max(axis=1)
    return rounded, error


class _Neighbours:
    """The nearest indexed points of each point (never the point itself).

    ``order`` lists the nearest points of every point (``_SEARCHED``, nearest first, found
    once); the nearest indexed ones are the first indexed among them, and a k-d tree of the
    indexed points answers for the few points with too few of them.
    """

    def __init__(self, points: np.ndarray, order: np.ndarray):
        self.points = points
        self.order = order

    def indexed(self, targets: np.ndarray, indexed: np.ndarray) -> np.ndarray:
        """Return the (len(targets), _NEIGHBOURS) nearest indexed points of each target.

        The targets are all indexed or all not (``indexed`` says which points are).
        """
        order = self.order[targets]
        usable = indexed[order]
        usable &= np.cumsum(usable, axis=1) <= _NEIGHBOURS
        enough = usable.sum(axis=1) == _NEIGHBOURS
        near = np.empty((len(targets), _NEIGHBOURS), dtype=np.intp)
        near[enough] = order[enough][usable[enough]].reshape(-1, _NEIGHBOURS)
        if not enough.all():
            known = np.flatnonzero(indexed)
            rest = targets[~enough]
            itself = int(indexed[rest[0]])  # an indexed target is its own nearest indexed point
            tree = cKDTree(self.points[known])
            near[~enough] = known[tree.query(self.points[rest], k=_NEIGHBOURS + itself)[1]][
                :, itself:
            ]
        return near


def _local_prediction(points, rounded, targets, near):
    """Fractional index of each target from an affine fit to its neighbours ``near``."""
    offsets = points[near] - points[targets][:, None, :]
    design = np.concatenate([np.ones((*near.shape, 1)), offsets], axis=2)
    transposed = design.transpose(0, 2, 1)
    normal = transposed @ design + 1e-9 * np.eye(3)
    rhs = transposed @ rounded[near]
    return np.linalg.solve(normal, rhs)[:, 0, :]  # the fit's value at the target itself


def _first_of_each_index(rounded: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Mark the point of smallest rounding error among those sharing an index."""
    order = np.lexsort((error, rounded[:, 1], rounded[:, 0]))
    keep = np.zeros(len(rounded), dtype=bool)
    _, first = np.unique(rounded[order], axis=0, return_index=True)
    keep[order[first]] = True
    return keep
