"""``dustsim entropy``: the entropy trajectory of a trajectory file."""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import click

from ._common import command_line, dry_run_option, max_particles_option, output_option, print_plan


def _note_ties(result: Any, k: int) -> None:
    """A note on stderr about frames with exact duplicates (ties broken) or without a density."""
    import numpy as np

    ties = result["n_ties"].max("estimator")
    degenerate = result["degenerate"].any("estimator")
    for dim in [d for d in ties.dims if d != "time"]:
        ties, degenerate = ties.max(dim), degenerate.any(dim)
    times = result["time"].values
    tied = np.flatnonzero(ties.values > 0)
    if tied.size:
        worst = int(ties.values[tied].max())
        click.echo(
            f"note: {tied.size} frame(s) (t = {_times(times[tied])}) have points with at least k = {k} exact "
            f"duplicates (up to {worst} of {result.attrs['n_particles_used']}); the ties were broken by a tiny "
            "jitter. Many duplicates mean atoms (repeated or resampled points, entropy -inf): there the value "
            "measures the jitter, not the data",
            err=True,
        )
    flat = np.flatnonzero(degenerate.values)
    if flat.size:
        click.echo(
            f"note: {flat.size} frame(s) (t = {_times(times[flat])}) have no density (a point source or a "
            "lower-dimensional cloud): entropy -inf there",
            err=True,
        )


def _times(values: Any) -> str:
    shown = ", ".join(f"{float(t):.4g}" for t in values[:4])
    return shown + (", ..." if len(values) > 4 else "")


@click.command("entropy")
@click.argument("trajectory", type=click.Path(dir_okay=True))
@output_option()
@click.option(
    "--estimator",
    "estimators",
    default="knn",
    show_default=True,
    help="Comma-separated entropy estimators: knn, knn-max, binned, gaussian, kde.",
)
@click.option("--k", type=int, default=4, show_default=True, help="Neighbour rank of the kNN and KSG estimators.")
@max_particles_option()
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="Seed of the subsample, tie-breaking jitter and Monte Carlo draws.",
)
@click.option("--units", type=click.Choice(["nats", "bits"]), default="nats", show_default=True)
@click.option("--scales", default=None, help="Comma-separated coarse-graining bin widths (length units).")
@click.option("--mi/--no-mi", default=True, show_default=True, help="Mutual information I(X_0; X_t) (KSG).")
@click.option(
    "--mi-estimator",
    type=click.Choice(["ksg", "diffusion"]),
    default="ksg",
    show_default=True,
    help="Estimator of I(X_0; X_t): KSG, or a conditional denoiser trained per frame (slow, less "
    "biased in 3+ dimensions).",
)
@click.option(
    "--exact/--no-exact", default=None, help="Exact entropy of a Gaussian-mixture artifact (default: if possible)."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@click.option(
    "--scheduler", metavar="ADDRESS", help="Analyse frames as tasks on a running dask scheduler (tcp://host:8786)."
)
@click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Analyse frames as tasks on a local dask cluster of this many workers.",
)
@click.option(
    "--resume", is_flag=True, help="Continue an interrupted run: frames finished in OUTPUT.partial/ are not recomputed."
)
@dry_run_option()
def entropy_command(
    trajectory: str,
    output: str,
    estimators: str,
    k: int,
    max_particles: int,
    seed: int,
    units: str,
    scales: str | None,
    mi: bool,
    mi_estimator: str,
    exact: bool | None,
    progress: bool | None,
    scheduler: str | None,
    workers: int | None,
    resume: bool,
    dry_run: bool,
) -> None:
    """Entropy, KL to equilibrium and mutual information of every frame of TRAJECTORY.

    A Zarr trajectory is read frame by frame (never loaded whole); with --workers or
    --scheduler every frame (and realization, for a sweep store) is one dask task.
    Finished frames are kept in OUTPUT.partial/ until the output is written, so an
    interrupted run continues with --resume.

    \b
    Examples:
      dustsim entropy dust.zarr -o dust-entropy.nc
      dustsim entropy run.nc -o h.nc --estimator knn,binned --scales 0.05,0.1 --units bits
      dustsim entropy sweep.zarr -o sweep-entropy.nc --workers 2
      dustsim entropy run.nc -o h.nc --mi-estimator diffusion   # I(X_0; X_t) from a denoiser
      dustsim entropy sweep.zarr -o sweep-entropy.nc --workers 2 --resume   # after an interruption
    """
    import sys

    from analysis import entropy_trajectory

    from ..errors import ConfigError
    from ..io import check_writable, open_trajectory, output_format, partial_path, save_dataset

    output_format(output)
    check_writable(output, reads=[trajectory])
    partial = partial_path(output)
    if resume and not partial.exists() and Path(output).exists():
        click.echo(f"{output} is already complete")
        return
    try:
        scale_list = [float(s) for s in scales.split(",")] if scales else None
    except ValueError:
        raise ConfigError(f"--scales must be comma-separated numbers, got {scales!r}") from None
    names = tuple(e.strip() for e in estimators.split(",") if e.strip())
    ds = open_trajectory(trajectory)
    if dry_run:
        n = ds.sizes["particle"]
        used = min(n, max_particles) if max_particles else n
        realizations = ds.sizes.get("realization", 1)
        print_plan(
            "entropy",
            {
                "trajectory": f"{trajectory}: {ds.sizes['time']} frames x {realizations} realization(s) "
                f"of {n} particles in {ds.sizes['spatial']}-D",
                "estimators": f"{', '.join(names)} (k = {k}), {used} particles per frame, units {units}"
                + (", mutual information (KSG)" if mi else ""),
                "output": f"{output} ({'resuming ' + str(partial) if resume and partial.exists() else 'fresh run'})",
            },
        )
        return
    if not resume and partial.exists():
        shutil.rmtree(partial)  # a fresh run: forget the frames of an earlier one
    started = time.perf_counter()
    client = cluster = None
    if scheduler or workers:
        from ..sweep import dask_client

        client, cluster = dask_client(scheduler, workers)
    try:
        result = entropy_trajectory(
            ds,
            estimators=names,
            k=k,
            max_particles=max_particles or None,
            seed=seed,
            units=units,
            scales=scale_list,
            mutual_information=mi,
            mi_estimator=mi_estimator,
            exact=exact,
            progress=sys.stderr.isatty() if progress is None else progress,
            history=command_line(),
            compute="dask" if client is not None else "serial",
            checkpoint=partial,
        )
    finally:
        if client is not None:
            client.close()
        if cluster is not None:
            cluster.close()
    save_dataset(result, output)
    shutil.rmtree(partial, ignore_errors=True)
    _note_ties(result, k)
    h = result["entropy"].isel(estimator=0)
    if "realization" in h.dims:
        h = h.mean("realization")
    click.echo(
        f"wrote {output}: {result.sizes['time']} frames, {names[0]} entropy {float(h[0]):.4g} -> {float(h[-1]):.4g} "
        f"{units} ({result.attrs['n_particles_used']} of {result.attrs['n_particles']} particles), "
        f"{time.perf_counter() - started:.1f} s"
    )
