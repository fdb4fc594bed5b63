"""k-th nearest-neighbour distances: a Numba cell grid in 1-3 D, scipy's cKDTree otherwise.

Both backends return the same distances (to floating-point precision); ``backend="auto"``
takes the grid for d <= 3 unless the point set is so clustered that a uniform grid would
be inefficient, and cKDTree (``workers=-1``) for everything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from . import kernels

Backend = Literal["auto", "grid", "kdtree"]
#: points per cell the first guess aims at (occupied cells then hold ~2: a query scans ~3^d cells)
TARGET_OCCUPANCY = 1.0
#: at most this many cells per point (memory: 8 bytes per cell)
MAX_CELLS_PER_POINT = 4
#: above this mean occupancy of the occupied cells the grid is abandoned for cKDTree
MAX_OCCUPANCY = 64.0


@dataclass(frozen=True)
class Grid:
    """A cell list of points in 1-3 D (see :mod:`analysis.kernels`)."""

    gx: NDArray[np.float64]
    gy: NDArray[np.float64]
    gz: NDArray[np.float64]
    order: NDArray[np.int64]
    starts: NDArray[np.int64]
    origin: NDArray[np.float64]
    h: float
    shape: NDArray[np.int64]
    dim: int
    occupancy: float
    tol: float

    @property
    def n(self) -> int:
        return int(self.order.shape[0])


def build_grid(points: NDArray[np.float64], target: float = TARGET_OCCUPANCY) -> Grid:
    """Sort ``points`` (float64, shape (n, d), d <= 3, finite) into a uniform cell grid.

    The cell side is chosen so that occupied cells hold about ``target`` points: it starts
    from the bounding box and shrinks while the data fill only part of the box (clusters,
    outliers), within ``MAX_CELLS_PER_POINT`` cells per point.
    """
    n, d = points.shape
    # column by column: numpy reduces a strided column much faster than along axis 0
    lo = np.array([points[:, a].min() for a in range(d)])
    hi = np.array([points[:, a].max() for a in range(d)])
    extent = hi - lo
    active = extent > 0
    n_active = int(active.sum())
    origin = np.zeros(3)
    origin[:d] = lo
    max_cells = MAX_CELLS_PER_POINT * n + 64
    if n_active == 0:
        h = 1.0
    else:
        h = float(np.prod(extent[active]) * target / n) ** (1.0 / n_active)
        h = max(h, float(extent.max()) * 1e-12)

    def grid_shape(h: float) -> NDArray[np.int64]:
        shape = np.ones(3, dtype=np.int64)
        shape[:d] = np.where(active, np.floor(extent / h).astype(np.int64) + 1, 1)
        return shape

    for _ in range(4):
        shape = grid_shape(h)
        n_cells = int(np.prod(shape))
        if n_cells > max_cells:  # too fine: coarsen to the cap
            h *= (n_cells / max_cells) ** (1.0 / max(n_active, 1)) * 1.001
            shape = grid_shape(h)
            n_cells = int(np.prod(shape))
        cells = kernels.assign_cells(points, origin, 1.0 / h, shape)
        occupied = int(np.count_nonzero(np.bincount(cells, minlength=n_cells)))
        occupancy = n / occupied
        if n_active == 0 or occupancy <= 1.5 * target or n_cells * 1.5 > max_cells:
            break
        h *= (target / occupancy) ** (1.0 / n_active)
    order, starts = kernels.counting_sort(cells, n_cells)
    gx, gy, gz = kernels.gather_columns(points, order)
    tol = 1e-12 * (float(max(np.abs(lo).max(), np.abs(hi).max())) + h)
    return Grid(gx, gy, gz, order, starts, origin, float(h), shape, d, occupancy, tol)


def _search(q: tuple, self_query: bool, grid: Grid, k: int, maxnorm: bool) -> NDArray[np.float64]:
    fn = kernels.grid_kth_distance_serial if len(q[0]) < kernels.SERIAL_BELOW else kernels.grid_kth_distance
    return fn(
        q[0],
        q[1],
        q[2],
        self_query,
        grid.gx,
        grid.gy,
        grid.gz,
        grid.starts,
        grid.origin,
        grid.h,
        grid.shape,
        grid.dim,
        k,
        maxnorm,
        grid.tol,
    )


def _unsort(values: NDArray[np.float64], order: NDArray[np.int64]) -> NDArray[np.float64]:
    out = np.empty_like(values)
    out[order] = values
    return out


def grid_kth_distance(
    grid: Grid, k: int, *, queries: NDArray[np.float64] | None = None, maxnorm: bool = False
) -> NDArray[np.float64]:
    """k-th neighbour distance of the grid's own points (others than themselves) or of ``queries``."""
    if queries is None:
        dist = _search((grid.gx, grid.gy, grid.gz), True, grid, k, maxnorm)
        return _unsort(dist, grid.order)
    # visit the queries in the grid's cell order, for memory locality
    cells = kernels.assign_cells(queries, grid.origin, 1.0 / grid.h, grid.shape)
    order, _ = kernels.counting_sort(cells, int(np.prod(grid.shape)))
    dist = _search(kernels.gather_columns(queries, order), False, grid, k, maxnorm)
    return _unsort(dist, order)


def _choose(points: NDArray[np.float64], backend: Backend) -> Grid | None:
    if backend == "kdtree" or (backend == "auto" and points.shape[1] > 3):
        return None
    if points.shape[1] > 3:
        raise ValueError("the grid backend works in 1-3 dimensions; use backend='kdtree'")
    grid = build_grid(points)
    if backend == "auto" and grid.occupancy > MAX_OCCUPANCY:
        return None
    return grid


def kth_neighbour_distance(
    points: NDArray[np.float64],
    k: int,
    *,
    queries: NDArray[np.float64] | None = None,
    norm: Literal["euclidean", "max"] = "euclidean",
    backend: Backend = "auto",
    period: NDArray[np.float64] | None = None,
) -> NDArray[np.float64]:
    """Distance to the k-th nearest neighbour.

    Parameters
    ----------
    points : ndarray, shape (n, d), float64
        Reference points (finite).
    k : int
        Neighbour rank (1 = nearest).
    queries : ndarray, shape (m, d), float64, optional
        Query points. Without them every reference point is queried and its own entry is
        not counted (the k-th neighbour *other than itself*; exact duplicates count).
    norm : {"euclidean", "max"}
    backend : {"auto", "grid", "kdtree"}
        ``grid``: the Numba cell list (d <= 3); ``kdtree``: ``scipy.spatial.cKDTree``.
    period : ndarray, shape (d,), optional
        Box lengths of a periodic domain: distances are taken on the torus (minimum
        image), with cKDTree's ``boxsize`` whatever ``backend`` says.

    Returns
    -------
    ndarray, shape (n,) or (m,), float64
        Distances (length units of the input).
    """
    maxnorm = norm == "max"
    from scipy.spatial import cKDTree

    if period is not None:
        period = np.asarray(period, dtype=np.float64)
        points = _wrap(points, period)
        queries = None if queries is None else _wrap(queries, period)
        tree = cKDTree(points, boxsize=period)
    else:
        grid = _choose(points, backend)
        if grid is not None:
            return grid_kth_distance(grid, k, queries=queries, maxnorm=maxnorm)
        tree = cKDTree(points)
    p = np.inf if maxnorm else 2.0
    if queries is None:
        dist, _ = tree.query(points, k=[k + 1], p=p, workers=-1)
    else:
        dist, _ = tree.query(queries, k=[k], p=p, workers=-1)
    return np.ascontiguousarray(dist[:, 0])


def _wrap(points: NDArray[np.float64], period: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points moved into ``[0, period)`` on every axis (what cKDTree's ``boxsize`` needs)."""
    wrapped = np.mod(points, period)
    return np.where(wrapped >= period, 0.0, wrapped)  # mod of a tiny negative can round to period


def count_within(
    points: NDArray[np.float64], radius: NDArray[np.float64], backend: Backend = "auto"
) -> NDArray[np.int64]:
    """Number of other points strictly closer than ``radius[i]`` to point i, in the maximum norm.

    The grid (d <= 3) or ``cKDTree.query_ball_point(return_length=True)``.
    """
    grid = _choose(points, backend)
    if grid is None:
        from scipy.spatial import cKDTree

        strict = np.nextafter(radius, 0.0)
        counts = cKDTree(points).query_ball_point(points, r=strict, p=np.inf, return_length=True, workers=-1)
        return np.asarray(counts, dtype=np.int64) - 1
    r_sorted = np.ascontiguousarray(radius[grid.order], dtype=np.float64)
    counts = kernels.grid_count_within(
        r_sorted,
        grid.gx,
        grid.gy,
        grid.gz,
        grid.starts,
        grid.origin,
        grid.h,
        grid.shape,
        grid.dim,
        grid.n < kernels.SERIAL_BELOW,
    )
    out = np.empty_like(counts)
    out[grid.order] = counts
    return out
