"""Generate particles with a trained model; record the reverse trajectory in the trajectory schema.

:func:`sample` draws ``n`` particles from the prior at ``t_max``, runs a sampler of
:mod:`dustsim.model.samplers` down to ``t_min`` (and, for linear processes, a final
Tweedie step to ``t = 0``), and returns the reverse trajectory as the same kind of Dataset
the forward simulation writes (``direction = "reverse"``, time decreasing, ``alpha`` /
``sigma`` coordinates from the process, the resolved config with ``[process]``,
``[artifact]``, ``[model]`` and ``[sampler]`` tables), so the entropy analysis runs on it
unchanged.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError, StepSizeError
from ..schema import history_line, trajectory_attrs, trajectory_dataset
from ..streams import fresh_seed
from .checkpoint import TrainedModel
from .config import SAMPLE_SAMPLER, SamplerConfig
from .device import make_generator
from .preconditioning import ScoreFn
from .samplers import Callback, Project, get_sampler, tweedie_denoise
from .sde import time_grid

#: particles per network evaluation (bounds memory for millions of particles)
CHUNK = 65536


def chunked(score_fn: ScoreFn, chunk: int = CHUNK) -> ScoreFn:
    """``score_fn`` evaluated on at most ``chunk`` particles at a time."""

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        if x.shape[0] <= chunk:
            return score_fn(x, t)
        return torch.cat([score_fn(x[i : i + chunk], t) for i in range(0, x.shape[0], chunk)])

    return score


def sampler_config(
    sampler: SamplerConfig | dict[str, Any] | str | None, default: str = SAMPLE_SAMPLER, **overrides: Any
) -> SamplerConfig:
    """A validated, resolved :class:`SamplerConfig` from a config, a dict or a sampler name.

    ``default`` is the sampler when none is named (``SamplerConfig.resolved``).
    """
    if isinstance(sampler, str):
        cfg = SamplerConfig(name=sampler)
    elif isinstance(sampler, dict):
        cfg = SamplerConfig.from_dict(sampler)
    else:
        cfg = sampler or SamplerConfig()
    return cfg.replace(**overrides).resolved(default)


def reverse_times(model: TrainedModel, cfg: SamplerConfig, t_start: float | None = None) -> tuple[np.ndarray, str]:
    """The sampler's decreasing time grid from ``t_start`` (default ``t_max``) and the spacing used."""
    linear = model.kind == "denoiser"
    t_start = model.t_max if t_start is None else float(t_start)
    t_stop = cfg.t_min if cfg.t_min is not None else (1e-3 * model.t_max if linear else model.t_min)
    if t_stop < model.t_min * (1 - 1e-9):
        raise ConfigError(f"[sampler] t_min = {t_stop:g} lies below the model's training range (t >= {model.t_min:g})")
    if not t_start > t_stop:
        raise ConfigError(f"the reverse process must start after t_min = {t_stop:g}, got t = {t_start:g}")
    spacing = cfg.spacing or ("edm" if linear else "uniform")
    return time_grid(t_start, t_stop, cfg.resolved_steps, process=model.process, spacing=spacing), spacing


class Recorder:
    """Sampler callback that keeps every ``record_every``-th state (and the last) on the CPU."""

    def __init__(self, x0: torch.Tensor, t0: float, steps: int, record_every: int, bar: Any = None) -> None:
        self.frames = [x0.detach().float().cpu().numpy()]
        self.times, self.steps = [t0], [0]
        self.total, self.every, self.bar = steps, record_every, bar

    def __call__(self, info: dict[str, Any]) -> None:
        step = int(info["i"]) + 1
        if (self.every and step % self.every == 0) or step == self.total:
            self.frames.append(info["x"].detach().float().cpu().numpy())
            self.times.append(float(info["t"]))
            self.steps.append(step)
        if self.bar is not None:
            self.bar.update(1)

    def add(self, x: torch.Tensor, t: float, step: int) -> None:
        self.frames.append(x.detach().float().cpu().numpy())
        self.times.append(float(t))
        self.steps.append(step)


def run_sampler(
    model: TrainedModel,
    cfg: SamplerConfig,
    x: torch.Tensor,
    ts: np.ndarray,
    *,
    generator: torch.Generator,
    callback: Callback = None,
    project: Project = None,
) -> torch.Tensor:
    """Run the configured sampler from ``x`` at ``ts[0]`` through ``ts``.

    Raises
    ------
    StepSizeError
        Some particles ended at NaN or infinity (never written silently).
    """
    _, fn = get_sampler(cfg.resolved_name)
    out = fn(
        chunked(model.score_fn),
        model.sde,
        x,
        ts,
        generator=generator,
        callback=callback,
        project=project,
        **cfg.options(),
    )
    bad = int((~torch.isfinite(out).all(dim=1)).sum())
    if bad:
        raise StepSizeError(
            f"the {cfg.name} sampler diverged: {bad} of {out.shape[0]} particles ended non-finite; "
            "use more steps or a better-trained model"
        )
    return out


def progress_bar(total: int, desc: str, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, unit="step", desc=desc, disable=not enabled, leave=False)


def resolved_config(
    model: TrainedModel,
    cfg: SamplerConfig,
    *,
    n: int,
    seed: int,
    t_stop: float,
    spacing: str,
    extra: dict[str, Any] | None = None,
) -> str:
    """The TOML recorded in a generated dataset: the source's artifact, the process, model and sampler."""
    import tomli_w

    source = model.source.tables if model.source is not None else {}
    out: dict[str, Any] = {k: source[k] for k in ("init", "dtype", "length_unit") if k in source}
    out.update(n=int(n), dim=model.dim, steps=cfg.steps, t_end=model.t_max, seed=int(seed))
    out["process"] = dict(model.meta["process"])
    if "artifact" in source:
        out["artifact"] = source["artifact"]
    out["model"] = {
        "path": model.path,
        "step": model.step,
        "kind": model.kind,
        "objective": model.meta.get("objective", ""),
        "t_min": model.t_min,
        "t_max": model.t_max,
        "training_seed": int(model.meta["training"].get("seed", 0)),
        "network": dict(model.meta["network"]),
    }
    out["sampler"] = {**cfg.to_dict(), "seed": int(seed), "t_min": float(t_stop), "spacing": spacing}
    if extra:
        out.update(extra)
    return tomli_w.dumps(out)


def sample(
    model: TrainedModel,
    n: int,
    sampler: SamplerConfig | dict[str, Any] | str | None = None,
    *,
    seed: int | None = None,
    x_init: torch.Tensor | np.ndarray | None = None,
    progress: bool | None = None,
    history: str | None = None,
    callback: Callable[[dict[str, Any]], None] | None = None,
) -> xr.Dataset:
    """Generate ``n`` particles and return the reverse trajectory.

    Parameters
    ----------
    model : TrainedModel
        From :func:`dustsim.model.load_model` or :func:`dustsim.model.train`.
    n : int
        Number of particles.
    sampler : SamplerConfig, dict or name, optional
        Sampler and options (default: Heun, 100 steps; :data:`~dustsim.model.config.SAMPLE_SAMPLER`).
    seed : int, optional
        Seed of the prior draw and the sampler noise (default: the sampler config's, else fresh).
    x_init : array (n, d), optional
        Start from these positions at ``t_max`` instead of the prior.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    history : str, optional
        Text of the history entry.
    callback : callable, optional
        Called with the sampler's ``{"i", "t", "x"}`` after every step.

    Returns
    -------
    xarray.Dataset
        Trajectory schema, ``direction = "reverse"``; frames every ``record_every`` steps,
        time decreasing from ``t_max`` to ``t_min`` (then 0 after the Tweedie step).
    """
    cfg = sampler_config(sampler)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"the number of particles must be a positive integer, got {n!r}")
    seed = int(seed if seed is not None else cfg.seed if cfg.seed is not None else fresh_seed())
    device = model.device
    ts, spacing = reverse_times(model, cfg)
    if x_init is None:
        x = model.prior_sample(n, make_generator(seed, "prior", device))
    else:
        x = torch.as_tensor(
            np.asarray(x_init) if not isinstance(x_init, torch.Tensor) else x_init, dtype=torch.float32, device=device
        )
        if x.shape != (n, model.dim):
            raise ConfigError(f"x_init must have shape ({n}, {model.dim}), got {tuple(x.shape)}")
    bar = progress_bar(cfg.resolved_steps, f"sample ({cfg.name})", progress)
    rec = Recorder(x, float(ts[0]), cfg.resolved_steps, cfg.record_every, bar)

    def both(info: dict[str, Any]) -> None:
        rec(info)
        if callback is not None:
            callback(info)

    try:
        x = run_sampler(model, cfg, x, ts, generator=make_generator(seed, "sampler", device), callback=both)
    finally:
        bar.close()
    denoised = cfg.denoise and model.process is not None
    if denoised and model.process is not None:
        x = tweedie_denoise(chunked(model.score_fn), model.process, x, float(ts[-1]))
        rec.add(x, 0.0, cfg.resolved_steps + 1)
    config = resolved_config(model, cfg, n=n, seed=seed, t_stop=float(ts[-1]), spacing=spacing)
    attrs = trajectory_attrs(
        process=str(model.meta["process"].get("name", "unknown")),
        direction="reverse",
        seed=seed,
        config=config,
        history=history_line(history or f"sample {cfg.name}"),
        sampler=cfg.name,
        model=model.path,
        denoised=int(denoised),
        **_prior_gap_attrs(model, x_init is None),
    )
    return trajectory_dataset(
        np.stack(rec.frames),
        time=rec.times,
        step=rec.steps,
        attrs=attrs,
        process=model.process,
        length_unit=_length_unit(model),
    )


def _prior_gap_attrs(model: TrainedModel, from_prior: bool) -> dict[str, Any]:
    """The training run's ``KL(p_T || prior)`` (:mod:`dustsim.schedule_theory.prior_gap`).

    Empty unless the run starts from that prior.
    """
    gap = model.meta.get("prior_gap")
    return dict(gap) if from_prior and isinstance(gap, dict) else {}


def _length_unit(model: TrainedModel) -> str:
    return model.source.length_unit if model.source is not None else "1"
