"""Helpers shared by the benchmark scripts: timing, thread settings, result tables.

Benchmarks run every peer in the same process with the same thread count, warm up first
(Numba compilation, allocator), time the median of several repeats, and print rates and
ratios. Results are also written as a small xarray Dataset (``bench-results/NAME.nc``)
so runs can be compared across versions.
"""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(os.environ.get("DUSTSIM_BENCH_DIR", Path(__file__).resolve().parents[2] / "bench-results"))


def median_time(fn: Callable[[], Any], repeats: int = 3, warmup: int = 1) -> float:
    """Median wall time of ``fn()`` in seconds, after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def set_threads(threads: int) -> None:
    """Use the same number of threads in Numba and torch."""
    import numba

    numba.set_num_threads(min(threads, numba.config.NUMBA_NUM_THREADS))
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


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
    import numpy as np
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
    ds = xr.Dataset(data, attrs={
        "benchmark": name,
        "dustsim_version": dustsim.__version__,
        "machine": f"{platform.machine()} {platform.processor()} {os.cpu_count()} cpus",
        "python": platform.python_version(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        **{k: str(v) for k, v in attrs.items()},
    })
    path = RESULTS_DIR / f"{name}.nc"
    dustsim.save_dataset(ds, path)
    return path
