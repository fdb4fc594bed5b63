"""``dustsim fokker-planck``: the reference density of non-interacting dust on a grid."""

from __future__ import annotations

import time

import click

from ._common import command_line, output_option, parse_pairs, seed_option
from ._physics import apply_physics, physics_options


def _ints(text: str | None, option: str) -> int | list[int] | None:
    if text is None:
        return None
    try:
        values = [int(v) for v in text.replace("x", ",").split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not a number of cells like 200 or 200,100", param_hint=option) from None
    return values[0] if len(values) == 1 else values


def _domain(text: str | None) -> list[float] | list[list[float]] | None:
    if text is None:
        return None
    try:
        axes = [[float(v) for v in part.split(",")] for part in text.split(";") if part.strip()]
    except ValueError:
        raise click.BadParameter(f"{text!r} is not LO,HI (or LO,HI;LO,HI)", param_hint="--domain") from None
    return axes[0] if len(axes) == 1 else axes


@click.command("fokker-planck")
@click.option("-c", "--config", "config_file", type=click.Path(dir_okay=False), help="TOML config; flags override it.")
@click.option("--init", help="Artifact spec of the initial density (as for simulate).")
@click.option(
    "-A",
    "--artifact-option",
    "artifact_options",
    multiple=True,
    metavar="KEY=VALUE",
    help="Artifact option (repeatable).",
)
@click.option("--n", type=int, help="Particles whose histogram is the initial density (unless it is exact).")
@click.option("--dim", type=int, help="Spatial dimension: 1 or 2.")
@click.option("--process", help="Base process (brownian, ou, vp, ...).")
@click.option(
    "-P",
    "--process-param",
    "process_params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Process parameter, e.g. -P D=0.5 (repeatable).",
)
@click.option("--steps", type=int, help="Steps of the matching simulation (sets the frame times with --record-every).")
@click.option("--dt", type=float, help="Time step of the matching simulation.")
@click.option("--t-end", type=float, help="End time (default 1).")
@click.option("--record-every", type=int, help="Steps between recorded frames (default 10).")
@click.option("--cells", help="Grid cells per axis: 400, or 120,80 (default 400 in 1-D, 120 in 2-D).")
@click.option("--domain", help="Grid extent on free axes: LO,HI (or LO,HI;LO,HI per axis).")
@seed_option()
@physics_options(interactions=False)
@output_option()
def fokker_planck_command(
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
    cells: str | None,
    domain: str | None,
    seed: int | None,
    output: str,
    physics: dict,
) -> None:
    """Solve the Fokker-Planck equation of a run's (non-interacting) dust; write the density.

    The density at the frame times of the run that the same options would simulate, on a
    grid: the reference the particles are compared with.

    \b
    Examples:
      dustsim fokker-planck --init uniform --dim 1 --process brownian --potential double-well:barrier=2 \\
          --t-end 5 -o wells_fp.nc
      dustsim fokker-planck --config run.toml --cells 150,150 -o run_fp.zarr
    """
    from ..config import SimulationConfig
    from ..io import save_dataset
    from ..physics.fokker_planck import fokker_planck

    cfg = SimulationConfig.load(config_file) if config_file else SimulationConfig()
    if process is not None and process != cfg.process:
        cfg = cfg.replace(process=process, process_params={})
    cfg = cfg.replace(init=init, n=n, dim=dim, steps=steps, dt=dt, t_end=t_end, record_every=record_every, seed=seed)
    if process_params:
        cfg = cfg.replace(process_params={**cfg.process_params, **parse_pairs(process_params, "--process-param")})
    if artifact_options:
        cfg = cfg.replace(artifact={**cfg.artifact, **parse_pairs(artifact_options, "--artifact-option")})
    cfg = apply_physics(cfg, physics)
    started = time.perf_counter()
    ds = fokker_planck(cfg, cells=_ints(cells, "--cells"), domain=_domain(domain), history=command_line())
    save_dataset(ds, output)
    elapsed = time.perf_counter() - started
    shape = "x".join(str(v) for v in ds["density"].shape[1:])
    mass = ds["mass"].values
    click.echo(
        f"wrote {output}: density on {shape} cells, {ds.sizes['time']} times, "
        f"t = {float(ds.time[0]):g}..{float(ds.time[-1]):g} ({ds.attrs['process']}, {ds.attrs['boundary']}), "
        f"mass {mass.min():.12g}..{mass.max():.12g}, {elapsed:.1f} s"
    )
