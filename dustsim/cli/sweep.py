"""``dustsim sweep``: ensembles and parameter sweeps on dask.distributed."""

from __future__ import annotations

import time

import click

from ._common import command_line, dry_run_option, print_plan


@click.command("sweep")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output Zarr store (.zarr).")
@click.option("--scheduler", metavar="ADDRESS", help="Attach to a running dask scheduler, e.g. tcp://host:8786.")
@click.option("--workers", type=click.IntRange(1), help="Workers of the local cluster (default: one per core).")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True, help="Retries of a failed member.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@dry_run_option()
def sweep_command(
    spec: str,
    output: str,
    scheduler: str | None,
    workers: int | None,
    retries: int,
    progress: bool | None,
    dry_run: bool,
) -> None:
    """Run a grid or list of parameter sets x replicas as dask tasks into one Zarr store.

    SPEC is a simulation config with a [sweep] table (replicas, seed, and a [sweep.grid]
    of lists or [[sweep.members]] tables; dotted keys reach [process] and [artifact]).
    Re-running the same command resumes: complete members are skipped.

    \b
    Example SPEC:
      init = "gmm"
      n = 20000
      process = "vp"
      [sweep]
      replicas = 4
      seed = 2026
      [sweep.grid]
      "process.beta_max" = [10.0, 20.0]

    \b
    Examples:
      dustsim sweep sweep.toml -o sweep.zarr
      dustsim sweep sweep.toml -o /shared/sweep.zarr --scheduler tcp://head:8786
    """
    from ..sweep import run_sweep

    if dry_run:
        _sweep_plan(spec, output)
        return
    started = time.perf_counter()
    ds = run_sweep(
        spec, output, scheduler=scheduler, n_workers=workers, retries=retries, progress=progress, history=command_line()
    )
    click.echo(
        f"wrote {output}: {ds.sizes['realization']} realizations x {ds.sizes['time']} frames x "
        f"{ds.sizes['particle']} particles, swept: {ds.attrs.get('swept') or 'replicas only'}, "
        f"{time.perf_counter() - started:.1f} s"
    )


def _sweep_plan(spec_path: str, output: str) -> None:
    """Print the members of a sweep and the size of its store; every parameter set is resolved."""
    from pathlib import Path

    from ..errors import ConfigError
    from ..io import check_writable
    from ..preflight import format_bytes
    from ..simulation import frame_bytes, prepare
    from ..sweep import SweepSpec, check_members, completed_members

    spec = SweepSpec.load(spec_path)
    out = check_writable(output)
    if out.suffix.lower() != ".zarr":
        raise ConfigError(f"a sweep is written as one Zarr store: use a .zarr output, not {out.name!r}")
    members = spec.members()
    check_members(members, out)
    plan = prepare(members[0].config)
    partial = Path(f"{out}.partial")
    done = len(completed_members(partial)) if partial.exists() else 0
    print_plan(
        "sweep",
        {
            "members": f"{len(spec.parameter_sets)} parameter set(s) x {spec.replicas} replica(s) = {len(members)}, "
            f"root seed {spec.seed}" + (f"; {done} already complete in {partial}" if done else ""),
            "swept": ", ".join(spec.swept_keys) or "replicas only",
            "each member": f"{plan.config.n} particles in {plan.config.dim}-D, {plan.config.steps} steps, "
            f"{len(plan.record_steps)} frames ({format_bytes(frame_bytes(plan))})",
            "output": f"{output}: about {format_bytes(frame_bytes(plan) * len(members))}",
        },
    )
