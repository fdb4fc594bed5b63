"""Benchmark: peak memory of the out-of-core entropy analysis of a store larger than a cap.

Writes a streamed Zarr trajectory whose size exceeds ``--cap-gib`` (default 1 GiB), then
analyses it with ``analysis.entropy_trajectory`` in a child process (frame by frame,
subsampled) and reports the child's peak resident memory against the cap and the store
size. The cap is "held" when the peak stays below it.

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
from common import print_table, save_results

CHILD = r"""
import json, resource, sys, time
import dustsim
from analysis import entropy_trajectory
path, max_particles = sys.argv[1], int(sys.argv[2])
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
t = time.perf_counter()
ds = dustsim.open_trajectory(path)
ent = entropy_trajectory(ds, max_particles=max_particles, compute="serial")
elapsed = time.perf_counter() - t
print(json.dumps({"baseline_rss": base, "peak_rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                  "seconds": elapsed, "frames": int(ent.sizes["time"])}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cap-gib", type=float, default=1.0)
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--max-particles", type=int, default=200_000)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    if args.quick:
        args.cap_gib, args.n, args.max_particles = 0.4, 200_000, 20_000
    import dustsim

    cap = int(args.cap_gib * 2**30)
    frame_bytes = args.n * 2 * 4
    frames = int(1.5 * cap / frame_bytes) + 1  # store 1.5x the cap
    tmp = Path(tempfile.mkdtemp(prefix="dustsim-ooc-"))
    try:
        store = tmp / "big.zarr"
        t = time.perf_counter()
        dustsim.simulate(init="gmm", n=args.n, process="vp", steps=frames - 1, record_every=1, seed=0,
                         output=store, progress=False)
        written = time.perf_counter() - t
        raw = frame_bytes * frames
        on_disk = sum(f.stat().st_size for f in store.rglob("*") if f.is_file())
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
        proc = subprocess.run([sys.executable, "-c", CHILD, str(store), str(args.max_particles)], env=env,
                              capture_output=True, text=True, check=True)
        result = json.loads(proc.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    row = {"frames": frames, "particles": args.n, "store_raw_bytes": raw, "store_on_disk_bytes": on_disk,
           "cap_bytes": cap, "peak_rss_bytes": result["peak_rss"], "rss_after_imports": result["baseline_rss"],
           "cap_held": int(result["peak_rss"] < cap), "analysis_seconds": result["seconds"],
           "write_seconds": written}
    print_table("out-of-core entropy trajectory (kNN + KL + MI per frame)", [row], list(row))
    print(f"\npeak memory {result['peak_rss'] / 2**20:.0f} MiB for a {raw / 2**30:.2f} GiB store; "
          f"cap {cap / 2**20:.0f} MiB {'held' if row['cap_held'] else 'EXCEEDED'}")
    print(f"results: {save_results('out_of_core-quick' if args.quick else 'out_of_core', [row])}")


if __name__ == "__main__":
    main()
