"""Training loop: AdamW, warm-up, gradient clipping, EMA, loss log, checkpoints, resume.

:func:`train` learns the reverse of a forward trajectory:

- linear process (``objective = "dsm"``, the default when the process is linear):
  denoising score matching with the exact kernel from the ``t = 0`` frame
  (:class:`~dustsim.model.data.KernelPairs`), EDM-preconditioned
  :class:`~dustsim.model.preconditioning.Denoiser`;
- any process (``objective = "ssm"``): sliced score matching with variance reduction on
  the recorded frames (:class:`~dustsim.model.data.FrameSamples`), a
  :class:`~dustsim.model.preconditioning.ScoreNet` conditioned on the frame time.

While training, checkpoints go to ``<output>.partial`` every ``checkpoint_every`` steps;
the final model appears as ``<output>`` and its loss log (an xarray Dataset, dim
``step``) as ``<output stem>.loss.nc`` next to it. ``resume=True`` continues from the
partial checkpoint — bit for bit on the same device — or extends a finished model to
more steps.
"""

from __future__ import annotations

import contextlib
import copy
import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr
from torch import nn

from .._version import __version__
from ..errors import ConfigError, DustsimError
from ..io import check_writable, open_trajectory, save_dataset
from ..run_info import RunInfo
from ..schema import history_line
from ..streams import fresh_seed
from .checkpoint import TrainedModel, gaussian_prior, kde_prior, read_checkpoint, save_checkpoint
from .config import NetworkConfig, TrainConfig
from .data import FrameSamples, KernelPairs, initial_positions, sigma_data, split_particles
from .device import make_generator
from .distributed import DistributedContext, init_distributed
from .losses import dsm_loss, ssm_vr_loss
from .networks import make_network
from .preconditioning import Denoiser, ScoreNet
from .sde import equilibrium_score, sde_from_trajectory
from .stopping import converged, default_steps, smoothed
from .validation import make_validation_set

LOG_COLUMNS = ("loss", "lr", "grad_norm", "wall_time")
VALIDATION_COLUMNS = ("validation_step", "validation_loss", "validation_se")
#: An early stop (convergence, or ``COOLDOWN_AT`` of ``max_time``) first anneals the learning rate
#: to ``lr / 100`` over this fraction of the steps trained so far (the schedule would have done it).
COOLDOWN_FRACTION = 0.25
EDM_SIGMA_DATA = 0.5  # the data scale EDM's p_mean refers to (Karras et al. 2022)
COOLDOWN_AT = 0.8
#: The loop's bound when the time budget is the only cap (``max_time`` given, ``steps`` None).
UNCAPPED_STEPS = 2**62


class TrainingDiverged(DustsimError, FloatingPointError):
    """The loss became NaN or infinite."""


@dataclass
class TrainResult:
    """What :func:`train` returns: the model (EMA weights) and the loss log."""

    model: TrainedModel
    log: xr.Dataset
    output: Path | None


def partial_checkpoint(output: str | Path) -> Path:
    """Where periodic checkpoints of ``output`` go while training runs."""
    output = Path(output).expanduser()
    return output.with_name(output.name + ".partial")


def loss_log_path(output: str | Path) -> Path:
    """``model.pt`` -> ``model.loss.nc``: the loss log next to the model."""
    output = Path(output).expanduser()
    return output.with_name(output.stem + ".loss.nc")


#: suffixes of a model checkpoint (a PyTorch file)
MODEL_SUFFIXES = (".pt", ".pth")


def check_model_output(output: str | Path, data: Any = None) -> Path:
    """Fail early (ConfigError, OutputError) if ``output`` cannot take a checkpoint trained on ``data``.

    The checkpoint must be named ``.pt`` or ``.pth`` (a ``.nc`` name would hold a PyTorch
    file that the trajectory readers refuse), and neither it nor its loss log may be the
    training data when ``data`` is a path.
    """
    if Path(output).suffix.lower() not in MODEL_SUFFIXES:
        raise ConfigError(f"the model checkpoint {str(output)!r} is a PyTorch file: name it .pt or .pth")
    reads = [data] if isinstance(data, str | Path) else []
    check_writable(loss_log_path(output), reads=reads)
    return check_writable(output, reads=reads)


def lr_schedule(cfg: TrainConfig) -> str:
    """The schedule :func:`learning_rate` follows between the warm-up and the cooldown.

    ``auto`` is ``constant``: warm-up, stable, decay, the decay being the cooldown that
    starts at convergence, at ``COOLDOWN_AT`` of the step cap or at ``COOLDOWN_AT`` of
    ``max_time``, whichever comes first. A cosine over the step cap decays the rate long
    before a run converges when the cap is near the convergence point (measured on the
    demo's text: the recall proxy 0.643 with a cosine over 3000 steps, 0.653 with the
    rate held until the convergence cooldown at the same 3125 steps; docs/model.md).
    """
    return "constant" if cfg.lr_schedule == "auto" else cfg.lr_schedule


def auto_cooldown(cfg: TrainConfig) -> bool:
    """Does the step cap start a cooldown at ``COOLDOWN_AT`` of it (``lr_schedule = "auto"``)?"""
    return cfg.lr_schedule == "auto" and cfg.steps is not None


def learning_rate(step: int, cfg: TrainConfig, cooldown: tuple[int, int] | None = None) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then constant or cosine decay to ``lr / 100``.

    The decay is :func:`lr_schedule`'s. ``cooldown = (start, length)``: from step ``start``
    on, the rate decays (half cosine) from its value at ``start`` to ``lr / 100`` over
    ``length`` steps — the annealing that an early stop (convergence, ``max_time``) would
    otherwise skip, and the only decay of a time-budgeted run.
    """
    floor = cfg.lr / 100
    if cooldown is not None and step >= cooldown[0]:
        start, length = cooldown
        top = learning_rate(start, cfg)
        progress = min((step - start) / max(length, 1), 1.0)
        return floor + 0.5 * (top - floor) * (1 + math.cos(math.pi * progress))
    if cfg.warmup and step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    if lr_schedule(cfg) == "constant":
        return cfg.lr
    span = max(cfg.steps - cfg.warmup, 1)  # type: ignore[operator]
    progress = min(max(step - cfg.warmup, 0) / span, 1.0)
    return floor + 0.5 * (cfg.lr - floor) * (1 + math.cos(math.pi * progress))


@torch.no_grad()
def ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """``ema <- d ema + (1 - d) model`` with ``d = min(decay, (1 + step) / (10 + step))``."""
    d = min(decay, (1 + step) / (10 + step))
    for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
        pe.lerp_(pm, 1 - d)


# ------------------------------------------------------------------ setting up
def _source(data: str | Path | xr.Dataset) -> tuple[xr.Dataset, str]:
    if isinstance(data, xr.Dataset):
        return data, str(data.attrs.get("title", "dataset"))
    return open_trajectory(data), str(data)


def _objective(cfg: TrainConfig, run: RunInfo) -> str:
    linear = run.process is not None
    if cfg.objective == "auto":
        return "dsm" if linear else "ssm"
    if cfg.objective == "dsm" and not linear:
        raise ConfigError("denoising score matching needs a linear process with a known kernel; use objective ssm")
    return cfg.objective


def _t_end(ds: xr.Dataset, run: RunInfo) -> float:
    return run.t_end if run.t_end is not None else float(np.max(ds["time"].values))


def _setup(ds: xr.Dataset, source: str, net_cfg: NetworkConfig, cfg: TrainConfig) -> dict[str, Any]:
    """Data, module and metadata for a fresh run (everything random from ``cfg.seed``)."""
    run = RunInfo.from_dataset(ds)
    objective = _objective(cfg, run)
    seed = int(cfg.seed)  # type: ignore[arg-type]
    init_gen = make_generator(seed, "init")
    data_gen = make_generator(seed, "data")
    split_gen = make_generator(seed, "validation")
    meta: dict[str, Any] = {
        "objective": objective,
        "network": net_cfg.to_dict(),
        "training": cfg.to_dict(),
        "process": dict(run.tables.get("process", {"name": ds.attrs.get("process", "unknown")})),
        "source": {"path": source, "config": run.text, "n": int(ds.sizes["particle"])},
    }
    if objective == "dsm":
        process = run.process
        assert process is not None  # the dsm objective needs a linear process (_objective)
        x0 = initial_positions(ds)
        t_max = _t_end(ds, run)
        if float(process.alpha(t_max)) <= 1e-6:  # alpha = 0 (cosine at t = 1): stop just before
            t_max *= 1 - 1e-4
        t_min = cfg.t_min if cfg.t_min is not None else 1e-5 * t_max
        if not t_min < t_max:
            raise ConfigError(f"[training] t_min ({t_min:g}) must be below the end time {t_max:g}")
        train_idx, held_idx = split_particles(len(x0), cfg.validation_fraction, split_gen)
        sd, mean = sigma_data(x0[train_idx])
        pairs = KernelPairs(
            x0, process, t_min, t_max, cfg.time_sampling, cfg.p_mean, cfg.p_std, level_scale=sd / EDM_SIGMA_DATA
        )
        data: Any = pairs.subset(train_idx)
        held_out: Any = pairs.subset(held_idx)
        prior = gaussian_prior(process, t_max, mean, sd)
        gap = _check_prior(process, t_max, x0, run, prior, seed)
        net = make_network(net_cfg.kind, data.dim, generator=init_gen, **net_cfg.options())
        module: nn.Module = Denoiser(net, sd, mean)
        meta.update(
            kind="denoiser",
            dim=data.dim,
            t_min=t_min,
            t_max=t_max,
            sigma_data=sd,
            data_mean=mean.tolist(),
            prior=prior,
            prior_gap=gap.attrs(),
        )
    else:
        frames = FrameSamples.from_trajectory(ds, cfg.t_min, cfg.max_particles, generator=data_gen)
        train_idx, held_idx = split_particles(frames.n_particles, cfg.validation_fraction, split_gen)
        data, held_out = frames.subset(train_idx), frames.subset(held_idx)
        mean, std = data.statistics()
        net = make_network(net_cfg.kind, data.dim, generator=init_gen, **net_cfg.options())
        baseline = None
        if cfg.baseline != "none":
            try:
                baseline = equilibrium_score(sde_from_trajectory(ds))
            except ConfigError:
                if cfg.baseline == "equilibrium":
                    raise
        module = ScoreNet(net, data.times, mean, std, baseline=baseline)
        meta.update(
            kind="score",
            baseline="none" if baseline is None else "equilibrium",
            dim=data.dim,
            t_min=float(data.times[0]),
            t_max=float(data.times[-1]),
            frame_times=data.times.tolist(),
            frame_mean=mean.tolist(),
            frame_std=std.tolist(),
            prior=kde_prior(data.frames[-1]),
        )
    meta["validation"] = {
        "fraction": cfg.validation_fraction,
        "training_particles": data.n_particles,
        "held_out_particles": held_out.n_particles,
        "points": cfg.validation_points,
    }
    return {"data": data, "held_out": held_out, "module": module, "meta": meta, "data_gen": data_gen, "run": run}


def _check_prior(process: Any, t_max: float, x0: np.ndarray, run: RunInfo, prior: dict[str, Any], seed: int) -> Any:
    """``KL(p_T || model prior)`` (:func:`dustsim.schedule_theory.prior_gap.data_prior_gap`).

    Warns when it exceeds the data's noise (:func:`~dustsim.schedule_theory.prior_gap.prior_warning`).
    """
    from ..schedule_theory.prior_gap import data_prior_gap, prior_warning
    from ..simulation import PriorWarning

    gap = data_prior_gap(process, t_max, x0, run.mixture, seed=seed, prior=(prior["mean"], prior["std"]))
    message = prior_warning(gap, process, "; samples started from the Gaussian prior will be biased")
    if message:
        warnings.warn(message, PriorWarning, stacklevel=3)
    return gap


def _log_dataset(
    rows: dict[str, list[float]],
    steps: list[int],
    meta: dict[str, Any],
    history: str,
    validation: dict[str, list[float]] | None = None,
) -> xr.Dataset:
    import tomli_w

    units = {"loss": "1", "lr": "1", "grad_norm": "1", "wall_time": "1"}
    names = {
        "loss": "mean training loss over the logging interval",
        "lr": "learning rate",
        "grad_norm": "mean gradient norm before clipping",
        "wall_time": "wall-clock seconds of training (callbacks excluded)",
    }
    ds = xr.Dataset(
        {
            k: ("step", np.asarray(rows[k], dtype=np.float64), {"long_name": names[k], "units": units[k]})
            for k in LOG_COLUMNS
        },
        coords={"step": ("step", np.asarray(steps, dtype=np.int64), {"long_name": "optimiser step"})},
        attrs={
            "title": "dustsim score-model training log",
            "source": f"dustsim {__version__}",
            "dustsim_version": __version__,
            "objective": meta["objective"],
            "model_kind": meta["kind"],
            "seed": int(meta["training"]["seed"]),
            "config": tomli_w.dumps({"network": meta["network"], "training": meta["training"]}),
            "history": history,
        },
    )
    if meta["objective"] == "dsm":
        ds.attrs["weighting"] = meta["training"]["weighting"]
    ds.attrs.update(meta.get("prior_gap", {}))
    if validation is not None:
        ds = ds.assign_coords(_validation_coords(validation, meta["training"]))
    stop = meta.get("stop")
    if stop:
        ds.attrs.update(stop_reason=stop["reason"], stop_step=int(stop["step"]), stop_rule=stop["rule"])
    return ds


def _validation_coords(validation: dict[str, list[float]], training: dict[str, Any]) -> dict[str, Any]:
    """The validation curve, on its own dimension ``validation_step`` (auxiliary coordinates of the log)."""
    dim = "validation_step"
    loss = np.asarray(validation["validation_loss"], dtype=np.float64)
    return {
        dim: (
            dim,
            np.asarray(validation["validation_step"], dtype=np.int64),
            {"long_name": "optimiser step of a validation loss"},
        ),
        "validation_loss": (
            dim,
            loss,
            {"long_name": "loss of the EMA weights on the fixed held-out draws", "units": "1"},
        ),
        "validation_se": (
            dim,
            np.asarray(validation["validation_se"], dtype=np.float64),
            {"long_name": "standard error of validation_loss over the fixed draws", "units": "1"},
        ),
        "validation_smoothed": (
            dim,
            smoothed(loss, int(training.get("smoothing", 1))),
            {"long_name": "running mean of validation_loss read by the convergence rule", "units": "1"},
        ),
    }


def _cooldown(step: int, origin: int, steps_cap: int, cfg: TrainConfig) -> tuple[int, int]:
    """The annealing that ends an early stop: ``COOLDOWN_FRACTION`` of the steps trained, within the cap."""
    length = max(round(COOLDOWN_FRACTION * (step - origin)), min(cfg.validate_every, 100), 1)
    return step, max(min(length, steps_cap - step), 0)


def _stop_rule(cfg: TrainConfig) -> str:
    return (
        f"stop at the first of: the validation loss (running mean of {cfg.smoothing}) improved by less than "
        f"{cfg.min_improvement:g} of its gain since the start within {cfg.patience} steps, then "
        f"{COOLDOWN_FRACTION:g} more steps of learning-rate cooldown"
        + (f"; {cfg.steps} steps" if cfg.steps is not None else "")
        + (f"; {cfg.max_time:g} s (cooldown from {COOLDOWN_AT:g} of it)" if cfg.max_time is not None else "")
    )


def _check_resume(meta: dict[str, Any], fresh: dict[str, Any]) -> None:
    if meta["source"]["config"] != fresh["source"]["config"] or meta["dim"] != fresh["dim"]:
        raise ConfigError("cannot resume: the checkpoint was trained on another trajectory")
    if NetworkConfig.from_checkpoint(meta["network"]) != NetworkConfig.from_dict(fresh["network"]):
        raise ConfigError("cannot resume: the network settings differ from the checkpoint's")
    free = {
        "steps",
        "checkpoint_every",
        "log_every",
        "device",
        "threads",
        "max_time",
        "patience",
        "min_improvement",
        "smoothing",
        "validate_every",
    }
    old = {k: v for k, v in meta["training"].items() if k not in free}
    new = {k: v for k, v in fresh["training"].items() if k not in free}
    for key in sorted(set(old) | set(new)):
        if old.get(key) != new.get(key):
            raise ConfigError(
                f"cannot resume: training {key} = {new.get(key)!r} differs from the checkpoint's {old.get(key)!r}"
            )


def step_loss(
    kind: str,
    module: nn.Module,
    forward: nn.Module,
    batch: dict[str, torch.Tensor],
    cfg: TrainConfig,
    proj_gen: torch.Generator,
    centre: float,
    dist: DistributedContext,
    step: int,
) -> torch.Tensor:
    """The loss of one optimiser step on this process's shard of the global ``batch``.

    The SSM projections are drawn for the whole batch (from the shared stream) before
    sharding, so W processes see exactly the draws one process would.
    """
    proj = None
    if kind != "denoiser":
        x = batch["x"]
        proj = torch.randn((cfg.n_projections, *x.shape), generator=proj_gen, device=x.device, dtype=x.dtype)
    idx = dist.shard_indices(cfg.batch_size, step, int(cfg.seed))  # type: ignore[arg-type]
    if idx is not None:
        idx = idx.to(next(iter(batch.values())).device)
        batch = {k: v[idx] for k, v in batch.items()}
        proj = proj[:, idx] if proj is not None else None
    if kind == "denoiser":
        return dsm_loss(module, batch, cfg.weighting, centre, forward=forward)  # type: ignore[arg-type]
    return ssm_vr_loss(module, batch, projections=proj, forward=forward)


# --------------------------------------------------------------------- training
def train(
    data: str | Path | xr.Dataset,
    output: str | Path | None = None,
    *,
    network: NetworkConfig | dict[str, Any] | None = None,
    training: TrainConfig | dict[str, Any] | None = None,
    resume: bool = False,
    progress: bool | None = None,
    history: str | None = None,
    callback: Callable[[int, TrainedModel], None] | None = None,
    callback_every: int = 0,
) -> TrainResult:
    """Train a score model on a forward trajectory.

    Parameters
    ----------
    data : path or xarray.Dataset
        A forward trajectory (the schema of :mod:`dustsim.schema`).
    output : path, optional
        Checkpoint file of the final model (e.g. ``model.pt``); the loss log goes to
        ``model.loss.nc``. Without it nothing is written.
    network, training : config or dict, optional
        :class:`NetworkConfig` and :class:`TrainConfig` (defaults otherwise).
    resume : bool
        Continue from ``<output>.partial`` (or extend ``output`` to more steps).
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    history : str, optional
        Text of the history entry (the CLI passes its command line).
    callback : callable ``(step, model)``, optional
        Called every ``callback_every`` steps with the current EMA model (for
        evaluations during training); its time is excluded from the log's ``wall_time``.
    callback_every : int
        Steps between callback calls.

    Returns
    -------
    TrainResult
        The trained model (EMA weights), the loss log, the output path.
    """
    net_cfg = network if isinstance(network, NetworkConfig) else NetworkConfig.from_dict(network)
    cfg = training if isinstance(training, TrainConfig) else TrainConfig.from_dict(training)
    out = check_model_output(output, data) if output is not None else None
    if resume and out is None:
        raise ConfigError("resume needs the output path of the interrupted training")
    state: dict[str, Any] | None = None
    if resume:
        assert out is not None
        for candidate in (partial_checkpoint(out), out):
            if candidate.exists():
                state = read_checkpoint(candidate)
                state["extending"] = candidate == out  # a finished model: the convergence window restarts
                break
    dist, device = init_distributed(cfg.device)
    if state is not None:
        cfg = cfg.replace(seed=int(state["meta"]["training"]["seed"]))
    elif cfg.seed is None:
        cfg = cfg.replace(seed=dist.broadcast(fresh_seed()))  # every process must draw the same batches
    try:
        return _train(data, out, net_cfg, cfg, state, dist, device, progress, history, callback, callback_every)
    finally:
        dist.close()


def _train(
    data: str | Path | xr.Dataset,
    out: Path | None,
    net_cfg: NetworkConfig,
    cfg: TrainConfig,
    state: dict[str, Any] | None,
    dist: DistributedContext,
    device: torch.device,
    progress: bool | None,
    history: str | None,
    callback: Callable[[int, TrainedModel], None] | None,
    callback_every: int,
) -> TrainResult:
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    ds, source = _source(data)
    setup = _setup(ds, source, net_cfg, cfg)
    module: nn.Module = setup["module"].to(device)
    meta: dict[str, Any] = setup["meta"]
    data_source, data_gen = setup["data"], setup["data_gen"]
    if cfg.steps is None and cfg.max_time is None:
        cfg = cfg.replace(steps=default_steps(data_source.n_particles, data_source.dim))
    process = setup["run"].process
    centre = float(process.centre) if meta["kind"] == "denoiser" and process is not None else 0.0
    validation_set = make_validation_set(
        meta["kind"],
        setup["held_out"],
        cfg.validation_points,
        make_generator(int(cfg.seed), "validation-draws"),  # type: ignore[arg-type]
        device,
        cfg.weighting,
        centre,
        cfg.n_projections,
    )
    ema = copy.deepcopy(module).requires_grad_(False)
    forward = dist.wrap(module, device)
    optimizer = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    proj_gen = make_generator(int(cfg.seed), "projection", device)  # type: ignore[arg-type]
    rows: dict[str, list[float]] = {k: [] for k in LOG_COLUMNS}
    log_steps: list[int] = []
    val: dict[str, list[float]] = {k: [] for k in VALIDATION_COLUMNS}
    start, elapsed0, origin = 0, 0.0, 0
    cooldown: tuple[int, int] | None = None  # (first step, length) of the annealing before an early stop
    pending: str | None = None  # why the cooldown started: the stop reason once it ends
    history_text = history_line(history or "train")
    if state is not None:
        _check_resume(state["meta"], meta)
        module.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        optimizer.load_state_dict(state["optimizer"])
        data_gen.set_state(state["rng"]["data"])
        if "projection" in state["rng"]:
            with contextlib.suppress(RuntimeError):  # another device kind: the stream restarts
                proj_gen.set_state(state["rng"]["projection"])
        start = int(state["step"])
        log = state.get("log", {})
        log_steps = [int(s) for s in log.get("step", [])]
        rows = {k: [float(v) for v in log.get(k, [])] for k in LOG_COLUMNS}
        elapsed0 = rows["wall_time"][-1] if rows["wall_time"] else 0.0
        val = {k: [float(v) for v in log.get(k, [])] for k in VALIDATION_COLUMNS}
        stopping = {} if state.get("extending") else state.get("stopping", {})
        origin = start if state.get("extending") else int(stopping.get("origin", 0))
        cooldown = tuple(stopping["cooldown"]) if stopping.get("cooldown") else None
        pending = stopping.get("pending")
        history_text = state["meta"].get("history", "") + "\n" + history_line(history or "train --resume")
    meta["history"] = history_text
    meta["training"] = cfg.to_dict()

    def snapshot(step: int) -> dict[str, Any]:
        return {
            "step": step,
            "meta": meta,
            "model": module.state_dict(),
            "ema": ema.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": {"data": data_gen.get_state(), "projection": proj_gen.get_state().cpu()},
            "log": {
                "step": list(log_steps),
                **{k: list(v) for k, v in rows.items()},
                **{k: list(v) for k, v in val.items()},
            },
            "stopping": {"origin": origin, "cooldown": list(cooldown) if cooldown else None, "pending": pending},
        }

    # a time budget without a step cap: max_time (or convergence) ends the run
    steps_cap = int(cfg.steps) if cfg.steps is not None else UNCAPPED_STEPS
    bar = _progress_bar(start, steps_cap if cfg.steps is not None else None, progress if dist.is_main else False)
    module.train()
    started = time.perf_counter()
    paused = 0.0  # seconds spent in callbacks
    acc_loss, acc_norm, acc_n = 0.0, 0.0, 0
    stop_reason = "steps"
    done = start

    def validate(step: int) -> None:
        ema.eval()
        loss, se = validation_set.loss(ema)
        val["validation_step"].append(step)
        val["validation_loss"].append(loss)
        val["validation_se"].append(se)

    if not val["validation_step"]:
        validate(start)  # the reference of the convergence rule: the untrained model
    try:
        for step in range(start, steps_cap):
            lr = learning_rate(step, cfg, cooldown)
            for group in optimizer.param_groups:
                group["lr"] = lr
            batch = data_source.draw(cfg.batch_size, data_gen, device)
            loss = step_loss(meta["kind"], module, forward, batch, cfg, proj_gen, centre, dist, step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            params = [p for p in module.parameters() if p.grad is not None]
            if cfg.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip)
            else:
                norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params if p.grad is not None]))
            value = dist.mean(float(loss.detach()), device)
            if not math.isfinite(value):
                raise TrainingDiverged(f"training diverged at step {step} (loss = {value}); lower the learning rate")
            optimizer.step()
            ema_update(ema, module, cfg.ema_decay, step)
            acc_loss, acc_norm, acc_n = acc_loss + value, acc_norm + float(norm), acc_n + 1
            done = step + 1
            stop = None
            if cooldown is not None and done >= cooldown[0] + cooldown[1]:
                stop = pending
            if done % cfg.validate_every == 0 or done == steps_cap or stop is not None:
                validate(done)
                if cooldown is None and converged(
                    val["validation_step"],
                    val["validation_loss"],
                    patience=cfg.patience,
                    min_improvement=cfg.min_improvement,
                    smoothing=cfg.smoothing,
                    origin=origin,
                ):
                    cooldown, pending = _cooldown(done, origin, steps_cap, cfg), "converged"
            if cooldown is None and auto_cooldown(cfg) and done >= COOLDOWN_AT * steps_cap and done < steps_cap:
                cooldown, pending = (done, steps_cap - done), "steps"
            if cfg.max_time is not None and stop is None:
                elapsed = time.perf_counter() - started - paused
                over = dist.broadcast(int(elapsed >= cfg.max_time) + 2 * int(elapsed >= COOLDOWN_AT * cfg.max_time))
                if over & 2 and cooldown is None:  # every process decides at the same step
                    cooldown, pending = _cooldown(done, start, steps_cap, cfg), "max_time"
                if over & 1:
                    stop = "max_time"
                    if val["validation_step"][-1:] != [done]:
                        validate(done)
            if done % cfg.log_every == 0 or done == steps_cap or (stop is not None and acc_n):
                log_steps.append(done)
                rows["loss"].append(acc_loss / acc_n)
                rows["lr"].append(lr)
                rows["grad_norm"].append(acc_norm / acc_n)
                rows["wall_time"].append(elapsed0 + time.perf_counter() - started - paused)
                bar.set_postfix(
                    _postfix(rows["loss"][-1], val, cfg.max_time, time.perf_counter() - started - paused), refresh=False
                )
                acc_loss, acc_norm, acc_n = 0.0, 0.0, 0
            bar.update(1)
            if stop is not None:
                stop_reason = stop
                break
            if (
                out is not None
                and dist.is_main
                and cfg.checkpoint_every
                and done % cfg.checkpoint_every == 0
                and done < steps_cap
            ):
                save_checkpoint(snapshot(done), partial_checkpoint(out))
            if callback is not None and dist.is_main and callback_every and done % callback_every == 0:
                pause = time.perf_counter()
                ema.eval()
                callback(done, TrainedModel(ema, meta, done, str(out) if out is not None else ""))
                paused += time.perf_counter() - pause
    finally:
        bar.close()
    final_step = max(done, start)
    if done == start and state is not None:  # nothing to do: the model already had these steps
        stop_reason = state["meta"].get("stop", {}).get("reason", "steps")
    if not val["validation_step"] or val["validation_step"][-1] != final_step:
        validate(final_step)
    meta["stop"] = {
        "reason": stop_reason,
        "step": final_step,
        "rule": _stop_rule(cfg),
        "validation_loss": val["validation_loss"][-1],
        "validation_se": val["validation_se"][-1],
    }
    log_ds = _log_dataset(rows, log_steps, meta, history_text, val)
    if out is not None and dist.is_main:
        save_checkpoint(snapshot(final_step), out)
        save_dataset(log_ds, loss_log_path(out))
        partial = partial_checkpoint(out)
        if partial.exists():
            partial.unlink()
    dist.barrier()
    ema.eval()
    for p in ema.parameters():
        p.requires_grad_(False)
    model = TrainedModel(ema, meta, final_step, str(out) if out is not None else "")
    return TrainResult(model, log_ds, out)


def _postfix(loss: float, val: dict[str, list[float]], max_time: float | None, elapsed: float) -> dict[str, str]:
    """Progress-bar fields: training loss, last validation loss, and the time left under ``max_time``."""
    fields = {"loss": f"{loss:.4g}"}
    if val["validation_loss"]:
        fields["val"] = f"{val['validation_loss'][-1]:.4g}"
    if max_time is not None:
        fields["time_left"] = f"{max(max_time - elapsed, 0.0):.0f}s"
    return fields


def _progress_bar(initial: int, total: int | None, enabled: bool | None) -> Any:
    from tqdm.auto import tqdm

    if enabled is None:
        enabled = sys.stderr.isatty()
    return tqdm(total=total, initial=initial, unit="step", desc="train", disable=not enabled, leave=False)
