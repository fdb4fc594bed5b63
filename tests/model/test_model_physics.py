"""The score model on dustsim's own physical dust: sliced score matching reverses a double well."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_model_generate import SMALL_NET, assert_closer, small_training

import dustsim
from dustsim.errors import ConfigError
from dustsim.model import load_model, sample, train
from dustsim.model.sde import physical_sde, sde_from_trajectory
from dustsim.physics.potentials import make_potentials, total_force
from dustsim.schema import trajectory_config, trajectory_process

DOUBLE_WELL = {
    "init": "gmm",
    "artifact": {"means": [[-1.0, 0.6], [1.0, -0.6]], "stds": [0.05, 0.05]},
    "n": 2000,
    "process": "brownian",
    "process_params": {"D": 0.5},
    "potential": [{"name": "double-well", "barrier": [1.0, 0.0], "width": 1.0}, {"name": "harmonic", "k": [0.0, 1.0]}],
    "dt": 0.005,
    "steps": 400,
    "record_every": 20,
    "seed": 0,
    "dtype": "float64",
}


@pytest.fixture(scope="module")
def double_well():
    return dustsim.simulate(**DOUBLE_WELL)


def test_the_model_sees_the_simulators_drift(double_well):
    sde = sde_from_trajectory(double_well)
    assert sde.process is None and "double-well" in sde.name
    x = np.random.default_rng(0).normal(size=(50, 2))
    force = total_force(make_potentials(DOUBLE_WELL["potential"], 2), x)
    mu = 0.5  # D / kT
    drift = sde.drift(torch.as_tensor(x), 0.3).numpy()
    np.testing.assert_allclose(drift, mu * force, rtol=1e-12, atol=1e-12)
    assert sde.diffusion(0.3) == pytest.approx(1.0)  # sqrt(2 D)


def test_sliced_score_matching_reverses_the_physical_double_well(double_well, tmp_path):
    assert trajectory_process(double_well) is None
    train(double_well, tmp_path / "dw.pt", network=SMALL_NET, training=small_training())  # auto -> SSM
    model = load_model(tmp_path / "dw.pt", device="cpu")  # the saved model knows the physical drift
    assert model.kind == "score" and model.meta["baseline"] == "equilibrium"
    assert "double-well" in model.sde.name
    gen = sample(model, 2000, {"name": "euler-maruyama", "steps": 200, "record_every": 0}, seed=1)
    first = double_well.position.sel(time=model.t_min, method="nearest").values
    end = double_well.position.isel(time=-1).values
    assert_closer(gen.position.isel(time=-1).values, end, first, np.random.default_rng(1), "SSM, dustsim double well")


def test_unsupported_physics_is_refused_clearly(double_well):
    config = trajectory_config(double_well)
    config["interaction"] = {"name": "wca", "sigma": 0.1}
    with pytest.raises(ConfigError, match="interacting dust"):
        physical_sde(config)
