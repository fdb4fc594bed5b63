"""Bitwise reproducibility: thread count, resume after interruption, config round trip."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numba
import numpy as np
import pytest
import xarray as xr

import dustsim
from dustsim.io import FrameStore, partial_path

SMALL = {"init": "swiss-roll", "n": 30_001, "process": "vp", "steps": 97, "record_every": 10, "seed": 77}


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stepper", ["exact", "euler"])
def test_thread_count_does_not_change_a_bit(dtype, stepper):
    one = dustsim.simulate(**SMALL, dtype=dtype, stepper=stepper, threads=1)
    two = dustsim.simulate(**SMALL, dtype=dtype, stepper=stepper, threads=2)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(one.position.values, two.position.values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("every", [1, 2, 5])
def test_record_interval_does_not_change_the_path(dtype, every):
    """Recording is observation only: frames at common steps agree bit for bit."""
    every_10 = dustsim.simulate(**SMALL, dtype=dtype)
    often = dustsim.simulate(**{**SMALL, "record_every": every}, dtype=dtype)
    common = every_10.step.values
    sel = often.set_index(time="step").sel(time=common)
    assert np.array_equal(sel.position.values, every_10.position.values)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("stepper", ["exact", "euler"])
def test_frames_filled_several_per_call_equal_one_call_per_frame(monkeypatch, dtype, stepper):
    """Batched recording (several frames per kernel call) changes no bit, wherever batches split."""
    import dustsim.simulation as simulation

    config = {**SMALL, "n": 5_001, "record_every": 2, "dtype": dtype, "stepper": stepper}
    batched = dustsim.simulate(**config)
    frame_bytes = 2 * 5_001 * np.dtype(dtype).itemsize
    monkeypatch.setattr(simulation, "MAX_FRAME_BUFFER_BYTES", 3 * frame_bytes)  # batches of 3 frames
    in_threes = dustsim.simulate(**config)
    monkeypatch.setattr(simulation, "MAX_FRAME_BUFFER_BYTES", 0)  # one kernel call per frame
    one_by_one = dustsim.simulate(**config)
    assert np.array_equal(batched.position.values, one_by_one.position.values)
    assert np.array_equal(in_threes.position.values, one_by_one.position.values)


def test_resolved_config_reproduces_the_run():
    first = dustsim.simulate(init="gmm", n=5000, process="ou", process_params={"k": 2.0}, t_end=3.0, steps=50)
    again = dustsim.simulate(dustsim.SimulationConfig.from_toml(first.attrs["config"]))
    assert np.array_equal(first.position.values, again.position.values)
    assert first.attrs["config"] == again.attrs["config"]


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_resume_after_interrupt_is_bitwise_identical(tmp_path, monkeypatch, suffix):
    reference = dustsim.simulate(**SMALL)
    out = tmp_path / f"run{suffix}"
    original = FrameStore.write_frame

    def failing(self, index, frame, progress):
        if index == 6:
            raise Interrupt
        original(self, index, frame, progress)

    monkeypatch.setattr(FrameStore, "write_frame", failing)
    with pytest.raises(Interrupt):
        dustsim.simulate(**SMALL, output=out)
    assert not out.exists(), "an interrupted run must not leave its output"
    assert FrameStore(partial_path(out)).read_progress()["frames_written"] == 6
    monkeypatch.setattr(FrameStore, "write_frame", original)
    resumed = dustsim.simulate(output=out, resume=True)
    assert np.array_equal(resumed.position.values, reference.position.values)
    assert not partial_path(out).exists()
    for key in ("config", "seed", "process"):
        assert resumed.attrs[key] == reference.attrs[key]


def test_resume_refuses_a_different_run(tmp_path, monkeypatch):
    out = tmp_path / "run.zarr"
    monkeypatch.setattr(FrameStore, "write_frame", lambda *a: (_ for _ in ()).throw(Interrupt()))
    with pytest.raises(Interrupt):
        dustsim.simulate(**SMALL, output=out)
    monkeypatch.undo()
    with pytest.raises(dustsim.errors.ConfigError, match="n = 10 differs"):
        dustsim.simulate(output=out, resume=True, n=10)


def test_killed_cli_run_resumes_identically(tmp_path):
    """SIGKILL a real `dustsim simulate` mid-run, resume it, compare with a clean run."""
    args = [
        "--init",
        "gmm",
        "--n",
        "200000",
        "--process",
        "vp",
        "--steps",
        "400",
        "--record-every",
        "2",
        "--seed",
        "3",
        "--no-progress",
    ]
    out = tmp_path / "killed.zarr"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "dustsim", "simulate", *args, "-o", str(out)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    store = FrameStore(partial_path(out))
    deadline = time.time() + 120
    while time.time() < deadline:
        progress = store.read_progress()
        if progress and progress["frames_written"] >= 5:
            break
        if proc.poll() is not None:
            pytest.fail("the run finished before it could be interrupted")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    done = subprocess.run(
        [sys.executable, "-m", "dustsim", "simulate", *args, "-o", str(out), "--resume"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    clean = tmp_path / "clean.zarr"
    subprocess.run(
        [sys.executable, "-m", "dustsim", "simulate", *args, "-o", str(clean)], check=True, capture_output=True
    )
    assert np.array_equal(xr.open_zarr(out).position.values, xr.open_zarr(clean).position.values)


WELLS = {
    "init": "gaussian",
    "n": 2_001,
    "dim": 1,
    "process": "brownian",
    "steps": 60,
    "dt": 1e-3,
    "record_every": 10,
    "seed": 5,
    "potential": [{"name": "double-well", "barrier": 1.0, "width": 1.0}],
}


def test_physical_run_resumes_identically_and_refuses_other_physics(tmp_path, monkeypatch):
    reference = dustsim.simulate(**WELLS)
    out = tmp_path / "wells.zarr"
    original = FrameStore.write_frame

    def failing(self, index, *args, **kwargs):
        if index == 3:
            raise Interrupt
        original(self, index, *args, **kwargs)

    monkeypatch.setattr(FrameStore, "write_frame", failing)
    with pytest.raises(Interrupt):
        dustsim.simulate(**WELLS, output=out)
    monkeypatch.setattr(FrameStore, "write_frame", original)
    other = [{"name": "double-well", "barrier": 2.0, "width": 1.0}]
    with pytest.raises(dustsim.errors.ConfigError, match="potential"):
        dustsim.simulate(output=out, resume=True, potential=other)
    # the same physics given again (unresolved form) is accepted
    resumed = dustsim.simulate(output=out, resume=True, potential=WELLS["potential"])
    assert np.array_equal(resumed.position.values, reference.position.values)
