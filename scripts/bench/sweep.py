"""Benchmark: sweep throughput on dask.distributed with 1 vs 2 workers (scaling efficiency).

The same sweep (members x replicas of a VP simulation) runs on a LocalCluster of one
single-threaded worker and then of two, ``--repeats`` times interleaved (medians, min and
max shown); the clusters are started and warmed before timing, so the numbers are task
throughput. Speed-up = T(1 worker) / T(2 workers); the target on 2 cores is >= 1.7x.

Agreement: the stores written with 1 and with 2 workers must hold bitwise the same
positions (every member's noise comes from its own seed, whatever worker runs it); the
run exits with status 1 otherwise (``--self-check`` shifts one side by 10 ulp to show it).

Run: ``python scripts/bench/sweep.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import numpy as np
from common import add_self_check_argument, check_equal, enable_self_check, print_table, run_benchmark, save_results

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
    dustsim.simulate(
        init="gmm", n=1_000, process="vp", steps=8, record_every=2, dtype="float32", output=out, progress=False
    )
    shutil.rmtree(out, ignore_errors=True)


def timed_sweep(spec_text: str, workers: int, tmp: Path) -> tuple[float, np.ndarray]:
    """Seconds to run the sweep on ``workers`` single-threaded workers, and the final positions it wrote."""
    from dask.distributed import Client, LocalCluster

    from dustsim.sweep import SweepSpec, run_sweep

    spec = SweepSpec.from_toml(spec_text)
    env = {"NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    with (
        LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env
        ) as cluster,
        Client(cluster) as client,
    ):
        client.run(_warm_worker, str(tmp))  # imports and cached kernels loaded before timing
        out = tmp / f"sweep-{workers}.zarr"
        start = time.perf_counter()
        ds = run_sweep(spec, out, scheduler=cluster.scheduler_address, progress=False)
        elapsed = time.perf_counter() - start
        final = np.asarray(ds["position"].isel(time=-1).values)
        shutil.rmtree(out, ignore_errors=True)
    return elapsed, final


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=250_000)
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--replicas", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs of each cluster size")
    parser.add_argument("--quick", action="store_true")
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    if args.quick:
        args.n, args.steps, args.replicas, args.repeats = 20_000, 50, 1, 1
    spec = SPEC.format(n=args.n, steps=args.steps, record_every=max(1, args.steps // 4), replicas=args.replicas)
    members = 4 * args.replicas
    tmp = Path(tempfile.mkdtemp(prefix="dustsim-sweep-bench-"))
    times: dict[int, list[float]] = {1: [], 2: []}
    finals: dict[int, np.ndarray] = {}
    try:
        warm = SPEC.format(n=1_000, steps=8, record_every=2, replicas=1)
        timed_sweep(warm, 1, tmp)  # fill the Numba cache on disk (same kernels, tiny sizes)
        for _ in range(args.repeats):
            for workers in (1, 2):
                seconds, finals[workers] = timed_sweep(spec, workers, tmp)
                times[workers].append(seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    check_equal(f"final positions of all {members} members: 2 workers vs 1 worker", finals[2], finals[1])
    t1, t2 = (statistics.median(times[w]) for w in (1, 2))
    rows = [
        {
            "workers": 1,
            "members": members,
            "seconds": t1,
            "seconds_min": min(times[1]),
            "seconds_max": max(times[1]),
            "members_per_s": members / t1,
            "speedup": 1.0,
            "repeats": args.repeats,
        },
        {
            "workers": 2,
            "members": members,
            "seconds": t2,
            "seconds_min": min(times[2]),
            "seconds_max": max(times[2]),
            "members_per_s": members / t2,
            "speedup": t1 / t2,
            "speedup_min": min(times[1]) / max(times[2]),
            "speedup_max": max(times[1]) / min(times[2]),
            "repeats": args.repeats,
        },
    ]
    print_table(
        f"sweep of {members} members (n={args.n}, {args.steps} steps each; median of {args.repeats})",
        rows,
        [
            "workers",
            "members",
            "seconds",
            "seconds_min",
            "seconds_max",
            "members_per_s",
            "speedup",
            "speedup_min",
            "speedup_max",
        ],
    )
    print(f"\nscaling efficiency of 2 workers: {t1 / t2:.2f}x (target >= 1.7x on 2 cores)")
    print(f"results: {save_results('sweep-quick' if args.quick else 'sweep', rows, n=args.n, steps=args.steps)}")
    return 0


if __name__ == "__main__":
    run_benchmark(main)
