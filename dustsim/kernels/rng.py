"""Counter-based random numbers: Philox4x32-10 and vectorisable Box-Muller normals.

Why hand-written: dustsim needs random numbers that are a pure function of
``(seed, particle, axis, step, stream)`` so that trajectories are bitwise identical for
any number of threads and can be resumed mid-run exactly (the HOOMD-blue approach). No
library offers such a generator callable from inside a Numba loop, and the transcendental
functions Numba would otherwise call (``log``, ``sin``, ``cos`` from libm) stop LLVM from
vectorising the loop. So the generator and its polynomial ``log``/``sincos`` live here,
written so that the loops that call them compile to AVX2/AVX-512 code.

Counter layout
--------------
One Philox call is keyed by the 64-bit seed and takes the 128-bit counter
``(particle, group_lo, group_hi, stream << 8 | axis)``. It yields four 32-bit words,
which become four float32 normals or two float64 normals; ``PER_CALL_F32 = 4`` and
``PER_CALL_F64 = 2`` consecutive steps of one particle and axis therefore share a call:
the normal for step ``s`` is slot ``s % per_call`` of group ``s // per_call``.

The Philox4x32-10 implementation reproduces the known-answer vectors of Random123
(Salmon et al., SC'11), checked in the tests.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from .bits import f32_as_u32, f64_as_u64, u32_as_f32, u64_as_f64
from .options import INLINE as _INLINE
from .options import JIT as _JIT

PER_CALL_F32 = 4
PER_CALL_F64 = 2
MAX_AXES = 256
MAX_STREAM = 1 << 24

_MASK32 = np.uint64(0xFFFFFFFF)
_PHILOX_M0 = np.uint64(0xD2511F53)
_PHILOX_M1 = np.uint64(0xCD9E8D57)
_PHILOX_W0 = np.uint64(0x9E3779B9)
_PHILOX_W1 = np.uint64(0xBB67AE85)
_SHIFT32 = np.uint64(32)

_F32 = np.float32
_LN2_F32 = _F32(math.log(2.0))
_SQRT2_F32 = _F32(math.sqrt(2.0))
_HALF_PI_F32 = _F32(math.pi / 2.0)
_LN2_F64 = math.log(2.0)
_SQRT2_F64 = math.sqrt(2.0)
_HALF_PI_F64 = math.pi / 2.0


@njit(**_INLINE)
def _philox_round(c0, c1, c2, c3, k0, k1):
    p0 = _PHILOX_M0 * c0
    p1 = _PHILOX_M1 * c2
    return (p1 >> _SHIFT32) ^ c1 ^ k0, p1 & _MASK32, (p0 >> _SHIFT32) ^ c3 ^ k1, p0 & _MASK32


@njit(**_INLINE)
def _bump(k0, k1):
    return (k0 + _PHILOX_W0) & _MASK32, (k1 + _PHILOX_W1) & _MASK32


@njit(**_INLINE)
def philox4x32(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 block function.

    Parameters
    ----------
    c0, c1, c2, c3 : uint64
        The four 32-bit counter words (held in uint64, upper halves zero).
    k0, k1 : uint64
        The two 32-bit key words.

    Returns
    -------
    tuple of four uint64
        The four 32-bit output words.
    """
    # Ten rounds, unrolled by hand so that LLVM sees straight-line code.
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, k0, k1)
    k0, k1 = _bump(k0, k1)
    return _philox_round(c0, c1, c2, c3, k0, k1)


# --- float32 Box-Muller -------------------------------------------------------------------
# log(m) for m in [sqrt(1/2), sqrt(2)) via s = (m-1)/(m+1), log m = 2 atanh(s) = 2 s sum
# s^(2k)/(2k+1); |s| <= 0.1716 so five terms reach float32 precision (next term < 3e-9).


@njit(**_INLINE)
def log_f32(u):
    """Natural logarithm of a positive, normal float32 (relative error < 3e-7)."""
    bits = f32_as_u32(u)
    m = u32_as_f32((bits & np.uint32(0x7FFFFF)) | np.uint32(0x3F800000))
    e = np.int32(bits >> np.uint32(23)) - np.int32(127)
    big = m > _SQRT2_F32
    m = m * _F32(0.5) if big else m
    e = e + np.int32(1) if big else e
    f = m - _F32(1.0)
    s = f / (_F32(2.0) + f)
    s2 = s * s
    p = _F32(1.0) + s2 * (_F32(1 / 3) + s2 * (_F32(1 / 5) + s2 * (_F32(1 / 7) + s2 * _F32(1 / 9))))
    return _F32(e) * _LN2_F32 + _F32(2.0) * s * p


@njit(**_INLINE)
def sincos_f32(t):
    """``(sin t, cos t)`` for float32 ``|t| <= pi/4`` (Taylor series, error < 2e-9)."""
    t2 = t * t
    s = t * (_F32(1.0) + t2 * (_F32(-1 / 6) + t2 * (_F32(1 / 120) + t2 * (_F32(-1 / 5040) + t2 * _F32(1 / 362880)))))
    c = _F32(1.0) + t2 * (
        _F32(-0.5) + t2 * (_F32(1 / 24) + t2 * (_F32(-1 / 720) + t2 * (_F32(1 / 40320) + t2 * _F32(-1 / 3628800))))
    )
    return s, c


@njit(**_INLINE)
def box_muller_f32(wa, wb):
    """Two independent float32 standard normals from two uint32 random words.

    The radius uses ``u = (wa + 1) 2^-32`` in (0, 1], so the largest normal is 6.66; the
    angle takes its quadrant from the top two bits of ``wb`` and its offset in the
    quadrant from the next 24 bits, so no range reduction of the angle is needed.
    """
    u = (_F32(wa) + _F32(1.0)) * _F32(2.0**-32)
    r = math.sqrt(_F32(-2.0) * log_f32(u))
    quadrant = wb >> np.uint32(30)
    t = (_F32((wb & np.uint32(0x3FFFFFFF)) >> np.uint32(6)) + _F32(0.5)) * _F32(2.0**-24) - _F32(0.5)
    s, c = sincos_f32(t * _HALF_PI_F32)
    odd = (quadrant & np.uint32(1)) != 0
    cos_q = -s if odd else c
    sin_q = c if odd else s
    r = -r if (quadrant & np.uint32(2)) != 0 else r
    return r * cos_q, r * sin_q


# --- float64 Box-Muller -------------------------------------------------------------------


@njit(**_INLINE)
def log_f64(u):
    """Natural logarithm of a positive, normal float64 (relative error ~ 1e-16)."""
    bits = f64_as_u64(u)
    m = u64_as_f64((bits & np.uint64(0xFFFFFFFFFFFFF)) | np.uint64(0x3FF0000000000000))
    e = np.int64(bits >> np.uint64(52)) - np.int64(1023)
    big = m > _SQRT2_F64
    m = m * 0.5 if big else m
    e = e + np.int64(1) if big else e
    f = m - 1.0
    s = f / (2.0 + f)
    s2 = s * s
    # 2 atanh(s) to twelve terms: the next term is below 1e-18 relative.
    p = 1 / 23
    p = 1 / 21 + s2 * p
    p = 1 / 19 + s2 * p
    p = 1 / 17 + s2 * p
    p = 1 / 15 + s2 * p
    p = 1 / 13 + s2 * p
    p = 1 / 11 + s2 * p
    p = 1 / 9 + s2 * p
    p = 1 / 7 + s2 * p
    p = 1 / 5 + s2 * p
    p = 1 / 3 + s2 * p
    p = 1.0 + s2 * p
    return np.float64(e) * _LN2_F64 + 2.0 * s * p


_SIN64 = tuple((-1.0) ** k / math.factorial(2 * k + 1) for k in range(9))
_COS64 = tuple((-1.0) ** k / math.factorial(2 * k) for k in range(10))


@njit(**_INLINE)
def sincos_f64(t):
    """``(sin t, cos t)`` for float64 ``|t| <= pi/4`` (Taylor series, error < 1e-16)."""
    t2 = t * t
    s = _SIN64[8]
    s = _SIN64[7] + t2 * s
    s = _SIN64[6] + t2 * s
    s = _SIN64[5] + t2 * s
    s = _SIN64[4] + t2 * s
    s = _SIN64[3] + t2 * s
    s = _SIN64[2] + t2 * s
    s = _SIN64[1] + t2 * s
    s = _SIN64[0] + t2 * s
    c = _COS64[9]
    c = _COS64[8] + t2 * c
    c = _COS64[7] + t2 * c
    c = _COS64[6] + t2 * c
    c = _COS64[5] + t2 * c
    c = _COS64[4] + t2 * c
    c = _COS64[3] + t2 * c
    c = _COS64[2] + t2 * c
    c = _COS64[1] + t2 * c
    c = _COS64[0] + t2 * c
    return t * s, c


@njit(**_INLINE)
def box_muller_f64(w0, w1, w2, w3):
    """Two independent float64 standard normals from four 32-bit words (in uint64).

    The radius uses a 53-bit uniform in (0, 1] (largest normal 8.57), the angle a 2-bit
    quadrant and a 51-bit offset.
    """
    mant = (w0 << np.uint64(21)) | (w1 >> np.uint64(11))
    u = (np.float64(mant) + 1.0) * 2.0**-53
    r = math.sqrt(-2.0 * log_f64(u))
    quadrant = w2 >> np.uint64(30)
    off = ((w2 & np.uint64(0x3FFFFFFF)) << np.uint64(21)) | (w3 >> np.uint64(11))
    t = (np.float64(off) + 0.5) * 2.0**-51 - 0.5
    s, c = sincos_f64(t * _HALF_PI_F64)
    odd = (quadrant & np.uint64(1)) != np.uint64(0)
    cos_q = -s if odd else c
    sin_q = c if odd else s
    r = -r if (quadrant & np.uint64(2)) != np.uint64(0) else r
    return r * cos_q, r * sin_q


@njit(**_INLINE)
def counter_words(particle, group, stream_axis, k0, k1):
    """The four Philox words for one (particle, group, stream/axis) counter."""
    return philox4x32(
        np.uint64(particle) & _MASK32,
        np.uint64(group) & _MASK32,
        np.uint64(group) >> _SHIFT32,
        np.uint64(stream_axis),
        k0,
        k1,
    )


@njit(**_INLINE)
def normals4_f32(particle, group, stream_axis, k0, k1):
    """Four float32 normals: steps ``4 group + (0, 1, 2, 3)`` of one particle and axis."""
    w0, w1, w2, w3 = counter_words(particle, group, stream_axis, k0, k1)
    z0, z1 = box_muller_f32(np.uint32(w0), np.uint32(w1))
    z2, z3 = box_muller_f32(np.uint32(w2), np.uint32(w3))
    return z0, z1, z2, z3


@njit(**_INLINE)
def normals2_f64(particle, group, stream_axis, k0, k1):
    """Two float64 normals: steps ``2 group + (0, 1)`` of one particle and axis."""
    w0, w1, w2, w3 = counter_words(particle, group, stream_axis, k0, k1)
    return box_muller_f64(w0, w1, w2, w3)


def split_key(seed: int) -> tuple[np.uint64, np.uint64]:
    """Split a 64-bit seed into the two 32-bit Philox key words."""
    if not 0 <= seed < 2**64:
        raise ValueError(f"seed must be an integer in [0, 2**64), got {seed}")
    return np.uint64(seed & 0xFFFFFFFF), np.uint64(seed >> 32)


def stream_axis_word(stream: int, axis: int) -> np.uint64:
    """Pack a stream id and an axis into the fourth counter word."""
    if not 0 <= axis < MAX_AXES:
        raise ValueError(f"axis must be in [0, {MAX_AXES}), got {axis}")
    if not 0 <= stream < MAX_STREAM:
        raise ValueError(f"stream must be in [0, {MAX_STREAM}), got {stream}")
    return np.uint64((stream << 8) | axis)


@njit(**_JIT)
def philox4x32_block(c0, c1, c2, c3, k0, k1):
    """Philox4x32-10 on one counter, callable from Python (known-answer tests)."""
    return philox4x32(np.uint64(c0), np.uint64(c1), np.uint64(c2), np.uint64(c3), np.uint64(k0), np.uint64(k1))


@njit(**_INLINE)
def _row_or_scratch(out, s, scratch):
    return out[s] if 0 <= s < out.shape[0] else scratch


@njit(**_JIT)
def fill_normals_f32(out, particle0, step0, stream_axis, k0, k1):
    """Fill ``out[s, i]`` with the float32 normal of particle ``particle0 + i``, step ``step0 + s``."""
    n_steps, n = out.shape
    scratch = np.empty(n, dtype=out.dtype)
    for g in range(step0 // 4, (step0 + n_steps - 1) // 4 + 1):
        s = 4 * g - step0
        r0 = _row_or_scratch(out, s, scratch)
        r1 = _row_or_scratch(out, s + 1, scratch)
        r2 = _row_or_scratch(out, s + 2, scratch)
        r3 = _row_or_scratch(out, s + 3, scratch)
        for i in range(n):
            z0, z1, z2, z3 = normals4_f32(particle0 + i, g, stream_axis, k0, k1)
            r0[i] = z0
            r1[i] = z1
            r2[i] = z2
            r3[i] = z3


@njit(**_JIT)
def fill_normals_f64(out, particle0, step0, stream_axis, k0, k1):
    """Fill ``out[s, i]`` with the float64 normal of particle ``particle0 + i``, step ``step0 + s``."""
    n_steps, n = out.shape
    scratch = np.empty(n, dtype=out.dtype)
    for g in range(step0 // 2, (step0 + n_steps - 1) // 2 + 1):
        s = 2 * g - step0
        r0 = _row_or_scratch(out, s, scratch)
        r1 = _row_or_scratch(out, s + 1, scratch)
        for i in range(n):
            z0, z1 = normals2_f64(particle0 + i, g, stream_axis, k0, k1)
            r0[i] = z0
            r1[i] = z1


def counter_normals(
    seed: int,
    n_particles: int,
    n_steps: int,
    *,
    step0: int = 0,
    axis: int = 0,
    stream: int = 0,
    particle0: int = 0,
    dtype: np.dtype | type = np.float64,
) -> np.ndarray:
    """Standard normals of the counter-based stream, as the simulator draws them.

    Parameters
    ----------
    seed : int
        64-bit seed (the Philox key).
    n_particles, n_steps : int
        Shape of the result.
    step0 : int
        First step (counter), so ``counter_normals(..., step0=s)`` continues a stream.
    axis, stream, particle0 : int
        The remaining counter fields.
    dtype : float32 or float64
        Precision; the two precisions draw different (independent) streams.

    Returns
    -------
    numpy.ndarray, shape (n_steps, n_particles)
        ``out[s, i]`` is the normal of particle ``particle0 + i`` at step ``step0 + s``.
    """
    dtype = np.dtype(dtype)
    out = np.empty((n_steps, n_particles), dtype=dtype)
    if n_steps == 0 or n_particles == 0:
        return out
    k0, k1 = split_key(seed)
    word = stream_axis_word(stream, axis)
    if dtype == np.float32:
        fill_normals_f32(out, particle0, step0, word, k0, k1)
    elif dtype == np.float64:
        fill_normals_f64(out, particle0, step0, word, k0, k1)
    else:
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return out
