"""Samplers on an exactly known score: each reproduces the data law; the PF-ODE is deterministic and invertible.

The score is the analytic score of a Gaussian mixture under the process, so any error is
the sampler's. Sample statistics are compared with their exact expectations under
``p_{t_min}`` within Z = 4.5 standard errors (``stats_helpers``):

- ``E r_k(X) = w_k`` for the posterior responsibilities ``r_k`` (component weights),
- ``E X . grad log p(X) = -d`` (integration by parts: the spread of every component),
- ``E |X|^2 = sum_k w_k (|m_k|^2 + d s_k^2)``,
- ``E log p(X)`` (minus the entropy; reference from 4e5 exact draws).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from stats_helpers import assert_within_se

from dustsim.errors import ConfigError
from dustsim.model import (
    ForwardSDE,
    decode,
    encode,
    linear_sde,
    log_likelihood,
    mixture_score,
    sample_ddim,
    sample_euler_maruyama,
    sample_heun,
    sample_ode_adaptive,
    sample_predictor_corrector,
    time_grid,
    tweedie_denoise,
)
from dustsim.processes import make_process

N = 4000
T_MIN = 1e-3


def check_law(x, law, rng, what):
    """Compare samples x with the exact mixture law (see the module docstring)."""
    x = np.asarray(x, dtype=np.float64)
    n, d = x.shape
    assert np.all(np.isfinite(x)), what
    r = law.responsibilities(x)
    assert_within_se(r.mean(0), law.weights, r.std(0, ddof=1) / math.sqrt(n), f"{what}: component weights")
    ip = (x * law.score(x)).sum(1)
    assert_within_se(ip.mean(), -d, ip.std(ddof=1) / math.sqrt(n), f"{what}: E x.score")
    sq = (x**2).sum(1)
    exact_sq = float((law.weights * ((law.means**2).sum(1) + d * law.stds**2)).sum())
    assert_within_se(sq.mean(), exact_sq, sq.std(ddof=1) / math.sqrt(n), f"{what}: E|x|^2")
    ref = law.logpdf(law.sample(400_000, rng))
    lp = law.logpdf(x)
    se = math.hypot(lp.std(ddof=1) / math.sqrt(n), ref.std(ddof=1) / math.sqrt(len(ref)))
    assert_within_se(lp.mean(), ref.mean(), se, f"{what}: E log p")


SAMPLERS = [
    ("euler-maruyama", sample_euler_maruyama, 300, {}),
    ("pc", sample_predictor_corrector, 200, {"snr": 0.1}),
    ("heun", sample_heun, 60, {}),
    ("rk45", sample_ode_adaptive, 2, {"rtol": 1e-5, "atol": 1e-6}),
    ("ddim", sample_ddim, 1000, {}),  # first order: 60 steps leave a visible bias (Heun's are second order)
]


@pytest.mark.parametrize(("name", "sampler", "steps", "options"), SAMPLERS, ids=[s[0] for s in SAMPLERS])
def test_sampler_reproduces_vp_mixture(mixture, name, sampler, steps, options):
    process = make_process("vp")
    sde = linear_sde(process)
    gen = torch.Generator().manual_seed(11)
    x = torch.randn((N, 2), generator=gen, dtype=torch.float64)  # p_1 is N(0, I) to 1e-5
    ts = time_grid(1.0, T_MIN, steps, process=process, spacing="edm")
    out = sampler(mixture_score(mixture, process), sde, x, ts, generator=gen, **options)
    check_law(out, mixture.transported(process, T_MIN), np.random.default_rng(1), name)


@pytest.mark.parametrize("name", ["heun", "euler-maruyama"])
def test_sampler_off_centre_ou(mixture, name):
    """Non-zero trap centre c: drift f (x - c), prior N(c, D/k)."""
    process = make_process("ou", k=2.0, D=0.5, centre=0.3)
    sde = linear_sde(process)
    gen = torch.Generator().manual_seed(5)
    c, s = process.stationary()
    x = c + s * torch.randn((N, 2), generator=gen, dtype=torch.float64)
    fn = sample_heun if name == "heun" else sample_euler_maruyama
    ts = time_grid(4.0, T_MIN, 80 if name == "heun" else 400, process=process, spacing="edm")
    out = fn(mixture_score(mixture, process), sde, x, ts, generator=gen)
    check_law(out, mixture.transported(process, T_MIN), np.random.default_rng(2), f"ou {name}")


def test_tweedie_step_reaches_the_data_law(mixture):
    """Heun to t_min, then Tweedie's E[X0 | X_tmin]: the law of X0 (the posterior shrinks little at t_min)."""
    process = make_process("vp")
    score = mixture_score(mixture, process)
    gen = torch.Generator().manual_seed(3)
    x = torch.randn((N, 2), generator=gen, dtype=torch.float64)
    t_min = 1e-4
    out = sample_heun(score, linear_sde(process), x, time_grid(1.0, t_min, 80, process=process, spacing="edm"))
    out = tweedie_denoise(score, process, out, t_min)
    check_law(out, mixture, np.random.default_rng(4), "ddim + tweedie")


def test_pf_ode_is_deterministic_and_invertible(mixture):
    process = make_process("vp")
    sde, score = linear_sde(process), mixture_score(mixture, process)
    x = torch.as_tensor(mixture.transported(process, T_MIN).sample(300, np.random.default_rng(0)))
    ts = time_grid(1.0, T_MIN, 40, process=process, spacing="edm")
    z = torch.randn((300, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    a = sample_heun(score, sde, z.clone(), ts, generator=torch.Generator().manual_seed(1))
    b = sample_heun(score, sde, z.clone(), ts, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, b)
    encoded = encode(score, sde, x, T_MIN, 1.0, rtol=1e-8, atol=1e-8)
    assert encoded.std() > 0.5  # really went somewhere: p_1 is N(0, I)
    again = encode(score, sde, x, T_MIN, 1.0, rtol=1e-8, atol=1e-8)
    assert torch.equal(encoded, again)
    decoded = decode(score, sde, encoded, 1.0, T_MIN, rtol=1e-8, atol=1e-8)
    assert torch.max(torch.abs(decoded - x)).item() < 1e-5


def test_stochastic_samplers_follow_the_generator(mixture):
    process = make_process("vp")
    sde, score = linear_sde(process), mixture_score(mixture, process)
    x = torch.randn((50, 2), generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ts = time_grid(1.0, T_MIN, 20, process=process)
    for fn in (sample_euler_maruyama, sample_predictor_corrector):
        a = fn(score, sde, x.clone(), ts, generator=torch.Generator().manual_seed(1))
        b = fn(score, sde, x.clone(), ts, generator=torch.Generator().manual_seed(1))
        c = fn(score, sde, x.clone(), ts, generator=torch.Generator().manual_seed(2))
        assert torch.equal(a, b) and not torch.equal(a, c)


def test_callback_sees_every_step_and_project_is_applied(mixture):
    process = make_process("vp")
    sde, score = linear_sde(process), mixture_score(mixture, process)
    x = torch.zeros((10, 2), dtype=torch.float64)
    ts = time_grid(1.0, T_MIN, 7, process=process)
    seen = []
    out = sample_heun(
        score,
        sde,
        x,
        ts,
        callback=lambda info: seen.append((info["i"], info["t"])),
        project=lambda x, t: torch.where(torch.arange(2) == 0, torch.full_like(x, 0.25), x),
    )
    assert [i for i, _ in seen] == list(range(7))
    np.testing.assert_allclose([t for _, t in seen], ts[1:])
    assert torch.all(out[:, 0] == 0.25)


def test_pf_ode_likelihood_matches_the_exact_density(mixture):
    """With the exact score the ODE likelihood is the exact log p_eps (mean to 1e-3 nats)."""
    process = make_process("vp")
    sde, score = linear_sde(process), mixture_score(mixture, process)
    eps = 1e-5
    x = torch.as_tensor(mixture.sample(400, np.random.default_rng(9)))

    def prior(z):
        return -0.5 * (z**2).sum(-1) - math.log(2 * math.pi)

    exact = mixture.transported(process, eps).logpdf(x.numpy())
    res = log_likelihood(score, sde, x, t_min=eps, t_max=1.0, prior_log_density=prior, divergence="exact")
    assert abs(res["log_likelihood"].mean() - exact.mean()) < 1e-3
    assert np.max(np.abs(res["log_likelihood"] - exact)) < 2e-2
    hutch = log_likelihood(
        score,
        sde,
        x,
        t_min=eps,
        t_max=1.0,
        prior_log_density=prior,
        divergence="hutchinson",
        generator=torch.Generator().manual_seed(0),
    )
    diff = hutch["log_likelihood"] - exact
    assert_within_se(diff.mean(), 0.0, diff.std(ddof=1) / math.sqrt(len(diff)), "Hutchinson log-likelihood")


def test_time_grids():
    process = make_process("vp")
    for spacing in ("uniform", "edm"):
        ts = time_grid(1.0, 1e-3, 50, process=process, spacing=spacing)
        assert ts[0] == 1.0 and ts[-1] == 1e-3 and len(ts) == 51 and np.all(np.diff(ts) < 0)
    levels = process.sigma(ts) / process.alpha(ts)
    ramp = levels ** (1 / 7)
    np.testing.assert_allclose(np.diff(ramp), np.diff(ramp)[0], rtol=1e-3)  # EDM: uniform in level^(1/rho)
    with pytest.raises(ConfigError, match="edm"):
        time_grid(1.0, 0.1, 5, spacing="edm")
    with pytest.raises(ConfigError, match="t_start > t_stop"):
        time_grid(0.1, 1.0, 5)


def test_ddim_needs_a_linear_process(mixture):
    sde = ForwardSDE(drift=lambda x, t: -x, diffusion=lambda t: 1.0, name="custom")
    with pytest.raises(ConfigError, match="linear process"):
        sample_ddim(lambda x, t: -x, sde, torch.zeros(3, 2), [1.0, 0.5])
    with pytest.raises(ConfigError, match="decreasing"):
        sample_heun(lambda x, t: -x, sde, torch.zeros(3, 2), [0.5, 1.0])
