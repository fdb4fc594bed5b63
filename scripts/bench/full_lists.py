"""Full neighbour lists and one pass per step, against the stepper's half lists and two passes (an experiment).

The stepper (:mod:`dustsim.kernels.verlet`) visits each pair once, through a half list,
and adds its force to both particles in per-thread fixed-point sums; a second pass sums
those slices and makes the Euler step. At N = 1e6 the sums (16 bytes per particle and
thread, read and written by both passes) are most of the memory traffic of a step. A full
list (every pair twice, once under each particle) needs no shared sums: each particle's
force is summed in registers and its step made in the same pass, so the traffic per step
is about a third. This script builds both kinds of list from the same cell-sorted positions
of the ``interacting.py`` system (soft disks, packing 0.3, dt = 1e-3, periodic box), makes
one step each way, **checks that the new positions, image counts and moves are the same
bits** (fixed-point sums do not depend on the order, and the force of a pair is exactly
antisymmetric), and times both: medians of ``--repeats`` rounds, interleaved.

The prototype below handles the benchmark's case only (no fast particles, no user force,
no failure codes); it is the measurement behind keeping half lists, not a second stepper.

Run (about 1 minute on 2 cores)::

    python scripts/bench/full_lists.py
    python scripts/bench/full_lists.py --sizes 10000 --threads 1
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from numba import njit, prange, set_num_threads

sys.path.insert(0, str(Path(__file__).resolve().parent))

from pair_scaling import stepper_arguments

from dustsim.kernels import verlet
from dustsim.kernels.cells import CHUNK, neighbour_ranges
from dustsim.kernels.euler import cast_like, fixed_point_constants
from dustsim.kernels.forces import axis_params, pair_fixed
from dustsim.kernels.neighbour_list import LIST_MARGIN, bin_cells, build_list, cell_coords, grid_for, sort_by_cell
from dustsim.kernels.space import PERIODIC, displacement, point_of, separation

#: list entries per particle reserved for the full list (the benchmark system has about 5)
FULL_STRIDE = 40


@njit(parallel=True, error_model="numpy")
def full_list(p, grid, box, rl2, first, stop, nbr):
    """Every neighbour ``j != k`` within ``rl`` of each particle (as ``neighbour_list._list_chunk``, both sides)."""
    cell, start, nc = grid
    kinds, length, half = box.kinds, box.length, box.half
    d, n = p.shape
    periodic = (kinds[0] == PERIODIC, d > 1 and kinds[1] == PERIODIC, d > 2 and kinds[2] == PERIODIC)
    for c in prange((n + CHUNK - 1) // CHUNK):
        k_lo = c * CHUNK
        rlo = np.empty(18, dtype=np.int64)
        rhi = np.empty(18, dtype=np.int64)
        last = np.int64(-1)
        count = 0
        t = k_lo * FULL_STRIDE
        for k in range(k_lo, min(n, k_lo + CHUNK)):
            if cell[k] != last:
                last = cell[k]
                c0, c1, c2 = cell_coords(last, nc)
                count = neighbour_ranges(c0, c1, c2, nc, periodic[0], periodic[1], periodic[2], start, rlo, rhi)
            first[k] = t
            for r in range(count):
                for j in range(rlo[r], rhi[r]):
                    if j == k:
                        continue
                    r2 = 0.0
                    for a in range(d):
                        dx = np.float64(displacement(p[a, k], p[a, j], kinds[a], length[a], half[a]))
                        r2 += dx * dx
                    if r2 < rl2:
                        nbr[t] = j
                        t += 1
            stop[k] = t


@njit(parallel=True, error_model="numpy")
def fused_step(state, lists, j, slot, steps, forces, box, pair, max_drift, codes, moved):
    """One step in one pass: per chunk, the pair forces summed in registers from the full list, then the update."""
    p, pn, pref, img, lab, z = state
    begin, end, nbr = lists
    d, n = p.shape
    A, C, M, B = steps
    rc2, scale, limit, inv_scale = fixed_point_constants(p[0, 0], pair.rc)
    kinds, length, half = box.kinds, box.length, box.half
    zero = np.int64(0)
    for c in prange(codes.shape[0]):
        k_lo = c * CHUNK
        k_hi = min(n, k_lo + CHUNK)
        m = k_hi - k_lo
        fpair = np.empty((d, m), dtype=p.dtype)
        bad = False
        for k in range(k_lo, k_hi):
            a0 = a1 = a2 = zero
            xk0, xk1, xk2 = point_of(p, k, d)
            for t in range(begin[k], end[k]):
                dx0, dx1, dx2, r2 = separation(xk0, xk1, xk2, p, nbr[t], d, kinds, length, half)
                if r2 < rc2:
                    q0, q1, q2, b = pair_fixed(dx0, dx1, dx2, r2, d, rc2, pair.kind, pair.Q, scale, limit)
                    a0 += q0
                    a1 += q1
                    a2 += q2
                    bad = bad or b
            fpair[0, k - k_lo] = cast_like(inv_scale, a0) * inv_scale
            if d > 1:
                fpair[1, k - k_lo] = cast_like(inv_scale, a1) * inv_scale
            if d > 2:
                fpair[2, k - k_lo] = cast_like(inv_scale, a2) * inv_scale
        no_user = np.zeros((d, 1), dtype=np.float64)
        mob = np.empty(m, dtype=p.dtype)
        amp = np.empty(m, dtype=p.dtype)
        for i in range(m):
            mob[i] = M[j] * forces.mf[lab[k_lo + i]]
            amp[i] = B[j] * forces.bf[lab[k_lo + i]]
        r2 = np.zeros(m, dtype=np.float64)
        flagged = bad
        for a in range(d):
            xn = pn[a, k_lo:k_hi]
            nf, far = verlet._drift_axis(
                p[a, k_lo:k_hi], fpair[a], no_user[a], False, z[slot, a, k_lo:k_hi], mob, amp,
                axis_params(forces.P, a), forces.flags, A[j, a], C[j, a], xn, max_drift,
            )  # fmt: skip
            flagged = flagged or nf or far
            verlet._wrap_axis(
                xn, img[a, k_lo:k_hi], pref[a, k_lo:k_hi], r2,
                kinds[a], box.lo[a], length[a], box.hi[a], half[a],
            )  # fmt: skip
        moved[c] = r2.view(np.int64).max()
        codes[c] = 1 if flagged else 0


def system(n: int, threads: int):
    """The kernel arguments and work arrays a run of 80 steps leaves, re-sorted by cell with no fast particles."""
    _x, _parts, steps, forces, box, pair, key, max_drift, _status, work = stepper_arguments(n, threads)
    w = work.arrays
    rl = pair.rc + pair.skin
    origin, hinv, nc = grid_for(w.plast, box, rl, pair.eps)
    p = w.plast.copy()
    bin_cells(p, origin, hinv, nc, w.cell)
    sort_by_cell(w.cell, int(np.prod(nc)), w.start, w.dest, (p, w.img, w.ids, w.lab, w.p2, w.img2, w.ids2, w.lab2))
    p = w.p2.copy()
    grid = (w.cell, w.start, nc)
    nbr = build_list(p, grid, box, rl, w.begin, w.end, work.nbr)
    half_lists = (w.begin, w.end, nbr)
    first, stop = np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64)
    entries = np.empty(n * FULL_STRIDE, dtype=np.int32)
    full_list(p, grid, box, (rl * (1.0 + LIST_MARGIN)) ** 2, first, stop, entries)
    full_lists = (first, stop, entries)
    # the noise of one Philox group, drawn once (both steps read the same slot)
    verlet._pair_phase(p, half_lists, box, pair, w.acc, w.bad_chunks, (True, w.z, w.ids2, 0, key.words, key.k0, key.k1))
    w.acc[:] = 0
    return p, w, half_lists, full_lists, steps, forces, box, pair, key, max_drift


def compare(n: int, threads: int, repeats: int) -> None:
    p, w, half_lists, full_lists, steps, forces, box, pair, key, max_drift = system(n, threads)
    pref = p.copy()
    out = {name: (np.empty_like(p), w.img2.copy(), np.zeros_like(w.moved), np.zeros_like(w.codes)) for name in "hf"}
    no_noise = (False, w.z, w.ids2, 0, key.words, key.k0, key.k1)

    def two_passes() -> None:
        pn, img, moved, codes = out["h"]
        verlet._pair_phase(p, half_lists, box, pair, w.acc, w.bad_chunks, no_noise)
        verlet._step(
            (p, pn, pref, img, w.ids2, w.lab2, w.z), (w.acc, False, w.pair_flag), 0, 0, steps, forces, box,
            max_drift, codes, moved, (w.fast, np.inf), w.new_fast, w.new_count,
        )  # fmt: skip

    def one_pass() -> None:
        pn, img, moved, codes = out["f"]
        fused_step((p, pn, pref, img, w.lab2, w.z), full_lists, 0, 0, steps, forces, box, pair, max_drift, codes, moved)

    two_passes()
    one_pass()
    same = all(np.array_equal(out["h"][i].view(np.uint8), out["f"][i].view(np.uint8)) for i in range(3))
    if not same or out["h"][3].any() or out["f"][3].any():
        raise SystemExit(f"N = {n}: the one-pass step differs from the stepper's (or a check failed)")
    times: dict[str, list[float]] = {"h": [], "f": []}
    reps = max(3, 2_000_000 // n)
    for _ in range(repeats):
        for name, step in (("h", two_passes), ("f", one_pass)):
            start = time.perf_counter()
            for _ in range(reps):
                step()
            times[name].append((time.perf_counter() - start) / reps / n * 1e9)
    half_ns, full_ns = statistics.median(times["h"]), statistics.median(times["f"])
    entries = (half_lists[1] - half_lists[0]).mean(), (full_lists[1] - full_lists[0]).mean()
    print(
        f"N = {n:>8d}, {threads} thread(s): same bits; ns per particle-step (list builds excluded), "
        f"half lists + two passes {half_ns:.1f} [{min(times['h']):.1f}, {max(times['h']):.1f}], "
        f"full lists + one pass {full_ns:.1f} [{min(times['f']):.1f}, {max(times['f']):.1f}]: "
        f"ratio {full_ns / half_ns:.2f}; entries per particle {entries[0]:.2f} / {entries[1]:.2f}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    set_num_threads(args.threads)
    for n in args.sizes:
        compare(n, args.threads, args.repeats)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
