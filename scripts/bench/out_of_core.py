"""Benchmark: the out-of-core entropy analysis of a store larger than an enforced memory cap.

Writes a streamed Zarr trajectory of 1.5 times (``--store-factor``) ``--cap-gib`` (default 1 GiB), then analyses
it with ``analysis.entropy_trajectory`` (frame by frame, subsampled) in a child process
whose whole address space is limited to the cap by ``resource.setrlimit(RLIMIT_AS)``, set
before anything is imported: the analysis must succeed under the cap, else the benchmark
fails (an allocation beyond the cap raises ``MemoryError`` or kills the child). Address
space counts every mapping (libraries, thread stacks, malloc arenas), so it is a stricter
bound than resident memory; the child's peak resident memory is reported against the cap.

Agreement: the parent recomputes the same analysis without a cap on three of the frames
(first, middle, last; the particle subsample is the same in every frame) and the entropies
must equal the child's to 1e-12 nats (``--self-check`` shifts them by 10 tolerances).

Run: ``python scripts/bench/out_of_core.py`` (``--quick`` for a smoke run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    BenchmarkDisagreement,
    add_self_check_argument,
    check_equal,
    enable_self_check,
    print_table,
    run_benchmark,
    save_results,
)

CHILD = r"""
import json, resource, sys, time
cap = int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # before any import: everything counts
import dustsim
from analysis import entropy_trajectory
path, max_particles = sys.argv[1], int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
ds = dustsim.open_trajectory(path)
ent = entropy_trajectory(ds, max_particles=max_particles, compute="serial")
elapsed = time.perf_counter() - t
with open("/proc/self/status") as status:
    vm_peak = next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmPeak:"))
print(json.dumps({"baseline_rss": base, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "vm_peak": vm_peak, "seconds": elapsed, "frames": int(ent.sizes["time"]),
                  "entropy": [float(v) for v in ent["entropy"].values.reshape(ent.sizes["time"], -1)[:, 0]]}))
"""


def recompute(store: Path, max_particles: int, frames: list[int]) -> list[float]:
    """The same analysis, in this process and without a cap, on a few frames."""
    import dustsim
    from analysis import entropy_trajectory

    ds = dustsim.open_trajectory(store).isel(time=frames)
    ent = entropy_trajectory(ds, max_particles=max_particles, compute="serial")
    return [float(v) for v in ent["entropy"].values.reshape(ent.sizes["time"], -1)[:, 0]]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-gib", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--max-particles", type=int, default=200_000)
    parser.add_argument("--store-factor", type=float, default=1.5, help="store size / cap (default 1.5)")
    parser.add_argument("--quick", action="store_true")
    add_self_check_argument(parser)
    args = parser.parse_args()
    enable_self_check(args.self_check)
    if args.quick:
        # the smallest cap that holds the imports' address space; a store below the cap: a smoke run only
        args.cap_gib, args.n, args.max_particles, args.store_factor = 1.0, 200_000, 20_000, 0.05
    import dustsim

    cap = int(args.cap_gib * 2**30)
    frame_bytes = args.n * 2 * 4
    frames = int(args.store_factor * cap / frame_bytes) + 1
    tmp = Path(tempfile.mkdtemp(prefix="dustsim-ooc-"))
    try:
        store = tmp / "big.zarr"
        t = time.perf_counter()
        dustsim.simulate(
            init="gmm", n=args.n, process="vp", steps=frames - 1, record_every=1, seed=0, output=store, progress=False
        )
        written = time.perf_counter() - t
        raw = frame_bytes * frames
        on_disk = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        env["MALLOC_ARENA_MAX"] = "2"  # fewer 64 MiB glibc arena reservations: address space, not memory use
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(store), str(args.max_particles), str(cap)],
            env=env,
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise BenchmarkDisagreement(
                f"the analysis did not complete under RLIMIT_AS = {cap / 2**20:.0f} MiB "
                f"(exit code {proc.returncode}): {last}"
            )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        picked = sorted({0, frames // 2, frames - 1})
        uncapped = recompute(store, args.max_particles, picked)
        check_equal(
            f"entropy of frames {picked}: capped child vs uncapped recomputation",
            [result["entropy"][i] for i in picked],
            uncapped,
            atol=1e-12,
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row = {
        "frames": frames,
        "particles": args.n,
        "store_raw_bytes": raw,
        "store_on_disk_bytes": on_disk,
        "cap_bytes": cap,
        "peak_rss_bytes": result["peak_rss"],
        "vm_peak_bytes": result["vm_peak"],
        "rss_after_imports": result["baseline_rss"],
        "cap_enforced": 1,
        "analysis_seconds": result["seconds"],
        "write_seconds": written,
    }
    print_table("out-of-core entropy trajectory (kNN + KL + MI per frame) under RLIMIT_AS = cap", [row], list(row))
    print(
        f"\npeak resident memory {result['peak_rss'] / 2**20:.0f} MiB, peak address space "
        f"{result['vm_peak'] / 2**20:.0f} MiB, for a {raw / 2**30:.2f} GiB store under an enforced address-space cap "
        f"of {cap / 2**20:.0f} MiB"
    )
    print(f"results: {save_results('out_of_core-quick' if args.quick else 'out_of_core', [row])}")
    return 0


if __name__ == "__main__":
    run_benchmark(main)
