"""Fast particles of the neighbour-list stepper (:mod:`dustsim.kernels.verlet`).

A particle that has moved more than ``skin / 2`` since the build ("fast") could meet a
partner the list lacks. Instead of rebuilding every list at once, its pairs leave the
list (:func:`mark_fast`) and are found each step by a search of the build's cells
around its current position (:func:`fast_pair_phase`), until the next build. The search
covers every partner closer than ``rc`` while no particle has moved more than ``skin``
(cells are at least ``rc + skin`` wide; a partner ``j`` lies within ``rc + move_j`` of
its position at the build), so the pairs summed — hence the trajectory — stay exactly
those closer than ``rc``. A global rebuild then waits for the largest move to reach
``skin`` or for ``verlet.FAST_LIMIT`` of the particles to be fast, rather than for the largest
of N moves to reach ``skin / 2``: the wait no longer shrinks like 1 / ln N.
"""

from __future__ import annotations

import numpy as np
from numba import get_thread_id, njit, prange

from .cells import CHUNK, cell_coord, neighbour_ranges
from .euler import fixed_point_constants
from .forces import pair_fixed
from .neighbour_list import cell_coords
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .pair_work import FAST_GROUP
from .space import PERIODIC, point_of, separation


@njit(**_INLINE)
def _periodic_axes(box, d):
    kinds = box.kinds
    return kinds[0] == PERIODIC, d > 1 and kinds[1] == PERIODIC, d > 2 and kinds[2] == PERIODIC


@njit(**_INLINE)
def _cells_around(p, i, cells, box, rlo, rhi):
    """Slices of the build's sorted particles in the cells next to the *current* position of ``i``; their number."""
    origin, hinv, nc, start = cells
    d = p.shape[0]
    c0 = cell_coord(p[0, i], origin[0], hinv[0], nc[0])
    c1 = cell_coord(p[1, i], origin[1], hinv[1], nc[1]) if d > 1 else np.int64(0)
    c2 = cell_coord(p[2, i], origin[2], hinv[2], nc[2]) if d > 2 else np.int64(0)
    p0, p1, p2 = _periodic_axes(box, d)
    return neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi)


@njit(**_INLINE)
def _counts_once(i, j, fast):
    """Whether the search from fast particle ``i`` sums its pair with ``j`` (a pair of two fast ones once)."""
    return j != i and (j > i or not fast[j])


@njit(**_JIT)
def mark_fast(new_fast, new_count, fast, fast_ids, n_fast, lists, grid, box):
    """Make the particles in ``new_fast`` fast: out of every list (theirs and their owners'); the fast count.

    ``new_fast[c * CHUNK : c * CHUNK + new_count[c]]`` are chunk ``c``'s new ones (cleared
    here). A pair is listed once, under its owner of lower storage index, which lies in a
    cell next to the particle's cell at the build (``grid = (cell, start, nc)``); it is
    swapped with the owner's last entry. Serial: few particles, a few dozen entries each.
    """
    begin, end, nbr = lists
    cell, start, nc = grid
    d = box.kinds.shape[0]
    p0, p1, p2 = _periodic_axes(box, d)
    rlo = np.empty(18, dtype=np.int64)
    rhi = np.empty(18, dtype=np.int64)
    for c in range(new_count.shape[0]):
        for u in range(new_count[c]):
            i = new_fast[c * CHUNK + u]
            fast[i] = True
            fast_ids[n_fast] = i
            n_fast += 1
            end[i] = begin[i]
            c0, c1, c2 = cell_coords(cell[i], nc)
            count = neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi)
            for r in range(count):
                for k in range(rlo[r], min(rhi[r], i)):
                    for t in range(begin[k], end[k]):
                        if nbr[t] == i:
                            end[k] -= 1
                            nbr[t] = nbr[end[k]]
                            break
        new_count[c] = 0
    return n_fast


@njit(parallel=True, **_JIT)
def fast_pair_phase(p, fast_set, cells, box, pair, acc, bad_fast):
    """Pair forces of the fast particles, found by a search of the cells (parallel over groups of them).

    ``fast_set`` is ``(fast, fast_ids, n_fast)``; ``cells`` is ``(origin, hinv, nc, start)``
    of the last build. As :func:`_pair_phase`: the force is added to the fast particle and
    subtracted from its partner, in the thread's own slice of ``acc``; ``bad_fast[g]`` says
    whether a force of group ``g`` overflowed. The inner loop repeats :func:`_pair_phase`'s
    on purpose: folding both into one inlined helper made the list loop 1.5x slower
    (52.7 against 35 M particle-steps/s at N = 1e4, measured side by side).
    """
    fast, fast_ids, n_fast = fast_set
    d = p.shape[0]
    rc2, scale, limit, _ = fixed_point_constants(p[0, 0], pair.rc)
    zero = np.int64(0)
    kinds, length, half = box.kinds, box.length, box.half
    for g in prange((n_fast + FAST_GROUP - 1) // FAST_GROUP):
        mine = acc[get_thread_id()]
        m0 = mine[0]
        m1 = mine[1] if d > 1 else mine[0]
        m2 = mine[2] if d > 2 else mine[0]
        rlo = np.empty(18, dtype=np.int64)
        rhi = np.empty(18, dtype=np.int64)
        bad = False
        for u in range(g * FAST_GROUP, min(n_fast, (g + 1) * FAST_GROUP)):
            i = fast_ids[u]
            a0 = a1 = a2 = zero
            xi0, xi1, xi2 = point_of(p, i, d)
            for r in range(_cells_around(p, i, cells, box, rlo, rhi)):
                for j in range(rlo[r], rhi[r]):
                    if not _counts_once(i, j, fast):
                        continue
                    dx0, dx1, dx2, r2 = separation(xi0, xi1, xi2, p, j, d, kinds, length, half)
                    if r2 < rc2:
                        q0, q1, q2, b = pair_fixed(dx0, dx1, dx2, r2, d, rc2, pair.kind, pair.Q, scale, limit)
                        a0 += q0
                        m0[j] -= q0
                        if d > 1:
                            a1 += q1
                            m1[j] -= q1
                        if d > 2:
                            a2 += q2
                            m2[j] -= q2
                        bad = bad or b
            m0[i] += a0
            if d > 1:
                m1[i] += a1
            if d > 2:
                m2[i] += a2
        bad_fast[g] = bad


@njit(**_JIT)
def fast_pair_flags(p, fast_set, cells, box, pair, flags):
    """:func:`_pair_flags` for the fast particles' pairs (adds to ``flags``)."""
    fast, fast_ids, n_fast = fast_set
    d = p.shape[0]
    rc2, scale, limit, _ = fixed_point_constants(p[0, 0], pair.rc)
    rlo = np.empty(18, dtype=np.int64)
    rhi = np.empty(18, dtype=np.int64)
    for u in range(n_fast):
        i = fast_ids[u]
        xi0, xi1, xi2 = point_of(p, i, d)
        for r in range(_cells_around(p, i, cells, box, rlo, rhi)):
            for j in range(rlo[r], rhi[r]):
                if _counts_once(i, j, fast):
                    dx0, dx1, dx2, r2 = separation(xi0, xi1, xi2, p, j, d, box.kinds, box.length, box.half)
                    if pair_fixed(dx0, dx1, dx2, r2, d, rc2, pair.kind, pair.Q, scale, limit)[3]:
                        flags[i] = True
                        flags[j] = True
