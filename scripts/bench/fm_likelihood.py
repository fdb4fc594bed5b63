"""Flow matching vs VP on the same artifact: default training, exact PF-ODE likelihood, sample sharpness.

    python scripts/bench/fm_likelihood.py            # full: 50 000 particles, default training (minutes)
    python scripts/bench/fm_likelihood.py --quick    # smoke run

For each process (``fm``: X_t = (1 - t) X_0 + t Z, and ``vp``) the default 8-Gaussian mixture
(std 0.08) dust is simulated, a model is trained with dustsim's defaults (it stops by itself),
and the script reports

- when and why training stopped, and its wall time;
- the PF-ODE log-likelihood of held-out exact mixture samples: the paired gap to the exact
  log-density (mean and SE over points) and the mean against minus the exact entropy;
- samples (Heun, 100 steps): energy distance over its two-sample noise floor, sliced W1
  over its floor, and the mean exact log-density of the samples minus the data's (blur
  shows up as a negative number).

Training is DSM on the interpolant's exact kernel for both processes (the conditional
flow-matching loss on ``u = Z - X_0`` is the same regression up to a time weighting:
``v = (x_t - D(x_t)) / t`` for ``alpha = 1 - t``; see ``docs/model.md``).

Checks (exit status 1 when missed): the exact reference is consistent (minus the mean exact
log-density of the held-out points equals the mixture's Monte Carlo entropy within 4.5 SE);
each model's paired log-likelihood gap is minus a KL
divergence, so it must not exceed 0 by 4.5 SE or more (a positive gap means a wrong
likelihood; ``--self-check`` shifts the bound by 10 SE to show that this fails); and, full
run only, the FM model's likelihood is within ``LL_TARGET`` nats of the exact mixture
entropy (paired gap), as in the issue.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
from common import (
    add_self_check_argument,
    check_at_most,
    check_within_se,
    enable_self_check,
    print_table,
    run_benchmark,
    save_results,
    set_threads,
)

LL_TARGET = 0.03


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--n", type=int, help="particles (default 50 000; quick 5000)")
    parser.add_argument("--seed", type=int, default=0)
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)

    import dustsim
    from dustsim.model import (
        GaussianMixture,
        energy_distance,
        energy_noise_floor,
        model_log_likelihood,
        sample,
        sliced_wasserstein,
        train,
    )

    n = args.n or (5000 if args.quick else 50_000)
    rows = []
    for process in ("fm", "vp"):
        traj = dustsim.simulate(init="gmm", n=n, process=process, steps=20, record_every=10, seed=args.seed + 1)
        set_threads(args.threads)
        mixture = GaussianMixture.from_trajectory(traj)
        assert mixture is not None, "the gmm artifact has an exact mixture law"
        training = {"seed": args.seed, "device": "cpu", "threads": args.threads, "checkpoint_every": 0}
        if args.quick:
            training.update(steps=300, batch_size=512)
        began = time.perf_counter()
        res = train(traj, training=training)
        seconds = time.perf_counter() - began
        stop = res.model.meta["stop"]
        rng = np.random.default_rng(args.seed + 7)
        held = mixture.sample(300 if args.quick else 2000, rng)
        ll = model_log_likelihood(res.model, held, seed=0).log_likelihood.values
        gap = ll - mixture.logpdf(held)
        entropy, entropy_se = mixture.entropy(200_000, seed=args.seed + 3)
        exact_held = -mixture.logpdf(held)  # the exact reference, two ways: must agree (two-sided check)
        check_within_se(
            f"{process}: -mean exact log-density of the held-out points vs the mixture entropy",
            float(exact_held.mean()),
            float(exact_held.std(ddof=1) / math.sqrt(len(held))),
            entropy,
            entropy_se,
        )
        m = 1000 if args.quick else 5000
        gen = (
            sample(res.model, m, {"name": "heun", "steps": 100, "record_every": 0}, seed=args.seed + 5)
            .position.isel(time=-1)
            .values.astype(np.float64)
        )
        floor, _ = energy_noise_floor(mixture.sample, m, m, rng, repeats=5)
        eds = [energy_distance(gen, mixture.sample(m, rng)) for _ in range(3)]
        sw_floor = np.mean([sliced_wasserstein(mixture.sample(m, rng), mixture.sample(m, rng), p=1) for _ in range(3)])
        sw = np.mean([sliced_wasserstein(gen, mixture.sample(m, rng), p=1) for _ in range(3)])
        data_logp = mixture.logpdf(mixture.sample(200_000, rng))
        gen_logp = mixture.logpdf(gen)
        rows.append(
            {
                "process": process,
                "particles": n,
                "stop": stop["reason"],
                "steps": res.model.step,
                "train_s": seconds,
                "LL_gap": float(gap.mean()),
                "LL_gap_se": float(gap.std(ddof=1) / math.sqrt(len(gap))),
                "LL_plus_H": float(ll.mean() + entropy),
                "LL_plus_H_se": float(math.hypot(ll.std(ddof=1) / math.sqrt(len(ll)), entropy_se)),
                "ED_over_floor": float(np.mean(eds) / floor),
                "SW1_over_floor": float(sw / sw_floor),
                "gen_logp_minus_data": float(gen_logp.mean() - data_logp.mean()),
                "gen_logp_se": float(
                    math.hypot(gen_logp.std(ddof=1) / math.sqrt(m), data_logp.std(ddof=1) / math.sqrt(len(data_logp)))
                ),
            }
        )
    print(f"# flow matching vs VP, {n} particles, {args.threads} thread(s){' (quick)' if args.quick else ''}")
    print_table(
        "default training; PF-ODE likelihood (nats); Heun-100 samples",
        rows,
        [
            "process",
            "particles",
            "stop",
            "steps",
            "train_s",
            "LL_gap",
            "LL_gap_se",
            "LL_plus_H",
            "LL_plus_H_se",
            "ED_over_floor",
            "SW1_over_floor",
            "gen_logp_minus_data",
            "gen_logp_se",
        ],
    )
    path = save_results(
        "fm_likelihood-quick" if args.quick else "fm_likelihood", rows, quick=args.quick, threads=args.threads
    )
    print(f"\nwrote {path}")
    for r in rows:  # LL_gap = E[log q - log p] = -KL(p || q) <= 0
        check_at_most(
            f"{r['process']}: PF-ODE log-likelihood gap (minus a KL, so <= 0)", r["LL_gap"], 0.0, r["LL_gap_se"]
        )
    if args.quick:
        return 0
    fm = rows[0]
    ok = abs(fm["LL_gap"]) <= LL_TARGET
    print(
        f"{'PASS' if ok else 'FAIL'}: FM PF-ODE likelihood gap {fm['LL_gap']:+.4f} ± {fm['LL_gap_se']:.4f} nats "
        f"(target |gap| <= {LL_TARGET})"
    )
    return 0 if ok else 1


if __name__ == "__main__":
    run_benchmark(main)
