"""Model-side entropy with exact Gaussian / Gaussian-mixture stand-ins for a learned model."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats_helpers import assert_within_se

from analysis import GaussianMixture
from analysis.gmm import mixture_entropy
from analysis.model import immse_entropy, kl_routes, model_entropy, snr_denoiser
from dustsim.errors import ConfigError
from dustsim.processes import make_process

MIX = GaussianMixture([[0.8, 0.0], [0.0, 0.8], [-0.8, 0.0], [0.0, -0.8]], 0.15, [0.1, 0.2, 0.3, 0.4])


def test_immse_entropy_of_a_gaussian():
    s, d = 0.5, 3
    x = s * np.random.default_rng(11).standard_normal((4000, d))

    def denoise(z, snr):  # E[x | sqrt(snr) x + eps] for x ~ N(0, s^2 I)
        return math.sqrt(snr) * s**2 * z / (1.0 + snr * s**2)

    est, curve = immse_entropy(denoise, x)
    exact = 0.5 * d * math.log(2 * math.pi * math.e * s**2)
    assert_within_se(est.value, exact, est.se, "I-MMSE entropy of a Gaussian")
    exact_mmse = d * s**2 / (1 + curve["snr"] * s**2)
    assert_within_se(curve["mmse"], exact_mmse, curve["mmse_se"], "MMSE curve")


def test_immse_entropy_of_a_mixture_matches_monte_carlo():
    x, _ = MIX.sample_labelled(10_000, seed=1)
    est, _ = immse_entropy(lambda z, snr: MIX.posterior_mean(z, math.sqrt(snr), 1.0), x, seed=2)
    exact = mixture_entropy(MIX, 400_000, seed=3)
    assert_within_se(est.value, exact.value, math.hypot(est.se, exact.se), "I-MMSE entropy of a mixture")


def test_snr_denoiser_from_a_diffusion_denoiser():
    vp = make_process("vp")
    via_time = snr_denoiser(MIX.denoiser(vp), vp, (1e-4, 1.0))
    z = np.random.default_rng(4).standard_normal((100, 2))
    for snr in (1e-3, 0.5, 30.0, 5e3):
        np.testing.assert_allclose(via_time(z, snr), MIX.posterior_mean(z, math.sqrt(snr), 1.0), rtol=1e-7, atol=1e-9)
    with pytest.raises(ConfigError, match="outside"):
        via_time(z, 1e9)


def test_model_entropy_from_a_log_likelihood():
    x, _ = MIX.sample_labelled(50_000, seed=5)
    est = model_entropy(MIX.logpdf, x)
    exact = mixture_entropy(MIX, 400_000, seed=6)
    assert_within_se(est.value, exact.value, math.hypot(est.se, exact.se), "model entropy")
    # data from elsewhere: cross-entropy >= entropy
    wide = GaussianMixture(MIX.means, 0.3, MIX.weights)
    assert model_entropy(MIX.logpdf, wide.sample(20_000, seed=7)).value > mixture_entropy(wide, 100_000).value
    with pytest.raises(ConfigError, match="one value per point"):
        model_entropy(lambda p: np.zeros(3), x)


def test_kl_to_the_prior_by_three_routes():
    vp = make_process("vp")
    x, _ = MIX.sample_labelled(8_000, seed=8)
    routes = kl_routes(
        x, vp, score=MIX.score_function(vp), denoiser=lambda z, snr: MIX.posterior_mean(z, math.sqrt(snr), 1.0)
    )
    h = mixture_entropy(MIX, 400_000, seed=9)
    y, _ = MIX.sample_labelled(400_000, seed=10)
    cross = 0.5 * np.sum(y**2, axis=1) + math.log(2 * math.pi)
    exact = -h.value + cross.mean()
    for route in routes["route"].values:
        se = math.hypot(float(routes["kl_se"].sel(route=route)), h.se)
        assert_within_se(float(routes["kl"].sel(route=route)), exact, se, f"KL route {route}")
    with pytest.raises(ConfigError, match="invariant"):
        kl_routes(x, make_process("ve", sigma_max=3.0))
