"""The speed-accuracy relations of Ikeda et al. (arXiv 2407.04495) as stated: complete estimation
(Eqs. 77-83), the geodesic lower bound (Eq. 92) and incomplete estimation (Eq. 100 / F5)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustsim.errors import ConfigError
from dustsim.mixture import GaussianMixture
from dustsim.processes import OptimalTransport, make_process
from dustsim.schedule_theory.speed_accuracy import end_time, perturbed_score
from dustsim.schedule_theory.speed_accuracy_relation import (
    _chi2_from_quantiles,
    complete_estimation,
    incomplete_estimation,
    pearson_divergence,
    pearson_to_prior,
    start_law,
)
from dustsim.schedule_theory.thermodynamics import path_integrals

BIMODAL = GaussianMixture(np.array([[-1.0], [1.5]]), np.array([0.3, 0.2]), np.array([0.4, 0.6]))
FAST = {"n_times": 160, "n_space": 3001}


def schedules() -> list:
    return [
        make_process("vp"),
        make_process("vp-cosine"),
        make_process("sub-vp"),
        make_process("fm"),
        make_process("edm"),
        make_process("ve", sigma_max=6.0),
        OptimalTransport(s=0.6),
        OptimalTransport(s=0.8, warp=(0.0, 0.2, 0.45, 0.7, 1.0)),
    ]


def _ids(ps: list) -> list[str]:
    return [f"{p.name}{i}" for i, p in enumerate(ps)]


def test_pearson_divergence_matches_the_gaussian_closed_form():
    # chi^2(N(m1, s1^2) || N(m0, s0^2)) = s0 / (s1 sqrt(2 - s1^2/s0^2)) exp((m1-m0)^2 / (2 s0^2 - s1^2)) - 1
    p = GaussianMixture(np.array([[0.2]]), np.array([1.3]), np.array([1.0]))
    for m1, s1 in [(0.2, 1.3), (0.9, 1.1), (-0.5, 1.6), (0.0, 0.7)]:
        q = GaussianMixture(np.array([[m1]]), np.array([s1]), np.array([1.0]))
        exact = 1.3 / (s1 * math.sqrt(2 - s1**2 / 1.3**2)) * math.exp((m1 - 0.2) ** 2 / (2 * 1.3**2 - s1**2)) - 1
        assert pearson_divergence(q, p) == pytest.approx(exact, rel=1e-6, abs=1e-9)
    wide = GaussianMixture(np.array([[0.0]]), np.array([1.3 * 1.5]), np.array([1.0]))  # s1^2 > 2 s0^2
    assert pearson_divergence(wide, p) == math.inf
    # the quantile estimator used along the sampler agrees (it misses only the outermost 1/n of the mass)
    q = GaussianMixture(np.array([[0.9]]), np.array([1.1]), np.array([1.0]))
    x = np.linspace(-12, 12, 20001)
    u = (np.arange(4000) + 0.5) / 4000
    from scipy.stats import norm

    assert _chi2_from_quantiles(norm.ppf(u, 0.9, 1.1), p) == pytest.approx(pearson_divergence(q, p, x), rel=2e-2)


@pytest.mark.parametrize("process", schedules(), ids=_ids(schedules()))
def test_complete_estimation_chain_holds_for_every_schedule(process):
    # eta <= int v_loss^2 <= Sigma (Eqs. 77, 81), v_loss^2 <= E|nu|^2 at every time (Eq. 80) and
    # Sigma >= W2(q, p_tau)^2 / tau (Eq. 92), for start errors of mean, width and shape
    tau = end_time(process)
    c, s = start_law(process, tau).means[0, 0], start_law(process, tau).stds[0]
    starts = [
        start_law(process, tau),
        start_law(process, tau, shift=0.4 * s, scale=1.15),
        GaussianMixture(np.array([[c - 0.5 * s], [c + 0.7 * s]]), np.array([0.6 * s, 0.5 * s]), np.array([0.5, 0.5])),
    ]
    for start in starts:
        r = complete_estimation(BIMODAL, process, start, **FAST)
        assert r.d0 > 0 and np.isfinite(r.d0)
        assert r.holds, (r.response, r.loss_action, r.action, r.local_ok)
        assert r.action >= r.geodesic_action * (1 - 1e-3)
        assert r.response > 0  # the relation is not trivially 0 <= ...


@settings(max_examples=12, deadline=None)
@given(
    m1=st.floats(-2.0, 0.0),
    m2=st.floats(0.5, 2.0),
    s1=st.floats(0.15, 0.6),
    s2=st.floats(0.15, 0.6),
    w=st.floats(0.2, 0.8),
    shift=st.floats(-0.5, 0.5),
    scale=st.floats(0.8, 1.3),
    name=st.sampled_from(["vp", "vp-cosine", "fm", "ve"]),
)
def test_complete_estimation_chain_holds_for_any_bimodal_data_and_start_error(m1, m2, s1, s2, w, shift, scale, name):
    data = GaussianMixture(np.array([[m1], [m2]]), np.array([s1, s2]), np.array([w, 1 - w]))
    process = make_process(name, sigma_max=6.0) if name == "ve" else make_process(name)
    tau = end_time(process)
    start = start_law(process, tau, shift=shift * start_law(process, tau).stds[0], scale=scale)
    r = complete_estimation(data, process, start, **FAST)
    assert r.holds, (r.response, r.loss_action, r.action, r.local_ok)
    assert r.action >= r.geodesic_action * (1 - 1e-3)


def test_action_equals_the_independent_monte_carlo_route():
    # Sigma by quadrature on the grid vs dustsim.schedule_theory.thermodynamics' Monte Carlo over denoiser paths
    for process in [make_process("vp"), make_process("fm"), make_process("ve", sigma_max=6.0)]:
        r = complete_estimation(BIMODAL, process, **FAST)
        pi = path_integrals(BIMODAL, process, r.tau, n_samples=4000, seed=3)
        assert abs(r.action - pi.action) <= 4.5 * pi.action_se + 2e-3 * pi.action


def test_geodesic_schedule_attains_the_w2_bound_for_gaussian_data():
    # Eq. 92 with equality: the constant-speed W2 geodesic of N(m, s^2) to N(0, 1)
    g = GaussianMixture(np.array([[0.8]]), np.array([0.5]), np.array([1.0]))
    r = complete_estimation(g, OptimalTransport(s=0.5), t_end=0.999, **FAST)
    assert r.action == pytest.approx(r.geodesic_action, rel=5e-3)
    for p in [make_process("vp"), make_process("vp-cosine"), make_process("fm")]:
        assert complete_estimation(g, p, **FAST).action > 1.05 * r.geodesic_action


def test_exact_start_gives_no_error_and_d0_is_conserved_by_the_exact_flow():
    p = make_process("vp")
    tau = end_time(p)
    exact_start = BIMODAL.transported(p, tau)
    r = complete_estimation(BIMODAL, p, exact_start, **FAST)
    assert r.d0 == pytest.approx(0.0, abs=1e-8)
    assert np.max(r.w1) < 1e-3
    # with a start error, chi^2 between the two reverse processes at t = 0 equals D0 (Appendix E)
    start = start_law(p, tau, shift=0.3, scale=1.1)
    ce = complete_estimation(BIMODAL, p, start, **FAST)
    ie = incomplete_estimation(BIMODAL, p, 400, start=start, n_space=1001, nodes=1)
    # D_t = D0 for all t when nothing but the start is wrong; the quantile estimator of chi^2 is good
    # to a few per cent here (finite differences of 4000 quantiles across the low-density gap)
    assert ie.d_end == pytest.approx(ce.d0, rel=0.1)
    assert ie.delta_w1 == pytest.approx(ce.delta_w1, abs=0.02 * ce.w1_start + 1e-3)


@pytest.mark.parametrize("process", schedules()[:6], ids=_ids(schedules()[:6]))
def test_incomplete_estimation_bound_holds_for_every_schedule_nfe_and_score_error(process):
    # |dW1| <= sqrt(tau D_max Sigma) + sqrt(1 + D_max) sqrt(tau Lambda) (Eq. F5) for the Euler
    # probability-flow sampler at each NFE, with the exact score and with score errors of known size
    applicable = 0
    action = complete_estimation(BIMODAL, process, **FAST).action
    for scale, shift in [(0.0, 0.0), (0.1, 0.0), (-0.2, 0.15)]:
        score = perturbed_score(BIMODAL, process, scale, [shift])
        for nfe in (5, 10, 20, 50):
            r = incomplete_estimation(
                BIMODAL, process, nfe, score, n_quantiles=1500, n_space=2001, nodes=3, action=action
            )
            if math.isnan(r.bound):  # a step's map folds over: no velocity field, the relation says nothing
                # (a score error times cosine's / fm's diverging drift near alpha = 0, or too few steps)
                assert (scale, shift) != (0.0, 0.0) or nfe <= 10
                continue
            applicable += 1
            assert r.holds, (scale, shift, nfe, r.delta_w1, r.bound)
            assert r.velocity_error > 0
    assert applicable >= 6


def test_prior_pearson_divergence_in_any_dimension():
    p = make_process("vp")
    one_d = pearson_to_prior(BIMODAL, p, n_samples=40_000, seed=1)
    quad = pearson_divergence(start_law(p, end_time(p)), BIMODAL.transported(p, end_time(p)))
    assert abs(one_d[0] - quad) <= 4.5 * one_d[1] + 1e-12
    two_d = GaussianMixture(np.array([[1.0, 0.0], [-1.0, 0.5]]), np.array([0.2, 0.3]), np.array([0.5, 0.5]))
    value, se = pearson_to_prior(two_d, make_process("vp", beta_max=2.0), n_samples=20_000)
    assert value > 0.1 and se < 0.2 * value  # a short VP run: p_tau far from the prior


def test_multidimensional_data_is_refused_with_a_clear_error():
    two_d = GaussianMixture(np.array([[0.0, 0.0]]), np.array([0.5]), np.array([1.0]))
    with pytest.raises(ConfigError, match="1-D"):
        complete_estimation(two_d, make_process("vp"))
    with pytest.raises(ConfigError, match="positive"):
        incomplete_estimation(BIMODAL, make_process("vp"), 0)


def test_schedule_study_records_the_paper_bound_and_it_holds():
    from analysis.schedule_study import resolve_schedule, schedule_study

    ds = schedule_study(
        BIMODAL, schedules=["vp", "fm", "ve", "ot"], nfe=[5], n=300, n_bound=100, n_boot=100, trained=False
    )
    assert {"pearson_d0", "pearson_d0_se", "w1_change_bound"} <= set(ds.data_vars)
    assert ds.w1_change_bound.attrs["units"] == "length"
    for name in ds.schedule.values:
        p = resolve_schedule(str(name), BIMODAL)
        r = complete_estimation(BIMODAL, p, **FAST)  # exact-score probability flow from the prior
        d0, se = float(ds.pearson_d0.sel(schedule=name)), float(ds.pearson_d0_se.sel(schedule=name))
        assert abs(d0 - r.d0) <= 4.5 * se + 1e-3 * r.d0
        assert abs(r.delta_w1) <= float(ds.w1_change_bound.sel(schedule=name))
