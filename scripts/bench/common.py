"""Helpers shared by the benchmark scripts: timing, thread settings, agreement checks, result tables.

Benchmarks run every peer in the same process with the same thread count, warm up first
(Numba compilation, allocator), time the median of several repeats (min and max shown),
and print rates and ratios. Before any number is reported, each benchmark checks that
dustsim and its peer computed the same thing -- the same value to floating point where the
computation is deterministic, agreement within the standard errors where it is
statistical -- and exits with status 1 and a one-line reason when they do not
(:func:`run_benchmark`). ``--self-check`` perturbs the peer's side of every check (by
10 SE, or 10 times the tolerance), so that the run must then fail: this shows that the
checks can fail at all.

Results are also written as a small xarray Dataset (``bench-results/NAME.nc``, folder
``DUSTSIM_BENCH_DIR``) which ``run_all.py`` collects.
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

RESULTS_DIR = Path(os.environ.get("DUSTSIM_BENCH_DIR", Path(__file__).resolve().parents[2] / "bench-results"))
Z = 4.5  # as in tests/stats_helpers.py: a correct run fails one check with probability 7e-6
SELF_CHECK_SHIFT = 10.0  # a self-check moves the peer by this many SEs (or tolerances)


class BenchmarkDisagreement(Exception):
    """dustsim and its peer (or the exact answer) disagree beyond the stated tolerance."""


# ------------------------------------------------------------------------------ self-check
_SELF_CHECK = {"on": False}


def add_self_check_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--self-check`` (perturb the peer's side of every agreement check; the run must fail)."""
    parser.add_argument(
        "--self-check",
        action="store_true",
        help="perturb the peer's side of every agreement check by 10 SE (or 10 tolerances): "
        "the run must then exit with status 1",
    )


def enable_self_check(on: bool) -> None:
    """Turn the self-check perturbation on (``--self-check``) or off."""
    _SELF_CHECK["on"] = bool(on)
    if on:
        print(
            f"# SELF-CHECK: the peer side of every agreement check is shifted by {SELF_CHECK_SHIFT:g} SE "
            "(or tolerances); this run must fail",
            flush=True,
        )


def self_check_on() -> bool:
    """Whether ``--self-check`` is active."""
    return _SELF_CHECK["on"]


def _shift(peer: float, scale: float) -> float:
    return peer + SELF_CHECK_SHIFT * scale if _SELF_CHECK["on"] else peer


# ------------------------------------------------------------------------------ checks
def check_equal(what: str, ours: Any, peer: Any, rtol: float = 0.0, atol: float = 0.0) -> float:
    """Check ``|ours - peer| <= atol + rtol |peer|`` elementwise (deterministic computations).

    Parameters
    ----------
    what : str
        What is compared (for the message).
    ours, peer : float or array_like
        dustsim's value and the peer's (or the exact one).
    rtol, atol : float
        Relative and absolute tolerance; both 0 asks for bitwise-equal values.

    Returns
    -------
    float
        The largest absolute difference.

    Raises
    ------
    BenchmarkDisagreement
        When any element differs by more than the tolerance (or is not finite).
    """
    a = np.asarray(ours, dtype=float)
    b = np.asarray(peer, dtype=float)
    if _SELF_CHECK["on"]:
        b = b + SELF_CHECK_SHIFT * np.maximum(atol + rtol * np.abs(b), np.spacing(np.abs(b)))
    a, b = np.broadcast_arrays(a, b)
    diff = np.abs(a - b)
    allowed = atol + rtol * np.abs(b)
    bad = ~(diff <= allowed)  # NaN counts as bad
    worst = float(np.nanmax(diff)) if diff.size and np.isfinite(diff).any() else math.nan
    if bad.any():
        i = int(np.argmax(np.where(np.isnan(diff), np.inf, diff - allowed)))
        raise BenchmarkDisagreement(
            f"{what}: {a.flat[i]:.12g} vs peer {b.flat[i]:.12g} (|diff| {diff.flat[i]:.3g} > "
            f"tolerance {allowed.flat[i]:.3g} = {atol:g} + {rtol:g} x |peer|)"
        )
    print(f"check ok: {what}: max |diff| {worst:.3g} (tolerance {atol:g} + {rtol:g} x |peer|)", flush=True)
    return worst


def check_within_se(what: str, ours: float, se_ours: float, peer: float, se_peer: float = 0.0, z: float = Z) -> float:
    """Check that two independent estimates agree: ``|ours - peer| < z sqrt(se_ours^2 + se_peer^2)``.

    Parameters
    ----------
    what : str
        What is compared (for the message).
    ours, se_ours : float
        dustsim's estimate and its standard error.
    peer, se_peer : float
        The peer's estimate and its standard error (0 for an exact value).
    z : float
        Tolerance in combined standard errors (default 4.5).

    Returns
    -------
    float
        The deviation in combined standard errors.

    Raises
    ------
    BenchmarkDisagreement
        When the estimates differ by ``z`` or more combined SEs, or a number is not finite.
    """
    se = math.hypot(float(se_ours), float(se_peer))
    peer = _shift(float(peer), se)
    dev = abs(float(ours) - peer) / se if se > 0 else (0.0 if float(ours) == peer else math.inf)
    if not (math.isfinite(dev) and dev < z):
        raise BenchmarkDisagreement(
            f"{what}: {float(ours):.6g} ± {float(se_ours):.3g} vs peer {peer:.6g} ± "
            f"{float(se_peer):.3g} ({dev:.2f} combined SE, tolerance {z:g})"
        )
    print(f"check ok: {what}: {float(ours):.6g} vs {peer:.6g}, {dev:.2f} SE (tolerance {z:g})", flush=True)
    return dev


def check_at_most(what: str, value: float, bound: float, se: float = 0.0, z: float = Z) -> float:
    """Check ``value < bound + z se`` (a one-sided statistical check, e.g. an energy distance vs its floor).

    Under ``--self-check`` the bound is lowered by 10 SE (or by 10 x |bound| x 1e-3 when ``se`` is 0); a value
    more than 10 SE inside its bound still passes then, so a script should not rely on one-sided checks alone
    to fail its self-check.
    """
    scale = se if se > 0 else 1e-3 * max(abs(bound), 1e-12)
    limit = bound + z * se - (SELF_CHECK_SHIFT * scale if _SELF_CHECK["on"] else 0.0)
    if not (math.isfinite(value) and value < limit):
        raise BenchmarkDisagreement(f"{what}: {value:.6g} is not below {limit:.6g} (bound {bound:.6g} + {z:g} SE)")
    print(f"check ok: {what}: {value:.6g} < {limit:.6g}", flush=True)
    return value


def run_benchmark(main: Callable[[], int | None]) -> None:
    """Run a benchmark's ``main`` and exit: 0 on success, 1 with a one-line reason on disagreement."""
    try:
        code = main()
    except BenchmarkDisagreement as exc:
        print(f"BENCHMARK FAILED: disagreement: {exc}", file=sys.stderr, flush=True)
        sys.exit(1)
    sys.exit(int(code or 0))


# ------------------------------------------------------------------------------ timing
@dataclass(frozen=True)
class Timing:
    """Wall times of repeated calls, seconds."""

    median: float
    min: float
    max: float
    repeats: int

    def columns(self, prefix: str = "seconds") -> dict[str, float]:
        """``{prefix: median, prefix_min: min, prefix_max: max, repeats: n}``."""
        return {prefix: self.median, f"{prefix}_min": self.min, f"{prefix}_max": self.max, "repeats": self.repeats}


def timed(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> tuple[Timing, Any]:
    """Time ``fn()`` ``repeats`` times after ``warmup`` untimed calls; return the times and the last value."""
    value = None
    for _ in range(warmup):
        value = fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - start)
    return Timing(statistics.median(times), min(times), max(times), len(times)), value


def median_time(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    return timed(fn, repeats, warmup)[0].median


def set_threads(threads: int) -> None:
    """Use the same number of threads in Numba and torch."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))  # type: ignore[attr-defined]
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


# ------------------------------------------------------------------------------ tables
def print_table(title: str, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """Print rows as an aligned text table."""
    print(f"\n## {title}")
    widths = {c: max(len(c), *(len(_fmt(r.get(c))) for r in rows)) for c in columns}
    print("  ".join(c.ljust(widths[c]) for c in columns))
    for r in rows:
        print("  ".join(_fmt(r.get(c)).ljust(widths[c]) for c in columns))


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


def save_results(name: str, rows: list[dict[str, Any]], **attrs: Any) -> Path:
    """Write benchmark rows as ``bench-results/<name>.nc`` (one variable per numeric column)."""
    import xarray as xr

    import dustsim

    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    keys = sorted({k for r in rows for k in r})
    data = {}
    for k in keys:
        values = [r.get(k) for r in rows]
        if all(isinstance(v, (int, float)) or v is None for v in values):
            data[k] = ("case", np.array([np.nan if v is None else v for v in values], dtype=float))
        else:
            data[k] = ("case", np.array(["" if v is None else str(v) for v in values]))
    ds = xr.Dataset(
        data,
        attrs={
            "benchmark": name,
            "dustsim_version": dustsim.__version__,
            "machine": f"{platform.machine()} {platform.processor()} {os.cpu_count()} cpus",
            "python": platform.python_version(),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "self_check": int(_SELF_CHECK["on"]),
            **{k: str(v) for k, v in attrs.items()},
        },
    )
    path = RESULTS_DIR / f"{name}.nc"
    dustsim.save_dataset(ds, path)
    return path
