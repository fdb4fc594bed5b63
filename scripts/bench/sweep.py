"""Benchmark: sweep throughput on dask.distributed with 1 vs 2 workers (scaling efficiency).

The same sweep (members x replicas of a VP simulation) runs on a LocalCluster of one
single-threaded worker and then of two; the clusters are started before timing, so the
numbers are task throughput. Speed-up = T(1 worker) / T(2 workers); the target on 2
cores is >= 1.7x.

Run: ``python scripts/bench/sweep.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, save_results

SPEC = """
init = "gmm"
n = {n}
process = "vp"
steps = {steps}
record_every = {record_every}
dtype = "float32"

[sweep]
replicas = {replicas}
seed = 1

[sweep.grid]
"process.beta_max" = [15.0, 20.0]
"artifact.std" = [0.05, 0.1]
"""


def _warm_worker(tmp: str) -> None:
    """Run a tiny member in this worker so that imports and Numba cache loads are not timed."""
    import os

    import dustsim

    out = Path(tmp) / f"warm-{os.getpid()}.zarr"
    dustsim.simulate(init="gmm", n=1_000, process="vp", steps=8, record_every=2, dtype="float32",
                     output=out, progress=False)
    shutil.rmtree(out, ignore_errors=True)


def timed_sweep(spec_text: str, workers: int, tmp: Path) -> float:
    from dask.distributed import Client, LocalCluster

    from dustsim.sweep import SweepSpec, run_sweep

    spec = SweepSpec.from_toml(spec_text)
    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                      env=env) as cluster, Client(cluster) as client:
        client.run(_warm_worker, str(tmp))  # imports and cached kernels loaded before timing
        out = tmp / f"sweep-{workers}.zarr"
        start = time.perf_counter()
        run_sweep(spec, out, scheduler=cluster.scheduler_address, progress=False)
        elapsed = time.perf_counter() - start
        shutil.rmtree(out, ignore_errors=True)
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500_000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.n, args.steps, args.replicas = 20_000, 50, 1
    spec = SPEC.format(n=args.n, steps=args.steps, record_every=max(1, args.steps // 4), replicas=args.replicas)
    members = 4 * args.replicas
    tmp = Path(tempfile.mkdtemp(prefix="dustsim-sweep-bench-"))
    try:
        timed_sweep(spec, 1, tmp)  # warm the Numba cache on disk
        t1 = timed_sweep(spec, 1, tmp)
        t2 = timed_sweep(spec, 2, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    rows = [
        {"workers": 1, "members": members, "seconds": t1, "members_per_s": members / t1, "speedup": 1.0},
        {"workers": 2, "members": members, "seconds": t2, "members_per_s": members / t2, "speedup": t1 / t2},
    ]
    print_table(f"sweep of {members} members (n={args.n}, {args.steps} steps each)", rows,
                ["workers", "members", "seconds", "members_per_s", "speedup"])
    print(f"\nscaling efficiency of 2 workers: {t1 / t2:.2f}x (target >= 1.7x on 2 cores)")
    print(f"results: {save_results('sweep-quick' if args.quick else 'sweep', rows, n=args.n, steps=args.steps)}")


if __name__ == "__main__":
    main()
