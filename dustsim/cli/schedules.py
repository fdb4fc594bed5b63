"""``dustsim schedules``: compare noise schedules by entropy production, error bound and error."""

from __future__ import annotations

import time
from typing import Any

import click

from ._common import parse_pairs, seed_option


def _data(init: str | None, artifact_options: tuple[str, ...], n_points: int, dim: int | None, seed: int) -> Any:
    """The study's data law: the default mixture, a gmm artifact's exact law, or a KDE of other points."""
    from ..artifacts import make_artifact
    from ..mixture import GaussianMixture
    from ..schedule_theory.thermodynamics import as_mixture

    if init is None:
        if artifact_options:
            raise click.UsageError("--artifact-option needs --init")
        from analysis.schedule_study import default_mixture

        return default_mixture(), "default 4-component mixture"
    art = make_artifact(init, n_points, dim, seed=seed, options=parse_pairs(artifact_options, "--artifact-option"))
    mix = GaussianMixture.from_config({"artifact": art.params, "init": init})
    if mix is not None:
        return mix, f"{init} (exact mixture law)"
    return as_mixture(art.positions, seed=seed), f"{init} (Gaussian KDE of {min(len(art.positions), 500)} points)"


def _data_options(fn: Any) -> Any:
    for opt in reversed(
        [
            click.option(
                "--init",
                help="Data artifact, as in simulate (default: a 4-component 2-D mixture); "
                "non-gmm data is replaced by its Gaussian KDE.",
            ),
            click.option(
                "-A",
                "--artifact-option",
                "artifact_options",
                multiple=True,
                metavar="KEY=VALUE",
                help="Artifact option (repeatable).",
            ),
            click.option("--dim", type=click.IntRange(1), help="Spatial dimension of the artifact."),
            click.option(
                "--points",
                "n_points",
                type=click.IntRange(2),
                default=2000,
                show_default=True,
                help="Points drawn from a non-gmm artifact for its KDE.",
            ),
        ]
    ):
        fn = opt(fn)
    return fn


@click.group("schedules")
def schedules_group() -> None:
    """Noise schedules: entropy production, the speed-accuracy bound, the optimal schedule.

    \b
    Examples:
      dustsim schedules study -o study.nc --figure study.png
      dustsim schedules study --init gmm -A k=3 --nfe 5,20,100 --no-trained -o study.nc
      dustsim schedules optimal --init moons
    """


@schedules_group.command("study")
@_data_options
@click.option(
    "--schedule",
    "schedules",
    multiple=True,
    metavar="NAME[:K=V,...]",
    help="Schedule to include (repeatable; default vp, vp-cosine, sub-vp, ve, edm, fm, ot).",
)
@click.option(
    "--nfe", default="5,10,20,50,100", show_default=True, help="Numbers of score evaluations, comma-separated."
)
@click.option(
    "--n", type=click.IntRange(100), default=2000, show_default=True, help="Generated points per schedule and NFE."
)
@click.option(
    "--trained/--no-trained",
    default=True,
    show_default=True,
    help="Also train a small denoiser per schedule and study it (about 8 s of CPU per schedule).",
)
@click.option("--train-steps", type=click.IntRange(1), default=1500, show_default=True)
@seed_option()
@click.option("--figure", type=click.Path(dir_okay=False), help="Write the figure (png, pdf, svg).")
@click.option("-o", "--output", type=click.Path(), help="Write the study Dataset (.nc or .zarr).")
def study_command(
    init: str | None,
    artifact_options: tuple[str, ...],
    dim: int | None,
    n_points: int,
    schedules: tuple[str, ...],
    nfe: str,
    n: int,
    trained: bool,
    train_steps: int,
    seed: int | None,
    figure: str | None,
    output: str | None,
) -> None:
    """Run every schedule at every NFE: action Sigma, error bound, measured error; rank correlations."""
    from analysis.schedule_study import DEFAULT_SCHEDULES, plot_schedule_study, schedule_study, summary_lines

    from ..errors import ConfigError
    from ..io import check_writable, output_format, save_dataset

    try:
        nfe_list = [int(v) for v in nfe.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--nfe must be comma-separated integers, got {nfe!r}") from None
    if output is not None:
        check_writable(output)
        output_format(output)
    if figure is not None:
        check_writable(figure)
    seed = 0 if seed is None else seed
    mix, label = _data(init, artifact_options, n_points, dim, seed)
    started = time.perf_counter()
    ds = schedule_study(
        mix,
        schedules or DEFAULT_SCHEDULES,
        nfe_list,
        n=n,
        trained=trained,
        train_steps=train_steps,
        seed=seed,
        progress=lambda line: click.echo(line, err=True),
    )
    ds.attrs["data"] = label
    for line in summary_lines(ds):
        click.echo(line)
    if not bool(ds.bound_holds.values.all()):
        click.echo("warning: a measured KL exceeds its bound by more than 4.5 standard errors", err=True)
    if output is not None:
        save_dataset(ds, output)
        click.echo(f"wrote {output}")
    if figure is not None:
        plot_schedule_study(ds, figure)
        click.echo(f"wrote {figure}")
    click.echo(
        f"study of {label}: {ds.sizes['schedule']} schedules x {len(nfe_list)} NFE, "
        f"{time.perf_counter() - started:.1f} s"
    )


@schedules_group.command("optimal")
@_data_options
@seed_option()
def optimal_command(
    init: str | None, artifact_options: tuple[str, ...], dim: int | None, n_points: int, seed: int | None
) -> None:
    """Fit the entropy-production-optimal schedule to the data; print its [process] table and action."""
    import tomli_w

    from ..schedule_theory.thermodynamics import optimal_schedule, path_integrals

    seed = 0 if seed is None else seed
    mix, label = _data(init, artifact_options, n_points, dim, seed)
    best = optimal_schedule(mix, seed=seed)
    res = path_integrals(mix, best, seed=seed)
    click.echo(
        f"# entropy-production-optimal schedule for {label}: action {res.action:.4g} +- "
        f"{res.action_se:.2g}, thermodynamic length^2 {res.length**2:.4g}"
    )
    click.echo(tomli_w.dumps({"process": {"name": best.name, **best.params()}}), nl=False)
