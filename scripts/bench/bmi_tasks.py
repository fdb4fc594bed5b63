"""Write the BMI benchmark tasks ("Beyond Normal", Czyż et al. 2023) to .npz files.

Runs in a venv of its own with benchmark-mi (which needs jax < 0.4.34), so that dustsim
never depends on jax::

    python3 -m venv /work/venvs/bmi
    /work/venvs/bmi/bin/pip install jax==0.4.33 jaxlib==0.4.33 equinox==0.10.11 benchmark-mi
    /work/venvs/bmi/bin/python scripts/bench/bmi_tasks.py OUT_DIR [--max-dim 5] [--n 5000 20000]

Each file ``<task>-n<N>-s<seed>.npz`` holds ``x`` (N, dx), ``y`` (N, dy), ``mi`` (the
exact mutual information in nats) and ``task``; ``scripts/bench/estimators.py --bmi
OUT_DIR`` evaluates dustsim's estimators on them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main() -> None:
    import bmi

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--max-dim", type=int, default=5, help="largest dim of X (and of Y)")
    parser.add_argument("--n", type=int, nargs="+", default=[5000, 20000])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for name, task in bmi.benchmark.BENCHMARK_TASKS.items():
        if task.dim_x > args.max_dim or task.dim_y > args.max_dim:
            continue
        for n in args.n:
            for seed in range(args.seeds):
                path = args.out / f"{name}-n{n}-s{seed}.npz"
                if path.exists():
                    continue
                x, y = task.sample(n, seed=seed)
                tmp = path.with_suffix(".tmp.npz")
                np.savez(
                    tmp,
                    x=np.asarray(x, np.float64),
                    y=np.asarray(y, np.float64),
                    mi=float(task.mutual_information),
                    task=name,
                )
                tmp.replace(path)
        print(name, task.dim_x, task.dim_y, f"{task.mutual_information:.4f}", flush=True)


if __name__ == "__main__":
    main()
