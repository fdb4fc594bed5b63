"""Samplers: plain, stateless functions over a score (k-diffusion style).

Every sampler has the signature ``sampler(score_fn, sde, x, ts, *, ..., callback=None)``:

- ``score_fn(x, t)`` returns ``grad log p_t(x)`` for positions ``x`` of shape ``(n, d)``
  at the scalar time ``t`` (a trained model's :attr:`dustsim.model.TrainedModel.score_fn`,
  or an exact score such as :func:`~dustsim.model.mixture.mixture_score`);
- ``sde`` is the forward :class:`~dustsim.model.ForwardSDE` (drift ``f``, diffusion ``g``);
- ``x`` is the state at ``ts[0]`` and ``ts`` the decreasing times to step through;
- ``callback({"i": i, "t": t, "x": x})`` is called after every step with the new state
  (``t = ts[i + 1]``), e.g. to record the reverse trajectory;
- ``project(x, t)``, where accepted, replaces the state after every step (inpainting).

They return the state at ``ts[-1]``. Random draws come only from ``generator``.

Reverse SDE (Anderson 1982): ``dX = [f - g^2 score] dt + g dW`` backwards in time;
probability-flow ODE (Song et al. 2021): ``dX/dt = f - g^2 score / 2``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..processes import LinearProcess
from .preconditioning import ScoreFn
from .sde import ForwardSDE

Callback = Callable[[dict[str, Any]], None] | None
Project = Callable[[torch.Tensor, float], torch.Tensor] | None


def _times(ts: Sequence[float] | np.ndarray | torch.Tensor) -> list[float]:
    times = [float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts)]
    if len(times) < 2 or any(b >= a for a, b in itertools.pairwise(times)):
        raise ConfigError("a sampler needs at least two strictly decreasing times")
    return times


def _noise(x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)


def _finish(x: torch.Tensor, i: int, t: float, callback: Callback, project: Project) -> torch.Tensor:
    if project is not None:
        x = project(x, t)
    if callback is not None:
        callback({"i": i, "t": t, "x": x})
    return x


def pf_ode_velocity(score_fn: ScoreFn, sde: ForwardSDE, x: torch.Tensor, t: float) -> torch.Tensor:
    """``dX/dt = f(x, t) - g(t)^2 score(x, t) / 2`` of the probability-flow ODE (length / time)."""
    g = sde.diffusion(t)
    return sde.drift(x, t) - 0.5 * g * g * score_fn(x, t)


@torch.no_grad()
def sample_euler_maruyama(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    ts: Sequence[float],
    *,
    generator: torch.Generator | None = None,
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """Euler–Maruyama on the reverse SDE; the last step adds no noise (returns its mean)."""
    times = _times(ts)
    for i, (t, t_next) in enumerate(itertools.pairwise(times)):
        h = t - t_next
        g = sde.diffusion(t)
        x = x - h * (sde.drift(x, t) - g * g * score_fn(x, t))
        if i < len(times) - 2:
            x = x + g * h**0.5 * _noise(x, generator)
        x = _finish(x, i, t_next, callback, project)
    return x


def _langevin_ratio(process: LinearProcess | None, t: float, t_next: float) -> float:
    """Song et al.'s ``alpha_i`` of the Langevin corrector: ``A^2`` of the step's kernel (1 for VE)."""
    if process is None:
        return 1.0
    a, _ = process.transition(t_next, t)
    return float(a) ** 2


@torch.no_grad()
def sample_predictor_corrector(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    ts: Sequence[float],
    *,
    snr: float = 0.16,
    corrector_steps: int = 1,
    generator: torch.Generator | None = None,
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """Predictor–corrector (Song et al. 2021, algorithm 2/3): Langevin corrector, then a reverse-SDE step.

    The corrector makes ``corrector_steps`` Langevin moves at each time with step
    ``eps = 2 a (snr |z| / |score|)^2`` (norms averaged over particles, ``a`` the squared
    mean coefficient of the step's kernel); the predictor is an Euler–Maruyama step.
    """
    if not snr > 0:
        raise ConfigError(f"the corrector's snr must be positive, got {snr}")
    times = _times(ts)
    for i, (t, t_next) in enumerate(itertools.pairwise(times)):
        a = _langevin_ratio(sde.process, t, t_next)
        for _ in range(corrector_steps):
            grad = score_fn(x, t)
            z = _noise(x, generator)
            grad_norm = grad.flatten(1).norm(dim=1).mean()
            noise_norm = z.flatten(1).norm(dim=1).mean()
            eps = 2 * a * (snr * noise_norm / grad_norm.clamp_min(1e-30)) ** 2
            x = x + eps * grad + (2 * eps).sqrt() * z
        h = t - t_next
        g = sde.diffusion(t)
        x = x - h * (sde.drift(x, t) - g * g * score_fn(x, t))
        if i < len(times) - 2:
            x = x + g * h**0.5 * _noise(x, generator)
        x = _finish(x, i, t_next, callback, project)
    return x


@torch.no_grad()
def sample_heun(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    ts: Sequence[float],
    *,
    generator: torch.Generator | None = None,  # noqa: ARG001 - deterministic; same signature as the others
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """Heun's second-order method on the probability-flow ODE (deterministic)."""
    times = _times(ts)
    for i, (t, t_next) in enumerate(itertools.pairwise(times)):
        h = t_next - t
        v = pf_ode_velocity(score_fn, sde, x, t)
        x_euler = x + h * v
        x = x + 0.5 * h * (v + pf_ode_velocity(score_fn, sde, x_euler, t_next))
        x = _finish(x, i, t_next, callback, project)
    return x


@torch.no_grad()
def sample_ode_adaptive(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    ts: Sequence[float],
    *,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    method: str = "RK45",
    generator: torch.Generator | None = None,  # noqa: ARG001 - deterministic
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """The probability-flow ODE with an adaptive solver (:func:`scipy.integrate.solve_ivp`).

    The steps are chosen by the solver (``rtol``, ``atol``); ``ts`` only says where the
    state is reported (and passed to ``callback``). Also runs forwards in time (``ts``
    increasing): that is the encoder of :func:`dustsim.model.encode`.
    """
    from scipy.integrate import solve_ivp

    if project is not None:
        raise ConfigError("the adaptive ODE solver cannot hold coordinates fixed; use a fixed-step sampler")
    times = [float(t) for t in (ts.tolist() if hasattr(ts, "tolist") else ts)]
    if len(times) < 2 or len(set(np.sign(np.diff(times)))) != 1 or np.any(np.diff(times) == 0):
        raise ConfigError("the adaptive ODE solver needs at least two strictly monotone times")
    shape, dtype, device = x.shape, x.dtype, x.device

    def rhs(t: float, y: np.ndarray) -> np.ndarray:
        state = torch.from_numpy(y).reshape(shape).to(device=device, dtype=dtype)
        return pf_ode_velocity(score_fn, sde, state, float(t)).to(torch.float64).cpu().numpy().reshape(-1)

    y0 = x.detach().to(torch.float64).cpu().numpy().reshape(-1)
    sol = solve_ivp(rhs, (times[0], times[-1]), y0, method=method, t_eval=times, rtol=rtol, atol=atol)
    if not sol.success:
        raise FloatingPointError(f"the adaptive ODE solver failed: {sol.message}")
    out = x
    for i in range(1, len(times)):
        out = torch.from_numpy(sol.y[:, i].copy()).reshape(shape).to(device=device, dtype=dtype)
        if callback is not None:
            callback({"i": i - 1, "t": times[i], "x": out, "nfev": sol.nfev})
    return out


@torch.no_grad()
def sample_ddim(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    ts: Sequence[float],
    *,
    generator: torch.Generator | None = None,  # noqa: ARG001 - deterministic
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """Deterministic DDIM (Song, Meng & Ermon 2021, ``eta = 0``) for linear processes.

    Each step estimates ``x0 = c + (x - c + sigma^2 score) / alpha`` (Tweedie) and
    ``eps = (x - c - alpha (x0 - c)) / sigma`` and moves to
    ``c + alpha' (x0 - c) + sigma' eps``: the exact solution of the probability-flow ODE
    when the denoiser is constant over the step.
    """
    process = sde.process
    if process is None:
        raise ConfigError("the DDIM sampler needs a linear process (alpha, sigma); use heun or rk45")
    c = float(process.centre)
    times = _times(ts)
    for i, (t, t_next) in enumerate(itertools.pairwise(times)):
        a, s = float(process.alpha(t)), float(process.sigma(t))
        a_next, s_next = float(process.alpha(t_next)), float(process.sigma(t_next))
        x0 = (x - c + s * s * score_fn(x, t)) / a
        eps = (x - c - a * x0) / s
        x = c + a_next * x0 + s_next * eps
        x = _finish(x, i, t_next, callback, project)
    return x


@torch.no_grad()
def tweedie_denoise(score_fn: ScoreFn, process: LinearProcess, x: torch.Tensor, t: float) -> torch.Tensor:
    """``E[X_0 | X_t = x] = c + (x - c + sigma^2 score) / alpha`` (Tweedie's formula)."""
    c = float(process.centre)
    a, s = float(process.alpha(t)), float(process.sigma(t))
    return c + (x - c + s * s * score_fn(x, t)) / a


SAMPLERS: dict[str, Callable[..., torch.Tensor]] = {
    "euler-maruyama": sample_euler_maruyama,
    "pc": sample_predictor_corrector,
    "heun": sample_heun,
    "rk45": sample_ode_adaptive,
    "ddim": sample_ddim,
}
ALIASES = {
    "em": "euler-maruyama",
    "sde": "euler-maruyama",
    "predictor-corrector": "pc",
    "ode": "heun",
    "adaptive": "rk45",
}


def get_sampler(name: str) -> tuple[str, Callable[..., torch.Tensor]]:
    """``(canonical name, function)`` of a sampler by name or alias (ConfigError if unknown)."""
    key = ALIASES.get(name, name)
    if key not in SAMPLERS:
        raise ConfigError(f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)} (or em, ode)")
    return key, SAMPLERS[key]
