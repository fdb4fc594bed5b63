"""The demo's "emergence across scales" section: two small runs, their emergence datasets and figures.

Self-contained so that the demo pipeline (:mod:`dustsim.cli.demo_pipeline`) needs one call:
:func:`emergence_section` simulates

* free dust spreading from a point (Brownian, 1-D): the emergence time of every scale
  against the exact one and the fitted exponent of ``t_Delta ~ Delta^p`` (2 expected);
* a cloud of twelve tight grains of dust gathered by a harmonic trap (Ornstein-Uhlenbeck,
  2-D): the coarse-grained entropy falls at large scales while it rises at fine scales,
  with the exact cell integrals of the mixture marginal as reference.

Both are linear processes (exact stepper, the kernel the rest of the demo compiles), so the
section costs about 2 s (``quick``: under 1 s) on top of it; the cooled-trap version with a
``kT`` schedule is in the tests and docs/analysis.md.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: scales of the free-dust run: factor sqrt 2 apart, all crossing within the run
FREE_SCALES = (0.2, 0.283, 0.4, 0.566, 0.8)
#: scales of the trap run: fine grains to the whole cloud
TRAP_SCALES = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6, 3.2)


@dataclass
class EmergenceDemo:
    """What the section produced: datasets, figures (matplotlib), numbers, files."""

    datasets: dict[str, Any]
    figures: dict[str, Any]
    numbers: dict[str, float]
    files: dict[str, Path] = field(default_factory=dict)


def run_emergence_demo(out_dir: str | Path | None = None, *, seed: int = 0, quick: bool = False) -> EmergenceDemo:
    """Simulate the two runs, analyse them and draw their figures.

    Parameters
    ----------
    out_dir : path, optional
        Where to write ``emergence_free.nc`` and ``emergence_trap.nc`` (nothing written if
        None).
    seed : int
        Seed of both simulations (the trap run uses ``seed + 1``).
    quick : bool
        Fewer particles (for tests and smoke runs).

    Returns
    -------
    EmergenceDemo
    """
    import math
    import warnings

    import numpy as np

    import dustsim
    from analysis.emergence import emergence, fit_emergence_exponent
    from analysis.emergence_plot import emergence_plot
    from dustsim.errors import ConfigError
    from dustsim.mixture import GaussianMixture
    from dustsim.simulation import PriorWarning

    n_free, n_trap = (8_000, 3_000) if quick else (20_000, 8_000)
    free = dustsim.simulate(
        init="point",
        n=n_free,
        dim=1,
        process="brownian",
        process_params={"D": 0.5},
        t_end=2.5,
        steps=125,
        record_every=2,
        seed=seed,
        progress=False,
        history="demo: free dust from a point",
    )
    with warnings.catch_warnings():  # the trap is not meant to reach its stationary law
        warnings.simplefilter("ignore", PriorWarning)
        trap = dustsim.simulate(
            init="gmm",
            artifact={"k": 12, "radius": 3.0, "std": 0.03},
            n=n_trap,
            dim=2,
            process="ou",
            process_params={"k": 1.0, "D": 0.1},
            t_end=3.0,
            steps=30,
            record_every=1,
            seed=seed + 1,
            progress=False,
            history="demo: grains gathered by a trap",
        )
    point = GaussianMixture(np.zeros((1, 1)), np.zeros(1), np.ones(1))
    em_free = emergence(free, FREE_SCALES, mixture=point, history="demo: emergence")
    em_trap = emergence(trap, TRAP_SCALES, history="demo: emergence")

    numbers: dict[str, float] = {}
    try:
        p, p_se, _ = fit_emergence_exponent(em_free)
        numbers.update(exponent=p, exponent_se=p_se)
    except ConfigError:
        numbers.update(exponent=math.nan, exponent_se=math.nan)
    tau, tau_ex = em_free["emergence_time"].values, em_free["exact_emergence_time"].values
    numbers["largest_time_deviation_in_se"] = float(np.nanmax(np.abs(tau - tau_ex) / em_free["emergence_time_se"]))
    h = em_trap["coarse_entropy"].values
    numbers["trap_fine_change"] = float(h[-1, 0] - h[0, 0])
    numbers["trap_coarse_change"] = float(h[-1, -3] - h[0, -3])
    figures = {
        "free": emergence_plot(em_free, title="free dust from a point: structure fades scale by scale (t ~ Δ²/2D)"),
        "trap": emergence_plot(em_trap, title="grains gathered by a trap: coarse entropy falls, fine entropy rises"),
    }
    files: dict[str, Path] = {}
    if out_dir is not None:
        out = Path(out_dir)
        files["emergence_free"] = dustsim.save_dataset(em_free, out / "emergence_free.nc")
        files["emergence_trap"] = dustsim.save_dataset(em_trap, out / "emergence_trap.nc")
    return EmergenceDemo({"free": em_free, "trap": em_trap}, figures, numbers, files)


def emergence_section(demo: EmergenceDemo) -> Any:
    """The report section (:class:`analysis.report.Section`) of a :func:`run_emergence_demo` result."""
    from analysis.report import Section

    n = demo.numbers
    text = (
        "Coarse-grain the dust into cells of side Δ and its entropy H_Δ(t) is the entropy of the dust seen at "
        "resolution Δ; halving the cells adds at most d log 2, and the shortfall S_Δ is the structure the dust "
        "holds at that scale. Free dust forgets its structure scale by scale, finest first: the emergence time "
        "of a scale (the last time S_Δ exceeds 0.01 nats) grows like Δ²/2D. Grains of dust gathered by a trap "
        "run the other way at large scales: the coarse-grained entropy falls as the cloud condenses while the "
        "fine-scale entropy rises as each grain dissolves (panel d: both signs)."
    )
    return Section(
        "Emergence across scales",
        text,
        figures=[
            (demo.figures["free"], "free dust: H_Δ(t), structure per scale (dotted: exact), emergence time"),
            (demo.figures["trap"], "grains in a trap: the entropy change per scale has both signs"),
        ],
        tables=[
            (
                [
                    {
                        "quantity": "exponent p of t_Δ ~ Δ^p (free dust; 2 expected)",
                        "value": f"{n['exponent']:.3f} ± {n['exponent_se']:.3f}",
                    },
                    {
                        "quantity": "largest |estimated − exact| emergence time, in SEs",
                        "value": n["largest_time_deviation_in_se"],
                    },
                    {"quantity": f"trap: change of H_Δ at Δ = {TRAP_SCALES[0]} (nats)", "value": n["trap_fine_change"]},
                    {
                        "quantity": f"trap: change of H_Δ at Δ = {TRAP_SCALES[-3]} (nats)",
                        "value": n["trap_coarse_change"],
                    },
                ],
                "emergence across scales",
            )
        ],
    )


__all__ = ["EmergenceDemo", "emergence_section", "run_emergence_demo"]
