"""``dustsim emergence``: coarse-grained entropy across scales and emergence times of a trajectory."""

from __future__ import annotations

import time

import click

from ._common import command_line, max_particles_option, output_option


def _numbers(text: str | None, option: str) -> list[float] | None:
    from ..errors import ConfigError

    if text is None:
        return None
    try:
        return [float(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise ConfigError(f"{option} must be comma-separated numbers, got {text!r}") from None


@click.command("emergence")
@click.argument("trajectory", type=click.Path(dir_okay=True))
@output_option()
@click.option(
    "--scales",
    default=None,
    help="Comma-separated cell sides Delta (length units). Default: --n-scales scales, factor 2 apart.",
)
@click.option(
    "--n-scales",
    type=click.IntRange(1, 64),
    default=8,
    show_default=True,
    help="Number of default scales (halving from half the dust's extent).",
)
@click.option(
    "--tolerance",
    type=click.FloatRange(min=0.0, min_open=True),
    default=0.01,
    show_default=True,
    help="Structure (nats) below which a scale counts as smooth.",
)
@click.option(
    "--origin", default=None, help="A cell corner, one number or one per axis (default: the box corner, else 0)."
)
@max_particles_option()
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True, help="Seed of the subsample.")
@click.option("--units", type=click.Choice(["nats", "bits"]), default="nats", show_default=True)
@click.option(
    "--exact/--no-exact",
    default=None,
    help="Exact references of a Gaussian-mixture artifact under a linear process (default: if possible).",
)
@click.option(
    "--plot", "figure", type=click.Path(), default=None, help="Also draw the figure to this file (.png, .svg or .pdf)."
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
def emergence_command(
    trajectory: str,
    output: str,
    scales: str | None,
    n_scales: int,
    tolerance: float,
    origin: str | None,
    max_particles: int,
    seed: int,
    units: str,
    exact: bool | None,
    figure: str | None,
    progress: bool | None,
) -> None:
    """Coarse-grained entropy H_Delta(t) of TRAJECTORY on a grid of scales, and when each scale turns smooth.

    For every frame and scale Delta: the entropy of the dust binned into cubes of side
    Delta, H_Delta + d log Delta (comparable with the differential entropy), and the
    structure S_Delta = d log 2 - (H_{Delta/2} - H_Delta) (information held at scale
    Delta). The emergence time of a scale is the last time its structure is at or above
    --tolerance; for free dust it grows like Delta^2 / 2D. See docs/analysis.md.

    \b
    Examples:
      dustsim emergence dust.nc -o dust-emergence.nc
      dustsim emergence dust.nc -o e.nc --scales 0.1,0.2,0.4,0.8 --tolerance 0.02 --plot e.png
      dustsim plot e.nc -o e.pdf
    """
    import sys
    from pathlib import Path

    from analysis.emergence import emergence, fit_emergence_exponent

    from ..errors import ConfigError
    from ..io import atomic_output, check_writable, open_trajectory, output_format, save_dataset

    output_format(output)
    check_writable(output, reads=[trajectory])
    if figure is not None:
        if Path(figure).suffix.lower() not in (".png", ".svg", ".pdf"):
            raise ConfigError(f"--plot: cannot tell the figure format of {figure!r}; use .png, .svg or .pdf")
        check_writable(figure)
    scale_list = _numbers(scales, "--scales")
    origin_list = _numbers(origin, "--origin")
    started = time.perf_counter()
    ds = open_trajectory(trajectory)
    result = emergence(
        ds,
        scale_list,
        n_scales=n_scales,
        tolerance=tolerance,
        origin=None if origin_list is None else (origin_list[0] if len(origin_list) == 1 else origin_list),
        max_particles=max_particles or None,
        seed=seed,
        exact=exact,
        units=units,
        progress=sys.stderr.isatty() if progress is None else progress,
        history=command_line(),
    )
    save_dataset(result, output)
    tau = result["emergence_time"]
    if "realization" in tau.dims:
        tau = tau.mean("realization")
    shown = ", ".join(f"{s:.3g}: {t:.3g}" for s, t in zip(result["scale"].values, tau.values, strict=True))
    line = f"wrote {output}: {result.sizes['time']} frames x {result.sizes['scale']} scales; emergence times {shown}"
    if "realization" not in result.dims:
        try:
            p, p_se, _ = fit_emergence_exponent(result)
            line += f"; t_Delta ~ Delta^{p:.3f} +- {p_se:.3f}"
        except ConfigError:
            pass
    if figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from analysis.emergence_plot import emergence_plot

        fig = emergence_plot(result)
        with atomic_output(figure) as tmp:
            fig.savefig(tmp, format=Path(figure).suffix.lstrip(".").lower(), bbox_inches="tight")
        plt.close(fig)
        line += f"; figure {figure}"
    click.echo(line + f" ({time.perf_counter() - started:.1f} s)")
