"""Isotropic Gaussian mixtures: the exact law of a ``gmm`` artifact under a linear process.

A dustsim ``gmm`` artifact records its law in the trajectory's config (``[artifact]``
table: ``means``, ``stds``, ``weights``). Under a linear process ``X_t = c + alpha (X_0 - c)
+ sigma Z`` the marginal stays a mixture, ``p_t = sum_k w_k N(c + alpha (mu_k - c),
(alpha^2 s_k^2 + sigma^2) I)``, so its density, score, exact denoiser ``E[X_0 | X_t]`` and
(by Monte Carlo) entropy are all available: the references that the score model
(:mod:`dustsim.model`) and the entropy analysis (:mod:`analysis`) are checked against.
numpy only; the torch score lives in :mod:`dustsim.model.mixture`.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from .errors import ConfigError
from .processes import LinearProcess

FloatArray = NDArray[np.float64]
#: rows per block when evaluating densities (bounds the (rows, components) work arrays)
_ROWS = 1 << 16


def _logsumexp_cols(a: FloatArray) -> FloatArray:
    """``log sum_k exp(a[k, i])`` over the first axis (components first: elementwise, fast)."""
    m = a.max(axis=0)
    m = np.where(np.isfinite(m), m, 0.0)
    return m + np.log(np.exp(a - m).sum(axis=0))


@dataclass(frozen=True)
class GaussianMixture:
    """A mixture of isotropic Gaussians ``sum_k w_k N(mu_k, s_k^2 I)``.

    Attributes
    ----------
    means : ndarray, shape (K, d)
        Component means (length units).
    stds : ndarray, shape (K,)
        Component standard deviations per axis (length units, >= 0; 0 is a point mass).
    weights : ndarray, shape (K,)
        Component weights (normalised to 1).
    """

    means: FloatArray
    stds: FloatArray
    weights: FloatArray

    def __post_init__(self) -> None:
        means = np.atleast_2d(np.asarray(self.means, dtype=np.float64))
        k = means.shape[0]
        stds = np.broadcast_to(np.asarray(self.stds, dtype=np.float64), (k,)).copy()
        weights = np.broadcast_to(np.asarray(self.weights, dtype=np.float64), (k,)).copy()
        if not (np.all(np.isfinite(means)) and np.all(np.isfinite(stds)) and np.all(stds >= 0)):
            raise ConfigError("a Gaussian mixture needs finite means and non-negative standard deviations")
        if np.any(weights < 0) or not weights.sum() > 0:
            raise ConfigError("Gaussian mixture weights must be non-negative and not all zero")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", weights / weights.sum())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_artifact(cls, table: dict[str, Any]) -> GaussianMixture:
        """From a resolved ``[artifact]`` config table of kind ``gmm`` (``scale`` applied)."""
        try:
            scale = float(table.get("scale", 1.0))
            return cls(
                np.asarray(table["means"]) * scale, np.asarray(table["stds"]) * scale, np.asarray(table["weights"])
            )
        except KeyError as exc:
            raise ConfigError(f"the artifact table has no {exc.args[0]!r}: not a resolved gmm artifact") from None

    @classmethod
    def from_trajectory(cls, ds: xr.Dataset) -> GaussianMixture | None:
        """The law of X_0 of a trajectory whose artifact is a Gaussian mixture, else None."""
        from .run_info import RunInfo

        return RunInfo.from_dataset(ds).mixture

    @classmethod
    def from_config(cls, cfg: dict[str, Any]) -> GaussianMixture | None:
        """The law of X_0 recorded in a resolved config whose artifact is a mixture, else None."""
        table = cfg.get("artifact")
        init = str(cfg.get("init", ""))
        kind = table.get("kind", init.partition(":")[0]) if isinstance(table, dict) else None
        if kind != "gmm" or not isinstance(table, dict) or "means" not in table:
            return None
        return cls.from_artifact(table)

    # --------------------------------------------------------------------- basics
    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @property
    def n_components(self) -> int:
        return int(self.means.shape[0])

    def transported(self, process: LinearProcess, t: float, s: float = 0.0) -> GaussianMixture:
        """The law of ``X_t`` when ``X_s`` has this law, under the linear ``process`` (``s <= t``)."""
        if t == s:
            return self
        a_st, b_st = process.transition(s, t)
        a, b, c = float(a_st), float(b_st), process.centre
        return GaussianMixture(c + a * (self.means - c), np.sqrt(a**2 * self.stds**2 + b**2), self.weights)

    def _check(self, x: ArrayLike) -> FloatArray:
        pts = np.asarray(x, dtype=np.float64)
        if pts.ndim == 1 and self.dim == 1:
            pts = pts[:, None]
        if pts.ndim != 2 or pts.shape[1] != self.dim:
            raise ConfigError(f"points must have shape (n, {self.dim}), got {pts.shape}")
        return pts

    def _log_joint(self, x: FloatArray) -> FloatArray:
        """``log w_k + log N(x; mu_k, s_k^2 I)``, shape (K, n): components first, column by column
        (no BLAS call, whose threads only get in the way for these thin products)."""
        var = self.stds**2
        if np.any(var == 0):
            raise ConfigError("the mixture has a point-mass component: it has no density")
        cols = [np.ascontiguousarray(x[:, a]) for a in range(self.dim)]
        out = np.empty((self.n_components, len(x)))
        with np.errstate(divide="ignore"):
            log_w = np.log(self.weights)
        for k in range(self.n_components):
            sq = np.zeros(len(x))
            for a, col in enumerate(cols):
                diff = col - self.means[k, a]
                sq += diff * diff
            out[k] = log_w[k] - 0.5 * sq / var[k] - 0.5 * self.dim * math.log(2.0 * math.pi * var[k])
        return out

    def logpdf(self, x: ArrayLike) -> FloatArray:
        """Log-density at points of shape (n, d) (nats; lengths in the mixture's units)."""
        pts = self._check(x)
        out = np.empty(len(pts))
        for lo in range(0, len(pts), _ROWS):
            out[lo : lo + _ROWS] = _logsumexp_cols(self._log_joint(pts[lo : lo + _ROWS]))
        return out

    def responsibilities(self, x: ArrayLike) -> FloatArray:
        """Posterior component probabilities ``P(k | x)``, shape (n, K)."""
        pts = self._check(x)
        lj = self._log_joint(pts)
        return np.exp(lj - _logsumexp_cols(lj)).T

    def score(self, x: ArrayLike) -> FloatArray:
        """``grad log p(x)`` (1 / length), shape (n, d)."""
        pts = self._check(x)
        out = np.empty_like(pts)
        var = self.stds**2
        for lo in range(0, len(pts), _ROWS):
            xb = pts[lo : lo + _ROWS]
            r = self.responsibilities(xb) / var  # (n, K)
            out[lo : lo + _ROWS] = r @ self.means - r.sum(axis=1, keepdims=True) * xb
        return out

    def base_draws(self, n: int, seed: int | np.random.Generator | None = 0) -> tuple[NDArray[np.int64], FloatArray]:
        """Component labels and standard normals of ``n`` samples (see :meth:`from_draws`)."""
        rng = np.random.default_rng(seed)
        labels = rng.choice(self.n_components, size=n, p=self.weights)
        return labels, rng.standard_normal((n, self.dim))

    def from_draws(self, draws: tuple[NDArray[np.int64], FloatArray]) -> FloatArray:
        """Samples ``mu_k + s_k z`` from base draws: the same draws give coupled samples of related mixtures."""
        labels, z = draws
        return self.means[labels] + self.stds[labels, None] * z

    def sample(self, n: int, seed: int | np.random.Generator | None = 0) -> FloatArray:
        """``n`` samples, shape ``(n, d)``."""
        return self.from_draws(self.base_draws(n, seed))

    def sample_labelled(
        self, n: int, seed: int | np.random.Generator | None = 0
    ) -> tuple[FloatArray, NDArray[np.int64]]:
        """``n`` samples and their component labels."""
        draws = self.base_draws(n, seed)
        return self.from_draws(draws), draws[0]

    # ------------------------------------------------------------------ entropy
    def entropy(
        self,
        n_samples: int = 200_000,
        *,
        seed: int | None = 0,
        draws: tuple[NDArray[np.int64], FloatArray] | None = None,
    ) -> tuple[float, float]:
        r"""Monte Carlo entropy :math:`-E[\log p(X)]` with the exact density: ``(value, se)`` in nats.

        The same ``seed`` (or the same ``draws``, from :meth:`base_draws`) gives the same base
        draws for every mixture of the same shape, so entropies along a trajectory are smooth
        in time (common random numbers). ``se``: standard deviation of ``-log p`` over
        ``sqrt(n_samples)``. A point-mass component gives ``(-inf, nan)``.
        """
        if np.any(self.stds == 0):
            return -math.inf, math.nan
        if draws is None:
            draws = self.base_draws(n_samples, seed)
        terms = -self.logpdf(self.from_draws(draws))
        return float(np.mean(terms)), float(np.std(terms, ddof=1)) / math.sqrt(len(terms))

    def component_entropies(self) -> FloatArray:
        """Entropy of each component, ``(d/2) log(2 pi e s_k^2)`` (nats)."""
        with np.errstate(divide="ignore"):
            return 0.5 * self.dim * np.log(2.0 * math.pi * math.e * self.stds**2)

    def entropy_bounds(self) -> tuple[float, float]:
        r"""``(sum_k w_k H_k, sum_k w_k H_k + H(w))``: lower and upper bounds on the entropy (nats)."""
        w = self.weights[self.weights > 0]
        lower = float(np.sum(self.weights * self.component_entropies()))
        return lower, lower - float(np.sum(w * np.log(w)))

    # ------------------------------------------------------- posterior and scores
    def posterior_mean(self, x: ArrayLike, alpha: float, sigma: float, centre: float = 0.0) -> FloatArray:
        r"""Exact denoiser :math:`E[X_0 \mid X_t = x]`.

        For ``X_t = c + alpha (X_0 - c) + sigma Z`` with X_0 drawn from this mixture.
        """
        pts = self._check(x)
        if sigma == 0:
            return centre + (pts - centre) / alpha
        noisy = GaussianMixture(
            centre + alpha * (self.means - centre), np.sqrt(alpha**2 * self.stds**2 + sigma**2), self.weights
        )
        # per component: E[X_0 | x, k] = mu_k + g_k (x - c - alpha (mu_k - c))
        gain = alpha * self.stds**2 / (alpha**2 * self.stds**2 + sigma**2)  # (K,)
        resid_mean = self.means - gain[:, None] * (centre + alpha * (self.means - centre))  # (K, d)
        out = np.empty_like(pts)
        for lo in range(0, len(pts), _ROWS):
            xb = pts[lo : lo + _ROWS]
            r = noisy.responsibilities(xb)  # (n, K)
            out[lo : lo + _ROWS] = r @ resid_mean + (r @ gain)[:, None] * xb
        return out

    def posterior_sample(
        self, x: ArrayLike, alpha: float, sigma: float, centre: float = 0.0, seed: int | np.random.Generator | None = 0
    ) -> FloatArray:
        r"""One exact draw from :math:`p(X_0 \mid X_t = x)` per row of ``x``.

        For ``X_t = c + alpha (X_0 - c) + sigma Z`` the posterior is again a mixture: the
        component ``k`` with probability ``P(k | x)`` (the responsibilities of the noisy
        mixture), then ``N(mu_k + g_k (x - c - alpha (mu_k - c)), s_k^2 sigma^2 /
        (alpha^2 s_k^2 + sigma^2) I)`` with ``g_k = alpha s_k^2 / (alpha^2 s_k^2 + sigma^2)``.
        """
        pts = self._check(x)
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        if sigma == 0:
            return centre + (pts - centre) / alpha
        var_t = alpha**2 * self.stds**2 + sigma**2
        noisy = GaussianMixture(centre + alpha * (self.means - centre), np.sqrt(var_t), self.weights)
        gain = alpha * self.stds**2 / var_t
        post_std = self.stds * sigma / np.sqrt(var_t)
        out = np.empty_like(pts)
        for lo in range(0, len(pts), _ROWS):
            xb = pts[lo : lo + _ROWS]
            r = noisy.responsibilities(xb)  # (n, K)
            k = (r.cumsum(axis=1) < rng.random((len(xb), 1))).sum(axis=1).clip(0, self.n_components - 1)
            mean = self.means[k] + gain[k, None] * (xb - centre - alpha * (self.means[k] - centre))
            out[lo : lo + _ROWS] = mean + post_std[k, None] * rng.standard_normal(xb.shape)
        return out

    def score_function(self, process: LinearProcess) -> Callable[[FloatArray, float], FloatArray]:
        """``score(x, t) = grad log p_t(x)`` of this mixture transported by ``process``."""

        def score(x: FloatArray, t: float) -> FloatArray:
            return self.transported(process, float(t)).score(x)

        return score

    def denoiser(self, process: LinearProcess) -> Callable[[FloatArray, float], FloatArray]:
        """``denoiser(x_t, t) = E[X_0 | X_t = x_t]`` under ``process`` (the exact MMSE denoiser)."""

        def denoise(x: FloatArray, t: float) -> FloatArray:
            t = float(t)
            return self.posterior_mean(x, float(process.alpha(t)), float(process.sigma(t)), process.centre)

        return denoise


__all__ = ["GaussianMixture"]
