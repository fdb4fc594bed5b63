"""Numba kernels of the analysis package: a uniform-grid k-nearest-neighbour search.

This is the only module of ``analysis`` with compiled code. Every kernel is a pure
function (arrays in, arrays out) that knows nothing of datasets or estimators.

Why a hand-written search: scipy's ``cKDTree`` is the general tool (and the fallback, see
:mod:`analysis.neighbors`), but in 1-3 dimensions a cell list is several times faster for
the "k-th neighbour distance of every point" query that entropy estimators need: one
counting sort builds it in O(n), and a query scans only the few cells around a point,
which lie contiguously in memory because points are stored in cell order. No library
ships such a search for arbitrary point sets.

Layout
------
The grid has ``shape = (sx, sy, sz)`` cells of side ``h`` from ``origin`` (absent axes have
one cell and coordinate 0). Cell ``(ix, iy, iz)`` has id ``(iz * sy + iy) * sx + ix``; the
points of cell ``c`` are ``starts[c] : starts[c + 1]`` of the cell-sorted coordinate
arrays ``gx, gy, gz`` (structure of arrays). Distances are Euclidean (``maxnorm=False``)
or maximum-norm, computed in float64.

Per the lesson learned in dustsim's kernels: inner loops live in separate non-parallel
``@njit(error_model="numpy")`` functions called from the ``prange`` loops, so they
vectorise and never raise on a float division.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numba import njit, prange

_JIT: dict[str, Any] = {"cache": True, "error_model": "numpy", "nogil": True}
#: below this many queries the serial search is used: starting threads costs more than it
#: saves, and much more on a busy machine where the other threads wait to be scheduled.
#: (Building the grid is memory-bound and cheap, so it is always serial.)
SERIAL_BELOW = 20_000
#: queries per parallel task: contiguous in cell order, so one task stays in cache
BLOCK = 512


@njit(inline="always", **_JIT)
def _axis_cell(v, o, inv_h, m):
    c = int(np.floor((v - o) * inv_h))
    if c < 0:
        return 0
    if c >= m:
        return m - 1
    return c


@njit(**_JIT)
def _assign_block(pts, lo, hi, origin, inv_h, shape, out):
    d = pts.shape[1]
    sx, sy, sz = shape[0], shape[1], shape[2]
    for i in range(lo, hi):
        cx = _axis_cell(pts[i, 0], origin[0], inv_h, sx)
        cy = _axis_cell(pts[i, 1], origin[1], inv_h, sy) if d >= 2 else 0
        cz = _axis_cell(pts[i, 2], origin[2], inv_h, sz) if d >= 3 else 0
        out[i] = (cz * sy + cy) * sx + cx


@njit(**_JIT)
def counting_sort(cells, n_cells):
    """Stable counting sort of points by cell.

    Returns
    -------
    order : ndarray, shape (n,), int64
        Point indices in cell order.
    starts : ndarray, shape (n_cells + 1,), int64
        Points of cell ``c`` are ``order[starts[c]:starts[c + 1]]``.
    """
    n = cells.shape[0]
    starts = np.zeros(n_cells + 1, dtype=np.int64)
    for i in range(n):
        starts[cells[i] + 1] += 1
    for c in range(n_cells):
        starts[c + 1] += starts[c]
    fill = starts[:-1].copy()
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        c = cells[i]
        order[fill[c]] = i
        fill[c] += 1
    return order, starts


@njit(**_JIT)
def _gather_block(pts, order, lo, hi, gx, gy, gz):
    d = pts.shape[1]
    for i in range(lo, hi):
        j = order[i]
        gx[i] = pts[j, 0]
        if d >= 2:
            gy[i] = pts[j, 1]
        if d >= 3:
            gz[i] = pts[j, 2]


@njit(**_JIT)
def gather_columns(pts, order):
    """Coordinates of ``pts[order]`` as three contiguous float64 arrays (absent axes: length 1)."""
    n, d = order.shape[0], pts.shape[1]
    gx = np.empty(n)
    gy = np.zeros(n if d >= 2 else 1)
    gz = np.zeros(n if d >= 3 else 1)
    _gather_block(pts, order, 0, n, gx, gy, gz)
    return gx, gy, gz


@njit(inline="always", **_JIT)
def _scan(s, e, skip, x, y, z, gx, gy, gz, d, maxnorm, best, k):
    """Offer the points ``s:e`` to the sorted list ``best`` of the k smallest distances."""
    for j in range(s, e):
        if j == skip:
            continue
        dx = gx[j] - x
        if maxnorm:
            dist = abs(dx)
            if d >= 2:
                dist = max(dist, abs(gy[j] - y))
            if d >= 3:
                dist = max(dist, abs(gz[j] - z))
        else:
            dist = dx * dx
            if d >= 2:
                dy = gy[j] - y
                dist += dy * dy
            if d >= 3:
                dz = gz[j] - z
                dist += dz * dz
        if dist < best[k - 1]:
            t = k - 1
            while t > 0 and best[t - 1] > dist:
                best[t] = best[t - 1]
                t -= 1
            best[t] = dist


@njit(inline="always", **_JIT)
def _interval_gap(v, lo, h, tol):
    """Distance from ``v`` to the interval ``[lo, lo + h]`` (0 inside), less the rounding margin."""
    if v < lo:
        return max(lo - v - tol, 0.0)
    if v > lo + h:
        return max(v - lo - h - tol, 0.0)
    return 0.0


@njit(**_JIT)
def _knn_block(lo, hi, qx, qy, qz, self_query, gx, gy, gz, starts, origin, h, shape, d, k, maxnorm, tol, out):
    sx, sy, sz = shape[0], shape[1], shape[2]
    inv_h = 1.0 / h
    best = np.empty(k)
    for q in range(lo, hi):
        x = qx[q]
        y = qy[q] if d >= 2 else 0.0
        z = qz[q] if d >= 3 else 0.0
        cx = _axis_cell(x, origin[0], inv_h, sx)
        cy = _axis_cell(y, origin[1], inv_h, sy) if d >= 2 else 0
        cz = _axis_cell(z, origin[2], inv_h, sz) if d >= 3 else 0
        skip = q if self_query else -1
        for t in range(k):
            best[t] = np.inf
        r = 0
        while True:
            xlo, xhi = cx - r, cx + r
            ylo, yhi = max(cy - r, 0), min(cy + r, sy - 1)
            zlo, zhi = max(cz - r, 0), min(cz + r, sz - 1)
            for iz in range(zlo, zhi + 1):
                dz = _interval_gap(z, origin[2] + iz * h, h, tol) if d >= 3 else 0.0
                for iy in range(ylo, yhi + 1):
                    # prune: rows (and cells) entirely farther than the current k-th distance
                    dy = _interval_gap(y, origin[1] + iy * h, h, tol) if d >= 2 else 0.0
                    row = max(dy, dz) if maxnorm else dy * dy + dz * dz
                    bk = best[k - 1]
                    if row >= bk:
                        continue
                    a, b = xlo, xhi
                    if bk < np.inf:
                        w = bk if maxnorm else np.sqrt(bk - row)
                        a = max(a, _axis_cell(x - w - tol, origin[0], inv_h, sx))
                        b = min(b, _axis_cell(x + w + tol, origin[0], inv_h, sx))
                    base = (iz * sy + iy) * sx
                    if abs(iz - cz) == r or abs(iy - cy) == r:  # a full row of the shell
                        a, b = max(a, 0), min(b, sx - 1)
                        if a <= b:
                            _scan(
                                starts[base + a], starts[base + b + 1], skip, x, y, z, gx, gy, gz, d, maxnorm, best, k
                            )
                    else:  # only the two end cells of the row belong to the shell
                        if xlo >= 0 and a <= xlo:
                            _scan(
                                starts[base + xlo],
                                starts[base + xlo + 1],
                                skip,
                                x,
                                y,
                                z,
                                gx,
                                gy,
                                gz,
                                d,
                                maxnorm,
                                best,
                                k,
                            )
                        if xhi < sx and xhi <= b:
                            _scan(
                                starts[base + xhi],
                                starts[base + xhi + 1],
                                skip,
                                x,
                                y,
                                z,
                                gx,
                                gy,
                                gz,
                                d,
                                maxnorm,
                                best,
                                k,
                            )
            # every point not yet seen lies beyond the faces of the searched block
            gap = np.inf
            if xlo > 0:
                gap = min(gap, x - (origin[0] + xlo * h))
            if xhi < sx - 1:
                gap = min(gap, origin[0] + (xhi + 1) * h - x)
            if d >= 2:
                if ylo > 0:
                    gap = min(gap, y - (origin[1] + ylo * h))
                if yhi < sy - 1:
                    gap = min(gap, origin[1] + (yhi + 1) * h - y)
            if d >= 3:
                if zlo > 0:
                    gap = min(gap, z - (origin[2] + zlo * h))
                if zhi < sz - 1:
                    gap = min(gap, origin[2] + (zhi + 1) * h - z)
            if gap == np.inf:
                break
            gap -= tol  # cell assignment and face positions round differently
            if gap > 0.0 and best[k - 1] <= (gap if maxnorm else gap * gap):
                break
            r += 1
        out[q] = best[k - 1] if maxnorm else np.sqrt(best[k - 1])


@njit(**_JIT)
def grid_kth_distance_serial(qx, qy, qz, self_query, gx, gy, gz, starts, origin, h, shape, d, k, maxnorm, tol):
    """Serial :func:`grid_kth_distance`, for small inputs."""
    out = np.empty(qx.shape[0])
    _knn_block(0, qx.shape[0], qx, qy, qz, self_query, gx, gy, gz, starts, origin, h, shape, d, k, maxnorm, tol, out)
    return out


@njit(**_JIT)
def assign_cells(pts, origin, inv_h, shape):
    """Cell id of every point.

    Parameters
    ----------
    pts : ndarray, shape (n, d), float64, d <= 3
    origin : ndarray, shape (3,), float64
        Lower corner of the grid (length units).
    inv_h : float
        Inverse cell side (1 / length).
    shape : ndarray, shape (3,), int64
        Cells per axis (1 on absent axes).

    Returns
    -------
    ndarray, shape (n,), int64
    """
    out = np.empty(pts.shape[0], dtype=np.int64)
    _assign_block(pts, 0, pts.shape[0], origin, inv_h, shape, out)
    return out


@njit(parallel=True, **_JIT)
def grid_kth_distance(qx, qy, qz, self_query, gx, gy, gz, starts, origin, h, shape, d, k, maxnorm, tol):
    """Distance from every query point to its k-th nearest grid point.

    Parameters
    ----------
    qx, qy, qz : ndarray, float64
        Query coordinates (``qy``/``qz`` ignored below 2-D/3-D). For the fastest search
        they are in cell order.
    self_query : bool
        The queries are the grid points themselves, in the same order: query ``q`` skips
        grid point ``q`` (the k-th neighbour *other than itself*).
    gx, gy, gz, starts, origin, h, shape
        The grid (see the module docstring).
    d : int
        Dimension, 1 to 3.
    k : int
        Neighbour rank, >= 1.
    maxnorm : bool
        Maximum norm instead of the Euclidean one.
    tol : float
        Safety margin of the stopping test (length units), about 1e-12 of the extent.

    Returns
    -------
    ndarray, shape (m,), float64
        k-th neighbour distance of every query (length units).
    """
    m = qx.shape[0]
    out = np.empty(m)
    n_blocks = (m + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(m, lo + BLOCK)
        _knn_block(lo, hi, qx, qy, qz, self_query, gx, gy, gz, starts, origin, h, shape, d, k, maxnorm, tol, out)
    return out


@njit(**_JIT)
def _count_block(lo, hi, radius, gx, gy, gz, starts, origin, h, shape, d, out):
    sx, sy, sz = shape[0], shape[1], shape[2]
    inv_h = 1.0 / h
    for q in range(lo, hi):
        x, r = gx[q], radius[q]
        y = gy[q] if d >= 2 else 0.0
        z = gz[q] if d >= 3 else 0.0
        x0, x1 = _axis_cell(x - r, origin[0], inv_h, sx), _axis_cell(x + r, origin[0], inv_h, sx)
        y0, y1, z0, z1 = 0, 0, 0, 0
        if d >= 2:
            y0, y1 = _axis_cell(y - r, origin[1], inv_h, sy), _axis_cell(y + r, origin[1], inv_h, sy)
        if d >= 3:
            z0, z1 = _axis_cell(z - r, origin[2], inv_h, sz), _axis_cell(z + r, origin[2], inv_h, sz)
        count = 0
        for iz in range(z0, z1 + 1):
            for iy in range(y0, y1 + 1):
                base = (iz * sy + iy) * sx
                for j in range(starts[base + x0], starts[base + x1 + 1]):
                    dist = abs(gx[j] - x)
                    if d >= 2:
                        dist = max(dist, abs(gy[j] - y))
                    if d >= 3:
                        dist = max(dist, abs(gz[j] - z))
                    if dist < r:
                        count += 1
        out[q] = count - 1 if radius[q] > 0.0 else count  # the point itself is at distance 0 < r


@njit(parallel=True, **_JIT)
def grid_count_within(radius, gx, gy, gz, starts, origin, h, shape, d, serial):
    """Number of *other* grid points strictly within ``radius[q]`` (maximum norm) of grid point q.

    Parameters
    ----------
    radius : ndarray, shape (n,), float64
        Per-point radius (length units), in the grid's (cell) order.
    gx, gy, gz, starts, origin, h, shape, d
        The grid (see the module docstring).
    serial : bool
        Run on one thread (small inputs).

    Returns
    -------
    ndarray, shape (n,), int64
        Counts in the grid's order.
    """
    n = gx.shape[0]
    out = np.empty(n, dtype=np.int64)
    if serial:
        _count_block(0, n, radius, gx, gy, gz, starts, origin, h, shape, d, out)
        return out
    n_blocks = (n + BLOCK - 1) // BLOCK
    for b in prange(n_blocks):
        lo = b * BLOCK
        hi = min(n, lo + BLOCK)
        _count_block(lo, hi, radius, gx, gy, gz, starts, origin, h, shape, d, out)
    return out
