"""Calibration and cost of the emergence analysis: the numbers quoted in docs/analysis.md.

1. Emergence times of free Brownian dust from a point (1-D and 2-D): over many seeds, the
   deviation of the estimated time from the exact one (root of the exact structure of the
   point's Gaussian spread) in units of the reported SE, per scale: mean (bias), spread
   (1 means calibrated) and the coverage of +-1.96 SE; and the fitted exponent of
   t_Delta ~ Delta^p against 2.
2. Structure estimates of a 2-D Gaussian mixture against the exact structure, per scale:
   the same z statistics (sparse cells included: they are left out of the estimate).
3. (with ``--morse``, slow: minutes) Morse aggregation of 2000 particles from a uniform gas
   in a periodic box: the change of H_Delta per scale, in nats and SEs, and the structure at
   the end (negative in the crystalline cores near the particle spacing).
4. Cost: seconds per frame and scale of :func:`analysis.emergence.emergence` (median of
   3 repeats) at a few particle numbers, to size the demo.

Agreement: in parts 1-2 the mean z of every scale must be 0 within 4.5 of its SE
(max(sd_z, 1) / sqrt(seeds)); the run exits with status 1 otherwise (``--self-check`` shifts
the exact side by 10 SE to show it).

Run: ``python scripts/bench/emergence.py`` (``--quick`` for fewer seeds, ``--morse`` adds part 3).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    add_self_check_argument,
    check_within_se,
    enable_self_check,
    median_time,
    print_table,
    run_benchmark,
    save_results,
)


def _z_rows(part: str, z: np.ndarray, labels: list[str], extra: dict) -> list[dict]:
    rows = []
    for j, label in enumerate(labels):
        col = z[:, j][np.isfinite(z[:, j])]
        if len(col) < 2:
            continue
        rows.append(
            {
                "part": part,
                **extra,
                "scale": label,
                "seeds": len(col),
                "mean_z": float(col.mean()),
                "sd_z": float(col.std(ddof=1)),
                "coverage_95": float(np.mean(np.abs(col) < 1.96)),
            }
        )
    return rows


def emergence_times(seeds: int, n: int, dim: int) -> list[dict]:
    import dustsim
    from analysis.emergence import emergence, fit_emergence_exponent
    from dustsim.mixture import GaussianMixture

    scales = [0.2 * 2 ** (j / 2) for j in range(5)]
    point = GaussianMixture([[0.0] * dim], [0.0], [1.0])
    z, p_z = [], []
    for seed in range(seeds):
        ds = dustsim.simulate(
            init="point",
            n=n,
            dim=dim,
            process="brownian",
            process_params={"D": 0.5},
            t_end=3.0 * dim,
            steps=150,
            record_every=1,
            seed=100 + seed,
            dtype="float64",
        )
        r = emergence(ds, scales, mixture=point)
        z.append((r["emergence_time"] - r["exact_emergence_time"]).values / r["emergence_time_se"].values)
        try:
            p, p_se, _ = fit_emergence_exponent(r)
            p_z.append((p - 2.0) / p_se)
        except Exception:  # too few crossings in this seed
            pass
    rows = _z_rows("emergence_time", np.array(z), [f"{s:.3g}" for s in scales], {"d": dim, "n": n})
    pz = np.array(p_z)
    rows.append(
        {
            "part": "exponent",
            "d": dim,
            "n": n,
            "scale": "all",
            "seeds": len(pz),
            "mean_z": float(pz.mean()),
            "sd_z": float(pz.std(ddof=1)),
            "coverage_95": float(np.mean(np.abs(pz) < 1.96)),
        }
    )
    return rows


def structure(seeds: int, n: int) -> list[dict]:
    import dustsim
    from analysis.emergence import emergence

    scales = [0.1, 0.2, 0.4, 0.8]
    z = []
    for seed in range(seeds):
        ds = dustsim.simulate(
            init="gmm",
            artifact={"k": 4, "radius": 1.0, "std": 0.1},
            n=n,
            dim=2,
            process="brownian",
            process_params={"D": 0.5},
            t_end=0.5,
            steps=50,
            record_every=10,
            seed=200 + seed,
            dtype="float64",
        )
        r = emergence(ds, scales)
        z.append(((r["structure"] - r["exact_structure"]) / r["structure_se"]).values[1:].reshape(-1, len(scales)))
    return _z_rows("structure", np.concatenate(z), [f"{s:.3g}" for s in scales], {"d": 2, "n": n})


def morse() -> list[dict]:
    import dustsim
    from analysis.emergence import emergence

    ds = dustsim.simulate(
        init="uniform",
        artifact={"half_width": 25},
        n=2000,
        dim=2,
        process="brownian",
        boundary={"kind": "periodic", "box": 50.0},
        interaction={"name": "morse", "epsilon": 4.0, "a": 1.5, "cutoff": 3.0, "cap": 100.0},
        dt=5e-4,
        t_end=10.0,
        record_every=2000,
        seed=3,
    )
    r = emergence(ds, [50 / 2**k for k in range(1, 9)])
    h, se = r["coarse_entropy"].values, r["coarse_entropy_se"].values
    rows = []
    for j, scale in enumerate(r["scale"].values):
        change = float(h[-1, j] - h[0, j])
        rows.append(
            {
                "part": "morse",
                "scale": f"{scale:.3g}",
                "change_nats": change,
                "change_in_se": change / float(np.hypot(se[-1, j], se[0, j])),
                "structure_end": float(r["structure"].values[-1, j]),
                "resolved_end": float(r["resolved_fraction"].values[-1, j]),
            }
        )
    return rows


def cost(quick: bool) -> list[dict]:
    import dustsim
    from analysis.emergence import emergence

    rows = []
    for n in (5_000, 20_000) if quick else (5_000, 20_000, 100_000):
        ds = dustsim.simulate(
            init="gmm", n=n, dim=2, process="brownian", steps=20, record_every=1, seed=1, dtype="float64"
        )
        ds = ds.load()
        seconds = median_time(lambda ds=ds: emergence(ds, n_scales=6, exact=False), repeats=3)
        frames = ds.sizes["time"]
        rows.append(
            {
                "part": "cost",
                "n": n,
                "frames": frames,
                "scales": 6,
                "seconds": seconds,
                "us_per_point_frame_scale": 1e6 * seconds / (n * frames * 6),
            }
        )
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--morse", action="store_true", help="add the (slow) Morse aggregation run")
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    seeds = 6 if args.quick else 20
    started = time.perf_counter()
    rows = emergence_times(seeds, 20_000, 1) + emergence_times(max(seeds // 2, 3), 20_000, 2)
    rows += structure(max(seeds // 2, 3), 40_000)
    cols = ["part", "d", "n", "scale", "seeds", "mean_z", "sd_z", "coverage_95"]
    print_table("estimated vs exact, in reported SEs (sd_z = 1, coverage 0.95: calibrated)", rows, cols)
    if args.morse:
        rows_m = morse()
        print_table(
            "Morse aggregation from a uniform gas: change of H_Delta, first to last frame",
            rows_m,
            ["scale", "change_nats", "change_in_se", "structure_end", "resolved_end"],
        )
    costs = cost(args.quick)
    print_table("cost of emergence()", costs, ["n", "frames", "scales", "seconds", "us_per_point_frame_scale"])
    save_results("emergence-quick" if args.quick else "emergence", rows + costs)
    print(f"\n{time.perf_counter() - started:.0f} s")
    for r in rows:
        check_within_se(
            f"{r['part']} d={r['d']} scale {r['scale']}: mean z over {r['seeds']} seeds vs 0",
            r["mean_z"],
            max(r["sd_z"], 1.0) / math.sqrt(r["seeds"]),
            0.0,
        )
    return 0


if __name__ == "__main__":
    run_benchmark(main)
