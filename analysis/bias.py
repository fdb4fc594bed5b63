"""Bias of an estimator from subsamples: extrapolation over n, n/2, n/4.

kNN-type estimators (Kozachenko-Leonenko, KSG, kNN KL) are consistent but biased at
finite n, with a bias that shrinks like a power of n, :math:`b(n) \\approx c\\,n^{-\\gamma}`,
whose exponent depends on the dimension, the smoothness of the density and its tails.
The estimate on all n points (:math:`\\hat H_1`), the mean over 2 disjoint halves
(:math:`\\hat H_2`) and over 4 disjoint quarters (:math:`\\hat H_4`) give two differences
:math:`D_1 = \\hat H_2 - \\hat H_1 = b(n)(2^\\gamma - 1)` and
:math:`D_2 = \\hat H_4 - \\hat H_2 = 2^\\gamma D_1`, hence :math:`\\gamma` and
:math:`b(n) = D_1/(2^\\gamma - 1)` (Richardson extrapolation with an estimated order).
No library offers this for kNN estimators, hence it is written here.

The uncertainty of the bias adds (in quadrature) the sampling error of :math:`D_1`
(from the spread of the half and quarter estimates) and a model error of half the
correction (the power law is only the leading term). It costs about two more runs of the
estimator (on the halves and quarters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: exponents of the bias power law the extrapolation may use (noisy fits are clipped)
GAMMA_RANGE = (0.5, 2.0)
#: exponent used when the two differences disagree in sign (noise-dominated)
GAMMA_DEFAULT = 1.0
#: relative model error of the correction (added in quadrature to its sampling error)
MODEL_ERROR = 0.5


@dataclass(frozen=True)
class SubsampleBias:
    """Result of :func:`subsample_bias` (all in the estimator's units)."""

    bias: float
    bias_se: float
    gamma: float
    half: float
    quarter: float


def subsample_bias(
    estimate: Callable[[Sequence[NDArray[np.float64]]], tuple[float, float]],
    arrays: Sequence[NDArray[np.float64]],
    full: tuple[float, float],
    *,
    seed: int | None = 0,
) -> SubsampleBias:
    """Estimated bias of ``full`` from the same estimator on disjoint halves and quarters.

    Parameters
    ----------
    estimate : callable
        ``estimate(subsampled arrays) -> (value, se)``; every array of ``arrays`` is
        subsampled with the same rows (paired samples stay paired).
    arrays : sequence of ndarray
        Data with the same number n of rows (n >= 8).
    full : (float, float)
        ``(value, se)`` of the estimator on all rows.
    seed : int or None
        Seed of the random split.

    Returns
    -------
    SubsampleBias
        ``bias`` (expectation minus truth, estimated), ``bias_se``, the power ``gamma``
        used, and the half and quarter means.
    """
    n = len(arrays[0])
    perm = np.random.default_rng(seed).permutation(n)
    means, variances = [], []
    for parts in (2, 4):
        size = n // parts
        vals, ses = [], []
        for j in range(parts):
            rows = perm[j * size:(j + 1) * size]
            v, s = estimate([a[rows] for a in arrays])
            vals.append(v)
            ses.append(s)
        means.append(float(np.mean(vals)))
        # variance of the mean of `parts` independent estimates: the larger of the analytic
        # SEs and their observed spread
        spread = float(np.var(vals, ddof=1)) if parts > 1 else 0.0
        variances.append(max(float(np.mean(np.square(ses))), spread) / parts)
    value, se = full
    d1 = means[0] - value
    d2 = means[1] - means[0]
    if d1 * d2 > 0:
        gamma = float(np.clip(math.log2(d2 / d1), *GAMMA_RANGE))
    else:
        gamma = GAMMA_DEFAULT
    factor = 2.0**gamma - 1.0
    bias = d1 / factor
    sampling = math.sqrt(variances[0] + se**2) / factor
    bias_se = math.hypot(sampling, MODEL_ERROR * bias)
    return SubsampleBias(bias, bias_se, gamma, means[0], means[1])





#: ``bias="auto"`` estimates the bias by subsamples up to this many points (above, the
#: extra cost of about two estimator runs is left to an explicit ``bias="subsample"``)
AUTO_MAX_POINTS = 200_000
BIAS_MODES = ("auto", "subsample", "none")


def wants_subsample_bias(bias: str, n: int, k: int) -> bool:
    """Whether ``bias`` (``"auto"``, ``"subsample"`` or ``"none"``) asks for :func:`subsample_bias`
    at n points and neighbour rank k (quarters need more than 2k points)."""
    from dustsim.errors import ConfigError

    if bias not in BIAS_MODES:
        raise ConfigError(f"bias must be one of {', '.join(BIAS_MODES)}, got {bias!r}")
    if bias == "none" or n // 4 <= 2 * k:
        return False
    return bias == "subsample" or n <= AUTO_MAX_POINTS
__all__ = ["SubsampleBias", "subsample_bias", "wants_subsample_bias"]
