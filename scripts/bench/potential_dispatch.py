"""Benchmark: the force dispatch of external potentials and pair interactions, two code trees side by side.

Runs the same physical simulations with two copies of dustsim (``--base DIR``: another
checkout, for example ``git archive main | tar -x -C DIR``; and this checkout), each in
its own child process, alternating between them ``--repeats`` times so that machine load
hits both alike. Every child warms up (Numba compilation or cache load) and then times:

- ``separable``: non-interacting dust in harmonic + double-well + cosine + constant
  potentials (the vectorised per-axis Euler kernel), float32 and float64;
- ``pairs-<kind>``: interacting dust in a periodic 2-D box (the per-particle cell-list
  kernel) with soft disks, WCA and Morse pair potentials.

Each child prints a SHA-256 digest of its final positions: the two trees must compute
bitwise the same thing, and the script fails loudly if they do not. Reported: the median
wall time and process CPU time per case and tree over the repeats, and the ratios new /
base (below 1: faster; with one Numba thread, CPU time is less sensitive to other load).

Wall times on a loaded machine are noisy; ``--compare-code`` adds a measure that does not
depend on load: each tree compiles the same cases afresh (empty ``NUMBA_CACHE_DIR``) and
hashes the machine code of every compiled stepper and force kernel (instructions only:
symbol names, comments and data directives, which hold source paths and line numbers of
error messages, are stripped). Equal hashes mean the two trees run the same instructions, so they
cannot differ in speed.

Run: ``python scripts/bench/potential_dispatch.py --base /tmp/base`` (``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parents[2]

CHILD = r"""
import hashlib, json, math, sys, time
import numpy as np
import dustsim
n_sep, n_pair, steps = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
POT = [{"name": "harmonic", "k": [1.0, 0.5]}, {"name": "double-well", "barrier": [2.0, 0.0], "width": 1.0},
       {"name": "cosine", "amplitude": 0.3, "wavelength": 0.7}, {"name": "constant", "force": [0.0, -0.2]}]
L = math.sqrt(n_pair * math.pi / 1.2)
PAIRS = {"harmonic": {"name": "harmonic"}, "wca": {"name": "wca"}, "morse": {"name": "morse", "epsilon": 0.5}}
cases = {}
for dtype in ("float32", "float64"):
    cases[f"separable-{dtype}"] = dict(init="gaussian", n=n_sep, dim=2, process="brownian", potential=POT,
                                       dt=1e-3, dtype=dtype, seed=3)
for name, inter in PAIRS.items():
    cases[f"pairs-{name}"] = dict(init="uniform", artifact={"half_width": 0.5 * L * (1 - 1e-7)}, n=n_pair, dim=2,
                                  process="brownian", boundary={"kind": "periodic", "box": L},
                                  interaction={**inter, "cap": 50.0}, dt=1e-4, seed=1)
out = {}
for key, kw in cases.items():
    dustsim.simulate(**kw, steps=2, record_every=2)  # warm-up: compile or load the cache
    t, cpu = time.perf_counter(), time.process_time()
    ds = dustsim.simulate(**kw, steps=steps, record_every=steps)
    seconds, cpu = time.perf_counter() - t, time.process_time() - cpu
    digest = hashlib.sha256(ds.position.values[-1].tobytes()).hexdigest()[:16]
    out[key] = {"seconds": seconds, "cpu": cpu, "digest": digest}
if len(sys.argv) > 4:  # --compare-code: hash the machine code of the compiled kernels
    import os, re
    from dustsim.kernels import cells, euler, forces
    code = {}
    for module in (euler, cells, forces):
        for name, fn in sorted(vars(module).items()):
            if not hasattr(fn, "inspect_asm") or not fn.signatures:
                continue
            for sig in fn.signatures:
                asm = fn.inspect_asm(sig)
                asm = re.sub(r"_ZN[0-9A-Za-z_$.]+", "SYM", asm)  # mangled names carry per-process ids
                lines = [ln.split("#")[0].rstrip() for ln in asm.splitlines()]
                skip = (".file", ".loc", ".ident", ".ascii", ".asciz", ".size", ".long", ".quad", ".byte", ".short",
                        ".zero")
                lines = [re.sub(r"\.const\.pickle(data|buf)\.[0-9a-f]+", "PICKLE", ln) for ln in lines
                         if ln and not ln.lstrip().startswith(skip)]
                key = f"{module.__name__.rsplit('.', 1)[-1]}.{name}{sig}"
                if os.environ.get("DUSTSIM_ASM_DUMP"):  # for looking at a difference
                    tag = hashlib.sha256(key.encode()).hexdigest()[:8]
                    with open(os.path.join(os.environ["DUSTSIM_ASM_DUMP"], f"{name}-{tag}.s"), "w") as f:
                        f.write("\n".join(lines))
                code[key] = hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]
    out["code"] = code
print(json.dumps({"file": dustsim.__file__, **out}))
"""


def run_tree(tree: Path, args: argparse.Namespace, code: bool = False) -> dict:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    argv = [sys.executable, "-c", CHILD, str(args.n_separable), str(args.n_pairs), str(args.steps)]
    with tempfile.TemporaryDirectory(prefix="dustsim-numba-cache-") as cache:
        if code:
            env["NUMBA_CACHE_DIR"] = cache
            argv.append("code")
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, cwd=tree)
    if proc.returncode != 0:
        raise SystemExit(f"child for {tree} failed:\n{proc.stderr[-3000:]}")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    if not result.pop("file").startswith(str(tree)):
        raise SystemExit(f"the child for {tree} imported dustsim from elsewhere")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", type=Path, required=True, help="the other dustsim checkout")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-separable", type=int, default=200_000)
    parser.add_argument("--n-pairs", type=int, default=2_000)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--compare-code",
        action="store_true",
        help="also compile both trees afresh and compare the kernels' machine code",
    )
    args = parser.parse_args()
    if args.quick:
        args.n_separable, args.n_pairs, args.steps, args.repeats = 20_000, 500, 20, 1
    trees = {"base": args.base.resolve(), "new": HERE}
    times: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
    cpus: dict[str, dict[str, list[float]]] = {t: {} for t in trees}
    digests: dict[str, dict[str, str]] = {t: {} for t in trees}
    print(
        f"# threads: NUMBA_NUM_THREADS={os.environ.get('NUMBA_NUM_THREADS', '(all)')}; "
        f"N separable {args.n_separable}, N pairs {args.n_pairs}, {args.steps} steps, {args.repeats} repeats"
    )
    for r in range(args.repeats):
        for tree_name, tree in trees.items() if r % 2 == 0 else reversed(trees.items()):
            result = run_tree(tree, args)
            for case, v in result.items():
                times[tree_name].setdefault(case, []).append(v["seconds"])
                cpus[tree_name].setdefault(case, []).append(v["cpu"])
                if digests[tree_name].setdefault(case, v["digest"]) != v["digest"]:
                    raise SystemExit(f"{tree_name} {case}: the digest changed between repeats")
    bad = [c for c in digests["new"] if digests["new"][c] != digests["base"][c]]
    print(
        f"{'case':<20s} {'base s':>9s} {'new s':>9s} {'new/base':>9s} {'base cpu':>9s} {'new cpu':>9s} "
        f"{'new/base':>9s}  digest"
    )
    for case in times["new"]:
        b, n = statistics.median(times["base"][case]), statistics.median(times["new"][case])
        bc, nc = statistics.median(cpus["base"][case]), statistics.median(cpus["new"][case])
        print(
            f"{case:<20s} {b:9.4f} {n:9.4f} {n / b:9.3f} {bc:9.4f} {nc:9.4f} {nc / bc:9.3f}  {digests['new'][case]}"
            f"{'' if case not in bad else '  != ' + digests['base'][case]}"
        )
    if bad:
        raise SystemExit(f"the two trees computed different positions for: {', '.join(bad)}")
    print("all final positions bitwise identical between the trees")
    digest = hashlib.sha256(json.dumps(digests["new"], sort_keys=True).encode()).hexdigest()[:16]
    print(f"digest of digests: {digest}")
    if args.compare_code:
        small = argparse.Namespace(n_separable=1000, n_pairs=200, steps=8)
        codes = {name: run_tree(tree, small, code=True)["code"] for name, tree in trees.items()}
        keys = sorted(set(codes["base"]) | set(codes["new"]))
        same = [k for k in keys if codes["base"].get(k) == codes["new"].get(k)]
        print(f"\nmachine code of {len(keys)} compiled kernel signatures: {len(same)} identical")
        for k in keys:
            if k not in same:
                print(f"  differs: {k}: base {codes['base'].get(k)} new {codes['new'].get(k)}")


if __name__ == "__main__":
    main()
