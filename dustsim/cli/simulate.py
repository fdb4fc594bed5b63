"""``dustsim simulate``: run a forward simulation to a trajectory file."""

from __future__ import annotations

import time
from pathlib import Path

import click

from ._common import command_line, output_option, parse_pairs, seed_option
from ._physics import apply_physics, physics_options


@click.command("simulate")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), help="TOML config; flags override it.")
@click.option(
    "--init",
    help="Artifact spec: gmm, swiss-roll, moons, rings, checkerboard, text:WORD, image:PATH, points:PATH, ...",
)
@click.option(
    "-A",
    "--artifact-option",
    "artifact_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Artifact option (repeatable).",
)
@click.option("--n", type=int, help="Number of particles.")
@click.option("--dim", type=int, help="Spatial dimension (default: the artifact's).")
@click.option(
    "--process",
    help="brownian, ou, ve, vp, sub-vp, vp-cosine, fm (flow matching, X_t = (1 - t) X_0 + t Z), "
    "edm (Karras noise levels) or ot (W2 geodesic to N(0, I); -P warp=0,...,1 re-times it).",
)
@click.option(
    "-P",
    "--process-param",
    "process_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Process parameter, e.g. -P D=0.5 (repeatable).",
)
@click.option("--steps", type=int, help="Number of integration steps.")
@click.option("--dt", type=float, help="Time step (with --steps or --t-end).")
@click.option("--t-end", type=float, help="End time (default 1).")
@click.option("--record-every", type=int, help="Steps between recorded frames (default 10).")
@click.option(
    "--stepper",
    type=click.Choice(["exact", "euler"]),
    help="Exact transition kernel or Euler-Maruyama (default: exact; euler for physical dust).",
)
@click.option("--dtype", type=click.Choice(["float32", "float64"]), help="Precision of positions.")
@seed_option()
@click.option("--threads", type=int, help="Numba threads (results do not depend on it).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run of the same output.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option("--dry-run", is_flag=True, help="Print the resolved config and exit.")
@physics_options()
@output_option(required=False)
def simulate_command(
    config_file: str | None,
    init: str | None,
    artifact_options: tuple[str, ...],
    n: int | None,
    dim: int | None,
    process: str | None,
    process_params: tuple[str, ...],
    steps: int | None,
    dt: float | None,
    t_end: float | None,
    record_every: int | None,
    stepper: str | None,
    dtype: str | None,
    seed: int | None,
    threads: int | None,
    resume: bool,
    progress: bool | None,
    dry_run: bool,
    output: str | None,
    physics: dict,
) -> None:
    """Simulate dust diffusing from an artifact; write the trajectory.

    \b
    Examples:
      dustsim simulate --init text:DUST --n 100000 --process vp -o dust.zarr
      dustsim simulate --init gmm -A k=4 -A std=0.1 --process ou -P k=2 -P D=0.5 -o ou.nc
      dustsim simulate --init points:cloud.npy --process ve --steps 2000 -o cloud.zarr
      dustsim simulate --config run.toml --seed 7 -o run.nc
      dustsim simulate --config run.toml -o big.zarr --resume   # after an interruption
      dustsim simulate --init uniform -A half_width=2 --process brownian --potential double-well:barrier=3 \
          --boundary reflecting --box 6 --dt 1e-3 --steps 5000 -o wells.nc
      dustsim simulate --init uniform -A half_width=40 --n 5000 --process brownian --box 80 \
          --interaction morse:epsilon=4,a=1.5,cutoff=3,cap=100 --dt 5e-4 --steps 40000 -o clumps.zarr
    """
    from ..config import SimulationConfig
    from ..errors import ConfigError
    from ..simulation import prepare, simulate

    cfg = SimulationConfig.load(config_file) if config_file else SimulationConfig()
    if process is not None and process != cfg.process:
        cfg = cfg.replace(process=process, process_params={})
    cfg = cfg.replace(
        init=init,
        n=n,
        dim=dim,
        steps=steps,
        dt=dt,
        t_end=t_end,
        record_every=record_every,
        stepper=stepper,
        dtype=dtype,
        seed=seed,
    )
    if process_params:
        cfg = cfg.replace(process_params={**cfg.process_params, **parse_pairs(process_params, "--process-param")})
    if artifact_options:
        cfg = cfg.replace(artifact={**cfg.artifact, **parse_pairs(artifact_options, "--artifact-option")})
    cfg = apply_physics(cfg, physics)
    if dry_run:
        from ..io import check_writable
        from ..preflight import format_bytes
        from ..simulation import check_config_size, check_frames_size, frame_bytes

        out = check_writable(output) if output is not None else None
        check_config_size(cfg, out)
        plan = prepare(cfg)
        check_frames_size(plan, out)
        click.echo(plan.run.text, nl=False)
        where = f"written to {output}" if output is not None else "in memory (no --output)"
        click.echo(
            f"# plan (dry run, nothing written): {len(plan.record_steps)} frames of {plan.config.n} particles, "
            f"{format_bytes(frame_bytes(plan))} {where}"
        )
        return
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    started = time.perf_counter()
    overrides = {
        "init": init,
        "n": n,
        "dim": dim,
        "steps": steps,
        "dt": dt,
        "t_end": t_end,
        "record_every": record_every,
        "stepper": stepper,
        "dtype": dtype,
        "seed": seed,
    }
    if resume:
        ds = simulate(
            cfg,
            output=output,
            resume=True,
            progress=progress,
            threads=threads,
            history=command_line(),
            **{k: v for k, v in overrides.items() if v is not None},
        )
    else:
        if Path(output).suffix.lower() not in (".nc", ".nc4", ".netcdf", ".zarr"):
            raise ConfigError(f"cannot tell the format of {output!r} from its suffix; use .nc or .zarr")
        ds = simulate(cfg, output=output, progress=progress, threads=threads, history=command_line())
    elapsed = time.perf_counter() - started
    pos = ds["position"]
    click.echo(
        f"wrote {output}: {pos.sizes['particle']} particles in {pos.sizes['spatial']}-D, "
        f"{pos.sizes['time']} frames, t = {float(ds.time[0]):g}..{float(ds.time[-1]):g} "
        f"({int(ds.step[-1])} steps, {ds.attrs['process']}, {ds.attrs['stepper']}, {pos.dtype}), "
        f"seed {ds.attrs['seed']}, {elapsed:.1f} s"
    )
    _echo_prior_gap(ds.attrs)


def _echo_prior_gap(attrs: dict) -> None:
    from ..schedule_theory.prior_gap import describe_attrs

    line = describe_attrs(attrs)
    if line:
        click.echo(line)
