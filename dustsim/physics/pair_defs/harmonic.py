"""Soft disks: ``u = eps/2 (1 - r/sigma)^2`` for ``r < sigma`` (cut-off fixed at ``sigma``)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...kernels.options import INLINE
from .base import Q_EPS, Q_SIGMA, PairPotential


@njit(**INLINE)
def kernel_g(r2, Q):
    r = np.sqrt(r2)
    sigma = Q[Q_SIGMA]
    return Q[Q_EPS] * (sigma - r) / (sigma * sigma * r)


DEFINITIONS = (
    PairPotential(
        name="harmonic",
        kind=1,
        params=("epsilon", "sigma", "cap"),
        default_cutoff=lambda v: v["sigma"],
        fixed_cutoff=True,
        energy=lambda r, it: 0.5 * it.epsilon * (1.0 - r / it.sigma) ** 2,
        force=lambda r, it: it.epsilon / it.sigma * (1.0 - r / it.sigma),
        length_scale=lambda it: it.sigma,
        kernel_g=kernel_g,
    ),
)
