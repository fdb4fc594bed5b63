"""Fourier position features: their values, the network option, and old checkpoints loading unchanged."""

from __future__ import annotations

import math

import pytest
import torch

from dustsim.errors import ConfigError
from dustsim.model import NetworkConfig, make_network
from dustsim.model.checkpoint import build_module
from dustsim.model.networks import PositionFeatures


def test_features_are_sines_and_cosines_at_geometric_frequencies():
    feats = PositionFeatures(2, frequencies=3, max_frequency=100.0)
    assert feats.size == 2 * 7
    torch.testing.assert_close(feats.frequencies, torch.tensor([1.0, 10.0, 100.0]))
    x = torch.tensor([[0.3, -0.2]])
    out = feats(x)
    assert out.shape == (1, 14)
    torch.testing.assert_close(out[0, :2], x[0])
    # layout: [x, sin(w x_j) for (j, k) axis-major, cos(...)]
    assert out[0, 2 + 1].item() == pytest.approx(math.sin(10.0 * 0.3), abs=1e-6)
    assert out[0, 8 + 3].item() == pytest.approx(math.cos(1.0 * -0.2), abs=1e-6)
    assert torch.equal(PositionFeatures(2, 0)(x), x)
    assert "frequencies" not in feats.state_dict()  # fixed by the config, not a weight


def test_network_option_and_checkpoint_compatibility():
    net = make_network("resmlp", 2, fourier_features=4)
    assert net.inp.in_features == 2 * 9
    assert make_network("mlp", 3, fourier_features=2)(torch.zeros(5, 3), torch.zeros(1)).shape == (5, 3)
    with pytest.raises(ConfigError, match="fourier_features"):
        NetworkConfig(fourier_features=-1).validate()
    # a checkpoint written before the option existed has no key: it means no features
    old = {
        "kind": "denoiser",
        "dim": 2,
        "sigma_data": 1.0,
        "data_mean": [0.0, 0.0],
        "network": {"kind": "resmlp", "width": 8, "depth": 1, "embedding_dim": 8, "activation": "silu"},
    }
    module = build_module(old)
    assert module.net.inp.in_features == 2
    new = build_module({**old, "network": {**old["network"], "fourier_features": 3}})
    assert new.net.inp.in_features == 14
