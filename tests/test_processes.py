"""Noise processes: SDE identities, exact kernels, parameter validation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustsim.errors import ConfigError
from dustsim.processes import PROCESSES, make_process

ALL = [
    make_process("brownian", D=0.7),
    make_process("ou", k=2.0, D=0.5, centre=0.3),
    make_process("ve", sigma_min=0.01, sigma_max=5.0),
    make_process("vp"),
    make_process("sub-vp"),
    make_process("vp-cosine"),
    make_process("fm"),
]
IDS = [p.name for p in ALL]
times = st.floats(0.05, 0.95)


@pytest.mark.parametrize("process", ALL, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(t=times)
def test_moments_solve_the_sde(process, t):
    """d alpha/dt = f alpha and d sigma^2/dt = 2 f sigma^2 + g^2 (central differences)."""
    h = 1e-5
    dalpha = (process.alpha(t + h) - process.alpha(t - h)) / (2 * h)
    dvar = (process.sigma(t + h) ** 2 - process.sigma(t - h) ** 2) / (2 * h)
    f, g = process.drift_coefficient(t), process.diffusion(t)
    assert dalpha == pytest.approx(f * process.alpha(t), rel=1e-6, abs=1e-8)
    assert dvar == pytest.approx(2 * f * process.sigma(t) ** 2 + g**2, rel=1e-6, abs=1e-8)


@pytest.mark.parametrize("process", ALL, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(s=st.floats(0.0, 0.45), u=st.floats(0.0, 0.45), t=st.floats(0.0, 0.1))
def test_kernels_compose(process, s, u, t):
    """Chapman-Kolmogorov for Gaussian kernels: s -> u -> t equals s -> t."""
    u = s + u
    t = u + t
    a_su, b_su = process.transition(s, u)
    a_ut, b_ut = process.transition(u, t)
    a_st, b_st = process.transition(s, t)
    assert a_st == pytest.approx(a_su * a_ut, rel=1e-12)
    assert b_st**2 == pytest.approx(a_ut**2 * b_su**2 + b_ut**2, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize("process", ALL, ids=IDS)
def test_kernel_from_zero_is_the_marginal(process):
    t = np.linspace(0.01, 1.0, 50)
    a, b = process.transition(0.0, t)
    np.testing.assert_allclose(a, process.alpha(t), rtol=1e-12)
    np.testing.assert_allclose(b, process.sigma(t), rtol=1e-10)
    assert process.alpha(0.0) == pytest.approx(1.0) and process.sigma(0.0) == pytest.approx(0.0, abs=1e-12)


def test_small_steps_keep_precision():
    """B^2 of a tiny step is computed without cancellation."""
    vp = make_process("vp")
    _, b = vp.transition(0.5, 0.5 + 1e-9)
    assert b**2 == pytest.approx(vp.beta(0.5) * 1e-9, rel=1e-6)
    cos = make_process("vp-cosine")
    _, b = cos.transition(0.5, 0.5 + 1e-9)
    assert b**2 == pytest.approx(cos.beta(0.5) * 1e-9, rel=1e-6)


def test_schedules_match_their_formulas():
    vp = make_process("vp", beta_min=0.1, beta_max=20.0)
    t = 0.37
    assert vp.alpha(t) == pytest.approx(np.exp(-0.5 * (0.1 * t + 0.5 * 19.9 * t**2)))
    assert make_process("sub-vp").sigma(t) == pytest.approx(1 - vp.alpha(t) ** 2)
    cos = make_process("vp-cosine", s=0.008)
    f = lambda x: np.cos((x + 0.008) / 1.008 * np.pi / 2) ** 2  # noqa: E731
    assert cos.alpha(t) ** 2 == pytest.approx(f(t) / f(0))
    ve = make_process("ve", sigma_min=0.01, sigma_max=50)
    assert ve.noise_level(t) == pytest.approx(0.01 * 5000**t)
    assert ve.sigma(t) ** 2 == pytest.approx(ve.noise_level(t) ** 2 - 0.01**2)
    ou = make_process("ou", k=1.5, D=0.2)
    assert ou.stationary() == (0.0, pytest.approx(np.sqrt(0.2 / 1.5)))
    assert vp.sigma(1.0) ** 2 + vp.alpha(1.0) ** 2 == pytest.approx(1.0)


def test_conditional_score_is_gaussian_score():
    vp = make_process("vp")
    x0 = np.array([[0.5, -0.2]])
    x = np.array([[0.1, 0.3]])
    t = 0.4
    expected = -(x - vp.alpha(t) * x0) / vp.sigma(t) ** 2
    np.testing.assert_allclose(vp.conditional_score(x, x0, t), expected)


@pytest.mark.parametrize(
    ("name", "params", "message"),
    [
        ("nope", {}, "unknown process"),
        ("brownian", {"D": -1.0}, "D must be a positive number"),
        ("ou", {"k": 0.0}, "k must be a positive number"),
        ("vp", {"gamma": 1.0}, "has no parameter 'gamma'"),
        ("ve", {"sigma_min": 1.0, "sigma_max": 0.5}, "must exceed"),
        ("vp", {"beta_max": "big"}, "must be a number"),
        # class-level fields are not parameters (they used to reach the constructor: TypeError)
        ("vp", {"name": "ou"}, "has no parameter 'name'; its parameters are: beta_max, beta_min$"),
        ("ve", {"t_max": 0.5}, "has no parameter 't_max'"),
        ("ot", {"sequence_params": 1}, "has no parameter 'sequence_params'"),
    ],
)
def test_invalid_processes_are_rejected(name, params, message):
    with pytest.raises(ConfigError, match=message):
        make_process(name, **params)


def test_registry_names():
    assert set(PROCESSES) == {"brownian", "ou", "ve", "vp", "sub-vp", "vp-cosine", "fm", "edm", "ot"}
    with pytest.raises(ConfigError, match="defined on t in"):
        make_process("vp-cosine").check_end_time(1.5)


def test_flow_matching_is_the_linear_interpolant():
    """fm: X_t = (1 - t) X_0 + t Z exactly, so the law at t = 1 is N(0, I) whatever X_0 is."""
    fm = make_process("fm")
    t = np.linspace(0.0, 1.0, 11)
    np.testing.assert_allclose(fm.alpha(t), 1.0 - t, rtol=0, atol=1e-15)
    np.testing.assert_allclose(fm.sigma(t), t, rtol=0, atol=1e-15)
    rng = np.random.default_rng(3)
    x0, z = rng.normal(2.0, 0.1, size=(200_000, 1)), rng.normal(size=(200_000, 1))
    xt = (1 - 0.7) * x0 + 0.7 * z  # the interpolant's law at t = 0.7, drawn directly
    mean, std = fm.marginal(np.full((1, 1), 2.0), 0.7)
    n = len(xt)
    assert abs(xt.mean() - mean[0, 0]) < 4.5 * xt.std() / np.sqrt(n)
    assert abs(xt.var() - (std[0, 0] ** 2 + 0.09 * 0.01)) < 4.5 * xt.var() * np.sqrt(2 / n)
    a, b = fm.transition(0.2, 1.0)
    assert a == pytest.approx(0.0, abs=1e-15) and b == pytest.approx(1.0, rel=1e-12)
    with pytest.raises(ConfigError, match=r"\[0, 1.0\]"):
        fm.check_end_time(1.2)
