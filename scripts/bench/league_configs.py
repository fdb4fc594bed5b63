"""Compare dustsim training configurations on the league's data sets at fixed step counts.

    PYTHONPATH=.:scripts/bench python scripts/bench/league_configs.py --datasets checkerboard \
        --steps 2000 --configs default fourier

A cheap, load-independent protocol for choosing defaults: every configuration trains for the
same number of optimiser steps (not seconds) on the same training set, with one thread, and
is scored like ``league.py`` does (NLL gap = mean of ``-log q(x) + log p(x)`` over the same
held-out points, with its SE; the paired difference to the first configuration with its own
SE, which is what a choice should rest on). No peers needed.
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from pathlib import Path

import numpy as np
from common import print_table, set_threads
from league import laws

#: name -> (network table, training table) overrides of dustsim's defaults (the undamped Fourier
#: configurations name ``fourier_damping: False``, so that they stay what they were when recorded)
CONFIGS: dict[str, tuple[dict, dict]] = {
    # "default": today's defaults (noise-damped features since 2026-12-01; in the records before, no features)
    "default": ({}, {}),
    "no-features": ({"fourier_features": 0}, {}),
    "fourier": ({"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": False}, {}),
    "fourier32": ({"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False}, {}),
    "fourier16": ({"fourier_features": 16, "fourier_max_frequency": 16.0, "fourier_damping": False}, {}),
    "fourier32-lik": (
        {"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False},
        {"weighting": "likelihood"},
    ),
    "fourier32-loglevel": (
        {"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False},
        {"time_sampling": "log-level"},
    ),
    "fourier32-ema": (
        {"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False},
        {"ema_decay": 0.9995},
    ),
    "fourier32-b1024": (
        {"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False},
        {"batch_size": 1024},
    ),
    "fourier32-lr4e-3": (
        {"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": False},
        {"lr": 4e-3},
    ),
    "fourier32-damped": ({"fourier_features": 16, "fourier_max_frequency": 32.0, "fourier_damping": True}, {}),
    "fourier64-damped": ({"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": True}, {}),
    "fourier128-damped": ({"fourier_features": 16, "fourier_max_frequency": 128.0, "fourier_damping": True}, {}),
    "fourier128": ({"fourier_features": 16, "fourier_max_frequency": 128.0, "fourier_damping": False}, {}),
    "fourier-loglevel": (
        {"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": False},
        {"time_sampling": "log-level"},
    ),
    "fourier-lik": (
        {"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": False},
        {"weighting": "likelihood"},
    ),
    "fourier-ema": (
        {"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": False},
        {"ema_decay": 0.9995},
    ),
    "fourier-lr1e-3": ({"fourier_features": 16, "fourier_max_frequency": 64.0, "fourier_damping": False}, {"lr": 1e-3}),
    "fourier8": ({"fourier_features": 8, "fourier_max_frequency": 16.0, "fourier_damping": False}, {}),
    "loglevel": ({}, {"time_sampling": "log-level"}),
    "wide": ({"width": 256}, {}),
    "lr1e-3": ({}, {"lr": 1e-3}),
    "ema9995": ({}, {"ema_decay": 0.9995}),
    "constant": ({}, {"lr_schedule": "constant"}),
}


def run(process, network, training, train_x, test_x, steps, seed, workdir):
    import dustsim
    from dustsim.model import model_log_likelihood, train

    path = workdir / "train.npy"
    np.save(path, train_x)
    traj = dustsim.simulate(init=f"points:{path}", process=process, steps=10, record_every=10, seed=seed)
    began = time.process_time()
    res = train(
        traj,
        network=network,
        training={
            "steps": steps,
            "patience": 0,
            "seed": seed,
            "device": "cpu",
            "threads": 1,
            "checkpoint_every": 0,
            **training,
        },
    )
    cpu = time.process_time() - began
    ll = model_log_likelihood(res.model, test_x, seed=0).log_likelihood.values
    return ll, cpu, res.model.step


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=["checkerboard"])
    parser.add_argument("--configs", nargs="+", default=["default", "fourier"])
    parser.add_argument("--process", default="vp")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--n-test", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    set_threads(1)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.datasets:
            law = laws()[name]
            rng = np.random.default_rng(args.seed)
            train_x, test_x = law.sample(20000, rng), law.sample(args.n_test, rng)
            exact = law.logpdf(test_x)
            first = None
            for cfg in args.configs:
                net, tr = CONFIGS[cfg]
                ll, cpu, steps = run(args.process, net, tr, train_x, test_x, args.steps, args.seed, Path(tmp))
                gap = exact - np.asarray(ll)
                first = gap if first is None else first
                diff = gap - first
                n = len(gap)
                row = {
                    "dataset": name,
                    "process": args.process,
                    "config": cfg,
                    "steps": steps,
                    "NLL_gap": float(gap.mean()),
                    "se": float(gap.std(ddof=1) / math.sqrt(n)),
                    "minus_first": float(diff.mean()),
                    "diff_se": float(diff.std(ddof=1) / math.sqrt(n)) if cfg != args.configs[0] else 0.0,
                    "train_cpu_s": cpu,
                }
                rows.append(row)
                print(
                    f"  {name:12s} {args.process} {cfg:10s} steps {steps:5d}  "
                    f"gap {row['NLL_gap']:+.4f} ± {row['se']:.4f}"
                    f"  vs first {row['minus_first']:+.4f} ± {row['diff_se']:.4f}  cpu {cpu:.0f} s",
                    flush=True,
                )
    print_table(
        "dustsim configurations at fixed steps (1 thread)",
        rows,
        ["dataset", "process", "config", "steps", "NLL_gap", "se", "minus_first", "diff_se", "train_cpu_s"],
    )
    return 0


if __name__ == "__main__":
    main()
