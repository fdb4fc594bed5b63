"""Spaces: the (displacement, shift) pair of each boundary kind, per axis.

A boundary is described to the kernels by three per-axis arrays: ``kinds`` (``FREE``,
``PERIODIC`` or ``REFLECTING``), ``lo`` (lower wall) and ``length`` (box length ``L``;
the upper wall is ``lo + L``). As in jax-md, a space is two functions:

``displacement(xa, xb)``
    The vector from ``b`` to ``a``; on a periodic axis the minimum image, so
    ``|dx| <= L / 2``. It is exactly antisymmetric: ``displacement(b, a) == -displacement(a, b)``
    bit for bit, which makes pair forces sum to exactly zero.
``shift(x, dx)``
    Move a particle; on a periodic axis wrap into ``[lo, lo + L)`` and count the number of
    boxes crossed (the *image*), so that ``x + image * L`` is the unwrapped coordinate; at
    reflecting walls fold the move back into ``[lo, lo + L]`` (any distance, never outside).

All functions are scalar and inline so that the loops calling them vectorise.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .options import INLINE as _INLINE

FREE = 0
PERIODIC = 1
REFLECTING = 2
KIND_CODES = {"free": FREE, "periodic": PERIODIC, "reflecting": REFLECTING}


@njit(**_INLINE)
def displacement(xa, xb, kind, length, half):
    """``xa - xb`` on one axis; the minimum image on a periodic axis (both in ``[lo, lo + L)``).

    ``half = L / 2`` in the positions' precision.
    """
    dx = xa - xb
    if kind == PERIODIC:  # selects, not branches: pair loops over it vectorise
        up = dx - length
        down = dx + length
        dx = up if dx > half else (down if dx < -half else dx)
    return dx


@njit(**_INLINE)
def wrap(x, kind, lo, length, hi):
    """``(x', crossed)``: ``x`` folded back into the box on one axis.

    ``crossed`` (int32) is the number of periodic boxes crossed upwards (0 for other
    kinds). ``hi = lo + L`` is passed in so that every caller uses the same rounded value.
    Written with selects rather than branches, so that loops calling it vectorise; a
    coordinate inside the box is returned unchanged, bit for bit.
    """
    if kind == PERIODIC:
        k = np.floor((x - lo) / length)
        y = x - k * length
        crossed = np.int32(k)
        # floor and the product round: land exactly in [lo, hi)
        up = y >= hi
        y = y - length if up else y
        crossed = crossed + np.int32(1) if up else crossed
        down = y < lo
        y = y + length if down else y
        crossed = crossed - np.int32(1) if down else crossed
        inside = x >= lo and x < hi
        return (x if inside else y), (np.int32(0) if inside else np.int32(crossed))
    if kind == REFLECTING:
        u = x - lo
        period = length + length
        u = u - period * np.floor(u / period)
        u = period - u if u > length else u
        y = min(max(lo + u, lo), hi)
        inside = x >= lo and x <= hi
        return (x if inside else y), np.int32(0)
    return x, np.int32(0)


@njit(**_INLINE)
def separation(xk0, xk1, xk2, p, j, d, kinds, length, half):
    """``(dx0, dx1, dx2, r2)``: displacement from particle ``j`` (of axis-major ``p``) to the point ``xk``."""
    dx0 = displacement(xk0, p[0, j], kinds[0], length[0], half[0])
    r2 = dx0 * dx0
    dx1 = dx0
    dx2 = dx0
    if d > 1:
        dx1 = displacement(xk1, p[1, j], kinds[1], length[1], half[1])
        r2 = r2 + dx1 * dx1
    if d > 2:
        dx2 = displacement(xk2, p[2, j], kinds[2], length[2], half[2])
        r2 = r2 + dx2 * dx2
    return dx0, dx1, dx2, r2


@njit(**_INLINE)
def point_of(p, k, d):
    """Coordinates of particle ``k`` of axis-major ``p`` as three scalars (unused axes repeat axis 0)."""
    x0 = p[0, k]
    return x0, (p[1, k] if d > 1 else x0), (p[2, k] if d > 2 else x0)
