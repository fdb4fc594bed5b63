"""The forward SDE ``dX = f(X, t) dt + g(t) dW`` seen by the samplers, in torch.

The samplers only need the drift ``f(x, t)`` and the diffusion ``g(t)`` of the forward
process: the reverse SDE is ``dX = [f - g^2 score] dt + g dW`` (time running backwards)
and the probability-flow ODE is ``dX/dt = f - g^2 score / 2`` (Anderson 1982; Song et al.
2021). For the linear processes of :mod:`dustsim.processes` both come from the process
(``f = f(t) (x - c)``); a non-linear physical process supplies its own drift with
:func:`register_sde` or by building a :class:`ForwardSDE` directly.

Times are reduced (dimensionless) like everywhere in dustsim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError
from ..processes import LinearProcess
from ..run_info import RunInfo

Drift = Callable[[torch.Tensor, Any], torch.Tensor]


@dataclass(frozen=True)
class ForwardSDE:
    """A forward SDE ``dX = f(X, t) dt + g(t) dW`` acting on each particle.

    Attributes
    ----------
    drift : callable ``(x, t) -> tensor``
        ``f(x, t)`` for positions ``x`` of shape ``(n, d)`` at time ``t`` — a float, or a
        tensor of shape ``(n,)`` (one time per particle, as in training batches)
        (length / time).
    diffusion : callable ``t -> float``
        ``g(t)`` for a float ``t`` (length / sqrt(time)); for a tensor ``t`` of shape
        ``(n,)`` it must return a tensor (or a float, if ``g`` is constant).
    name : str
        Process name, as recorded in datasets.
    process : LinearProcess or None
        The linear process, when there is one (gives ``alpha``, ``sigma`` and exact kernels).
    """

    drift: Drift
    diffusion: Callable[[float], float]
    name: str
    process: LinearProcess | None = None

    @property
    def is_linear(self) -> bool:
        return self.process is not None


def linear_sde(process: LinearProcess) -> ForwardSDE:
    """The :class:`ForwardSDE` of a linear process, ``f = f(t) (x - c)``."""
    c = float(process.centre)

    def drift(x: torch.Tensor, t: Any) -> torch.Tensor:
        f: torch.Tensor | float
        if isinstance(t, torch.Tensor) and t.ndim:
            f = torch.as_tensor(
                process.drift_coefficient(t.detach().cpu().double().numpy()), dtype=x.dtype, device=x.device
            )[:, None]
        else:
            f = float(process.drift_coefficient(float(t)))
        return f * (x - c) if c else f * x

    def diffusion(t: Any) -> Any:
        if isinstance(t, torch.Tensor) and t.ndim:
            return torch.as_tensor(process.diffusion(t.detach().cpu().double().numpy()), device=t.device)
        return float(process.diffusion(float(t)))

    return ForwardSDE(drift=drift, diffusion=diffusion, name=process.name, process=process)


def equilibrium_score(sde: ForwardSDE) -> Callable[[torch.Tensor, Any], torch.Tensor]:
    """The score ``2 f(x, t) / g(t)^2`` of the forward dynamics' instantaneous equilibrium.

    For a gradient drift ``f = -grad U`` with ``g^2 = 2 D`` this is the Boltzmann score
    ``-grad U / D`` (the exact score once the dust has relaxed); for VP it is ``-x``,
    the score of the stationary ``N(0, I)``; for free diffusion it is 0. A score model
    written as this baseline plus a learned residual ``r`` has the reverse-SDE drift
    ``-f + g^2 s = f + g^2 r``: wherever the residual is small the reverse dynamics is
    as confining as the forward one — which keeps samplers stable in the tails of a
    potential whose force grows faster than linearly (a double well).
    """

    def score(x: torch.Tensor, t: Any) -> torch.Tensor:
        g = sde.diffusion(t)
        g2 = (g * g)[:, None].to(x.dtype) if isinstance(g, torch.Tensor) and g.ndim else float(g) ** 2
        return 2.0 * sde.drift(x, t) / g2

    return score


#: factories of SDEs for processes that are not linear: name -> factory(process table)
_SDE_FACTORIES: dict[str, Callable[[dict[str, Any]], ForwardSDE]] = {}


def register_sde(name: str, factory: Callable[[dict[str, Any]], ForwardSDE]) -> None:
    """Teach :func:`sde_from_config` a non-linear process.

    Parameters
    ----------
    name : str
        Process name as written in the ``[process]`` table of a trajectory config.
    factory : callable
        Builds the :class:`ForwardSDE` from that table (a dict including ``name``).
    """
    _SDE_FACTORIES[name] = factory


def sde_from_config(config: RunInfo | Mapping[str, Any]) -> ForwardSDE:
    """The forward SDE of a run (:class:`~dustsim.run_info.RunInfo`, or a resolved config's tables).

    Raises
    ------
    ConfigError
        The ``[process]`` table is missing, or names a process whose drift dustsim does not know.
    """
    from ..config import has_physics
    from ..processes import PROCESSES, make_process

    run = _as_run(config)
    table = run.process_table
    if table is None:
        raise ConfigError("the config has no [process] table naming the forward process")
    name = table["name"]
    if name in _SDE_FACTORIES:
        return _SDE_FACTORIES[name](table)
    if has_physics(run.tables):
        return physical_sde(run)
    if name in PROCESSES:
        return linear_sde(make_process(name, **{k: v for k, v in table.items() if k != "name"}))
    raise ConfigError(
        f"process {name!r} has no known drift for the reverse SDE; register one with "
        "dustsim.model.register_sde or pass a ForwardSDE"
    )


def sde_from_trajectory(ds: xr.Dataset) -> ForwardSDE:
    """The forward SDE of a trajectory dataset (see :func:`sde_from_config`)."""
    run = RunInfo.from_dataset(ds)
    if run.process is not None:
        return linear_sde(run.process)
    return sde_from_config(run)


def _as_run(config: RunInfo | Mapping[str, Any]) -> RunInfo:
    return config if isinstance(config, RunInfo) else RunInfo.from_tables(config)


def _per_particle(values: Any, x: torch.Tensor) -> Any:
    """Broadcastable factor: a float, or an ``(n, 1)`` tensor for per-particle times."""
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim == 0:
        return float(arr)
    return torch.as_tensor(arr, dtype=x.dtype, device=x.device)[:, None]


def _times(t: Any) -> Any:
    if isinstance(t, torch.Tensor):
        return t.detach().cpu().double().numpy() if t.ndim else float(t)
    return float(t)


def torch_external_force(potential: Any, x: torch.Tensor) -> torch.Tensor:
    """The force ``-grad U`` of a built-in external potential, in torch (differentiable).

    Its definition's torch force (:mod:`dustsim.physics.potential_defs`), the same formula
    as the simulator's kernel.
    """
    return potential.torch_force(x)


def physical_sde(config: RunInfo | Mapping[str, Any]) -> ForwardSDE:
    """The forward SDE of a physical run (:mod:`dustsim.physics.system`): base process plus forces.

    ``dX = [f(t)(X - c) + mu(t) F(X)] dt + sqrt(2 D(t)) dW`` with the external force
    ``F = -grad U`` of the built-in potentials (in torch, so the equilibrium baseline of a
    score network is differentiable) and ``D(t)``, ``mu(t)`` from the base process, the
    temperature and the schedule. Pair interactions, boxes, per-label diffusion and custom
    forces act on the whole configuration or are not differentiable, so they are refused
    with a clear message: the score model learns one-particle densities of free dust in an
    external landscape.
    """
    system = _as_run(config).physics
    if system is None:
        raise ConfigError("the config describes no physical dust (no potential, box, interaction or schedule)")
    process = system.process
    if system.interaction is not None:
        raise ConfigError("the score model treats particles independently: interacting dust cannot be reversed")
    if any(kind != "free" for kind in system.boundary.kinds):
        raise ConfigError("the score model works in free space: dust in a periodic or reflecting box is not supported")
    if len(system.label_diffusion) > 1:
        raise ConfigError("the score model has one diffusion coefficient: per-label diffusion is not supported")
    for pot in system.potentials:
        if pot.name == "custom":
            raise ConfigError("the score model cannot use a custom force (it needs a differentiable torch force)")
    c = float(process.centre)

    def drift(x: torch.Tensor, t: Any) -> torch.Tensor:
        tt = _times(t)
        f = _per_particle(process.drift_coefficient(tt), x)
        _, mu = system.diffusion_mobility(np.atleast_1d(np.asarray(tt, dtype=np.float64)))
        mu_t = _per_particle(mu if np.ndim(tt) else mu[0], x)
        force = sum((torch_external_force(p, x) for p in system.potentials), torch.zeros_like(x))
        return f * (x - c) + mu_t * force

    def diffusion(t: Any) -> Any:
        tt = _times(t)
        D, _ = system.diffusion_mobility(np.atleast_1d(np.asarray(tt, dtype=np.float64)))
        g = np.sqrt(2.0 * D)
        if isinstance(t, torch.Tensor) and t.ndim:
            return torch.as_tensor(g, device=t.device)
        return float(g[0])

    return ForwardSDE(drift=drift, diffusion=diffusion, name=system.describe())


# ------------------------------------------------------------------ noise levels
def noise_level(process: LinearProcess, t: Any) -> np.ndarray:
    """The noise-to-signal ratio ``sigma(t) / alpha(t)`` (length units).

    For a linear process ``(X_t - c) / alpha + c = X_0 + (sigma / alpha) Z``, so this is
    the noise level of EDM's variance-exploding form, the only thing a denoiser needs.
    """
    t = np.asarray(t, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return process.sigma(t) / process.alpha(t)


@dataclass(frozen=True)
class NoiseTable:
    """Monotone map between time and ``log(sigma / alpha)`` on ``[t_min, t_max]``.

    Built on a dense grid (uniform in ``t`` and in ``log t``), inverted by linear
    interpolation; used to space sampler steps in noise level and to draw training
    times by noise level.
    """

    t: np.ndarray
    log_level: np.ndarray

    @classmethod
    def build(cls, process: LinearProcess, t_min: float, t_max: float, n: int = 4097) -> NoiseTable:
        if not 0 < t_min < t_max:
            raise ConfigError(f"need 0 < t_min < t_max, got t_min = {t_min}, t_max = {t_max}")
        grid = np.unique(np.concatenate([np.linspace(t_min, t_max, n), np.geomspace(t_min, t_max, n)]))
        level = np.log(noise_level(process, grid))
        if not np.all(np.isfinite(level)) or np.any(np.diff(level) <= 0):
            raise ConfigError(
                f"process {process.name!r}: sigma / alpha is not finite and increasing on [{t_min:g}, {t_max:g}]"
            )
        return cls(grid, level)

    def time(self, log_level: Any) -> np.ndarray:
        """Times at which ``log(sigma / alpha)`` takes the given values (clipped to the range)."""
        return np.interp(np.asarray(log_level, dtype=np.float64), self.log_level, self.t)

    @property
    def range(self) -> tuple[float, float]:
        return float(self.log_level[0]), float(self.log_level[-1])


def time_grid(
    t_start: float,
    t_stop: float,
    steps: int,
    *,
    process: LinearProcess | None = None,
    spacing: str = "uniform",
    rho: float = 7.0,
) -> np.ndarray:
    """Decreasing times ``t_start = t_0 > t_1 > ... > t_steps = t_stop`` for a sampler.

    Parameters
    ----------
    t_start, t_stop : float
        First and last time (``t_start > t_stop > 0``).
    steps : int
        Number of steps (the grid has ``steps + 1`` points).
    process : LinearProcess, optional
        Needed for ``spacing="edm"``.
    spacing : {"uniform", "edm"}
        ``uniform`` in ``t`` (Song et al. 2021), or ``edm``: the noise levels
        ``sigma / alpha`` spaced as ``(s_max^(1/rho) + i/N (s_min^(1/rho) - s_max^(1/rho)))^rho``
        (Karras et al. 2022), mapped back to times.
    rho : float
        Exponent of the EDM spacing.
    """
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ConfigError(f"steps must be a positive integer, got {steps!r}")
    if not (math.isfinite(t_start) and math.isfinite(t_stop) and t_start > t_stop > 0):
        raise ConfigError(f"need t_start > t_stop > 0, got t_start = {t_start}, t_stop = {t_stop}")
    if spacing == "uniform":
        return np.linspace(t_start, t_stop, steps + 1)
    if spacing != "edm":
        raise ConfigError(f"unknown time spacing {spacing!r}; use uniform or edm")
    if process is None:
        raise ConfigError("spacing 'edm' needs a linear process (noise levels sigma / alpha)")
    table = NoiseTable.build(process, t_stop, t_start)
    lo, hi = np.exp(table.range[0]), np.exp(table.range[1])
    ramp = np.linspace(0.0, 1.0, steps + 1)
    levels = (hi ** (1 / rho) + ramp * (lo ** (1 / rho) - hi ** (1 / rho))) ** rho
    times = table.time(np.log(levels))
    times[0], times[-1] = t_start, t_stop
    return times
