"""Tile numbering of a mosaic acquired in "inverted N" order.

mesoSPIM-style mosaics are acquired column by column: tile 1 is the top-left field, the
numbers go down the first column, then continue at the top of the next column. Tile numbers
are 1-based, grid positions are 0-based ``(row, col)`` and ``grid_shape`` is
``(n_rows, n_cols)``.

Examples
--------
>>> tile_position(4, (3, 3))
(0, 1)
>>> corner_tiles((3, 3))
(1, 3, 7, 9)
"""

from __future__ import annotations

import math
from collections.abc import Iterable


def check_grid_shape(grid_shape: Iterable[int], n_tiles: int | None = None) -> tuple[int, int]:
    """Validate a grid shape, optionally against the number of tiles.

    Parameters
    ----------
    grid_shape : pair of int
        ``(n_rows, n_cols)``, both at least 1.
    n_tiles : int, optional
        Number of tiles in the data; must equal ``n_rows * n_cols``.

    Returns
    -------
    tuple of int
        ``(n_rows, n_cols)``.

    Raises
    ------
    ValueError
        If the shape is not two positive integers or does not hold ``n_tiles`` tiles.
    """
    shape = tuple(int(v) for v in grid_shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"grid_shape must be two positive integers (rows, cols), got {shape}")
    if n_tiles is not None and shape[0] * shape[1] != n_tiles:
        raise ValueError(
            f"grid_shape {shape} holds {shape[0] * shape[1]} tiles but the data has {n_tiles}"
        )
    return shape


def infer_grid_shape(n_tiles: int) -> tuple[int, int]:
    """Guess the grid of ``n_tiles`` tiles: a square when it is a perfect square.

    Parameters
    ----------
    n_tiles : int
        Number of tiles.

    Returns
    -------
    tuple of int
        ``(n, n)`` with ``n * n == n_tiles``; a single tile gives ``(1, 1)``.

    Raises
    ------
    ValueError
        If ``n_tiles`` is not a perfect square (pass ``grid_shape`` then).
    """
    side = math.isqrt(int(n_tiles))
    if side * side != n_tiles or side < 1:
        raise ValueError(
            f"cannot guess the tile grid of {n_tiles} tiles; pass grid_shape=(rows, cols)"
        )
    return side, side


def tile_position(number: int, grid_shape: tuple[int, int]) -> tuple[int, int]:
    """Grid position ``(row, col)`` of a 1-based tile number.

    Parameters
    ----------
    number : int
        Tile number, 1 to ``n_rows * n_cols``.
    grid_shape : pair of int
        ``(n_rows, n_cols)``.

    Returns
    -------
    tuple of int
        0-based ``(row, col)``.

    Raises
    ------
    ValueError
        If ``number`` is outside the grid.
    """
    n_rows, n_cols = check_grid_shape(grid_shape)
    if not 1 <= int(number) <= n_rows * n_cols:
        raise ValueError(
            f"tile number {number} is outside the {n_rows}x{n_cols} grid "
            f"(valid: 1 to {n_rows * n_cols})"
        )
    index = int(number) - 1
    return index % n_rows, index // n_rows


def tile_number(row: int, col: int, grid_shape: tuple[int, int]) -> int:
    """1-based tile number of the grid position ``(row, col)``.

    Parameters
    ----------
    row, col : int
        0-based grid position.
    grid_shape : pair of int
        ``(n_rows, n_cols)``.

    Returns
    -------
    int
        Tile number in acquisition order.

    Raises
    ------
    ValueError
        If the position is outside the grid.
    """
    n_rows, n_cols = check_grid_shape(grid_shape)
    if not (0 <= row < n_rows and 0 <= col < n_cols):
        raise ValueError(f"grid position ({row}, {col}) is outside the {n_rows}x{n_cols} grid")
    return int(col) * n_rows + int(row) + 1


def corner_tiles(grid_shape: tuple[int, int]) -> tuple[int, ...]:
    """Tile numbers of the grid's corners, in increasing order, without repeats.

    Parameters
    ----------
    grid_shape : pair of int
        ``(n_rows, n_cols)``.

    Returns
    -------
    tuple of int
        The four corners (fewer for a single row or column).
    """
    n_rows, n_cols = check_grid_shape(grid_shape)
    corners = {
        tile_number(r, c, (n_rows, n_cols)) for r in (0, n_rows - 1) for c in (0, n_cols - 1)
    }
    return tuple(sorted(corners))


def check_fov_list(fov_list: Iterable[int], grid_shape: tuple[int, int]) -> tuple[int, ...]:
    """Validate 1-based tile numbers against a grid.

    Parameters
    ----------
    fov_list : iterable of int
        Tile numbers; duplicates are dropped.
    grid_shape : pair of int
        ``(n_rows, n_cols)``.

    Returns
    -------
    tuple of int
        Sorted unique tile numbers.

    Raises
    ------
    ValueError
        If the list is empty or a number is outside the grid.
    """
    numbers = sorted({int(v) for v in fov_list})
    if not numbers:
        raise ValueError("fov_list is empty: give at least one 1-based tile number")
    n_rows, n_cols = check_grid_shape(grid_shape)
    outside = [n for n in numbers if not 1 <= n <= n_rows * n_cols]
    if outside:
        raise ValueError(
            f"fov_list has tile numbers {outside} outside the {n_rows}x{n_cols} grid "
            f"(valid: 1 to {n_rows * n_cols}, 1-based, inverted-N order)"
        )
    return tuple(numbers)


def guess_grid_shape(n_tiles: int, recorded: Iterable[int] | None = None) -> tuple[int, int]:
    """Return the grid of ``n_tiles`` tiles: ``recorded`` when it fits, else a square or a column.

    Parameters
    ----------
    n_tiles : int
        Number of tiles.
    recorded : pair of int, optional
        A grid recorded with the data (e.g. a layer's ``metadata["grid_shape"]``).

    Returns
    -------
    tuple of int
        ``(n_rows, n_cols)``.

    Examples
    --------
    >>> guess_grid_shape(6, (2, 3)), guess_grid_shape(9), guess_grid_shape(5)
    ((2, 3), (3, 3), (5, 1))
    """
    for guess in (lambda: check_grid_shape(recorded, n_tiles), lambda: infer_grid_shape(n_tiles)):
        try:
            return guess()
        except (TypeError, ValueError):
            continue
    return int(n_tiles), 1


def describe_layout(shape: Iterable[int]) -> tuple[str, int]:
    """Say what data of ``shape`` holds for a flat-field estimate; return it and its z-levels.

    Examples
    --------
    >>> describe_layout((9, 24, 512, 512))
    ('9 tiles x 24 planes of 512 x 512', 24)
    >>> describe_layout((40, 256, 256))
    ('one field: 40 planes of 256 x 256', 40)
    >>> describe_layout((256, 256))
    ('shape (256, 256): expected (tile, z, row, col) or (z, row, col)', 1)
    """
    shape = tuple(int(n) for n in shape)
    if len(shape) == 4:
        return f"{shape[0]} tiles x {shape[1]} planes of {shape[2]} x {shape[3]}", shape[1]
    if len(shape) == 3:
        return f"one field: {shape[0]} planes of {shape[1]} x {shape[2]}", shape[0]
    return f"shape {shape}: expected (tile, z, row, col) or (z, row, col)", 1


def suggested_z_levels(n_z: int) -> tuple[int, int]:
    """Return the z-range first offered as holding the sample: the middle half of ``n_z``.

    Planes below the first and above the second are then taken as empty.

    Examples
    --------
    >>> suggested_z_levels(24), suggested_z_levels(1)
    ((6, 17), (0, 0))
    """
    return min(n_z // 4, n_z - 1), max(n_z - 1 - n_z // 4, 0)


def describe_selection(
    fov_list: Iterable[int] | None,
    z_levels: tuple[int, int] | None,
    grid_shape: tuple[int, int] | None,
) -> str:
    """Say in a sentence which planes an estimate will treat as empty (or that BaSiC is fitted).

    Examples
    --------
    >>> describe_selection(None, (2, 9), (3, 3))
    'Estimate uses empty data: corner tiles 1, 3, 7, 9; planes below 2 and above 9.'
    >>> describe_selection(None, None, None)
    'Nothing marked empty: Estimate fits BaSiC (basicpy).'
    """
    parts = []
    if fov_list:
        parts.append("tiles " + ", ".join(str(n) for n in fov_list))
    if z_levels:
        if not fov_list and grid_shape:
            parts.append("corner tiles " + ", ".join(str(n) for n in corner_tiles(grid_shape)))
        parts.append(f"planes below {z_levels[0]} and above {z_levels[1]}")
    if not parts:
        return "Nothing marked empty: Estimate fits BaSiC (basicpy)."
    return "Estimate uses empty data: " + "; ".join(parts) + "."
