"""Thermodynamic checks on simulated Gaussian-mixture runs with the analytic score."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats_helpers import Z, assert_within_se

import dustsim
from analysis import GaussianMixture, entropy_trajectory, thermo
from dustsim.errors import ConfigError
from dustsim.schema import trajectory_process


@pytest.fixture(scope="module")
def run():
    # fine frames (dt = 0.01) so that the trapezoid rule resolves dH/dt near t = 0
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "std": 0.1},
        n=20_000,
        process="vp",
        steps=1000,
        record_every=10,
        seed=6,
        dtype="float64",
    )
    e = entropy_trajectory(ds, mutual_information=False, exact_samples=50_000)
    mix = GaussianMixture.from_trajectory(ds)
    return ds, e, mix.score_function(trajectory_process(ds))


def test_de_bruijn_with_the_analytic_score(run):
    ds, e, score = run
    for estimator in ("exact", "knn"):
        check = thermo.de_bruijn(ds, score, entropy=e, estimator=estimator)
        assert check.attrs["holds"] == 1, estimator
    check = thermo.de_bruijn(ds, score, entropy=e, estimator="knn")
    # cumulative: H(0.3) - H(0) measured by kNN vs the integral of d f + g^2 J / 2
    sel = check["t_end"] <= 0.3 + 1e-9
    measured = float(
        e["entropy"].sel(estimator="knn").sel(time=0.3, method="nearest") - e["entropy"].sel(estimator="knn")[0]
    )
    predicted = float(check["entropy_change_score"][sel].sum())
    se = math.hypot(
        float(e["entropy_se"].sel(estimator="knn")[0]),
        float(e["entropy_se"].sel(estimator="knn").sel(time=0.3, method="nearest")),
    )
    assert_within_se(measured, predicted, se, "kNN entropy change vs de Bruijn integral")
    # the finite-difference slope matches the predicted rate where the rate is smooth
    late = check.sel(time=slice(0.2, 0.9))
    se = np.hypot(late["dHdt_measured_se"], late["dHdt_score_se"])
    assert_within_se(late["dHdt_measured"], late["dHdt_score"], se, "finite-difference dH/dt")


def test_de_bruijn_detects_a_wrong_score(run):
    ds, e, score = run
    check = thermo.de_bruijn(ds, lambda x, t: 0.7 * score(x, t), entropy=e, estimator="exact")
    assert check.attrs["holds"] == 0


def test_entropy_production_and_kl_decay(run):
    ds, e, score = run
    prod = thermo.entropy_production(ds, score, entropy=e)
    assert prod.attrs["holds"] == 1 and np.all(prod["entropy_production_rate"] >= 0)
    decay = thermo.kl_decay(e, ds, score)
    assert decay.attrs["holds"] == 1 and decay.attrs["guaranteed"] == 1
    # for VP the KL decay rate is minus the entropy production rate
    np.testing.assert_allclose(decay["dKLdt_score"], -prod["entropy_production_rate"], rtol=1e-9, atol=1e-14)
    # Bakry-Emery: KL_t <= alpha_t^2 KL_0, with room to spare after the first frames
    assert np.all(decay["bakry_emery_holds"])
    assert float(decay["kl_to_equilibrium"].sel(time=0.3)) < 0.5 * float(decay["bakry_emery_bound"].sel(time=0.3))


def test_sohl_dickstein_and_mixture_bounds(run):
    _, e, _ = run
    sd = thermo.sohl_dickstein_bounds(e, estimator="exact")
    assert sd.attrs["holds"] == 1
    assert np.all(sd["lower"][1:] <= sd["upper"][1:])
    mb = thermo.mixture_entropy_bounds(e)
    assert mb.attrs["holds"] == 1
    assert np.all(mb["lower"] <= mb["upper"])


def test_entropy_power_inequality_under_ve():
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 3, "std": 0.1},
        n=20_000,
        process="ve",
        steps=100,
        record_every=10,
        seed=7,
        dtype="float64",
    )
    e = entropy_trajectory(ds, mutual_information=False)
    for estimator in ("exact", "knn"):
        epi = thermo.entropy_power(e, estimator=estimator)
        assert epi.attrs["holds"] == 1
        # strict for a non-Gaussian start: the mixture's entropy power exceeds the bound
        gap = (epi["entropy_power"] - epi["epi_bound"]).values[1:]
        assert np.all(gap > -Z * epi["entropy_power_se"].values[1:])
    exact = thermo.entropy_power(e, estimator="exact")
    assert float((exact["entropy_power"] - exact["epi_bound"])[3]) > 10 * float(exact["entropy_power_se"][3])
    with pytest.raises(ConfigError, match="stationary"):
        thermo.h_theorem(e)


def test_sohl_dickstein_upper_bound_fails_where_entropy_falls():
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "std": 0.3, "radius": 4.0},
        n=10_000,
        process="vp",
        steps=200,
        record_every=20,
        seed=8,
        dtype="float64",
    )
    e = entropy_trajectory(ds, mutual_information=False, exact_samples=50_000)
    sd = thermo.sohl_dickstein_bounds(e, estimator="exact")
    assert np.all(sd["lower_holds"])
    falling = ~sd["upper_guaranteed"].values
    assert falling.any() and not np.all(sd["upper_holds"].values[falling])


@pytest.mark.parametrize("kind", ["periodic", "reflecting"])
def test_brownian_dust_in_a_box_relaxes_to_the_uniform_law(kind):
    """KL to the uniform law of the box: exact at t = 0, non-increasing, and at the end
    equal to what the same estimator gives on exactly uniform samples (in a reflecting box
    straight kNN distances have a small boundary bias, so the reference is the estimator on
    the true law; a periodic box uses distances on the torus)."""
    from analysis import knn_entropy

    side, std, n = 4.0, 0.3, 20_000
    ds = dustsim.simulate(
        init="gaussian",
        artifact={"std": std},
        n=n,
        dim=2,
        process="brownian",
        boundary={"kind": kind, "box": [side, side]},
        dt=1e-3,
        steps=3000,
        record_every=300,
        seed=8,
    )
    ent = entropy_trajectory(ds, mutual_information=False)
    kl = ent["kl_to_equilibrium"]
    assert kl.attrs["stationary_law"] == "uniform on the box" and kl.attrs["invariant_law"] == 1
    exact0 = 2 * math.log(side) - (1 + math.log(2 * math.pi) + 2 * math.log(std))  # log V - h(N(0, std^2 I))
    assert_within_se(float(kl[0]), exact0, float(ent["kl_to_equilibrium_se"][0]), "KL at t = 0")
    check = thermo.h_theorem(ent)
    assert check.attrs["holds"] == 1 and check.attrs["guaranteed"] == 1
    uniform = np.random.default_rng(9).uniform(-side / 2, side / 2, (n, 2))
    h = knn_entropy(uniform, period=side if kind == "periodic" else None)
    reference = 2 * math.log(side) - h.value
    assert_within_se(
        float(kl[-1]), reference, math.hypot(float(ent["kl_to_equilibrium_se"][-1]), h.se), "KL at the end"
    )
