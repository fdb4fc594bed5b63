"""Forces: separable external potentials, pair potentials, fixed-point accumulation.

External potentials
-------------------
Every built-in external potential is a sum of one-axis terms, ``U(x) = sum_a u_a(x_a)``,
so the force on axis ``a`` depends on ``x_a`` only and the stepper can advance each axis
on its own, vectorised. The per-axis parameters are packed into an array ``P`` of shape
``(N_ROWS, d)`` (rows below) and a bit mask ``flags`` of the terms present::

    harmonic     u = k/2 (x - c)^2                  F = -k (x - c)
    double-well  u = h ((x - c)^2 / w^2 - 1)^2      F = -(4 h / w) (y^3 - y),  y = (x - c) / w
    cosine       u = A cos(2 pi (x - c) / lam)      F = (2 pi A / lam) sin(2 pi (x - c) / lam)
    constant     u = -f x                           F = f

Pair potentials
---------------
A pair potential enters through ``g(r^2)`` with ``F_i = g (x_i - x_j)``
(``g = -u'(r) / r``), for ``r < r_c``; parameters
``Q = (epsilon, sigma, a, r0, cap, 0, 1, 24)`` (the constants in the positions' precision)::

    harmonic  u = eps/2 (1 - r/sigma)^2           (soft repulsion, r_c = sigma)
    lj        u = 4 eps ((sigma/r)^12 - (sigma/r)^6)   (WCA: r_c = 2^(1/6) sigma)
    morse     u = eps ((1 - e^{-a (r - r0)})^2 - 1)

``cap > 0`` limits the magnitude of a pair force (a warm-up device for overlapping
starts). Coincident particles (``r = 0``) exert no force on each other.

Fixed-point sums
----------------
Pair forces on a particle are summed as 64-bit integers in units of ``2^-32``
(``FORCE_SCALE``), as OpenMM does: integer addition is associative, so the total does
not depend on the order in which neighbours are visited — cell list or brute force, any
thread count, any memory order of the particles — and the forces of a pair cancel exactly.
A single pair force above ``FORCE_LIMIT`` (2^24) is reported as an overflow.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .rng import sincos_f32, sincos_f64
from .space import displacement

# rows of the separable parameter array P
ROW_K, ROW_CH, ROW_DW, ROW_CD, ROW_WINV, ROW_COS, ROW_LINV, ROW_CC, ROW_F = range(9)
N_ROWS = 9
HARMONIC, DOUBLE_WELL, COSINE, CONSTANT = 1, 2, 4, 8

# pair kinds and the parameter vector Q
PAIR_NONE, PAIR_HARMONIC, PAIR_LJ, PAIR_MORSE = 0, 1, 2, 3
Q_EPS, Q_SIGMA, Q_A, Q_R0, Q_CAP, Q_ZERO, Q_ONE, Q_C24 = range(8)
N_Q = 8

FORCE_SCALE = 2.0**32
FORCE_LIMIT = 2.0**24

# status codes of the steppers and force kernels
OK, NOT_FINITE, TOO_FAR, FORCE_OVERFLOW = 0, 1, 2, 3



# --------------------------------------------------------------------- sin(2 pi u)
# Constants are typed per precision (a Python literal would promote float32 to float64);
# quadrants are selected with float comparisons, which vectorise (integer branches do not).
_F32 = np.float32
_ONE_F32, _HALF_F32, _FOUR_F32, _QUARTER_F32 = _F32(1), _F32(0.5), _F32(4), _F32(0.25)
_TWO_PI_F32 = _F32(2 * math.pi)


@njit(**_INLINE)
def _sin2pi_f32(u):
    r = u - np.rint(u)  # in [-1/2, 1/2]
    q = np.rint(r * _FOUR_F32)  # quadrant in -2..2
    s, c = sincos_f32((r - q * _QUARTER_F32) * _TWO_PI_F32)  # angle in [-pi/4, pi/4]
    # sin(phi + q pi/2): q = 0: s, 1: c, +-2: -s, -1: -c
    v = c if (q == _ONE_F32 or q == -_ONE_F32) else s
    return -v if (q < -_HALF_F32 or q > _ONE_F32 + _HALF_F32) else v


@njit(**_INLINE)
def _sin2pi_f64(u):
    r = u - np.rint(u)
    q = np.rint(r * 4.0)
    s, c = sincos_f64((r - q * 0.25) * (2 * math.pi))
    v = c if (q == 1.0 or q == -1.0) else s
    return -v if (q < -0.5 or q > 1.5) else v


def _sin2pi(u):
    """``sin(2 pi u)`` for any finite ``u``, in the precision of ``u`` (vectorisable)."""


@overload(_sin2pi)
def _sin2pi_overload(u):
    if u == types.float32:
        return lambda u: _sin2pi_f32(u)
    if u == types.float64:
        return lambda u: _sin2pi_f64(u)
    return None


@njit(**_INLINE)
def axis_params(P, axis):
    """The separable parameters of one axis, as a tuple (load them once, outside a loop)."""
    return (P[0, axis], P[1, axis], P[2, axis], P[3, axis], P[4, axis], P[5, axis], P[6, axis], P[7, axis],
            P[8, axis])


@njit(**_INLINE)
def separable_force(x, prm, flags):
    """Force on one axis from the built-in external potentials (see the module docstring).

    Parameters
    ----------
    x : float32 or float64
        Coordinate (length), finite.
    prm : tuple of N_ROWS floats, same precision as ``x``
        The axis's parameters, from :func:`axis_params`.
    flags : int64
        Bit mask of the terms present.
    """
    f = x - x  # a zero of the right precision
    if flags & HARMONIC:
        f = f - prm[ROW_K] * (x - prm[ROW_CH])
    if flags & DOUBLE_WELL:
        y = (x - prm[ROW_CD]) * prm[ROW_WINV]
        f = f - prm[ROW_DW] * (y * y * y - y)
    if flags & COSINE:
        f = f + prm[ROW_COS] * _sin2pi((x - prm[ROW_CC]) * prm[ROW_LINV])
    if flags & CONSTANT:
        f = f + prm[ROW_F]
    return f


# -------------------------------------------------------------------------- pair forces
@njit(**_INLINE)
def pair_g(r2, kind, Q):
    """``g = -u'(r) / r`` of the pair potential at squared distance ``r2`` (0 at ``r = 0``).

    Constants come from ``Q`` (``Q_ZERO``, ``Q_ONE``, ``Q_C24``) so that they have the
    precision of the positions.
    """
    zero = Q[Q_ZERO]
    one = Q[Q_ONE]
    g = zero
    if r2 > zero:
        if kind == PAIR_HARMONIC:
            r = np.sqrt(r2)
            sigma = Q[Q_SIGMA]
            g = Q[Q_EPS] * (sigma - r) / (sigma * sigma * r)
        elif kind == PAIR_LJ:
            s2 = Q[Q_SIGMA] * Q[Q_SIGMA] / r2
            s6 = s2 * s2 * s2
            g = Q[Q_C24] * Q[Q_EPS] * s6 * (s6 + s6 - one) / r2
        elif kind == PAIR_MORSE:
            r = np.sqrt(r2)
            e = np.exp(-Q[Q_A] * (r - Q[Q_R0]))
            g = -(Q[Q_EPS] + Q[Q_EPS]) * Q[Q_A] * e * (one - e) / r
        cap = Q[Q_CAP]
        if cap > zero:
            limit = cap / np.sqrt(r2)
            g = min(max(g, -limit), limit)
    return g


@njit(**_INLINE)
def to_fixed(v, scale, limit):
    """``(round(v * 2^32) as int64, overflow flag)`` for one force component."""
    bad = not (abs(v) <= limit)
    if bad:
        return np.int64(0), True
    return np.int64(np.rint(v * scale)), False


@njit(**_INLINE)
def add_pair(p, k, j, d, kinds, length, half, rc2, kind, Q, scale, limit):
    """Fixed-point force of particle ``j`` on ``k`` (rows of ``p``): ``(q0, q1, q2, overflow)``.

    Scalars only (no array views) so that the pair loop does no reference counting.
    """
    zero = np.int64(0)
    dx0 = displacement(p[k, 0], p[j, 0], kinds[0], length[0], half[0])
    r2 = dx0 * dx0
    dx1 = dx0
    dx2 = dx0
    if d > 1:
        dx1 = displacement(p[k, 1], p[j, 1], kinds[1], length[1], half[1])
        r2 = r2 + dx1 * dx1
    if d > 2:
        dx2 = displacement(p[k, 2], p[j, 2], kinds[2], length[2], half[2])
        r2 = r2 + dx2 * dx2
    if not (r2 < rc2):
        return zero, zero, zero, False
    g = pair_g(r2, kind, Q)
    q0, bad = to_fixed(g * dx0, scale, limit)
    q1 = zero
    q2 = zero
    if d > 1:
        q1, bad1 = to_fixed(g * dx1, scale, limit)
        bad = bad or bad1
    if d > 2:
        q2, bad2 = to_fixed(g * dx2, scale, limit)
        bad = bad or bad2
    return q0, q1, q2, bad


# ----------------------------------------------------------- Python-callable kernels
@njit(**_JIT)
def external_forces(x, P, flags):
    """Forces of the built-in external potentials at positions ``x`` (shape ``(d, n)``)."""
    d, n = x.shape
    out = np.empty_like(x)
    for a in range(d):
        prm = axis_params(P, a)
        for i in range(n):
            out[a, i] = separable_force(x[a, i], prm, flags)
    return out


@njit(**_JIT)
def pair_forces_brute(p, kinds, length, half, rc2, kind, Q, scale, limit):
    """All-pairs (O(N^2)) fixed-point pair forces: the reference for the cell list.

    Parameters
    ----------
    p : ndarray, shape (n, d), d <= 3
        Positions (inside the box on periodic axes).
    kinds : ndarray of int64, shape (d,)
        Boundary kind per axis (:mod:`dustsim.kernels.space`).
    length, half : ndarray, shape (d,), precision of ``p``
        Box length per axis and its half (ignored on free axes).
    rc2 : float
        Squared cut-off radius (precision of ``p``).
    kind : int
        Pair kind; ``Q`` its parameters (precision of ``p``).
    scale, limit : float
        ``FORCE_SCALE`` and ``FORCE_LIMIT`` in the precision of ``p``.

    Returns
    -------
    acc : ndarray of int64, shape (n, 3)
        Forces in units of ``2^-32`` (columns beyond ``d`` are zero).
    bad : ndarray of bool, shape (n,)
        Whether a pair force on the particle exceeded ``FORCE_LIMIT``.
    """
    n, d = p.shape
    acc = np.zeros((n, 3), dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        a0 = a1 = a2 = np.int64(0)
        overflow = False
        for j in range(n):
            if j != k:
                q0, q1, q2, b = add_pair(p, k, j, d, kinds, length, half, rc2, kind, Q, scale, limit)
                a0 += q0
                a1 += q1
                a2 += q2
                overflow = overflow or b
        acc[k, 0] = a0
        acc[k, 1] = a1
        acc[k, 2] = a2
        bad[k] = overflow
    return acc, bad
