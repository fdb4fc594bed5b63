"""Bias of an estimator from subsamples: extrapolation over n, n/2, n/4.

kNN-type estimators (Kozachenko-Leonenko, KSG, kNN KL) are consistent but biased at
finite n, with a bias that shrinks like a power of n, :math:`b(n) \\approx c\\,n^{-\\gamma}`,
whose exponent depends on the dimension, the smoothness of the density and its tails.
The estimate on all n points (:math:`\\hat H_1`), the mean over 2 disjoint halves
(:math:`\\hat H_2`) and over 4 disjoint quarters (:math:`\\hat H_4`) are fitted by least squares to
:math:`H_\\infty + c\\,(n/m)^{-\\gamma}` with the exponent fixed at its theoretical value
for d dimensions (:func:`bias_exponent`), and :math:`b(n) = c\\,n^{-\\gamma}` (Richardson
extrapolation). No library offers this for kNN estimators, hence it is written here.

The uncertainty of the bias adds (in quadrature) the sampling error of the fit (from
the spread of the half and quarter estimates), a model error as large as the correction
(the power law is only the leading term) and the lack of fit. It costs about two more runs of the
estimator (on the halves and quarters).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

#: relative model error of the correction (added in quadrature to its sampling error): the
#: correction is uncertain by its own size. Measured on the BMI tasks (KSG, n = 5000, 3+3
#: and 5+5): the error left after the correction was about as large as the correction
#: (mean absolute error 0.111 -> 0.064 and 0.267 -> 0.130 nats), so no smaller factor is justified.
MODEL_ERROR = 1.0


def bias_exponent(dim: int) -> float:
    """Exponent of the bias power law: ``min(2 / dim, 1)``, the order of the leading bias
    term of kNN estimators in ``dim`` dimensions for a smooth density (Berrett, Samworth &
    Yuan 2019; 1/n at most). Fitting it from the three levels is too noisy to be useful
    (measured in ``scripts/bench/estimators.py``); heavy tails can make the true decay
    slower still, which the model error only partly covers."""
    return min(2.0 / max(dim, 1), 1.0)


@dataclass(frozen=True)
class SubsampleBias:
    """Result of :func:`subsample_bias` (all in the estimator's units)."""

    bias: float
    bias_se: float
    gamma: float
    half: float
    quarter: float
    corrected_se: float


def subsample_bias(
    estimate: Callable[[Sequence[NDArray[np.float64]]], tuple[float, float]],
    arrays: Sequence[NDArray[np.float64]],
    full: tuple[float, float],
    *,
    dim: int,
    seed: int | None = 0,
    paired: bool = True,
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
    dim : int
        Dimension of the space the neighbours are searched in (sets :func:`bias_exponent`).
    seed : int or None
        Seed of the random split.
    paired : bool
        The arrays are paired samples (the same rows are taken from each); False: each
        array (e.g. the two samples of a KL divergence) is split on its own.

    Returns
    -------
    SubsampleBias
        ``bias`` (expectation minus truth, estimated), ``bias_se``, the power ``gamma``
        used, and the half and quarter means.

    Notes
    -----
    ``bias_se`` adds in quadrature the sampling error of the fitted slope (the three
    levels treated as independent, with the larger of the analytic and the observed
    variance of the subsample means), ``MODEL_ERROR`` times the correction, and the
    largest residual of the three-point fit (lack of fit of the power law).
    """
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(arrays[0]))
    perms = [perm if paired else rng.permutation(len(a)) for a in arrays]
    means, variances = [], []
    for parts in (2, 4):
        vals, ses = [], []
        for j in range(parts):
            subs = []
            for a, p in zip(arrays, perms, strict=True):
                size = len(a) // parts
                subs.append(a[p[j * size : (j + 1) * size]])
            v, s = estimate(subs)
            vals.append(v)
            ses.append(s)
        means.append(float(np.mean(vals)))
        # variance of the mean of `parts` independent estimates: the larger of the analytic
        # SEs and their observed spread
        spread = float(np.var(vals, ddof=1)) if parts > 1 else 0.0
        variances.append(max(float(np.mean(np.square(ses))), spread) / parts)
    value, se = full
    gamma = bias_exponent(dim)
    # least squares of H_m = H_inf + c (n/m)^-gamma through the three levels m = 1, 2, 4
    xs = np.array([1.0, 2.0**gamma, 4.0**gamma])  # (n/m)^-gamma in units of n^-gamma
    hs = np.array([value, means[0], means[1]])
    var = np.array([se**2, variances[0], variances[1]])
    w = (xs - xs.mean()) / np.sum((xs - xs.mean()) ** 2)
    bias = float(np.dot(w, hs))  # c n^-gamma: the bias at n
    residual = float(np.max(np.abs(hs - (hs.mean() + bias * (xs - xs.mean())))))
    model = (MODEL_ERROR * bias) ** 2 + residual**2
    bias_se = math.sqrt(float(np.dot(w**2, var)) + model)
    # the corrected value H_1 - bias weights H_1 by 1 - w_1: its error is not that of H_1
    # and of the bias added in quadrature (the levels are treated as independent, which
    # is conservative: H_1 and the subsample means are positively correlated)
    weights = -w
    weights[0] += 1.0
    corrected_se = math.sqrt(float(np.dot(weights**2, var)) + model)
    return SubsampleBias(bias, bias_se, gamma, means[0], means[1], corrected_se)


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
