"""Generation error of a diffusion sampler and its bound, for a schedule and a number of steps.

The sampler is the reverse SDE ``dX = [f (X - c) - g^2 s_hat] dt + g dW_bar`` of a linear
process, started from the reference prior ``pi`` at time ``T``, on the grid
``t_k = T k / N`` (``N`` = NFE, one score evaluation per step). Over a step from ``t_{k+1}``
down to ``t_k > 0`` the *denoiser* is frozen at its value at the step's start,
``x0_hat = c + (x - c + sigma^2 s_hat(x, t_{k+1})) / alpha`` (Tweedie), so the drift uses the
score of ``N(c + alpha_t (x0_hat - c), sigma_t^2)``: the step is the exact posterior
``X_k | X_{k+1}, X_0 = x0_hat`` (DDPM's ancestral step, any schedule). On the last step, down to
``t_0 = 0``, where that score is singular, the *score* is frozen and the linear part integrated
exactly (exponential integrator):
``X_0 = c + (alpha_0 / alpha_1) (X_1 - c) + alpha_0 c_0 s_hat + alpha_0 sqrt(lambda_1 - lambda_0) xi``
with ``lambda = sigma^2 / alpha^2`` and ``c_0 = int_0^{t_1} g^2 / alpha dt``.

The bound (Girsanov's theorem and the data-processing inequality; Song et al. 2021,
"Maximum likelihood training of score-based diffusion models", Thm 1, with the
discretisation term of Chen et al. 2023, "Sampling is as easy as learning the score"):

    KL(p_0 || q_0) <= KL(p_T || pi) + 1/2 sum_k int_{t_k}^{t_{k+1}} g(t)^2 E|grad log p_t(X_t) - b_k(t)|^2 dt,

``b_k(t)`` the score the sampler uses at time ``t`` of step k (a function of ``X_t`` and
``X_{t_{k+1}}``), the expectation over the *forward* process (``X_t ~ p_t``, then
``X_{t_{k+1}} | X_t`` by the exact kernel). For the denoiser steps the integrand is
``(alpha_t / sigma_t^2)^2 |E[X_0 | X_t] - x0_hat(X_{t_{k+1}})|^2``; for the last step
``|grad log p_t(X_t) - s_hat(X_{t_1}, t_1)|^2``. ``q_0`` is the law of the generated samples.
The bound needs only that the sampler's drift at time ``t`` depends on the path at and after
``t`` (true here) and that ``KL(p_T || pi)`` is finite; it holds for any score, any schedule
and any grid. It is split into the prior gap, the score term (the same integral with the
sampler's own inputs exact, subtracted from the total: ``discretisation`` is the bound with the
exact score less the prior gap) and the rest. With ``s_hat = s`` and ``N -> infinity`` it tends
to the prior gap alone.

For isotropic Gaussian data and an affine score error ``s_hat = (1 + eps) s + b`` everything is
closed form (the generated law is Gaussian: :func:`gaussian_generated_law`; the bound's
integrands are second moments of jointly Gaussian variables); for mixtures both are Monte Carlo
estimates with standard errors.
standard errors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..mixture import GaussianMixture
from ..processes import LinearProcess

FloatArray = NDArray[np.float64]
Score = Callable[[FloatArray, float], FloatArray]
#: end time used when the schedule reaches alpha = 0 at t_max (cosine, fm, ot): t_max (1 - END_MARGIN)
END_MARGIN = 1e-3


# ------------------------------------------------------------------------- the prior
def end_time(process: LinearProcess, t_end: float | None = None) -> float:
    """The sampler's start time: ``t_end``, else ``t_max`` (times ``1 - END_MARGIN`` where alpha(t_max) = 0), else 1.

    Starting where ``alpha = 0`` would divide by zero in the denoiser ``(x + sigma^2 s) / alpha``.
    """
    if t_end is not None:
        process.check_end_time(float(t_end))
        return float(t_end)
    t = float(process.t_max) if process.t_max is not None else 1.0
    if float(process.alpha(t)) <= 1e-6:  # alpha = 0 up to rounding (cosine's cos(pi/2) = 6e-17)
        t *= 1.0 - END_MARGIN
    return t


def reference_prior(process: LinearProcess, t_end: float) -> tuple[float, float]:
    """``(centre, std)`` of the Gaussian prior ``pi`` a sampler starts from at ``t_end``.

    The stationary law where the process has one (OU, VP, sub-VP, cosine, fm, ot); otherwise
    (Brownian, VE, EDM) ``N(c, sigma(T)^2 I)``, the law of ``X_T`` for data concentrated at ``c``.
    """
    stationary = process.stationary()
    if stationary is not None:
        return float(stationary[0]), float(stationary[1])
    return float(process.centre), float(process.sigma(t_end))


def time_grid(process: LinearProcess, nfe: int, t_end: float | None = None) -> FloatArray:
    """``t_k = T k / N``, k = 0..N: the schedule's own uniform grid (EDM: its rho-spaced noise levels)."""
    if not (isinstance(nfe, (int, np.integer)) and nfe >= 1):
        raise ConfigError(f"the number of function evaluations must be a positive integer, got {nfe!r}")
    return end_time(process, t_end) * np.arange(nfe + 1, dtype=np.float64) / nfe


def _g2(process: LinearProcess, t: ArrayLike) -> FloatArray:
    return process.diffusion(t) ** 2


def _breakpoints(process: LinearProcess, t0: float, t1: float) -> list[float] | None:
    """Knots of a re-timed schedule inside ``(t0, t1)`` (its rates have kinks there), for ``quad``."""
    warp = getattr(process, "warp", None)
    if warp is None:
        return None
    knots = [float(k) for k in np.linspace(0.0, 1.0, len(warp)) if t0 < k < t1]
    return knots or None


def _final_step_constants(process: LinearProcess, t1: float) -> tuple[float, float, float]:
    """Exponential-integrator step from ``t1`` down to 0: mean factor ``alpha_0 / alpha_1``, score
    factor ``alpha_0 int_0^t1 g^2 / alpha dt`` and noise std ``alpha_0 sqrt(lambda_1 - lambda_0)``."""
    from scipy.integrate import quad

    a0, a1 = float(process.alpha(0.0)), float(process.alpha(t1))
    factor, noise = (float(v) for v in process.transition(0.0, t1))  # B^2 = sigma_1^2 - A^2 sigma_0^2
    val, _ = quad(
        lambda t: float(_g2(process, np.float64(t)) / process.alpha(t)),
        0.0,
        t1,
        limit=200,
        epsabs=0.0,
        epsrel=1e-10,
        points=_breakpoints(process, 0.0, t1),
    )
    return a0 / a1, a0 * val, noise / factor


def _posterior_constants(process: LinearProcess, t0: float, t1: float) -> tuple[float, float, float]:
    """``X_{t0} | X_{t1} = x, X_0 = x0`` is ``N(c + p (x0 - c) + q (x - c), r^2)``: returns ``(p, q, r)``."""
    big_a, big_b = (float(v) for v in process.transition(t0, t1))
    a0, s0 = float(process.alpha(t0)), float(process.sigma(t0))
    var1 = big_a * big_a * s0 * s0 + big_b * big_b
    return big_b * big_b * a0 / var1, big_a * s0 * s0 / var1, s0 * big_b / math.sqrt(var1)


def denoised(process: LinearProcess, x: FloatArray, t: float, score: FloatArray) -> FloatArray:
    """Tweedie: ``E[X_0 | X_t = x] = c + (x - c + sigma^2 score) / alpha`` (length)."""
    c = process.centre
    return c + (x - c + float(process.sigma(t)) ** 2 * score) / float(process.alpha(t))


def reverse_sample(
    score: Score, process: LinearProcess, grid: FloatArray, x_T: FloatArray, seed: int | np.random.Generator = 0
) -> FloatArray:
    """Run the sampler (see the module docstring) from ``x_T`` at ``grid[-1]`` down to ``grid[0] = 0``.

    Parameters
    ----------
    score : callable
        ``score(x, t)`` for points of shape (n, d) (1 / length).
    process : LinearProcess
    grid : ndarray, shape (N + 1,)
        Increasing times from 0; the sampler takes N steps (N score evaluations).
    x_T : ndarray, shape (n, d)
        Starting points (length).
    seed : int or Generator
        Noise of the steps.

    Returns
    -------
    ndarray, shape (n, d)
        The generated points at ``grid[0]``.
    """
    grid = _check_grid(grid)
    rng = np.random.default_rng(seed)
    c = process.centre
    x = np.array(x_T, dtype=np.float64)
    for k in range(len(grid) - 2, 0, -1):
        t1 = float(grid[k + 1])
        x0_hat = denoised(process, x, t1, score(x, t1))
        p, q, r = _posterior_constants(process, float(grid[k]), t1)
        x = c + p * (x0_hat - c) + q * (x - c) + r * rng.standard_normal(x.shape)
    mean_f, score_f, noise_std = _final_step_constants(process, float(grid[1]))
    return c + mean_f * (x - c) + score_f * score(x, float(grid[1])) + noise_std * rng.standard_normal(x.shape)


def _check_grid(grid: ArrayLike) -> FloatArray:
    g = np.asarray(grid, dtype=np.float64)
    if g.ndim != 1 or len(g) < 2 or g[0] != 0.0 or not np.all(np.diff(g) > 0):
        raise ConfigError("the sampler's time grid must rise strictly from 0 (at least one step)")
    return g


def prior_sample(
    process: LinearProcess, t_end: float, n: int, dim: int, seed: int | np.random.Generator = 0
) -> FloatArray:
    """``n`` draws of the reference prior (see :func:`reference_prior`)."""
    centre, std = reference_prior(process, t_end)
    return centre + std * np.random.default_rng(seed).standard_normal((n, dim))


def perturbed_score(
    mixture: GaussianMixture, process: LinearProcess, scale: float = 0.0, shift: ArrayLike | None = None
) -> Score:
    """``(1 + scale) grad log p_t + shift``: the exact score with an error of known size."""
    b = np.zeros(mixture.dim) if shift is None else np.asarray(shift, dtype=np.float64)

    def score(x: FloatArray, t: float) -> FloatArray:
        return (1.0 + scale) * mixture.transported(process, float(t)).score(x) + b

    return score


# --------------------------------------------------------------------- the bound
@dataclass(frozen=True)
class ErrorBound:
    """The Girsanov bound on ``KL(p_0 || q_0)`` and its parts (nats), each with its standard error.

    ``bound = prior_gap + discretisation + score_term``: ``discretisation`` is the bound's
    integral with the exact score, ``score_term`` what the given score adds to it.
    """

    bound: float
    bound_se: float
    prior_gap: float
    prior_gap_se: float
    score_term: float
    score_term_se: float
    discretisation: float
    discretisation_se: float
    #: per step k (from t_{k+1} down to t_k): the bound's integral with the given score, and its SE
    steps: FloatArray | None = None
    steps_se: FloatArray | None = None


def _gaussian_kl(mean_p: FloatArray, var_p: float, mean_q: FloatArray, var_q: float) -> float:
    """``KL(N(mean_p, var_p I) || N(mean_q, var_q I))`` (nats)."""
    d = len(mean_p)
    return 0.5 * (d * var_p / var_q + float(np.sum((mean_p - mean_q) ** 2)) / var_q - d + d * math.log(var_q / var_p))


def _gaussian(mixture: GaussianMixture) -> tuple[FloatArray, float]:
    if mixture.n_components != 1:
        raise ConfigError("the closed forms need Gaussian data (a one-component mixture)")
    return mixture.means[0], float(mixture.stds[0])


def gaussian_generated_law(
    mixture: GaussianMixture,
    process: LinearProcess,
    grid: FloatArray,
    scale: float = 0.0,
    shift: ArrayLike | None = None,
) -> tuple[FloatArray, float]:
    """Exact law ``N(mean, var I)`` of the sampler's output for Gaussian data and an affine score error."""
    m, s0 = _gaussian(mixture)
    b = np.zeros(mixture.dim) if shift is None else np.asarray(shift, dtype=np.float64)
    c = process.centre
    grid = _check_grid(grid)
    centre, std = reference_prior(process, float(grid[-1]))
    mean, var = np.full(mixture.dim, centre - c), std**2  # of X - c

    def score_affine(t: float) -> tuple[float, FloatArray]:
        """``s_hat(y) = gain y + offset`` for ``y = X_t - c``."""
        a, s = float(process.alpha(t)), float(process.sigma(t))
        v = a * a * s0 * s0 + s * s
        return -(1.0 + scale) / v, (1.0 + scale) * a * (m - c) / v + b

    for k in range(len(grid) - 2, 0, -1):
        t1 = float(grid[k + 1])
        a1, sig1 = float(process.alpha(t1)), float(process.sigma(t1))
        gs, os_ = score_affine(t1)
        # x0_hat - c = (y + sigma^2 (gs y + os)) / alpha
        p, q, r = _posterior_constants(process, float(grid[k]), t1)
        gain = p * (1.0 + sig1 * sig1 * gs) / a1 + q
        offset = p * sig1 * sig1 * os_ / a1
        mean, var = gain * mean + offset, gain * gain * var + r * r
    mean_f, score_f, noise_std = _final_step_constants(process, float(grid[1]))
    gs, os_ = score_affine(float(grid[1]))
    gain = mean_f + score_f * gs
    mean, var = gain * mean + score_f * os_, gain * gain * var + noise_std**2
    return c + mean, var


def gaussian_generation_kl(
    mixture: GaussianMixture,
    process: LinearProcess,
    grid: FloatArray,
    scale: float = 0.0,
    shift: ArrayLike | None = None,
) -> float:
    """Exact ``KL(p_0 || q_0)`` (nats) for Gaussian data and an affine score error."""
    m, s0 = _gaussian(mixture)
    mean, var = gaussian_generated_law(mixture, process, grid, scale, shift)
    return _gaussian_kl(m, s0 * s0, mean, var)


def _prior_gap_gaussian(mixture: GaussianMixture, process: LinearProcess, t_end: float) -> float:
    m, s0 = _gaussian(mixture)
    law = mixture.transported(process, t_end)
    centre, std = reference_prior(process, t_end)
    del m, s0
    return _gaussian_kl(law.means[0], float(law.stds[0]) ** 2, np.full(mixture.dim, centre), std**2)


def gaussian_error_bound(
    mixture: GaussianMixture,
    process: LinearProcess,
    grid: FloatArray,
    scale: float = 0.0,
    shift: ArrayLike | None = None,
) -> ErrorBound:
    """The bound in closed form for Gaussian data and ``s_hat = (1 + scale) s + shift`` (SEs are 0)."""
    m, s0 = _gaussian(mixture)
    del m
    grid = _check_grid(grid)
    b2 = 0.0 if shift is None else float(np.sum(np.asarray(shift, dtype=np.float64) ** 2))
    total = _gaussian_integrals(process, grid, s0, mixture.dim, scale, b2)
    exact = _gaussian_integrals(process, grid, s0, mixture.dim, 0.0, 0.0)
    gap = _prior_gap_gaussian(mixture, process, float(grid[-1]))
    return ErrorBound(gap + total, 0.0, gap, 0.0, total - exact, 0.0, exact, 0.0)


def _gaussian_integrals(process: LinearProcess, grid: FloatArray, s0: float, d: int, scale: float, b2: float) -> float:
    """``1/2 sum_k int g^2 E|grad log p_t - b_k(t)|^2 dt`` for ``N(m, s0^2 I)`` data, by adaptive quadrature.

    With ``y_t = X_t - c - alpha_t (m - c)`` (variance ``v_t`` per axis, ``Cov(y_t, y_{k+1}) = A v_t``,
    ``A = alpha_{k+1} / alpha_t``): denoiser steps compare ``E[X_0 | X_t] - c - (m - c) = (alpha_t s0^2 / v_t) y_t``
    with ``x0_hat - c - (m - c) = G y_{k+1} + sigma_{k+1}^2 b / alpha_{k+1}``,
    ``G = (1 - (1 + scale) sigma_{k+1}^2 / v_{k+1}) / alpha_{k+1}``; the last step compares the
    scores ``-y_t / v_t`` and ``-(1 + scale) y_1 / v_1 + b``.
    """
    from scipy.integrate import quad

    def var(t: float) -> float:
        return float(process.alpha(t)) ** 2 * s0 * s0 + float(process.sigma(t)) ** 2

    total = 0.0
    for k in range(len(grid) - 1):
        t0, t1 = float(grid[k]), float(grid[k + 1])
        a1, sig1, v1 = float(process.alpha(t1)), float(process.sigma(t1)), var(t1)
        big_g = (1.0 - (1.0 + scale) * sig1 * sig1 / v1) / a1

        def integrand(
            t: float, k: int = k, a1: float = a1, sig1: float = sig1, v1: float = v1, big_g: float = big_g
        ) -> float:
            at, st, vt = float(process.alpha(t)), float(process.sigma(t)), var(t)
            big_a = a1 / at
            if k == 0:
                err = d * (1.0 / vt + (1.0 + scale) * ((1.0 + scale) - 2.0 * big_a) / v1) + b2
            else:
                h = at * s0 * s0 / vt
                x0_err = d * (h * h * vt - 2.0 * h * big_g * big_a * vt + big_g * big_g * v1) + sig1**4 * b2 / a1**2
                err = (at / (st * st)) ** 2 * x0_err
            return 0.5 * float(_g2(process, np.float64(t))) * max(err, 0.0)

        val, _ = quad(integrand, t0, t1, limit=200, epsabs=1e-14, epsrel=1e-10, points=_breakpoints(process, t0, t1))
        total += val
    return total


def prior_gap_mixture(
    mixture: GaussianMixture,
    process: LinearProcess,
    t_end: float,
    *,
    n_samples: int = 20_000,
    seed: int = 0,
    prior: tuple[ArrayLike, float] | None = None,
) -> tuple[float, float]:
    """``KL(p_T || pi)`` (nats) and its SE: Monte Carlo with the exact densities (closed form for a Gaussian).

    ``prior``: ``(mean, std)`` of an isotropic Gaussian prior other than :func:`reference_prior`
    (e.g. a trained model's moment-matched prior).
    """
    law = mixture.transported(process, t_end)
    centre, std = reference_prior(process, t_end) if prior is None else prior
    centre = np.broadcast_to(np.asarray(centre, dtype=np.float64), (mixture.dim,))
    std = float(std)
    if mixture.n_components == 1:
        return max(_gaussian_kl(law.means[0], float(law.stds[0]) ** 2, centre, std**2), 0.0), 0.0
    x = law.sample(n_samples, seed)
    log_pi = -0.5 * np.sum((x - centre) ** 2, axis=1) / std**2 - 0.5 * mixture.dim * math.log(2.0 * math.pi * std**2)
    terms = law.logpdf(x) - log_pi
    return float(terms.mean()), float(terms.std(ddof=1) / math.sqrt(n_samples))


def error_bound(
    mixture: GaussianMixture,
    process: LinearProcess,
    grid: FloatArray,
    score: Score | None = None,
    *,
    n_samples: int = 4000,
    nodes_per_step: int = 4,
    seed: int = 0,
) -> ErrorBound:
    """Monte Carlo estimate of the bound for any mixture and any score (default: the exact score).

    Gauss-Legendre nodes in each step; at each node fresh forward pairs ``(X_t, X_{t_{k+1}})`` are
    drawn, so node estimates are independent and their variances add. ``score_term`` is the
    bound with ``score`` less the bound with the exact score (same draws), ``discretisation`` the
    latter less the prior gap.
    """
    grid = _check_grid(grid)
    rng = np.random.default_rng(seed)
    nodes, weights = np.polynomial.legendre.leggauss(nodes_per_step)
    c = process.centre
    parts = np.zeros(2)  # exact score, given score
    part_var = np.zeros(2)
    diff_var = 0.0
    step_val, step_var = np.zeros(len(grid) - 1), np.zeros(len(grid) - 1)
    for k in range(len(grid) - 1):
        t0, t1 = float(grid[k]), float(grid[k + 1])
        law1 = mixture.transported(process, t1)
        for xi, wi in zip(nodes, weights, strict=True):
            t = 0.5 * (t0 + t1) + 0.5 * (t1 - t0) * xi
            weight = 0.5 * (t1 - t0) * wi * 0.5 * float(_g2(process, np.float64(t)))
            law_t = mixture.transported(process, t)
            xt = law_t.sample(n_samples, rng)
            big_a, big_b = (float(v) for v in process.transition(t, t1))
            x1 = c + big_a * (xt - c) + big_b * rng.standard_normal(xt.shape)
            exact1 = law1.score(x1)
            given1 = exact1 if score is None else score(x1, t1)
            if k == 0:
                truth = law_t.score(xt)
                errs = [truth - exact1, truth - given1]
                factor = 1.0
            else:
                a_t, s_t = float(process.alpha(t)), float(process.sigma(t))
                truth = mixture.posterior_mean(xt, a_t, s_t, c)
                errs = [truth - denoised(process, x1, t1, exact1), truth - denoised(process, x1, t1, given1)]
                factor = (a_t / (s_t * s_t)) ** 2
            terms = [factor * np.einsum("ij,ij->i", e, e) for e in errs]
            for j in range(2):
                parts[j] += weight * terms[j].mean()
                part_var[j] += (weight * terms[j].std(ddof=1)) ** 2 / n_samples
            diff_var += (weight * (terms[1] - terms[0]).std(ddof=1)) ** 2 / n_samples
            step_val[k] += weight * terms[1].mean()
            step_var[k] += (weight * terms[1].std(ddof=1)) ** 2 / n_samples
    gap, gap_se = prior_gap_mixture(mixture, process, float(grid[-1]), n_samples=max(n_samples, 20_000), seed=seed)
    return ErrorBound(
        gap + float(parts[1]),
        math.sqrt(part_var[1] + gap_se**2),
        gap,
        gap_se,
        float(parts[1] - parts[0]),
        math.sqrt(diff_var),
        float(parts[0]),
        math.sqrt(part_var[0]),
        step_val,
        np.sqrt(step_var),
    )


def bound_along_reverse(
    mixture: GaussianMixture,
    process: LinearProcess,
    nfe: int,
    score: Score | None = None,
    *,
    n_samples: int = 4000,
    seed: int = 0,
) -> Any:
    """The bound accumulated along a reverse run of ``nfe`` steps, as an ``xr.Dataset`` over ``step``.

    Steps in the order the sampler takes them (time decreasing, as in a reverse trajectory):
    ``t_start`` / ``t_stop`` of each step, ``bound_increment`` (+ ``_se``) its term of the bound, and
    ``cumulative_bound`` (+ ``_se``): ``KL(p_T || pi)`` plus the increments so far, a bound on
    ``KL(p_{t_stop} || q_{t_stop})`` (the same argument applied on ``[t_stop, T]``). Nats.
    """
    import xarray as xr

    grid = time_grid(process, nfe)
    b = error_bound(mixture, process, grid, score, n_samples=n_samples, seed=seed)
    assert b.steps is not None and b.steps_se is not None
    inc, inc_se = b.steps[::-1], b.steps_se[::-1]
    cum = b.prior_gap + np.cumsum(inc)
    cum_se = np.sqrt(b.prior_gap_se**2 + np.cumsum(inc_se**2))
    nats = {"units": "nats"}
    return xr.Dataset(
        {
            "bound_increment": ("step", inc, nats),
            "bound_increment_se": ("step", inc_se, nats),
            "cumulative_bound": ("step", cum, {**nats, "long_name": "bound on KL(p_t || q_t) at the step's end"}),
            "cumulative_bound_se": ("step", cum_se, nats),
        },
        coords={
            "step": ("step", np.arange(1, nfe + 1)),
            "t_start": ("step", grid[1:][::-1], {"units": "1"}),
            "t_stop": ("step", grid[:-1][::-1], {"units": "1"}),
        },
        attrs={
            "title": "generation-error bound along a reverse run",
            "process": process.name,
            "nfe": nfe,
            "prior_gap": b.prior_gap,
            "prior_gap_se": b.prior_gap_se,
            "bound": b.bound,
            "bound_se": b.bound_se,
            "score": "exact" if score is None else "given",
            "n_samples": n_samples,
            "seed": seed,
        },
    )


__all__ = [
    "END_MARGIN",
    "ErrorBound",
    "bound_along_reverse",
    "denoised",
    "end_time",
    "error_bound",
    "gaussian_error_bound",
    "gaussian_generated_law",
    "gaussian_generation_kl",
    "perturbed_score",
    "prior_gap_mixture",
    "prior_sample",
    "reference_prior",
    "reverse_sample",
    "time_grid",
]
