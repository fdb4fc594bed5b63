"""Benchmark: kNN entropy (analysis) vs a plain scipy cKDTree implementation vs infomeasure.

All contenders compute the Kozachenko-Leonenko entropy (Euclidean norm, same k) of the
same points in this one process, with the same number of threads available (Numba and
cKDTree ``workers=-1`` use every core; infomeasure's KDTree query is single-threaded).
The answers must agree to ``TOLERANCE`` nats (floating-point precision on tie-free data;
the run exits with status 1 otherwise, ``--self-check`` shifts the peers' values by 10
tolerances to show it) and are printed side by side with the time ratios (medians of 3
timed runs, after an untimed warm-up for the Numba side). Then a full entropy trajectory of
a Zarr run (100 frames x 1e6 particles by default) is timed, read frame by frame.

Run: ``python scripts/bench/entropy.py`` (``--quick`` for a smoke run). Results are also
written to ``bench-results/entropy.json`` (``DUSTSIM_BENCH_DIR`` to change the folder).
Timings on a shared machine are noisy: compare ratios from one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial import cKDTree
from scipy.special import digamma, gammaln

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import add_self_check_argument, check_equal, enable_self_check, run_benchmark, save_results  # noqa: E402

RESULTS_DIR = Path(os.environ.get("DUSTSIM_BENCH_DIR", ROOT / "bench-results"))
K = 4
TOLERANCE = 1e-9  # nats: the same formula on the same distances; only summation order differs


def timed(fn: Callable[[], Any], repeats: int, warmup: int = 1) -> tuple[float, Any]:
    """Median wall time of ``fn()`` over ``repeats`` calls (after ``warmup`` untimed calls) and its value."""
    value = None
    for _ in range(warmup):
        value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), value


def ckdtree_entropy(x: np.ndarray, k: int = K) -> float:
    """The plain baseline: cKDTree build + query(k + 1, workers=-1) + the KL formula."""
    n, d = x.shape
    dist = cKDTree(x).query(x, k=k + 1, workers=-1)[0][:, k]
    log_vd = 0.5 * d * np.log(np.pi) - gammaln(0.5 * d + 1)
    return float(digamma(n) - digamma(k) + log_vd + d * np.mean(np.log(dist)))


def _analysis_entropy(x: np.ndarray) -> float:
    from analysis import knn_entropy

    return float(knn_entropy(x, K, bias="none").value)


def _infomeasure_entropy(infomeasure: Any, x: np.ndarray) -> float:
    return float(infomeasure.entropy(x, approach="kl", k=K, minkowski_p=2, noise_level=0))


def knn_rows(sizes: list[int], dims: list[int], repeats: int, peers: bool) -> list[dict[str, Any]]:
    from analysis import knn_entropy

    knn_entropy(np.random.default_rng(0).standard_normal((1000, 2)))  # compile (cached) kernels
    rows = []
    for d in dims:
        for n in sizes:
            x = np.random.default_rng(n + d).standard_normal((n, d))
            reps = repeats
            # the point estimate only (peers compute no bias): no subsample bias estimate
            t_ours, ours = timed(partial(_analysis_entropy, x), reps)
            t_tree, tree = timed(partial(ckdtree_entropy, x), reps, warmup=0)
            row = {
                "n": n,
                "d": d,
                "k": K,
                "analysis_s": t_ours,
                "ckdtree_s": t_tree,
                "analysis_H": ours,
                "ckdtree_H": tree,
                "speedup_vs_ckdtree": t_tree / t_ours,
                "repeats": reps,
            }
            if peers:
                try:
                    import infomeasure

                    t_im, im = timed(partial(_infomeasure_entropy, infomeasure, x), reps, warmup=0)
                    row.update({"infomeasure_s": t_im, "infomeasure_H": im, "speedup_vs_infomeasure": t_im / t_ours})
                except ImportError:
                    pass
            row["max_abs_diff"] = max(abs(row[c] - ours) for c in ("ckdtree_H", "infomeasure_H") if c in row)
            row["tolerance"] = TOLERANCE
            for column, peer in (("ckdtree_H", "scipy cKDTree"), ("infomeasure_H", "infomeasure")):
                if column in row:
                    check_equal(f"kNN entropy n={n} d={d}: analysis vs {peer}", ours, row[column], atol=TOLERANCE)
            rows.append(row)
            print_row(row)
    return rows


def print_row(row: dict[str, Any]) -> None:
    im = (
        (
            f"  infomeasure {row['infomeasure_s']:7.3f} s  H={row['infomeasure_H']:.12f}  "
            f"x{row['speedup_vs_infomeasure']:.1f}"
        )
        if "infomeasure_s" in row
        else ""
    )
    print(
        f"d={row['d']} n={row['n']:>8}  analysis {row['analysis_s']:7.3f} s  H={row['analysis_H']:.12f}  "
        f"cKDTree {row['ckdtree_s']:7.3f} s  H={row['ckdtree_H']:.12f}  x{row['speedup_vs_ckdtree']:.1f}{im}",
        flush=True,
    )


def trajectory_row(n: int, frames: int, workdir: Path) -> dict[str, Any]:
    import dustsim
    from analysis import entropy_trajectory

    path = workdir / "bench.zarr"
    start = time.perf_counter()
    dustsim.simulate(
        init="gmm", n=n, process="vp", steps=frames - 1, record_every=1, seed=1, output=path, progress=False
    )
    t_sim = time.perf_counter() - start
    ds = dustsim.open_trajectory(path)
    entropy_trajectory(ds.isel(time=[0, 1]), max_particles=None, mutual_information=False, exact=False)  # warm-up
    start = time.perf_counter()
    e = entropy_trajectory(ds, max_particles=None, mutual_information=False, exact=False)
    t_knn = time.perf_counter() - start
    start = time.perf_counter()
    full = entropy_trajectory(ds, max_particles=None)
    t_full = time.perf_counter() - start
    row = {
        "n": n,
        "frames": frames,
        "simulate_s": t_sim,
        "knn_kl_s": t_knn,
        "all_defaults_s": t_full,
        "per_frame_knn_kl_s": t_knn / frames,
        "H_first": float(e["entropy"][0, 0]),
        "H_last": float(e["entropy"][-1, 0]),
        "exact_last": float(full["exact_entropy"][-1]),
    }
    print(
        f"entropy trajectory: {frames} frames x {n} particles (Zarr, frame by frame): "
        f"kNN entropy + KL {t_knn:.1f} s ({t_knn / frames:.3f} s/frame); with KSG MI (10000 pairs) and "
        f"exact mixture entropy {t_full:.1f} s; H {row['H_first']:.4f} -> {row['H_last']:.4f} nats "
        f"(exact at the end {row['exact_last']:.4f}); simulation took {t_sim:.1f} s",
        flush=True,
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    parser.add_argument("--no-peers", action="store_true", help="skip infomeasure")
    parser.add_argument("--sizes", type=int, nargs="+", help="numbers of points (default 1e5 1e6; quick 1e4 1e5)")
    parser.add_argument(
        "--trajectory",
        type=int,
        nargs=2,
        metavar=("N", "FRAMES"),
        help="particles and frames of the entropy trajectory (default 1e6 100; quick 1e5 10)",
    )
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    import numba

    sizes = args.sizes or ([10_000, 100_000] if args.quick else [100_000, 1_000_000])
    n_traj, frames = args.trajectory or ((100_000, 10) if args.quick else (1_000_000, 100))
    print(
        f"# kNN entropy, k={K}, Euclidean; {os.cpu_count()} cpus, numba threads {numba.get_num_threads()}, "
        f"threading layer after first use; timings on a shared machine are noisy",
        flush=True,
    )
    rows = knn_rows(sizes, [2, 3], repeats=3, peers=not args.no_peers)
    print(f"# numba threading layer: {numba.threading_layer()}")
    workdir = Path(tempfile.mkdtemp(prefix="dustsim-bench-"))
    try:
        traj = trajectory_row(n_traj, frames, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    out = RESULTS_DIR / ("entropy-quick.json" if args.quick else "entropy.json")
    out.write_text(
        json.dumps(
            {
                "benchmark": "entropy",
                "quick": args.quick,
                "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
                "machine": f"{platform.machine()} {os.cpu_count()} cpus",
                "python": platform.python_version(),
                "knn_entropy": rows,
                "trajectory": traj,
            },
            indent=2,
        )
    )
    print(f"wrote {out}")
    name = "entropy-quick" if args.quick else "entropy"
    print(f"results: {save_results(name, [*rows, {'case': 'trajectory', **traj}])}")


if __name__ == "__main__":
    run_benchmark(main)
