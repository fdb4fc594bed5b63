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


def test_damping_is_what_the_noise_does_to_each_feature():
    """A damped feature equals the undamped one averaged over the noise: E[sin(w (u + s Z))] = a sin(w u).

    Checked against the trapezoidal rule for that average on a fine grid of Z (an independent
    computation of the Gaussian convolution), for several noise levels and all frequencies."""
    import numpy as np

    feats = PositionFeatures(2, frequencies=4, max_frequency=30.0, damping=True)
    x = torch.tensor([[0.3, -1.1], [2.0, 0.05], [-0.7, 0.4]], dtype=torch.float64)
    nodes = np.linspace(-12.0, 12.0, 4001)  # E[f(Z)] for Z ~ N(0, 1): the rule is spectrally accurate here
    weights = np.exp(-0.5 * nodes**2) * (nodes[1] - nodes[0]) / math.sqrt(2 * math.pi)
    plain = PositionFeatures(2, frequencies=4, max_frequency=30.0)(x).numpy()
    for s in (0.0, 0.01, 0.1, 0.5):
        got = feats(x, torch.full((3,), s, dtype=torch.float64)).numpy()
        shifted = (x[None] + s * torch.from_numpy(nodes)[:, None, None]).reshape(-1, 2)
        noisy = PositionFeatures(2, 4, 30.0)(shifted).numpy().reshape(len(nodes), 3, -1)
        expected = np.tensordot(weights, noisy, axes=1)
        np.testing.assert_allclose(got, expected, atol=1e-9)
        np.testing.assert_array_equal(got[:, :2], x.numpy())  # the positions themselves are not damped
    # closed without a noise level (nothing says which frequencies the data has); open with damping off
    np.testing.assert_array_equal(feats(x).numpy()[:, 2:], 0.0)
    np.testing.assert_array_equal(feats(x).numpy()[:, :2], x.numpy())
    off = PositionFeatures(2, frequencies=4, max_frequency=30.0, damping=False)
    np.testing.assert_array_equal(off(x, torch.full((3,), 0.5, dtype=torch.float64)).numpy(), plain)


def test_denoiser_gives_the_network_its_noise_level_in_input_units():
    from dustsim.model.preconditioning import Denoiser

    seen = {}

    class Probe(torch.nn.Module):
        takes_noise_std = True

        def forward(self, x, c_noise, noise_std=None):
            seen["noise_std"] = noise_std
            return torch.zeros_like(x)

    class Plain(torch.nn.Module):  # a user's network with the documented two-argument signature
        def forward(self, x, c_noise):
            return torch.zeros_like(x)

    level = torch.tensor([0.1, 2.0, 30.0])
    Denoiser(Probe(), sigma_data=1.5)(torch.zeros(3, 2), level)
    torch.testing.assert_close(seen["noise_std"], level / torch.sqrt(level**2 + 1.5**2))
    assert Denoiser(Plain(), sigma_data=1.5)(torch.zeros(3, 2), level).shape == (3, 2)


def test_checkpoints_from_before_damping_load_undamped():
    base = {
        "kind": "denoiser",
        "dim": 2,
        "sigma_data": 1.0,
        "data_mean": [0.0, 0.0],
        "network": {"kind": "resmlp", "width": 8, "depth": 1, "embedding_dim": 8, "fourier_features": 3},
    }
    assert build_module(base).net.features.damping is False
    assert NetworkConfig().fourier_damping is True  # today's default
    damped = build_module({**base, "network": {**base["network"], "fourier_damping": True}})
    assert damped.net.features.damping is True
    with pytest.raises(ConfigError, match="fourier_damping"):
        NetworkConfig(fourier_damping="yes").validate()  # type: ignore[arg-type]
