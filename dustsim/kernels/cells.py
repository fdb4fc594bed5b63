"""Cell lists: bin particles into cells no smaller than the cut-off, sort them by cell.

The grid covers the box on periodic and reflecting axes and the particles' current
extent on free axes; a cell is at least ``rc (1 + CELL_MARGIN)`` wide (plus a few ulps of
the coordinates) so that rounding can never put two particles closer than ``rc`` into
non-adjacent cells. The number of cells is capped near the number of particles (cells
grow instead), so that a dilute or spread-out system costs O(N), not O(volume).

Particles are sorted by cell with a counting sort (O(N + cells)); the pair loop of a
particle then visits the 3^d neighbour cells as contiguous slices of the sorted arrays.
Which order particles sit in within a cell does not matter for the results: pair forces
are summed in fixed point (:mod:`dustsim.kernels.forces`).

Grids are described by three length-3 arrays (unused axes have one cell): ``origin``,
``hinv`` (inverse cell width) and ``nc`` (cells per axis, int64).
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .forces import add_pair
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .space import FREE, PERIODIC

CELL_MARGIN = 1e-4
CHUNK = 1024  # particles per parallel task (on average)
CELLS_PER_PARTICLE = 4  # cap on the number of cells, per particle


@njit(**_JIT)
def axis_ranges(p):
    """Per-axis ``(min, max)`` of positions ``p`` (shape ``(n, d)``), as float64 arrays."""
    n, d = p.shape
    lo = np.full(d, np.inf)
    hi = np.full(d, -np.inf)
    for k in range(n):
        for a in range(d):
            v = np.float64(p[k, a])
            lo[a] = min(lo[a], v)
            hi[a] = max(hi[a], v)
    return lo, hi


@njit(**_JIT)
def grid_from_ranges(kinds, lo, length, pmin, pmax, rc, eps, max_cells):
    """The cell grid, given the particles' per-axis range (used on free axes only).

    Parameters
    ----------
    kinds : ndarray of int64, shape (d,)
        Boundary kind per axis.
    lo, length : ndarray of float64, shape (d,)
        Box per axis (used on periodic and reflecting axes).
    pmin, pmax : ndarray of float64, shape (d,)
        Smallest and largest coordinate per axis.
    rc : float
        Cut-off radius (length).
    eps : float
        Machine epsilon of the positions' precision.
    max_cells : int
        Cap on the total number of cells.

    Returns
    -------
    origin, hinv : ndarray of float64, shape (3,)
    nc : ndarray of int64, shape (3,)
    """
    d = kinds.shape[0]
    origin = np.zeros(3)
    extent = np.ones(3)
    nc = np.ones(3, dtype=np.int64)
    for a in range(d):
        if kinds[a] == FREE:
            origin[a] = pmin[a]
            extent[a] = max(pmax[a] - pmin[a], 0.0)
            scale = max(abs(pmin[a]), abs(pmax[a]))
        else:
            origin[a] = lo[a]
            extent[a] = length[a]
            scale = max(abs(lo[a]), abs(lo[a] + length[a]))
        hmin = rc * (1.0 + CELL_MARGIN) + 16.0 * eps * scale
        nc[a] = max(np.int64(1), np.int64(np.floor(extent[a] / hmin)))
    total = nc[0] * nc[1] * nc[2]
    while total > max_cells:  # coarsen the grid: halve the largest axis count
        big = 0
        for a in range(1, d):
            if nc[a] > nc[big]:
                big = a
        nc[big] = max(np.int64(1), nc[big] // 2)
        total = nc[0] * nc[1] * nc[2]
    hinv = np.zeros(3)
    for a in range(d):
        hinv[a] = nc[a] / extent[a] if nc[a] > 1 else 0.0
    return origin, hinv, nc


@njit(**_JIT)
def grid_setup(p, kinds, lo, length, rc, eps, max_cells):
    """The cell grid for positions ``p`` (shape ``(n, d)``); see :func:`grid_from_ranges`."""
    pmin, pmax = axis_ranges(p)
    return grid_from_ranges(kinds, lo, length, pmin, pmax, rc, eps, max_cells)


@njit(**_INLINE)
def max_cells_for(n):
    """The cap on the number of cells for ``n`` particles."""
    return CELLS_PER_PARTICLE * n + 64


@njit(**_INLINE)
def cell_coord(x, origin, hinv, nc):
    """Cell index of coordinate ``x`` on one axis (clamped into the grid)."""
    c = np.int64(np.floor((np.float64(x) - origin) * hinv))
    return min(max(c, np.int64(0)), nc - 1)


@njit(**_INLINE)
def cell_of(p, k, d, origin, hinv, nc):
    """Linear cell index ``c0 + nc0 (c1 + nc1 c2)`` of row ``k`` of ``p``."""
    c = cell_coord(p[k, 0], origin[0], hinv[0], nc[0])
    if d > 1:
        c += nc[0] * cell_coord(p[k, 1], origin[1], hinv[1], nc[1])
    if d > 2:
        c += nc[0] * nc[1] * cell_coord(p[k, 2], origin[2], hinv[2], nc[2])
    return c


@njit(**_JIT)
def bin_particles(p, origin, hinv, nc, cell):
    """Linear cell index of every particle (row of ``p``) into ``cell``."""
    n, d = p.shape
    for k in range(n):
        cell[k] = cell_of(p, k, d, origin, hinv, nc)


@njit(**_JIT)
def counting_sort(cell, n_cells, start, dest):
    """Stable counting sort by cell: ``dest[k]`` is where particle ``k`` goes.

    ``start`` (length ``>= n_cells + 1``) receives the first sorted index of every cell.
    """
    n = cell.shape[0]
    start[: n_cells + 1] = 0
    for k in range(n):
        start[cell[k] + 1] += 1
    for c in range(n_cells):
        start[c + 1] += start[c]
    for k in range(n):
        c = cell[k]
        dest[k] = start[c]
        start[c] += 1
    # start[c] now holds the end of cell c: shift back
    for c in range(n_cells, 0, -1):
        start[c] = start[c - 1]
    start[0] = 0


@njit(**_INLINE)
def _neighbour_range(c, n, periodic):
    """First offset and number of neighbour cells of cell ``c`` on one axis."""
    if periodic:
        if n >= 3:
            return np.int64(-1), np.int64(3)
        return -c, n
    first = max(c - 1, np.int64(0))
    last = min(c + 1, n - 1)
    return first - c, last - first + 1


@njit(**_INLINE)
def _wrap_cell(c, n, periodic):
    if periodic:
        if c < 0:
            return c + n
        if c >= n:
            return c - n
    return c


@njit(**_INLINE)
def neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi):
    """Slices of the sorted particles that hold the neighbour cells of cell ``(c0, c1, c2)``.

    Along axis 0 the (up to three) neighbour cells of a row are contiguous in the sorted
    order, so each neighbour row is one slice — two where a periodic axis wraps. Writes
    up to 18 slices into ``rlo``/``rhi`` and returns their number.
    """
    n0 = nc[0]
    f1, m1 = _neighbour_range(c1, nc[1], p1)
    f2, m2 = _neighbour_range(c2, nc[2], p2)
    count = 0
    for t2 in range(m2):
        b2 = _wrap_cell(c2 + f2 + t2, nc[2], p2)
        for t1 in range(m1):
            b1 = _wrap_cell(c1 + f1 + t1, nc[1], p1)
            base = n0 * (b1 + nc[1] * b2)
            if p0 and n0 >= 3 and c0 == 0:
                rlo[count] = start[base]
                rhi[count] = start[base + 2]
                rlo[count + 1] = start[base + n0 - 1]
                rhi[count + 1] = start[base + n0]
                count += 2
            elif p0 and n0 >= 3 and c0 == n0 - 1:
                rlo[count] = start[base + n0 - 2]
                rhi[count] = start[base + n0]
                rlo[count + 1] = start[base]
                rhi[count + 1] = start[base + 1]
                count += 2
            elif p0 and n0 < 3:  # fewer than three cells: all of them
                rlo[count] = start[base]
                rhi[count] = start[base + n0]
                count += 1
            else:
                rlo[count] = start[base + max(c0 - 1, np.int64(0))]
                rhi[count] = start[base + min(c0 + 1, n0 - 1) + 1]
                count += 1
    return count


@njit(**_INLINE)
def sum_pair_forces(p, k, rlo, rhi, count, d, kinds, length, half, rc2, kind, Q, scale, limit):
    """Fixed-point pair force on sorted particle ``k`` from the slices ``rlo``/``rhi``.

    Returns ``(a0, a1, a2, overflow)``.
    """
    a0 = a1 = a2 = np.int64(0)
    bad = False
    for r in range(count):
        for j in range(rlo[r], rhi[r]):
            if j != k:
                q0, q1, q2, b = add_pair(p, k, j, d, kinds, length, half, rc2, kind, Q, scale, limit)
                a0 += q0
                a1 += q1
                a2 += q2
                bad = bad or b
    return a0, a1, a2, bad


@njit(**_INLINE)
def row_coords(row, nc):
    """``(c1, c2)`` of a row index ``c1 + nc1 c2``."""
    return row % nc[1], row // nc[1]


@njit(**_JIT)
def pair_forces_cells(p, kinds, lo, length, half, rc, rc2, kind, Q, scale, limit, eps):
    """Fixed-point pair forces through a cell list; same result as ``pair_forces_brute``.

    Parameters are those of :func:`dustsim.kernels.forces.pair_forces_brute`, plus
    ``lo`` (float64 lower walls), ``rc`` (float64 cut-off) and ``eps`` (machine epsilon
    of ``p``). Returns ``(acc, bad)`` in the original particle order.
    """
    n, d = p.shape
    origin, hinv, nc = grid_setup(p, kinds, lo, length.astype(np.float64), rc, eps, max_cells_for(n))
    n_cells = nc[0] * nc[1] * nc[2]
    cell = np.empty(n, dtype=np.int64)
    bin_particles(p, origin, hinv, nc, cell)
    start = np.empty(n_cells + 1, dtype=np.int64)
    dest = np.empty(n, dtype=np.int64)
    counting_sort(cell, n_cells, start, dest)
    ps = np.empty_like(p)
    for k in range(n):
        for a in range(d):
            ps[dest[k], a] = p[k, a]
    acc_sorted = np.zeros((n, 3), dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    rlo = np.empty(18, dtype=np.int64)
    rhi = np.empty(18, dtype=np.int64)
    p0 = kinds[0] == PERIODIC
    p1 = d > 1 and kinds[1] == PERIODIC
    p2 = d > 2 and kinds[2] == PERIODIC
    for row in range(nc[1] * nc[2]):
        c1, c2 = row_coords(row, nc)
        for c0 in range(nc[0]):
            cell_id = c0 + nc[0] * row
            if start[cell_id] == start[cell_id + 1]:
                continue
            count = neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi)
            for k in range(start[cell_id], start[cell_id + 1]):
                a0, a1, a2, b = sum_pair_forces(
                    ps, k, rlo, rhi, count, d, kinds, length, half, rc2, kind, Q, scale, limit
                )
                acc_sorted[k, 0] = a0
                acc_sorted[k, 1] = a1
                acc_sorted[k, 2] = a2
                bad[k] = b
    acc = np.empty((n, 3), dtype=np.int64)
    bad_out = np.empty(n, dtype=np.bool_)
    for k in range(n):
        for a in range(3):
            acc[k, a] = acc_sorted[dest[k], a]
        bad_out[k] = bad[dest[k]]
    return acc, bad_out
