"""The exact law of a Gaussian-mixture artifact, for the analysis.

The mixture itself (density, score, exact denoiser, transport by a linear process) is
:class:`dustsim.mixture.GaussianMixture`, shared with the score model; this module adds its
Monte Carlo entropy as an :class:`~analysis.result.Estimate`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from dustsim.mixture import GaussianMixture

from .result import Estimate, check_units, nats_to


def mixture_entropy(
    mixture: GaussianMixture,
    n_samples: int = 200_000,
    *,
    seed: int | None = 0,
    units: str = "nats",
    draws: tuple[NDArray[np.int64], NDArray[np.float64]] | None = None,
) -> Estimate:
    """Entropy of the exact mixture density by Monte Carlo (see :meth:`GaussianMixture.entropy`)."""
    check_units(units)
    value, se = mixture.entropy(n_samples, seed=seed, draws=draws)
    if not math.isfinite(value):
        return Estimate(
            -math.inf,
            math.nan,
            units=units,
            estimator="gmm-exact",
            n=0,
            dim=mixture.dim,
            degenerate=True,
            note="a component is a point mass: the entropy is -inf",
        )
    n = len(draws[0]) if draws is not None else n_samples
    f = nats_to(units)
    return Estimate(
        value * f, se * f, units=units, estimator="gmm-exact", n=n, dim=mixture.dim, params={"n_samples": n}
    )


__all__ = ["GaussianMixture", "mixture_entropy"]
