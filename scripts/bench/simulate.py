"""Benchmark: dustsim's stepping kernels vs numpy and torch loops, and streamed-run memory.

Every contender advances N particles in d dimensions by the same Ornstein-Uhlenbeck-type
affine step ``x <- a x + b z`` (z standard normal), with the same thread count, in this
one process. Throughput is particle * dimension * steps per second.

- dustsim every-step: records the state after every step into a buffer of 8 frames, one
  kernel call per 8 steps (what ``--record-every 1`` does); the loops below store nothing,
  so this contender does strictly more work than they do;
- dustsim one-call-per-step: one kernel call per step, nothing stored (how ``--record-every
  1`` ran before frames were batched: 3 of every 4 float32 normals drawn were discarded);
- dustsim fused: all steps in one kernel call (what recording every M >= 10 steps does);
- numpy: ``Generator.standard_normal(out=z)`` then in-place ``z *= b; x *= a; x += z``
  (numpy's Generator is single-threaded);
- torch: ``torch.randn(out=z)`` then ``x.mul_(a).add_(z, alpha=b)``.

Then a streamed Zarr run (1e6 particles, 1000 frames by default) in a child process,
reporting its peak resident memory against the size of the output it wrote.

Run: ``python scripts/bench/simulate.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_time, print_table, save_results, set_threads

A, B = 0.999, 0.02


def dustsim_recording_runner(x_nd: np.ndarray, steps: int, batch: int = 8):
    from dustsim.kernels import affine, rng

    x = np.ascontiguousarray(x_nd.T)
    d, n = x.shape
    coeff = [np.full((batch, d), v, dtype=x.dtype) for v in (A, B, 0.0)]
    frames = np.empty((batch, d, n), dtype=x.dtype)
    k0, k1 = rng.split_key(1)
    words = np.array([rng.stream_axis_word(0, a) for a in range(d)], dtype=np.uint64)

    def run():
        for s in range(0, steps, batch):
            m = min(batch, steps - s)
            affine.advance_affine_recording(x, *(c[:m] for c in coeff), s, words, k0, k1, 1, frames[:m])

    return run


def dustsim_runner(x_nd: np.ndarray, steps: int, fused: bool):
    from dustsim.kernels import affine, rng

    x = np.ascontiguousarray(x_nd.T)
    d = x.shape[0]
    coeff = [np.full((steps if fused else 1, d), v, dtype=x.dtype) for v in (A, B, 0.0)]
    k0, k1 = rng.split_key(1)
    words = np.array([rng.stream_axis_word(0, a) for a in range(d)], dtype=np.uint64)

    def run():
        if fused:
            affine.advance_affine(x, *coeff, 0, words, k0, k1)
        else:
            for s in range(steps):
                affine.advance_affine(x, *coeff, s, words, k0, k1)

    return run


def numpy_runner(x: np.ndarray, steps: int):
    gen = np.random.default_rng(1)
    z = np.empty_like(x)

    def run():
        for _ in range(steps):
            gen.standard_normal(out=z, dtype=x.dtype)
            np.multiply(z, B, out=z)
            np.multiply(x, A, out=x)
            np.add(x, z, out=x)

    return run


def torch_runner(x_np: np.ndarray, steps: int):
    import torch

    x = torch.from_numpy(x_np.copy())
    z = torch.empty_like(x)
    gen = torch.Generator().manual_seed(1)

    def run():
        for _ in range(steps):
            torch.randn(x.shape, out=z, dtype=x.dtype, generator=gen)
            x.mul_(A).add_(z, alpha=B)

    return run


def throughput(n: int, d: int, steps: int, threads: int, repeats: int) -> list[dict]:
    rows = []
    for dtype in (np.float32, np.float64):
        base = np.zeros((n, d), dtype=dtype)
        contenders = {
            "dustsim fused": dustsim_runner(base, steps, fused=True),
            "dustsim every-step": dustsim_recording_runner(base, steps),
            "dustsim one-call-per-step": dustsim_runner(base, steps, fused=False),
            "numpy Generator": numpy_runner(base.copy(), steps),
            "torch randn+add_": torch_runner(base, steps),
        }
        for name, fn in contenders.items():
            seconds = median_time(fn, repeats=repeats)
            rows.append({"contender": name, "dtype": np.dtype(dtype).name, "threads": threads,
                         "seconds": seconds, "rate_M_per_s": n * d * steps / seconds / 1e6})
    by = {(r["contender"], r["dtype"]): r["rate_M_per_s"] for r in rows}
    for r in rows:
        r["vs_numpy"] = r["rate_M_per_s"] / by[("numpy Generator", r["dtype"])]
        r["vs_torch_f32"] = r["rate_M_per_s"] / by[("torch randn+add_", "float32")]
        r["vs_torch_same_dtype"] = r["rate_M_per_s"] / by[("torch randn+add_", r["dtype"])]
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
        proc = subprocess.run([sys.executable, "-c", CHILD, str(n), str(frames), str(out)],
                              capture_output=True, text=True, env=env, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        size = sum(f.stat().st_size for f in out.rglob("*") if f.is_file())
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    raw = n * 2 * 4 * (frames + 1)
    return {"particles": n, "frames": frames + 1, "output_bytes_on_disk": size, "output_bytes_raw": raw,
            "peak_rss_bytes": result["peak_rss"], "rss_before_run": result["baseline_rss"],
            "peak_over_raw_output": result["peak_rss"] / raw, "seconds": result["seconds"]}


def lammps_free_particles(n: int, steps: int, threads: int, repeats: int) -> dict:
    """Free Brownian particles in a periodic 2-D box: dustsim vs LAMMPS, and both MSD slopes vs 2dD.

    D = 1, dt = 1e-3; LAMMPS (``scripts/bench/lammps_peer.py``: ``fix brownian``, which is
    serial, no pair style) is timed on its ``run`` loop, dustsim end to end (``simulate``).
    The slope MSD(T) / T of each must equal 2 d D = 4 within 1 % (and within 4.5 standard
    errors: ``1 / sqrt(n)`` relative in 2-D); ``ok`` is False otherwise, None without LAMMPS.
    """
    import statistics
    import time

    from lammps_peer import LammpsMissing, brownian_deck, run_lammps

    import dustsim
    from dustsim.schema import unwrapped_position

    L = float(np.sqrt(n * np.pi / 1.2))
    kwargs = {"init": "uniform", "artifact": {"half_width": 0.5 * L * (1 - 1e-7)}, "n": n, "dim": 2,
              "process": "brownian", "boundary": {"kind": "periodic", "box": L}, "dt": 1e-3, "seed": 3,
              "progress": False}
    dustsim.simulate(**kwargs, steps=2, record_every=2)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        ds = dustsim.simulate(**kwargs, steps=steps, record_every=steps)
        times.append(time.perf_counter() - start)
    u = unwrapped_position(ds).values
    T = steps * 1e-3
    row = {"contender": "free particles, periodic box", "particles": n, "steps": steps,
           "dustsim_Mps": n * steps / statistics.median(times) / 1e6,
           "dustsim_msd_slope": float(np.mean(np.sum((u[-1] - u[0]) ** 2, axis=-1)) / T)}
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
    row["ok"] = all(abs(row[k] / 4.0 - 1) < min(0.01, 4.5 * se) for k in ("dustsim_msd_slope", "lammps_msd_slope"))
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--frames", type=int, default=1000, help="frames of the streamed-memory run")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    if args.quick:
        args.n, args.steps, args.frames = 100_000, 10, 20
    set_threads(args.threads)
    rows = throughput(args.n, 2, args.steps, args.threads, repeats=1 if args.quick else 3)
    print_table(f"stepping throughput: N={args.n}, d=2, {args.steps} steps, {args.threads} threads "
                "(rate = particle*dim*steps per second)", rows,
                ["contender", "dtype", "rate_M_per_s", "vs_numpy", "vs_torch_f32", "vs_torch_same_dtype"])
    mem = streamed_memory(args.n, args.frames, args.threads)
    print_table("streamed Zarr run (float32, d=2, record every step)", [mem],
                ["particles", "frames", "output_bytes_raw", "output_bytes_on_disk", "peak_rss_bytes",
                 "rss_before_run", "peak_over_raw_output", "seconds"])
    free = lammps_free_particles(args.n, args.steps, args.threads, repeats=1 if args.quick else 3)
    print_table(f"free particles vs LAMMPS ({args.threads} threads; LAMMPS's fix brownian is serial)", [free],
                ["particles", "steps", "dustsim_Mps", "lammps_Mps", "ratio", "dustsim_msd_slope", "lammps_msd_slope",
                 "ok"])
    if free["ok"] is False:
        raise SystemExit("free-particle check failed: an MSD slope is not 2dD = 4 within 1 %")
    f32 = {r["contender"]: r for r in rows if r["dtype"] == "float32"}
    f64 = {r["contender"]: r for r in rows if r["dtype"] == "float64"}
    print("\ntargets: dustsim >= 2x torch float32 loop, >= 3x numpy loop at equal precision")
    for mode in ("dustsim fused", "dustsim every-step", "dustsim one-call-per-step"):
        print(f"  {mode}: {f32[mode]['vs_torch_f32']:.2f}x torch f32, "
              f"{f32[mode]['vs_numpy']:.2f}x numpy f32, {f64[mode]['vs_numpy']:.2f}x numpy f64")
    path = save_results("simulate-quick" if args.quick else "simulate", [*rows, {"contender": "streamed zarr", **mem}],
                        n=args.n, steps=args.steps, threads=args.threads)
    print(f"\nresults: {path}")


if __name__ == "__main__":
    main()
