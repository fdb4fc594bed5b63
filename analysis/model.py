"""Model-side entropy: from a model's log-likelihood, and from a denoiser by I-MMSE.

These functions take plain callables so that any model can be plugged in (dustsim's score
model exposes a probability-flow ODE log-likelihood and a denoiser); the tests use the
exact Gaussian-mixture stand-ins of :mod:`analysis.gmm`.

Conventions: a *SNR denoiser* is ``denoiser(z, snr) -> x0_hat`` for the channel
``z = sqrt(snr) x0 + eps``, eps ~ N(0, I); :func:`snr_denoiser` builds one from a diffusion
denoiser ``denoiser(x_t, t)`` and its linear process. Entropies in nats unless ``units``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import brentq

from dustsim.errors import ConfigError
from dustsim.processes import LinearProcess, OrnsteinUhlenbeck

from ._input import as_points
from .divergence import gaussian_logpdf, kl_to_density
from .result import Estimate, check_units, nats_to, with_interval

FloatArray = NDArray[np.float64]
SnrDenoiser = Callable[[FloatArray, float], FloatArray]


def model_entropy(
    log_likelihood: Callable[[FloatArray], ArrayLike], samples: ArrayLike, *, units: str = "nats"
) -> Estimate:
    r"""``-E[log p_model(X)]`` from a model's log-likelihood at samples.

    With samples drawn from the model this is the model's entropy; with data samples it is
    the cross-entropy of the data under the model (>= the data's entropy, the gap being
    KL(data || model)).

    Parameters
    ----------
    log_likelihood : callable
        ``log_likelihood(points (n, d)) -> (n,)`` in nats (e.g. a probability-flow ODE
        log-likelihood).
    samples : array_like, shape (n, d)
    units : {"nats", "bits"}

    Returns
    -------
    Estimate
        ``se``: standard deviation of ``-log p`` over ``sqrt(n)``.
    """
    check_units(units)
    pts, _ = as_points(samples, "samples")
    ll = np.asarray(log_likelihood(pts), dtype=np.float64)
    if ll.shape != (len(pts),):
        raise ConfigError(f"log_likelihood must return one value per point, shape ({len(pts)},), got {ll.shape}")
    if not np.all(np.isfinite(ll)):
        raise ConfigError("log_likelihood returned non-finite values")
    f = nats_to(units)
    se = float(np.std(ll, ddof=1)) / math.sqrt(len(ll))
    return with_interval(
        Estimate(
            -float(np.mean(ll)) * f, se * f, units=units, estimator="model-likelihood", n=len(pts), dim=pts.shape[1]
        )
    )


def snr_denoiser(
    denoiser: Callable[[FloatArray, float], FloatArray],
    process: LinearProcess,
    t_range: tuple[float, float] | None = None,
) -> SnrDenoiser:
    """Turn a diffusion denoiser ``denoiser(x_t, t) -> E[x_0 | x_t]`` into an SNR denoiser.

    For ``snr`` the time t with ``alpha(t)^2 / sigma(t)^2 = snr`` is found by root finding
    (the SNR falls with t), and ``x_t = c + sigma(t) z`` (``z = sqrt(snr) (x0 - c) + eps``;
    entropies do not depend on the shift c).

    Parameters
    ----------
    t_range : (float, float), optional
        Times the denoiser is valid on (default ``(1e-6, 1)``, or the process's end).
    """
    lo, hi = t_range if t_range is not None else (1e-6, float(process.t_max or 1.0) * (1 - 1e-9))

    def log_snr(t: float) -> float:
        return float(2.0 * (np.log(process.alpha(t)) - np.log(process.sigma(t))))

    lmax, lmin = log_snr(lo), log_snr(hi)

    def denoise(z: FloatArray, snr: float) -> FloatArray:
        target = math.log(snr)
        if not lmin <= target <= lmax:
            raise ConfigError(
                f"snr {snr:.3g} is outside the process's range [{math.exp(lmin):.3g}, {math.exp(lmax):.3g}]"
            )
        t = brentq(lambda s: log_snr(s) - target, lo, hi, xtol=1e-14, rtol=1e-12)
        return denoiser(process.centre + float(process.sigma(t)) * z, t)

    return denoise


def _noise_rng(seed: int) -> np.random.Generator:
    """The generator of the channel noise: a stream of its own, so that it is independent of
    data a caller may have drawn with ``default_rng(seed)``."""
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x4D4D5345,)))


def _snr_grid(snr_min: float, snr_max: float, n_snr: int) -> FloatArray:
    if not (0 < snr_min < snr_max and n_snr >= 3):
        raise ConfigError("need 0 < snr_min < snr_max and n_snr >= 3")
    return np.geomspace(snr_min, snr_max, n_snr)


def immse_entropy(
    denoiser: SnrDenoiser,
    x0: ArrayLike,
    *,
    snr_min: float = 1e-4,
    snr_max: float = 1e6,
    n_snr: int = 161,
    seed: int = 0,
    units: str = "nats",
) -> tuple[Estimate, xr.Dataset]:
    r"""Entropy of the data from a denoiser's MMSE curve (I-MMSE; Guo, Shamai & Verdú 2005; Kong et al. 2023).

    With :math:`z_\gamma = \sqrt\gamma x + \varepsilon` and the pointwise error
    :math:`e(x, \gamma) = E_\varepsilon|x - \hat x(z_\gamma, \gamma)|^2`,

    .. math:: -\log p(x) = -\log \phi(x) + \tfrac12 \int_0^\infty [e(x,\gamma) - e_\phi(x,\gamma)]\,d\gamma

    where :math:`\phi = N(0, I)` and :math:`e_\phi` uses its exact denoiser
    :math:`\sqrt\gamma z/(1+\gamma)`. Averaged over data x it gives
    :math:`H = \tfrac d2\log 2\pi e - \tfrac12\int_0^\infty (\tfrac{d}{1+\gamma} - \mathrm{mmse}(\gamma))d\gamma`.
    Each sample uses one noise draw for every SNR (common random numbers), which makes the
    Gaussian reference an exact control variate: the integrand then decays like
    :math:`\gamma^{-3/2}`. The integral is the trapezoid rule in :math:`\log\gamma` on
    ``[snr_min, snr_max]`` plus the first-order low-SNR tail
    :math:`\gamma_\min(|x - \bar x|^2 - |x|^2)/2`; the high-SNR tail is neglected
    (about ``(J - d) / snr_max`` with J the Fisher information).

    Parameters
    ----------
    denoiser : callable
        SNR denoiser ``denoiser(z (n, d), snr) -> x0_hat (n, d)`` (see :func:`snr_denoiser`).
        The exact posterior mean gives the entropy of the data law; a learned one gives
        the entropy implied by the model.
    x0 : array_like, shape (n, d)
        Data samples (best near unit scale, where the N(0, I) reference fits).
    snr_min, snr_max, n_snr : float, float, int
        Log-spaced SNR grid.
    seed : int
    units : {"nats", "bits"}

    Returns
    -------
    estimate : Estimate
        Entropy; ``se`` from the spread of the per-sample ``-log p(x_j)`` estimates.
    curve : xr.Dataset
        ``mmse(snr)`` and ``mmse_gaussian(snr)`` (= d/(1+snr)), with ``mmse_se``.
    """
    check_units(units)
    pts, _ = as_points(x0, "x0")
    n, d = pts.shape
    snr = _snr_grid(snr_min, snr_max, n_snr)
    eps = _noise_rng(seed).standard_normal(pts.shape)
    err = np.empty((n, len(snr)))
    err_ref = np.empty((n, len(snr)))
    for i, g in enumerate(snr):
        z = math.sqrt(g) * pts + eps
        xhat = np.asarray(denoiser(z, float(g)), dtype=np.float64)
        if xhat.shape != pts.shape:
            raise ConfigError(f"the denoiser must return shape {pts.shape}, got {xhat.shape}")
        err[:, i] = np.einsum("ij,ij->i", pts - xhat, pts - xhat)
        r = pts - math.sqrt(g) * z / (1.0 + g)
        err_ref[:, i] = np.einsum("ij,ij->i", r, r)
    u = np.log(snr)
    integrand = (err - err_ref) * snr[None, :]  # d gamma = gamma d log(gamma)
    integral = np.sum(0.5 * (integrand[:, 1:] + integrand[:, :-1]) * np.diff(u)[None, :], axis=1)
    mean = pts.mean(axis=0)
    low_tail = snr[0] * (np.einsum("ij,ij->i", pts - mean, pts - mean) - np.einsum("ij,ij->i", pts, pts))
    nll = -gaussian_logpdf(0.0, 1.0)(pts) + 0.5 * (integral + low_tail)
    f = nats_to(units)
    params = {"snr_min": snr_min, "snr_max": snr_max, "n_snr": n_snr}
    est = with_interval(
        Estimate(
            float(np.mean(nll)) * f,
            float(np.std(nll, ddof=1)) / math.sqrt(n) * f,
            units=units,
            estimator="i-mmse",
            n=n,
            dim=d,
            params=params,
        )
    )
    curve = xr.Dataset(
        {
            "mmse": ("snr", err.mean(axis=0), {"units": "length^2", "long_name": "E|x0 - x0_hat|^2"}),
            "mmse_se": ("snr", err.std(axis=0, ddof=1) / math.sqrt(n), {"units": "length^2"}),
            "mmse_gaussian": ("snr", d / (1.0 + snr), {"long_name": "MMSE of N(0, I) data, d/(1+snr)"}),
        },
        coords={"snr": ("snr", snr, {"long_name": "signal-to-noise ratio alpha^2/sigma^2", "units": "1"})},
        attrs={"title": "MMSE curve", "n_samples": n, "dim": d},
    )
    return est, curve


def kl_routes(
    x0: ArrayLike,
    process: LinearProcess,
    *,
    score: Callable[[FloatArray, float], FloatArray] | None = None,
    denoiser: SnrDenoiser | None = None,
    k: int = 4,
    n_times: int = 200,
    t_min: float = 1e-5,
    seed: int = 0,
) -> xr.Dataset:
    r"""KL(p_0 || stationary law) of the data by up to three independent routes, side by side.

    - ``knn``: :math:`-\hat H_\text{kNN} - E\log q` (:func:`analysis.divergence.kl_to_density`);
    - ``entropy_production``: :math:`\int_0^T \tfrac{g^2}{2}E|s(X_t,t) - \nabla\log q(X_t)|^2 dt`
      + KL(p_T || q) (kNN), with :math:`X_t` drawn from the exact forward kernel and the
      given ``score``; trapezoid rule on a grid log-spaced from ``t_min`` (the part below
      ``t_min`` is added as ``t_min`` times the integrand there);
    - ``i-mmse``: :math:`-\hat H_\text{I-MMSE} - E\log q` with the ``denoiser``.

    Parameters
    ----------
    x0 : array_like, shape (n, d)
        Data samples.
    process : LinearProcess
        A process with an invariant stationary law (OU, VP, cosine VP).
    score, denoiser : callable, optional
        ``score(x, t)`` of the forward marginals and an SNR denoiser; a route is skipped
        (NaN) without its callable.

    Returns
    -------
    xr.Dataset
        ``kl(route)`` and ``kl_se(route)`` in nats.
    """
    from .trajectory import INVARIANT_LAW

    pts, _ = as_points(x0, "x0")
    n = len(pts)
    if process.name not in INVARIANT_LAW:
        raise ConfigError(f"process {process.name!r} has no invariant stationary law")
    law = process.stationary()
    if law is None:  # pragma: no cover - every process of INVARIANT_LAW has one
        raise ConfigError(f"process {process.name!r} has no stationary law")
    c, s_eq = law
    logq = gaussian_logpdf(c, s_eq)
    routes = ["knn", "entropy_production", "i-mmse"]
    kl = np.full(3, np.nan)
    se = np.full(3, np.nan)
    kl[0], se[0] = kl_to_density(pts, logq, k)
    rng = _noise_rng(seed)
    if score is not None:
        t_end = 10.0 / process.k if isinstance(process, OrnsteinUhlenbeck) else float(process.t_max or 1.0)
        # the score is only evaluated from t_min on (a learned score is undefined at t = 0);
        # [0, t_min] is added as t_min times the integrand at t_min
        times = np.geomspace(t_min, t_end, n_times)
        rates = np.empty((n, len(times)))
        eps = rng.standard_normal(pts.shape)
        for i, t in enumerate(times):
            mean, std = process.marginal(pts, t)
            xt = mean + std * eps
            w = np.asarray(score(xt, float(t)), dtype=np.float64) + (xt - c) / s_eq**2
            rates[:, i] = 0.5 * float(process.diffusion(t)) ** 2 * np.einsum("ij,ij->i", w, w)
        per_point = np.sum(0.5 * (rates[:, 1:] + rates[:, :-1]) * np.diff(times)[None, :], axis=1)
        per_point += t_min * rates[:, 0]
        mean_t, std_t = process.marginal(pts, t_end)
        residual = kl_to_density(mean_t + std_t * rng.standard_normal(pts.shape), logq, k)
        kl[1] = float(np.mean(per_point)) + residual.value
        se[1] = math.hypot(float(np.std(per_point, ddof=1)) / math.sqrt(n), residual.se)
    if denoiser is not None:
        # entropies are translation invariant: work with x0 - c so the denoiser's channel matches
        h, _ = immse_entropy(denoiser, pts - c, seed=seed)
        cross = -logq(pts)
        kl[2] = -h.value + float(np.mean(cross))
        se[2] = math.hypot(h.se, float(np.std(cross, ddof=1)) / math.sqrt(n))
    return xr.Dataset(
        {
            "kl": ("route", kl, {"units": "nats", "long_name": "KL(p_0 || stationary law)"}),
            "kl_se": ("route", se, {"units": "nats"}),
        },
        coords={"route": routes},
        attrs={"title": "KL to the stationary law by three routes", "process": process.name, "n_samples": n},
    )


__all__ = ["immse_entropy", "kl_routes", "model_entropy", "snr_denoiser"]
