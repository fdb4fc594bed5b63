"""The exact law of a Gaussian-mixture artifact under a linear process.

A mixture ``p_0 = sum_k w_k N(mu_k, s_k^2 I)`` stays a mixture under every linear
process: ``p_t = sum_k w_k N(c + alpha (mu_k - c), (alpha^2 s_k^2 + sigma^2) I)``. Its
density and score are known in closed form, which makes it the reference for the score
model (score error per time, log-likelihood) and for the samplers (a model-free exact
score). The law is read from the ``[artifact]`` table that the simulator records.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError
from ..processes import LinearProcess
from ..schema import trajectory_config
from .preconditioning import ScoreFn


@dataclass(frozen=True)
class GaussianMixture:
    """An isotropic Gaussian mixture ``sum_k w_k N(mu_k, s_k^2 I)``.

    Attributes
    ----------
    means : ndarray, shape (K, d)
        Component means (length units).
    stds : ndarray, shape (K,)
        Component standard deviations per axis (length units).
    weights : ndarray, shape (K,)
        Component weights (sum to 1).
    """

    means: np.ndarray
    stds: np.ndarray
    weights: np.ndarray

    def __post_init__(self) -> None:
        means = np.atleast_2d(np.asarray(self.means, dtype=np.float64))
        stds = np.asarray(self.stds, dtype=np.float64).reshape(-1)
        weights = np.asarray(self.weights, dtype=np.float64).reshape(-1)
        k = means.shape[0]
        if stds.shape != (k,) or weights.shape != (k,) or np.any(stds <= 0) or np.any(weights < 0):
            raise ConfigError("a Gaussian mixture needs K x d means, K positive stds and K non-negative weights")
        object.__setattr__(self, "means", means)
        object.__setattr__(self, "stds", stds)
        object.__setattr__(self, "weights", weights / weights.sum())

    @property
    def dim(self) -> int:
        return int(self.means.shape[1])

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> GaussianMixture:
        """The mixture of a resolved config's ``[artifact]`` table (ConfigError if not a mixture)."""
        table = config.get("artifact", {})
        if not isinstance(table, dict) or table.get("kind") != "gmm" or "means" not in table:
            raise ConfigError("the artifact is not a Gaussian mixture with recorded means, stds and weights")
        scale = float(table.get("scale", 1.0))
        return cls(np.asarray(table["means"]) * scale, np.asarray(table["stds"]) * scale, np.asarray(table["weights"]))

    @classmethod
    def from_trajectory(cls, ds: xr.Dataset) -> GaussianMixture:
        """The initial law recorded in a trajectory's config."""
        return cls.from_config(trajectory_config(ds))

    def marginal(self, process: LinearProcess, t: float) -> GaussianMixture:
        """The law of ``X_t`` when ``X_0`` follows this mixture."""
        a, s = float(process.alpha(t)), float(process.sigma(t))
        c = float(process.centre)
        return GaussianMixture(c + a * (self.means - c), np.sqrt(a**2 * self.stds**2 + s**2), self.weights)

    # ---------------------------------------------------------------- numpy (float64)
    def _log_components(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        d = x.shape[-1]
        sq = ((x[:, None, :] - self.means[None]) ** 2).sum(-1)
        var = self.stds**2
        with np.errstate(divide="ignore"):
            logw = np.log(self.weights)
        return logw - 0.5 * sq / var - 0.5 * d * np.log(2 * np.pi * var)

    def log_density(self, x: np.ndarray) -> np.ndarray:
        """``log p(x)`` for points of shape ``(n, d)`` (nats; log of 1 / length^d)."""
        from scipy.special import logsumexp

        return logsumexp(self._log_components(x), axis=1)

    def score(self, x: np.ndarray) -> np.ndarray:
        """``grad log p(x)``, shape ``(n, d)`` (1 / length)."""
        from scipy.special import softmax

        x = np.asarray(x, dtype=np.float64)
        r = softmax(self._log_components(x), axis=1)
        return np.einsum("nk,nkd->nd", r, (self.means[None] - x[:, None, :]) / self.stds[None, :, None] ** 2)

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` points drawn from the mixture, shape ``(n, d)``."""
        k = rng.choice(len(self.weights), size=n, p=self.weights)
        return self.means[k] + self.stds[k, None] * rng.standard_normal((n, self.dim))

    # --------------------------------------------------------------------- torch
    def torch_score(self, x: torch.Tensor) -> torch.Tensor:
        """:meth:`score` in torch (computed in float64, returned in ``x.dtype``)."""
        means = torch.as_tensor(self.means, device=x.device)
        var = torch.as_tensor(self.stds**2, device=x.device)
        logw = torch.as_tensor(np.log(np.maximum(self.weights, 1e-300)), device=x.device)
        x64 = x.to(torch.float64)
        diff = means[None] - x64[:, None, :]
        logits = logw - 0.5 * diff.square().sum(-1) / var - 0.5 * x.shape[-1] * torch.log(2 * torch.pi * var)
        r = torch.softmax(logits, dim=1)
        return torch.einsum("nk,nkd->nd", r, diff / var[None, :, None]).to(x.dtype)


def mixture_score(mixture: GaussianMixture, process: LinearProcess) -> ScoreFn:
    """The exact score ``grad log p_t(x)`` of a mixture artifact under ``process``, as ``f(x, t)``."""

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        return mixture.marginal(process, t).torch_score(x)

    return score
