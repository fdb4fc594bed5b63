"""Steppers for linear (Gaussian) processes: ``x <- A_j x + B_j z + C_j`` per step ``j``.

Both stepping modes of a linear process are this affine update with different
coefficients (computed in :mod:`dustsim.stepping`): the exact transition kernel
(``A = alpha_{t|s}``, ``B = sigma_{t|s}``) and Euler-Maruyama (``A = 1 + f dt``,
``B = g sqrt(dt)``). Coefficients are per step and per axis, shape ``(M, d)``.

Positions are held axis-major, shape ``(d, n)``, so that the innermost loop runs over
contiguous particles of one axis and vectorises; each ``(axis, block)`` pair is one
parallel task. The noise of particle ``i``, axis ``a``, step ``s`` comes from the
counter-based generator of :mod:`dustsim.kernels.rng`, so the result does not depend on
the number of threads or on how the steps are split between calls.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange, types
from numba.extending import overload

from .options import JIT as _JIT
from .rng import PER_CALL_F32, PER_CALL_F64, normals2_f64, normals4_f32

BLOCK = 2048  # particles per task: one row block stays in L1/L2 across the steps


@njit(inline="always", error_model="numpy")
def _coeffs(A, B, C, j, axis):
    """Coefficients of step ``j``, and whether the step belongs to this call."""
    if 0 <= j < A.shape[0]:
        return True, A[j, axis], B[j, axis], C[j, axis]
    return False, A.dtype.type(1), A.dtype.type(0), A.dtype.type(0)


@njit(inline="always", error_model="numpy")
def _frame_after(j, n_steps, every):
    """Index of the frame recorded after local step ``j``, or -1 if none is."""
    if every > 0 and 0 <= j < n_steps and (j + 1) % every == 0:
        return (j + 1) // every - 1
    return -1


@njit(inline="always", error_model="numpy")
def _store_frames(frames, after, axis, particle0, f0, f1, f2, f3):
    """Copy the kept states ``after[k]`` into ``frames[f_k]`` for each ``f_k >= 0``."""
    m = after.shape[1]
    for k, f in enumerate((f0, f1, f2, f3)):
        if f >= 0:
            frames[f, axis, particle0 : particle0 + m] = after[k]


@njit(**_JIT)
def _advance_row_f32(row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames):
    n_steps = A.shape[0]
    # States after each step of a group, copied to their frames after the particle loop:
    # stores into ``frames`` inside the loop (which might alias ``row``) stop vectorisation.
    after = np.empty((PER_CALL_F32, row.shape[0] if every > 0 else 0), dtype=row.dtype)
    for g in range(step0 // PER_CALL_F32, (step0 + n_steps - 1) // PER_CALL_F32 + 1):
        j = PER_CALL_F32 * g - step0
        v0, a0, b0, c0 = _coeffs(A, B, C, j, axis)
        v1, a1, b1, c1 = _coeffs(A, B, C, j + 1, axis)
        v2, a2, b2, c2 = _coeffs(A, B, C, j + 2, axis)
        v3, a3, b3, c3 = _coeffs(A, B, C, j + 3, axis)
        f0 = _frame_after(j, n_steps, every)
        f1 = _frame_after(j + 1, n_steps, every)
        f2 = _frame_after(j + 2, n_steps, every)
        f3 = _frame_after(j + 3, n_steps, every)
        if f0 < 0 and f1 < 0 and f2 < 0 and f3 < 0:
            for i in range(row.shape[0]):
                z0, z1, z2, z3 = normals4_f32(particle0 + i, g, word, k0, k1)
                x = row[i]
                x = a0 * x + b0 * z0 + c0 if v0 else x
                x = a1 * x + b1 * z1 + c1 if v1 else x
                x = a2 * x + b2 * z2 + c2 if v2 else x
                x = a3 * x + b3 * z3 + c3 if v3 else x
                row[i] = x
        else:  # some of these steps end a recorded frame: keep the states after each step
            for i in range(row.shape[0]):
                z0, z1, z2, z3 = normals4_f32(particle0 + i, g, word, k0, k1)
                x = row[i]
                x = a0 * x + b0 * z0 + c0 if v0 else x
                after[0, i] = x
                x = a1 * x + b1 * z1 + c1 if v1 else x
                after[1, i] = x
                x = a2 * x + b2 * z2 + c2 if v2 else x
                after[2, i] = x
                x = a3 * x + b3 * z3 + c3 if v3 else x
                after[3, i] = x
                row[i] = x
            _store_frames(frames, after, axis, particle0, f0, f1, f2, f3)


@njit(**_JIT)
def _advance_row_f64(row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames):
    n_steps = A.shape[0]
    after = np.empty((PER_CALL_F64, row.shape[0] if every > 0 else 0), dtype=row.dtype)
    for g in range(step0 // PER_CALL_F64, (step0 + n_steps - 1) // PER_CALL_F64 + 1):
        j = PER_CALL_F64 * g - step0
        v0, a0, b0, c0 = _coeffs(A, B, C, j, axis)
        v1, a1, b1, c1 = _coeffs(A, B, C, j + 1, axis)
        f0 = _frame_after(j, n_steps, every)
        f1 = _frame_after(j + 1, n_steps, every)
        if f0 < 0 and f1 < 0:
            for i in range(row.shape[0]):
                z0, z1 = normals2_f64(particle0 + i, g, word, k0, k1)
                x = row[i]
                x = a0 * x + b0 * z0 + c0 if v0 else x
                x = a1 * x + b1 * z1 + c1 if v1 else x
                row[i] = x
        else:  # some of these steps end a recorded frame: keep the states after each step
            for i in range(row.shape[0]):
                z0, z1 = normals2_f64(particle0 + i, g, word, k0, k1)
                x = row[i]
                x = a0 * x + b0 * z0 + c0 if v0 else x
                after[0, i] = x
                x = a1 * x + b1 * z1 + c1 if v1 else x
                after[1, i] = x
                row[i] = x
            _store_frames(frames, after, axis, particle0, f0, f1, -1, -1)


def _advance_row(row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames):
    """Dispatch on the precision of ``row`` at compile time (see the overload below)."""


@overload(_advance_row)
def _advance_row_overload(row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames):  # noqa: ARG001 - dispatch on row
    if row.dtype == types.float32:
        return lambda row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames: _advance_row_f32(
            row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames
        )
    if row.dtype == types.float64:
        return lambda row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames: _advance_row_f64(
            row, particle0, A, B, C, axis, step0, word, k0, k1, every, frames
        )
    return None


@njit(parallel=True, **_JIT)
def _advance_tasks(x, A, B, C, step0, words, k0, k1, every, frames):
    d, n = x.shape
    if A.shape[0] == 0 or n == 0:
        return
    n_blocks = (n + BLOCK - 1) // BLOCK
    for task in prange(d * n_blocks):
        axis = task // n_blocks
        lo = (task % n_blocks) * BLOCK
        hi = min(n, lo + BLOCK)
        _advance_row(x[axis, lo:hi], lo, A, B, C, axis, step0, words[axis], k0, k1, every, frames)


@njit(**_JIT)
def advance_affine(x, A, B, C, step0, words, k0, k1):
    """Advance positions by ``M = A.shape[0]`` affine-noise steps, in place.

    Parameters
    ----------
    x : ndarray, shape (d, n), float32 or float64, C-contiguous
        Positions, axis-major. Updated in place.
    A, B, C : ndarray, shape (M, d), same dtype as ``x``
        Per-step, per-axis coefficients: ``x <- A x + B z + C`` with ``z ~ N(0, 1)``.
    step0 : int
        Global index of the first step (the noise counter), >= 0.
    words : ndarray of uint64, shape (d,)
        Fourth counter word per axis (stream id and axis, see ``rng.stream_axis_word``).
    k0, k1 : uint64
        Philox key (the seed).
    """
    no_frames = np.empty((0, x.shape[0], 0), dtype=x.dtype)
    _advance_tasks(x, A, B, C, step0, words, k0, k1, 0, no_frames)


@njit(**_JIT)
def advance_affine_recording(x, A, B, C, step0, words, k0, k1, every, frames):
    """Advance like :func:`advance_affine`, storing the state after every ``every``-th step.

    One call covers several recorded frames, so each Philox evaluation's normals (4 in
    float32, 2 in float64, one per consecutive step) are all used even when frames are
    recorded every step; the result is bitwise the same as one call per frame.

    Parameters
    ----------
    x, A, B, C, step0, words, k0, k1
        As for :func:`advance_affine`; ``M = A.shape[0]`` must be a multiple of ``every``.
    every : int
        Steps between recorded frames, >= 1.
    frames : ndarray, shape (M // every, d, n), same dtype as ``x``
        Filled with the positions after steps ``every, 2 every, ..., M`` of this call
        (axis-major, like ``x``).
    """
    _advance_tasks(x, A, B, C, step0, words, k0, k1, every, frames)
