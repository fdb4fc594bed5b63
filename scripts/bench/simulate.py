"""Benchmark: dustsim's stepping kernels vs numpy and torch loops, and streamed-run memory.

Every contender advances N particles in d dimensions from 0 by the same Ornstein-Uhlenbeck-
type affine step ``x <- a x + b z`` (z standard normal), with the same thread count, in this
one process. Throughput is particle * dimension * steps per second; times are medians of
``--repeats`` runs (min and max shown), each run starting again from x = 0 (dustsim's after
one untimed warm-up run that loads its compiled kernels).

- dustsim every-step: records the state after every step into an output array of all
  ``steps`` frames (8 frames per kernel call, what ``--record-every 1`` does); the array is
  returned and checked (its last frame equals the final state, every frame's variance is the
  exact one). The loops below store nothing, so this contender does strictly more work;
- dustsim one-call-per-step: one kernel call per step, nothing stored (how ``--record-every
  1`` ran before frames were batched: 3 of every 4 float32 normals drawn were discarded);
- dustsim fused: all steps in one kernel call (what recording every M >= 10 steps does);
- numpy, T threads: the particles split into T chunks, each advanced by its own thread with
  its own ``Generator`` (``Generator.spawn``): ``standard_normal(out=z)`` then in-place
  ``z *= b; x *= a; x += z`` (numpy releases the GIL in both); the ratios use this row;
- numpy, 1 thread: the same loop in one thread (numpy's Generator is single-threaded);
- torch, T threads: the same chunked scheme with one ``torch.Generator`` per thread:
  ``torch.randn(out=z)`` then ``x.mul_(a).add_(z, alpha=b)`` (torch's CPU ``randn`` fills
  one tensor in one thread, so ``set_num_threads`` alone would not use the cores);
- torch, 1 thread: one tensor, ``torch.set_num_threads(threads)`` as usual (the library default).

Agreement: after ``steps`` steps each coordinate is N(0, v) with v = b^2 (1 - a^(2 steps)) /
(1 - a^2); every contender's sample variance (and mean) must match within 4.5 SE, the three
dustsim modes must agree bitwise (same counter-based noise), and every recorded frame of the
every-step contender must have the exact variance of its step. A disagreement exits with
status 1 (``--self-check`` shifts the exact side by 10 SE, and the bitwise side by 10 ulp, to
show that it does).

Then a streamed Zarr run (1e6 particles, 1000 frames by default) in a child process,
reporting its peak resident memory against the size of the output it wrote.

Run: ``python scripts/bench/simulate.py`` (``--quick`` for a smoke run; ``--contenders
numpy torch`` for a subset).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    BenchmarkDisagreement,
    add_self_check_argument,
    enable_self_check,
    print_table,
    run_benchmark,
    save_results,
    set_threads,
)

A, B = 0.999, 0.02
CONTENDERS = ("dustsim", "numpy", "torch")


def exact_variance(steps: int) -> float:
    """Variance of each coordinate after ``steps`` steps of ``x <- A x + B z`` from 0."""
    return B**2 * (1 - A ** (2 * steps)) / (1 - A**2)


def _dustsim_setup(n: int, d: int, dtype):
    from dustsim.kernels import rng

    k0, k1 = rng.split_key(1)
    words = np.array([rng.stream_axis_word(0, a) for a in range(d)], dtype=np.uint64)
    return np.zeros((d, n), dtype=dtype), k0, k1, words


def dustsim_recording_runner(n: int, d: int, dtype, steps: int, batch: int = 8):
    """Record every step into a real ``(steps, d, n)`` output array; return (final state, frames)."""
    from dustsim.kernels import affine

    x, k0, k1, words = _dustsim_setup(n, d, dtype)
    coeff = [np.full((batch, d), v, dtype=dtype) for v in (A, B, 0.0)]
    frames = np.empty((steps, d, n), dtype=dtype)

    def run():
        x[:] = 0
        for s in range(0, steps, batch):
            m = min(batch, steps - s)
            affine.advance_affine_recording(x, *(c[:m] for c in coeff), s, words, k0, k1, 1, frames[s : s + m])
        return x.T, frames  # views: no copy inside the timing; checked after the last run

    return run


def dustsim_runner(n: int, d: int, dtype, steps: int, fused: bool):
    from dustsim.kernels import affine

    x, k0, k1, words = _dustsim_setup(n, d, dtype)
    coeff = [np.full((steps if fused else 1, d), v, dtype=dtype) for v in (A, B, 0.0)]

    def run():
        x[:] = 0
        if fused:
            affine.advance_affine(x, *coeff, 0, words, k0, k1)
        else:
            for s in range(steps):
                affine.advance_affine(x, *coeff, s, words, k0, k1)
        return x.T  # a view: no copy inside the timing; checked after the last run

    return run


def _chunks(n: int, parts: int) -> list[slice]:
    edges = np.linspace(0, n, parts + 1).astype(int)
    return [slice(int(lo), int(hi)) for lo, hi in itertools.pairwise(edges)]


def numpy_runner(n: int, d: int, dtype, steps: int, threads: int):
    """numpy loop over ``threads`` chunks of particles, one Generator (``spawn``) and one thread each."""
    from concurrent.futures import ThreadPoolExecutor

    x = np.zeros((n, d), dtype=dtype)
    z = np.empty_like(x)
    parts = _chunks(n, threads)
    gens = np.random.default_rng(1).spawn(threads)

    def advance(part: slice, gen: np.random.Generator) -> None:
        xs, zs = x[part], z[part]
        for _ in range(steps):
            gen.standard_normal(out=zs, dtype=dtype)
            np.multiply(zs, B, out=zs)
            np.multiply(xs, A, out=xs)
            np.add(xs, zs, out=xs)

    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def run():
        x[:] = 0
        if pool is None:
            advance(parts[0], gens[0])
        else:
            list(pool.map(advance, parts, gens))
        return x

    return run


def torch_runner(n: int, d: int, dtype, steps: int, threads: int):
    """torch loop; with ``threads`` > 1 over chunks of particles, one Generator and one thread each."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    x = torch.zeros((n, d), dtype=torch.float32 if dtype == np.float32 else torch.float64)
    z = torch.empty_like(x)
    parts = _chunks(n, threads)
    gens = [torch.Generator().manual_seed(1 + i) for i in range(threads)]

    def advance(part: slice, gen) -> None:
        xs, zs = x[part], z[part]
        for _ in range(steps):
            torch.randn(zs.shape, out=zs, dtype=x.dtype, generator=gen)
            xs.mul_(A).add_(zs, alpha=B)

    pool = ThreadPoolExecutor(threads) if threads > 1 else None

    def run():
        x.zero_()
        if pool is None:
            advance(parts[0], gens[0])
        else:
            list(pool.map(advance, parts, gens))
        return x.numpy()

    return run


def contenders_for(n: int, d: int, dtype, steps: int, threads: int, which: tuple[str, ...]) -> dict:
    """name -> (runner, threads it uses); the ratio columns use the ``T threads`` peers."""
    out: dict = {}
    if "dustsim" in which:
        import numba

        used = numba.get_num_threads()  # what Numba really runs (NUMBA_NUM_THREADS caps ``threads``)
        out["dustsim fused"] = (dustsim_runner(n, d, dtype, steps, fused=True), used)
        out["dustsim every-step"] = (dustsim_recording_runner(n, d, dtype, steps), used)
        out["dustsim one-call-per-step"] = (dustsim_runner(n, d, dtype, steps, fused=False), used)
    if "numpy" in which:
        out[f"numpy Generator, {threads} threads"] = (numpy_runner(n, d, dtype, steps, threads), threads)
        if threads > 1:
            out["numpy Generator, 1 thread"] = (numpy_runner(n, d, dtype, steps, 1), 1)
    if "torch" in which:
        out[f"torch randn+add_, {threads} threads"] = (torch_runner(n, d, dtype, steps, threads), threads)
        if threads > 1:
            out["torch randn+add_, 1 tensor (library default)"] = (torch_runner(n, d, dtype, steps, 1), 1)
    return out


def check_moments(name: str, dtype_name: str, final: np.ndarray, steps: int) -> dict:
    """Sample variance and mean of the final state against the exact N(0, v), within 4.5 SE."""
    from common import check_within_se

    v = exact_variance(steps)
    values = final.astype(np.float64).ravel()
    m = values.size
    var = float(values.var())
    check_within_se(f"{name} {dtype_name}: variance after {steps} steps vs exact", var, v * np.sqrt(2 / m), v)
    check_within_se(
        f"{name} {dtype_name}: mean after {steps} steps vs exact 0", float(values.mean()), np.sqrt(v / m), 0.0
    )
    return {"variance": var, "variance_exact": v, "variance_se": v * float(np.sqrt(2 / m))}


def check_frames(frames: np.ndarray, final: np.ndarray, dtype_name: str) -> None:
    """The recorded frames: last equals the final state bitwise; each frame has its exact variance."""
    from common import check_equal, check_within_se

    steps, d, n = frames.shape
    check_equal(f"dustsim every-step {dtype_name}: last recorded frame vs final state", frames[-1].T, final)
    var = np.array([frame.astype(np.float64).var() for frame in frames])  # one frame at a time: no full copy
    exact = np.array([exact_variance(k + 1) for k in range(steps)])
    dev = np.abs(var - exact) / (exact * np.sqrt(2 / (d * n)))
    worst = int(np.argmax(dev))
    check_within_se(
        f"dustsim every-step {dtype_name}: variance of frame {worst + 1} (the worst of {steps}) vs exact",
        float(var[worst]),
        float(exact[worst] * np.sqrt(2 / (d * n))),
        float(exact[worst]),
    )


def throughput(
    n: int, d: int, steps: int, threads: int, repeats: int, which: tuple[str, ...] = CONTENDERS
) -> list[dict]:
    from common import check_equal, timed

    rows = []
    for dtype in (np.float32, np.float64):
        dname = np.dtype(dtype).name
        finals = {}
        for name, (fn, used) in contenders_for(n, d, dtype, steps, threads, which).items():
            # dustsim warms up (Numba cache load); the numpy/torch loops have nothing to compile
            timing, value = timed(fn, repeats=repeats, warmup=1 if name.startswith("dustsim") else 0)
            final, frames = value if isinstance(value, tuple) else (value, None)
            row = {
                "contender": name,
                "dtype": dname,
                "threads": used,
                **timing.columns(),
                "rate_M_per_s": n * d * steps / timing.median / 1e6,
                "rate_min": n * d * steps / timing.max / 1e6,
                "rate_max": n * d * steps / timing.min / 1e6,
            }
            row.update(check_moments(name, dname, final, steps))
            if frames is not None:
                check_frames(frames, final, dname)
            finals[name] = final
            rows.append(row)
            del value, frames  # the every-step output array: free it before the next contender
        dust = [k for k in finals if k.startswith("dustsim")]
        for other in dust[1:]:
            check_equal(
                f"{other} vs {dust[0]} {dname}: final state (same counter-based noise)", finals[other], finals[dust[0]]
            )
    by = {(r["contender"], r["dtype"]): r["rate_M_per_s"] for r in rows}
    numpy_ref, torch_ref = f"numpy Generator, {threads} threads", f"torch randn+add_, {threads} threads"
    for r in rows:
        r["vs_numpy"] = r["rate_M_per_s"] / by.get((numpy_ref, r["dtype"]), float("nan"))
        r["vs_torch_f32"] = r["rate_M_per_s"] / by.get((torch_ref, "float32"), float("nan"))
        r["vs_torch_same_dtype"] = r["rate_M_per_s"] / by.get((torch_ref, r["dtype"]), float("nan"))
    return rows


CHILD = r"""
import json, resource, sys, time
import dustsim, numpy as np
n, frames, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
dustsim.simulate(init="gaussian", n=8, process="vp", steps=8, record_every=1, seed=0)  # compile/load kernels


def high_water():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))


try:  # reset the peak so that Numba compilation in the warm-up does not count (Linux)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    base = high_water()
except OSError:
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
dustsim.simulate(init="gaussian", n=n, process="vp", steps=frames, record_every=1, seed=0, output=out,
                 progress=False)
elapsed = time.perf_counter() - t
try:
    peak = high_water()
except OSError:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"baseline_rss": base, "peak_rss": peak, "seconds": elapsed}))
"""


def streamed_memory(n: int, frames: int, threads: int) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="dustsim-bench-", dir=os.environ.get("DUSTSIM_BENCH_TMP")))
    out = tmp / "stream.zarr"
    try:
        env = {**os.environ, "NUMBA_NUM_THREADS": str(threads)}
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(n), str(frames), str(out)],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    raw = n * 2 * 4 * (frames + 1)
    return {
        "particles": n,
        "frames": frames + 1,
        "output_bytes_on_disk": size,
        "output_bytes_raw": raw,
        "peak_rss_bytes": result["peak_rss"],
        "rss_before_run": result["baseline_rss"],
        "peak_over_raw_output": result["peak_rss"] / raw,
        "seconds": result["seconds"],
    }


def lammps_free_particles(n: int, steps: int, threads: int, repeats: int) -> dict:
    """Free Brownian particles in a periodic 2-D box: dustsim vs LAMMPS, and both MSD slopes vs 2dD.

    D = 1, dt = 1e-3; LAMMPS (``scripts/bench/lammps_peer.py``: ``fix brownian``, which is
    serial, no pair style) is timed on its ``run`` loop, dustsim end to end (``simulate``).
    The slope MSD(T) / T of each must equal 2 d D = 4 within 4.5 standard errors
    (``1 / sqrt(n)`` relative in 2-D), which for n >= 2e5 is tighter than 1 %
    (``within_1_percent`` is recorded too); ``ok`` is False otherwise, None without LAMMPS.
    """
    import statistics
    import time

    from lammps_peer import LammpsMissing, brownian_deck, run_lammps

    import dustsim
    from dustsim.schema import unwrapped_position

    L = float(np.sqrt(n * np.pi / 1.2))
    kwargs = {
        "init": "uniform",
        "artifact": {"half_width": 0.5 * L * (1 - 1e-7)},
        "n": n,
        "dim": 2,
        "process": "brownian",
        "boundary": {"kind": "periodic", "box": L},
        "dt": 1e-3,
        "seed": 3,
        "progress": False,
    }
    dustsim.simulate(**kwargs, steps=2, record_every=2)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ds = dustsim.simulate(**kwargs, steps=steps, record_every=steps)
        times.append(time.perf_counter() - start)
    u = unwrapped_position(ds).values
    T = steps * 1e-3
    row = {
        "contender": "free particles, periodic box",
        "particles": n,
        "steps": steps,
        "dustsim_Mps": n * steps / statistics.median(times) / 1e6,
        "dustsim_msd_slope": float(np.mean(np.sum((u[-1] - u[0]) ** 2, axis=-1)) / T),
    }
    try:
        deck = brownian_deck(n, L, steps, pair=None, seed=5, dump_every=steps, unwrapped=True)
        runs = [run_lammps(deck, threads=threads) for _ in range(repeats)]
    except LammpsMissing as exc:
        print(f"# free-particle LAMMPS row: {exc}")
        return {**row, "ok": None, "lammps": "missing"}
    first, last = runs[-1].frames[0][:, :2], runs[-1].frames[-1][:, :2]
    row["lammps_Mps"] = n * steps / statistics.median([r.loop_seconds for r in runs]) / 1e6
    row["lammps_msd_slope"] = float(np.mean(np.sum((last - first) ** 2, axis=-1)) / T)
    row["ratio"] = row["dustsim_Mps"] / row["lammps_Mps"]
    se = 1.0 / np.sqrt(n)  # relative: |dx|^2 of a 2-D Gaussian is exponential
    errors = [abs(row[k] / 4.0 - 1) for k in ("dustsim_msd_slope", "lammps_msd_slope")]
    # within 4.5 SE always; at n >= 2e5 (4.5 SE < 1 %) that is also the "within 1 %"
    row["ok"] = all(e < 4.5 * se for e in errors)
    row["within_1_percent"] = all(e < 0.01 for e in errors)
    return row


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per contender (median, min, max)")
    parser.add_argument("--frames", type=int, default=1000, help="frames of the streamed-memory run")
    parser.add_argument("--contenders", nargs="+", choices=CONTENDERS, default=list(CONTENDERS))
    parser.add_argument("--no-stream", action="store_true", help="skip the streamed-memory run")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    if args.quick:
        args.n, args.steps, args.frames = 100_000, 10, 20
    set_threads(args.threads)
    which = tuple(args.contenders)
    if "dustsim" in which:  # the peers get the threads Numba really has (NUMBA_NUM_THREADS may cap it)
        import numba

        args.threads = numba.get_num_threads()
        set_threads(args.threads)
    rows = throughput(args.n, 2, args.steps, args.threads, args.repeats, which)
    print_table(
        f"stepping throughput: N={args.n}, d=2, {args.steps} steps, {args.threads} threads "
        f"(rate = particle*dim*steps per second, median of {args.repeats} runs; min/max rates)",
        rows,
        [
            "contender",
            "dtype",
            "threads",
            "rate_M_per_s",
            "rate_min",
            "rate_max",
            "vs_numpy",
            "vs_torch_f32",
            "vs_torch_same_dtype",
        ],
    )
    mem = None
    if not args.no_stream:
        mem = streamed_memory(args.n, args.frames, args.threads)
        print_table(
            "streamed Zarr run (float32, d=2, record every step)",
            [mem],
            [
                "particles",
                "frames",
                "output_bytes_raw",
                "output_bytes_on_disk",
                "peak_rss_bytes",
                "rss_before_run",
                "peak_over_raw_output",
                "seconds",
            ],
        )
    free = lammps_free_particles(args.n, args.steps, args.threads, repeats=args.repeats)
    print_table(
        f"free particles vs LAMMPS ({args.threads} threads; LAMMPS's fix brownian is serial)",
        [free],
        [
            "particles",
            "steps",
            "dustsim_Mps",
            "lammps_Mps",
            "ratio",
            "dustsim_msd_slope",
            "lammps_msd_slope",
            "within_1_percent",
            "ok",
        ],
    )
    if free["ok"] is False:
        raise BenchmarkDisagreement("free particles: an MSD slope is not 2dD = 4 within 4.5 SE")
    if "dustsim" in which:
        f32 = {r["contender"]: r for r in rows if r["dtype"] == "float32"}
        f64 = {r["contender"]: r for r in rows if r["dtype"] == "float64"}
        print(
            f"\ntargets: dustsim >= 2x torch float32 loop, >= 3x numpy loop at equal precision "
            f"(peers with {args.threads} threads)"
        )
        for mode in ("dustsim fused", "dustsim every-step", "dustsim one-call-per-step"):
            print(
                f"  {mode}: {f32[mode]['vs_torch_f32']:.2f}x torch f32, "
                f"{f32[mode]['vs_numpy']:.2f}x numpy f32, {f64[mode]['vs_numpy']:.2f}x numpy f64"
            )
    extra = [{"contender": "streamed zarr", **mem}] if mem else []
    path = save_results(
        "simulate-quick" if args.quick else "simulate",
        [*rows, *extra],
        n=args.n,
        steps=args.steps,
        threads=args.threads,
        repeats=args.repeats,
    )
    print(f"\nresults: {path}")
    return 0


if __name__ == "__main__":
    run_benchmark(main)
