"""``dustsim demo``: the end-to-end story in one command (see :mod:`.demo_pipeline`)."""

from __future__ import annotations

import sys
import time

import click

from ._common import dry_run_option, print_plan, seed_option


@click.command("demo")
@click.option(
    "-o",
    "--output",
    "out_dir",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Directory for datasets, figures and report.html.",
)
@click.option("--quick", is_flag=True, help="Reduced sizes: seconds instead of minutes (for smoke tests).")
@seed_option()
@click.option("--device", default="auto", show_default=True, help="Torch device: auto, cpu, cuda, cuda:N.")
@click.option("--progress/--no-progress", default=None, help="Progress bars (default: on a terminal).")
@dry_run_option()
def demo_command(
    out_dir: str, quick: bool, seed: int | None, device: str, progress: bool | None, dry_run: bool
) -> None:
    """Run the whole dustsim story and write a self-contained report.

    A text artifact ("DUST") and a Gaussian mixture dissolve into noise under VP; a score
    model is trained on each; new dust is generated from noise; the half-buried text is
    restored; entropy, KL to equilibrium and mutual information are computed forward,
    reverse and for the restoration. About 3-5 minutes on 2 CPU cores; uses a GPU if there
    is one.

    \b
    Examples:
      dustsim demo                      # into ./demo-output
      dustsim demo -o /tmp/demo --quick
    """
    from .demo_pipeline import run_demo

    if dry_run:
        _demo_plan(out_dir, quick, device)
        return
    started = time.perf_counter()
    result = run_demo(
        out_dir,
        quick=quick,
        seed=0 if seed is None else seed,
        device=device,
        progress=sys.stderr.isatty() if progress is None else progress,
        log=lambda line: click.echo(line, err=True),
    )
    n = result.numbers
    click.echo(f"report: {result.report}")
    click.echo(
        f"  generated mixture: energy distance {n['gmm_energy_multiple']:.2f} x the noise floor; "
        f"log-likelihood gap {n['gmm_log_likelihood_gap']:+.3f} nats"
    )
    click.echo(
        f"  restoration from t = {n['restoration_from_time']:.3f}: mean distance to the original "
        f"{n['restoration_noised_error']:.3f} -> {n['restoration_restored_error']:.3f}"
    )
    click.echo(
        f"  KL(p0 || N(0,I)): exact {n['kl_exact']:.3f}, kNN {n['kl_knn']:.3f}, entropy production "
        f"{n['kl_entropy_production']:.3f}, I-MMSE {n['kl_i-mmse']:.3f} nats"
    )
    click.echo(f"  total {time.perf_counter() - started:.0f} s")


def _demo_plan(out_dir: str, quick: bool, device: str) -> None:
    """Print the demo's settings and stages (device and output directory checked)."""
    import dataclasses
    from pathlib import Path

    from ..io import check_writable
    from ..model.device import select_device
    from .demo_pipeline import ARTIFACTS, DemoSettings

    resolved = select_device(device)
    if not Path(out_dir).is_dir():
        check_writable(out_dir)
    settings = DemoSettings.make(quick)
    print_plan(
        "demo",
        {
            "artifacts": ", ".join(a["init"] for a in ARTIFACTS.values()),
            "settings": ", ".join(f"{f.name} = {getattr(settings, f.name)}" for f in dataclasses.fields(settings)),
            "device": str(resolved),
            "output": f"{out_dir}/ (datasets, figures, report.html); "
            f"{'about a minute' if quick else 'about 3-5 minutes on 2 CPU cores'}",
        },
    )
