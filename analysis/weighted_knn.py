"""Weighted Kozachenko-Leonenko entropy: a bias-cancelling combination over k (Berrett, Samworth & Yuan 2019).

The KL estimate with neighbour rank k has a bias whose leading terms in a smooth density
are :math:`\\sum_l c_l\\,\\frac{\\Gamma(k + 2l/d)}{\\Gamma(k)}\\,n^{-2l/d}` with unknown
:math:`c_l`. A weighted average :math:`\\sum_k w_k \\hat H_k` with
:math:`\\sum_k w_k = 1` and :math:`\\sum_k w_k\\,\\Gamma(k+2l/d)/\\Gamma(k) = 0` for
:math:`l = 1..L` cancels them; among such weights the one of least Euclidean norm (least
variance inflation) is taken. Berrett et al. need :math:`L = \\lfloor d/4 \\rfloor` for
efficiency (every term left is then :math:`o(n^{-1/2})`), but at the sample sizes of
practice the first term left can still be the largest error: in 5-D the :math:`n^{-4/5}`
term leaves about -0.01 nats at n = 20 000 after :math:`L = 1`, and more as K grows. The
default therefore cancels :math:`L = \\lceil d/4 \\rceil` terms up to 8-D
(:func:`default_constraints`) and spreads the weights over :math:`K = 10 L` ranks
(:func:`default_k_max`), which keeps the variance near that of K = 5, L = 1 (measured with
``scripts/bench/estimators.py --gaussian-bias``). No library implements it, hence it is
written here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from dustsim.errors import ConfigError

from ._input import as_points, degeneracy, dequantize, quantisation_steps
from .entropy import add_bias, degenerate_estimate, finish_estimate, log_unit_ball_volume
from .result import Estimate, check_units


def ensemble_weights(d: int, k_max: int, n_constraints: int) -> NDArray[np.float64]:
    """Least-norm weights over k = 1..k_max that cancel the first ``n_constraints`` bias terms."""
    if n_constraints + 1 > k_max:
        raise ConfigError(f"k_max = {k_max} is too small for {n_constraints} bias constraints (need > {n_constraints})")
    ks = np.arange(1, k_max + 1, dtype=np.float64)
    rows = [np.ones(k_max)] + [np.exp(gammaln(ks + 2.0 * j / d) - gammaln(ks)) for j in range(1, n_constraints + 1)]
    a = np.array(rows)
    rhs = np.zeros(len(rows))
    rhs[0] = 1.0
    return a.T @ np.linalg.solve(a @ a.T, rhs)


def default_constraints(d: int) -> int:
    """Number L of bias terms cancelled by default: ``ceil(d / 4)`` up to 8-D, ``floor(d / 4)`` above.

    Berrett, Samworth & Yuan (2019) need ``floor(d / 4)`` (at least 1) for efficiency; one
    more term up to 8-D removes the finite-n bias of the first term they leave (5-D
    Gaussian at n = 20 000: -0.009 -> -0.005 nats; 7-D: -0.038 -> -0.018). Above 8-D a third
    term multiplies the variance (10-D: SD 0.04 -> 0.10 nats) for no measurable gain.
    """
    return max(1, -(-d // 4) if d <= 8 else d // 4)


def default_k_max(n_constraints: int, n: int) -> int:
    """Largest neighbour rank K by default: ``10 L``, at most ``n // 40`` (at least ``L + 2``).

    Spreading the weights over more ranks lowers their norm (the variance inflation) while
    the uncancelled terms, which grow like powers of k/n, stay small while K is a small
    fraction of n.
    """
    return max(n_constraints + 2, min(10 * n_constraints, n // 40))


def _neighbour_distances(points: NDArray[np.float64], k_max: int) -> NDArray[np.float64]:
    from scipy.spatial import cKDTree

    dist, _ = cKDTree(points).query(points, k=k_max + 1, workers=-1)
    return np.ascontiguousarray(dist[:, 1:])


def _weighted_terms(
    points: NDArray[np.float64], dtype: np.dtype, weights: NDArray[np.float64], jitter: Any, seed: int | None
) -> tuple[NDArray[np.float64] | None, float, int, str]:
    """Per-point terms ``sum_k w_k d log eps_ik`` and the constant ``sum_k w_k (psi(n) - psi(k)) + log V_d``."""
    n, d = points.shape
    k_max = len(weights)
    ks = np.arange(1, k_max + 1)
    const = float(np.dot(weights, digamma(n) - digamma(ks))) + log_unit_ball_volume(d)
    why = degeneracy(points, dtype)
    if why:
        return None, const, 0, why
    eps = _neighbour_distances(points, k_max)
    n_ties = int(np.count_nonzero(eps[:, 0] == 0.0))
    steps = quantisation_steps(points, dtype) if jitter == "auto" else np.zeros(d)
    note = ""
    if n_ties or np.any(steps > 0):
        if jitter is None:
            return None, const, n_ties, f"{n_ties} points have exact duplicates and jitter=None: the estimate is -inf"
        points, how = dequantize(points, dtype, jitter, seed)
        eps = _neighbour_distances(points, k_max)
        note = f"ties or quantised values ({n_ties} points with a duplicate): {how}"
        if np.any(eps[:, 0] == 0.0):
            return None, const, n_ties, note + "; duplicates remain after jitter: the estimate is -inf"
    return d * np.log(eps) @ weights, const, n_ties, note


def weighted_knn_entropy(
    x: ArrayLike,
    k_max: int | None = None,
    *,
    n_constraints: int | None = None,
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    bias: str = "auto",
    ci_level: float = 0.95,
) -> Estimate:
    r"""Weighted Kozachenko-Leonenko entropy (Berrett, Samworth & Yuan 2019), Euclidean norm.

    :math:`\hat H_w = \sum_{k=1}^{K} w_k \hat H_k` with the KL estimates
    :math:`\hat H_k` of :func:`analysis.entropy.knn_entropy` and the weights of
    :func:`ensemble_weights`. Less biased than a single k from 3 dimensions on, at a
    somewhat larger variance.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
        Points (length units).
    k_max : int, optional
        Largest neighbour rank K (default :func:`default_k_max`: ``10 L``, at most ``n / 40``).
    n_constraints : int, optional
        Number L of bias terms cancelled (default :func:`default_constraints`).
    units, jitter, seed, bias, ci_level
        As in :func:`analysis.entropy.knn_entropy`.

    Returns
    -------
    Estimate
        ``se`` from the spread of the per-point weighted terms over ``sqrt(n)``;
        ``params`` holds K, L and the weights.
    """
    check_units(units)
    pts, dtype = as_points(x)
    n, d = pts.shape
    n_con = default_constraints(d) if n_constraints is None else int(n_constraints)
    if n_con < 0:
        raise ConfigError(f"n_constraints must be >= 0, got {n_constraints!r}")
    k_top = default_k_max(n_con, n) if k_max is None else int(k_max)
    if k_top >= n:
        raise ConfigError(f"k_max = {k_top} needs more than {k_top} points, got {n}")
    weights = ensemble_weights(d, k_top, n_con)
    params: dict[str, Any] = {"k_max": k_top, "n_constraints": n_con, "weights": weights.tolist()}
    terms, const, n_ties, note = _weighted_terms(pts, dtype, weights, jitter, seed)
    if terms is None:
        return degenerate_estimate(note, units, "weighted-knn", n, d, params, n_ties)
    est = finish_estimate(
        const + float(np.mean(terms)),
        float(np.std(terms, ddof=1)) / math.sqrt(n),
        units,
        "weighted-knn",
        n,
        d,
        params,
        n_ties=n_ties,
        note=note,
    )

    def on_subsample(arrays: list[NDArray[np.float64]]) -> tuple[float, float]:
        sub = arrays[0]
        t, c, _, _ = _weighted_terms(sub, dtype, weights, jitter, seed)
        if t is None:
            return math.nan, math.nan
        return c + float(np.mean(t)), float(np.std(t, ddof=1)) / math.sqrt(len(t))

    return add_bias(est, on_subsample, [pts], bias, k_top, seed, ci_level)


__all__ = ["default_constraints", "default_k_max", "ensemble_weights", "weighted_knn_entropy"]
