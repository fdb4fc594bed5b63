"""Sweeps on a dask LocalCluster: equal to member-by-member runs, robust to killed workers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import psutil
import pytest

import dustsim
from dustsim.errors import ConfigError
from dustsim.io import partial_path
from dustsim.sweep import SweepSpec, bookkeeping_dir, completed_members, run_sweep

SPEC = """
init = "gmm"
n = {n}
process = "vp"
steps = {steps}
record_every = 20
dtype = "float64"

[sweep]
replicas = {replicas}
seed = 11

[sweep.grid]
"process.beta_max" = [15.0, 20.0]
"artifact.std" = [0.05, 0.1]
"""


def spec_text(n=3000, steps=100, replicas=2):
    return SPEC.format(n=n, steps=steps, replicas=replicas)


def assert_members_match(ds, spec):
    assert ds.sizes["realization"] == len(spec.members())
    for m in spec.members():
        one = dustsim.simulate(m.config)
        real = ds.isel(realization=m.index)
        assert np.array_equal(one.position.values, real.position.values), f"member {m.index}"
        np.testing.assert_array_equal(one.alpha.values, real.alpha.values)
        assert str(real.member_config.values) == one.attrs["config"]
        assert float(real.process_beta_max) == m.values["process.beta_max"]
        assert int(real.seed) == m.config.seed


def test_sweep_equals_members_one_by_one(tmp_path):
    spec = SweepSpec.from_toml(spec_text())
    ds = run_sweep(spec, tmp_path / "sweep.zarr", n_workers=2)
    assert_members_match(ds, spec)
    assert ds.position.dims == ("realization", "time", "particle", "spatial")
    seeds = [m.config.seed for m in spec.members()]
    assert len(set(seeds)) == len(seeds), "every member has its own seed"
    assert not partial_path(tmp_path / "sweep.zarr").exists()
    assert not bookkeeping_dir(partial_path(tmp_path / "sweep.zarr")).exists()


def _sweep_process(spec_file, out, tmp_path):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "dustsim", "sweep", str(spec_file), "-o", str(out), "--workers", "2", "--no-progress"],
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )


def _wait_for_members(out, proc, count, timeout=180):
    books = partial_path(out)
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"sweep ended before the interruption: {proc.communicate()}")
        if books.exists() and len(completed_members(books)) >= count:
            return
        time.sleep(0.05)
    pytest.fail("sweep made no progress")


@pytest.mark.slow
def test_killed_worker_loses_nothing(tmp_path):
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(spec_text(n=60_000, steps=400, replicas=3))
    out = tmp_path / "sweep.zarr"
    proc = _sweep_process(spec_file, out, tmp_path)
    _wait_for_members(out, proc, 1)
    workers = [p for p in psutil.Process(proc.pid).children(recursive=True) if "spawn_main" in " ".join(p.cmdline())]
    workers = [w for w in workers if w.children() == []]  # worker processes, not nannies
    assert workers, "no worker process found"
    workers[0].send_signal(signal.SIGKILL)
    _, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert_members_match(dustsim.open_trajectory(out), SweepSpec.load(spec_file))


@pytest.mark.slow
def test_rerun_after_killing_the_sweep_completes_it(tmp_path):
    spec_file = tmp_path / "sweep.toml"
    spec_file.write_text(spec_text(n=60_000, steps=400, replicas=3))
    out = tmp_path / "sweep.zarr"
    proc = _sweep_process(spec_file, out, tmp_path)
    _wait_for_members(out, proc, 2)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    finished_before = set(completed_members(partial_path(out)))
    seen = []
    ds = run_sweep(spec_file, out, n_workers=2, on_member=lambda r: seen.append(r["index"]))
    assert finished_before.isdisjoint(seen), "complete members are not run again"
    assert sorted(seen + list(finished_before)) == list(range(12)), "no member lost or duplicated"
    assert_members_match(ds, SweepSpec.load(spec_file))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ('"n" = [10, 20]', "cannot sweep 'n'"),
        ('"process.nope" = [1]', None),
        ('"colour" = [1]', "unknown sweep key"),
        ('"seed" = [1, 2]', "cannot sweep 'seed'"),
    ],
)
def test_bad_sweep_keys(extra, message):
    text = spec_text() + extra + "\n"
    if message is None:
        spec = SweepSpec.from_toml(text)
        with pytest.raises(ConfigError, match="has no parameter 'nope'"):
            dustsim.prepare(spec.members()[0].config)
        return
    with pytest.raises(ConfigError, match=message):
        SweepSpec.from_toml(text)


def test_sweep_needs_a_zarr_output(tmp_path):
    with pytest.raises(ConfigError, match="Zarr store"):
        run_sweep(SweepSpec.from_toml(spec_text()), tmp_path / "s.nc")
