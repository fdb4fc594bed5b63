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
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "DUSTSIM_BENCH_DIR": str(tmp_path),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    cmd = [
        sys.executable,
        str(BENCH / "simulate.py"),
        "--n",
        "1000",
        "--steps",
        "10",
        "--repeats",
        "1",
        "--threads",
        "2",
        "--no-stream",
        "--contenders",
        "numpy",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)


def test_simulate_benchmark_fails_under_self_check(tmp_path):
    ok = _simulate(tmp_path)
    assert ok.returncode == 0, ok.stderr
    assert "check ok: numpy Generator, 2 threads float32: variance" in ok.stdout
    bad = _simulate(tmp_path, "--self-check")
    assert bad.returncode == 1
    assert "BENCHMARK FAILED: disagreement:" in bad.stderr
    assert "Traceback" not in bad.stderr


# ------------------------------------------------------------------ run_all, the committed table and the README
import run_all  # noqa: E402


def _between(text: str, begin: str, end: str) -> str:
    assert begin in text and end in text, f"markers {begin!r} / {end!r} missing"
    return text.split(begin, 1)[1].split(end, 1)[0].strip()


def test_readme_table_is_the_committed_benchmark_table():
    doc = run_all.DOC.read_text()
    readme_table = _between(run_all.README.read_text(), run_all.README_BEGIN, run_all.README_END)
    doc_table = _between(doc, "## Results", "## Provenance")
    assert readme_table == doc_table, "README.md's benchmark table differs from docs/benchmarks.md"
    record = run_all.load_record()
    assert doc == run_all.render_doc(record), "docs/benchmarks.md differs from scripts/bench/records/benchmarks.json"
    assert record["benchmarks"], "no benchmark recorded"
    for entry in record["benchmarks"].values():
        assert {"date", "commit", "dirty", "machine", "command", "status"} <= set(entry)


def test_failed_benchmark_shows_failed_not_a_stale_number(tmp_path):
    script = tmp_path / "failing.py"
    script.write_text(
        "import sys\nprint('working')\n"
        "print('BENCHMARK FAILED: disagreement: x: 1 vs peer 2', file=sys.stderr)\nsys.exit(1)\n"
    )
    bench = run_all.Benchmark(str(script), lambda results: [run_all.Headline("stale", 42.5)])
    entry = run_all.run_one("simulate", bench, quick=True, self_check=False, env=dict(os.environ))
    assert entry["status"] == "FAILED" and entry["reason"] == "BENCHMARK FAILED: disagreement: x: 1 vs peer 2"
    old = {"benchmarks": {"simulate": {**entry, "status": "ok", "rows": [{"measure": "speed", "value": 6.6}]}}}
    old["benchmarks"].update({"simulate": entry})
    table = run_all.results_table(old)
    # stale values with a decimal point: a commit hash or date in the table cannot contain them by chance
    assert "**FAILED**" in table and "6.6" not in table and "42.5" not in table


# interacting.py belongs to lane 11k (its agreement checks come with the LAMMPS peer); remove it from here then
#: checks the physics against LAMMPS with its own --self-check (a 10 % stiffer potential; needs LAMMPS)
OWN_SELF_CHECK = {"interacting.py"}


def test_every_benchmark_has_agreement_checks_and_self_check():
    scripts = {b.script for b in run_all.BENCHMARKS.values()} - OWN_SELF_CHECK
    for script in sorted(scripts):
        text = (BENCH / script).read_text()
        for needed in ("add_self_check_argument", "enable_self_check", "run_benchmark", "check_"):
            assert needed in text, f"{script} lacks {needed}"


def test_hung_benchmark_is_killed_and_fails(tmp_path):
    script = tmp_path / "hung.py"
    script.write_text("import time\ntime.sleep(60)\n")
    bench = run_all.Benchmark(str(script), lambda results: [], timeout_s=1.0)
    entry = run_all.run_one("sweep", bench, quick=True, self_check=False, env=dict(os.environ))
    assert entry["status"] == "FAILED" and "timed out" in entry["reason"] and entry["seconds"] < 30
