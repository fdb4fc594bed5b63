"""``dustsim quantum``: evolve quantum dust, measure it, and write its entropy."""

from __future__ import annotations

import time

import click

from ._common import command_line, output_option


def _domain(text: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise click.BadParameter(f"{text!r} is not LO,HI", param_hint="--domain") from None
    return lo, hi


@click.command("quantum")
@click.option(
    "--state",
    default="gaussian",
    show_default=True,
    help="Initial state: gaussian:centre=0,width=0.5,momentum=0; cat:separation=4,width=0.3,phase=0; "
    "mixed:width=0.5,momentum_width=2; artifact:SPEC (position density = an artifact's 1-D density); "
    "file:PATH.npy (psi (n,) or rho (n, n) on this grid).",
)
@click.option("--points", type=int, default=256, show_default=True, help="Grid points.")
@click.option("--domain", default="-10,10", show_default=True, help="Grid extent LO,HI (periodic).")
@click.option("--dim", type=click.IntRange(1, 2), default=1, show_default=True, help="1, or 2 (pure states only).")
@click.option("--hbar", type=float, default=1.0, show_default=True, help="Reduced Planck constant.")
@click.option("--mass", type=float, default=1.0, show_default=True, help="Particle mass.")
@click.option(
    "--potential",
    multiple=True,
    metavar="SPEC",
    help="dustsim potential, repeatable: harmonic:k=1, double-well:barrier=2,width=1.",
)
@click.option("--t-end", type=float, default=1.0, show_default=True, help="End time.")
@click.option("--dt", type=float, default=0.01, show_default=True, help="Split-operator step.")
@click.option("--record-every", type=int, default=10, show_default=True, help="Steps between frames.")
@click.option(
    "--dephasing",
    type=float,
    default=0.0,
    show_default=True,
    help="Position dephasing rate Lambda: d rho/dt = -Lambda (x - x')^2 rho.",
)
@click.option(
    "--gamma", type=float, default=0.0, show_default=True, help="Caldeira-Leggett momentum damping rate (with --kT)."
)
@click.option("--kT", "kT", type=float, default=0.0, show_default=True, help="Caldeira-Leggett bath temperature.")
@click.option(
    "--tolerance", type=float, default=None, help="Target of the estimated split-operator error (default 1e-5)."
)
@click.option(
    "--seed",
    type=click.IntRange(0, 2**63 - 1),
    default=0,
    show_default=True,
    help="Seed of the measurements (and of artifact states).",
)
@click.option("--entropy-out", type=click.Path(dir_okay=True), help="Write the quantum entropy Dataset here.")
@click.option("--measure", "n_measure", type=int, help="Born-rule samples per frame (with --measure-out).")
@click.option(
    "--measure-out",
    type=click.Path(dir_okay=True),
    help="Write the measured positions as a trajectory (the dustsim schema) here.",
)
@click.option(
    "--points-out",
    type=click.Path(dir_okay=False),
    help="Write the last frame's measured positions as .npy (dustsim simulate --init points:FILE).",
)
@click.option(
    "--figure",
    type=click.Path(dir_okay=False),
    help="Write the entropy panels as PNG (and, for 1-D states, Wigner snapshots to FIGURE with "
    "-wigner before the suffix).",
)
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: on a terminal).")
@output_option()
def quantum_command(
    state: str,
    points: int,
    domain: str,
    dim: int,
    hbar: float,
    mass: float,
    potential: tuple[str, ...],
    t_end: float,
    dt: float,
    record_every: int,
    dephasing: float,
    gamma: float,
    kT: float,
    tolerance: float | None,
    seed: int,
    entropy_out: str | None,
    n_measure: int | None,
    measure_out: str | None,
    points_out: str | None,
    figure: str | None,
    progress: bool | None,
    output: str,
) -> None:
    """Evolve a quantum state on a grid (split operator; dephasing or Caldeira-Leggett); write the state Dataset.

    The third level of dust: a wavefunction (or density matrix, or Wigner function)
    evolved under H = p^2/2m + V(x) with dustsim's potentials; optionally measured
    (Born-rule samples as a trajectory the classical tools continue from) and analysed
    (von Neumann and Shannon entropy, purity, coherence length, Wigner negativity).

    \b
    Examples:
      dustsim quantum --state gaussian:width=0.5,momentum=1 --t-end 4 -o packet.nc
      dustsim quantum --state cat:separation=4,width=0.4 --dephasing 1 --dt 0.002 --record-every 50 \\
          --entropy-out cat_entropy.nc --measure 5000 --measure-out cat_measured.nc -o cat.nc
      dustsim quantum --state mixed:width=0.3,momentum_width=0.7 --hbar 0.1 --gamma 20 --kT 0.5 \\
          --potential double-well --domain -3,3 --points 192 --dt 0.005 -o classical_limit.nc
    """
    from ..errors import ConfigError
    from ..io import check_writable, save_dataset
    from ..quantum.evolution import DEFAULT_TOLERANCE
    from ..quantum.run import quantum_run

    if (n_measure is None) != (measure_out is None) and points_out is None:
        raise ConfigError("--measure N and --measure-out PATH go together")
    if points_out is not None and n_measure is None:
        raise ConfigError("--points-out needs --measure N (the number of measured particles)")
    targets = [p for p in (output, entropy_out, measure_out, points_out, figure) if p is not None]
    if len(set(targets)) != len(targets):
        raise ConfigError("the output files must be distinct")
    for path in targets:
        check_writable(path)
    started = time.perf_counter()
    ds = quantum_run(
        state,
        points=points,
        domain=_domain(domain),
        dim=dim,
        hbar=hbar,
        mass=mass,
        potential=list(potential) or None,
        t_end=t_end,
        dt=dt,
        record_every=record_every,
        dephasing=dephasing,
        gamma=gamma,
        kT=kT,
        tolerance=DEFAULT_TOLERANCE if tolerance is None else tolerance,
        seed=seed,
        progress=progress,
        history=command_line(),
    )
    save_dataset(ds, output)
    lines = [
        f"wrote {output}: {ds.attrs['representation']} on {points} points, {ds.sizes['time']} frames, "
        f"t = 0..{float(ds.time[-1]):g}"
    ]
    qe = None
    if entropy_out is not None or figure is not None:
        from analysis.quantum import quantum_entropy

        qe = quantum_entropy(ds)
        if entropy_out is not None:
            save_dataset(qe, entropy_out)
            lines.append(
                f"wrote {entropy_out}: S = {qe['von_neumann'].values[-1]:.4g} nats, purity "
                f"{qe['purity'].values[-1]:.4g}, Shannon {qe['shannon'].values[-1]:.4g} nats at the end"
            )
    if n_measure is not None:
        from ..quantum.measure import born_sample, measurement_points

        traj = born_sample(ds, n_measure, seed=seed, history=command_line())
        if measure_out is not None:
            save_dataset(traj, measure_out)
            lines.append(f"wrote {measure_out}: {n_measure} measured positions per frame (independent ensembles)")
        if points_out is not None:
            measurement_points(traj, points_out)
            lines.append(
                f"wrote {points_out}: the last frame's positions (dustsim simulate --init points:{points_out})"
            )
    if figure is not None:
        _figures(ds, qe, figure)
        lines.append(f"wrote {figure}")
    lines[-1] += f" ({time.perf_counter() - started:.1f} s)"
    for line in lines:
        click.echo(line)


def _figures(ds, qe, figure: str) -> None:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from analysis.quantum_plots import quantum_entropy_panels, wigner_snapshots

    from ..io import atomic_output

    path = Path(figure)
    figs = [(path, quantum_entropy_panels(qe))]
    if ds["density"].ndim == 2:
        figs.append((path.with_name(f"{path.stem}-wigner{path.suffix}"), wigner_snapshots(ds)))
    for target, fig in figs:
        with atomic_output(target) as tmp:
            fig.savefig(tmp, format=target.suffix.lstrip(".") or "png", bbox_inches="tight")
        plt.close(fig)
