"""The simulator against exact results: MSD, OU relaxation, Gaussian-mixture marginals.

Tolerances are standard errors (see ``stats_helpers``); Euler-Maruyama is compared with
the exact law of the *discrete* scheme, and separately with the continuous law within the
scheme's own discretisation bias.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy import stats
from stats_helpers import assert_within_se

import dustsim
from dustsim.processes import make_process
from dustsim.stepping import affine_coefficients


def discrete_alpha_sigma(process, times, stepper):
    """alpha and sigma of X_t | X_0 for the scheme on this grid, at every grid point."""
    A, B, _ = affine_coefficients(process, times, stepper, 1, np.dtype(np.float64))
    alpha, var = [1.0], [0.0]
    for a, b in zip(A[:, 0], B[:, 0], strict=True):
        alpha.append(alpha[-1] * a)
        var.append(a * a * var[-1] + b * b)
    return np.array(alpha), np.sqrt(var)


@pytest.mark.parametrize("dim", [1, 2, 3])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_free_brownian_msd(dim, dtype):
    D, n = 0.35, 40_000
    ds = dustsim.simulate(
        init="point",
        n=n,
        dim=dim,
        process="brownian",
        process_params={"D": D},
        steps=200,
        t_end=2.0,
        record_every=40,
        seed=11,
        dtype=dtype,
    )
    msd = (ds.position.astype(np.float64) ** 2).sum("spatial").mean("particle").values[1:]
    t = ds.time.values[1:]
    exact = 2 * dim * D * t
    assert_within_se(msd, exact, exact * math.sqrt(2 / (dim * n)), "MSD")


@pytest.mark.parametrize("stepper", ["exact", "euler"])
def test_brownian_from_an_artifact_keeps_its_mean(stepper):
    ds = dustsim.simulate(init="moons", n=20_000, process="brownian", steps=50, seed=2, stepper=stepper)
    x0, x1 = ds.position.isel(time=0).values.astype(float), ds.position.isel(time=-1).values.astype(float)
    disp = x1 - x0
    assert_within_se(disp.mean(0), 0.0, math.sqrt(2.0) / math.sqrt(len(disp)), "mean displacement")
    assert_within_se(disp.var(0), 2.0, 2.0 * math.sqrt(2 / len(disp)), "displacement variance")


def test_ou_relaxation_and_stationary_variance():
    k, D, x_start, n = 1.5, 0.5, 2.0, 50_000
    ds = dustsim.simulate(
        init="point",
        artifact={"at": x_start},
        n=n,
        dim=2,
        process="ou",
        process_params={"k": k, "D": D},
        steps=600,
        t_end=6.0,
        record_every=30,
        seed=5,
        dtype="float64",
    )
    t = ds.time.values
    x = ds.position.values
    mean, var = x.mean(axis=1), x.var(axis=1, ddof=1)
    sig2 = D / k * (1 - np.exp(-2 * k * t))
    exact_mean = x_start * np.exp(-k * t)
    assert_within_se(mean[1:], exact_mean[1:, None], np.sqrt(sig2[1:, None] / n), "OU mean")
    assert_within_se(var[1:], sig2[1:, None], sig2[1:, None] * math.sqrt(2 / (n - 1)), "OU variance")
    # the last frames are stationary: N(0, D/k)
    assert_within_se(var[-1], D / k, D / k * math.sqrt(2 / (n - 1)), "stationary variance")
    np.testing.assert_allclose(ds.alpha.values, np.exp(-k * t))
    np.testing.assert_allclose(ds.sigma.values, np.sqrt(sig2))


def test_ou_euler_matches_its_discrete_law_and_the_continuum():
    k, D, n, dt = 1.0, 1.0, 50_000, 0.02
    process = make_process("ou", k=k, D=D)
    ds = dustsim.simulate(
        init="point",
        artifact={"at": 1.0},
        n=n,
        dim=2,
        process="ou",
        process_params={"k": k, "D": D},
        dt=dt,
        t_end=8.0,
        record_every=50,
        stepper="euler",
        seed=9,
        dtype="float64",
    )
    alpha_e, sigma_e = discrete_alpha_sigma(process, np.arange(401) * dt, "euler")
    frames = ds.step.values
    x = ds.position.values
    var = x.var(axis=1, ddof=1)
    assert_within_se(
        x.mean(axis=1)[1:], alpha_e[frames][1:, None], sigma_e[frames][1:, None] / math.sqrt(n), "Euler mean"
    )
    assert_within_se(
        var[1:],
        sigma_e[frames][1:, None] ** 2,
        sigma_e[frames][1:, None] ** 2 * math.sqrt(2 / (n - 1)),
        "Euler variance",
    )
    # Euler's stationary variance is D / (k (1 - k dt / 2)): 1% above D/k here
    stationary_euler = D / (k * (1 - k * dt / 2))
    assert sigma_e[-1] ** 2 == pytest.approx(stationary_euler, rel=1e-6)
    assert abs(stationary_euler - D / k) < 0.011


def mixture_cdf(x, direction, means, stds, weights, alpha, sigma):
    m = alpha * means @ direction
    s = np.sqrt(alpha**2 * stds**2 + sigma**2) * np.linalg.norm(direction)
    return np.sum(weights * stats.norm.cdf((x[:, None] - m) / s), axis=1)


def mixture_moments(means, stds, weights, alpha, sigma):
    d = means.shape[1]
    m = weights @ means
    second = sum(w * (np.outer(mu, mu) + s**2 * np.eye(d)) for mu, s, w in zip(means, stds, weights, strict=True))
    return alpha * m, alpha**2 * (second - np.outer(m, m)) + sigma**2 * np.eye(d)


@pytest.mark.parametrize("stepper", ["exact", "euler"])
def test_gaussian_mixture_marginals_under_vp(stepper):
    n, steps = 100_000, 500
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "radius": 1.0, "std": 0.15},
        n=n,
        process="vp",
        steps=steps,
        record_every=100,
        stepper=stepper,
        seed=21,
        dtype="float64",
    )
    art = dustsim.SimulationConfig.from_toml(ds.attrs["config"]).artifact
    means, stds, weights = np.array(art["means"]), np.array(art["stds"]), np.array(art["weights"])
    process = make_process("vp")
    alpha_d, sigma_d = discrete_alpha_sigma(process, np.linspace(0, 1, steps + 1), stepper)
    rng = np.random.default_rng(0)
    directions = rng.standard_normal((3, 2))
    for i, step in enumerate(ds.step.values):
        if step == 0:
            continue
        x = ds.position.values[i]
        alpha, sigma = alpha_d[step], sigma_d[step]
        if stepper == "exact":
            assert alpha == pytest.approx(process.alpha(step / steps), rel=1e-12)
        else:  # Euler's law differs from the continuum only by its O(dt) bias
            assert abs(alpha - process.alpha(step / steps)) < 0.01
            assert abs(sigma - process.sigma(step / steps)) < 0.01
        mean, cov = mixture_moments(means, stds, weights, alpha, sigma)
        assert_within_se(x.mean(0), mean, np.sqrt(np.diag(cov) / n), f"mean at step {step}")
        centred = x - x.mean(0)
        products = centred[:, :, None] * centred[:, None, :]
        cov_se = products.std(axis=0) / math.sqrt(n)
        assert_within_se(np.cov(x.T), cov, cov_se, f"covariance at step {step}")
        for u in directions:  # one-sample KS of projections against the exact mixture
            cdf = functools.partial(
                mixture_cdf, direction=u, means=means, stds=stds, weights=weights, alpha=alpha, sigma=sigma
            )
            p = stats.kstest(x @ u, cdf).pvalue
            assert p > 1e-4 / 3, f"KS p = {p:.2g} at step {step}"
        # two-sample test against exact mixture samples drawn independently
        comp = rng.choice(len(weights), size=n, p=weights)
        exact = alpha * means[comp] + np.sqrt(alpha**2 * stds[comp, None] ** 2 + sigma**2) * rng.standard_normal((n, 2))
        assert stats.ks_2samp(x @ directions[0], exact @ directions[0]).pvalue > 1e-4


def test_vp_reaches_standard_normal():
    n = 100_000
    ds = dustsim.simulate(init="text:DUST", n=n, process="vp", steps=100, seed=4, dtype="float64")
    x = ds.position.isel(time=-1).values
    assert_within_se(x.mean(0), 0.0, 1 / math.sqrt(n), "mean")
    centred = x - x.mean(0)
    cov_se = (centred[:, :, None] * centred[:, None, :]).std(axis=0) / math.sqrt(n)
    assert_within_se(np.cov(x.T), np.eye(2), cov_se, "covariance")
    assert stats.kstest(x[:, 0], "norm").pvalue > 1e-4


@pytest.mark.parametrize("process", ["sub-vp", "vp-cosine"])
def test_other_vp_schedules_follow_their_kernel(process):
    n = 60_000
    ds = dustsim.simulate(
        init="gaussian", artifact={"std": 0.5}, n=n, process=process, steps=50, record_every=10, seed=3, dtype="float64"
    )
    var = ds.position.values.var(axis=1, ddof=1)
    exact = 0.25 * ds.alpha.values**2 + ds.sigma.values**2
    assert_within_se(var, exact[:, None], exact[:, None] * math.sqrt(2 / (n - 1)), f"{process} variance")


def test_ve_sets_sigma_max_from_the_data():
    ds = dustsim.simulate(init="uniform", n=5000, process="ve", steps=100, seed=1)
    params = dustsim.SimulationConfig.from_toml(ds.attrs["config"]).process_params
    # the uniform square [-1, 1]^2 has diameter 2 sqrt(2)
    assert params["sigma_max"] == pytest.approx(1.01 * 2 * math.sqrt(2), rel=0.02)
    x = ds.position.isel(time=-1).values - ds.position.isel(time=0).values
    sigma = ds.sigma.values[-1]
    assert_within_se(x.var(0), sigma**2, sigma**2 * math.sqrt(2 / len(x)), "VE displacement variance")
