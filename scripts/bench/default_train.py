"""Default ``train`` on a 50 000-particle 2-D mixture: when it stops, its CPU time, and its likelihood gap.

Reproduces the measurement quoted in docs/model.md ("Default step cap"): a VP trajectory of
the default 8-Gaussian mixture (std 0.08), ``dustsim.model.train`` with default settings on
one torch thread, then the PF-ODE log-likelihood of 500 held-out exact points against the
exact mixture log-density. CPU time is process time, so it reads as the time of a quiet core
even on a shared machine. The check: the mean gap (exact - model, nats) is at most 0.03
(issue 12) within its SE.

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
    from dustsim.model import model_log_likelihood, train
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
    return 0


if __name__ == "__main__":
    run_benchmark(main)
