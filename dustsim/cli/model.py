"""``dustsim train``, ``sample``, ``restore``, ``likelihood``: the score-model commands.

torch and :mod:`dustsim.model` are imported inside the command functions, so that
``dustsim --help`` and ``dustsim simulate`` never load torch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ._common import command_line, output_option, seed_option

DEVICE_HELP = "auto (CUDA when present), cpu, cuda, cuda:N."


def device_option() -> Any:
    return click.option("--device", default=None, help=f"Device: {DEVICE_HELP} [default: auto]")


def config_option() -> Any:
    return click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False),
                        help="TOML file with [network], [training] and/or [sampler] tables; flags override it.")


def progress_option() -> Any:
    return click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")


def sampler_options(default_steps: int | None = None) -> Any:
    def wrap(fn: Any) -> Any:
        for opt in reversed([
            click.option("--sampler", "sampler_name",
                         help="euler-maruyama (em), pc, heun, rk45 or ddim [default: euler-maruyama]."),
            click.option("--steps", type=click.IntRange(1), default=default_steps,
                         help="Sampler steps (rk45: reported frames) [default: 500]."),
            click.option("--t-min", type=float, help="Last time of the reverse integration."),
            click.option("--spacing", type=click.Choice(["uniform", "edm"]), help="Time grid of the steps."),
            click.option("--record-every", type=click.IntRange(0), help="Steps between recorded frames [10]."),
            click.option("--denoise/--no-denoise", default=None,
                         help="Finish with Tweedie's E[X0 | X_tmin] at t = 0 (linear processes) [on]."),
            click.option("--snr", type=float, help="Predictor-corrector signal-to-noise ratio [0.16]."),
        ]):
            fn = opt(fn)
        return fn

    return wrap


def _sampler_config(tables: dict[str, Any], **flags: Any) -> Any:
    from ..model.config import SamplerConfig

    cfg = SamplerConfig.from_dict(tables.get("sampler"), source="config")
    return cfg.replace(**flags)


def _ensure_suffix(output: str) -> None:
    from ..errors import ConfigError

    if Path(output).suffix.lower() not in (".nc", ".nc4", ".netcdf", ".zarr"):
        raise ConfigError(f"cannot tell the format of {output!r} from its suffix; use .nc or .zarr")


def realization_option() -> Any:
    return click.option("--realization", type=click.IntRange(0), default=None, metavar="R",
                        help="Use realization R of an ensemble or sweep store (its index along 'realization').")


def _select_realization(ds: Any, realization: int | None, path: str) -> Any:
    """The trajectory itself, or one realization of an ensemble or sweep store."""
    from ..errors import ConfigError

    if realization is None:
        return ds
    if "realization" not in ds.dims:
        raise ConfigError(f"--realization: {path} has no realization dimension")
    if realization >= ds.sizes["realization"]:
        raise ConfigError(f"--realization {realization}: {path} has {ds.sizes['realization']} realizations")
    return ds.isel(realization=realization)


# ------------------------------------------------------------------------- train
@click.command("train")
@click.argument("trajectory", type=click.Path(dir_okay=True))
@output_option(help_text="Model checkpoint to write, e.g. model.pt (loss log: model.loss.nc).")
@config_option()
@click.option("--objective", type=click.Choice(["auto", "dsm", "ssm"]),
              help="dsm (exact kernel, linear processes) or ssm (sliced score matching on frames) [auto].")
@click.option("--network", "network_kind", type=click.Choice(["mlp", "resmlp"]), help="Network [resmlp].")
@click.option("--width", type=click.IntRange(1), help="Hidden width [128].")
@click.option("--depth", type=click.IntRange(1), help="Hidden layers / residual blocks [3].")
@click.option("--fourier-features", type=click.IntRange(0),
              help="Fourier features of the positions per axis, for sharp edges (text, images) [0: none].")
@click.option("--steps", type=click.IntRange(1),
              help="Cap on the optimiser steps [auto: 4000 for 1e5 2-D particles, scaled by (N/1e5)^(1/4) sqrt(d/2)].")
@click.option("--max-time", type=float, metavar="SECONDS", help="Cap on the training wall-clock time [none].")
@click.option("--validation-fraction", type=float, help="Fraction of particles held out for validation [0.1].")
@click.option("--patience", type=click.IntRange(0),
              help="Stop when the validation loss has not improved for this many steps (0: never) [1000].")
@click.option("--batch-size", type=click.IntRange(1), help="Particles per batch [2048].")
@click.option("--lr", type=float, help="Peak learning rate [2e-3].")
@click.option("--weighting", type=click.Choice(["edm", "sigma2", "likelihood"]), help="DSM weighting [edm].")
@click.option("--checkpoint-every", type=click.IntRange(0), help="Steps between checkpoints [1000].")
@click.option("--threads", type=click.IntRange(1), help="torch CPU threads.")
@seed_option()
@device_option()
@click.option("--resume", is_flag=True, help="Continue an interrupted training of the same output.")
@realization_option()
@progress_option()
def train_command(trajectory: str, output: str, config_file: str | None, objective: str | None,
                  network_kind: str | None, width: int | None, depth: int | None, fourier_features: int | None,
                  steps: int | None,
                  max_time: float | None, validation_fraction: float | None, patience: int | None,
                  batch_size: int | None, lr: float | None, weighting: str | None, checkpoint_every: int | None,
                  threads: int | None, seed: int | None, device: str | None, resume: bool,
                  realization: int | None, progress: bool | None) -> None:
    """Train a score model that reverses the forward TRAJECTORY.

    Training stops by itself when the held-out validation loss stops improving
    (--patience), or at the --steps or --max-time cap; the reason is recorded in the
    model and its loss log.

    \b
    Examples:
      dustsim train dust.nc -o model.pt
      dustsim train dust.nc -o model.pt --max-time 60
      dustsim train dust.nc -o model.pt --steps 5000 --width 64 --seed 1
      dustsim train dust.nc -o model.pt --objective ssm      # kernel-free: recorded frames
      dustsim train dust.nc -o model.pt --resume             # after an interruption
      dustsim train sweep.zarr --realization 3 -o member3.pt # one member of a sweep
    """
    from ..model.config import NetworkConfig, TrainConfig, load_tables
    from ..model.training import train

    tables = load_tables(config_file)
    net = NetworkConfig.from_dict(tables.get("network"), source=config_file or "config")
    net = net.replace(kind=network_kind, width=width, depth=depth, fourier_features=fourier_features)
    cfg = TrainConfig.from_dict(tables.get("training"), source=config_file or "config")
    cfg = cfg.replace(objective=objective, steps=steps, max_time=max_time, validation_fraction=validation_fraction,
                      patience=patience, batch_size=batch_size, lr=lr, weighting=weighting,
                      checkpoint_every=checkpoint_every, threads=threads, seed=seed, device=device)
    data: Any = trajectory
    if realization is not None:
        from ..io import open_trajectory

        data = _select_realization(open_trajectory(trajectory), realization, trajectory)
    started = time.perf_counter()
    result = train(data, output, network=net, training=cfg, resume=resume, progress=progress,
                   history=command_line())
    elapsed = time.perf_counter() - started
    log = result.log
    last = float(log["loss"].values[-1]) if log.sizes["step"] else float("nan")
    meta = result.model.meta
    click.echo(
        f"wrote {output}: {meta['kind']} model ({meta['objective']}, {meta['network']['kind']} "
        f"{meta['network']['width']}x{meta['network']['depth']}) on {meta['dim']}-D data, "
        f"{result.model.step} steps, final loss {last:.4g}, seed {meta['training']['seed']}, {elapsed:.1f} s"
    )
    stop = meta.get("stop", {})
    if stop:
        why = {"converged": "the validation loss stopped improving", "max_time": "--max-time reached",
               "steps": "the step cap was reached"}.get(stop["reason"], stop["reason"])
        click.echo(f"stopped at step {stop['step']}: {why} (validation loss {stop['validation_loss']:.5g} "
                   f"± {stop['validation_se']:.2g})")


# ------------------------------------------------------------------------ sample
@click.command("sample")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--n", type=click.IntRange(1), required=True, help="Number of particles to generate.")
@sampler_options()
@config_option()
@seed_option()
@device_option()
@click.option("--raw-weights", is_flag=True, help="Use the raw weights instead of their EMA.")
@progress_option()
@output_option(help_text="Reverse trajectory: .nc (netCDF) or .zarr (Zarr).")
def sample_command(model_path: str, n: int, sampler_name: str | None, steps: int | None, t_min: float | None,
                   spacing: str | None, record_every: int | None, denoise: bool | None, snr: float | None,
                   config_file: str | None, seed: int | None, device: str | None, raw_weights: bool,
                   progress: bool | None, output: str) -> None:
    """Generate particles with MODEL; write the reverse trajectory (same schema as the forward one).

    \b
    Examples:
      dustsim sample model.pt --n 10000 -o gen.nc
      dustsim sample model.pt --n 10000 --sampler heun --steps 100 -o gen.zarr
      dustsim sample model.pt --n 5000 --sampler pc --snr 0.1 --steps 1000 --seed 3 -o gen.nc
    """
    from ..io import save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.generate import sample

    _ensure_suffix(output)
    cfg = _sampler_config(load_tables(config_file), name=sampler_name, steps=steps, t_min=t_min, spacing=spacing,
                          record_every=record_every, denoise=denoise, snr=snr, seed=seed, device=device)
    if raw_weights:
        cfg = cfg.replace(use_ema=False)
    started = time.perf_counter()
    model = load_model(model_path, cfg.device, use_ema=cfg.use_ema)
    ds = sample(model, n, cfg, progress=progress, history=command_line())
    save_dataset(ds, output)
    elapsed = time.perf_counter() - started
    click.echo(
        f"wrote {output}: {n} particles in {model.dim}-D, {ds.sizes['time']} frames, "
        f"t = {float(ds.time[0]):g}..{float(ds.time[-1]):g} ({cfg.name}, {cfg.steps} steps), "
        f"seed {ds.attrs['seed']}, {elapsed:.1f} s"
    )


# ----------------------------------------------------------------------- restore
@click.command("restore")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("trajectory", type=click.Path(dir_okay=True))
@click.option("--from-time", type=float, required=True, help="Time of the recorded frame to restore.")
@sampler_options()
@click.option("--hold-axis", "hold_axes", multiple=True, metavar="AXIS",
              help="Inpainting: hold this coordinate (x, y, z or an index) of every particle (repeatable).")
@click.option("--hold-label", "hold_labels", multiple=True, type=int, metavar="LABEL",
              help="Inpainting: hold the particles with this label (repeatable).")
@config_option()
@seed_option()
@device_option()
@realization_option()
@progress_option()
@output_option(help_text="Restoration trajectory: .nc (netCDF) or .zarr (Zarr).")
def restore_command(model_path: str, trajectory: str, from_time: float, sampler_name: str | None,
                    steps: int | None, t_min: float | None, spacing: str | None, record_every: int | None,
                    denoise: bool | None, snr: float | None, hold_axes: tuple[str, ...], hold_labels: tuple[int, ...],
                    config_file: str | None, seed: int | None, device: str | None, realization: int | None,
                    progress: bool | None, output: str) -> None:
    """Restore the frame of TRAJECTORY at --from-time back to t = 0 with MODEL (SDEdit, inpainting).

    \b
    Examples:
      dustsim restore model.pt dust.nc --from-time 0.3 -o restored.nc
      dustsim restore model.pt dust.nc --from-time 0.3 --hold-axis x -o cond.nc
    """
    import numpy as np

    from ..errors import ConfigError
    from ..io import open_trajectory, save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.restore import hold_mask, restore

    _ensure_suffix(output)
    cfg = _sampler_config(load_tables(config_file), name=sampler_name, steps=steps, t_min=t_min, spacing=spacing,
                          record_every=record_every, denoise=denoise, snr=snr, seed=seed, device=device)
    ds = _select_realization(open_trajectory(trajectory), realization, trajectory)
    n, d = ds.sizes["particle"], ds.sizes["spatial"]
    particles = None
    if hold_labels:
        if "label" not in ds.coords:
            raise ConfigError(f"--hold-label: {trajectory} has no particle labels")
        particles = np.isin(ds["label"].values, hold_labels)
    mask = hold_mask(n, d, axes=hold_axes, particles=particles) if (hold_axes or hold_labels) else None
    started = time.perf_counter()
    model = load_model(model_path, cfg.device, use_ema=cfg.use_ema)
    out = restore(model, ds, from_time, cfg, hold=mask, progress=progress, history=command_line())
    save_dataset(out, output)
    elapsed = time.perf_counter() - started
    a = out.attrs
    click.echo(
        f"wrote {output}: {n} particles restored from t = {a['from_time']:g}; mean displacement from the "
        f"originals {a['mean_displacement_noised']:.4g} (noised) -> {a['mean_displacement_restored']:.4g} "
        f"(restored); energy distance {a['energy_distance_noised']:.3g} -> {a['energy_distance_restored']:.3g}; "
        f"seed {a['seed']}, {elapsed:.1f} s"
    )


# -------------------------------------------------------------------- likelihood
@click.command("likelihood")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("points", type=click.Path(dir_okay=True))
@click.option("--time", "frame_time", type=float, default=0.0, show_default=True,
              help="For a trajectory POINTS file: the frame whose particles are evaluated.")
@click.option("--t-min", type=float, help="Time at which the density is evaluated [1e-5 t_end].")
@click.option("--divergence", type=click.Choice(["auto", "exact", "hutchinson"]), default="auto", show_default=True,
              help="Exact divergence (autograd, default for d <= 3) or Hutchinson's estimator.")
@click.option("--bits", is_flag=True, help="Also print bits per dimension (-log p / (d ln 2)).")
@click.option("--max-points", type=click.IntRange(1), help="Evaluate only the first N points.")
@config_option()
@seed_option()
@device_option()
@output_option(required=False, help_text="Write per-point log-likelihoods (.nc or .zarr).")
def likelihood_command(model_path: str, points: str, frame_time: float, t_min: float | None, divergence: str,
                       bits: bool, max_points: int | None, config_file: str | None, seed: int | None,
                       device: str | None, output: str | None) -> None:
    """Log-likelihood (nats) of POINTS under MODEL, via the probability-flow ODE.

    POINTS is a .npy / .csv / .txt array (N x d) or a trajectory (.nc / .zarr; the frame
    at --time).

    \b
    Examples:
      dustsim likelihood model.pt held_out.npy
      dustsim likelihood model.pt dust.nc --time 0 --max-points 2000 --bits -o ll.nc
    """
    import numpy as np

    from ..artifacts import load_points
    from ..errors import ConfigError
    from ..io import open_trajectory, save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.evaluate import model_log_likelihood

    if output is not None:
        _ensure_suffix(output)
    tables = load_tables(config_file)
    device = device or tables.get("sampler", {}).get("device", "auto")
    if Path(points).suffix.lower() in (".nc", ".nc4", ".netcdf", ".zarr"):
        ds = open_trajectory(points)
        times = ds["time"].values
        k = int(np.argmin(np.abs(times - frame_time)))
        if abs(times[k] - frame_time) > 1e-6 * max(1.0, abs(frame_time)):
            raise ConfigError(f"{points} has no frame at t = {frame_time:g}")
        x = np.asarray(ds["position"].isel(time=k).values, dtype=np.float64)
    else:
        x = load_points(points)
    if max_points is not None:
        x = x[:max_points]
    started = time.perf_counter()
    model = load_model(model_path, device)
    res = model_log_likelihood(model, x, t_min=t_min, divergence=divergence, seed=seed)
    elapsed = time.perf_counter() - started
    a = res.attrs
    line = (f"mean log-likelihood {a['mean_log_likelihood']:.5g} ± {a['standard_error']:.2g} nats per point "
            f"({len(x)} points, {model.dim}-D, t_min = {a['t_min']:g}, {a['divergence']} divergence, "
            f"{a['nfev']} ODE evaluations, {elapsed:.1f} s)")
    if bits:
        line += f"; {a['bits_per_dim']:.5g} bits/dim"
    click.echo(line)
    if output is not None:
        res.attrs["history"] = command_line()
        save_dataset(res, output)
        click.echo(f"wrote {output}")


COMMANDS = (train_command, sample_command, restore_command, likelihood_command)
