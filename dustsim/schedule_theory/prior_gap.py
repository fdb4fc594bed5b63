"""How far the end of a forward run is from the prior a sampler starts from: ``KL(p_T || pi)``.

One check for every run (simulate, sweep, train, sample). ``pi`` is the reference prior of
:func:`dustsim.schedule_theory.speed_accuracy.reference_prior` (the stationary law, or ``N(c, sigma(T)^2 I)`` for
processes without one). ``p_T`` is the law of ``X_T = c + alpha(T) (X_0 - c) + sigma(T) Z``:

- ``gmm`` artifacts: ``X_0`` has a known mixture law and ``p_T`` is a mixture; KL by Monte Carlo
  with both exact densities (closed form for one Gaussian). Unbiased.
- other data: ``X_0`` is replaced by the empirical law of (at most ``max_points`` of) the
  points, so ``p_T`` is an equal-weight mixture of ``N(c + alpha (x_i - c), sigma^2 I)``. By
  convexity of KL this *over*-estimates the gap on average (by about the information the
  finite sample leaves in ``X_T``; negligible once ``alpha(T) * spacing << sigma(T)``), so the
  warning errs on the side of warning.

The gap is compared with the data's own sampling noise, ``d (d + 3) / (4 n)`` nats: the expected
KL between a Gaussian and its maximum-likelihood fit to the same n points (its mean and
covariance, ``d + d (d + 1) / 2`` parameters, ``k / (2 n)`` to leading order). Below it no
finite data set could tell ``p_T`` from ``pi``; above it (by three standard errors) the run
warns, with the number and the option to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..mixture import GaussianMixture
from ..processes import LinearProcess, VarianceExploding
from .speed_accuracy import prior_gap_mixture, reference_prior

#: mixture components used for data without a known law
MAX_POINTS = 500
#: Monte Carlo samples of the KL
N_SAMPLES = 5000


def kl_text(kl: float, se: float) -> str:
    """``KL +- SE nats`` for a message; a negative estimate says it is 0 within noise (unbiased: it can dip below 0)."""
    text = f"{kl:.3g}" + (f" +- {se:.2g}" if se > 0 else "") + " nats"
    if kl < 0:
        text += ", i.e. 0 within noise"
    return text


@dataclass(frozen=True)
class PriorGap:
    """``KL(p_T || pi)`` of a run (nats), its standard error and the sampling-noise floor."""

    kl: float
    se: float
    method: str
    noise_floor: float
    t_end: float
    prior_mean: tuple[float, ...]
    prior_std: float

    @property
    def exceeds(self) -> bool:
        """Whether the gap is larger than the data's sampling noise (by 3 standard errors)."""
        return bool(self.kl > self.noise_floor + 3.0 * (self.se if math.isfinite(self.se) else 0.0))

    def describe(self) -> str:
        """One line: ``KL(p_T || prior) = ... nats``."""
        return (
            f"prior gap KL(p_T || {self.prior_text()}) at T = {self.t_end:.4g}: "
            f"{kl_text(self.kl, self.se)} ({self.method}; data sampling noise {self.noise_floor:.2g} nats)"
        )

    def warning(self, hint: str) -> str:
        """The warning text, ending with what to change (``hint``)."""
        return (
            f"the process does not reach its prior: KL(p_T || prior) = {self.kl:.3g} nats exceeds the data's "
            f"sampling noise ({self.noise_floor:.2g} nats); {hint}"
        )

    def attrs(self) -> dict[str, Any]:
        """Dataset attributes (``prior_gap_kl`` ... ; see ``docs/schema.md``)."""
        return {
            "prior_gap_kl": self.kl,
            "prior_gap_kl_se": self.se,
            "prior_gap_method": self.method,
            "prior_gap_noise_floor": self.noise_floor,
            "prior_gap_t_end": self.t_end,
            "prior_gap_prior": self.prior_text(),
        }

    def prior_text(self) -> str:
        """``N(mean, std^2 I)`` (a scalar mean when every axis has the same)."""
        m = np.asarray(self.prior_mean)
        mean = f"{m[0]:g}" if np.all(m == m[0]) else "(" + ", ".join(f"{v:.4g}" for v in m) + ")"
        return f"N({mean}, {self.prior_std:.6g}^2 I)"


def noise_floor(n: int, dim: int) -> float:
    """``d (d + 3) / (4 n)`` nats: the expected KL of a Gaussian fit to n points (see the module docstring)."""
    return dim * (dim + 3) / (4.0 * max(int(n), 1))


def hint(process: LinearProcess) -> str:
    """The option that closes the gap (``dustsim simulate`` flags), for the message."""
    name = process.name

    def raise_(param: str) -> str:  # the current value, and twice it as the example
        now = getattr(process, param, None)
        if now is None:  # set from the data at run time
            return f"raise {param} (--process-param {param}=...)"
        return f"raise {param} (now {float(now):g}; e.g. --process-param {param}={2 * float(now):g})"

    if name in ("vp", "sub-vp"):
        return raise_("beta_max") + " or --t-end"
    if name == "ou":
        return raise_("k") + " or --t-end"
    if isinstance(process, VarianceExploding) or name == "edm":
        return raise_("sigma_max")
    if name in ("vp-cosine", "fm", "ot"):
        return "run to --t-end 1"
    return "raise --t-end"


def warns_for(process: LinearProcess) -> bool:
    """Whether a large gap warns: processes with a stationary law and the VE family (not Brownian
    motion, which has no prior a sampler would start from)."""
    return bool(process.has_stationary or isinstance(process, VarianceExploding) or process.name == "edm")


def describe_attrs(attrs: dict[str, Any]) -> str | None:
    """The one-line report of a dataset's recorded prior gap (None if it has none)."""
    if "prior_gap_kl" not in attrs:
        return None
    se = float(attrs.get("prior_gap_kl_se", 0.0))
    return (
        f"prior gap KL(p_T || {attrs.get('prior_gap_prior', 'prior')}) = "
        f"{kl_text(float(attrs['prior_gap_kl']), se)} ({attrs.get('prior_gap_method', '?')}; data sampling noise "
        f"{float(attrs.get('prior_gap_noise_floor', 0.0)):.2g} nats)"
    )


def prior_gap(
    process: LinearProcess,
    t_end: float,
    *,
    x0: ArrayLike | None = None,
    mixture: GaussianMixture | None = None,
    n_data: int | None = None,
    n_samples: int = N_SAMPLES,
    max_points: int = MAX_POINTS,
    seed: int = 0,
    prior: tuple[ArrayLike, float] | None = None,
) -> PriorGap:
    """``KL(p_T || pi)`` for data of known law (``mixture``) or given points (``x0``).

    Parameters
    ----------
    process : LinearProcess
    t_end : float
        End time of the forward run.
    x0 : array of shape (n, d), optional
        The data (used when ``mixture`` is None; also sets n for the noise floor).
    mixture : GaussianMixture, optional
        The exact law of the data.
    n_data : int, optional
        Number of data points for the noise floor (default ``len(x0)``).
    n_samples, max_points, seed
        Monte Carlo size, components kept for point data, and seed.
    prior : (mean, std), optional
        An isotropic Gaussian prior other than the reference one (a model's moment-matched prior).
    """
    centre, std = reference_prior(process, t_end) if prior is None else (prior[0], float(prior[1]))
    if mixture is None:
        if x0 is None:
            raise ValueError("prior_gap needs the data (x0) or its law (mixture)")
        pts = np.asarray(x0, dtype=np.float64)
        n = len(pts) if n_data is None else n_data
        if len(pts) > max_points:
            pts = pts[np.random.default_rng(seed).choice(len(pts), max_points, replace=False)]
        law = GaussianMixture(pts, np.zeros(len(pts)), np.full(len(pts), 1.0 / len(pts)))
        method = "empirical" if len(pts) == n else f"empirical ({len(pts)} of {n} points)"
    else:
        law, method = mixture, "exact" if mixture.n_components == 1 else "mixture"
        n = n_data if n_data is not None else (len(np.asarray(x0)) if x0 is not None else 0)
    if float(process.sigma(t_end)) == 0.0:
        kl, se = math.inf, 0.0
    else:
        kl, se = prior_gap_mixture(law, process, t_end, n_samples=n_samples, seed=seed, prior=prior)
    floor = noise_floor(n, law.dim) if n else 0.0
    mean = tuple(float(v) for v in np.broadcast_to(np.asarray(centre, dtype=np.float64), (law.dim,)))
    return PriorGap(float(kl), float(se), method, floor, float(t_end), mean, float(std))


def data_prior_gap(
    process: LinearProcess,
    t_end: float,
    x0: ArrayLike,
    mixture: GaussianMixture | None,
    *,
    seed: int,
    prior: tuple[ArrayLike, float] | None = None,
) -> PriorGap:
    """The prior check of a run's data: :func:`prior_gap` of the points ``x0`` (shape (n, d)).

    Exact when the data's law is known (``mixture``, used only if its dimension is the
    points'), else from the empirical law of the points. The one check both the
    simulator and model training run.
    """
    pts = np.asarray(x0)
    if mixture is not None and mixture.dim != pts.shape[1]:
        mixture = None
    return prior_gap(process, t_end, x0=pts, mixture=mixture, seed=seed, prior=prior)


def prior_warning(gap: PriorGap, process: LinearProcess, consequence: str = "") -> str | None:
    """A warning message if the process ends before it has forgotten the data, else None.

    ``KL(p_T || prior)`` must not exceed the data's own sampling noise; the message gives
    the KL, the option to change and ``consequence``. Brownian motion, which no diffusion
    model uses as its forward process, records the gap without a warning.
    """
    if not gap.exceeds or not warns_for(process):
        return None
    return gap.warning(hint(process) + consequence)


__all__ = [
    "MAX_POINTS",
    "PriorGap",
    "data_prior_gap",
    "describe_attrs",
    "hint",
    "noise_floor",
    "prior_gap",
    "prior_warning",
    "warns_for",
]
