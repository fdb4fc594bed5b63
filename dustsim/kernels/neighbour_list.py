"""Half Verlet neighbour lists of cell-sorted, axis-major positions (for :mod:`dustsim.kernels.verlet`).

The particles are binned into a cell grid with cells at least ``rc + skin`` wide and
counting-sorted by cell (so that neighbours are near in memory); each particle's list
holds its neighbours of higher storage index within ``rc + skin``, found in the 3^d
neighbour cells, chunk by chunk in parallel.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .cells import CHUNK, cell_of, counting_sort, grid_setup, max_cells_for, neighbour_ranges
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .space import PERIODIC, displacement

#: relative margin of the list radius over ``rc + skin`` (the grid's cells are wider still)
LIST_MARGIN = 1e-5
#: headroom of a list buffer over the densest chunk's entries per particle; the first buffer
#: of a call guesses ``LIST_GUESS`` times the mean number of candidates (3^d cells' worth)
LIST_HEADROOM = 1.2
LIST_GUESS = 0.6


@njit(**_INLINE)
def cell_coords(cell, nc):
    return cell % nc[0], (cell // nc[0]) % nc[1], cell // (nc[0] * nc[1])


@njit(**_JIT)
def _list_chunk(p, grid, box, rl2, lists, stride, k_lo, k_hi):
    """Half-list neighbours (``j > k``) within ``rl`` of particles ``k_lo..k_hi``; entries found.

    ``p`` is axis-major, shape ``(d, n)``, sorted by cell. Particle ``k``'s neighbours of
    higher storage index go to ``nbr[first[k]:stop[k]]``, inside the region
    ``nbr[k_lo stride : k_hi stride]``, one after the other; when the entries found exceed
    the region, the list is incomplete (the caller refills with a larger ``stride``).
    ``grid`` is ``(cell, start, nc)``: the sorted cell of every particle, the first particle
    of every cell, the cells per axis; ``lists`` is ``(first, stop, nbr)``.
    """
    cell, start, nc = grid
    first, stop, nbr = lists
    kinds, length, half = box.kinds, box.length, box.half
    d = p.shape[0]
    p0 = kinds[0] == PERIODIC
    p1 = d > 1 and kinds[1] == PERIODIC
    p2 = d > 2 and kinds[2] == PERIODIC
    rlo = np.empty(18, dtype=np.int64)
    rhi = np.empty(18, dtype=np.int64)
    last = np.int64(-1)
    count = 0
    t = k_lo * stride
    room = k_hi * stride
    for k in range(k_lo, k_hi):
        if cell[k] != last:
            last = cell[k]
            c0, c1, c2 = cell_coords(last, nc)
            count = neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi)
        first[k] = t
        for r in range(count):
            for j in range(max(rlo[r], k + 1), rhi[r]):
                dx = np.float64(displacement(p[0, k], p[0, j], kinds[0], length[0], half[0]))
                r2 = dx * dx
                if d > 1:
                    dx = np.float64(displacement(p[1, k], p[1, j], kinds[1], length[1], half[1]))
                    r2 += dx * dx
                if d > 2:
                    dx = np.float64(displacement(p[2, k], p[2, j], kinds[2], length[2], half[2]))
                    r2 += dx * dx
                if r2 < rl2:
                    if t < room:
                        nbr[t] = j
                    t += 1
        stop[k] = min(t, room)
    return t - k_lo * stride


@njit(parallel=True, **_JIT)
def _list_fill(p, grid, box, rl2, lists, stride, need):
    """The parallel region of :func:`build_list`: one :func:`_list_chunk` per chunk; entries into ``need``."""
    n = p.shape[1]
    for c in prange(need.shape[0]):
        k_lo = np.int64(c) * CHUNK
        need[c] = _list_chunk(p, grid, box, rl2, lists, stride, k_lo, min(np.int64(n), k_lo + CHUNK))


@njit(parallel=True, **_JIT)
def bin_cells(p, origin, hinv, nc, cell):
    """Linear cell index of every particle of axis-major ``p`` into ``cell`` (parallel)."""
    d, n = p.shape
    rows = p.T
    for c in prange((n + CHUNK - 1) // CHUNK):
        for k in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            cell[k] = cell_of(rows, k, d, origin, hinv, nc)


@njit(parallel=True, **_JIT)
def _move(dest, arrays):
    """Move positions, images, ids and labels (``arrays``) to ``dest`` in their twins (parallel).

    ``dest`` is a permutation, so no two particles are written to the same place.
    """
    p, img, ids, lab, p2, img2, ids2, lab2 = arrays
    d, n = p.shape
    for c in prange((n + CHUNK - 1) // CHUNK):
        k_lo = c * CHUNK
        k_hi = min(n, k_lo + CHUNK)
        for k in range(k_lo, k_hi):
            t = dest[k]
            ids2[t] = ids[k]
            lab2[t] = lab[k]
        for a in range(d):
            for k in range(k_lo, k_hi):
                p2[a, dest[k]] = p[a, k]
                img2[a, dest[k]] = img[a, k]


@njit(**_JIT)
def sort_by_cell(cell, n_cells, start, dest, arrays):
    """Counting sort by cell (serial: a few passes over integers); then :func:`_move` the particles.

    Positions and images are axis-major, shape ``(d, n)``; ``cell`` is sorted too.
    """
    counting_sort(cell, n_cells, start, dest)
    _move(dest, arrays)
    cell2 = np.empty_like(cell)
    for k in range(cell.shape[0]):
        cell2[dest[k]] = cell[k]
    cell[:] = cell2


@njit(**_JIT)
def build_list(p, grid, box, rl, begin, end, nbr):
    """Half neighbour list of cell-sorted, axis-major positions ``p`` (shape ``(d, n)``).

    Particle ``k``'s neighbours ``j > k`` are ``nbr[begin[k]:end[k]]`` (int32). Holds
    every pair closer than ``rl`` once (tested in float64 with a relative margin of
    ``LIST_MARGIN``); ``grid = (cell, start, nc)`` describes a cell grid with cells wider
    than that. One pass into ``nbr`` (reused when large enough); if a chunk's region
    overflows, a larger buffer (``LIST_HEADROOM`` over the densest chunk) is made and
    filled again. Returns the buffer ``nbr``.
    """
    n = p.shape[1]
    rl2 = (rl * (1.0 + LIST_MARGIN)) ** 2
    n_chunks = (n + CHUNK - 1) // CHUNK
    need = np.zeros(n_chunks, dtype=np.int64)
    for _ in range(2):
        stride = np.int64(nbr.shape[0] // n)
        _list_fill(p, grid, box, rl2, (begin, end, nbr), stride, need)
        densest = 0.0
        full = False
        for c in range(n_chunks):
            size = min(n, (c + 1) * CHUNK) - c * CHUNK
            densest = max(densest, need[c] / size)
            full = full or need[c] > size * stride
        if not full:
            return nbr
        nbr = np.empty(n * (np.int64(np.ceil(densest * LIST_HEADROOM)) + 2), dtype=np.int32)
    raise RuntimeError("neighbour list: a refill with the measured size overflowed")


@njit(**_JIT)
def grid_for(p, box, rl, eps):
    """The cell grid of axis-major positions ``p``."""
    return grid_setup(
        p.T, box.kinds, box.lo.astype(np.float64), box.length.astype(np.float64), rl, eps, max_cells_for(p.shape[1])
    )
