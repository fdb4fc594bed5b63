"""Print both sides of Ikeda et al.'s speed-accuracy relations for every schedule (docs/schedules.md).

Data: the 1-D mixture 0.4 N(-1, 0.3^2) + 0.6 N(1.5, 0.2^2). Relation 1 (complete estimation):
start law = the reference prior shifted by 0.3 of its std and 10 % wider. Relation 3: the Euler
probability-flow sampler from the reference prior with the score (1 + 0.1) s, measured |dW1| /
bound at each NFE (nan: a step folds over, the relation does not apply). About 30 s.

    PYTHONPATH=. python scripts/speed_accuracy_table.py
"""

from __future__ import annotations

import numpy as np

from analysis.schedule_study import resolve_schedule
from dustsim.mixture import GaussianMixture
from dustsim.schedule_theory.speed_accuracy import end_time, perturbed_score
from dustsim.schedule_theory.speed_accuracy_relation import complete_estimation, incomplete_estimation, start_law


def main() -> None:
    q = GaussianMixture(np.array([[-1.0], [1.5]]), np.array([0.3, 0.2]), np.array([0.4, 0.6]))
    for name in ["vp", "vp-cosine", "sub-vp", "fm", "edm", "ve", "ot"]:
        p = resolve_schedule(name, q)
        tau = end_time(p)
        start = start_law(p, tau, shift=0.3 * start_law(p, tau).stds[0], scale=1.1)
        r = complete_estimation(q, p, start)
        cells = [
            f"{name:9s} D0={r.d0:.3g} eta={r.response:.3g} int_vloss2={r.loss_action:.3g} "
            f"Sigma={r.action:.3g} W2^2/T={r.geodesic_action:.3g} holds={r.holds}"
        ]
        for nfe in (5, 10, 20, 50, 100):
            ie = incomplete_estimation(q, p, nfe, perturbed_score(q, p, 0.1), action=r.action)
            cells.append(f"{nfe}:{abs(ie.delta_w1):.3g}/{ie.bound:.3g}")
        print(" ".join(cells))


if __name__ == "__main__":
    main()
