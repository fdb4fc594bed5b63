"""``dustsim train``, ``sample``, ``restore``, ``likelihood``: the score-model commands.

torch and :mod:`dustsim.model` are imported inside the command functions, so that
``dustsim --help`` and ``dustsim simulate`` never load torch.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import click

from ._common import command_line, dry_run_option, output_option, print_plan, seed_option

DEVICE_HELP = "auto (CUDA when present), cpu, cuda, cuda:N."


def device_option() -> Any:
    return click.option("--device", default=None, help=f"Device: {DEVICE_HELP} [default: auto]")


def config_option() -> Any:
    return click.option(
        "-c",
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        help="TOML file with [network], [training] and/or [sampler] tables; flags override it.",
    )


def progress_option() -> Any:
    return click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")


def sampler_options(default_sampler: str) -> Any:
    """The sampler flags; ``default_sampler`` names the command's default in the help
    (:data:`dustsim.model.config.SAMPLE_SAMPLER` / ``RESTORE_SAMPLER``, written out so that
    ``dustsim --help`` does not import torch; a test checks they agree)."""

    def wrap(fn: Any) -> Any:
        for opt in reversed(
            [
                click.option(
                    "--sampler",
                    "sampler_name",
                    help=f"euler-maruyama (em), pc, heun (ode), rk45 or ddim [default: {default_sampler}].",
                ),
                click.option(
                    "--steps",
                    type=click.IntRange(1),
                    help="Sampler steps (rk45: reported frames) [default: 100 for heun, 500 for the others].",
                ),
                click.option("--t-min", type=float, help="Last time of the reverse integration."),
                click.option("--spacing", type=click.Choice(["uniform", "edm"]), help="Time grid of the steps."),
                click.option(
                    "--record-every",
                    type=click.IntRange(0),
                    help="Steps between recorded frames; 0 records the first and last only [10].",
                ),
                click.option(
                    "--denoise/--no-denoise",
                    default=None,
                    help="Finish with Tweedie's E[X0 | X_tmin] at t = 0 (linear processes) [on].",
                ),
                click.option("--snr", type=float, help="Predictor-corrector signal-to-noise ratio [0.16]."),
            ]
        ):
            fn = opt(fn)
        return fn

    return wrap


def _sampler_config(tables: dict[str, Any], command: str, **flags: Any) -> Any:
    """The resolved sampler config of ``command`` (``sample`` or ``restore``, whose default samplers differ)."""
    from ..model.config import RESTORE_SAMPLER, SAMPLE_SAMPLER, SamplerConfig

    cfg = SamplerConfig.from_dict(tables.get("sampler"), source="config")
    return cfg.replace(**flags).resolved(SAMPLE_SAMPLER if command == "sample" else RESTORE_SAMPLER)


def _ensure_suffix(output: str) -> None:
    from ..errors import ConfigError

    if Path(output).suffix.lower() not in (".nc", ".nc4", ".netcdf", ".zarr"):
        raise ConfigError(f"cannot tell the format of {output!r} from its suffix; use .nc or .zarr")


def _reverse_plan(model: Any, cfg: Any, n: int, t_start: float | None, output: str) -> dict[str, Any]:
    """What a reverse run will do and write (the sampler grid resolved, as the run resolves it)."""
    from ..model.generate import reverse_times
    from ..preflight import check_disk, format_bytes

    ts, spacing = reverse_times(model, cfg, t_start=t_start)
    every = cfg.record_every if cfg.record_every else cfg.steps
    frames = cfg.steps // max(1, every) + 2 + (1 if cfg.denoise else 0)  # at most
    nbytes = frames * n * model.dim * 4 + 3 * n * model.dim * 8
    check_disk(nbytes, output, f"{frames} frames of {n} particles", "record fewer frames (--record-every)")
    return {
        "sampler": f"{cfg.name}, {cfg.steps} steps, {spacing} spacing, t = {ts[0]:g} -> {ts[-1]:g}",
        "device": str(model.device),
        "seed": cfg.seed if cfg.seed is not None else "fresh",
        "output": f"{output}: at most {frames} frames, about {format_bytes(nbytes)}",
    }


def realization_option() -> Any:
    return click.option(
        "--realization",
        type=click.IntRange(0),
        default=None,
        metavar="R",
        help="Use realization R of an ensemble or sweep store (its index along 'realization').",
    )


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
@click.option(
    "--objective",
    type=click.Choice(["auto", "dsm", "ssm"]),
    help="dsm (exact kernel, linear processes) or ssm (sliced score matching on frames) [auto].",
)
@click.option("--network", "network_kind", type=click.Choice(["mlp", "resmlp"]), help="Network [resmlp].")
@click.option("--width", type=click.IntRange(1), help="Hidden width [128].")
@click.option("--depth", type=click.IntRange(1), help="Hidden layers / residual blocks [3].")
@click.option(
    "--fourier-features",
    type=click.IntRange(0),
    help="Fourier features of the positions per axis, noise-damped, for sharp edges (text, images) [16; 0: none].",
)
@click.option(
    "--steps",
    type=click.IntRange(1),
    help="Cap on the optimiser steps [auto: 4000 for 1e5 2-D particles, scaled by (N/1e5)^(1/4) sqrt(d/2)].",
)
@click.option("--max-time", type=float, metavar="SECONDS", help="Cap on the training wall-clock time [none].")
@click.option("--validation-fraction", type=float, help="Fraction of particles held out for validation [0.1].")
@click.option(
    "--patience",
    type=click.IntRange(0),
    help="Stop when the validation loss has not improved for this many steps (0: never) [1000].",
)
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
@dry_run_option()
def train_command(
    trajectory: str,
    output: str,
    config_file: str | None,
    objective: str | None,
    network_kind: str | None,
    width: int | None,
    depth: int | None,
    fourier_features: int | None,
    steps: int | None,
    max_time: float | None,
    validation_fraction: float | None,
    patience: int | None,
    batch_size: int | None,
    lr: float | None,
    weighting: str | None,
    checkpoint_every: int | None,
    threads: int | None,
    seed: int | None,
    device: str | None,
    resume: bool,
    realization: int | None,
    progress: bool | None,
    dry_run: bool,
) -> None:
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
    cfg = cfg.replace(
        objective=objective,
        steps=steps,
        max_time=max_time,
        validation_fraction=validation_fraction,
        patience=patience,
        batch_size=batch_size,
        lr=lr,
        weighting=weighting,
        checkpoint_every=checkpoint_every,
        threads=threads,
        seed=seed,
        device=device,
    )
    data: Any = trajectory
    if realization is not None:
        from ..io import open_trajectory

        data = _select_realization(open_trajectory(trajectory), realization, trajectory)
    if dry_run:
        _train_plan(data, trajectory, output, net, cfg)
        return
    started = time.perf_counter()
    result = train(data, output, network=net, training=cfg, resume=resume, progress=progress, history=command_line())
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
        why = {
            "converged": "the validation loss stopped improving",
            "max_time": "--max-time reached",
            "steps": "the step cap was reached",
        }.get(stop["reason"], stop["reason"])
        click.echo(
            f"stopped at step {stop['step']}: {why} (validation loss {stop['validation_loss']:.5g} "
            f"± {stop['validation_se']:.2g})"
        )
    _echo_prior_gap(meta.get("prior_gap", {}))


def _train_plan(data: Any, trajectory: str, output: str, net: Any, cfg: Any) -> None:
    """Print what ``dustsim train`` will do (configs validated, data opened, outputs checked)."""
    from ..io import open_trajectory
    from ..model.device import select_device
    from ..model.training import check_model_output

    net.validate()
    cfg.validate()
    device = select_device(cfg.device)
    check_model_output(output, trajectory)
    ds = open_trajectory(data) if isinstance(data, str) else data
    stem = Path(output).with_suffix("")
    print_plan(
        "train",
        {
            "data": f"{trajectory}: {ds.sizes['time']} frames of {ds.sizes['particle']} particles in "
            f"{ds.sizes['spatial']}-D ({ds.attrs.get('process', '?')})",
            "network": ", ".join(f"{k} = {v}" for k, v in net.to_dict().items()),
            "training": ", ".join(f"{k} = {v}" for k, v in cfg.to_dict().items()),
            "device": str(device),
            "outputs": f"{output} (checkpoint; {output}.partial while running), {stem}.loss.nc (loss log)",
        },
    )


# ------------------------------------------------------------------------ sample
@click.command("sample")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.option("--n", type=click.IntRange(1), required=True, help="Number of particles to generate.")
@sampler_options("heun")
@config_option()
@seed_option()
@device_option()
@click.option("--raw-weights", is_flag=True, help="Use the raw weights instead of their EMA.")
@progress_option()
@dry_run_option()
@output_option(help_text="Reverse trajectory: .nc (netCDF) or .zarr (Zarr).")
def sample_command(
    model_path: str,
    n: int,
    sampler_name: str | None,
    steps: int | None,
    t_min: float | None,
    spacing: str | None,
    record_every: int | None,
    denoise: bool | None,
    snr: float | None,
    config_file: str | None,
    seed: int | None,
    device: str | None,
    raw_weights: bool,
    progress: bool | None,
    dry_run: bool,
    output: str,
) -> None:
    """Generate particles with MODEL; write the reverse trajectory (same schema as the forward one).

    \b
    Examples:
      dustsim sample model.pt --n 10000 -o gen.nc
      dustsim sample model.pt --n 10000 --sampler em --steps 500 -o gen.zarr
      dustsim sample model.pt --n 5000 --sampler pc --snr 0.1 --steps 1000 --seed 3 -o gen.nc
    """
    from ..io import check_writable, save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.generate import sample

    _ensure_suffix(output)
    check_writable(output, reads=[model_path])
    cfg = _sampler_config(
        load_tables(config_file),
        "sample",
        name=sampler_name,
        steps=steps,
        t_min=t_min,
        spacing=spacing,
        record_every=record_every,
        denoise=denoise,
        snr=snr,
        seed=seed,
        device=device,
    )
    if raw_weights:
        cfg = cfg.replace(use_ema=False)
    started = time.perf_counter()
    model = load_model(model_path, cfg.device, use_ema=cfg.use_ema)
    plan = _reverse_plan(model, cfg, n, None, output)
    if dry_run:
        print_plan("sample", {"model": f"{model_path} ({model.dim}-D, {model.kind})", **plan})
        return
    ds = sample(model, n, cfg, progress=progress, history=command_line())
    save_dataset(ds, output)
    elapsed = time.perf_counter() - started
    click.echo(
        f"wrote {output}: {n} particles in {model.dim}-D, {ds.sizes['time']} frames, "
        f"t = {float(ds.time[0]):g}..{float(ds.time[-1]):g} ({cfg.name}, {cfg.steps} steps), "
        f"seed {ds.attrs['seed']}, {elapsed:.1f} s"
    )
    _echo_prior_gap(ds.attrs)


def _echo_prior_gap(attrs: dict[str, Any]) -> None:
    from ..schedule_theory.prior_gap import describe_attrs

    line = describe_attrs(attrs)
    if line:
        click.echo(line)


# ----------------------------------------------------------------------- restore
@click.command("restore")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("trajectory", type=click.Path(dir_okay=True))
@click.option("--from-time", type=float, required=True, help="Time of the recorded frame to restore.")
@sampler_options("euler-maruyama")
@click.option(
    "--hold-axis",
    "hold_axes",
    multiple=True,
    metavar="AXIS",
    help="Inpainting: hold this coordinate (x, y, z or an index) of every particle (repeatable).",
)
@click.option(
    "--hold-label",
    "hold_labels",
    multiple=True,
    type=int,
    metavar="LABEL",
    help="Inpainting: hold the particles with this label (repeatable).",
)
@config_option()
@seed_option()
@device_option()
@realization_option()
@progress_option()
@dry_run_option()
@output_option(help_text="Restoration trajectory: .nc (netCDF) or .zarr (Zarr).")
def restore_command(
    model_path: str,
    trajectory: str,
    from_time: float,
    sampler_name: str | None,
    steps: int | None,
    t_min: float | None,
    spacing: str | None,
    record_every: int | None,
    denoise: bool | None,
    snr: float | None,
    hold_axes: tuple[str, ...],
    hold_labels: tuple[int, ...],
    config_file: str | None,
    seed: int | None,
    device: str | None,
    realization: int | None,
    progress: bool | None,
    dry_run: bool,
    output: str,
) -> None:
    """Restore the frame of TRAJECTORY at --from-time back to t = 0 with MODEL (SDEdit, inpainting).

    \b
    Examples:
      dustsim restore model.pt dust.nc --from-time 0.3 -o restored.nc
      dustsim restore model.pt dust.nc --from-time 0.3 --hold-axis x -o cond.nc
    """
    import math

    import numpy as np

    from ..errors import ConfigError
    from ..io import check_writable, open_trajectory, save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.restore import hold_mask, restore

    _ensure_suffix(output)
    check_writable(output, reads=[model_path, trajectory])
    if not math.isfinite(from_time):
        raise ConfigError(f"--from-time must be a finite time, got {from_time!r}")
    cfg = _sampler_config(
        load_tables(config_file),
        "restore",
        name=sampler_name,
        steps=steps,
        t_min=t_min,
        spacing=spacing,
        record_every=record_every,
        denoise=denoise,
        snr=snr,
        seed=seed,
        device=device,
    )
    ds = _select_realization(open_trajectory(trajectory), realization, trajectory)
    n, d = ds.sizes["particle"], ds.sizes["spatial"]
    particles = None
    if hold_labels:
        if "label" not in ds.coords:
            raise ConfigError(f"--hold-label: {trajectory} has no particle labels")
        particles = np.isin(ds["label"].values, hold_labels)
        absent = sorted(set(hold_labels) - set(np.unique(ds["label"].values).tolist()))
        if absent:
            raise ConfigError(f"--hold-label {absent[0]}: no particle of {trajectory} has that label")
    mask = hold_mask(n, d, axes=hold_axes, particles=particles) if (hold_axes or hold_labels) else None
    started = time.perf_counter()
    model = load_model(model_path, cfg.device, use_ema=cfg.use_ema)
    if dry_run:
        from ..model.restore import restoration_frames

        _, _, t_frame, _ = restoration_frames(ds, float(from_time))
        model.check_dim(d, "the trajectory")
        plan = _reverse_plan(model, cfg, n, t_frame, output)
        print_plan(
            "restore",
            {
                "model": f"{model_path} ({model.dim}-D, {model.kind})",
                "trajectory": f"{trajectory}: frame t = {t_frame:g} of {n} particles",
                "held entries": int(mask.sum()) if mask is not None else 0,
                **plan,
            },
        )
        return
    out = restore(model, ds, from_time, cfg, hold=mask, progress=progress, history=command_line())
    save_dataset(out, output)
    elapsed = time.perf_counter() - started
    click.echo(restore_summary(out, output, elapsed))


def restore_summary(out: Any, output: str, elapsed: float) -> str:
    """The lines ``dustsim restore`` prints: each number next to the reference it is read against.

    Per particle, a restoration is a posterior *draw*: it cannot beat the posterior mean
    (the least mean error of any estimate), and an exact draw has sqrt(2) times its rms
    error. As a distribution it should match the originals as closely as an independent
    sample does (the energy-distance floor).
    """
    a = out.attrs
    lines = [
        f"wrote {output}: {out.sizes['particle']} particles restored from t = {a['from_time']:g}, "
        f"seed {a['seed']}, {elapsed:.1f} s"
    ]
    per = [f"noised {a['mean_displacement_noised']:.4g}", f"restored {a['mean_displacement_restored']:.4g}"]
    refs = []
    if "mean_displacement_exact_posterior_draw" in a:
        refs.append(f"exact posterior draw {a['mean_displacement_exact_posterior_draw']:.4g}")
        refs.append(f"exact posterior mean {a['mean_displacement_exact_posterior_mean']:.4g}")
    if "mean_displacement_posterior_mean" in a:
        refs.append(f"model's posterior mean (Tweedie) {a['mean_displacement_posterior_mean']:.4g}")
    lines.append(
        "  per particle, mean distance to the original: "
        + ", ".join(per)
        + (" (references: " + "; ".join(refs) + ")" if refs else "")
    )
    lines.append(
        f"  as a distribution, energy distance to the originals: noised {a['energy_distance_noised']:.3g}, "
        f"restored {a['energy_distance_restored']:.3g} (independent-sample floor "
        f"{a['energy_distance_floor']:.3g} +- {a['energy_distance_floor_sd']:.2g})"
    )
    return "\n".join(lines)


# -------------------------------------------------------------------- likelihood
@click.command("likelihood")
@click.argument("model_path", metavar="MODEL", type=click.Path(dir_okay=False))
@click.argument("points", type=click.Path(dir_okay=True))
@click.option(
    "--time",
    "frame_time",
    type=float,
    default=0.0,
    show_default=True,
    help="For a trajectory POINTS file: the frame whose particles are evaluated.",
)
@click.option("--t-min", type=float, help="Time at which the density is evaluated [1e-5 t_end].")
@click.option(
    "--divergence",
    type=click.Choice(["auto", "exact", "hutchinson"]),
    default="auto",
    show_default=True,
    help="Exact divergence (autograd, default for d <= 3) or Hutchinson's estimator.",
)
@click.option("--bits", is_flag=True, help="Also print bits per dimension (-log p / (d ln 2)).")
@click.option("--max-points", type=click.IntRange(1), help="Evaluate only the first N points.")
@config_option()
@seed_option()
@device_option()
@output_option(required=False, help_text="Write per-point log-likelihoods (.nc or .zarr).")
def likelihood_command(
    model_path: str,
    points: str,
    frame_time: float,
    t_min: float | None,
    divergence: str,
    bits: bool,
    max_points: int | None,
    config_file: str | None,
    seed: int | None,
    device: str | None,
    output: str | None,
) -> None:
    """Log-likelihood (nats) of POINTS under MODEL, via the probability-flow ODE.

    POINTS is a .npy / .csv / .txt array (N x d) or a trajectory (.nc / .zarr; the frame
    at --time).

    \b
    Examples:
      dustsim likelihood model.pt held_out.npy
      dustsim likelihood model.pt dust.nc --time 0 --max-points 2000 --bits -o ll.nc
    """
    import math

    import numpy as np

    from ..artifacts import read_points, to_recorded_units
    from ..errors import ConfigError
    from ..io import check_writable, open_trajectory, save_dataset
    from ..model.checkpoint import load_model
    from ..model.config import load_tables
    from ..model.evaluate import model_log_likelihood

    if output is not None:
        _ensure_suffix(output)
        check_writable(output, reads=[model_path, points])
    if not math.isfinite(frame_time):
        raise ConfigError(f"--time must be a finite time, got {frame_time!r}")
    tables = load_tables(config_file)
    device = device or tables.get("sampler", {}).get("device", "auto")
    if Path(points).suffix.lower() in (".nc", ".nc4", ".netcdf", ".zarr"):
        ds = open_trajectory(points)
        times = ds["time"].values
        k = int(np.argmin(np.abs(times - frame_time)))
        if abs(times[k] - frame_time) > 1e-6 * max(1.0, abs(frame_time)):
            raise ConfigError(f"{points} has no frame at t = {frame_time:g}")
        x = np.asarray(ds["position"].isel(time=k).values, dtype=np.float64)
        columns: Any = _TRAJECTORY
    else:
        x, columns = read_points(points)
    if max_points is not None:
        x = x[:max_points]
    started = time.perf_counter()
    model = load_model(model_path, device)
    log_jacobian = 0.0
    if columns is not _TRAJECTORY:  # a points file in its own units: the training run's transformation
        table = model.source.artifact if model.source is not None else {}
        x, log_jacobian, done = to_recorded_units(x, columns, table)
        if done:
            click.echo(
                f"note: {points} {done} as the model's training data were; log-likelihoods are per point "
                f"in the file's units (Jacobian {log_jacobian:+.4g} nats)",
                err=True,
            )
    res = model_log_likelihood(model, x, t_min=t_min, divergence=divergence, seed=seed)
    if log_jacobian:
        from ..model.likelihood import bits_per_dim

        res["log_likelihood"] = res["log_likelihood"] + log_jacobian
        res["log_likelihood"].attrs.update(
            {"long_name": "log p(x) at t_min, in the points file's units", "units": "nats"}
        )
        res.attrs["mean_log_likelihood"] = float(res["log_likelihood"].mean())
        res.attrs["bits_per_dim"] = float(bits_per_dim(float(res["log_likelihood"].mean()), x.shape[1]))
        res.attrs["log_jacobian"] = log_jacobian
    elapsed = time.perf_counter() - started
    a = res.attrs
    line = (
        f"mean log-likelihood {a['mean_log_likelihood']:.5g} ± {a['standard_error']:.2g} nats per point "
        f"({len(x)} points, {model.dim}-D, t_min = {a['t_min']:g}, {a['divergence']} divergence, "
        f"{a['nfev']} ODE evaluations, {elapsed:.1f} s)"
    )
    if bits:
        line += f"; {a['bits_per_dim']:.5g} bits/dim"
    click.echo(line)
    if output is not None:
        res.attrs["history"] = command_line()
        save_dataset(res, output)
        click.echo(f"wrote {output}")


_TRAJECTORY = object()  # marks points read from a trajectory (already in the dust's units)

COMMANDS = (train_command, sample_command, restore_command, likelihood_command)
