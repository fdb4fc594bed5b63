"""Benchmark: interacting Brownian dust (soft disks) vs LAMMPS and jax-md, with a physics check.

The system (the one of issue #11): N soft disks of diameter sigma = 1 in a periodic 2-D box
at packing fraction 0.3 (box L = sqrt(N pi / 1.2)), pair potential u = eps/2 (1 - r/sigma)^2
for r < sigma (eps = 1; LAMMPS ``harmonic/cut`` with k = 1/2, rc = 1; jax-md ``soft_sphere``
with alpha = 2), overdamped Brownian dynamics with kT = 1, friction 1 (D = mu = 1),
dt = 1e-3, started from uniformly random positions.

- dustsim: ``dustsim.simulate`` end to end (input, Verlet neighbour lists, output Dataset;
  frames only at the start and the end), float32 and float64 on ``--threads`` threads, and
  float32 on 1 thread (the 1-thread ratio holds up on a loaded machine, where per-step
  parallel regions of both codes wait for descheduled threads).
- LAMMPS (``scripts/bench/lammps_peer.py``): ``fix brownian ... rng gaussian`` (serial in
  LAMMPS) with Verlet lists (``neighbor SKIN bin``, rebuilt when needed), timed on its
  ``run`` loop only (its ``Loop time``: setup, input and output are not counted), with 2
  OpenMP threads (``-sf omp -pk omp 2``) and with 1 thread (plain LAMMPS).
- jax-md (CPU, float32): ``soft_sphere_neighbor_list`` (sparse) and ``simulate.brownian``
  in one jitted ``fori_loop``, timed after compilation; it runs on the threads XLA uses.

Every timing is the median of ``--repeats`` runs (min and max shown). Physics agreement is
checked, not just printed: at N = 1e4 (``PHYSICS_N``) dustsim and LAMMPS are equilibrated
(``EQUILIBRATE`` steps), then frames every ``FRAME_EVERY`` steps give the mean pair energy
per particle and g(r); their block-average standard errors (``BLOCKS`` blocks) must cover
the difference (|dE| < 4.5 combined SE; g(r) chi^2 over its bins not rejected at the
4.5-sigma level), and LAMMPS's own ``pe`` must equal dustsim's energy formula evaluated on
LAMMPS's frames (so the two decks really have the same potential). The script exits
non-zero if a check fails; ``--self-check`` gives dustsim a 10 % stiffer potential
(epsilon = 1.1: fewer overlaps, E/N measured with epsilon = 1 drops by ~2 %, about 7 combined
standard errors at N = 1e4), which the check must catch (the script then exits 1, as it
should). A 10 % hotter kT moves E/N by only ~1 %, too little to be caught reliably, and the
``--quick`` sizes (N = 2000) have too little power for either: use the default sizes.

Run: ``python scripts/bench/interacting.py`` (2 threads; ``--quick`` for a smoke run,
``--no-peer`` for dustsim only). Timings on a shared machine are noisy; LAMMPS's OpenMP
threads spin-wait and suffer most when the cores are oversubscribed.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

PACKING = 0.3
DT = 1e-3
#: the physics check: size, equilibration steps, production steps, frame interval, blocks
PHYSICS_N = 10_000
EQUILIBRATE = 2_000
PRODUCTION = 20_000
FRAME_EVERY = 100
BLOCKS = 20
#: g(r) histogram: bin edges (sigma units)
R_EDGES = np.linspace(0.0, 2.5, 26)
Z = 4.5
#: LAMMPS neighbour skin (its fastest on this system among 0.3, 0.6, 1.0 on the test machine)
LAMMPS_SKIN = 0.6
SIZES = [(10_000, 1000), (100_000, 200), (1_000_000, 80)]
QUICK_SIZES = [(2_000, 100), (10_000, 50)]


def box_length(n: int) -> float:
    return math.sqrt(n * math.pi / (4 * PACKING))


# ------------------------------------------------------------------------ observables
def frame_observables(x: np.ndarray, L: float, edges: np.ndarray = R_EDGES) -> tuple[float, np.ndarray]:
    """Soft-disk energy per particle (sum over pairs of ``(1 - r)^2 / 2``, / N) and g(r) of one frame.

    ``x`` has shape (n, 2) (extra columns are ignored); g(r) is the pair-distance
    histogram over ``edges`` normalised by its ideal-gas expectation.
    """
    from scipy.spatial import cKDTree

    x = np.mod(np.asarray(x, dtype=np.float64)[:, :2], L)
    n = len(x)
    pairs = cKDTree(x, boxsize=L).query_pairs(edges[-1], output_type="ndarray")
    d = x[pairs[:, 0]] - x[pairs[:, 1]]
    d -= L * np.round(d / L)
    r = np.sqrt(np.einsum("ij,ij->i", d, d))
    inside = r < 1.0
    energy = float(np.sum(0.5 * (1.0 - r[inside]) ** 2) / n)
    counts = np.histogram(r, bins=edges)[0]
    ideal = 0.5 * n * (n - 1) / L**2 * np.pi * np.diff(edges**2)
    return energy, counts / ideal


def block_mean(series: np.ndarray, blocks: int = BLOCKS) -> tuple[np.ndarray, np.ndarray]:
    """Mean over axis 0 and its standard error from ``blocks`` contiguous block means."""
    series = np.asarray(series, dtype=np.float64)
    m = len(series) // blocks
    if m < 1:
        raise ValueError(f"{len(series)} frames cannot make {blocks} blocks")
    means = series[: m * blocks].reshape(blocks, m, *series.shape[1:]).mean(axis=1)
    return means.mean(axis=0), means.std(axis=0, ddof=1) / math.sqrt(blocks)


@dataclass
class Agreement:
    """Outcome of the physics check between two runs (a = dustsim, b = the peer)."""

    energy_a: float
    energy_a_se: float
    energy_b: float
    energy_b_se: float
    energy_z: float
    gr_chi2: float
    gr_dof: int
    gr_p: float
    passed: bool

    def describe(self) -> str:
        return (
            f"E/N {self.energy_a:.5f} +- {self.energy_a_se:.5f} vs {self.energy_b:.5f} +- {self.energy_b_se:.5f} "
            f"(|z| = {abs(self.energy_z):.2f}, limit {Z}); g(r) chi^2/dof = {self.gr_chi2:.1f}/{self.gr_dof} "
            f"(p = {self.gr_p:.2g}, limit {_p_limit():.1g}): {'PASS' if self.passed else 'FAIL'}"
        )


def _p_limit() -> float:
    """Two-sided tail probability of ``Z`` standard errors."""
    return math.erfc(Z / math.sqrt(2.0))


def check_agreement(energy_a, gr_a, energy_b, gr_b, blocks: int = BLOCKS) -> Agreement:
    """Whether two equilibrium runs agree: per-frame energies (frames,) and g(r) (frames, bins).

    Energies: ``|mean_a - mean_b| < Z`` combined block standard errors. g(r): the sum over
    bins of ``(g_a - g_b)^2 / (se_a^2 + se_b^2)`` (bins where both are 0 are left out) is
    divided by ``nu / (nu - 2)`` — the mean of a squared t variable with ``nu = 2 (blocks - 1)``
    degrees of freedom, since the standard errors are themselves estimated — and compared
    with a chi^2 of as many degrees of freedom as bins, rejected below ``p = erfc(Z / sqrt 2)``.
    Neighbouring bins are correlated a little, which this ignores.
    """
    from scipy.stats import chi2

    ea, sa = block_mean(energy_a, blocks)
    eb, sb = block_mean(energy_b, blocks)
    z = float((ea - eb) / math.sqrt(sa**2 + sb**2)) if sa + sb > 0 else (0.0 if ea == eb else math.inf)
    ga, gsa = block_mean(gr_a, blocks)
    gb, gsb = block_mean(gr_b, blocks)
    var = gsa**2 + gsb**2
    used = var > 0
    nu = 2 * (blocks - 1)
    stat = float(np.sum((ga - gb)[used] ** 2 / var[used]) / (nu / (nu - 2)))
    dof = int(used.sum())
    same_zeros = bool(np.all(ga[~used] == gb[~used]))
    p = float(chi2.sf(stat, dof)) if dof else 1.0
    passed = abs(z) < Z and p > _p_limit() and same_zeros
    return Agreement(float(ea), float(sa), float(eb), float(sb), z, stat, dof, p, passed)


def observables(frames, L: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame energies and g(r) histograms of a sequence of frames."""
    pairs = [frame_observables(f, L) for f in frames]
    return np.array([e for e, _ in pairs]), np.array([g for _, g in pairs])


# ------------------------------------------------------------------------ the runners
def dustsim_kwargs(n: int, seed: int, dtype: str = "float32", epsilon: float = 1.0) -> dict:
    L = box_length(n)
    return {
        "init": "uniform",
        "artifact": {"half_width": 0.5 * L * (1 - 1e-7)},
        "n": n,
        "dim": 2,
        "process": "brownian",
        "boundary": {"kind": "periodic", "box": L},
        "interaction": {"name": "harmonic", "epsilon": epsilon, "sigma": 1.0},
        "dt": DT,
        "seed": seed,
        "dtype": dtype,
    }


def time_dustsim(n: int, steps: int, dtype: str, repeats: int, threads: int) -> list[float]:
    import dustsim

    kwargs = dustsim_kwargs(n, 1, dtype)
    dustsim.simulate(**kwargs, steps=2, record_every=2, progress=False, threads=threads)  # compilation/cache load
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dustsim.simulate(**kwargs, steps=steps, record_every=steps, progress=False, threads=threads)
        times.append(time.perf_counter() - start)
    return times


def time_lammps(n: int, steps: int, threads: int, repeats: int) -> list[float]:
    from lammps_peer import brownian_deck, run_lammps

    deck = brownian_deck(n, box_length(n), steps, skin=LAMMPS_SKIN)
    return [run_lammps(deck, threads=threads).loop_seconds for _ in range(repeats)]


def time_jax_md(n: int, steps: int, repeats: int, seed: int = 1) -> list[float]:
    import jax
    import jax.numpy as jnp
    from jax_md import energy, partition, simulate, space

    L = box_length(n)
    displacement, shift = space.periodic(L)
    R = jnp.asarray(np.random.default_rng(seed).uniform(0, L, (n, 2)), dtype=jnp.float32)
    capacity = 1.25
    while True:
        neighbor_fn, energy_fn = energy.soft_sphere_neighbor_list(
            displacement,
            L,
            sigma=1.0,
            epsilon=1.0,
            alpha=2.0,
            dr_threshold=0.5,
            format=partition.Sparse,
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

        state = init(jax.random.PRNGKey(seed), R)
        s, nb = run(state, neighbor_fn.allocate(R))  # compiles, then runs
        s.position.block_until_ready()
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            s, nb = run(s, nb)
            s.position.block_until_ready()
            times.append(time.perf_counter() - start)
        if not bool(nb.did_buffer_overflow):
            return times
        capacity *= 1.5  # the list overflowed: reallocate larger and redo
        if capacity > 10:
            raise RuntimeError("jax-md's neighbour list keeps overflowing")


# ----------------------------------------------------------------- the physics check
def physics_check(
    n: int, equilibrate: int, production: int, frame_every: int, epsilon_dustsim: float = 1.0, blocks: int = BLOCKS
) -> tuple[Agreement, float]:
    """Equilibrium energy and g(r) of dustsim vs LAMMPS; also LAMMPS's ``pe`` vs the formula on its frames.

    Returns the agreement and the largest relative difference between LAMMPS's thermo
    ``pe`` and :func:`frame_observables`'s energy on the same frames.
    """
    from lammps_peer import brownian_deck, run_lammps

    import dustsim

    L = box_length(n)
    steps = equilibrate + production
    ds = dustsim.simulate(
        **dustsim_kwargs(n, 7, epsilon=epsilon_dustsim), steps=steps, record_every=frame_every, progress=False
    )
    first = equilibrate // frame_every
    e_a, g_a = observables(ds.position.values[first + 1 :], L)
    deck = brownian_deck(
        n,
        L,
        production,
        skin=LAMMPS_SKIN,
        seed=11,
        equilibrate=equilibrate,
        dump_every=frame_every,
        thermo_every=frame_every,
    )
    lmp = run_lammps(deck, threads=1)  # physics only: no timing, so no spin-waiting OpenMP threads
    e_b, g_b = observables(lmp.frames[1:], L)
    pe = lmp.thermo[1:, 1]
    if len(pe) != len(e_b):
        raise RuntimeError(f"LAMMPS gave {len(pe)} thermo rows for {len(e_b)} frames")
    pe_mismatch = float(np.max(np.abs(pe - e_b) / np.abs(e_b)))
    return check_agreement(e_a, g_a, e_b, g_b, blocks), pe_mismatch


# ------------------------------------------------------------------------------ main
def _stats(times: list[float], work: float) -> dict:
    med = statistics.median(times)
    return {"s": med, "Mps": work / med / 1e6, "min": work / max(times) / 1e6, "max": work / min(times) / 1e6}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few steps (smoke run)")
    parser.add_argument("--no-peer", action="store_true", help="dustsim only (no LAMMPS, jax-md or physics check)")
    parser.add_argument("--no-jax", action="store_true", help="leave out jax-md")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="give dustsim a 10%% stiffer potential in the physics check (no timings): it must fail, exit 1",
    )
    args = parser.parse_args()
    sizes = QUICK_SIZES if args.quick else SIZES
    phys = (2_000, 2_000, 4_000, 50, 10) if args.quick else (PHYSICS_N, EQUILIBRATE, PRODUCTION, FRAME_EVERY, BLOCKS)

    import numba

    import dustsim

    numba.set_num_threads(min(args.threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    print(f"# interacting soft disks, 2-D, packing fraction {PACKING}, dt = {DT}; dustsim {dustsim.__version__}")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, numba threads "
        f"{numba.get_num_threads()}, load average {os.getloadavg()[0]:.2f}, {time.strftime('%Y-%m-%d %H:%M:%S')}"
    )
    lammps_ok = jax_ok = False
    if not args.no_peer:
        from lammps_peer import LammpsMissing, lmp_executable

        try:
            print(f"# peer: LAMMPS at {lmp_executable()} (neighbour skin {LAMMPS_SKIN}; fix brownian is serial)")
            lammps_ok = True
        except LammpsMissing as exc:
            print(f"# peer LAMMPS unavailable: {exc}")
        if not args.no_jax:
            try:
                import jax
                import jax_md  # noqa: F401

                print(f"# peer: jax-md on jax {jax.__version__} ({jax.default_backend()})")
                jax_ok = True
            except ImportError as exc:
                print(f"# peer jax-md unavailable ({exc}); install the 'peers' extra: pip install jax jax-md")

    failures = []
    if lammps_ok:
        n, eq, prod, every, blocks = phys
        eps = 1.1 if args.self_check else 1.0
        agreement, pe_mismatch = physics_check(n, eq, prod, every, epsilon_dustsim=eps, blocks=blocks)
        print(
            f"physics at N = {n} (dustsim epsilon = {eps}), after {eq} steps, {prod // every} frames, "
            f"{blocks} blocks: "
            f"{agreement.describe()}"
        )
        print(
            f"LAMMPS pe vs dustsim's energy formula on LAMMPS's frames: max relative difference {pe_mismatch:.2g} "
            f"({'PASS' if pe_mismatch < 1e-5 else 'FAIL'}, limit 1e-5)",
            flush=True,
        )
        if not agreement.passed:
            failures.append("energy / g(r) disagree with LAMMPS")
        if pe_mismatch >= 1e-5:
            failures.append("LAMMPS's pe is not dustsim's pair energy: the two decks differ")

    if args.self_check:  # only the check matters: skip the timings
        if not lammps_ok:
            print("self-check needs LAMMPS", file=sys.stderr)
            return 2
        print(
            "self-check: "
            + (
                "the perturbation was caught (exit 1, as it must)"
                if failures
                else "the perturbation was NOT caught: the check is broken (exit 0)"
            )
        )
        return 1 if failures else 0
    rows = []
    for n, steps in sizes:
        work = n * steps
        row: dict = {"N": n, "steps": steps}
        for dtype in ("float32", "float64"):
            st = _stats(time_dustsim(n, steps, dtype, args.repeats, args.threads), work)
            row.update({f"dustsim_{dtype}_{k}": v for k, v in st.items()})
        st = _stats(time_dustsim(n, steps, "float32", args.repeats, 1), work)
        row.update({f"dustsim_1t_{k}": v for k, v in st.items()})
        row["ns_per_particle_step_f32"] = 1e9 * row["dustsim_float32_s"] / work
        if lammps_ok:
            for threads in (args.threads, 1):
                st = _stats(time_lammps(n, steps, threads, args.repeats), work)
                row.update({f"lammps_{threads}t_{k}": v for k, v in st.items()})
            row["ratio_f32"] = row["dustsim_float32_Mps"] / row[f"lammps_{args.threads}t_Mps"]
            row["ratio_f64"] = row["dustsim_float64_Mps"] / row[f"lammps_{args.threads}t_Mps"]
            row["ratio_1t"] = row["dustsim_1t_Mps"] / row["lammps_1t_Mps"]
        if jax_ok:
            jsteps = steps if n < 1_000_000 else 2  # jax-md runs ~0.2 steps/s at 1e6 on 2 cores
            st = _stats(time_jax_md(n, jsteps, args.repeats), n * jsteps)
            row.update({f"jax_md_{k}": v for k, v in st.items()})
            row["jax_md_steps"] = jsteps
        rows.append(row)
        print(_row_text(row, args.threads), flush=True)

    base = rows[0]["ns_per_particle_step_f32"]
    per_step = ", ".join(f"N={r['N']}: {r['ns_per_particle_step_f32']:.1f}" for r in rows)
    print(
        f"\nns per particle-step (float32): {per_step}",
        f"(largest / smallest N: x{rows[-1]['ns_per_particle_step_f32'] / base:.2f})",
    )
    if lammps_ok:
        print(
            f"dustsim / LAMMPS ({args.threads} threads each):",
            ", ".join(f"N={r['N']}: f32 {r['ratio_f32']:.2f}x, f64 {r['ratio_f64']:.2f}x" for r in rows),
        )
        print(
            "dustsim / LAMMPS (1 thread each, float32; robust to a loaded machine):",
            ", ".join(f"N={r['N']}: {r['ratio_1t']:.2f}x" for r in rows),
        )
    from common import save_results

    print(f"results: {save_results('interacting-quick' if args.quick else 'interacting', rows)}")
    if failures:
        print("FAILED: " + "; ".join(failures), file=sys.stderr)
        return 1
    return 0


def _row_text(row: dict, threads: int) -> str:
    def rate(prefix: str) -> str:
        return f"{row[prefix + '_Mps']:.2f} [{row[prefix + '_min']:.2f}, {row[prefix + '_max']:.2f}]"

    text = (
        f"N = {row['N']:>8d}, {row['steps']} steps, M particle-steps/s, median [min, max]: "
        f"dustsim f32 {rate('dustsim_float32')}, f64 {rate('dustsim_float64')}, f32 1t {rate('dustsim_1t')}"
    )
    if "ratio_f32" in row:
        text += (
            f"; LAMMPS {threads}t {rate(f'lammps_{threads}t')}, 1t {rate('lammps_1t')}; "
            f"dustsim/LAMMPS f32 {row['ratio_f32']:.2f}x, f64 {row['ratio_f64']:.2f}x, "
            f"1 thread each {row['ratio_1t']:.2f}x"
        )
    if "jax_md_Mps" in row:
        text += f"; jax-md {rate('jax_md')} ({row['jax_md_steps']} steps)"
    return text


if __name__ == "__main__":
    sys.exit(main())
