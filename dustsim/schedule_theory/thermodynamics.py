"""Entropy production of a noise schedule, its speed limit, and the schedule that minimises it.

A linear process ``X_t = c + alpha(t) (X_0 - c) + sigma(t) Z`` moves the law ``p_t`` of the
data with the *mean local velocity* (the velocity of the probability current, the drift of the
probability-flow ODE)

    nu_t(x) = f (x - c) - D grad log p_t(x) = E[alpha' (X_0 - c) + sigma' Z | X_t = x],

``D = g^2 / 2`` the diffusion coefficient of ``dX = f (X - c) dt + g dW``. Stochastic
thermodynamics (kT = 1, unit mobility) gives:

- the entropy production rate of the SDE itself, ``sigma_t = E|nu_t|^2 / D(t)`` (nats per unit
  time), whose integral is :math:`\\Sigma_{phys}`. For VP / cosine VP it equals the KL decay
  rate ``-d KL(p_t || N(0, I)) / dt`` (the stationary law has no current: all of it is
  non-adiabatic). It depends on how the path is driven (through ``D``).
- the *kinetic action* of the density path, ``Sigma = int E|nu_t|^2 dt`` (length^2 / time): the
  entropy production of the same path ``p_t`` driven at unit diffusion coefficient by a
  conservative force. It depends on the path and its timing only, and is what schedules are
  compared by (Ikeda et al. 2024): by Benamou-Brenier,
  ``W2(p_0, p_T)^2 <= L^2 <= T Sigma`` with the thermodynamic length ``L = int sqrt(E|nu|^2) dt``
  (equality iff the path is a constant-speed W2 geodesic). The minimiser between the data and
  ``N(0, I)`` on ``[0, 1]`` has ``Sigma = W2(p_0, N(0, I))^2``.

For isotropic Gaussian data the geodesic is the ``ot`` process (closed form) and every
quantity here is exact; for Gaussian mixtures the expectations are Monte Carlo averages with
the exact mixture score, over paths ``X_t^(i) = c + alpha (X_0^(i) - c) + sigma Z^(i)`` with the
same draws at every time (common random numbers, so the time integral's standard error is
that of per-path integrals). Data given only as points are replaced by their Gaussian kernel
density estimate (Silverman's bandwidth), a mixture, as a pilot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..mixture import GaussianMixture
from ..processes import LinearProcess, OptimalTransport

FloatArray = NDArray[np.float64]
#: number of Gauss-Legendre nodes per panel of the time integrals
_GL_ORDER = 8


# ------------------------------------------------------------------------------ data
def as_mixture(data: GaussianMixture | ArrayLike, *, max_points: int = 500, seed: int = 0) -> GaussianMixture:
    """The law used for exact scores: a mixture as is, or a Gaussian KDE of points.

    Points (shape (n, d)) become an equal-weight mixture centred on at most ``max_points`` of
    them with Silverman's bandwidth: a pilot whose score is exact, biased towards a wider law by
    about the bandwidth squared per axis.
    """
    if isinstance(data, GaussianMixture):
        return data
    pts = np.asarray(data, dtype=np.float64)
    if pts.ndim != 2 or len(pts) < 2 or not np.all(np.isfinite(pts)):
        raise ConfigError(f"data must be finite points of shape (n >= 2, d), got shape {pts.shape}")
    if len(pts) > max_points:
        pts = pts[np.random.default_rng(seed).choice(len(pts), max_points, replace=False)]
    n, d = pts.shape
    sd = float(np.sqrt(pts.var(axis=0).mean()))
    bandwidth = sd * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
    return GaussianMixture(pts, np.full(n, bandwidth), np.full(n, 1.0 / n))


def _single_gaussian(mixture: GaussianMixture) -> tuple[FloatArray, float] | None:
    """``(mean, std)`` if the mixture is one isotropic Gaussian (closed forms apply), else None."""
    if mixture.n_components == 1 or (np.ptp(mixture.stds) == 0 and np.all(np.ptp(mixture.means, axis=0) == 0)):
        return mixture.means[0], float(mixture.stds[0])
    return None


# ---------------------------------------------------------------------------- rates
def schedule_rates(process: LinearProcess, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
    """``(d alpha / dt, d sigma / dt)`` at times ``t`` (1 / time, length / time).

    From ``alpha' = f alpha`` and ``sigma' = (D + f sigma^2) / sigma``; a central (one-sided at
    the ends of the domain) finite difference where these are not finite (e.g. ``alpha = 0``).
    """
    t = np.atleast_1d(np.asarray(t, dtype=np.float64))
    a, s = process.alpha(t), process.sigma(t)
    f, g = process.drift_coefficient(t), process.diffusion(t)
    with np.errstate(all="ignore"):
        da = f * a
        ds = (0.5 * g**2 + f * s**2) / s
    bad = ~(np.isfinite(da) & np.isfinite(ds))
    if np.any(bad):
        h = 1e-6
        hi_lim = process.t_max if process.t_max is not None else math.inf
        lo = np.maximum(t[bad] - h, 0.0)
        hi = np.minimum(t[bad] + h, hi_lim)
        da[bad] = (process.alpha(hi) - process.alpha(lo)) / (hi - lo)
        ds[bad] = (process.sigma(hi) - process.sigma(lo)) / (hi - lo)
    return da, ds


def _velocity_sq_terms(
    mixture: GaussianMixture, process: LinearProcess, t: float, draws: tuple[NDArray[np.int64], FloatArray, FloatArray]
) -> FloatArray:
    """``|nu_t(X_t^(i))|^2`` for each common-random-number path ``i`` (length^2 / time^2)."""
    labels, z0, z = draws
    c = process.centre
    x0 = mixture.from_draws((labels, z0))
    a, s = float(process.alpha(t)), float(process.sigma(t))
    x = c + a * (x0 - c) + s * z
    law = mixture.transported(process, t)
    if s == 0.0:  # nu = f (x - c) - D score at t = 0 (D finite there for every process)
        f, g = float(process.drift_coefficient(t)), float(process.diffusion(t))
        nu = f * (x - c) - 0.5 * g * g * law.score(x)
    else:
        da, ds = (float(v[0]) for v in schedule_rates(process, t))
        x0_hat = mixture.posterior_mean(x, a, s, c)
        z_hat = (x - c - a * (x0_hat - c)) / s
        nu = da * (x0_hat - c) + ds * z_hat
    return np.einsum("ij,ij->i", nu, nu)


def _gaussian_velocity_sq(mean: FloatArray, std: float, process: LinearProcess, t: FloatArray) -> FloatArray:
    """Exact ``E|nu_t|^2 = alpha'^2 |m - c|^2 + d (v')^2 / (4 v)`` for ``N(m, std^2 I)`` data, ``v`` the
    variance of ``X_t``."""
    a, s = process.alpha(t), process.sigma(t)
    da, ds = schedule_rates(process, t)
    v = a**2 * std**2 + s**2
    dv = 2.0 * a * da * std**2 + 2.0 * s * ds
    shift = float(np.sum((np.asarray(mean) - process.centre) ** 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        spread = np.where(v > 0, dv**2 / (4.0 * v), 0.0)
    return da**2 * shift + len(mean) * spread


def _nodes(t0: float, t1: float, panels: int) -> tuple[FloatArray, FloatArray]:
    """Composite Gauss-Legendre nodes and weights on ``[t0, t1]``, panels graded towards ``t0``.

    Panel edges ``t0 + (t1 - t0) x^2`` with ``x`` uniform: the integrands of diffusion schedules
    vary fastest at small noise.
    """
    x, w = np.polynomial.legendre.leggauss(_GL_ORDER)
    edges = t0 + (t1 - t0) * np.linspace(0.0, 1.0, panels + 1) ** 2
    mid, half = 0.5 * (edges[1:] + edges[:-1]), 0.5 * np.diff(edges)
    nodes = (mid[:, None] + half[:, None] * x[None, :]).ravel()
    weights = (half[:, None] * w[None, :]).ravel()
    return nodes, weights


@dataclass(frozen=True)
class PathIntegrals:
    """Time integrals of one schedule over ``[t0, t1]`` (see :func:`path_integrals`)."""

    action: float
    action_se: float
    length: float
    length_se: float
    entropy_production: float
    entropy_production_se: float
    quadrature_error: float
    nodes: FloatArray
    speed_sq: FloatArray
    speed_sq_se: FloatArray


def path_integrals(
    data: GaussianMixture | ArrayLike,
    process: LinearProcess,
    t1: float | None = None,
    *,
    t0: float = 0.0,
    panels: int = 24,
    n_samples: int = 20_000,
    seed: int = 0,
) -> PathIntegrals:
    """Kinetic action, thermodynamic length and entropy production of a schedule.

    Parameters
    ----------
    data : GaussianMixture or array of shape (n, d)
        The law of ``X_0`` (points: see :func:`as_mixture`).
    process : LinearProcess
        The schedule.
    t1 : float, optional
        End time (default: the process's ``t_max``, else 1).
    t0 : float
        Start time.
    panels : int
        Gauss-Legendre panels (8 nodes each); ``quadrature_error`` is the change when halving them.
    n_samples : int
        Monte Carlo paths (mixtures with more than one distinct component only).
    seed : int
        Seed of the paths.

    Returns
    -------
    PathIntegrals
        ``action = int E|nu|^2 dt`` (length^2 / time), ``length = int sqrt(E|nu|^2) dt`` (length),
        ``entropy_production = int E|nu|^2 / D dt`` (nats; ``inf`` where ``D = 0`` while
        ``nu != 0``, e.g. flow matching at t = 0), each with its Monte Carlo standard error (0 for
        Gaussian data), and the rate ``speed_sq`` at the quadrature ``nodes``.
    """
    mixture = as_mixture(data, seed=seed)
    t1 = float(t1 if t1 is not None else (process.t_max or 1.0))
    if not 0.0 <= t0 < t1:
        raise ConfigError(f"need 0 <= t0 < t1, got t0 = {t0}, t1 = {t1}")
    process.check_end_time(t1)
    gaussian = _single_gaussian(mixture)

    def run(n_panels: int) -> tuple[Any, ...]:
        nodes, weights = _nodes(t0, t1, n_panels)
        with np.errstate(divide="ignore", invalid="ignore"):
            d_coef = 0.5 * process.diffusion(nodes) ** 2
        if gaussian is not None:
            sq = _gaussian_velocity_sq(gaussian[0], gaussian[1], process, nodes)
            with np.errstate(divide="ignore", invalid="ignore"):
                ep = np.where(sq > 0, sq / d_coef, 0.0)
            return (
                float(weights @ sq),
                0.0,
                float(weights @ np.sqrt(sq)),
                0.0,
                float(weights @ ep),
                0.0,
                nodes,
                sq,
                np.zeros_like(sq),
            )
        rng = np.random.default_rng(seed)
        labels, z0 = mixture.base_draws(n_samples, rng)
        draws = (labels, z0, rng.standard_normal(z0.shape))
        terms = np.empty((len(nodes), n_samples))
        for j, tj in enumerate(nodes):
            terms[j] = _velocity_sq_terms(mixture, process, float(tj), draws)
        with np.errstate(divide="ignore", invalid="ignore"):
            ep_terms = np.where(terms > 0, terms / d_coef[:, None], 0.0)
        sq = terms.mean(axis=1)
        sq_se = terms.std(axis=1, ddof=1) / math.sqrt(n_samples)
        root = math.sqrt(n_samples)
        per_path, per_path_ep = weights @ terms, weights @ ep_terms
        # length = sum_j w_j sqrt(mean_j): delta method, per-path influence sum_j w_j terms_ij / (2 sqrt(mean_j))
        with np.errstate(divide="ignore", invalid="ignore"):
            slope = np.where(sq > 0, weights / (2.0 * np.sqrt(sq)), 0.0)
        influence = slope @ terms
        return (
            float(per_path.mean()),
            float(per_path.std(ddof=1) / root),
            float(weights @ np.sqrt(sq)),
            float(influence.std(ddof=1) / root),
            float(per_path_ep.mean()),
            float(per_path_ep.std(ddof=1) / root),
            nodes,
            sq,
            sq_se,
        )

    fine = list(run(panels))
    coarse = run(max(1, panels // 2))
    quad = abs(fine[0] - coarse[0])
    if float(process.diffusion(t0)) == 0.0:  # D = 0 while the law moves: sigma_t ~ 1/t, Sigma_phys diverges
        if gaussian is not None:
            moving = float(_gaussian_velocity_sq(gaussian[0], gaussian[1], process, np.array([t0]))[0]) > 0
        else:
            rng = np.random.default_rng(seed)
            labels, z0 = mixture.base_draws(min(n_samples, 1000), rng)
            draws = (labels, z0, rng.standard_normal(z0.shape))
            moving = float(_velocity_sq_terms(mixture, process, t0, draws).mean()) > 0
        if moving:
            fine[4], fine[5] = math.inf, math.nan
    return PathIntegrals(fine[0], fine[1], fine[2], fine[3], fine[4], fine[5], quad, fine[6], fine[7], fine[8])


def w2_to_standard_normal(mixture: GaussianMixture) -> float | None:
    """Closed-form ``W2(N(m, s^2 I), N(0, I)) = sqrt(|m|^2 + d (s - 1)^2)``; None for a true mixture."""
    gaussian = _single_gaussian(mixture)
    if gaussian is None:
        return None
    mean, std = gaussian
    return math.sqrt(float(np.sum(mean**2)) + mixture.dim * (std - 1.0) ** 2)


def entropy_production_dataset(
    data: GaussianMixture | ArrayLike,
    process: LinearProcess,
    t1: float | None = None,
    *,
    panels: int = 24,
    n_samples: int = 20_000,
    seed: int = 0,
) -> xr.Dataset:
    """Entropy production, its rate and the speed limit of a schedule, as a Dataset over time.

    Variables over ``time`` (the quadrature nodes): ``speed_squared`` ``E|nu_t|^2`` (+ ``_se``),
    ``entropy_production_rate`` ``E|nu_t|^2 / D(t)`` and ``diffusion_coefficient`` ``D(t)``.
    Attributes: ``action`` (Sigma, + ``_se``), ``thermodynamic_length`` (+ ``_se``),
    ``entropy_production`` (+ ``_se``), ``quadrature_error``, ``speed_limit`` ``L^2 / T`` (the
    least action of any re-timing of the same path) and, for Gaussian data,
    ``w2_to_prior_squared`` (the least action of any path to ``N(0, I)`` on ``[0, 1]``).
    """
    mixture = as_mixture(data, seed=seed)
    res = path_integrals(mixture, process, t1, panels=panels, n_samples=n_samples, seed=seed)
    t_end = float(t1 if t1 is not None else (process.t_max or 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        d_coef = 0.5 * process.diffusion(res.nodes) ** 2
        rate = np.where(res.speed_sq > 0, res.speed_sq / d_coef, 0.0)
    per_time = {"units": "length^2 / time^2"}
    ds = xr.Dataset(
        {
            "speed_squared": (
                "time",
                res.speed_sq,
                {**per_time, "long_name": "E|nu_t|^2, mean local velocity squared"},
            ),
            "speed_squared_se": ("time", res.speed_sq_se, per_time),
            "entropy_production_rate": ("time", rate, {"units": "nats per unit time", "long_name": "E|nu_t|^2 / D(t)"}),
            "diffusion_coefficient": ("time", d_coef, {"units": "length^2 / time", "long_name": "g(t)^2 / 2"}),
        },
        coords={"time": ("time", res.nodes, {"units": "1", "long_name": "diffusion time"})},
        attrs={
            "title": "entropy production of a noise schedule",
            "process": process.name,
            "t_end": t_end,
            "action": res.action,
            "action_se": res.action_se,
            "thermodynamic_length": res.length,
            "thermodynamic_length_se": res.length_se,
            "entropy_production": res.entropy_production,
            "entropy_production_se": res.entropy_production_se,
            "quadrature_error": res.quadrature_error,
            "speed_limit": res.length**2 / t_end,
            "n_samples": 0 if _single_gaussian(mixture) is not None else n_samples,
            "seed": seed,
        },
    )
    w2 = w2_to_standard_normal(mixture)
    if w2 is not None:
        ds.attrs["w2_to_prior_squared"] = w2**2
    return ds


def entropy_production_from_entropies(
    mixture: GaussianMixture, process: LinearProcess, t0: float, t1: float, *, n_samples: int = 200_000, seed: int = 0
) -> tuple[float, float]:
    """Independent route to ``int_t0^t1 E|nu|^2 / D dt`` (nats): endpoint entropies plus a moment integral.

    With ``E[(x - c) . score] = -d``, ``E|nu|^2 / D = f^2 m_2 / D + 2 d f + D J`` and de Bruijn's
    ``dH/dt = d f + D J`` give ``Sigma_phys = H(t1) - H(t0) + int f (f m_2 / D + d) dt``, where
    ``m_2(t) = alpha^2 E|X_0 - c|^2 + d sigma^2`` is exact. ``H`` is the Monte Carlo entropy of
    the exact mixture density (no score is used). Needs ``D > 0`` on ``[t0, t1]``.

    Returns
    -------
    (value, se) : tuple of float
        In nats.
    """
    from scipy.integrate import quad

    c, d = process.centre, mixture.dim
    second = float(np.sum(mixture.weights * (np.sum((mixture.means - c) ** 2, axis=1) + d * mixture.stds**2)))

    def integrand(t: float) -> float:
        a, s = float(process.alpha(t)), float(process.sigma(t))
        f, g = float(process.drift_coefficient(t)), float(process.diffusion(t))
        m2 = a * a * second + d * s * s
        return f * (f * m2 / (0.5 * g * g) + d)

    moment, _ = quad(integrand, t0, t1, limit=200, epsabs=1e-12, epsrel=1e-11)
    draws = mixture.base_draws(n_samples, seed)
    # H(t1) - H(t0) from the same draws at both ends: the SE of the per-sample difference
    a0, a1 = mixture.transported(process, t0), mixture.transported(process, t1)
    diff = a0.logpdf(a0.from_draws(draws)) - a1.logpdf(a1.from_draws(draws))
    se = float(np.std(diff, ddof=1) / math.sqrt(n_samples))
    return float(diff.mean()) + moment, se


# ----------------------------------------------------------------- optimal schedule
def _geodesic_speeds(mixture: GaussianMixture, s: float, n_samples: int, seed: int, panels: int) -> PathIntegrals:
    return path_integrals(mixture, OptimalTransport(s=s), 1.0, panels=panels, n_samples=n_samples, seed=seed)


def optimal_schedule(
    data: GaussianMixture | ArrayLike,
    *,
    knots: int = 33,
    n_samples: int = 2000,
    panels: int = 16,
    seed: int = 0,
    s_bounds: tuple[float, float] = (0.0, 3.0),
) -> OptimalTransport:
    """The entropy-production-optimal schedule for the data (an ``ot`` process).

    Isotropic Gaussian data ``N(m, s^2 I)``: the closed-form W2 geodesic to ``N(0, I)``,
    ``OptimalTransport(s=s)``, whose action equals ``W2^2 = |m|^2 + d (s - 1)^2``. Other data
    (mixtures, or points through their KDE pilot): among the Gaussian geodesic paths
    ``alpha = 1 - u``, ``sigma^2 = u^2 + 2 s u (1 - u)``, the ``s`` of shortest thermodynamic
    length ``L(s)``, re-timed to constant speed (equal entropy production per unit time), which
    brings the action down to ``L(s)^2``, the least of any timing of that path. The true W2
    geodesic of a mixture leaves the linear-process family, so this is the best schedule of the
    family searched, not a global optimum; its action is never below ``W2^2``.

    Parameters
    ----------
    knots : int
        Points of the time warp ``u(t)`` (equally spaced in t).
    n_samples, panels, seed
        Monte Carlo paths and quadrature of the pilot (see :func:`path_integrals`).
    s_bounds : (float, float)
        Search interval of ``s`` (in units of the prior's standard deviation 1).
    """
    from scipy.optimize import minimize_scalar

    mixture = as_mixture(data, seed=seed)
    gaussian = _single_gaussian(mixture)
    if gaussian is not None:
        return OptimalTransport(s=gaussian[1])
    # the search uses half the panels (the length is smooth in s); the warp the full quadrature
    best = minimize_scalar(
        lambda s: _geodesic_speeds(mixture, s, n_samples, seed, max(2, panels // 2)).length,
        bounds=s_bounds,
        method="bounded",
        options={"xatol": 1e-3},
    )
    s = float(best.x)
    res = _geodesic_speeds(mixture, s, n_samples, seed, panels)
    speed = np.sqrt(np.maximum(res.speed_sq, 0.0))
    # cumulative length l(u) through the quadrature nodes (trapezoid, anchored at u = 0 and 1)
    u = np.concatenate([[0.0], res.nodes, [1.0]])
    v = np.concatenate([[speed[0]], speed, [speed[-1]]])
    ell = np.concatenate([[0.0], np.cumsum(0.5 * (v[1:] + v[:-1]) * np.diff(u))])
    if not ell[-1] > 0:
        return OptimalTransport(s=s)
    warp = np.interp(np.linspace(0.0, 1.0, knots) * ell[-1], ell, u)
    warp[0], warp[-1] = 0.0, 1.0
    warp = np.maximum.accumulate(warp)
    if not np.all(np.diff(warp) > 0):  # a flat stretch of the speed: fall back to the untimed path
        return OptimalTransport(s=s)
    return OptimalTransport(s=s, warp=tuple(float(x) for x in warp))


__all__ = [
    "PathIntegrals",
    "as_mixture",
    "entropy_production_dataset",
    "entropy_production_from_entropies",
    "optimal_schedule",
    "path_integrals",
    "schedule_rates",
    "w2_to_standard_normal",
]
