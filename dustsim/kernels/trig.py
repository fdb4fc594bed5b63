"""``sin(2 pi u)`` in the precision of ``u``, vectorisable (for the cosine potential's force).

Constants are typed per precision (a Python literal would promote float32 to float64);
quadrants are selected with float comparisons, which vectorise (integer branches do not).
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit, types
from numba.extending import overload

from .options import INLINE as _INLINE
from .rng import sincos_f32, sincos_f64

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


def sin2pi(u):
    """``sin(2 pi u)`` for any finite ``u``, in the precision of ``u`` (vectorisable; Numba only)."""
    raise NotImplementedError("sin2pi is callable from Numba-compiled code only")


@overload(sin2pi)
def _sin2pi_overload(u):
    if u == types.float32:
        return lambda u: _sin2pi_f32(u)
    if u == types.float64:
        return lambda u: _sin2pi_f64(u)
    return None


__all__ = ["sin2pi"]
