"""Benchmark: interacting Brownian dust (soft disks, cell lists) vs jax-md, side by side.

The system: N soft disks of diameter sigma = 1 in a periodic 2-D box at packing fraction
0.3 (box L = sqrt(N pi / 1.2)), pair potential u = eps/2 (1 - r/sigma)^2 for r < sigma
(eps = 1; jax-md's ``soft_sphere`` with alpha = 2), overdamped Brownian dynamics with
kT = 1, friction 1 (D = mu = 1), dt = 1e-3, started from uniformly random positions.

- dustsim: ``dustsim.simulate`` end to end (cell list rebuilt every step, fixed-point
  forces, counter-based noise; frames recorded only at the start and the end).
- jax-md (CPU): ``energy.soft_sphere_neighbor_list`` (sparse format, the faster one on
  CPU; the list is rebuilt only when a particle has moved dr_threshold / 2) and
  ``simulate.brownian``, all steps in one jitted ``fori_loop``; float32 like dustsim.

Both run in this one process on the same cores, each after a warm-up (Numba compilation or
cache load; XLA compilation). Reported: steps per second, particle-steps per second,
nanoseconds per particle-step (flat across N means O(N)), and the ratio. As a check that
both simulate the same system, the mean pair energy per particle at the end of each run is
printed (the two start from different random configurations and noises, so they agree
statistically, not exactly).

Run: ``python scripts/bench/interacting.py`` (``--quick`` for a smoke run). Timings on a
shared machine are noisy; under CPU oversubscription ``OMP_WAIT_POLICY=passive`` helps
dustsim's per-step parallel regions.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

PACKING = 0.3
DT = 1e-3


def box_length(n: int) -> float:
    return math.sqrt(n * math.pi / (4 * PACKING))


def pair_energy_per_particle(x: np.ndarray, L: float) -> float:
    """Mean soft-disk energy per particle, eps/2 (1 - r)^2 summed over pairs, / N."""
    from scipy.spatial import cKDTree

    x = np.mod(np.asarray(x, dtype=np.float64), L)
    pairs = cKDTree(x, boxsize=L).query_pairs(1.0, output_type="ndarray")
    d = x[pairs[:, 0]] - x[pairs[:, 1]]
    d -= L * np.round(d / L)
    r = np.linalg.norm(d, axis=1)
    return float(np.sum(0.5 * (1.0 - r) ** 2) / len(x))


def run_dustsim(n: int, steps: int, seed: int = 1) -> tuple[float, float]:
    import dustsim

    L = box_length(n)
    kwargs = {
        "init": "uniform", "artifact": {"half_width": 0.5 * L * (1 - 1e-7)}, "n": n, "dim": 2,
        "process": "brownian", "boundary": {"kind": "periodic", "box": L},
        "interaction": {"name": "harmonic", "epsilon": 1.0, "sigma": 1.0}, "dt": DT, "seed": seed,
    }
    dustsim.simulate(**kwargs, steps=2, record_every=2)  # warm-up: compilation or cache load
    start = time.perf_counter()
    ds = dustsim.simulate(**kwargs, steps=steps, record_every=steps)
    elapsed = time.perf_counter() - start
    return elapsed, pair_energy_per_particle(ds.position.values[-1], L)


def run_jax_md(n: int, steps: int, seed: int = 1) -> tuple[float, float, float]:
    import jax
    import jax.numpy as jnp
    from jax_md import energy, partition, simulate, space

    L = box_length(n)
    displacement, shift = space.periodic(L)
    R = jnp.asarray(np.random.default_rng(seed).uniform(0, L, (n, 2)), dtype=jnp.float32)
    capacity = 1.25
    while True:
        neighbor_fn, energy_fn = energy.soft_sphere_neighbor_list(
            displacement, L, sigma=1.0, epsilon=1.0, alpha=2.0, dr_threshold=0.5, format=partition.Sparse,
            capacity_multiplier=capacity,
        )
        init, apply = simulate.brownian(energy_fn, shift, dt=DT, kT=1.0, gamma=1.0)

        @jax.jit
        def run(state, nbrs, apply=apply):
            def body(_, carry):
                s, nb = carry
                s = apply(s, neighbor=nb)
                return s, nb.update(s.position)

            return jax.lax.fori_loop(0, steps, body, (state, nbrs))

        nbrs = neighbor_fn.allocate(R)
        state = init(jax.random.PRNGKey(seed), R)
        start = time.perf_counter()
        s, nb = run(state, nbrs)  # compiles, then runs
        s.position.block_until_ready()
        compile_and_run = time.perf_counter() - start
        start = time.perf_counter()
        s, nb = run(s, nb)
        s.position.block_until_ready()
        elapsed = time.perf_counter() - start
        if not bool(nb.did_buffer_overflow):
            break
        capacity *= 1.5  # the list overflowed: reallocate larger and redo
        print(f"# jax-md neighbour list overflowed; reallocating with capacity x{capacity:.2f}", flush=True)
        if capacity > 10:
            raise RuntimeError("jax-md's neighbour list keeps overflowing")
    return elapsed, pair_energy_per_particle(np.asarray(s.position), L), compile_and_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few steps (smoke run)")
    parser.add_argument("--no-peer", action="store_true", help="dustsim only")
    args = parser.parse_args()
    sizes = [(1_000, 50), (10_000, 20)] if args.quick else [(10_000, 1000), (100_000, 100), (1_000_000, 20)]

    import numba

    print(f"# interacting soft disks, 2-D, packing fraction {PACKING}, dt = {DT}")
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"numba threads {numba.get_num_threads()}, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', '(unset)')}")
    peer = not args.no_peer
    if peer:
        try:
            import jax
            import jax_md  # noqa: F401

            print(f"# peer: jax-md on jax {jax.__version__} ({jax.default_backend()}, {jax.device_count()} device)")
        except ImportError as exc:
            print(f"# peer jax-md unavailable ({exc}); install the 'peers' extra: pip install jax jax-md")
            peer = False
    rows = []
    base = None
    for n, steps in sizes:
        t_d, e_d = run_dustsim(n, steps)
        row = {"N": n, "steps": steps, "dustsim steps/s": steps / t_d, "dustsim Mps/s": n * steps / t_d / 1e6,
               "ns/particle-step": 1e9 * t_d / (n * steps), "dustsim E/N": e_d}
        base = base or row["ns/particle-step"]
        row["scaling"] = row["ns/particle-step"] / base
        if peer:
            t_j, e_j, c_j = run_jax_md(n, steps)
            row.update({"jax-md steps/s": steps / t_j, "jax-md E/N": e_j, "jax-md compile s": c_j - t_j,
                        "ratio": t_j / t_d})
        rows.append(row)
        print(f"N = {n:>8d}: dustsim {row['dustsim steps/s']:9.2f} steps/s ({row['dustsim Mps/s']:.2f} M "
              f"particle-steps/s, {row['ns/particle-step']:.0f} ns each, x{row['scaling']:.2f} of the smallest N)"
              + (f"; jax-md {row['jax-md steps/s']:8.2f} steps/s; dustsim / jax-md = {row['ratio']:.1f}x; "
                 f"E/N {e_d:.4f} vs {row['jax-md E/N']:.4f}" if peer else ""), flush=True)
    print("\nO(N): ns per particle-step across N =", ", ".join(f"{r['ns/particle-step']:.0f}" for r in rows))
    if peer:
        print("speed-up over jax-md:", ", ".join(f"N={r['N']}: {r['ratio']:.1f}x" for r in rows))
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from common import save_results

    clean = [{k.replace(" ", "_").replace("/", "_per_").replace("-", "_"): v for k, v in r.items()} for r in rows]
    print(f"results: {save_results('interacting-quick' if args.quick else 'interacting', clean)}")


if __name__ == "__main__":
    main()
