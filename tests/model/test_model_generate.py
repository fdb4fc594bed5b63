"""Generation, restoration and sliced score matching end to end, in the trajectory schema."""

from __future__ import annotations

import math
import tomllib

import numpy as np
import pytest
import torch
from stats_helpers import Z

import dustsim
from dustsim.errors import ConfigError
from dustsim.model import (
    ForwardSDE,
    GaussianMixture,
    NetworkConfig,
    TrainConfig,
    energy_distance,
    energy_noise_floor,
    hold_mask,
    model_log_likelihood,
    register_sde,
    restore,
    sample,
    train,
)
from dustsim.schema import trajectory_attrs, trajectory_config, trajectory_dataset, trajectory_process

SMALL_NET = NetworkConfig(width=64, depth=2)


def small_training(**kw):
    return TrainConfig(
        **{
            "steps": 500,
            "batch_size": 256,
            "warmup": 100,
            "seed": 0,
            "device": "cpu",
            "checkpoint_every": 0,
            "threads": 1,
            **kw,
        }
    )


def test_sample_returns_a_reverse_trajectory(tiny_model, tmp_path):
    ds = sample(tiny_model, 300, {"name": "euler-maruyama", "steps": 40, "record_every": 10}, seed=5)
    dustsim.validate_trajectory(ds)
    assert ds.attrs["direction"] == "reverse" and ds.attrs["process"] == "vp" and ds.attrs["seed"] == 5
    assert list(ds.step.values) == [0, 10, 20, 30, 40, 41]
    t = ds.time.values
    assert t[0] == pytest.approx(tiny_model.t_max) and t[-2] == pytest.approx(1e-3) and t[-1] == 0.0
    assert np.all(np.diff(t) < 0)
    process = trajectory_process(ds)
    assert process is not None and process.name == "vp"
    np.testing.assert_allclose(ds.alpha.values, process.alpha(t))
    np.testing.assert_allclose(ds.sigma.values, process.sigma(t))
    cfg = trajectory_config(ds)
    assert cfg["n"] == 300 and cfg["sampler"]["name"] == "euler-maruyama" and cfg["sampler"]["seed"] == 5
    assert cfg["model"]["kind"] == "denoiser" and cfg["artifact"]["kind"] == "gmm"
    GaussianMixture.from_trajectory(ds)  # the exact law of the target survives for the analysis
    again = sample(tiny_model, 300, {"name": "euler-maruyama", "steps": 40, "record_every": 10}, seed=5)
    np.testing.assert_array_equal(ds.position.values, again.position.values)
    path = tmp_path / "gen.nc"
    dustsim.save_dataset(ds, path)
    back = dustsim.open_trajectory(path)
    np.testing.assert_array_equal(back.position.values, ds.position.values)
    assert tomllib.loads(back.attrs["config"]) == cfg


@pytest.mark.parametrize("name", ["pc", "heun", "rk45", "ddim"])
def test_every_sampler_runs_through_sample(tiny_model, name):
    ds = sample(tiny_model, 50, {"name": name, "steps": 6, "record_every": 3}, seed=1)
    assert ds.sizes["time"] == 4 and np.all(np.isfinite(ds.position.values))
    assert ds.attrs["sampler"] == name


def test_sample_quality_of_the_small_model(tiny_model, gmm_trajectory):
    """Even the 10-second model's samples are ten times closer to the mixture than the prior is."""
    mixture = GaussianMixture.from_trajectory(gmm_trajectory)
    n = 2000
    ds = sample(tiny_model, n, {"name": "heun", "steps": 40, "record_every": 0}, seed=2)
    rng = np.random.default_rng(3)
    floor, floor_sd = energy_noise_floor(mixture.sample, n, n, rng, repeats=8)
    ed = energy_distance(ds.position.isel(time=-1).values, mixture.sample(n, rng))
    noise = energy_distance(ds.position.isel(time=0).values, mixture.sample(n, rng))
    assert noise > floor + 100 * floor_sd  # the prior is far from the data...
    assert ed < noise / 10  # ...the samples are not (the quality run is scripts/bench/train.py)


def bootstrap_se(x, y, rng, repeats=10):
    """Bootstrap standard error of energy_distance(x, y)."""
    values = [
        energy_distance(x[rng.integers(len(x), size=len(x))], y[rng.integers(len(y), size=len(y))])
        for _ in range(repeats)
    ]
    return float(np.std(values, ddof=1))


def assert_closer(gen, end, ref, rng, what):
    """gen is closer to ref than end is, in energy distance, by Z bootstrap standard errors."""
    ed_gen, ed_end = energy_distance(gen, ref), energy_distance(end, ref)
    se = math.hypot(bootstrap_se(gen, ref, rng), bootstrap_se(end, ref, rng))
    assert ed_end - ed_gen > Z * se, f"{what}: ED {ed_gen:.4g} (generated) vs {ed_end:.4g} (noised), SE {se:.2g}"
    return ed_gen, ed_end


def restoration_z(ds):
    """Paired z-score of the per-particle improvement (noised error - restored error)."""
    gain = ds.noised_error.values - ds.restored_error.values
    return gain.mean() / (gain.std(ddof=1) / math.sqrt(len(gain)))


@pytest.mark.parametrize("init", ["swiss-roll", "text:DUST"])
def test_restoration_from_t03_brings_particles_back(init):
    traj = dustsim.simulate(init=init, n=2000, process="vp", steps=100, record_every=10, seed=2)
    model = train(traj, network=SMALL_NET, training=small_training()).model
    for sampler, steps in (("euler-maruyama", 100), ("heun", 30)):
        out = restore(model, traj, 0.3, {"name": sampler, "steps": steps, "record_every": 0}, seed=4)
        dustsim.validate_trajectory(out)
        assert out.attrs["direction"] == "restoration"
        np.testing.assert_array_equal(out.position.isel(time=0).values, traj.position.sel(time=0.3).values)
        assert out.time.values[0] == pytest.approx(0.3) and out.time.values[-1] == 0.0
        np.testing.assert_allclose(out.original_position.values, traj.position.isel(time=0).values)
        # each particle closer to its own original, by many standard errors...
        assert restoration_z(out) > Z, (init, sampler, out.attrs["mean_displacement_restored"])
        # ...and the cloud as a whole much closer to the artifact
        assert out.attrs["energy_distance_restored"] < 0.25 * out.attrs["energy_distance_noised"]


def test_inpainting_holds_what_it_is_told(tiny_model, gmm_trajectory):
    n, d = gmm_trajectory.sizes["particle"], gmm_trajectory.sizes["spatial"]
    x0 = gmm_trajectory.position.isel(time=0).values
    mask = hold_mask(n, d, axes=["x"], particles=np.arange(10))
    assert mask[:, 0].all() and mask[:10].all() and not mask[10:, 1].any()
    out = restore(
        tiny_model, gmm_trajectory, 0.3, {"name": "euler-maruyama", "steps": 30, "record_every": 0}, hold=mask, seed=1
    )
    final = out.position.isel(time=-1).values
    np.testing.assert_array_equal(final[mask], x0[mask].astype(final.dtype))
    assert not np.allclose(final[~mask], x0[~mask])
    assert out.held.values.sum() == mask.sum()
    # knowing x helps to find y: the free coordinate is closer than without holding
    free = restore(tiny_model, gmm_trajectory, 0.3, {"name": "euler-maruyama", "steps": 30, "record_every": 0}, seed=1)
    err_held = np.abs(final[10:, 1] - x0[10:, 1])
    err_free = np.abs(free.position.isel(time=-1).values[10:, 1] - x0[10:, 1])
    gain = err_free - err_held
    assert gain.mean() > Z * gain.std(ddof=1) / math.sqrt(len(gain))
    with pytest.raises(ConfigError, match=r"no frame at t = 0\.33"):
        restore(tiny_model, gmm_trajectory, 0.33)
    with pytest.raises(ConfigError, match="unknown axis"):
        hold_mask(n, d, axes=["w"])


def test_sliced_score_matching_on_a_recorded_trajectory(gmm_trajectory):
    """Kernel-free training from the frames alone; reverse samples are much closer to the artifact than the noise."""
    res = train(gmm_trajectory, network=SMALL_NET, training=small_training(objective="ssm"))
    model = res.model
    assert model.kind == "score" and model.t_min == pytest.approx(0.05) and model.t_max == pytest.approx(1.0)
    x0 = gmm_trajectory.position.isel(time=0).values
    x_end = gmm_trajectory.position.isel(time=-1).values
    gen = sample(model, 2000, {"name": "euler-maruyama", "steps": 200, "record_every": 0, "denoise": False}, seed=3)
    assert gen.time.values[-1] == pytest.approx(0.05)
    rng = np.random.default_rng(0)
    assert_closer(gen.position.isel(time=-1).values, x_end[:2000], x0[:2000], rng, "SSM, recorded VP trajectory")
    # the likelihood works on score models too (prior: a kernel density estimate of the last frame)
    ll = model_log_likelihood(model, x0[:50], seed=0)
    assert ll.attrs["t_min"] == pytest.approx(0.05) and np.all(np.isfinite(ll.log_likelihood.values))


def double_well_trajectory(n=2000, steps=400, dt=0.005, record_every=20, seed=0):
    """A non-linear process (no closed-form kernel), simulated here with Euler–Maruyama in numpy.

    dX = -grad U dt + sqrt(2 D) dW with U = (x^2 - 1)^2 + y^2 / 2, D = 0.5, from two
    tight clusters; stands in for the physical double well of the simulator.
    """
    rng = np.random.default_rng(seed)
    x = np.where(rng.random(n)[:, None] < 0.5, [-1.0, 0.6], [1.0, -0.6]) + 0.05 * rng.standard_normal((n, 2))
    frames, times = [x.copy()], [0.0]
    for k in range(1, steps + 1):
        force = np.stack([-4 * x[:, 0] * (x[:, 0] ** 2 - 1), -x[:, 1]], axis=1)
        x = x + force * dt + math.sqrt(2 * 0.5 * dt) * rng.standard_normal(x.shape)
        if k % record_every == 0:
            frames.append(x.copy())
            times.append(k * dt)
    config = (
        f'init = "points"\nn = {n}\ndim = 2\nsteps = {steps}\nt_end = {steps * dt:g}\nseed = {seed}\n\n'
        '[process]\nname = "test-double-well"\nD = 0.5\n'
    )
    attrs = trajectory_attrs(process="test-double-well", direction="forward", seed=seed, config=config, history="test")
    return trajectory_dataset(np.stack(frames), time=times, step=np.arange(len(times)) * record_every, attrs=attrs)


def double_well_sde(table):
    D = float(table["D"])

    def drift(x, t):
        return torch.stack([-4 * x[:, 0] * (x[:, 0] ** 2 - 1), -x[:, 1]], dim=1)

    return ForwardSDE(drift=drift, diffusion=lambda t: math.sqrt(2 * D), name="test-double-well")


def test_sliced_score_matching_reverses_a_nonlinear_process(monkeypatch):
    """SSM on a double well with a registered drift: the reverse SDE brings the dust back.

    With the equilibrium baseline the network learns only the departure from the Boltzmann
    score, and the reverse dynamics stays confining in the tails of the quartic potential.
    """
    from dustsim.model import sde as sde_module

    traj = double_well_trajectory()
    assert trajectory_process(traj) is None
    with pytest.raises(ConfigError, match="denoising score matching needs a linear process"):
        train(traj, training=small_training(objective="dsm"))
    monkeypatch.setitem(sde_module._SDE_FACTORIES, "test-double-well", double_well_sde)
    model = train(traj, network=SMALL_NET, training=small_training()).model  # auto -> ssm
    assert model.kind == "score" and model.meta["baseline"] == "equilibrium"
    gen = sample(model, 2000, {"name": "euler-maruyama", "steps": 200, "record_every": 0}, seed=1)
    assert "alpha" not in gen.coords and gen.time.values[-1] == pytest.approx(model.t_min)
    first = traj.position.sel(time=model.t_min, method="nearest").values
    end = traj.position.isel(time=-1).values
    assert_closer(gen.position.isel(time=-1).values, end, first, np.random.default_rng(1), "SSM, double well")


def test_unknown_drift_is_a_clear_error(monkeypatch):
    from dustsim.model import sde as sde_module

    traj = double_well_trajectory(n=300, steps=40, record_every=10)
    model = train(traj, network=NetworkConfig(width=8, depth=1), training=small_training(steps=5)).model
    assert model.meta["baseline"] == "none"
    with pytest.raises(ConfigError, match="no known drift"):
        sample(model, 10, {"steps": 3})
    monkeypatch.setattr(sde_module, "_SDE_FACTORIES", {})
    register_sde("test-double-well", double_well_sde)
    model._sde = None
    assert sample(model, 10, {"steps": 3}, seed=0).sizes["particle"] == 10
