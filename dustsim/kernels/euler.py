"""Euler-Maruyama steppers for overdamped Langevin dynamics with forces.

One step of particle ``i``, axis ``a``, from step ``j`` (label ``l`` of the particle)::

    x <- ((A[j, a] x + C[j, a]) + M[j, l] F_a(x)) + B[j, l] z,     then wrap / reflect

``A, C`` carry the linear drift of a base process (``A = 1 + f dt``, ``C = -f c dt``),
``M = mu dt`` the mobility times the step, ``B = sqrt(2 D dt)`` the noise amplitude and ``z``
the counter-based normal of ``(particle, step, axis)`` (:mod:`dustsim.kernels.rng`), so
the result does not depend on the number of threads or on how the steps are split
between calls. ``F`` is the force: built-in external potentials (separable, see
:mod:`dustsim.kernels.forces`), plus an optional user force, plus pair forces from a cell
list (summed in fixed point).

Two kernels share that update, bit for bit:

``advance_separable``
    No pair forces and no user force: every axis of every particle evolves on its own,
    so — like the affine stepper — each ``(axis, block)`` is one parallel task that runs
    all the steps with its block in cache, and the inner loop vectorises.
``advance_general``
    Pair forces (cell list rebuilt every step) and/or a user force (a ``cfunc`` called
    per particle). Particles are kept sorted by cell internally (the ``order`` array
    carries that memory order between calls); the results do not depend on it. Runs use
    ``dustsim.kernels.verlet`` (neighbour lists), which must give the same bits: this
    kernel is the simpler reference the tests hold it to.

The step-size guard stops at the first step where a position is not finite, a particle's
deterministic displacement ``|M F|`` exceeds ``max_drift``, or a pair force exceeds the
fixed-point range; ``status`` receives ``(step, code)`` (codes in ``forces``), and the
caller raises. Nothing after that step is meaningful.
"""

from __future__ import annotations

import numpy as np
from numba import cfunc, njit, prange, types
from numba.extending import overload

from .cells import (
    CHUNK,
    bin_particles,
    cell_of,
    counting_sort,
    grid_from_ranges,
    grid_setup,
    max_cells_for,
    neighbour_ranges,
    sum_pair_forces,
)
from .forces import (
    FORCE_LIMIT,
    FORCE_OVERFLOW,
    FORCE_SCALE,
    NOT_FINITE,
    OK,
    PAIR_NONE,
    TOO_FAR,
    axis_params,
    separable_force,
)
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .rng import PER_CALL_F32, PER_CALL_F64, box_muller_f32, counter_words, normals2_f64, normals4_f32
from .space import FREE, PERIODIC, wrap

BLOCK = 2048

#: signature of a user force: ``f(x_ptr, out_ptr, d)`` adds the force at ``x`` to ``out``
USER_FORCE_SIG = types.void(types.CPointer(types.float64), types.CPointer(types.float64), types.intp)


@cfunc(USER_FORCE_SIG, cache=True)
def no_force(x, out, d):  # noqa: ARG001 - the placeholder when there is no user force
    return


# ---------------------------------------------------------------------- the update
@njit(**_INLINE)
def euler_update(x, f, a, c, m, b, z):
    """``((a x + c) + m f) + b z`` and the deterministic displacement ``m f``."""
    drift = m * f
    return ((a * x + c) + drift) + b * z, drift


@njit(**_INLINE)
def first_bad_code(codes):
    """The first status code other than ``OK`` in a chunk's codes (``OK`` if none)."""
    for c in range(codes.shape[0]):
        if codes[c] != OK:
            return codes[c]
    return np.int64(OK)


@njit(**_INLINE)
def check(xn, drift, max_drift):
    """Status code of one updated coordinate."""
    if not (np.abs(xn) < np.inf):
        return NOT_FINITE
    if np.abs(drift) > max_drift:
        return TOO_FAR
    return OK


# ------------------------------------------------------------- separable (per axis)
@njit(**_INLINE)
def _step_coeffs(A, C, M, B, j, axis):
    """Coefficients of step ``j`` (clamped into the call, with a validity flag)."""
    n = A.shape[0]
    valid = 0 <= j < n
    jc = min(max(j, 0), n - 1)
    return valid, A[jc, axis], C[jc, axis], M[jc], B[jc]


@njit(**_INLINE)
def _substep(x, im, valid, a, c, m, b, z, prm, flags, kind, lo, length, hi, max_drift):
    """One guarded step of one coordinate; an invalid (out-of-call) step leaves it unchanged.

    Returns the new coordinate and image count and two flags: not finite, moved too far.
    (Flags, not a running maximum: LLVM vectorises OR reductions, not float max.)
    """
    f = separable_force(x, prm, flags)
    xn, drift = euler_update(x, f, a, c, m, b, z)
    bad = not (np.abs(xn) < np.inf)
    far = np.abs(drift) > max_drift
    xw, crossed = wrap(xn, kind, lo, length, hi)
    return (xw if valid else x), (im + crossed if valid else im), bad and valid, far and valid


@njit(**_JIT)
def _group4(row, img, mf, bf, particle0, g, word, k0, k1, v, a, c, m, b, prm, flags, kind, lo, length, hi, max_drift):
    """Four steps (one float32 Philox call) of a row of coordinates: the vectorised inner loop."""
    n0 = n1 = n2 = n3 = False
    f0 = f1 = f2 = f3 = False
    for i in range(row.shape[0]):
        z0, z1, z2, z3 = normals4_f32(particle0 + i, g, word, k0, k1)
        x = row[i]
        im = img[i]
        mi = mf[i]
        bi = bf[i]
        x, im, e0, d0 = _substep(
            x, im, v[0], a[0], c[0], m[0] * mi, b[0] * bi, z0, prm, flags, kind, lo, length, hi, max_drift
        )
        x, im, e1, d1 = _substep(
            x, im, v[1], a[1], c[1], m[1] * mi, b[1] * bi, z1, prm, flags, kind, lo, length, hi, max_drift
        )
        x, im, e2, d2 = _substep(
            x, im, v[2], a[2], c[2], m[2] * mi, b[2] * bi, z2, prm, flags, kind, lo, length, hi, max_drift
        )
        x, im, e3, d3 = _substep(
            x, im, v[3], a[3], c[3], m[3] * mi, b[3] * bi, z3, prm, flags, kind, lo, length, hi, max_drift
        )
        row[i] = x
        img[i] = im
        n0, n1, n2, n3 = n0 | e0, n1 | e1, n2 | e2, n3 | e3
        f0, f1, f2, f3 = f0 | d0, f1 | d1, f2 | d2, f3 | d3
    return (n0, n1, n2, n3), (f0, f1, f2, f3)


@njit(**_JIT)
def _group2(row, img, mf, bf, particle0, g, word, k0, k1, v, a, c, m, b, prm, flags, kind, lo, length, hi, max_drift):
    """Two steps (one float64 Philox call) of a row of coordinates: the vectorised inner loop."""
    n0 = n1 = False
    f0 = f1 = False
    for i in range(row.shape[0]):
        z0, z1 = normals2_f64(particle0 + i, g, word, k0, k1)
        x = row[i]
        im = img[i]
        mi = mf[i]
        bi = bf[i]
        x, im, e0, d0 = _substep(
            x, im, v[0], a[0], c[0], m[0] * mi, b[0] * bi, z0, prm, flags, kind, lo, length, hi, max_drift
        )
        x, im, e1, d1 = _substep(
            x, im, v[1], a[1], c[1], m[1] * mi, b[1] * bi, z1, prm, flags, kind, lo, length, hi, max_drift
        )
        row[i] = x
        img[i] = im
        n0, n1 = n0 | e0, n1 | e1
        f0, f1 = f0 | d0, f1 | d1
    return (n0, n1), (f0, f1)


@njit(**_INLINE)
def _first_bad(step, nfs, fars):
    """First step (and code) of a group whose flags are set."""
    for v in range(len(nfs)):
        if nfs[v]:
            return step + v, NOT_FINITE
        if fars[v]:
            return step + v, TOO_FAR
    return np.int64(-1), np.int64(OK)


@njit(**_JIT)
def _sep_row_f32(
    row, img, mf, bf, particle0, A, C, M, B, P, flags, axis, kind, lo, length, hi, step0, word, k0, k1, max_drift
):
    n_steps = A.shape[0]
    prm = axis_params(P, axis)
    for g in range(step0 // PER_CALL_F32, (step0 + n_steps - 1) // PER_CALL_F32 + 1):
        j = PER_CALL_F32 * g - step0
        v0, a0, c0, m0, b0 = _step_coeffs(A, C, M, B, j, axis)
        v1, a1, c1, m1, b1 = _step_coeffs(A, C, M, B, j + 1, axis)
        v2, a2, c2, m2, b2 = _step_coeffs(A, C, M, B, j + 2, axis)
        v3, a3, c3, m3, b3 = _step_coeffs(A, C, M, B, j + 3, axis)
        nf, far = _group4(
            row,
            img,
            mf,
            bf,
            particle0,
            g,
            word,
            k0,
            k1,
            (v0, v1, v2, v3),
            (a0, a1, a2, a3),
            (c0, c1, c2, c3),
            (m0, m1, m2, m3),
            (b0, b1, b2, b3),
            prm,
            flags,
            kind,
            lo,
            length,
            hi,
            max_drift,
        )
        s, code = _first_bad(step0 + j, nf, far)
        if code != OK:
            return s, code
    return np.int64(-1), np.int64(OK)


@njit(**_JIT)
def _sep_row_f64(
    row, img, mf, bf, particle0, A, C, M, B, P, flags, axis, kind, lo, length, hi, step0, word, k0, k1, max_drift
):
    n_steps = A.shape[0]
    prm = axis_params(P, axis)
    for g in range(step0 // PER_CALL_F64, (step0 + n_steps - 1) // PER_CALL_F64 + 1):
        j = PER_CALL_F64 * g - step0
        v0, a0, c0, m0, b0 = _step_coeffs(A, C, M, B, j, axis)
        v1, a1, c1, m1, b1 = _step_coeffs(A, C, M, B, j + 1, axis)
        nf, far = _group2(
            row,
            img,
            mf,
            bf,
            particle0,
            g,
            word,
            k0,
            k1,
            (v0, v1),
            (a0, a1),
            (c0, c1),
            (m0, m1),
            (b0, b1),
            prm,
            flags,
            kind,
            lo,
            length,
            hi,
            max_drift,
        )
        s, code = _first_bad(step0 + j, nf, far)
        if code != OK:
            return s, code
    return np.int64(-1), np.int64(OK)


def _sep_row(
    row, img, mf, bf, particle0, A, C, M, B, P, flags, axis, kind, lo, length, hi, step0, word, k0, k1, max_drift
):
    """Dispatch on the precision of ``row`` (overload below)."""


# fmt: off
@overload(_sep_row)
def _sep_row_overload(row, img, mf, bf, particle0, A, C, M, B, P, flags, axis, kind, lo, length, hi, step0,  # noqa: ARG001
                      word, k0, k1, max_drift):  # noqa: ARG001 - a typing function: only the types matter
# fmt: on
    impl = {types.float32: _sep_row_f32, types.float64: _sep_row_f64}.get(row.dtype)
    if impl is None:
        return None

    def call(
        row, img, mf, bf, particle0, A, C, M, B, P, flags, axis, kind, lo, length, hi, step0, word, k0, k1, max_drift
    ):
        return impl(
            row,
            img,
            mf,
            bf,
            particle0,
            A,
            C,
            M,
            B,
            P,
            flags,
            axis,
            kind,
            lo,
            length,
            hi,
            step0,
            word,
            k0,
            k1,
            max_drift,
        )

    return call


@njit(**_JIT)
def advance_separable(
    x, image, mf, bf, A, C, M, B, P, flags, kinds, lo, length, hi, step0, words, k0, k1, max_drift, status
):
    """Advance ``A.shape[0]`` Euler steps with separable external forces only, in place.

    Parameters
    ----------
    x : ndarray, shape (d, n), float32 or float64, C-contiguous
        Positions, axis-major.
    image : ndarray of int32, shape (d, n)
        Periodic image counts (updated).
    mf, bf : ndarray, shape (n,)
        Per-particle factors of the mobility and of the noise amplitude (1 for
        identical particles; ``D_i / D`` and its square root for label types).
    A, C : ndarray, shape (steps, d)
        Linear drift coefficients per step and axis.
    M, B : ndarray, shape (steps,)
        Mobility times dt, and noise amplitude ``sqrt(2 D dt)``, per step.
    P, flags : ndarray (N_ROWS, d), int
        Separable potential parameters (:mod:`dustsim.kernels.forces`).
    kinds : ndarray of int64, shape (d,); lo, length, hi : ndarray, shape (d,)
        Boundary per axis (:mod:`dustsim.kernels.space`).
    step0 : int
        Global index of the first step.
    words, k0, k1
        Counter words per axis and the Philox key.
    max_drift : float
        Largest allowed deterministic displacement per step (length).
    status : ndarray of int64, shape (2,)
        Receives ``(first bad step, code)``, or ``(-1, 0)``.
    """
    d, n = x.shape
    status[0] = -1
    status[1] = OK
    if A.shape[0] == 0 or n == 0:
        return
    n_blocks = (n + BLOCK - 1) // BLOCK
    bad_step = np.full(d * n_blocks, -1, dtype=np.int64)
    bad_code = np.zeros(d * n_blocks, dtype=np.int64)
    _separable_tasks(
        x,
        image,
        mf,
        bf,
        A,
        C,
        M,
        B,
        P,
        flags,
        kinds,
        lo,
        length,
        hi,
        step0,
        words,
        k0,
        k1,
        max_drift,
        bad_step,
        bad_code,
    )
    for task in range(d * n_blocks):
        if bad_code[task] != OK and (status[0] < 0 or bad_step[task] < status[0]):
            status[0] = bad_step[task]
            status[1] = bad_code[task]


@njit(parallel=True, **_JIT)
def _separable_tasks(
    x, image, mf, bf, A, C, M, B, P, flags, kinds, lo, length, hi, step0, words, k0, k1, max_drift, bad_step, bad_code
):
    """The parallel region of :func:`advance_separable`: one task per ``(axis, block)``.

    Nothing but the ``prange`` loop lives here: in a parallel function every array
    expression becomes a parallel loop of its own, which costs compile time.
    """
    d, n = x.shape
    n_blocks = (n + BLOCK - 1) // BLOCK
    for task in prange(d * n_blocks):
        axis = task // n_blocks
        lo_i = (task % n_blocks) * BLOCK
        hi_i = min(n, lo_i + BLOCK)
        s, code = _sep_row(
            x[axis, lo_i:hi_i],
            image[axis, lo_i:hi_i],
            mf[lo_i:hi_i],
            bf[lo_i:hi_i],
            lo_i,
            A,
            C,
            M,
            B,
            P,
            flags,
            axis,
            kinds[axis],
            lo[axis],
            length[axis],
            hi[axis],
            step0,
            words[axis],
            k0,
            k1,
            max_drift,
        )
        bad_step[task] = s
        bad_code[task] = code


# ------------------------------------------------------------------ general (cell list)
def cast_like(x, v):
    """``v`` converted to the precision of ``x``."""


@overload(cast_like)
def cast_like_overload(x, v):  # noqa: ARG001
    if x == types.float32:
        return lambda x, v: np.float32(v)  # noqa: ARG005
    if x == types.float64:
        return lambda x, v: np.float64(v)  # noqa: ARG005
    return None


@njit(**_INLINE)
def fixed_point_constants(x, rc):
    """``(rc^2, scale, limit, 1 / scale)`` of the fixed-point pair sums, in the precision of ``x``.

    ``scale`` is :data:`forces.FORCE_SCALE`, ``limit`` :data:`forces.FORCE_LIMIT` (the one
    place of both numbers); ``rc^2`` is the square of the cut-off rounded to that precision.
    """
    rcx = cast_like(x, rc)
    return rcx * rcx, cast_like(x, FORCE_SCALE), cast_like(x, FORCE_LIMIT), cast_like(x, 1.0 / FORCE_SCALE)


@njit(**_JIT)
def _noise_f32(z, ids, k_lo, k_hi, s, words, k0, k1):
    """``z[a, k]`` = normal of particle ``ids[k]``, step ``s``, axis ``a`` (vectorised over ``k``)."""
    g = s // PER_CALL_F32
    slot = s % PER_CALL_F32
    for a in range(z.shape[0]):
        word = words[a]
        for k in range(k_lo, k_hi):
            w0, w1, w2, w3 = counter_words(ids[k], g, word, k0, k1)
            z0, z1 = box_muller_f32(np.uint32(w0 if slot < 2 else w2), np.uint32(w1 if slot < 2 else w3))
            z[a, k] = z0 if slot % 2 == 0 else z1


@njit(**_JIT)
def _noise_f64(z, ids, k_lo, k_hi, s, words, k0, k1):
    """``z[a, k]`` = normal of particle ``ids[k]``, step ``s``, axis ``a`` (vectorised over ``k``)."""
    g = s // PER_CALL_F64
    slot = s % PER_CALL_F64
    for a in range(z.shape[0]):
        word = words[a]
        for k in range(k_lo, k_hi):
            z0, z1 = normals2_f64(ids[k], g, word, k0, k1)
            z[a, k] = z0 if slot == 0 else z1


def _noise(z, ids, k_lo, k_hi, s, words, k0, k1):
    """Dispatch on the precision of ``z``."""


@overload(_noise)
def _noise_overload(z, ids, k_lo, k_hi, s, words, k0, k1):  # noqa: ARG001
    if z.dtype == types.float32:
        return lambda z, ids, k_lo, k_hi, s, words, k0, k1: _noise_f32(z, ids, k_lo, k_hi, s, words, k0, k1)
    if z.dtype == types.float64:
        return lambda z, ids, k_lo, k_hi, s, words, k0, k1: _noise_f64(z, ids, k_lo, k_hi, s, words, k0, k1)
    return None


@njit(**_JIT)
def user_force_at(user, p, k, d, xb, fb):
    """The user force on sorted particle ``k``, into ``fb`` (a call: the cfunc cannot be inlined)."""
    for a in range(d):
        xb[a] = np.float64(p[k, a])
        fb[a] = 0.0
    user(xb.ctypes, fb.ctypes, d)


@njit(**_JIT)
def _step_cells(
    c_lo,
    c_hi,
    p,
    pn,
    img,
    ids,
    lab,
    mf,
    bf,
    z,
    start,
    nc,
    grid_fixed,
    origin,
    hinv,
    cell_next,
    ext,
    d,
    j,
    s,
    A,
    C,
    M,
    B,
    P,
    flags,
    kinds,
    lo,
    length,
    hi,
    half,
    pair_kind,
    Q,
    rc2,
    scale,
    limit,
    inv_scale,
    user,
    has_user,
    words,
    k0,
    k1,
    max_drift,
):
    """Update the particles of cells ``c_lo..c_hi`` (sorted order) into ``pn``; a status code.

    Forces: separable external, user (if ``has_user``) and pair forces from the neighbour
    cells (if ``pair_kind != PAIR_NONE``; otherwise the "cells" are plain chunks of
    particles, given by ``start``). With a fixed grid the new cell of every particle is
    written to ``cell_next``; otherwise the new positions' range goes to ``ext`` (min, max
    per axis) for the next grid.
    """
    has_pairs = pair_kind != PAIR_NONE
    k_first = start[c_lo]
    k_last = start[c_hi]
    _noise(z, ids, k_first, k_last, s, words, k0, k1)
    xb = np.zeros(max(d, 1), dtype=np.float64)
    fb = np.zeros(max(d, 1), dtype=np.float64)
    rlo = np.empty(18, dtype=np.int64)
    rhi = np.empty(18, dtype=np.int64)
    p0 = kinds[0] == PERIODIC
    p1 = d > 1 and kinds[1] == PERIODIC
    p2 = d > 2 and kinds[2] == PERIODIC
    for a in range(d):
        ext[0, a] = np.inf
        ext[1, a] = -np.inf
    code = OK
    c0 = c_lo % nc[0]
    c1 = (c_lo // nc[0]) % nc[1]
    c2 = c_lo // (nc[0] * nc[1])
    zero = np.int64(0)
    for cell in range(c_lo, c_hi):
        if start[cell] < start[cell + 1]:
            count = neighbour_ranges(c0, c1, c2, nc, p0, p1, p2, start, rlo, rhi) if has_pairs else 0
            for k in range(start[cell], start[cell + 1]):
                a0 = a1 = a2 = zero
                if has_pairs:
                    a0, a1, a2, bad = sum_pair_forces(
                        p, k, rlo, rhi, count, d, kinds, length, half, rc2, pair_kind, Q, scale, limit
                    )
                    if bad and code == OK:
                        code = FORCE_OVERFLOW
                if has_user:
                    user_force_at(user, p, k, d, xb, fb)
                li = lab[k]
                m = M[j] * mf[li]
                b = B[j] * bf[li]
                for a in range(d):
                    x = p[k, a]
                    f = separable_force(x, axis_params(P, a), flags)
                    if has_user:
                        f = f + cast_like(x, fb[a])
                    if has_pairs:
                        f = f + cast_like(x, a0 if a == 0 else (a1 if a == 1 else a2)) * inv_scale
                    xn, drift = euler_update(x, f, A[j, a], C[j, a], m, b, z[a, k])
                    c = check(xn, drift, max_drift)
                    if code == OK:
                        code = c
                    xw, crossed = wrap(xn, kinds[a], lo[a], length[a], hi[a])
                    pn[k, a] = xw
                    img[k, a] += crossed
                    ext[0, a] = min(ext[0, a], np.float64(xw))
                    ext[1, a] = max(ext[1, a], np.float64(xw))
                if has_pairs and grid_fixed:
                    cell_next[k] = cell_of(pn, k, d, origin, hinv, nc)
        c0 += 1
        if c0 == nc[0]:
            c0 = 0
            c1 += 1
            if c1 == nc[1]:
                c1 = 0
                c2 += 1
    return code


@njit(**_JIT)
def gather_by_order(x, image, labels, order, p, img, ids, lab):
    """Copy particles into ``(n, d)`` work arrays in storage ``order`` (the cell order of the pair kernels)."""
    d, n = x.shape
    for k in range(n):
        i = order[k]
        ids[k] = i
        lab[k] = labels[i]
        for a in range(d):
            p[k, a] = x[a, i]
            img[k, a] = image[a, i]


@njit(**_JIT)
def scatter_by_order(x, image, order, p, img, ids):
    """Write the work arrays back to ``(d, n)`` state by particle id and record the new storage ``order``."""
    d, n = x.shape
    for k in range(n):
        i = ids[k]
        order[k] = i
        for a in range(d):
            x[a, i] = p[k, a]
            image[a, i] = img[k, a]


@njit(**_JIT)
def _sort_by_cell(cell, n_cells, start, dest, p, img, ids, lab, p2, img2, ids2, lab2):
    """Counting sort by cell, then move positions, images, ids and labels into the ``2`` arrays."""
    counting_sort(cell, n_cells, start, dest)
    n, d = p.shape
    for k in range(n):
        t = dest[k]
        ids2[t] = ids[k]
        lab2[t] = lab[k]
        for a in range(d):
            p2[t, a] = p[k, a]
            img2[t, a] = img[k, a]


@njit(parallel=True, **_JIT)
def _parallel_step(
    codes,
    per_chunk,
    n_cells,
    p,
    pn,
    img,
    ids,
    lab,
    mf,
    bf,
    z,
    start,
    nc,
    grid_fixed,
    origin,
    hinv,
    cell,
    ext,
    d,
    j,
    s,
    A,
    C,
    M,
    B,
    P,
    flags,
    kinds,
    lo,
    length,
    hi,
    half,
    pair_kind,
    Q,
    rc2,
    scale,
    limit,
    inv_scale,
    user,
    has_user,
    words,
    k0,
    k1,
    max_drift,
):
    """The parallel region of one step of :func:`advance_general` (nothing else, see ``_separable_tasks``)."""
    for c in prange(codes.shape[0]):
        codes[c] = _step_cells(
            min(n_cells, c * per_chunk),
            min(n_cells, (c + 1) * per_chunk),
            p,
            pn,
            img,
            ids,
            lab,
            mf,
            bf,
            z,
            start,
            nc,
            grid_fixed,
            origin,
            hinv,
            cell,
            ext[c],
            d,
            j,
            s,
            A,
            C,
            M,
            B,
            P,
            flags,
            kinds,
            lo,
            length,
            hi,
            half,
            pair_kind,
            Q,
            rc2,
            scale,
            limit,
            inv_scale,
            user,
            has_user,
            words,
            k0,
            k1,
            max_drift,
        )


@njit(**_JIT)
def advance_general(
    x,
    image,
    labels,
    mf,
    bf,
    order,
    A,
    C,
    M,
    B,
    P,
    flags,
    kinds,
    lo,
    length,
    hi,
    half,
    pair_kind,
    Q,
    rc,
    eps,
    user,
    has_user,
    step0,
    words,
    k0,
    k1,
    max_drift,
    status,
):
    """Advance ``A.shape[0]`` Euler steps with pair and/or user forces, in place.

    Parameters are those of :func:`advance_separable`, except

    labels : ndarray of int32, shape (n,)
        Type of every particle.
    mf, bf : ndarray, shape (n_types,)
        Mobility and noise factors per type (``advance_separable`` takes them per
        particle: ``mf[labels]``), and

    order : ndarray of int64, shape (n,)
        Memory order to start from (a permutation of the particles; updated to the final
        one so that the next call starts sorted). It does not change the results.
    half : ndarray, shape (d,)
        Half box lengths (minimum image).
    pair_kind : int; Q : ndarray; rc : float
        Pair potential, its parameters and cut-off (``PAIR_NONE``: no pair forces).
    eps : float
        Machine epsilon of the positions' precision.
    user : cfunc with signature ``USER_FORCE_SIG``; has_user : bool
        User force (``no_force`` when there is none).

    Each step is one parallel region over chunks of cells (forces, noise, update, new
    cell); the counting sort between steps is serial and O(N).
    """
    d, n = x.shape
    status[0] = -1
    status[1] = OK
    n_steps = A.shape[0]
    if n_steps == 0 or n == 0:
        return
    x00 = x[0, 0]
    has_pairs = pair_kind != PAIR_NONE
    rc2, scale, limit, inv_scale = fixed_point_constants(x00, rc)
    lo64 = lo.astype(np.float64)
    len64 = length.astype(np.float64)
    grid_fixed = True
    for a in range(d):
        if kinds[a] == FREE:
            grid_fixed = False
    max_cells = max_cells_for(n)
    m = n if has_pairs else 0  # sort buffers
    p = np.empty((n, d), dtype=x.dtype)
    pn = np.empty((n, d), dtype=x.dtype)
    z = np.empty((d, n), dtype=x.dtype)
    ids = np.empty(n, dtype=np.int64)
    lab = np.empty(n, dtype=np.int32)
    img = np.empty((n, d), dtype=np.int32)
    p2 = np.empty((m, d), dtype=x.dtype)
    ids2 = np.empty(m, dtype=np.int64)
    lab2 = np.empty(m, dtype=np.int32)
    img2 = np.empty((m, d), dtype=np.int32)
    cell = np.zeros(m, dtype=np.int64)
    dest = np.empty(m, dtype=np.int64)
    n_chunks = (n + CHUNK - 1) // CHUNK
    start = np.zeros(max_cells + 1 if has_pairs else n_chunks + 1, dtype=np.int64)
    codes = np.zeros(n_chunks, dtype=np.int64)
    ext = np.zeros((n_chunks, 2, d))
    gather_by_order(x, image, labels, order, p, img, ids, lab)
    nc = np.ones(3, dtype=np.int64)
    origin = np.zeros(3)
    hinv = np.zeros(3)
    if has_pairs:
        origin, hinv, nc = grid_setup(p, kinds, lo64, len64, rc, eps, max_cells)
        bin_particles(p, origin, hinv, nc, cell)
        _sort_by_cell(cell, nc[0] * nc[1] * nc[2], start, dest, p, img, ids, lab, p2, img2, ids2, lab2)
        p, p2 = p2, p
        img, img2 = img2, img
        ids, ids2 = ids2, ids
        lab, lab2 = lab2, lab
    else:  # the "cells" are chunks of particles, in memory order
        nc[0] = n_chunks
        for c in range(n_chunks + 1):
            start[c] = min(n, c * CHUNK)
    pmin = np.zeros(d)
    pmax = np.zeros(d)
    for j in range(n_steps):
        s = step0 + j
        n_cells = nc[0] * nc[1] * nc[2]
        per_chunk = (n_cells + n_chunks - 1) // n_chunks
        _parallel_step(
            codes,
            per_chunk,
            n_cells,
            p,
            pn,
            img,
            ids,
            lab,
            mf,
            bf,
            z,
            start,
            nc,
            grid_fixed,
            origin,
            hinv,
            cell,
            ext,
            d,
            j,
            s,
            A,
            C,
            M,
            B,
            P,
            flags,
            kinds,
            lo,
            length,
            hi,
            half,
            pair_kind,
            Q,
            rc2,
            scale,
            limit,
            inv_scale,
            user,
            has_user,
            words,
            k0,
            k1,
            max_drift,
        )
        p, pn = pn, p
        worst = first_bad_code(codes)
        if worst != OK:
            status[0] = s
            status[1] = worst
            break
        if has_pairs:
            if not grid_fixed:
                for a in range(d):
                    pmin[a] = ext[:, 0, a].min()
                    pmax[a] = ext[:, 1, a].max()
                origin, hinv, nc = grid_from_ranges(kinds, lo64, len64, pmin, pmax, rc, eps, max_cells)
                bin_particles(p, origin, hinv, nc, cell)
            _sort_by_cell(cell, nc[0] * nc[1] * nc[2], start, dest, p, img, ids, lab, p2, img2, ids2, lab2)
            p, p2 = p2, p
            img, img2 = img2, img
            ids, ids2 = ids2, ids
            lab, lab2 = lab2, lab
    scatter_by_order(x, image, order, p, img, ids)
