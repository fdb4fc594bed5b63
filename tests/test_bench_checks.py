"""The benchmarks' agreement checks fail on disagreement, and a real benchmark exits non-zero when they do."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "scripts" / "bench"
sys.path.insert(0, str(BENCH))

import common  # noqa: E402


@pytest.fixture(autouse=True)
def _no_self_check():
    common.enable_self_check(False)
    yield
    common.enable_self_check(False)


def test_check_equal_bitwise_and_tolerance():
    a = np.linspace(0.0, 1.0, 11)
    assert common.check_equal("same", a, a.copy()) == 0.0
    with pytest.raises(common.BenchmarkDisagreement, match="one ulp"):
        common.check_equal("one ulp", a, np.nextafter(a, 2.0))
    common.check_equal("within rtol", a, a * (1 + 1e-10), rtol=1e-9)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_equal("beyond rtol", a, a * (1 + 1e-8), rtol=1e-9)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_equal("nan", 1.0, math.nan, atol=1.0)


def test_check_within_se_fails_beyond_z():
    assert common.check_within_se("close", 1.0, 0.1, 1.2, 0.1) < 4.5
    with pytest.raises(common.BenchmarkDisagreement, match="combined SE"):
        common.check_within_se("far", 1.0, 0.1, 1.0 + 4.6 * math.hypot(0.1, 0.1), 0.1)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_within_se("nan", math.nan, 0.1, 1.0)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_within_se("zero se, unequal", 1.0, 0.0, 1.0 + 1e-12)


def test_check_at_most():
    common.check_at_most("below", 1.0, 2.0)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_at_most("above", 2.5, 2.0, se=0.1)


def test_self_check_turns_passing_checks_into_failures():
    common.enable_self_check(True)
    a = np.array([0.5, 2.0])
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_equal("bitwise", a, a.copy())
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_equal("tolerance", a, a, rtol=1e-6, atol=1e-9)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_within_se("statistical", 1.0, 0.1, 1.0, 0.1)
    with pytest.raises(common.BenchmarkDisagreement):
        common.check_at_most("bound", 1.0, 1.0 + 1e-6, se=0.01)


def test_run_benchmark_exit_codes(capsys):
    def bad():
        common.check_within_se("x", 0.0, 1.0, 100.0)

    with pytest.raises(SystemExit) as exc:
        common.run_benchmark(bad)
    assert exc.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("BENCHMARK FAILED: disagreement: x:")
    with pytest.raises(SystemExit) as exc:
        common.run_benchmark(lambda: None)
    assert exc.value.code == 0


def _simulate(tmp_path: Path, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "DUSTSIM_BENCH_DIR": str(tmp_path),
           "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(BENCH / "simulate.py"), "--n", "1000", "--steps", "10", "--repeats", "1",
           "--threads", "2", "--no-stream", "--contenders", "numpy", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_simulate_benchmark_fails_under_self_check(tmp_path):
    ok = _simulate(tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "check ok: numpy Generator, 2 threads float32: variance" in ok.stdout
    bad = _simulate(tmp_path, "--self-check")
    assert bad.returncode == 1
    assert "BENCHMARK FAILED: disagreement:" in bad.stderr
    assert "Traceback" not in bad.stderr
