"""Reliability of the score-model commands: pre-flight checks and dry runs (issue 16)."""

from __future__ import annotations

import pytest

from dustsim.cli import main


def run(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def traj_path(tmp_path_factory, gmm_trajectory):
    import dustsim

    path = tmp_path_factory.mktemp("traj") / "gmm.nc"
    dustsim.save_dataset(gmm_trajectory, path)
    return path


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
def test_restore_rejects_a_non_finite_time(tmp_path, tiny_model_path, traj_path, capsys, value):
    code, _, err = run(
        "restore", tiny_model_path, traj_path, "--from-time", value, "-o", tmp_path / "r.nc", capsys=capsys
    )
    assert code == 2 and f"--from-time must be a finite time, got {value}" in err, err
    assert list(tmp_path.iterdir()) == []


def test_model_command_dry_runs_write_nothing(tmp_path, tiny_model_path, traj_path, capsys):
    cases = [
        (
            ("sample", tiny_model_path, "--n", 100, "--device", "cpu", "-o", tmp_path / "g.nc", "--dry-run"),
            "heun, 100 steps",  # the default sampler (was euler-maruyama, 500 steps: blurrier)
        ),
        (
            (
                "restore",
                tiny_model_path,
                traj_path,
                "--from-time",
                0.3,
                "--device",
                "cpu",
                "-o",
                tmp_path / "r.nc",
                "--dry-run",
            ),
            "frame t = 0.3 of 3000 particles",
        ),
        (("train", traj_path, "-o", tmp_path / "m.pt", "--device", "cpu", "--dry-run"), "21 frames of 3000"),
    ]
    for args, fragment in cases:
        code, out, err = run(*args, capsys=capsys)
        assert code == 0, err
        assert fragment in out, out
    assert list(tmp_path.iterdir()) == []
    code, _, err = run(
        "restore", tiny_model_path, traj_path, "--from-time", 0.33, "-o", tmp_path / "r.nc", "--dry-run", capsys=capsys
    )
    assert code == 2 and "no frame at t = 0.33" in err


def test_default_samplers_of_sample_and_restore(tmp_path, tiny_model_path, traj_path, capsys):
    """sample defaults to Heun-100, restore to Euler-Maruyama-500; a named sampler takes its own step default."""
    from dustsim.cli import model as cli_model
    from dustsim.model.config import DEFAULT_SAMPLER_STEPS, RESTORE_SAMPLER, SAMPLE_SAMPLER

    sample = ("sample", tiny_model_path, "--n", 100, "--device", "cpu", "-o", tmp_path / "g.nc", "--dry-run")
    restore = ("restore", tiny_model_path, traj_path, "--from-time", 0.3, "--device", "cpu", "-o", tmp_path / "r.nc")
    cases = [
        (sample, f"{SAMPLE_SAMPLER}, {DEFAULT_SAMPLER_STEPS[SAMPLE_SAMPLER]} steps"),
        ((*sample, "--sampler", "em"), "euler-maruyama, 500 steps"),
        ((*sample, "--sampler", "heun", "--steps", 7), "heun, 7 steps"),
        ((*restore, "--dry-run"), f"{RESTORE_SAMPLER}, 500 steps"),
        ((*restore, "--dry-run", "--sampler", "heun"), "heun, 100 steps"),
    ]
    for args, fragment in cases:
        code, out, err = run(*args, capsys=capsys)
        assert code == 0, err
        assert fragment in out, (args, out)
    assert list(tmp_path.iterdir()) == []
    # the help text names the same defaults (written out so that the CLI does not import torch)
    for command, default in ((cli_model.sample_command, SAMPLE_SAMPLER), (cli_model.restore_command, RESTORE_SAMPLER)):
        helps = {p.name: p.help for p in command.params}
        assert f"[default: {default}]" in helps["sampler_name"]


def test_non_checkpoint_models_are_named(tmp_path, traj_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_text("hello\n")
    for model, kind in ((junk, "it is text"), (traj_path, "HDF5 / netCDF-4 file")):
        code, _, err = run("sample", model, "--n", 5, "-o", tmp_path / "o.nc", capsys=capsys)
        assert code == 2 and kind in err and len(err.strip().splitlines()) == 1, err


def test_likelihood_of_a_points_file_uses_the_training_transformation(tmp_path, capsys):
    """A model trained on standardised points evaluates a held-out file in the file's units:
    log p_file(x) = log p_model((x - centre) / spread) - sum log spread."""
    import numpy as np
    import xarray as xr

    import dustsim
    from dustsim.model import NetworkConfig, TrainConfig, load_model, model_log_likelihood, train

    rng = np.random.default_rng(0)
    x = np.column_stack([rng.normal(0, 1e-3, 1200), rng.normal(5e3, 2e3, 1200)])
    np.save(tmp_path / "train.npy", x[:1000])
    np.save(tmp_path / "test.npy", x[1000:])
    traj = dustsim.simulate(init=f"points:{tmp_path / 'train.npy'}", process="vp", steps=50, record_every=5, seed=1)
    table = dustsim.SimulationConfig.from_toml(traj.attrs["config"]).artifact
    assert table["standardize"] == "axes"
    train(
        traj,
        tmp_path / "m.pt",
        network=NetworkConfig(width=16, depth=1),
        training=TrainConfig(steps=50, batch_size=128, warmup=5, seed=0, device="cpu", checkpoint_every=0, threads=1),
    )
    code, _, err = run(
        "likelihood",
        tmp_path / "m.pt",
        tmp_path / "test.npy",
        "--seed",
        3,
        "--device",
        "cpu",
        "-o",
        tmp_path / "ll.nc",
        capsys=capsys,
    )
    assert code == 0, err
    assert "note:" in err and "standardised" in err
    got = xr.open_dataset(tmp_path / "ll.nc")["log_likelihood"].values
    centre, spread = np.asarray(table["centre"]), np.asarray(table["spread"])
    model = load_model(tmp_path / "m.pt", "cpu")
    direct = model_log_likelihood(model, (x[1000:] - centre) / spread, seed=3)["log_likelihood"].values
    np.testing.assert_allclose(got, direct - np.log(spread).sum(), rtol=0, atol=1e-6)


def _run_process(*args, fault=None):
    import os
    import subprocess
    import sys
    from pathlib import Path

    import dustsim

    env = {
        **os.environ,
        "PYTHONPATH": str(Path(dustsim.__file__).resolve().parents[1]),
        "NUMBA_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
    }
    env.pop("DUSTSIM_FAULT", None)
    if fault:
        env["DUSTSIM_FAULT"] = fault
    return subprocess.run([sys.executable, "-m", "dustsim", *map(str, args)], capture_output=True, text=True, env=env)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "fault"), [("train", "write:complete@2"), ("entropy", "write:complete@4"), ("sample", "write:complete")]
)
def test_model_commands_killed_then_rerun_are_bitwise_identical(tmp_path, tiny_model_path, traj_path, command, fault):
    import numpy as np
    import torch

    import dustsim

    args = {
        "train": (
            [
                "train",
                traj_path,
                "--steps",
                60,
                "--width",
                16,
                "--depth",
                1,
                "--batch-size",
                128,
                "--checkpoint-every",
                20,
                "--seed",
                0,
                "--threads",
                1,
                "--device",
                "cpu",
            ],
            "m.pt",
            ["--resume"],
        ),
        "entropy": (["entropy", traj_path, "--max-particles", 400], "e.nc", ["--resume"]),
        "sample": (["sample", tiny_model_path, "--n", 100, "--steps", 10, "--seed", 1, "--device", "cpu"], "g.nc", []),
    }[command]
    base, name, again = args
    ref_dir, run_dir = tmp_path / "ref", tmp_path / "run"
    ref_dir.mkdir()
    run_dir.mkdir()
    assert _run_process(*base, "-o", ref_dir / name).returncode == 0
    assert _run_process(*base, "-o", run_dir / name, fault=fault).returncode == 137
    rerun = _run_process(*base, "-o", run_dir / name, *again)
    assert rerun.returncode == 0, rerun.stderr
    assert sorted(p.name for p in run_dir.iterdir()) == sorted(p.name for p in ref_dir.iterdir())
    if name.endswith(".pt"):
        a, b = (torch.load(d / name, weights_only=True)["model"] for d in (ref_dir, run_dir))
        assert all(torch.equal(a[k], b[k]) for k in a)
    else:
        var = "entropy" if command == "entropy" else "position"
        a, b = (dustsim.open_dataset(d / name)[var].values for d in (ref_dir, run_dir))
        np.testing.assert_array_equal(a, b)
