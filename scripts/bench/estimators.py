"""Calibration of the entropy estimators: the numbers quoted in docs/analysis.md.

1. kNN standard error: over many seeds of Gaussian data, the true spread of the estimate
   against the mean reported SE, per dimension (a ratio of 1 means calibrated).
2. Face bias in a periodic box: kNN entropy of exactly uniform points on a square of side
   4 with straight distances and with distances on the torus (``period=``), minus the
   exact 2 log 4, averaged over seeds.
3. (with ``--demo DIR``, a ``dustsim demo`` output) I-MMSE entropy of the demo's mixture
   data with the exact denoiser and with the trained model's denoiser, against the exact
   mixture entropy: the learned one exceeds the exact one by the model's cross-entropy gap.

Run: ``python scripts/bench/estimators.py`` (``--quick`` for fewer seeds;
``--demo demo-output`` adds part 3).
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, save_results


def se_calibration(seeds: int, n: int) -> list[dict]:
    from analysis import knn_entropy

    rows = []
    for d in (1, 2, 3):
        est = [knn_entropy(np.random.default_rng(s).standard_normal((n, d))) for s in range(seeds)]
        values = np.array([e.value for e in est])
        ratio = float(np.std(values, ddof=1) / np.mean([e.se for e in est]))
        rows.append({"part": "se", "d": d, "n": n, "seeds": seeds, "spread_over_se": ratio,
                     "ratio_sd": ratio / math.sqrt(2 * (seeds - 1))})
    return rows


def face_bias(seeds: int, sizes: tuple[int, ...], side: float = 4.0) -> list[dict]:
    from analysis import knn_entropy

    exact = 2 * math.log(side)
    rows = []
    for n in sizes:
        reps = seeds if n <= 2000 else max(seeds // 5, 5)
        straight, torus = [], []
        for s in range(reps):
            u = np.random.default_rng(s).uniform(0.0, side, (n, 2))
            straight.append(knn_entropy(u).value - exact)
            torus.append(knn_entropy(u, period=side).value - exact)
        rows.append({"part": "face_bias", "n": n, "seeds": reps,
                     "straight_bias": float(np.mean(straight)),
                     "straight_bias_se": float(np.std(straight, ddof=1) / math.sqrt(reps)),
                     "periodic_bias": float(np.mean(torus)),
                     "periodic_bias_se": float(np.std(torus, ddof=1) / math.sqrt(reps))})
    return rows


def immse_check(demo: Path, n: int) -> list[dict]:
    import dustsim
    from analysis.model import immse_entropy, snr_denoiser
    from dustsim.mixture import GaussianMixture
    from dustsim.model import load_model
    from dustsim.model.evaluate import numpy_denoiser

    forward = dustsim.open_trajectory(demo / "forward_gmm.zarr")
    mixture = GaussianMixture.from_trajectory(forward)
    model = load_model(demo / "model_gmm.pt", "cpu")
    x0 = forward["position"].isel(time=0).values[:n].astype(np.float64)
    exact_h, exact_se = mixture.entropy(200_000, seed=0)
    rows = [{"part": "immse", "denoiser": "none (Monte Carlo of the exact mixture)", "n": 200_000,
             "entropy": exact_h, "entropy_se": exact_se}]
    for name, denoiser in (("exact posterior mean", mixture.denoiser(model.process)),
                           ("trained model", numpy_denoiser(model))):
        est, _ = immse_entropy(snr_denoiser(denoiser, model.process), x0, seed=1)
        rows.append({"part": "immse", "denoiser": name, "n": len(x0), "entropy": est.value, "entropy_se": est.se})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=300)
    parser.add_argument("--demo", type=Path, help="a dustsim demo output directory (adds the I-MMSE check)")
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds = 20 if args.quick else args.seeds
    se_rows = se_calibration(seeds, 1000 if args.quick else 5000)
    print_table("kNN standard error: true spread / mean reported SE (Gaussian data)", se_rows,
                ["d", "n", "seeds", "spread_over_se", "ratio_sd"])
    bias_rows = face_bias(seeds if args.quick else 200, (500, 2000) if args.quick else (500, 2000, 20_000))
    print_table("kNN entropy of uniform points in a periodic square, minus the exact value [nats]", bias_rows,
                ["n", "seeds", "straight_bias", "straight_bias_se", "periodic_bias", "periodic_bias_se"])
    rows = se_rows + bias_rows
    if args.demo is not None:
        immse_rows = immse_check(args.demo, 4000)
        print_table("I-MMSE entropy of the demo's mixture data [nats]", immse_rows,
                    ["denoiser", "n", "entropy", "entropy_se"])
        rows += immse_rows
    print(f"\nresults: {save_results('estimators-quick' if args.quick else 'estimators', rows)}")


if __name__ == "__main__":
    main()
