"""When training stops: the convergence rule, the caps, the recorded reason, resume, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import dustsim
from dustsim.cli import main
from dustsim.errors import ConfigError
from dustsim.model import NetworkConfig, TrainConfig, read_checkpoint, train
from dustsim.model import training as training_module
from dustsim.model.stopping import converged, default_steps, smoothed
from dustsim.model.training import learning_rate, loss_log_path, partial_checkpoint

# the stopping rule on a plain tiny MLP (fourier_features = 0: it converges within a few hundred steps)
TINY_NET = NetworkConfig(width=16, depth=1, fourier_features=0)


def cfg(**kw):
    base = {
        "steps": 400,
        "batch_size": 64,
        "warmup": 5,
        "seed": 3,
        "device": "cpu",
        "log_every": 10,
        "checkpoint_every": 0,
        "threads": 1,
        "validate_every": 10,
        "validation_points": 512,
        "patience": 60,
        "min_improvement": 0.02,
        "smoothing": 3,
    }
    return TrainConfig(**{**base, **kw})


def test_convergence_rule():
    steps = np.arange(1, 21) * 100
    falling = 1 + np.exp(-steps / 500.0)
    assert not converged(steps, falling, patience=500, min_improvement=1e-3, smoothing=3)
    flat = np.ones(20)
    assert converged(steps, flat, patience=500, min_improvement=1e-3, smoothing=3)
    assert not converged(steps, flat, patience=0, min_improvement=1e-3, smoothing=3)  # 0: never
    assert not converged(steps[:4], flat[:4], patience=500, min_improvement=1e-3, smoothing=3)  # too short
    # the gain is what counts, not the loss's size or sign: a constant offset or a shift below zero
    # (SSM losses) changes nothing
    for offset in (0.0, 1e3, -1e3):
        assert converged(steps, falling + offset, patience=500, min_improvement=0.2, smoothing=3)
        assert not converged(steps, falling + offset, patience=500, min_improvement=0.01, smoothing=3)
    # linear progress (a constant gain per window) never converges under a small threshold
    assert not converged(steps, -0.01 * np.arange(20), patience=500, min_improvement=0.05, smoothing=3)
    # a restart window: only evaluations from the origin on count
    assert not converged(steps, flat, patience=500, min_improvement=1e-3, smoothing=3, origin=1700)
    assert converged(steps, flat, patience=500, min_improvement=1e-3, smoothing=3, origin=1500)
    np.testing.assert_allclose(smoothed([1.0, 3.0, 5.0, 7.0], 2), [1.0, 2.0, 4.0, 6.0])


def test_cooldown_schedule():
    c = TrainConfig(lr=1e-2, warmup=10, steps=1000)
    top = learning_rate(300, c)
    assert learning_rate(300, c, (300, 100)) == pytest.approx(top)  # continuous where it starts
    assert learning_rate(350, c, (300, 100)) == pytest.approx(1e-4 + 0.5 * (top - 1e-4))
    assert learning_rate(400, c, (300, 100)) == pytest.approx(1e-4) == learning_rate(900, c, (300, 100))
    assert learning_rate(299, c, (300, 100)) == learning_rate(299, c)


def test_auto_schedule_holds_the_rate_until_the_cooldown(gmm_trajectory):
    """lr_schedule auto: the rate stays at lr after the warm-up; its only decay is the cooldown,
    which a step cap starts at COOLDOWN_AT of the cap (and which ends at the cap, at lr / 100)."""
    from dustsim.model.training import COOLDOWN_AT, lr_schedule

    budget = TrainConfig(lr=1e-2, warmup=10, max_time=60)
    assert budget.steps is None and lr_schedule(budget) == "constant"
    assert learning_rate(10, budget) == learning_rate(10**6, budget) == pytest.approx(1e-2)
    assert learning_rate(500, budget, (400, 100)) == pytest.approx(1e-4)  # its decay is the cooldown
    assert lr_schedule(TrainConfig(steps=1000, lr_schedule="cosine")) == "cosine"
    res = train(gmm_trajectory, network=TINY_NET, training=cfg(steps=200, patience=0, log_every=1))
    assert res.model.meta["stop"]["reason"] == "steps" and res.model.step == 200
    steps, lr = res.log.step.values, res.log.lr.values
    top = res.model.meta["training"]["lr"]
    np.testing.assert_allclose(lr[(steps > 5) & (steps <= COOLDOWN_AT * 200)], top)
    assert np.all(np.diff(lr[steps > COOLDOWN_AT * 200]) < 0)  # annealed ...
    assert lr[-1] < 0.02 * top  # ... to about lr / 100 at the cap


def test_time_budgeted_training_uses_the_budget(gmm_trajectory, monkeypatch):
    """With max_time and no steps, training runs past the default step cap until the budget ends it,
    at lr until the cooldown at COOLDOWN_AT of the budget, then annealed.

    The loop's clock is replaced by one that advances 1 ms per reading, so the run does not
    depend on the machine's speed or load.
    """
    import types

    ticks = iter(range(10**9))
    monkeypatch.setattr(training_module, "time", types.SimpleNamespace(perf_counter=lambda: next(ticks) * 1e-3))
    n_train = 2700  # 3000 particles, 10 % held out
    cap = default_steps(n_train, 2)
    budget = 2.0
    res = train(
        gmm_trajectory,
        network=NetworkConfig(width=4, depth=1, embedding_dim=4),
        training=cfg(steps=None, patience=0, max_time=budget, batch_size=8, validate_every=500, log_every=20),
    )
    stop = res.model.meta["stop"]
    assert stop["reason"] == "max_time" and "steps" not in res.model.meta["training"]
    assert res.model.step > cap, (res.model.step, cap)  # a tiny net: far more steps than the default cap
    lr = res.log.lr.values
    top = res.model.meta["training"]["lr"]
    assert lr.max() == pytest.approx(top)
    wall = res.log.wall_time.values
    steady = (res.log.step.values > 5) & (wall < 0.75 * budget)
    np.testing.assert_allclose(lr[steady], top)  # constant before the cooldown
    assert lr[-1] < 0.5 * top  # annealed by the end of the budget


def test_default_steps_rule():
    assert default_steps(100_000, 2) == 4000
    assert default_steps(50_000, 2) < default_steps(100_000, 2) < default_steps(1_000_000, 2)
    assert default_steps(100_000, 8) == 8000
    assert default_steps(10, 2) == 1000 and default_steps(10**9, 64) == 20000


def test_stops_when_converged_deterministically(tmp_path, gmm_trajectory):
    out = tmp_path / "m.pt"
    a = train(gmm_trajectory, out, network=TINY_NET, training=cfg())
    stop = a.model.meta["stop"]
    assert stop["reason"] == "converged" and a.model.step == stop["step"] < 400
    log = xr.open_dataset(loss_log_path(out))
    assert log.attrs["stop_reason"] == "converged" and log.attrs["stop_step"] == a.model.step
    assert int(log.validation_step.values[-1]) == a.model.step == int(log.step.values[-1])
    assert np.all(np.isfinite(log.validation_loss.values)) and np.all(log.validation_se.values > 0)
    assert read_checkpoint(out)["meta"]["stop"]["reason"] == "converged"
    # the stop came after a cooldown: the learning rate was annealed to lr / 100
    assert log.lr.values[-1] < 0.05 * a.model.meta["training"]["lr"] < log.lr.values.max()
    held = a.model.meta["validation"]
    assert held["held_out_particles"] == 300 and held["training_particles"] == 2700
    # deterministic: the same seed stops at the same step with the same validation curve
    b = train(gmm_trajectory, network=TINY_NET, training=cfg())
    assert b.model.step == a.model.step
    np.testing.assert_array_equal(b.log.validation_loss.values, a.log.validation_loss.values)


def test_caps_stop_training(gmm_trajectory):
    res = train(gmm_trajectory, network=TINY_NET, training=cfg(max_time=1e-9))
    assert res.model.meta["stop"]["reason"] == "max_time" and res.model.step == 1
    res = train(gmm_trajectory, network=TINY_NET, training=cfg(steps=25, patience=0))
    assert res.model.meta["stop"]["reason"] == "steps" and res.model.step == 25
    assert list(res.log.validation_step.values) == [0, 10, 20, 25]  # 0: the untrained reference


def test_resume_through_convergence_is_bit_exact(tmp_path, monkeypatch, gmm_trajectory):
    straight = train(gmm_trajectory, tmp_path / "a.pt", network=TINY_NET, training=cfg(checkpoint_every=20))
    stop_step = straight.model.step
    assert stop_step > 40
    real_save = training_module.save_checkpoint

    def interrupting_save(state, path):
        real_save(state, path)
        if str(path).endswith(".partial") and state["step"] == 40:
            raise KeyboardInterrupt

    monkeypatch.setattr(training_module, "save_checkpoint", interrupting_save)
    out = tmp_path / "b.pt"
    with pytest.raises(KeyboardInterrupt):
        train(gmm_trajectory, out, network=TINY_NET, training=cfg(checkpoint_every=20))
    monkeypatch.setattr(training_module, "save_checkpoint", real_save)
    resumed = train(gmm_trajectory, out, network=TINY_NET, training=cfg(checkpoint_every=20), resume=True)
    assert not partial_checkpoint(out).exists()
    assert resumed.model.step == stop_step and resumed.model.meta["stop"]["reason"] == "converged"
    a, b = straight.model.module.state_dict(), resumed.model.module.state_dict()
    assert all(np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)
    np.testing.assert_array_equal(straight.log.validation_loss.values, resumed.log.validation_loss.values)


def test_bad_training_settings():
    for value in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ConfigError, match="validation_fraction must be a number in"):
            TrainConfig(validation_fraction=value).validate()
    with pytest.raises(ConfigError, match="max_time must be a number > 0"):
        TrainConfig(max_time=0).validate()


def run(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_stops_and_reports_why_and_rejects_bad_input(tmp_path, gmm_trajectory, capsys):
    traj = tmp_path / "dust.nc"
    dustsim.save_dataset(gmm_trajectory, traj)
    out = tmp_path / "m.pt"
    code, stdout, err = run(
        "train",
        traj,
        "-o",
        out,
        "--width",
        16,
        "--depth",
        1,
        "--batch-size",
        64,
        "--max-time",
        0.5,
        "--steps",
        100000,
        "--device",
        "cpu",
        "--no-progress",
        capsys=capsys,
    )
    assert code == 0, err
    assert "--max-time reached" in stdout and "validation loss" in stdout
    assert xr.open_dataset(loss_log_path(out)).attrs["stop_reason"] == "max_time"
    before = sorted(p.name for p in tmp_path.iterdir())
    bad = tmp_path / "bad.pt"
    cases = [
        (("train", traj, "-o", bad, "--max-time", 0), "max_time must be a number > 0"),
        (("train", traj, "-o", bad, "--max-time", -3), "max_time must be a number > 0"),
        (("train", traj, "-o", bad, "--validation-fraction", 1), "validation_fraction must be a number in (0, 1)"),
        (("train", traj, "-o", bad, "--validation-fraction", 0), "validation_fraction must be a number in (0, 1)"),
        (("simulate", "--process", "nope", "--n", 10, "-o", tmp_path / "x.nc"), "nope"),
    ]
    for args, message in cases:
        code, _, err = run(*args, capsys=capsys)
        assert code == 2, (args, err)
        assert message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == before
