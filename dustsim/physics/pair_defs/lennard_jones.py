"""Lennard-Jones ``u = 4 eps ((sigma/r)^12 - (sigma/r)^6)``: ``wca`` (cut at the minimum
``2^(1/6) sigma``, purely repulsive) and ``lj`` (cut-off 2.5 sigma by default)."""

from __future__ import annotations

from numba import njit

from ...kernels.options import INLINE
from .base import Q_C24, Q_EPS, Q_ONE, Q_SIGMA, PairPotential


@njit(**INLINE)
def kernel_g(r2, Q):
    s2 = Q[Q_SIGMA] * Q[Q_SIGMA] / r2
    s6 = s2 * s2 * s2
    return Q[Q_C24] * Q[Q_EPS] * s6 * (s6 + s6 - Q[Q_ONE]) / r2


def energy(r, it):
    s6 = (it.sigma / r) ** 6
    return 4.0 * it.epsilon * (s6 * s6 - s6)


def force(r, it):
    s6 = (it.sigma / r) ** 6
    return 24.0 * it.epsilon * s6 * (2.0 * s6 - 1.0) / r


_COMMON = {"kind": 2, "energy": energy, "force": force, "length_scale": lambda it: it.sigma, "kernel_g": kernel_g}

DEFINITIONS = (
    PairPotential(
        name="wca",
        params=("epsilon", "sigma", "cap"),
        fixed_cutoff=True,
        default_cutoff=lambda v: 2.0 ** (1.0 / 6.0) * v["sigma"],
        **_COMMON,
    ),
    PairPotential(
        name="lj", params=("epsilon", "sigma", "cutoff", "cap"), default_cutoff=lambda v: 2.5 * v["sigma"], **_COMMON
    ),
)
