"""Run every benchmark and print one table of the headline ratios against their targets.

Each benchmark runs in its own process (one after another, so they never compete for the
cores) and writes its full results to ``bench-results/<name>.nc``; this script then
collects the headline numbers into one table and writes it as
``bench-results/summary.nc`` (with the dustsim version and git commit), so runs can be
compared across versions.

Run: ``python scripts/bench/run_all.py`` (``--quick`` for smoke runs, ``--only a,b`` for
a subset: simulate, interacting, entropy, estimators, train, sweep, out_of_core).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from common import RESULTS_DIR, print_table, save_results  # noqa: E402

BENCHMARKS = ("simulate", "interacting", "entropy", "estimators", "train", "sweep", "out_of_core")


def _load(name: str, quick: bool) -> Any:
    import xarray as xr

    path = RESULTS_DIR / f"{name}{'-quick' if quick else ''}.nc"
    return xr.open_dataset(path).load() if path.exists() else None


def _pick(ds: Any, where: dict[str, Any], column: str) -> float:
    mask = np.ones(ds.sizes["case"], dtype=bool)
    for key, value in where.items():
        mask &= ds[key].values == value
    values = ds[column].values[mask]
    return float(values[0]) if len(values) else float("nan")


def headlines(quick: bool) -> list[dict[str, Any]]:
    """The numbers the issues set targets for, from each benchmark's results."""
    rows: list[dict[str, Any]] = []

    def add(bench: str, metric: str, value: float, target: str) -> None:
        rows.append({"benchmark": bench, "metric": metric, "value": value, "target": target})

    sim = _load("simulate", quick)
    if sim is not None:
        for mode in ("dustsim fused", "dustsim every-step"):
            add("simulate", f"{mode} f32 / torch f32 loop",
                _pick(sim, {"contender": mode, "dtype": "float32"}, "vs_torch_f32"), ">= 2")
            add("simulate", f"{mode} f32 / numpy f32 loop",
                _pick(sim, {"contender": mode, "dtype": "float32"}, "vs_numpy"), ">= 3")
            add("simulate", f"{mode} f64 / numpy f64 loop",
                _pick(sim, {"contender": mode, "dtype": "float64"}, "vs_numpy"), ">= 3")
        add("simulate", "streamed run: peak RSS / raw output size",
            _pick(sim, {"contender": "streamed zarr"}, "peak_over_raw_output"), "<< 1")
    inter = _load("interacting", quick)
    if inter is not None:
        n = inter["N"].values
        for i, size in enumerate(n):
            if "ratio" in inter:
                add("interacting", f"dustsim / jax-md steps/s, N={int(size)}", float(inter["ratio"].values[i]), "> 1")
        add("interacting", "ns per particle-step, largest N / smallest N", float(inter["scaling"].values[-1]),
            "~ 1 (O(N))")
    ent = _load("entropy", quick)
    if ent is not None and "speedup_vs_ckdtree" in ent:
        big = int(np.nanmax(ent["n"].values))
        add("entropy", f"kNN entropy / cKDTree, n={big}, d=2", _pick(ent, {"n": big, "d": 2}, "speedup_vs_ckdtree"),
            ">= 3")
        add("entropy", f"entropy trajectory: {int(_pick(ent, {'case': 'trajectory'}, 'frames'))} frames x "
            f"{int(_pick(ent, {'case': 'trajectory'}, 'n'))} particles [s]",
            _pick(ent, {"case": "trajectory"}, "knn_kl_s"), "< 60")
    est = _load("estimators", quick)
    if est is not None:
        for d in (1, 2, 3):
            add("estimators", f"kNN spread / reported SE, d={d}", _pick(est, {"part": "se", "d": d}, "spread_over_se"),
                "~ 1")
        add("estimators", "periodic-box face bias, straight kNN, n=2000 [nats]",
            _pick(est, {"part": "face_bias", "n": 2000}, "straight_bias"), "(the bias removed)")
        add("estimators", "periodic-box face bias, torus kNN, n=2000 [nats]",
            _pick(est, {"part": "face_bias", "n": 2000}, "periodic_bias"), "~ 0")
    tr = _load("train", quick)
    if tr is not None:
        for key, metric, target in (("time_to_quality_s", "training seconds to reach quality", "minutes"),
                                    ("ed_multiple_heun", "energy distance / noise floor (Heun)", "small multiple"),
                                    ("ed_multiple_euler-maruyama", "energy distance / noise floor (EM)",
                                     "small multiple"),
                                    ("ll_gap", "PF-ODE log-likelihood gap [nats]", "few 0.01"),
                                    ("train_its_cpu", "training it/s (CPU)", ""),
                                    ("ssm_ed_multiple", "SSM reverse samples: ED / floor", "<< end")):
            if key in tr:
                add("train", metric, float(tr[key].values), target)
    sw = _load("sweep", quick)
    if sw is not None:
        add("sweep", "2 workers / 1 worker throughput", _pick(sw, {"workers": 2}, "speedup"), ">= 1.7")
    ooc = _load("out_of_core", quick)
    if ooc is not None:
        peak, cap = float(ooc["peak_rss_bytes"].values[0]), float(ooc["cap_bytes"].values[0])
        add("out_of_core", "peak RSS / memory cap", peak / cap, "< 1")
        add("out_of_core", "store size / memory cap", float(ooc["store_raw_bytes"].values[0]) / cap, "> 1")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--only", help="comma-separated subset of " + ", ".join(BENCHMARKS))
    parser.add_argument("--summary-only", action="store_true", help="only collect existing results")
    args = parser.parse_args()
    chosen = [b for b in (args.only.split(",") if args.only else BENCHMARKS) if b]
    unknown = set(chosen) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE.parents[1]), os.environ.get("PYTHONPATH", "")])}
    timings = {}
    if not args.summary_only:
        for name in chosen:
            print(f"\n######## {name} ########", flush=True)
            start = time.perf_counter()
            cmd = [sys.executable, str(HERE / f"{name}.py"), *(["--quick"] if args.quick else [])]
            code = subprocess.call(cmd, env=env)
            timings[name] = time.perf_counter() - start
            if code:
                print(f"# {name} failed with exit code {code}", flush=True)
    rows = headlines(args.quick)
    print_table("dustsim benchmark summary" + (" (quick)" if args.quick else ""), rows,
                ["benchmark", "metric", "value", "target"])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    path = save_results("summary-quick" if args.quick else "summary", rows, commit=commit,
                        **{f"seconds_{k}": round(v, 1) for k, v in timings.items()})
    print(f"\nsummary: {path}")


if __name__ == "__main__":
    main()
