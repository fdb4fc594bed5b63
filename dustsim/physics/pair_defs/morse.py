"""Morse: ``u = eps ((1 - exp(-a (r - r0)))^2 - 1)``, an attractive well of depth ``eps`` at ``r0``
(cut-off ``r0 + 5/a`` by default); dust aggregates when ``eps >> kT``."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...kernels.options import INLINE
from .base import Q_A, Q_EPS, Q_ONE, Q_R0, PairPotential


@njit(**INLINE)
def kernel_g(r2, Q):
    r = np.sqrt(r2)
    e = np.exp(-Q[Q_A] * (r - Q[Q_R0]))
    return -(Q[Q_EPS] + Q[Q_EPS]) * Q[Q_A] * e * (Q[Q_ONE] - e) / r


def force(r, it):
    e = np.exp(-it.a * (r - it.r0))
    return -2.0 * it.epsilon * it.a * e * (1.0 - e)


DEFINITIONS = (
    PairPotential(
        name="morse",
        kind=3,
        params=("epsilon", "r0", "a", "cutoff", "cap"),
        default_cutoff=lambda v: v["r0"] + 5.0 / v["a"],
        energy=lambda r, it: it.epsilon * ((1.0 - np.exp(-it.a * (r - it.r0))) ** 2 - 1.0),
        force=force,
        length_scale=lambda it: 1.0 / it.a,
        kernel_g=kernel_g,
    ),
)
