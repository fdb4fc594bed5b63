"""User-defined forces for the tests (importable by path, as a config records them)."""

from __future__ import annotations

import numpy as np
from numba import njit


@njit
def harmonic_k2(x, out):
    """The force of the harmonic potential k = 2 centred at 0."""
    for a in range(x.shape[0]):
        out[a] += -2.0 * x[a]


@njit
def blows_up(x, out):
    """A force that is NaN far from the origin (for the step-size guard)."""
    out[0] += np.nan if abs(x[0]) > 0.5 else 0.0


def vp_half_beta(t):
    """beta(t) / 2 of the VP SDE (beta_min = 0.1, beta_max = 20), as a schedule of D."""
    return 0.5 * (0.1 + np.asarray(t) * (20.0 - 0.1))
