"""Default ``train`` on a 50 000-particle 2-D mixture: when it stops, its CPU time, its likelihood gap, its samples.

Reproduces the measurement quoted in docs/model.md ("Default step cap"): a VP trajectory of
the default 8-Gaussian mixture (std 0.08), ``dustsim.model.train`` with default settings on
one torch thread, then

- the PF-ODE log-likelihood of 500 held-out exact points against the exact mixture
  log-density (NLL gap, nats);
- 4000 samples with ``sample``'s defaults (Heun, 100 steps): energy distance and sliced W2
  to 8 independent exact draws of the same size, against the same statistics between two
  exact draws (the two-sample noise floor), and the mean exact log-density of the samples
  against that of exact draws.

CPU time is process time, so it reads as the time of a quiet core even on a shared machine.
Checks (issue 12), each within its SE: |NLL gap| <= 0.03 nats; energy distance and sliced W2
at their noise floors (one generated draw: the SE is the floor's spread of a single pair);
|mean log-density of samples - data's| <= 0.03 nats.

    PYTHONPATH=.:scripts/bench python scripts/bench/default_train.py
"""

from __future__ import annotations

import time

import numpy as np
from common import add_self_check_argument, check_at_most, enable_self_check, run_benchmark

GAP_LIMIT = 0.03  # nats


def main() -> int:
    import argparse

    import torch

    import dustsim
    from dustsim.model import energy_distance, model_log_likelihood, sample, sliced_wasserstein, train
    from dustsim.run_info import RunInfo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    torch.set_num_threads(1)
    traj = dustsim.simulate(init="gmm", artifact={"std": 0.08}, n=50_000, process="vp", steps=100, seed=1)
    start = time.process_time()
    result = train(traj, training={"threads": 1, "device": "cpu", "seed": 1, "checkpoint_every": 0})
    cpu = time.process_time() - start
    stop = result.model.meta["stop"]
    print(f"stopped at step {result.model.step} ({stop['reason']}) after {cpu:.0f} s of CPU (1 thread)")
    mixture = RunInfo.from_dataset(traj).mixture
    x = mixture.sample(500, np.random.default_rng(7))
    gap = mixture.logpdf(x) - model_log_likelihood(result.model, x, seed=0).log_likelihood.values
    se = float(gap.std(ddof=1) / np.sqrt(len(gap)))
    print(f"log-likelihood gap (exact - model): {gap.mean():+.4f} +- {se:.4f} nats")
    check_at_most("|log-likelihood gap| (nats)", abs(float(gap.mean())), GAP_LIMIT, se=se)

    n, refs = 4000, 8
    gen = sample(result.model, n, seed=2).position.isel(time=-1).values.astype(np.float64)
    rng = np.random.default_rng(11)
    for name, stat in (("energy distance", energy_distance), ("sliced W2", sliced_wasserstein)):
        floor = np.array([stat(mixture.sample(n, rng), mixture.sample(n, rng)) for _ in range(refs)])
        model = np.array([stat(gen, mixture.sample(n, rng)) for _ in range(refs)])
        print(
            f"{name}: samples {model.mean():.4g} (sd over references {model.std(ddof=1):.2g}), "
            f"noise floor {floor.mean():.4g} (sd of one pair {floor.std(ddof=1):.2g}): "
            f"{model.mean() / floor.mean():.2f}x the floor"
        )
        check_at_most(
            f"{name} of samples vs its noise floor",
            float(model.mean()),
            float(floor.mean()),
            se=float(floor.std(ddof=1)),
        )
    lg, ld = mixture.logpdf(gen), mixture.logpdf(mixture.sample(n, rng))
    diff = float(ld.mean() - lg.mean())
    dse = float(np.hypot(lg.std(ddof=1), ld.std(ddof=1)) / np.sqrt(n))
    print(f"mean exact log-density: data - samples = {diff:+.4f} +- {dse:.4f} nats")
    check_at_most("|mean log-density, data - samples| (nats)", abs(diff), GAP_LIMIT, se=dse)
    return 0


if __name__ == "__main__":
    run_benchmark(main)
