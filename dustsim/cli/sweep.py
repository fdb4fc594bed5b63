"""``dustsim sweep``: ensembles and parameter sweeps on dask.distributed."""

from __future__ import annotations

import time

import click

from ._common import command_line


@click.command("sweep")
@click.argument("spec", type=click.Path(dir_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(), help="Output Zarr store (.zarr).")
@click.option("--scheduler", metavar="ADDRESS", help="Attach to a running dask scheduler, e.g. tcp://host:8786.")
@click.option("--workers", type=click.IntRange(1), help="Workers of the local cluster (default: one per core).")
@click.option("--retries", type=click.IntRange(0), default=2, show_default=True, help="Retries of a failed member.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def sweep_command(spec: str, output: str, scheduler: str | None, workers: int | None, retries: int,
                  progress: bool | None) -> None:
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

    started = time.perf_counter()
    ds = run_sweep(spec, output, scheduler=scheduler, n_workers=workers, retries=retries, progress=progress,
                   history=command_line())
    click.echo(f"wrote {output}: {ds.sizes['realization']} realizations x {ds.sizes['time']} frames x "
               f"{ds.sizes['particle']} particles, swept: {ds.attrs.get('swept') or 'replicas only'}, "
               f"{time.perf_counter() - started:.1f} s")
