"""The small result object every estimator returns: a value, its standard error, its bias and an interval."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any

UNITS: tuple[str, ...] = ("nats", "bits")


def check_units(units: str) -> str:
    """Return ``units`` if it is ``"nats"`` or ``"bits"``; ConfigError otherwise."""
    from dustsim.errors import ConfigError

    if units not in UNITS:
        raise ConfigError(f"units must be 'nats' or 'bits', got {units!r}")
    return units


def nats_to(units: str) -> float:
    """Factor that converts nats to ``units`` (1 for nats, 1/ln 2 for bits)."""
    return 1.0 if check_units(units) == "nats" else 1.0 / math.log(2.0)


@dataclass(frozen=True)
class Estimate:
    """An information-theoretic estimate and its standard error.

    Built as ``Estimate(value, se, units=..., estimator=..., ...)``: every field after
    ``value`` and ``se`` is keyword-only. Unpacks as ``value, se = estimate`` and converts
    with ``float(estimate)``.

    Attributes
    ----------
    value : float
        The estimate, in ``units``. ``-inf`` for a distribution without a density (all
        points at one place, or on a lower-dimensional subspace): then ``degenerate`` is
        True and ``note`` says why.
    se : float
        Standard error of ``value`` (same units): analytic, from the spread of the
        per-point terms of the estimator (see each estimator). ``nan`` where none is
        available, 0 for an exact value.
    units : {"nats", "bits"}
        Entropy units; bits are nats / ln 2.
    estimator : str
        Name of the estimator, e.g. ``"knn"``.
    n : int
        Number of points used.
    dim : int
        Dimension of the points.
    params : mapping
        The estimator's parameters (k, norm, bin width, bandwidth, ...).
    n_ties : int
        Points whose neighbour distance was zero (exact duplicates) before the ties were
        broken by jitter (0 if there were none).
    degenerate : bool
        The data have no density in ``dim`` dimensions (value ``-inf``).
    note : str
        Anything the caller should know about this estimate (empty if nothing).
    bias : float
        Estimated bias of ``value`` (its expectation minus the truth, same units), e.g.
        from subsample extrapolation (:mod:`analysis.bias`); ``nan`` if not estimated.
    bias_se : float
        Standard error of ``bias`` (``nan`` if not estimated).
    ci_low, ci_high : float
        A ``ci_level`` confidence interval for the true value that includes both the
        sampling error and the bias (and its uncertainty): centred on ``value - bias``
        when the bias is estimated, else ``value -/+ z se`` (which ignores the bias). It
        may be one-sided (``ci_high = inf`` for an estimate at its ceiling) and is clipped
        to the range of the quantity (>= 0 for MI and KL).
    ci_level : float
        Coverage the interval claims (default 0.95).
    """

    value: float
    se: float
    _: KW_ONLY
    units: str = "nats"
    estimator: str = ""
    n: int = 0
    dim: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    n_ties: int = 0
    degenerate: bool = False
    note: str = ""
    bias: float = math.nan
    bias_se: float = math.nan
    ci_low: float = math.nan
    ci_high: float = math.nan
    ci_level: float = 0.95

    @property
    def corrected(self) -> float:
        """``value - bias`` (the bias-corrected estimate; ``value`` if no bias was estimated)."""
        return self.value if math.isnan(self.bias) else self.value - self.bias

    @property
    def ci(self) -> tuple[float, float]:
        """``(ci_low, ci_high)``."""
        return self.ci_low, self.ci_high

    def __iter__(self) -> Iterator[float]:
        yield self.value
        yield self.se

    def __float__(self) -> float:
        return float(self.value)

    def to(self, units: str) -> Estimate:
        """The same estimate in ``units`` (``"nats"`` or ``"bits"``)."""
        factor = nats_to(units) / nats_to(self.units)
        return replace(
            self,
            value=self.value * factor,
            se=self.se * factor,
            units=units,
            bias=self.bias * factor,
            bias_se=self.bias_se * factor,
            ci_low=self.ci_low * factor,
            ci_high=self.ci_high * factor,
        )


def normal_quantile(level: float) -> float:
    """Two-sided standard normal quantile: 1.96 for ``level = 0.95``."""
    from scipy.stats import norm

    if not 0.0 < level < 1.0:
        from dustsim.errors import ConfigError

        raise ConfigError(f"ci_level must be in (0, 1), got {level!r}")
    return float(norm.ppf(0.5 + 0.5 * level))


def with_interval(
    est: Estimate,
    *,
    bias: float = math.nan,
    bias_se: float = math.nan,
    level: float = 0.95,
    lower: float = -math.inf,
    upper_open: bool = False,
    corrected_se: float = math.nan,
) -> Estimate:
    """``est`` with its bias and a confidence interval that includes it.

    Without a bias estimate the interval is ``value -/+ z se``. With one it is centred on
    ``value - bias`` with half-width ``z corrected_se``, the standard error of the
    corrected value (default ``sqrt(se^2 + bias_se^2)``, the two errors added in
    quadrature). ``lower`` clips the interval to the quantity's range (0 for MI and KL);
    ``upper_open`` makes it one-sided (the value is only a lower bound).
    """
    if est.degenerate or not math.isfinite(est.value):
        return replace(est, bias=bias, bias_se=bias_se, ci_low=est.value, ci_high=est.value, ci_level=level)
    z = normal_quantile(level)
    centre, spread = est.value, est.se
    if math.isfinite(bias):
        centre -= bias
        spread = math.hypot(est.se, bias_se if math.isfinite(bias_se) else abs(bias))
        if math.isfinite(corrected_se):
            spread = corrected_se
    low, high = centre - z * spread, centre + z * spread
    if upper_open:
        low, high = min(low, est.value - z * est.se), math.inf
    return replace(est, bias=bias, bias_se=bias_se, ci_low=max(low, lower), ci_high=max(high, lower), ci_level=level)
