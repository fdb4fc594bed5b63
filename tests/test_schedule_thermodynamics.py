"""Schedules as processes (edm, ot), their entropy production, the speed limit and the
generation-error bound; the prior gap of runs (issue 13)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_helpers import Z, assert_within_se

from dustsim.mixture import GaussianMixture
from dustsim.processes import EDM, OptimalTransport, make_process
from dustsim.schedule_theory.speed_accuracy import (
    error_bound,
    gaussian_error_bound,
    gaussian_generated_law,
    gaussian_generation_kl,
    perturbed_score,
    prior_sample,
    reverse_sample,
    time_grid,
)
from dustsim.schedule_theory.thermodynamics import (
    entropy_production_dataset,
    entropy_production_from_entropies,
    optimal_schedule,
    path_integrals,
)

GAUSS = GaussianMixture(np.array([[0.7, -0.3]]), np.array([0.4]), np.array([1.0]))
MIX = GaussianMixture(
    np.array([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]]), np.array([0.2, 0.3, 0.25]), np.array([0.3, 0.3, 0.4])
)


def all_schedules(data_std: float = 0.4) -> list:
    return [
        make_process("vp"),
        make_process("vp-cosine"),
        make_process("sub-vp"),
        make_process("fm"),
        make_process("edm"),
        make_process("ve", sigma_max=3.0),
        OptimalTransport(s=data_std),
        OptimalTransport(s=0.8, warp=(0.0, 0.2, 0.45, 0.7, 1.0)),
    ]


# ------------------------------------------------------------------------ processes
def test_edm_noise_levels_are_karras_rho_interpolation():
    # Karras et al. (2022), eq. 5: sigma_i = (smax^(1/rho) + i/(N-1) (smin^(1/rho) - smax^(1/rho)))^rho
    p = EDM(sigma_min=0.002, sigma_max=80.0, rho=7.0)
    n = 18
    i = np.arange(n)
    karras = (80.0 ** (1 / 7) + i / (n - 1) * (0.002 ** (1 / 7) - 80.0 ** (1 / 7))) ** 7
    t = 1.0 - i / (n - 1)
    np.testing.assert_allclose(p.noise_level(t), karras, rtol=1e-12)
    np.testing.assert_allclose(p.sigma(t) ** 2, karras**2 - 0.002**2, rtol=1e-10, atol=1e-15)


def test_ot_is_the_displacement_interpolation_of_gaussian_data():
    # X_u = (1 - u) X_0 + u (X_0 - m) / s has mean (1 - u) m and std (1 - u) s + u
    m, s = np.array([0.7, -0.3]), 0.4
    p = OptimalTransport(s=s)
    u = np.linspace(0.0, 1.0, 11)
    mean, _ = p.marginal(m, u)
    np.testing.assert_allclose(mean, (1 - u)[:, None] * m, atol=1e-15)
    np.testing.assert_allclose(np.sqrt(p.alpha(u) ** 2 * s**2 + p.sigma(u) ** 2), (1 - u) * s + u, rtol=1e-12)
    assert OptimalTransport(s=0.0).sigma(0.3) == pytest.approx(make_process("fm").sigma(0.3))


@settings(max_examples=40, deadline=None)
@given(
    st.floats(0.0, 0.95),
    st.floats(0.01, 0.99),
    st.floats(0.0, 1.0),
    st.floats(0.0, 2.0),
    st.sampled_from(["edm", "ot", "ot-warp"]),
)
def test_kernels_compose_and_match_the_marginals(a, b, c, s, kind):
    p = {"edm": EDM(), "ot": OptimalTransport(s=s), "ot-warp": OptimalTransport(s=s, warp=(0.0, 0.05, 0.5, 0.9, 1.0))}[
        kind
    ]
    t0, t1 = a, a + (0.999 - a) * b
    t2 = t1 + (0.999 - t1) * c
    a01, b01 = p.transition(t0, t1)
    a12, b12 = p.transition(t1, t2)
    a02, b02 = p.transition(t0, t2)
    assert float(a01 * a12) == pytest.approx(float(a02), rel=1e-9, abs=1e-300)
    assert float(a12**2 * b01**2 + b12**2) == pytest.approx(float(b02**2), rel=1e-8, abs=1e-14)
    a_, b_ = p.transition(0.0, t1)
    assert float(a_) == pytest.approx(float(p.alpha(t1)), rel=1e-12)
    assert float(b_) == pytest.approx(float(p.sigma(t1)), rel=1e-9, abs=1e-300)


def test_warp_validation_and_toml_round_trip():
    from dustsim.errors import ConfigError

    with pytest.raises(ConfigError, match="warp"):
        make_process("ot", warp=[0.0, 0.6, 0.5, 1.0])
    with pytest.raises(ConfigError, match="warp"):
        make_process("ot", warp="0,0.5")
    p = make_process("ot", s=0.5, warp="0,0.3,1")
    assert make_process("ot", **p.params()) == p


# ------------------------------------------------------------- entropy production
def test_gaussian_optimal_schedule_action_equals_closed_form_w2_and_is_smallest():
    m, s = GAUSS.means[0], float(GAUSS.stds[0])
    w2_sq = float(np.sum(m**2)) + 2 * (s - 1.0) ** 2
    best = optimal_schedule(GAUSS)
    res = path_integrals(GAUSS, best)
    assert res.action == pytest.approx(w2_sq, abs=1e-6)
    assert res.length**2 == pytest.approx(w2_sq, abs=1e-6)  # constant speed: L^2 = T Sigma
    for p in all_schedules():
        other = path_integrals(GAUSS, p)
        t_end = float(p.t_max or 1.0)
        a, v = float(p.alpha(t_end)), float(p.alpha(t_end)) ** 2 * s * s + float(p.sigma(t_end)) ** 2
        w2_end_sq = float(np.sum((m - a * m) ** 2)) + 2 * (s - math.sqrt(v)) ** 2
        assert w2_end_sq <= other.length**2 * (1 + 1e-9) + 1e-12  # W2 <= L
        assert other.length**2 <= t_end * other.action * (1 + 1e-9) + 1e-12  # L^2 <= T Sigma
        if isinstance(p, OptimalTransport) and p.s == s and p.warp is None:
            continue
        assert other.action > res.action, p.name


def test_mixture_monte_carlo_rate_agrees_with_gaussian_closed_form():
    # the Gaussian as two components 1e-4 apart (a change of O(1e-8) in the law) forces the Monte Carlo path
    twin = GaussianMixture(
        GAUSS.means + np.array([[0.0, 0.0], [1e-4, 0.0]]), np.repeat(GAUSS.stds, 2), np.array([0.5, 0.5])
    )
    for p in (make_process("vp"), make_process("fm"), OptimalTransport(s=0.7)):
        exact = path_integrals(GAUSS, p, 0.99)
        mc = path_integrals(twin, p, 0.99, n_samples=4000, seed=3)
        assert_within_se(mc.action, exact.action, mc.action_se, f"action of {p.name}")
        assert_within_se(mc.length, exact.length, mc.length_se, f"length of {p.name}")


def test_optimal_schedule_for_a_mixture_has_the_smallest_action():
    best = optimal_schedule(MIX, n_samples=3000, seed=1)
    assert best.warp is not None
    ours = path_integrals(MIX, best, n_samples=3000, seed=5)
    assert ours.action == pytest.approx(ours.length**2, rel=0.02)  # re-timed to constant speed
    for p in all_schedules(best.s):
        if p == best:
            continue
        other = path_integrals(MIX, p, n_samples=3000, seed=5)
        # common random numbers: the difference's SE is below the sum of SEs
        assert other.action - ours.action > -Z * math.hypot(other.action_se, ours.action_se), p.name


@pytest.mark.parametrize(
    "name, params, t0, t1",
    [
        ("vp", {}, 0.0, 1.0),
        ("sub-vp", {}, 0.05, 1.0),
        ("ve", {"sigma_max": 3.0}, 0.0, 1.0),
        ("vp-cosine", {}, 0.0, 0.98),
        ("ot", {"s": 0.5}, 0.0, 0.98),
        ("edm", {"sigma_max": 5.0}, 0.0, 1.0),
    ],
)
def test_entropy_production_equals_the_endpoint_entropy_route(name, params, t0, t1):
    p = make_process(name, **params)
    score_route = path_integrals(MIX, p, t1, t0=t0, n_samples=4000, seed=2, panels=32)
    entropy_route, se = entropy_production_from_entropies(MIX, p, t0, t1, n_samples=100_000, seed=4)
    assert_within_se(
        score_route.entropy_production,
        entropy_route,
        math.hypot(score_route.entropy_production_se, se),
        f"Sigma_phys of {name}",
    )
    if name == "vp":  # all of it is KL decay: Sigma_phys = KL(p_0 || N) - KL(p_T || N)
        kl = []
        for t in (0.0, t1):
            law = MIX.transported(p, t)
            x = law.sample(100_000, 7)
            kl.append(np.mean(law.logpdf(x) + 0.5 * np.sum(x**2, axis=1) + math.log(2 * math.pi)))
        assert abs(score_route.entropy_production - (kl[0] - kl[1])) < Z * 0.02


@pytest.mark.parametrize("name", ["fm", "sub-vp"])
def test_entropy_production_is_infinite_where_the_law_moves_without_noise(name):
    # fm and sub-VP have g(0) = 0 while nu_0 != 0: sigma_t ~ 1/t near 0
    res = path_integrals(GAUSS, make_process(name))
    assert math.isinf(res.entropy_production) and math.isfinite(res.action)


def test_entropy_production_dataset_layout():
    ds = entropy_production_dataset(MIX, make_process("vp"), n_samples=1000, panels=8)
    assert set(ds.data_vars) >= {"speed_squared", "speed_squared_se", "entropy_production_rate"}
    assert ds.attrs["speed_limit"] <= ds.attrs["action"] * (1 + 1e-12)
    assert np.all(np.diff(ds.time.values) > 0)


# ----------------------------------------------------------------- generation bound
PERTURBATIONS = [(0.0, None), (0.05, None), (-0.1, None), (0.0, [0.05, -0.02]), (0.1, [-0.03, 0.04])]


@pytest.mark.parametrize("nfe", [5, 10, 20, 50, 100])
def test_measured_gaussian_error_never_exceeds_the_bound(nfe):
    for p in all_schedules():
        grid = time_grid(p, nfe)
        for scale, shift in PERTURBATIONS:
            kl = gaussian_generation_kl(GAUSS, p, grid, scale, shift)
            bound = gaussian_error_bound(GAUSS, p, grid, scale, shift)
            assert 0.0 <= kl <= bound.bound * (1 + 1e-8) + 1e-12, (p.name, nfe, scale, shift, kl, bound)
            assert bound.score_term >= -1e-9 and bound.discretisation >= 0.0


@pytest.mark.parametrize("name", ["vp", "vp-cosine", "fm", "edm"])
def test_sampler_output_has_the_closed_form_law(name):
    p = make_process(name)
    grid = time_grid(p, 8)
    score = perturbed_score(GAUSS, p, 0.05, [0.05, 0.0])
    n = 40_000
    x = reverse_sample(score, p, grid, prior_sample(p, float(grid[-1]), n, 2, seed=1), seed=2)
    mean, var = gaussian_generated_law(GAUSS, p, grid, 0.05, [0.05, 0.0])
    assert_within_se(x.mean(axis=0), mean, np.sqrt(var / n), f"{name} generated mean")
    assert_within_se(x.var(axis=0, ddof=1), var, var * math.sqrt(2.0 / n), f"{name} generated variance")


def test_monte_carlo_bound_agrees_with_closed_form():
    p = make_process("vp")
    grid = time_grid(p, 10)
    exact = gaussian_error_bound(GAUSS, p, grid, 0.1, [0.05, 0.0])
    mc = error_bound(
        GAUSS, p, grid, perturbed_score(GAUSS, p, 0.1, [0.05, 0.0]), n_samples=3000, nodes_per_step=8, seed=1
    )
    # + 1 %: the 8-node Gauss-Legendre rule per step
    assert_within_se(mc.bound, exact.bound, mc.bound_se + 0.01 * exact.bound, "bound (MC vs closed form)")


def test_bound_along_the_reverse_run_adds_up_to_the_closed_form():
    from dustsim.schedule_theory.speed_accuracy import bound_along_reverse

    p = make_process("vp")
    ds = bound_along_reverse(GAUSS, p, 10, perturbed_score(GAUSS, p, 0.1), n_samples=2000)
    assert np.all(np.diff(ds.t_stop.values) < 0) and np.all(ds.bound_increment.values >= 0)
    assert float(ds.cumulative_bound[-1]) == pytest.approx(ds.attrs["bound"], rel=1e-12)
    exact = gaussian_error_bound(GAUSS, p, time_grid(p, 10), 0.1)
    se = float(ds.cumulative_bound_se[-1])  # + 2 %: the 4-node Gauss-Legendre rule per step
    assert_within_se(float(ds.cumulative_bound[-1]), exact.bound, se + 0.02 * exact.bound, "accumulated bound")


@pytest.mark.parametrize("name", ["vp", "fm", "ot"])
def test_mixture_error_measured_by_knn_stays_below_the_bound(name):
    from analysis import kl_divergence

    mix = GaussianMixture(np.array([[-1.0], [0.8]]), np.array([0.3, 0.4]), np.array([0.4, 0.6]))
    p = make_process(name, **({"s": 0.5} if name == "ot" else {}))
    grid = time_grid(p, 10)
    score = perturbed_score(mix, p, 0.1)
    bound = error_bound(mix, p, grid, score, n_samples=2000, seed=3)
    x = reverse_sample(score, p, grid, prior_sample(p, float(grid[-1]), 20_000, 1, seed=4), seed=5)
    est = kl_divergence(mix.sample(20_000, 6), x)
    assert est.value - Z * est.se <= bound.bound + Z * bound.bound_se


# ----------------------------------------------------------------------- prior gap
def test_short_vp_run_warns_and_records_the_prior_gap():
    import dustsim
    from dustsim.simulation import PriorWarning

    with pytest.warns(PriorWarning, match=r"KL\(p_T \|\| prior\) = [0-9.e-]+ nats.*beta_max"):
        ds = dustsim.simulate(
            init="gmm", n=2000, process="vp", process_params={"beta_max": 2.0}, steps=20, seed=1, progress=False
        )
    assert ds.attrs["prior_gap_kl"] > ds.attrs["prior_gap_noise_floor"]
    assert ds.attrs["prior_gap_method"] == "mixture"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = dustsim.simulate(init="gmm", n=2000, process="vp", steps=20, seed=1, progress=False)
    assert 0.0 <= ds.attrs["prior_gap_kl"] < 0.01


def test_prior_gap_is_exact_for_gaussian_data_and_empirical_otherwise():
    from dustsim.schedule_theory.prior_gap import prior_gap

    p = make_process("vp", beta_max=2.0)
    law = GAUSS.transported(p, 1.0)
    v, mu = float(law.stds[0]) ** 2, law.means[0]
    exact = 0.5 * (2 * v + float(np.sum(mu**2)) - 2 - 2 * math.log(v))
    assert prior_gap(p, 1.0, mixture=GAUSS).kl == pytest.approx(exact, rel=1e-12)
    twin = GaussianMixture(np.repeat(GAUSS.means, 2, axis=0), np.repeat(GAUSS.stds, 2), np.array([0.5, 0.5]))
    mc = prior_gap(p, 1.0, mixture=twin, n_samples=20_000)
    assert_within_se(mc.kl, exact, mc.se, "mixture prior gap")
    emp = prior_gap(p, 1.0, x0=GAUSS.sample(500, 1), n_samples=20_000)
    assert emp.kl > exact - Z * emp.se  # biased upwards on average (convexity), never far below


# -------------------------------------------------------------------------- the study
def test_schedule_study_small_run_and_cli(tmp_path):
    from analysis.schedule_study import rank_correlation, schedule_study
    from dustsim.cli import main

    ds = schedule_study(
        schedules=["vp", "fm", "ot", "vp-cosine"], nfe=[5, 20], n=400, n_bound=200, n_boot=200, trained=False
    )
    assert ds.sizes == {"score": 1, "schedule": 4, "nfe": 2}
    assert bool(ds.bound_holds.all())
    assert float(ds.action.sel(schedule="ot")) == float(ds.action.min())  # the fitted schedule is the cheapest
    rho, lo, hi = rank_correlation(np.array([1.0, 2, 3, 4, 5]), np.array([1.0, 3, 2, 5, 4]), n_boot=300)
    assert rho == pytest.approx(0.8) and lo <= rho <= hi
    out, fig = tmp_path / "study.nc", tmp_path / "study.png"
    code = main(
        [
            "schedules",
            "study",
            "--schedule",
            "vp",
            "--schedule",
            "fm",
            "--schedule",
            "ot",
            "--nfe",
            "5",
            "--n",
            "300",
            "--no-trained",
            "-o",
            str(out),
            "--figure",
            str(fig),
        ]
    )
    assert code == 0 and out.exists() and fig.stat().st_size > 0
    assert main(["schedules", "study", "--nfe", "5,x"]) == 2
    assert main(["schedules", "optimal", "--init", "gmm", "-A", "k=2"]) == 0


def test_a_negative_prior_gap_is_shown_as_zero_within_noise():
    from dustsim.schedule_theory.prior_gap import kl_text

    assert kl_text(-3.6e-6, 2.7e-6) == "-3.6e-06 +- 2.7e-06 nats, i.e. 0 within noise"
    assert kl_text(0.012, 0.001) == "0.012 +- 0.001 nats" and kl_text(0.5, 0.0) == "0.5 nats"


def test_prior_gap_hints_give_the_current_value():
    from dustsim.processes import make_process
    from dustsim.schedule_theory.prior_gap import hint

    vp = hint(make_process("vp", beta_max=20.0))
    assert vp.startswith("raise beta_max (now 20; e.g. --process-param beta_max=40)")
    assert "now 3" in hint(make_process("ou", k=3.0)) and "sigma_max=" in hint(make_process("ve"))
