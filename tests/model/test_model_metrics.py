"""Metrics and the exact mixture law against independent implementations (scipy, POT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import stats

from dustsim.model import GaussianMixture, energy_distance, score_error, sliced_wasserstein
from dustsim.model.mixture import mixture_score, torch_score
from dustsim.processes import make_process


def test_energy_distance_matches_scipy_in_1d():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=300), rng.normal(0.3, 1.2, size=200)
    # scipy's energy_distance is the square root of 2E|X-Y| - E|X-X'| - E|Y-Y'| (empirical laws)
    assert energy_distance(x[:, None], y[:, None]) == pytest.approx(stats.energy_distance(x, y) ** 2, rel=1e-10)
    assert energy_distance(x[:, None], x[:, None]) == pytest.approx(0.0, abs=1e-12)


def test_sliced_wasserstein_is_exact_in_1d_and_agrees_with_pot():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(400, 1)), rng.normal(0.5, 2.0, size=(250, 1))
    assert sliced_wasserstein(x, y, n_projections=3, p=1) == pytest.approx(
        stats.wasserstein_distance(x[:, 0], y[:, 0]), rel=1e-10
    )
    ot = pytest.importorskip("ot")
    assert sliced_wasserstein(x, y, n_projections=3, p=2) == pytest.approx(
        ot.sliced_wasserstein_distance(x, y, n_projections=3, p=2, seed=0), rel=1e-8
    )
    x2, y2 = rng.normal(size=(500, 2)), rng.normal(0.4, 1.0, size=(500, 2))
    ours = sliced_wasserstein(x2, y2, n_projections=4000, rng=2)
    theirs = ot.sliced_wasserstein_distance(x2, y2, n_projections=4000, seed=3)
    assert ours == pytest.approx(theirs, rel=0.03)  # two Monte Carlo estimates over directions


def test_mixture_density_and_score(mixture):
    x = mixture.sample(50, np.random.default_rng(2))
    dens = sum(
        w * stats.multivariate_normal(m, s**2 * np.eye(2)).pdf(x)
        for m, s, w in zip(mixture.means, mixture.stds, mixture.weights, strict=True)
    )
    np.testing.assert_allclose(mixture.logpdf(x), np.log(dens), rtol=1e-10)
    h = 1e-6
    fd = np.stack([(mixture.logpdf(x + h * e) - mixture.logpdf(x - h * e)) / (2 * h) for e in np.eye(2)], 1)
    np.testing.assert_allclose(mixture.score(x), fd, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(torch_score(mixture, torch.as_tensor(x)).numpy(), mixture.score(x), rtol=1e-12)
    process = make_process("ou", k=1.0, D=0.3, centre=0.5)
    law = mixture.transported(process, 0.7)
    a, s = process.alpha(0.7), process.sigma(0.7)
    np.testing.assert_allclose(law.means, 0.5 + a * (mixture.means - 0.5))
    np.testing.assert_allclose(law.stds**2, a**2 * mixture.stds**2 + s**2)


def test_mixture_from_config_and_score_error_of_the_exact_score(mixture):
    cfg = {
        "artifact": {
            "kind": "gmm",
            "means": mixture.means.tolist(),
            "stds": mixture.stds.tolist(),
            "weights": mixture.weights.tolist(),
            "scale": 1.0,
        }
    }
    again = GaussianMixture.from_config(cfg)
    np.testing.assert_allclose(again.means, mixture.means)
    process = make_process("vp")
    err = score_error(mixture_score(mixture, process), mixture, process, [0.01, 0.5], n=500)
    assert np.all(err.mse.values < 1e-8) and np.all(err.reference.values > 0)
