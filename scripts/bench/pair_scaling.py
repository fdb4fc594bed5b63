"""Where the cost per particle-step of interacting dust goes as N grows (a profile, not a peer benchmark).

The system of ``interacting.py`` (soft disks, packing 0.3, dt = 1e-3, periodic box). For
each N and thread count, ``simulate`` is timed end to end for two step counts (one call
each: ``record_every = steps``); the difference gives the *marginal* cost per
particle-step and the rest the *fixed* cost per call (arrays, the first sort from random
order, the first list build). A third run records a frame every ``--every`` steps, the way
a user keeps a trajectory, which makes one kernel call per frame. Medians of
``--repeats``. There is no peer here: ``interacting.py`` compares with LAMMPS.

``--working-set N`` instead times the pair-force phase alone (the kernel's largest part)
over the first ``m`` particles of an N-particle system, with the lists and the storage
order a run left: the same particles, lists and code, only the amount of data swept per
step grows with ``m``. Where the cost per particle jumps is where that data outgrows a
cache level.

Run (about 2 minutes on 2 cores)::

    python scripts/bench/pair_scaling.py
    python scripts/bench/pair_scaling.py --sizes 10000 1000000 --threads 1 2
    python scripts/bench/pair_scaling.py --working-set 1000000
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from interacting import dustsim_kwargs

#: steps of the short and the long run, per N (the long one is the benchmark's)
STEPS = {10_000: (100, 1000), 100_000: (40, 200), 1_000_000: (20, 80)}


def seconds(n: int, steps: int, every: int, threads: int, repeats: int) -> float:
    """Median wall time of ``simulate`` (s), after a warm-up call."""
    import dustsim

    kwargs = dustsim_kwargs(n, 1)
    dustsim.simulate(**kwargs, steps=2, record_every=2, progress=False, threads=threads)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        dustsim.simulate(**kwargs, steps=steps, record_every=every, progress=False, threads=threads)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def stepper_arguments(n: int, threads: int, steps: int = 80) -> tuple:
    """The arguments of the pair stepper's last call in a ``steps``-step run of the benchmark system.

    They include its kernel arrays (``PairWork``: lists, storage order, positions), caught
    by wrapping the stepper's entry point for that run.
    """
    import dustsim
    from dustsim.kernels import verlet

    seen: dict = {}
    entry = verlet.advance_pairs

    def keep_arguments(*args):
        result = entry(*args)
        seen["args"] = args
        return result

    verlet.advance_pairs = keep_arguments
    try:
        dustsim.simulate(**dustsim_kwargs(n, 1), steps=steps, record_every=steps, progress=False, threads=threads)
    finally:
        verlet.advance_pairs = entry
    return seen["args"]


def pair_phase_by_prefix(n: int, prefixes: list[int], threads: int, repeats: int) -> list[float]:
    """Median ns per particle of the pair-force phase over the first ``m`` particles, for each ``m``.

    On the kernel arrays an 80-step run leaves (:func:`stepper_arguments`), the phase is
    repeated a prefix of whole chunks at a time.
    """
    import numpy as np

    from dustsim.kernels import verlet
    from dustsim.kernels.cells import CHUNK

    _x, _parts, _steps, _forces, box, pair, key, _drift, _status, work = stepper_arguments(n, threads)
    w = work.arrays
    lists = (w.begin, w.end, work.nbr)
    no_noise = (False, w.z, w.ids, 0, key.words, key.k0, key.k1)
    out = []
    for m in prefixes:
        chunks = max(1, min(m, n) // CHUNK)
        bad = np.zeros(chunks, dtype=np.bool_)
        reps = max(3, 2_000 // chunks)
        verlet._pair_phase(w.plast, lists, box, pair, w.acc, bad, no_noise)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            for _ in range(reps):
                verlet._pair_phase(w.plast, lists, box, pair, w.acc, bad, no_noise)
            times.append((time.perf_counter() - start) / reps / (chunks * CHUNK) * 1e9)
        out.append(statistics.median(times))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=sorted(STEPS))
    parser.add_argument("--threads", type=int, nargs="+", default=[2])
    parser.add_argument("--every", type=int, default=10, help="frame interval of the recording run")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--working-set", type=int, metavar="N", help="time the pair phase over prefixes of N particles")
    args = parser.parse_args()
    if args.working_set:
        n = args.working_set
        prefixes = [m for m in (5_000, 10_000, 20_000, 40_000, 100_000, 300_000) if m < n] + [n]
        for threads in args.threads:
            ns = pair_phase_by_prefix(n, prefixes, threads, max(args.repeats, 5))
            cells = ", ".join(f"{m}: {v:.1f}" for m, v in zip(prefixes, ns, strict=True))
            print(f"pair phase, first m of {n} particles, {threads} thread(s), ns per particle: {cells}", flush=True)
        return 0
    for threads in args.threads:
        for n in args.sizes:
            short, long = STEPS.get(n, (20, 100))
            t_short = seconds(n, short, short, threads, args.repeats)
            t_long = seconds(n, long, long, threads, args.repeats)
            t_frames = seconds(n, long, args.every, threads, args.repeats)
            marginal = (t_long - t_short) / (long - short)
            fixed = t_long - marginal * long
            ns = 1e9 / (n * long)
            print(
                f"N = {n:>8d}, {threads} thread(s), {long} steps: {t_long * ns:.1f} ns per particle-step in one call "
                f"= {marginal * long * ns:.1f} per step + {fixed * ns:.1f} fixed ({fixed:.3f} s per call); "
                f"a frame every {args.every} steps: {t_frames * ns:.1f}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
