"""The speed-accuracy relations of Ikeda, Uda, Okanohara & Ito (arXiv 2407.04495, PRX 15, 031031), as stated.

The relations are about the **probability-flow** reverse process (a deterministic transport
``dx/dt = nu_hat(x, t)``, run from ``t = tau`` down to 0; flow matching is the same form). With
``nu_t = f (x - c) - D grad log p_t`` the forward process's mean local velocity (``D = g^2 / 2``,
the paper's temperature ``T_t``) and ``Sigma = int_0^tau E_{p_t} |nu_t|^2 dt`` its kinetic action
(``int T_t dS_tot/dt dt`` in the paper), the reverse process starts from a law ``p~_tau`` (the
prior a sampler draws from) instead of the forward end law ``p_tau``. Write

- ``D0 = int (p~_tau - p_tau)^2 / p_tau dx``, the Pearson chi^2 divergence of the start laws;
- ``dW1 = W1(q, p) - W1(p_tau, p~_tau)``, the change of the 1-Wasserstein distance between the
  exact and the estimated reverse processes from start (``t = tau``) to end (``q`` the data law,
  ``p`` the generated law);
- ``v_loss(t)^2 = (d/dt W1(p_t, p~_t))^2 / D0``, the squared speed at which that distance changes.

**Complete estimation** (the reverse velocity is exactly ``nu_t``; paper Eqs. 77, 80, 81)::

    eta = dW1^2 / (tau D0)  <=  int_0^tau v_loss(t)^2 dt  <=  Sigma,     and v_loss(t)^2 <= E|nu_t|^2 at each t.

Without a non-conservative force (true for every linear process here) ``E|nu_t|^2`` is the squared
speed ``v_2(t)^2`` of the density path in W2 space (Eqs. 79, 82, 83), so the right side is
``int v_2^2 dt >= W2(q, p_tau)^2 / tau``, smallest (equal) on the constant-speed W2 geodesic.
``D0`` is conserved along the exact transport; ``dW1`` is not.

**Incomplete estimation** (reverse velocity ``nu~_t = nu_t - dnu_t``, e.g. an inexact score or a
discretised solver; Eq. 100 / Appendix F, Eq. F5)::

    |dW1| <= sqrt(tau D_max Sigma) + sqrt(1 + D_max) sqrt(tau Lambda),     Lambda = int_0^tau E_{p_t} |dnu_t|^2 dt,

``D_max = max_t chi^2(p~_t || p_t)``; ``Lambda / tau`` is the flow-matching (or, times ``D^2``,
the score-matching) objective of the velocity actually used. (The paper writes it divided by
``sqrt(tau D_max)``.)

What is computed here (one-dimensional data, where ``W1 = int |F - G| dx`` and every law along
the exact transport is known through its CDF: the exact flow map of a 1-D continuity equation is
the monotone rearrangement ``Q_t o F_tau``):

- :func:`complete_estimation` evaluates every term of the first chain on grids (no sampling);
- :func:`incomplete_estimation` runs the Euler probability-flow sampler with ``nfe`` steps and a
  (perturbed) score on the quantiles of ``p~_tau``, measures ``dW1`` and ``D_max`` from them and
  ``Lambda`` from the sampler's own Eulerian velocity field (the inverse of each step's map,
  evaluated on the grid), and returns both sides of Eq. F5.

Hand-written because no library offers these quantities; SciPy supplies the normal CDF.
For the stochastic (DDPM) sampler of :mod:`dustsim.schedule_theory.speed_accuracy` these relations do not apply
as stated (its reverse velocity depends on its own density); its error is bounded by the Girsanov
bound there.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtr

from ..errors import ConfigError
from ..mixture import GaussianMixture
from ..processes import LinearProcess
from .speed_accuracy import end_time, reference_prior

FloatArray = NDArray[np.float64]
Score = Callable[[FloatArray, float], FloatArray]


# ------------------------------------------------------------------ 1-D helpers
def _check_1d(*laws: GaussianMixture) -> None:
    for law in laws:
        if law.dim != 1:
            raise ConfigError(f"the speed-accuracy relation is evaluated for 1-D laws only, got dimension {law.dim}")
        if np.any(law.stds <= 0):
            raise ConfigError("the speed-accuracy relation needs components with positive standard deviations")


def _cdf(law: GaussianMixture, x: FloatArray) -> FloatArray:
    z = (x[None, :] - law.means[:, 0, None]) / law.stds[:, None]
    return np.asarray(law.weights @ ndtr(z), dtype=np.float64)


def _pdf(law: GaussianMixture, x: FloatArray) -> FloatArray:
    z = (x[None, :] - law.means[:, 0, None]) / law.stds[:, None]
    dens = np.exp(-0.5 * z**2) / (law.stds[:, None] * math.sqrt(2 * math.pi))
    return np.asarray(law.weights @ dens, dtype=np.float64)


def _w1_cdf(f: FloatArray, g: FloatArray, x: FloatArray) -> float:
    """``int |F - G| dx`` on the grid (trapezoid)."""
    return float(np.trapezoid(np.abs(f - g), x))


def pearson_divergence(p_tilde: GaussianMixture, p: GaussianMixture, x: FloatArray | None = None) -> float:
    """``chi^2(p~ || p) = int (p~ - p)^2 / p dx`` of two 1-D mixtures, by quadrature (1).

    ``inf`` where the integrand has not decayed at the grid's ends (``p~`` has heavier tails than
    ``p``, e.g. a Gaussian ``p~`` with twice ``p``'s variance or more).
    """
    _check_1d(p_tilde, p)
    if x is None:
        x = _space_grid([p_tilde, p], 40_001)
    a, b = _pdf(p_tilde, x), _pdf(p, x)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(b > 0, (a - b) ** 2 / b, np.where(a > 0, np.inf, 0.0))
    peak = float(np.max(ratio))
    if not np.isfinite(peak) or max(ratio[0], ratio[-1]) > 1e-10 * max(peak, 1e-300):
        return math.inf
    return float(np.trapezoid(ratio, x))


def _space_grid(
    laws: list[GaussianMixture], n: int, width: float = 12.0, refine: tuple[GaussianMixture, ...] = ()
) -> FloatArray:
    """Uniform over ``width`` stds of every component of ``laws``, plus ``n // 8`` points within
    8 stds of each component of ``refine`` (narrow data next to a wide VE / EDM prior)."""
    lo = min(float(np.min(law.means[:, 0] - width * law.stds)) for law in laws)
    hi = max(float(np.max(law.means[:, 0] + width * law.stds)) for law in laws)
    parts = [np.linspace(lo, hi, n)]
    for law in refine:
        for m, sd in zip(law.means[:, 0], law.stds, strict=True):
            parts.append(np.linspace(max(lo, m - 8 * sd), min(hi, m + 8 * sd), max(n // 8, 50)))
    return np.unique(np.concatenate(parts))


def _time_grid(tau: float, n: int) -> FloatArray:
    """``[0, tau]``: uniform, refined geometrically towards 0 (where VE / EDM change fastest)."""
    return np.unique(np.concatenate([np.linspace(0.0, tau, n), np.geomspace(tau * 1e-6, tau, n // 2)]))


def _velocity(
    law_t: GaussianMixture, process: LinearProcess, t: float, x: FloatArray, score: FloatArray | None = None
) -> FloatArray:
    """Probability-flow velocity ``f (x - c) - D s`` (length / time); ``s`` the exact score unless given."""
    f, g = float(process.drift_coefficient(t)), float(process.diffusion(t))
    s = law_t.score(x[:, None])[:, 0] if score is None else score
    return f * (x - process.centre) - 0.5 * g * g * s


def _speed_sq(data: GaussianMixture, process: LinearProcess, t: FloatArray, x: FloatArray) -> FloatArray:
    """``E_{p_t} |nu_t|^2`` at each time, by quadrature on the grid (length^2 / time^2)."""
    out = np.empty(len(t))
    for i, ti in enumerate(t):
        law = data.transported(process, float(ti))
        out[i] = np.trapezoid(_velocity(law, process, float(ti), x) ** 2 * _pdf(law, x), x)
    return out


def start_law(process: LinearProcess, t_end: float, *, shift: float = 0.0, scale: float = 1.0) -> GaussianMixture:
    """The reference prior ``N(c, s^2)`` of :func:`dustsim.schedule_theory.speed_accuracy.reference_prior`, shifted by
    ``shift`` (length) and its standard deviation multiplied by ``scale``: a controlled start error."""
    c, s = reference_prior(process, t_end)
    return GaussianMixture(np.array([[c + shift]]), np.array([s * scale]), np.array([1.0]))


# ------------------------------------------------------------- complete estimation
@dataclass(frozen=True)
class CompleteEstimation:
    """Every term of the speed-accuracy chain for the exact velocity (paper Eqs. 77-83).

    Attributes
    ----------
    tau : float
        Duration of the reverse process (time units).
    d0 : float
        ``chi^2(p~_tau || p_tau)`` (1).
    w1_start, w1_end, delta_w1 : float
        ``W1(p_tau, p~_tau)``, ``W1(q, p)`` and their difference (length).
    response : float
        ``eta = delta_w1^2 / (tau d0)`` (length^2 / time).
    loss_action : float
        ``int v_loss^2 dt`` estimated from below by ``sum (dW1)^2 / (dt d0)`` over the time grid.
    action : float
        ``Sigma = int E|nu|^2 dt`` (length^2 / time; trapezoid on the time grid).
    geodesic_action : float
        ``W2(q, p_tau)^2 / tau``, the least action of any path between the same ends in the same
        time (Eq. 92; equality for the constant-speed W2 geodesic) (length^2 / time).
    times, w1, speed_sq : ndarray
        The time grid, ``W1(p_t, p~_t)`` and ``E|nu_t|^2`` on it.
    local_ok : bool
        ``(dW1 / dt)^2 / d0 <= mean of E|nu|^2`` on every interval of the grid (Eq. 80, tolerance
        ``rtol`` of the largest rate plus trapezoid error of the interval mean).
    """

    tau: float
    d0: float
    w1_start: float
    w1_end: float
    delta_w1: float
    response: float
    loss_action: float
    action: float
    geodesic_action: float
    times: FloatArray
    w1: FloatArray
    speed_sq: FloatArray
    local_ok: bool

    @property
    def holds(self) -> bool:
        """Whether ``eta <= int v_loss^2 <= Sigma`` and the local relation hold (relative tolerance 1e-3)."""
        tol = 1e-3 * max(self.action, 1e-300)
        return bool(self.response <= self.loss_action + tol and self.loss_action <= self.action + tol and self.local_ok)


def complete_estimation(
    data: GaussianMixture,
    process: LinearProcess,
    start: GaussianMixture | None = None,
    *,
    t_end: float | None = None,
    n_times: int = 400,
    n_space: int = 8001,
) -> CompleteEstimation:
    """The speed-accuracy chain for 1-D mixture data, exact velocity, start law ``start``.

    Parameters
    ----------
    data : GaussianMixture
        The data law ``q`` (1-D, positive component stds).
    process : LinearProcess
        The schedule.
    start : GaussianMixture, optional
        The law ``p~_tau`` the reverse process starts from (default: the reference prior, see
        :func:`start_law`).
    t_end : float, optional
        ``tau`` (default :func:`dustsim.schedule_theory.speed_accuracy.end_time`).
    n_times, n_space : int
        Points of the time and space grids.
    """
    tau = end_time(process, t_end)
    start = start if start is not None else start_law(process, tau)
    _check_1d(data, start)
    times = _time_grid(tau, n_times)
    laws = [data.transported(process, float(t)) for t in times[:: max(1, len(times) // 40)]]
    end_law = data.transported(process, tau)
    x = _space_grid([*laws, end_law, start], n_space, refine=(data, start))
    f_tau = _cdf(end_law, x)
    g_cdf = _cdf(start, x)
    # exact transport of the start law: F~_t = G o Q_tau o F_t (monotone rearrangement)
    keep = np.concatenate([[True], np.diff(f_tau) > 0])
    w1 = np.empty(len(times))
    for i, t in enumerate(times):
        f_t = _cdf(data.transported(process, float(t)), x)
        w1[i] = _w1_cdf(f_t, np.interp(np.interp(f_t, f_tau[keep], x[keep]), x, g_cdf), x)
    d0 = pearson_divergence(start, end_law, x)
    speed = _speed_sq(data, process, times, x)
    dt = np.diff(times)
    dw = np.diff(w1)
    loss_action = float(np.sum(dw**2 / dt)) / d0 if d0 > 0 else 0.0
    action = float(np.trapezoid(speed, times))
    mean_speed = 0.5 * (speed[1:] + speed[:-1])
    slack = 1e-3 * float(np.max(speed)) + 0.5 * np.abs(np.diff(speed))
    local_ok = bool(np.all(dw**2 / dt**2 / d0 <= mean_speed + slack)) if d0 > 0 else True
    delta = float(w1[0] - w1[-1])  # w1[0]: W1(q, p) at t = 0; w1[-1]: the start, at t = tau
    u = (np.arange(20_000) + 0.5) / 20_000
    f_0 = _cdf(data, x)
    keep0 = np.concatenate([[True], np.diff(f_0) > 0])
    w2_sq = float(np.mean((np.interp(u, f_0[keep0], x[keep0]) - np.interp(u, f_tau[keep], x[keep])) ** 2))
    return CompleteEstimation(
        tau=tau,
        d0=d0,
        w1_start=float(w1[-1]),
        w1_end=float(w1[0]),
        delta_w1=delta,
        response=delta**2 / (tau * d0) if d0 > 0 else 0.0,
        loss_action=loss_action,
        action=action,
        geodesic_action=w2_sq / tau,
        times=times,
        w1=w1,
        speed_sq=speed,
        local_ok=local_ok,
    )


# ----------------------------------------------------------- incomplete estimation
@dataclass(frozen=True)
class IncompleteEstimation:
    """Both sides of the incomplete-estimation relation (Eq. 100 / F5) for one sampler run.

    Attributes
    ----------
    tau, nfe : float, int
        Duration and number of Euler steps (score evaluations).
    delta_w1 : float
        Measured ``W1(q, p) - W1(p_tau, p~_tau)`` (length).
    w1_generated : float
        Measured ``W1(q, p)`` (length).
    d_max : float
        ``max_t chi^2(p~_t || p_t)`` over the step ends and quadrature nodes, estimated from the
        quantiles (misses the outermost ``1 / n`` of the mass; good to a few per cent for 4000
        quantiles of a bimodal law, worst across low-density gaps).
    d_end : float
        ``chi^2(p || q)`` of the generated and the data law, by the same estimator.
    action : float
        ``Sigma`` (length^2 / time).
    velocity_error : float
        ``Lambda = int E_{p_t} |nu_t - nu~_t|^2 dt`` (length^2 / time).
    bound : float
        ``sqrt(tau d_max Sigma) + sqrt(1 + d_max) sqrt(tau Lambda)`` (length); NaN where a step's
        map is not monotone (no velocity field: the relation does not apply).
    """

    tau: float
    nfe: int
    delta_w1: float
    w1_generated: float
    d_max: float
    d_end: float
    action: float
    velocity_error: float
    bound: float

    @property
    def holds(self) -> bool:
        """Whether ``abs(delta_w1) <= bound`` (NaN bound: False)."""
        return bool(abs(self.delta_w1) <= self.bound)


def _chi2_from_quantiles(xq: FloatArray, law: GaussianMixture) -> float:
    """``chi^2(p~ || p)`` from the quantiles ``xq`` of ``p~`` at levels ``(i + 1/2) / n``:
    ``1 + chi^2 = E_{p~}[p~ / p]``, ``p~`` between neighbours ``(1 / n) / dx``."""
    n = len(xq)
    dx = np.diff(xq)
    mid = 0.5 * (xq[1:] + xq[:-1])
    with np.errstate(divide="ignore", over="ignore"):
        ratio = (1.0 / n) / dx / _pdf(law, mid)
    return max(float(np.sum(ratio) / n) - 1.0, 0.0)


def incomplete_estimation(
    data: GaussianMixture,
    process: LinearProcess,
    nfe: int,
    score: Score | None = None,
    start: GaussianMixture | None = None,
    *,
    t_end: float | None = None,
    n_quantiles: int = 4000,
    n_space: int = 8001,
    nodes: int = 4,
    action: float | None = None,
) -> IncompleteEstimation:
    """Run the Euler probability-flow sampler and evaluate Eq. F5 for it.

    The sampler: ``x <- x - h nu_hat(x, t_{k+1})`` from ``t_N = tau`` to ``t_0 = 0`` on the uniform
    grid, ``nu_hat = f (x - c) - D s_hat``. Its Eulerian velocity at ``t`` in step k is
    ``nu_hat(M^{-1}(y), t_{k+1})``, ``M`` the step's map from ``t_{k+1}`` to ``t``.

    Parameters
    ----------
    data, process, start, t_end
        As :func:`complete_estimation`.
    nfe : int
        Euler steps.
    score : callable, optional
        ``s_hat(x, t)`` on points of shape (n, 1) (default: the exact score).
    n_quantiles : int
        Quantile levels of ``p~_tau`` transported by the sampler.
    n_space : int
        Points of the space grid on which ``Lambda`` is integrated.
    nodes : int
        Gauss-Legendre nodes per step for ``Lambda`` and ``D_max``.
    action : float, optional
        ``Sigma`` if already known (e.g. the ``action`` of a :class:`CompleteEstimation`); computed otherwise.
    """
    if nfe < 1:
        raise ConfigError(f"nfe must be a positive integer, got {nfe}")
    tau = end_time(process, t_end)
    start = start if start is not None else start_law(process, tau)
    _check_1d(data, start)
    grid = np.linspace(0.0, tau, nfe + 1)
    end_law = data.transported(process, tau)
    probe = [data.transported(process, float(t)) for t in np.linspace(0, tau, 41)]
    x = _space_grid([*probe, start], n_space, refine=(data, start))
    u = (np.arange(n_quantiles) + 0.5) / n_quantiles
    g_cdf = _cdf(start, x)
    xq = np.interp(u, g_cdf, x)  # quantiles of the start law
    w1_start = float(np.mean(np.abs(xq - np.interp(u, _cdf(end_law, x), x))))
    d_max = _chi2_from_quantiles(xq, end_law)
    gl_x, gl_w = np.polynomial.legendre.leggauss(nodes)
    lam = 0.0
    d_end = math.nan
    monotone = True
    exact: Score = data.score_function(process)
    s_hat = score if score is not None else exact
    for k in range(nfe, 0, -1):
        t1, t0 = float(grid[k]), float(grid[k - 1])
        law1 = data.transported(process, t1)
        v_grid = _velocity(law1, process, t1, x, s_hat(x[:, None], t1)[:, 0])
        v_q = _velocity(law1, process, t1, xq, s_hat(xq[:, None], t1)[:, 0])
        for node, wgt in zip(gl_x, gl_w, strict=True):
            if not monotone:
                break
            t = t0 + 0.5 * (node + 1.0) * (t1 - t0)
            mapped = x + (t - t1) * v_grid  # M(x): where grid points at t1 are at time t
            if np.any(np.diff(mapped) <= 0):
                monotone = False
                break
            law_t = data.transported(process, t)
            v_tilde = np.interp(x, mapped, v_grid)  # nu~_t(y) = v(M^{-1}(y)), constant beyond the range
            dnu = _velocity(law_t, process, t, x) - v_tilde
            lam += 0.5 * (t1 - t0) * wgt * float(np.trapezoid(dnu**2 * _pdf(law_t, x), x))
            d_max = max(d_max, _chi2_from_quantiles(xq + (t - t1) * v_q, law_t))
        xq = xq + (t0 - t1) * v_q  # the sampler runs on even where the relation does not apply
        d_end = _chi2_from_quantiles(np.sort(xq), data.transported(process, t0))
        d_max = max(d_max, d_end)
    w1_gen = float(np.mean(np.abs(np.sort(xq) - np.interp(u, _cdf(data, x), x))))
    if action is None:
        times = _time_grid(tau, 400)
        action = float(np.trapezoid(_speed_sq(data, process, times, x), times))
    bound = (math.sqrt(tau * d_max * action) + math.sqrt(1.0 + d_max) * math.sqrt(tau * lam)) if monotone else math.nan
    return IncompleteEstimation(
        tau=tau,
        nfe=int(nfe),
        delta_w1=w1_gen - w1_start,
        w1_generated=w1_gen,
        d_max=d_max,
        d_end=d_end,
        action=action,
        velocity_error=lam,
        bound=bound,
    )


# ------------------------------------------------------------ any dimension: D0
def pearson_to_prior(
    data: GaussianMixture, process: LinearProcess, t_end: float | None = None, *, n_samples: int = 20_000, seed: int = 0
) -> tuple[float, float]:
    """``chi^2(pi || p_tau)`` for the reference prior ``pi`` in any dimension, with its standard error.

    Monte Carlo ``chi^2 = E_{p_tau}[(pi / p_tau - 1)^2]`` over draws of ``p_tau`` (1): never
    negative, and its relative error stays small when ``chi^2`` is (the estimator
    ``E_pi[pi / p_tau] - 1`` does not). The SE is that of the sample mean, reliable only when
    ``E_{p_tau}[(pi / p_tau)^4]`` is finite (``pi`` not much wider than ``p_tau``).
    """
    tau = end_time(process, t_end)
    c, s = reference_prior(process, tau)
    d = data.dim
    law = data.transported(process, tau)
    y = law.sample(n_samples, seed)
    log_pi = -0.5 * np.sum(((y - c) / s) ** 2, axis=1) - d * math.log(s * math.sqrt(2 * math.pi))
    dev = (np.exp(log_pi - law.logpdf(y)) - 1.0) ** 2
    return float(np.mean(dev)), float(np.std(dev, ddof=1) / math.sqrt(n_samples))
