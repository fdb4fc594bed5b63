"""The small result object every estimator returns: a value with its standard error."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

Units = Literal["nats", "bits"]
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

    Unpacks as ``value, se = estimate`` and converts with ``float(estimate)``.

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
    """

    value: float
    se: float
    units: str = "nats"
    estimator: str = ""
    n: int = 0
    dim: int = 0
    params: Mapping[str, Any] = field(default_factory=dict)
    n_ties: int = 0
    degenerate: bool = False
    note: str = ""

    def __iter__(self) -> Iterator[float]:
        yield self.value
        yield self.se

    def __float__(self) -> float:
        return float(self.value)

    def to(self, units: str) -> Estimate:
        """The same estimate in ``units`` (``"nats"`` or ``"bits"``)."""
        factor = nats_to(units) / nats_to(self.units)
        return replace(self, value=self.value * factor, se=self.se * factor, units=units)
