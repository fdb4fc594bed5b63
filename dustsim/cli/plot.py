"""``dustsim plot``: a figure of any dustsim dataset (trajectory, entropy, loss log, density)."""

from __future__ import annotations

import shutil
from pathlib import Path

import click

FIGURE_SUFFIXES = (".png", ".svg", ".pdf")
ANIMATION_SUFFIXES = (".gif", ".mp4")
#: what a dataset may be (analysis.plotting.dataset_kind), or "auto"
PLOT_KINDS = (
    "auto",
    "trajectory",
    "entropy",
    "emergence",
    "loss",
    "density",
    "quantum-state",
    "quantum-entropy",
    "schedule-study",
    "likelihood",
)


@click.command("plot")
@click.argument("dataset", type=click.Path(dir_okay=True))
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(),
    help="Figure file: .png, .svg or .pdf; .gif or .mp4 animates a trajectory.",
)
@click.option(
    "--kind",
    type=click.Choice(PLOT_KINDS),
    default="auto",
    show_default=True,
    help="What the dataset is (default: recognised from its variables and attrs).",
)
@click.option(
    "--style",
    type=click.Choice(["default", "heatmap", "panels"]),
    default="default",
    show_default=True,
    help="Trajectory: filmstrip or density heat-maps; entropy: entropy only or all panels.",
)
@click.option("--dpi", type=click.IntRange(20, 1200), default=160, show_default=True)
def plot_command(dataset: str, output: str, kind: str, style: str, dpi: int) -> None:
    """Plot DATASET (any file dustsim writes) to an image or animation.

    \b
    Examples:
      dustsim plot dust.zarr -o dust.png                 # filmstrip of the trajectory
      dustsim plot dust.zarr -o dust.gif                 # animation
      dustsim plot dust-entropy.nc -o h.pdf --style panels
      dustsim plot model.loss.nc -o loss.svg
      dustsim plot dust-emergence.nc -o e.png            # emergence across scales
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis import plotting

    from ..errors import ConfigError, OutputError
    from ..io import atomic_output, check_writable, open_dataset

    suffix = Path(output).suffix.lower()
    if suffix not in FIGURE_SUFFIXES + ANIMATION_SUFFIXES:
        raise ConfigError(f"cannot tell the figure format of {output!r}; use .png, .svg, .pdf, .gif or .mp4")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise OutputError(f"cannot write {output}: MP4 needs ffmpeg on the PATH; write a .gif instead")
    check_writable(output, reads=[dataset])
    ds = open_dataset(dataset)
    try:
        found = plotting.dataset_kind(ds)
    except ValueError as exc:
        raise ConfigError(f"{dataset}: {exc}") from None
    if kind != "auto" and kind != found:
        raise ConfigError(f"{dataset} holds a {found} dataset, not {kind}")
    if suffix in ANIMATION_SUFFIXES:
        if found != "trajectory":
            raise ConfigError(f"only trajectories can be animated; {dataset} holds a {found} dataset")
        plotting.animate(ds, output)
    else:
        fig = plotting.plot_dataset(ds, style=None if style == "default" else style)
        with atomic_output(output) as tmp:
            fig.savefig(tmp, format=suffix.lstrip("."), dpi=dpi, bbox_inches="tight")
        plt.close(fig)
    click.echo(f"wrote {output}: {found} figure of {dataset}")
