"""What an entropy trajectory computes: the options of :func:`~analysis.trajectory.entropy_trajectory`.

One frozen object holds every option that changes the numbers (estimators, k, subsample
sizes, seed, units, which extra quantities, bin widths, neighbour backend); it is
validated once, here, and it keys the resumable checkpoint (:mod:`analysis.checkpoint`):
two runs with equal options on the same trajectory compute the same frames. Options that
only say *how* the work is run (progress bar, history line, serial or dask, checkpoint
directory) are not part of it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from dustsim.errors import ConfigError

from .neighbors import Backend
from .result import check_units

#: entropy estimators of a frame (the ``estimator`` dimension)
ESTIMATORS = ("knn", "knn-max", "binned", "gaussian", "kde")
#: estimators of I(X_0; X_t): KSG, or the conditional-denoiser MINDE estimator (:mod:`analysis.diffusion_mi`)
MI_ESTIMATORS = ("ksg", "diffusion")
BACKENDS = ("auto", "grid", "kdtree")


def _count_or_none(name: str, value: Any) -> int | None:
    """An integer >= 2, or None (all); ConfigError otherwise (``True`` is not a count)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2:
        raise ConfigError(f"{name} must be an integer >= 2 (or None for all), got {value!r}")
    return int(value)


@dataclass(frozen=True)
class EntropyOptions:
    """The analysis options of :func:`~analysis.trajectory.entropy_trajectory` (see it for each field).

    Built from the keyword arguments of ``entropy_trajectory``; validated on
    construction (:class:`~dustsim.errors.ConfigError` for a bad value) and normalised
    (``estimators`` and ``scales`` become tuples). ``k`` is checked against the number of
    particles later, when the data are known.

    Attributes
    ----------
    estimators : tuple of str
        Entropy estimators, a subset of :data:`ESTIMATORS`.
    k : int
        Neighbour rank of the kNN estimators and of KSG.
    max_particles : int or None
        Particles per frame (a fixed random subsample); None: all.
    seed : int
        Seed of the subsample, tie-breaking jitter and Monte Carlo draws (realization
        ``r`` of an ensemble uses ``seed + r``).
    units : {"nats", "bits"}
    kl, mutual_information : bool
        Whether to add the relative entropy to the stationary law and I(X_0; X_t).
    mi_max_particles : int or None
        Pairs used by the mutual-information estimator.
    exact : bool or None
        Exact entropy of a Gaussian-mixture artifact (None: when possible).
    exact_samples : int
        Monte Carlo draws per frame of the exact entropy.
    scales : tuple of float
        Coarse-graining bin widths (length units); empty for none.
    bin_width : float or None
        Bin width of the ``binned`` estimator (None: Scott's rule per frame).
    backend : {"auto", "grid", "kdtree"}
        Neighbour search.
    mi_estimator : {"ksg", "diffusion"}
    """

    estimators: tuple[str, ...] = ("knn",)
    k: int = 4
    max_particles: int | None = 200_000
    seed: int = 0
    units: str = "nats"
    kl: bool = True
    mutual_information: bool = True
    mi_max_particles: int | None = 10_000
    exact: bool | None = None
    exact_samples: int = 100_000
    scales: tuple[float, ...] = field(default=())
    bin_width: float | None = None
    backend: Backend = "auto"
    mi_estimator: str = "ksg"

    def __post_init__(self) -> None:
        check_units(self.units)
        for name in ("max_particles", "mi_max_particles"):
            object.__setattr__(self, name, _count_or_none(name, getattr(self, name)))
        exact_samples = _count_or_none("exact_samples", self.exact_samples)
        if exact_samples is None:
            raise ConfigError("exact_samples must be an integer >= 2, got None")
        object.__setattr__(self, "exact_samples", exact_samples)
        if isinstance(self.estimators, str):  # one name, not its letters
            raise ConfigError(f"estimators must be a sequence of names, got the string {self.estimators!r}")
        estimators = tuple(self.estimators)
        unknown = [e for e in estimators if e not in ESTIMATORS]
        if unknown or not estimators:
            bad = unknown[0] if unknown else "(none)"
            raise ConfigError(f"unknown estimator {bad!r}; choose from {', '.join(ESTIMATORS)}")
        object.__setattr__(self, "estimators", estimators)
        if self.mi_estimator not in MI_ESTIMATORS:
            raise ConfigError(
                f"unknown mutual-information estimator {self.mi_estimator!r}; choose from {', '.join(MI_ESTIMATORS)}"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        scales = tuple(float(s) for s in (self.scales or ()))
        if any(not (s > 0 and math.isfinite(s)) for s in scales):
            raise ConfigError(f"coarse-graining scales must be positive, got {list(scales)}")
        object.__setattr__(self, "scales", scales)

    @classmethod
    def from_keywords(
        cls, *, estimators: Sequence[str], scales: Sequence[float] | None, **options: Any
    ) -> EntropyOptions:
        """The options from ``entropy_trajectory``'s keywords (sequences become tuples)."""
        if isinstance(estimators, str):
            raise ConfigError(f"estimators must be a sequence of names, got the string {estimators!r}")
        return cls(estimators=tuple(estimators), scales=tuple(scales or ()), **options)

    def key(self) -> dict[str, Any]:
        """A JSON-serialisable record of the options (keys the checkpoint)."""
        return asdict(self)


__all__ = ["ESTIMATORS", "MI_ESTIMATORS", "EntropyOptions"]
