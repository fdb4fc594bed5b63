"""Relative entropy (KL divergence) from samples: kNN between two clouds, or to a known density."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dustsim.errors import ConfigError

from ._input import as_points, check_k, degeneracy, dequantize, same_dim
from .entropy import Norm, add_bias, degenerate_estimate, finish_estimate, knn_terms
from .neighbors import Backend, kth_neighbour_distance
from .result import Estimate, check_units, with_interval


def kl_divergence(
    x: ArrayLike,
    y: ArrayLike,
    k: int = 4,
    *,
    norm: Norm = "euclidean",
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    backend: Backend = "auto",
    bias: str = "auto",
    ci_level: float = 0.95,
) -> Estimate:
    r"""kNN estimate of :math:`D(P\,\|\,Q)` from samples x ~ P (n points) and y ~ Q (m points).

    Wang, Kulkarni & Verdú (2009):

    .. math:: \hat D = \frac{d}{n}\sum_i \log\frac{\nu_k(i)}{\rho_k(i)} + \log\frac{m}{n-1}

    with :math:`\rho_k(i)` the distance from :math:`x_i` to its k-th nearest neighbour
    among the other x's and :math:`\nu_k(i)` to its k-th nearest y. Correct for n != m
    (infomeasure's cross-entropy normalises by m where n - 1 belongs).

    Parameters
    ----------
    x, y : array_like, shapes (n, d) and (m, d)
    k : int
    norm : {"euclidean", "max"}
    units : {"nats", "bits"}
    jitter, seed, backend
        As in :func:`analysis.entropy.knn_entropy` (ties in either sample break both).
    bias, ci_level
        As in :func:`analysis.entropy.knn_entropy`; the subsamples split x and y each.

    Returns
    -------
    Estimate
        ``se``: standard deviation of the per-point terms over ``sqrt(n)`` (ignores the
        sampling noise of y, so it is a lower bound when m is not much larger than n).
        The interval is clipped at 0. The same points as x and y give exactly 0.
    """
    check_units(units)
    px, dx = as_points(x, "x")
    py, dy = as_points(y, "y")
    same_dim(px, py)
    n, d = px.shape
    m = len(py)
    k = check_k(k, min(n, m + 1))
    params = {"k": k, "norm": norm, "m": m}
    for pts, dt, name in ((px, dx, "x"), (py, dy, "y")):
        why = degeneracy(pts, dt)
        if why:
            raise ConfigError(f"{name} has no density ({why}); the KL divergence is not defined by this estimator")
    shared = shared_rows(px, py)
    if shared == n and n == m:
        est = Estimate(
            0.0,
            0.0,
            units=units,
            estimator="knn-kl",
            n=n,
            dim=d,
            params=params,
            note="x and y are the same sample (the same points): D = 0 exactly for their empirical laws; "
            "the estimator needs independent samples of P and Q",
        )
        return with_interval(est, lower=0.0)
    if shared:
        params["shared_points"] = shared
        if shared < m and m - shared > k:
            py = remove_rows(py, px)
            m = len(py)
            params["m"] = m
    rho = kth_neighbour_distance(px, k, norm=norm, backend=backend)
    nu = kth_neighbour_distance(py, k, queries=px, norm=norm, backend=backend)
    n_ties = int(np.count_nonzero(rho == 0.0) + np.count_nonzero(nu == 0.0))
    note = ""
    if n_ties:
        if jitter is None:
            return degenerate_estimate(
                f"{n_ties} zero neighbour distances and jitter=None", units, "knn-kl", n, d, params, n_ties
            )
        px, how = dequantize(px, dx, jitter, seed)
        py, _ = dequantize(py, dy, jitter, None if seed is None else seed + 1)
        rho = kth_neighbour_distance(px, k, norm=norm, backend=backend)
        nu = kth_neighbour_distance(py, k, queries=px, norm=norm, backend=backend)
        note = f"{n_ties} zero neighbour distances; ties broken ({how})"
    if shared:
        note = "; ".join(
            filter(
                None,
                [
                    note,
                    (
                        f"{shared} points of x also occur in y: the samples are not independent (a point's "
                        "copy would be its nearest y at distance 0, biasing D down to -infinity); the copies "
                        f"were removed from y (m = {m})"
                    ),
                ],
            )
        )
    terms = d * (np.log(nu) - np.log(rho))
    value = float(np.mean(terms)) + math.log(m / (n - 1.0))
    se = float(np.std(terms, ddof=1)) / math.sqrt(n)
    est = finish_estimate(value, se, units, "knn-kl", n, d, params, n_ties=n_ties, note=note)

    def on_subsample(arrays: list[NDArray[np.float64]]) -> tuple[float, float]:
        sx, sy = arrays
        if len(sy) < k or len(sx) <= k:
            return math.nan, math.nan
        sub = kl_divergence(sx, sy, k, norm=norm, jitter=jitter, seed=seed, backend=backend, bias="none")
        return sub.value, sub.se

    # D >= 0: the interval (not the value, which is unbiased around 0 for P = Q) is clipped
    return add_bias(est, on_subsample, [px, py], bias, k, seed, ci_level, lower=0.0, paired=False)


def _row_view(points: NDArray[np.float64]) -> NDArray:
    c = np.ascontiguousarray(points)
    return c.view(np.dtype((np.void, c.dtype.itemsize * c.shape[1]))).ravel()


def shared_rows(x: NDArray[np.float64], y: NDArray[np.float64]) -> int:
    """Number of rows of x that also occur (exactly) in y."""
    return int(np.count_nonzero(np.isin(_row_view(x), _row_view(y))))


def remove_rows(y: NDArray[np.float64], x: NDArray[np.float64]) -> NDArray[np.float64]:
    """The rows of y that do not occur in x."""
    return y[~np.isin(_row_view(y), _row_view(x))]


def kl_to_density(
    x: ArrayLike,
    logpdf: Callable[[NDArray[np.float64]], NDArray[np.float64]],
    k: int = 4,
    *,
    norm: Norm = "euclidean",
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    backend: Backend = "auto",
) -> Estimate:
    r"""Estimate :math:`D(P\,\|\,Q) = -H(P) - E_P[\log q]` from samples of P and the density of Q.

    The entropy is the Kozachenko-Leonenko estimate and the cross term is the sample
    mean of :math:`-\log q(x_i)`; both are sums over the same points, so the standard
    error comes from the spread of the combined per-point terms (their errors partly
    cancel).

    Parameters
    ----------
    x : array_like, shape (n, d)
        Samples of P.
    logpdf : callable
        ``logpdf(points) -> array (n,)``: the log-density of Q (points in length units,
        log-density in nats).
    k, norm, units, jitter, seed, backend
        As in :func:`analysis.entropy.knn_entropy`.

    Returns
    -------
    Estimate
        ``value = +inf`` (with ``degenerate=True``) if the samples have no density.
    """
    check_units(units)
    pts, dtype = as_points(x)
    n, d = pts.shape
    k = check_k(k, n)
    params = {"k": k, "norm": norm}
    terms, const, n_ties, note = knn_terms(pts, dtype, k, norm, jitter, seed, backend)
    if terms is None:
        return Estimate(
            math.inf,
            math.nan,
            units=units,
            estimator="knn-kl-density",
            n=n,
            dim=d,
            params=params,
            n_ties=n_ties,
            degenerate=True,
            note=note,
        )
    logq = np.asarray(logpdf(pts), dtype=np.float64)
    if logq.shape != (n,):
        raise ConfigError(f"logpdf must return one value per point, shape ({n},), got {logq.shape}")
    combined = -(terms + logq)
    value = -const + float(np.mean(combined))
    se = float(np.std(combined, ddof=1)) / math.sqrt(n)
    return finish_estimate(value, se, units, "knn-kl-density", n, d, params, n_ties=n_ties, note=note)


def gaussian_logpdf(mean: float | ArrayLike, std: float) -> Callable[[NDArray[np.float64]], NDArray[np.float64]]:
    """``logpdf`` of the isotropic Gaussian N(mean, std^2 I) (for :func:`kl_to_density`)."""

    def logpdf(points: NDArray[np.float64]) -> NDArray[np.float64]:
        z = (points - np.asarray(mean, dtype=np.float64)) / std
        d = points.shape[1]
        return -0.5 * np.einsum("ij,ij->i", z, z) - d * (0.5 * math.log(2.0 * math.pi) + math.log(std))

    return logpdf


__all__ = ["gaussian_logpdf", "kl_divergence", "kl_to_density"]
