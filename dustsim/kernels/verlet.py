"""Euler-Maruyama stepper for pair forces through Verlet neighbour lists with a skin.

The same update as :func:`dustsim.kernels.euler.advance_general`, bit for bit, but the pair
loop visits a half list of neighbours within ``rc + skin`` (each pair once, under the
particle of lower storage index) instead of the 3^d neighbour cells of a cell list rebuilt
every step. A particle that has moved more than about ``skin / 2`` since the last build
becomes *fast*: its pairs leave the list and are found, until the next build, by a search
of the build's cells around its current position. The list (and the cell order in which
particles are stored) is rebuilt only when some particle has moved more than about
``skin``, or when ``FAST_LIMIT`` of them are fast; until then every pair closer than ``rc``
is in the list or in a fast particle's search. The pair loop still tests ``r^2 < rc^2``
with the same arithmetic as the cell list, and pair forces are summed in fixed point: the
force of a pair is added to one particle and subtracted from the other (Newton's third
law; exact, because the displacement is antisymmetric bit for bit and rounding to
integers is odd), each thread into its own slice of the sums. Integer sums do not
depend on their order, so the set of contributing pairs and their sum — hence the
trajectory — do not depend on the skin, on when the list is rebuilt, on the storage order
or on the number of threads.

Per step there are two parallel regions (three while some particle is fast): pair forces
(with the noise when a new Philox group starts), the fast particles' pairs, then the
update (the slices summed, the Euler step and the displacement since the last build, in
loops that vectorise). The noise of the four (float32) or two (float64) steps of one
Philox call is drawn once and kept in storage order (drawn again, the same numbers, when
a rebuild re-orders the particles); positions are kept axis-major.

The lists are built in :mod:`dustsim.kernels.neighbour_list`, the fast particles are
handled in :mod:`dustsim.kernels.fast_particles`, and the arrays a run keeps from call to
call are in :mod:`dustsim.kernels.pair_work`; this module holds the step and its driver.
Arguments are grouped into tuples (see :func:`advance_pairs`), so that the kernel
signature stays short."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from numba import get_thread_id, njit, prange

from .cells import CHUNK
from .euler import cast_like, euler_update, first_bad_code, fixed_point_constants
from .fast_particles import fast_pair_flags, fast_pair_phase, mark_fast
from .forces import (
    FORCE_OVERFLOW,
    FORCE_SCALE,
    NOT_FINITE,
    OK,
    PAIR_NONE,
    TOO_FAR,
    axis_params,
    pair_fixed,
    separable_force,
)
from .neighbour_list import LIST_GUESS, bin_cells, build_list, grid_for, sort_by_cell
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .pair_work import (
    FAST_GROUP,
    MEMO_FAST,
    MEMO_FAST2,
    MEMO_GROUP,
    MEMO_HINV,
    MEMO_NC,
    MEMO_ORIGIN,
    MEMO_RC,
    MEMO_SEARCH2,
    MEMO_VALID,
    per_call,
    same_values,
    work_for,
)
from .pair_work import PairWork as PairWork  # re-exported: callers of the stepper keep one per run
from .pair_work import WorkArrays as WorkArrays
from .rng import PER_CALL_F32, box_muller_f32, counter_words, normals2_f64
from .space import displacement, point_of, separation, wrap


class Steps(NamedTuple):
    """Per-step coefficients of the update (:mod:`dustsim.kernels.euler`): ``A, C`` (steps, d); ``M, B`` (steps,)."""

    A: np.ndarray
    C: np.ndarray
    M: np.ndarray
    B: np.ndarray


class Particles(NamedTuple):
    """Per-particle state besides positions: images (d, n) int32, labels (n,) int32, memory order (n,) int64."""

    image: np.ndarray
    labels: np.ndarray
    order: np.ndarray


class Forces(NamedTuple):
    """Mobility/noise factors per type ``mf, bf``; separable potentials ``P, flags``; user force."""

    mf: np.ndarray
    bf: np.ndarray
    P: np.ndarray
    flags: Any
    user: object
    has_user: bool


class Box(NamedTuple):
    """Boundary per axis (:mod:`dustsim.kernels.space`): kinds int64; lo, length, hi, half in the positions' dtype."""

    kinds: np.ndarray
    lo: np.ndarray
    length: np.ndarray
    hi: np.ndarray
    half: np.ndarray


class Pair(NamedTuple):
    """Pair interaction: kind, parameters ``Q``, cut-off ``rc`` and list skin (lengths), machine epsilon."""

    kind: int
    Q: np.ndarray
    rc: float
    skin: float
    eps: float


class Key(NamedTuple):
    """Random stream: global index of the first step, counter words per axis, Philox key."""

    step0: int
    words: np.ndarray
    k0: np.uint64
    k1: np.uint64


# ------------------------------------------------------------------ noise, per group
@njit(**_INLINE)
def _fill_noise_f32(z, ids, k_lo, k_hi, g, words, k0, k1):
    """``z[slot, a, k]`` for the four steps of Philox group ``g`` (as ``euler._noise_f32``).

    The loop runs over 1-D slices from index 0: LLVM vectorises that form (about 4x faster
    than indexing the 3-D array from ``k_lo``), with the same values.
    """
    idv = ids[k_lo:k_hi]
    for a in range(z.shape[1]):
        word = words[a]
        r0 = z[0, a, k_lo:k_hi]
        r1 = z[1, a, k_lo:k_hi]
        r2 = z[2, a, k_lo:k_hi]
        r3 = z[3, a, k_lo:k_hi]
        for i in range(idv.shape[0]):
            w0, w1, w2, w3 = counter_words(idv[i], g, word, k0, k1)
            z0, z1 = box_muller_f32(np.uint32(w0), np.uint32(w1))
            z2, z3 = box_muller_f32(np.uint32(w2), np.uint32(w3))
            r0[i] = z0
            r1[i] = z1
            r2[i] = z2
            r3[i] = z3


@njit(**_INLINE)
def _fill_noise_f64(z, ids, k_lo, k_hi, g, words, k0, k1):
    """``z[slot, a, k]`` for the two steps of Philox group ``g`` (as ``euler._noise_f64``)."""
    idv = ids[k_lo:k_hi]
    for a in range(z.shape[1]):
        word = words[a]
        r0 = z[0, a, k_lo:k_hi]
        r1 = z[1, a, k_lo:k_hi]
        for i in range(idv.shape[0]):
            z0, z1 = normals2_f64(idv[i], g, word, k0, k1)
            r0[i] = z0
            r1[i] = z1


@njit(**_JIT)
def _fill_noise(z, ids, k_lo, k_hi, g, words, k0, k1):
    if z.shape[0] == PER_CALL_F32:
        _fill_noise_f32(z, ids, k_lo, k_hi, g, words, k0, k1)
    else:
        _fill_noise_f64(z, ids, k_lo, k_hi, g, words, k0, k1)


# ----------------------------------------------------------------------- one step


@njit(parallel=True, **_JIT)
def _pair_phase(p, lists, box, pair, acc, bad_chunks, noise):
    """Pair forces of every half-list entry (parallel over chunks), and the noise of a new Philox group.

    The force of entry ``t`` (``j`` on its owner ``k``) is added to ``acc[tid, :, k]`` and
    subtracted from ``acc[tid, :, j]`` (Newton's third law), ``tid`` being the thread's
    own slice, so no two threads write the same place; ``bad_chunks[c]`` says whether a
    force overflowed. Fixed-point sums are exact, so the totals do not depend on which
    thread added what, nor on the order. ``noise`` is ``(fill, z, ids, group, words, k0, k1)``.
    A scalar loop that skips candidates beyond ``rc`` early: a vectorised loop over all
    candidates (gathers, the force formula on every one) measured 3x slower.
    """
    begin, end, nbr = lists[0], lists[1], lists[2]
    fill, z, ids, group, words, k0, k1 = noise
    d, n = p.shape
    rc2, scale, limit, _ = fixed_point_constants(p[0, 0], pair.rc)
    zero = np.int64(0)
    for c in prange(bad_chunks.shape[0]):
        k_lo = c * CHUNK
        k_hi = min(n, k_lo + CHUNK)
        if fill:
            _fill_noise(z, ids, k_lo, k_hi, group, words, k0, k1)
        mine = acc[get_thread_id()]
        m0 = mine[0]
        m1 = mine[1] if d > 1 else mine[0]
        m2 = mine[2] if d > 2 else mine[0]
        kinds, length, half = box.kinds, box.length, box.half
        bad = False
        for k in range(k_lo, k_hi):
            a0 = a1 = a2 = zero
            xk0, xk1, xk2 = point_of(p, k, d)
            for t in range(begin[k], end[k]):
                j = nbr[t]
                dx0, dx1, dx2, r2 = separation(xk0, xk1, xk2, p, j, d, kinds, length, half)
                if r2 < rc2:  # most candidates are beyond rc: skip the formula
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
            m0[k] += a0
            if d > 1:
                m1[k] += a1
            if d > 2:
                m2[k] += a2
        bad_chunks[c] = bad


@njit(**_JIT)
def _pair_flags(p, lists, box, pair, flags):
    """``flags[k]``: whether a pair force on ``k`` overflowed (for the status code; only after a failure)."""
    begin, end, nbr = lists[0], lists[1], lists[2]
    d, n = p.shape
    rc2, scale, limit, _ = fixed_point_constants(p[0, 0], pair.rc)
    flags[:] = False
    for k in range(n):
        xk0, xk1, xk2 = point_of(p, k, d)
        for t in range(begin[k], end[k]):
            dx0, dx1, dx2, r2 = separation(xk0, xk1, xk2, p, nbr[t], d, box.kinds, box.length, box.half)
            if pair_fixed(dx0, dx1, dx2, r2, d, rc2, pair.kind, pair.Q, scale, limit)[3]:
                flags[k] = True
                flags[nbr[t]] = True


@njit(**_INLINE)
def _pair_totals(acc, k_lo, k_hi, fpair, inv_scale):
    """Total pair force on particles ``k_lo..k_hi`` (the threads' slices of ``acc`` summed, then cleared).

    Exact in fixed point (the force of ``k`` on ``j`` is exactly minus that of ``j`` on
    ``k``: the displacement is antisymmetric bit for bit and rounding to integers is odd),
    so the same sum as a full list; converted once to the positions' precision.
    """
    n_slices, d = acc.shape[0], acc.shape[1]
    m = k_hi - k_lo
    total = np.empty(m, dtype=np.int64)
    for a in range(d):
        total[:] = 0
        for u in range(n_slices):
            part = acc[u, a, k_lo:k_hi]
            for i in range(m):
                total[i] += part[i]
                part[i] = 0
        fa = fpair[a]
        for i in range(m):
            fa[i] = cast_like(inv_scale, total[i]) * inv_scale


@njit(**_INLINE)
def _drift_axis(x, fp, fu, has_user, zs, mob, amp, prm, flags, aa, ca, xn_out, max_drift):
    """``xn = ((a x + c) + m f) + b z`` for one axis of a chunk (vectorised); flags: not finite, too far.

    ``f`` is the external force, plus the user force, plus the pair force, added in that
    order (the order of every stepper).
    """
    nf = False
    far = False
    for i in range(x.shape[0]):
        xi = x[i]
        f = separable_force(xi, prm, flags)
        if has_user:
            f = f + cast_like(xi, fu[i])
        f = f + fp[i]
        xn, drift = euler_update(xi, f, aa, ca, mob[i], amp[i], zs[i])
        xn_out[i] = xn
        nf = nf | (not (np.abs(xn) < np.inf))
        far = far | (np.abs(drift) > max_drift)
    return nf, far


@njit(**_INLINE)
def _wrap_axis(xn, im, ref, r2, kind, lo, length, hi, half):
    """Fold ``xn`` into the box in place; add image crossings to ``im``, squared moves since the build to ``r2``."""
    for i in range(xn.shape[0]):
        xw, crossed = wrap(xn[i], kind, lo, length, hi)
        xn[i] = xw
        im[i] += crossed
        dx = np.float64(displacement(xw, ref[i], kind, length, half))
        r2[i] += dx * dx


@njit(**_JIT)
def _first_code(p, pair_flag, k_lo, k_hi, fpair, fuser, has_user, z, slot, j, steps, mob, amp, forces, max_drift):
    """The status code of a chunk in which some check failed: the first bad one, particle by particle.

    The order of the checks of the scalar stepper: a particle's pair overflow
    (``pair_flag``), then its axes in order. Only called on a failure, so written for
    clarity.
    """
    d = p.shape[0]
    A, C, _M, _B = steps
    for k in range(k_lo, k_hi):
        i = k - k_lo
        if pair_flag[k]:
            return FORCE_OVERFLOW
        for a in range(d):
            x = p[a, k]
            f = separable_force(x, axis_params(forces.P, a), forces.flags)
            if has_user:
                f = f + cast_like(x, fuser[a, i])
            f = f + fpair[a, i]
            xn, drift = euler_update(x, f, A[j, a], C[j, a], mob[i], amp[i], z[slot, a, k])
            if not (np.abs(xn) < np.inf):
                return NOT_FINITE
            if np.abs(drift) > max_drift:
                return TOO_FAR
    return OK


@njit(parallel=True, **_JIT)
def _step(state, pair_forces, j, slot, steps, forces, box, max_drift, codes, moved, watch, new_fast, new_count):
    """The update of every particle (parallel over chunks); per chunk a status code and the largest squared move.

    ``state`` is ``(p, pn, pref, img, ids, lab, z)`` (positions now, next and at the last
    build, images, ids, labels, noise of the Philox group, all in storage order; positions
    and images axis-major); ``pair_forces`` is ``(acc, any_bad, pair_flag)`` from
    :func:`_pair_phase` and :func:`_pair_flags`; ``codes`` and
    ``moved`` (the largest squared move since the build) receive the results per chunk.
    ``watch`` is ``(fast, fast2)``: particles not yet fast whose squared move exceeds
    ``fast2`` are written to ``new_fast`` from ``c * CHUNK`` on, their number to
    ``new_count[c]`` (both passed on their own: Numba loses writes inside a parallel loop
    to an array unpacked from a tuple and not read afterwards). Per chunk: pair totals,
    then the update axis by axis in loops that vectorise.
    """
    p, pn, pref, img, _ids, lab, z = state
    fast, fast2 = watch
    acc, any_bad, pair_flag = pair_forces
    d, n = p.shape
    A, C, M, B = steps
    user, has_user = forces.user, forces.has_user
    inv_scale = cast_like(p[0, 0], 1.0 / FORCE_SCALE)
    mj = M[j]
    bj = B[j]
    for c in prange(codes.shape[0]):
        k_lo = c * CHUNK
        k_hi = min(n, k_lo + CHUNK)
        m_chunk = k_hi - k_lo
        fpair = np.empty((d, m_chunk), dtype=p.dtype)
        _pair_totals(acc, k_lo, k_hi, fpair, inv_scale)
        fuser = np.zeros((d, m_chunk if has_user else 1), dtype=np.float64)
        if has_user:
            xb = np.zeros(d, dtype=np.float64)
            fb = np.zeros(d, dtype=np.float64)
            for k in range(k_lo, k_hi):
                for a in range(d):
                    xb[a] = np.float64(p[a, k])
                    fb[a] = 0.0
                user(xb.ctypes, fb.ctypes, d)
                for a in range(d):
                    fuser[a, k - k_lo] = fb[a]
        mob = np.empty(m_chunk, dtype=p.dtype)
        amp = np.empty(m_chunk, dtype=p.dtype)
        lab_c = lab[k_lo:k_hi]
        for i in range(m_chunk):
            mob[i] = mj * forces.mf[lab_c[i]]
            amp[i] = bj * forces.bf[lab_c[i]]
        r2 = np.zeros(m_chunk, dtype=np.float64)
        nf = far = False
        for a in range(d):
            xn = pn[a, k_lo:k_hi]
            e, g = _drift_axis(
                p[a, k_lo:k_hi],
                fpair[a],
                fuser[a],
                has_user,
                z[slot, a, k_lo:k_hi],
                mob,
                amp,
                axis_params(forces.P, a),
                forces.flags,
                A[j, a],
                C[j, a],
                xn,
                max_drift,
            )
            nf = nf | e
            far = far | g
            _wrap_axis(
                xn,
                img[a, k_lo:k_hi],
                pref[a, k_lo:k_hi],
                r2,
                box.kinds[a],
                box.lo[a],
                box.length[a],
                box.hi[a],
                box.half[a],
            )
        # squared moves are >= 0, so their order is that of their bits: an integer max vectorises
        moved[c] = r2.view(np.int64).max()
        if r2.max() > fast2:
            found = 0
            for i in range(m_chunk):
                if r2[i] > fast2 and not fast[k_lo + i]:
                    new_fast[k_lo + found] = k_lo + i
                    found += 1
            new_count[c] = found
        code = OK
        if any_bad or nf or far:
            code = _first_code(
                p, pair_flag, k_lo, k_hi, fpair, fuser, has_user, z, slot, j, steps, mob, amp, forces, max_drift
            )
        codes[c] = code


@njit(**_JIT)
def rounding_margin(p, box, skin, eps):
    """A bound on the rounding of distances and moves computed in the positions' precision (length).

    A few ulps of the largest coordinate or box length; ``p`` is axis-major.
    """
    lo, hi = box.lo, box.hi
    d, n = p.shape
    extent = 0.0
    for a in range(d):
        extent = max(extent, abs(np.float64(lo[a])), abs(np.float64(hi[a])))
        for k in range(n):
            extent = max(extent, abs(np.float64(p[a, k])))
    return 64.0 * eps * (extent + skin)


@njit(**_INLINE)
def trigger_distance(skin, margin):
    """Largest move since the last build that keeps a particle in the list: ``skin / 2`` less the rounding margin.

    Two particles each moved by less than ``skin / 2`` are at most ``skin`` closer than
    at the build; a particle that moves farther becomes fast (its pairs are searched for).
    """
    return 0.5 * skin - margin


@njit(**_INLINE)
def search_distance(skin, margin):
    """Largest move since the last build that keeps the fast particles' search complete: ``skin``, less the margins.

    Cells are at least ``rc + skin`` wide, so the cells next to a particle's position hold
    every particle that was within ``rc + skin`` of it at the build.
    """
    return skin - 2.0 * margin


@njit(**_INLINE)
def _squared_threshold(distance):
    """``distance**2``, or -1 (every move exceeds it) when rounding leaves no room."""
    return distance * distance if distance > 0 else -1.0


@njit(**_JIT)
def _gather(x, image, labels, order, p, img, ids, lab):
    """Copy particles into axis-major work arrays in storage ``order``.

    Serial: a parallel version measured no faster at N = 1e6, unlike :func:`_scatter`'s.
    """
    d, n = x.shape
    for k in range(n):
        i = order[k]
        ids[k] = i
        lab[k] = labels[i]
    for a in range(d):
        for k in range(n):
            p[a, k] = x[a, order[k]]
            img[a, k] = image[a, order[k]]


@njit(parallel=True, **_JIT)
def _scatter(x, image, order, p, img, ids):
    """Write the work arrays back to the state by particle id and record the new storage ``order`` (parallel).

    ``ids`` is a permutation, so no two particles are written to the same place. Once per
    call, i.e. per recorded frame: 3.2 ms against 6.5 ms serial at N = 1e6, 2 threads.
    """
    d, n = x.shape
    for c in prange((n + CHUNK - 1) // CHUNK):
        k_lo = c * CHUNK
        k_hi = min(n, k_lo + CHUNK)
        order[k_lo:k_hi] = ids[k_lo:k_hi]
        for a in range(d):
            for k in range(k_lo, k_hi):
                x[a, ids[k]] = p[a, k]
                image[a, ids[k]] = img[a, k]


def advance_pairs(x, parts, steps, forces, box, pair, key, max_drift, status, work=None):
    """Advance ``steps.A.shape[0]`` Euler steps with pair forces (and optional user force), in place.

    Parameters
    ----------
    x : ndarray, shape (d, n), float32 or float64
        Positions, axis-major.
    parts : Particles
        Image counts (updated), labels, memory order (updated; it does not change results).
    steps : Steps
        Per-step coefficients.
    forces : Forces
        Type factors, separable potentials, user force.
    box : Box
        Boundary per axis.
    pair : Pair
        Pair kind, parameters, cut-off and neighbour-list skin (``skin > 0``); kind
        ``PAIR_NONE`` for a user force alone (then no lists are built).
    key : Key
        First step's global index, counter words, Philox key.
    max_drift : float
        Step guard: largest allowed deterministic displacement per step.
    status : ndarray of int64, shape (2,)
        Receives ``(first bad step, code)`` or ``(-1, 0)``; as in ``advance_general`` the
        positions after the bad step are written back and nothing after it is meaningful.
    work : PairWork, optional
        Arrays kept from the last call of the same run: its lists carry on when ``x`` holds
        the positions that call left (none: new arrays, the lists built afresh). Results
        are the same either way.

    Returns
    -------
    builds, made_fast : int
        How many times the neighbour list was built, and how many particles had their pairs
        searched for instead (fast ones), summed over the builds (for tests and benchmarks).
    """
    work = work_for(work, x)
    builds, made_fast, work.nbr = _advance_pairs(
        x, parts, steps, forces, box, pair, key, max_drift, status, work.arrays, work.nbr
    )
    return builds, made_fast


@njit(**_JIT)
def _advance_pairs(x, parts, steps, forces, box, pair, key, max_drift, status, work, nbr):
    """:func:`advance_pairs` on the arrays of ``work`` (:class:`WorkArrays`) and the list buffer ``nbr``.

    Returns the builds, the particles made fast and the list buffer (a new one when it grew).
    """
    d, n = x.shape
    status[0] = -1
    status[1] = OK
    n_steps = steps.A.shape[0]
    if n_steps == 0 or n == 0:
        return 0, 0, nbr
    rc, skin, eps = pair.rc, pair.skin, pair.eps
    per = per_call(x[0, 0])
    p, pn, pref, img, ids, lab, z = work.p, work.pn, work.pref, work.img, work.ids, work.lab, work.z
    p2, img2, ids2, lab2 = work.p2, work.img2, work.ids2, work.lab2
    cell, dest, start, begin, end = work.cell, work.dest, work.start, work.begin, work.end
    codes, moved, bad_chunks, acc, pair_flag = work.codes, work.moved, work.bad_chunks, work.acc, work.pair_flag
    fast, fast_ids, new_fast, new_count, bad_fast = (
        work.fast,
        work.fast_ids,
        work.new_fast,
        work.new_count,
        work.bad_fast,
    )
    memo_i, memo_f = work.memo_i, work.memo_f
    moved_sq = moved.view(np.float64)  # the chunks' largest squared moves, written as their bits
    fast_cap = np.int64(FAST_LIMIT * n)
    _gather(x, parts.image, parts.labels, parts.order, p, img, ids, lab)
    rl = rc + skin
    has_pairs = pair.kind != PAIR_NONE  # a user force alone: no lists, no rebuilds, empty pair phase
    # the lists of the last call hold while the positions are the ones it left (same bits)
    carry_on = has_pairs and memo_i[MEMO_VALID] == 1 and memo_f[MEMO_RC] == rc and same_values(p, work.plast)
    if carry_on:
        n_fast = memo_i[MEMO_FAST]
        fast2, search2 = memo_f[MEMO_FAST2], memo_f[MEMO_SEARCH2]
        origin, hinv = memo_f[MEMO_ORIGIN : MEMO_ORIGIN + 3].copy(), memo_f[MEMO_HINV : MEMO_HINV + 3].copy()
        nc = memo_i[MEMO_NC : MEMO_NC + 3].copy()
        fresh = memo_i[MEMO_GROUP] != key.step0 // per  # the noise of a group begun in the last call is kept
    else:
        for u in range(memo_i[MEMO_FAST]):  # flags a previous call left
            fast[fast_ids[u]] = False
        n_fast = 0
        begin[:] = 0  # empty lists until the first build (none for a user force alone)
        end[:] = 0
        fast2 = 0.0 if has_pairs else np.inf
        search2 = fast2
        origin, hinv, nc = np.zeros(3), np.zeros(3), np.ones(3, dtype=np.int64)
        fresh = True
        pref[:] = p
    memo_i[MEMO_VALID] = 0  # until this call ends well
    rebuild = has_pairs and not carry_on
    builds = 0
    made_fast = 0
    for j in range(n_steps):
        s = key.step0 + j
        if rebuild:
            for u in range(n_fast):  # before the sort re-orders the particles
                fast[fast_ids[u]] = False
            n_fast = 0
            origin, hinv, nc = grid_for(p, box, rl, eps)
            bin_cells(p, origin, hinv, nc, cell)
            sort_by_cell(cell, nc[0] * nc[1] * nc[2], start, dest, (p, img, ids, lab, p2, img2, ids2, lab2))
            p, p2 = p2, p
            img, img2 = img2, img
            ids, ids2 = ids2, ids
            lab, lab2 = lab2, lab
            fresh = True  # the noise of this Philox group is drawn again in the new order (cheaper than moving it)
            if nbr.shape[0] == 0:  # first build: guess the size (a wrong guess costs one refill, never a result)
                n_cells = nc[0] * nc[1] * nc[2]
                guess = LIST_GUESS * (n / n_cells) * 3.0 ** min(d, 3) + 4.0
                nbr = np.empty(n * np.int64(np.ceil(guess)), dtype=np.int32)
            nbr = build_list(p, (cell, start, nc), box, rl, begin, end, nbr)
            pref[:] = p
            margin = rounding_margin(p, box, skin, eps)
            fast2 = _squared_threshold(trigger_distance(skin, margin))
            search2 = _squared_threshold(search_distance(skin, margin))
            rebuild = False
            builds += 1
        lists = (begin, end, nbr)
        noise = (fresh or s % per == 0, z, ids, s // per, key.words, key.k0, key.k1)
        _pair_phase(p, lists, box, pair, acc, bad_chunks, noise)
        any_bad = bad_chunks.any()
        fast_set = (fast, fast_ids, n_fast)
        cells = (origin, hinv, nc, start)
        if n_fast > 0:
            fast_pair_phase(p, fast_set, cells, box, pair, acc, bad_fast)
            any_bad = any_bad or bad_fast[: (n_fast + FAST_GROUP - 1) // FAST_GROUP].any()
        if any_bad:
            _pair_flags(p, lists, box, pair, pair_flag)
            fast_pair_flags(p, fast_set, cells, box, pair, pair_flag)
        _step(
            (p, pn, pref, img, ids, lab, z),
            (acc, any_bad, pair_flag),
            j,
            s % per,
            steps,
            forces,
            box,
            max_drift,
            codes,
            moved,
            (fast, fast2),
            new_fast,
            new_count,
        )
        fresh = False
        p, pn = pn, p
        worst = first_bad_code(codes)
        if worst != OK:
            status[0] = s
            status[1] = worst
            break
        if moved_sq.max() > search2:
            rebuild = True
        elif new_count.any():
            before = n_fast
            n_fast = mark_fast(new_fast, new_count, fast, fast_ids, n_fast, lists, (cell, start, nc), box)
            made_fast += n_fast - before
            rebuild = n_fast > fast_cap
        if rebuild:
            new_count[:] = 0
    _scatter(x, parts.image, parts.order, p, img, ids)
    memo_i[MEMO_FAST] = n_fast
    if has_pairs and status[0] < 0 and not rebuild:  # the lists hold for the positions left
        work.plast[:] = p
        memo_i[MEMO_VALID] = 1
        memo_i[MEMO_GROUP] = (key.step0 + n_steps - 1) // per
        memo_i[MEMO_NC : MEMO_NC + 3] = nc
        memo_f[MEMO_RC] = rc
        memo_f[MEMO_FAST2] = fast2
        memo_f[MEMO_SEARCH2] = search2
        memo_f[MEMO_ORIGIN : MEMO_ORIGIN + 3] = origin
        memo_f[MEMO_HINV : MEMO_HINV + 3] = hinv
    return builds, made_fast, nbr


#: steps the skin is sized to last between rebuilds (for pure diffusion; drift shortens it)
STEPS_PER_BUILD = 16
#: share of the particles that may be fast before the list is rebuilt
FAST_LIMIT = 0.02
#: bounds of the skin, as fractions of the cut-off
SKIN_RANGE = (0.1, 2.0)


def list_skin(rc: float, step_sigma: float, d: int = 2) -> float:
    """A neighbour-list skin (length) for cut-off ``rc`` and per-axis noise step ``step_sigma``.

    Sized so that after ``STEPS_PER_BUILD`` diffusive steps about ``FAST_LIMIT`` of the
    particles have moved more than ``skin / 2`` (the radius of a ``d``-dimensional Gaussian
    of per-axis standard deviation ``s`` exceeds ``s sqrt(2 ln(1 / f) + d - 2)`` with
    probability about ``f``; exact for ``d = 2``), clipped to ``SKIN_RANGE`` times ``rc``.
    The number of particles does not enter: fast particles are searched for one by one
    rather than rebuilding every list. Any positive skin gives the same trajectory; this
    only balances the cost of longer lists against that of rebuilding them.
    """
    reach = step_sigma * np.sqrt(STEPS_PER_BUILD) * np.sqrt(2.0 * np.log(1.0 / FAST_LIMIT) + d - 2)
    return float(np.clip(2.0 * reach, SKIN_RANGE[0] * rc, SKIN_RANGE[1] * rc))
