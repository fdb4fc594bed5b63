"""The demo's "three levels of dust" section: quantum dust, measured into classical dust, and emergence.

Self-contained: :func:`three_levels` runs its own small computations (about 5 s on one
core: 128-point grids) and returns a report :class:`~analysis.report.Section`, the files
it wrote and its headline numbers. The emergence level (coarse-grained entropy across
scales) is built elsewhere; its figure comes in through ``emergence_figure``.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import Any

import numpy as np

#: the quantum run of the demo: a cat of two packets, decohered by position dephasing
CAT: dict[str, Any] = {
    "state": "cat:separation=8,width=0.2",
    "points": 192,
    "domain": (-8.0, 8.0),
    "mass": 4.0,
    "t_end": 0.2,
    "dt": 0.002,
    "record_every": 5,
    "dephasing": 2.0,
    "tolerance": 1e-3,
}
#: a free packet and the classical dust measured from it (Brownian, same start)
PACKET: dict[str, Any] = {
    "state": "gaussian:width=0.5",
    "points": 256,
    "domain": (-24.0, 24.0),
    "t_end": 4.0,
    "dt": 0.1,
    "record_every": 4,
}
CLASSICAL_D = 0.5


def _png(fig: Any) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def _decohered(cat: Any) -> int:
    """The first frame where the cat's inter-packet coherence exp(-Lambda d^2 t) is below 1e-3."""
    from dustsim.quantum.states import parse_state

    t = cat["time"].values
    d = float(parse_state(CAT["state"])[1]["separation"])
    return int(np.argmax(np.exp(-CAT["dephasing"] * d**2 * t) < 1e-3))


def three_levels(
    out: Path,
    *,
    seed: int = 0,
    n_measure: int = 2000,
    emergence_figure: Any = None,
    emergence_caption: str = "emergence across scales",
) -> tuple[Any, dict[str, Path], dict[str, float]]:
    """Compute and describe the three levels of dust.

    Parameters
    ----------
    out : Path
        Directory for the datasets (``quantum_cat.nc``, ``quantum_entropy.nc``,
        ``quantum_measured.nc``).
    seed : int
        Seed of the Born measurements and the classical continuation.
    n_measure : int
        Measured particles per frame.
    emergence_figure : matplotlib Figure or PNG bytes, optional
        The emergence figure (coarse-grained entropy across scales) -- **the place where
        the emergence section joins** (issue 15, part 4). Without it the section says so.

    Returns
    -------
    section : analysis.report.Section
    files : dict of name -> Path
    numbers : dict of name -> float
    """
    import dustsim
    from analysis import entropy_trajectory
    from analysis.quantum import quantum_entropy
    from analysis.quantum_plots import density_matrix_heatmaps, quantum_entropy_panels, spreading_plot, wigner_snapshots
    from analysis.report import Section
    from dustsim.quantum.measure import born_sample
    from dustsim.quantum.run import quantum_run

    files: dict[str, Path] = {}
    cat = quantum_run(progress=False, history="demo: quantum cat", **CAT)
    qe = quantum_entropy(cat)
    measured = born_sample(cat, n_measure, seed=seed, history="demo: Born measurement")
    knn = entropy_trajectory(measured, estimators=("knn",), kl=False, mutual_information=False, seed=seed)
    for name, ds in (("quantum_cat", cat), ("quantum_entropy", qe), ("quantum_measured", measured)):
        files[name] = dustsim.save_dataset(ds, out / f"{name}.nc")

    packet = quantum_run(progress=False, history="demo: free packet", **PACKET)
    start = born_sample(packet, n_measure, seed=seed, times=[0.0])
    classical = dustsim.simulate(
        init="gaussian",
        artifact={"std": 0.5},
        n=n_measure,
        dim=1,
        process="brownian",
        process_params={"D": CLASSICAL_D},
        steps=40,
        t_end=PACKET["t_end"],
        record_every=4,
        seed=seed,
        history="demo: classical dust from the same initial law",
    )
    numbers = {
        "quantum_purity_end": float(qe["purity"].values[-1]),
        "quantum_entropy_start": float(qe["von_neumann"].values[0]),
        "quantum_entropy_after_decoherence": float(qe["von_neumann"].values[_decohered(cat)]),
        "quantum_negativity_start": float(qe["negative_volume"].values[0]),
        "quantum_negativity_end": float(qe["negative_volume"].values[-1]),
        "shannon_end": float(qe["shannon"].values[-1]),
        "measured_knn_end": float(knn["entropy"].sel(estimator="knn").values[-1]),
        "measured_knn_se_end": float(knn["entropy_se"].sel(estimator="knn").values[-1]),
        "measured_start_std": float(start["position"].values[0, :, 0].std()),
    }
    figures = [
        (
            _png(wigner_snapshots(cat)),
            "quantum level: the Wigner function of a cat state; the blue (negative) "
            "fringes are what decoherence removes",
        ),
        (_png(density_matrix_heatmaps(cat)), "|rho(x, x')|: dephasing kills the off-diagonal coherences"),
        (
            _png(quantum_entropy_panels(qe)),
            "von Neumann and Shannon entropy, purity, coherence length and Wigner negativity along the way",
        ),
        (
            _png(spreading_plot(packet, classical, label=f"classical Brownian dust (D = {CLASSICAL_D:g})")),
            "a free quantum packet spreads ballistically (width ~ t); classical dust from the same initial law "
            "diffuses (width ~ sqrt(t))",
        ),
    ]
    if emergence_figure is not None:
        data = emergence_figure if isinstance(emergence_figure, (bytes, bytearray)) else _png(emergence_figure)
        figures.append((bytes(data), emergence_caption))
    emergence_text = (
        ""
        if emergence_figure is not None
        else " Emergent: the next section follows the coarse-grained entropy of classical dust across scales."
    )
    text = (
        "Dust at three levels. Quantum: a particle in a superposition of two places (a cat state) is pure "
        f"(entropy {numbers['quantum_entropy_start']:.2g} nats) until its environment measures its position "
        f"(dephasing Lambda = {CAT['dephasing']:g}); the coherences between the two places die and the state "
        f"becomes a classical mixture: von Neumann entropy {numbers['quantum_entropy_after_decoherence']:.4f} nats "
        f"at t = {float(qe.time[_decohered(cat)]):.2g}, once the coherence exp(-Lambda d^2 t) between the packets "
        f"is below 1e-3 (ln 2 = {math.log(2):.4f}: one bit, which packet; the excess is dephasing inside each "
        "packet, which keeps raising the entropy), Wigner negativity "
        f"{numbers['quantum_negativity_start']:.3f} -> {numbers['quantum_negativity_end']:.2g}. "
        f"Measurement makes dust: {n_measure} Born-rule samples of the position per frame are a trajectory in "
        "dustsim's schema; their kNN entropy at the end, "
        f"{numbers['measured_knn_end']:.3f} ± {numbers['measured_knn_se_end']:.3f} nats, estimates the Shannon "
        f"entropy of |psi|^2, {numbers['shannon_end']:.3f} nats. Classical: dust measured from a packet moves on "
        "as Brownian dust (dustsim simulate --init points:FILE continues any measured frame)." + emergence_text
    )
    return Section("Three levels of dust: quantum, classical, emergent", text, figures=figures), files, numbers


__all__ = ["three_levels"]
