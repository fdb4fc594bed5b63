"""Emergence across scales: coarse-grained entropy H_Delta(t) against exact cell integrals,
the Delta^2 / 2D law of the emergence time, the two-way entropy change of dust that orders
itself (cooling in a trap), the CLI and the figure."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_helpers import Z, assert_within_se

import dustsim
from analysis import binned_entropy, entropy_trajectory
from analysis.coarse import null_bias, scale_entropies
from analysis.emergence import emergence, fit_emergence_exponent
from analysis.exact_cells import exact_cell_probabilities, exact_coarse_entropy, exact_structure
from dustsim.cli import main
from dustsim.errors import ConfigError
from dustsim.mixture import GaussianMixture

POINT = GaussianMixture([[0.0]], [0.0], [1.0])


@pytest.fixture(scope="module")
def brownian_gmm():
    """Four 2-D clumps spreading by free Brownian motion (exact stepper, float64)."""
    return dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "radius": 1.0, "std": 0.1},
        n=40_000,
        dim=2,
        process="brownian",
        process_params={"D": 0.5},
        t_end=0.5,
        steps=50,
        record_every=10,
        seed=11,
        dtype="float64",
    )


@pytest.fixture(scope="module")
def point_source():
    """Free Brownian dust from a point (1-D): its law depends on sqrt(2Dt)/Delta only."""
    return dustsim.simulate(
        init="point",
        n=40_000,
        dim=1,
        process="brownian",
        process_params={"D": 0.5},
        t_end=2.0,
        steps=100,
        record_every=1,
        seed=3,
        dtype="float64",
    )


# ----------------------------------------------------------------------------- exact reference
def test_exact_coarse_entropy_limits_of_a_gaussian():
    s = 0.7
    g = GaussianMixture([[0.3, -0.2]], [s], [1.0])
    assert exact_cell_probabilities(g, 0.05).sum() == pytest.approx(1.0, abs=1e-12)
    # fine cells: H_Delta + d log Delta -> the differential entropy, error O(Delta^2 / s^2)
    h_diff = math.log(2 * math.pi * math.e * s**2)
    assert exact_coarse_entropy(g, 0.01) + 2 * math.log(0.01) == pytest.approx(h_diff, abs=1e-4)
    # one cell much larger than the Gaussian, centred in it: nothing to tell apart
    assert exact_coarse_entropy(GaussianMixture([[0.5]], [0.01], [1.0]), 1.0) == pytest.approx(0.0, abs=1e-12)
    # a point on a cell corner of a 2-D grid, spread a hair: four equal cells, log 4
    assert exact_coarse_entropy(GaussianMixture([[0.0, 0.0]], [1e-6], [1.0]), 1.0) == pytest.approx(math.log(4))
    # two far-apart point-like clumps of weights w, 1 - w: the entropy of the weights
    w = 0.3
    two = GaussianMixture([[0.5], [10.5]], [1e-3, 1e-3], [w, 1 - w])
    assert exact_coarse_entropy(two, 1.0) == pytest.approx(-w * math.log(w) - (1 - w) * math.log(1 - w), abs=1e-12)
    # smooth limit of the structure: Delta^2 J / 32, J = d / s^2 for a Gaussian
    assert exact_structure(g, 0.1) == pytest.approx(0.1**2 * 2 / s**2 / 32, rel=0.02)


@settings(max_examples=25, deadline=None)
@given(shift=st.floats(-5, 5), a=st.floats(0.2, 5.0), scale=st.floats(0.1, 2.0), k=st.integers(1, 3))
def test_exact_coarse_entropy_is_invariant_under_moving_and_rescaling_grid_and_law(shift, a, scale, k):
    rng = np.random.default_rng(k)
    means, stds, weights = rng.normal(size=(k, 2)), rng.uniform(0.1, 1.0, k), rng.uniform(0.2, 1.0, k)
    h = exact_coarse_entropy(GaussianMixture(means, stds, weights), scale, origin=0.1)
    moved = exact_coarse_entropy(GaussianMixture(means + shift, stds, weights), scale, origin=0.1 + shift)
    scaled = exact_coarse_entropy(GaussianMixture(a * means, a * stds, weights), a * scale, origin=0.1 * a)
    assert moved == pytest.approx(h, abs=1e-9)
    assert scaled == pytest.approx(h, abs=1e-9)
    assert h >= 0.0
    # the structure is a divergence, and coarser cells see no more than finer ones
    law = GaussianMixture(means, stds, weights)
    assert exact_structure(law, scale, origin=0.1) >= -1e-12
    assert exact_coarse_entropy(law, 2 * scale, origin=0.1) <= h + 1e-12


def test_exact_references_refuse_bad_input():
    with pytest.raises(ConfigError, match="scale"):
        exact_coarse_entropy(POINT, 0.0)
    with pytest.raises(ConfigError, match="cells"):
        exact_coarse_entropy(GaussianMixture(np.zeros((1, 3)), [10.0], [1.0]), 1e-3)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), shift=st.integers(-50, 50), d=st.integers(1, 3))
def test_estimates_do_not_depend_on_particle_order_or_grid_shifts_by_whole_cells(seed, shift, d):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, d)) * rng.uniform(0.2, 2.0)
    scale = 0.5  # shifts by whole cells of both the scale and its half are exact in binary
    base = scale_entropies(x, scale)
    assert scale_entropies(x[rng.permutation(len(x))], scale) == pytest.approx(base, abs=1e-12)
    assert scale_entropies(x + shift * scale, scale, origin=shift * scale) == pytest.approx(base, abs=1e-9)
    assert 0.0 <= base[6] <= 1.0  # resolved fraction


# ----------------------------------------------------------------------------- estimates vs exact
def test_coarse_entropy_agrees_with_the_exact_mixture_on_every_scale(brownian_gmm):
    scales = [0.1, 0.2, 0.4, 0.8, 1.6]
    r = emergence(brownian_gmm, scales)
    assert r["coarse_entropy"].dims == ("time", "scale") and "exact_coarse_entropy" in r
    h, ex, se = (r[v].values for v in ("coarse_entropy", "exact_coarse_entropy", "coarse_entropy_se"))
    assert_within_se(h, ex, se, "H_Delta(t) vs the exact binned entropy")
    s, s_ex, s_se, resolved = (
        r[v].values for v in ("structure", "exact_structure", "structure_se", "resolved_fraction")
    )
    assert resolved.min() < 0.8  # sparse cells at the finest scale, late: the chance correction handles them
    assert_within_se(s, s_ex, s_se, "structure vs exact")
    # structure is a divergence: the exact one is never negative; it fades under diffusion
    assert np.all(r["exact_structure"].values >= -1e-12)
    assert np.all(np.diff(r["exact_structure"].values, axis=0) < 1e-12)
    # the continuum form approaches the exact differential entropy at the finest scale, late
    mix = GaussianMixture.from_trajectory(brownian_gmm).transported(dustsim.make_process("brownian", D=0.5), 0.5)
    h_diff, h_diff_se = mix.entropy(200_000, seed=1)
    assert abs(float(r["continuum_entropy"].isel(time=-1, scale=0)) - h_diff) < 0.01 + Z * h_diff_se


def test_coarse_entropy_is_binned_entropy_on_the_same_grid(brownian_gmm):
    scales = [0.1, 0.25, 0.5]
    r = emergence(brownian_gmm, scales, max_particles=None, exact=False)
    e = entropy_trajectory(
        brownian_gmm,
        estimators=("gaussian",),
        scales=scales,
        max_particles=None,
        kl=False,
        mutual_information=False,
        exact=False,
    )
    np.testing.assert_allclose(r["coarse_entropy"].values, e["coarse_grained_entropy"].values, rtol=0, atol=1e-12)
    for i in (0, brownian_gmm.sizes["time"] - 1):
        x = brownian_gmm["position"].isel(time=i).values
        for j, s in enumerate(scales):
            assert float(r["continuum_entropy"][i, j]) == pytest.approx(binned_entropy(x, s).value, abs=1e-12)
            fine = binned_entropy(x, s / 2, discrete=True).value - binned_entropy(x, s, discrete=True).value
            assert float(r["detail_entropy"][i, j]) == pytest.approx(fine, abs=1e-12)


def test_emergence_time_grows_like_delta_squared_over_2d(point_source):
    scales = [0.2 * 2 ** (j / 2) for j in range(5)]
    tol, d_coef = 0.01, 0.5
    r = emergence(point_source, scales, tolerance=tol, mixture=POINT)
    tau, tau_se, exact = (r[v].values for v in ("emergence_time", "emergence_time_se", "exact_emergence_time"))
    assert np.all(r["emergence_status"].values == 0)
    # exact: a point at a cell corner is self-similar, so t_Delta / Delta^2 is one number ...
    ratio = exact / np.asarray(scales) ** 2
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-6)
    # ... close to the smooth-limit law d Delta^2 / (32 tol) / 2D
    assert ratio[0] == pytest.approx(1 / (32 * tol) / (2 * d_coef), rel=0.03)
    assert_within_se(tau, exact, tau_se, "emergence time vs exact")
    p, p_se, _ = fit_emergence_exponent(r)
    assert p_se < 0.15  # informative
    assert_within_se(p, 2.0, p_se, "exponent of t_Delta ~ Delta^p")


# ----------------------------------------------------------------------------- dust that orders itself
def test_cooling_dust_orders_at_large_scales_while_fine_scale_entropy_rises():
    """Twelve tight grains of dust on a ring of radius 3 in a harmonic trap, cooled from kT = 1
    to 0.1: the cloud condenses (entropy at coarse scales falls) while the grains dissolve
    (entropy at fine scales rises)."""
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 12, "radius": 3.0, "std": 0.03},
        n=4000,
        dim=2,
        process="brownian",
        potential=[{"name": "harmonic", "k": 1.0}],
        schedule={"name": "exponential", "of": "kT", "start": 1.0, "end": 0.1},
        dt=2e-3,
        t_end=4.0,
        record_every=500,
        seed=2,
    )
    r = emergence(ds, [0.05, 0.8, 1.6])
    h, se = r["coarse_entropy"].values, r["coarse_entropy_se"].values
    change, change_se = h[-1] - h[0], np.hypot(se[-1], se[0])
    assert change[0] > Z * change_se[0] and change[0] > 1.0  # fine scale: grains dissolve
    assert change[1] < -Z * change_se[1] and change[2] < -Z * change_se[2]  # coarse: the cloud condenses
    assert "exact_coarse_entropy" not in r  # physical dust: no exact marginal


def test_null_bias_is_the_chance_structure_of_uniform_cells():
    rng = np.random.default_rng(0)
    for c, k in ((2, 4), (3, 4), (10, 2), (40, 8)):
        draws = rng.integers(0, k, size=(20_000, c))
        counts = np.stack([(draws == j).sum(axis=1) for j in range(k)], axis=1) / c
        with np.errstate(divide="ignore", invalid="ignore"):
            h = -np.nansum(np.where(counts > 0, counts * np.log(counts), 0.0), axis=1)
        chance = math.log(k) - h
        assert_within_se(float(null_bias(c, k)), chance.mean(), chance.std() / math.sqrt(len(h)), f"c={c}, k={k}")
    assert float(null_bias(1, 4)) == pytest.approx(math.log(4))
    assert float(null_bias(10_000, 4)) == pytest.approx(3 / 20_000, rel=1e-3)


def test_demo_section_shows_both_results(tmp_path):
    from dustsim.cli.demo_emergence import emergence_section, run_emergence_demo

    demo = run_emergence_demo(tmp_path, seed=0, quick=True)
    assert demo.files["emergence_free"].exists() and demo.files["emergence_trap"].exists()
    n = demo.numbers
    assert abs(n["exponent"] - 2.0) < Z * n["exponent_se"]
    assert n["trap_fine_change"] > 1.0 and n["trap_coarse_change"] < -0.5
    section = emergence_section(demo)
    assert section.title == "Emergence across scales" and len(section.figures) == 2


def test_ordering_time_brackets_the_rise_of_structure():
    """Synthetic dust gathering from a uniform square into four tight clumps along x_t = (1 - t) u + t c:
    structure appears (first at the edges of the shrinking square); the ordering time lies inside the rise."""
    rng = np.random.default_rng(5)
    n, times = 20_000, np.linspace(0.0, 1.0, 41)
    u = rng.uniform(-2, 2, (n, 2))
    centres = np.array([[-1.0, -1.0], [-1.0, 1.0], [1.0, -1.0], [1.0, 1.0]])[rng.integers(0, 4, n)]
    c = centres + 0.05 * rng.standard_normal((n, 2))
    pos = (1 - times)[:, None, None] * u[None] + times[:, None, None] * c[None]
    ds = xr.Dataset({"position": (("time", "particle", "spatial"), pos)}, coords={"time": times})
    r = emergence(ds, [0.5, 1.0], origin=-2.0)
    s = r["structure"].values
    for j in range(2):
        tau = float(r["ordering_time"][j])
        assert np.isfinite(tau) and np.isfinite(float(r["ordering_time_se"][j]))
        k = int(np.flatnonzero(s[:, j] >= 0.01)[0])  # the first frame at the tolerance
        low = times[np.flatnonzero(s[:k, j] < 0.005)[-1]]  # the last one before it below half of it
        high = times[k + np.flatnonzero(s[k:, j] > 0.02)[0]]  # the first one after it above twice
        assert low <= tau <= high
        assert r["emergence_status"][j] == 2  # structured at the end: no emergence time
    assert "exact_coarse_entropy" not in r  # no recorded law


def test_realizations_are_analysed_one_by_one(brownian_gmm):
    two = xr.concat(
        [brownian_gmm.isel(time=[0, -1]), brownian_gmm.isel(time=[0, -1])], dim="realization", combine_attrs="override"
    )
    r = emergence(two, [0.2, 0.4], max_particles=None)
    one = emergence(brownian_gmm.isel(time=[0, -1]), [0.2, 0.4], max_particles=None)
    assert r["coarse_entropy"].dims == ("realization", "time", "scale")
    for k in range(2):
        np.testing.assert_array_equal(r["structure"].isel(realization=k).values, one["structure"].values)
    with pytest.raises(ConfigError, match="one realization"):
        fit_emergence_exponent(r)


# ----------------------------------------------------------------------------- input, CLI, figure
def test_bad_input_is_refused(brownian_gmm):
    with pytest.raises(ConfigError, match="trajectory"):
        emergence(xr.Dataset())
    with pytest.raises(ConfigError, match="scales"):
        emergence(brownian_gmm, [0.1, -1.0])
    with pytest.raises(ConfigError, match="tolerance"):
        emergence(brownian_gmm, [0.1], tolerance=0.0)
    # a scale too fine for the exact cell grid: estimated, its exact reference left out (or refused)
    fine = emergence(brownian_gmm, [1e-4, 0.5], max_particles=2000)
    assert np.isnan(fine["exact_coarse_entropy"][:, 0]).all() and np.isfinite(fine["exact_coarse_entropy"][:, 1]).all()
    assert "too fine" in fine["exact_coarse_entropy"].attrs["note"] and np.isfinite(fine["coarse_entropy"]).all()
    with pytest.raises(ConfigError, match="cells"):
        emergence(brownian_gmm, [1e-4], max_particles=2000, exact=True)
    point = dustsim.simulate(
        init="point", n=100, dim=1, process="brownian", steps=2, record_every=1, seed=1, dtype="float64"
    )
    with pytest.raises(ConfigError, match="exact"):
        emergence(point, [0.5], exact=True)
    box = dustsim.simulate(
        init="uniform",
        artifact={"half_width": 2.0},
        n=500,
        dim=1,
        process="brownian",
        boundary={"kind": "periodic", "box": 4.0},
        dt=1e-3,
        steps=2,
        record_every=1,
        seed=1,
        dtype="float64",
    )
    with pytest.warns(UserWarning, match="do not tile the box"):
        emergence(box, [0.3])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emergence(box)  # the default scales halve the box: no warning
    with pytest.raises(ConfigError, match="at least 3"):
        fit_emergence_exponent(emergence(point, [0.5], exact=False))


def test_cli_emergence_and_plot(tmp_path, capsys):
    traj = tmp_path / "run.nc"
    dustsim.save_dataset(
        dustsim.simulate(
            init="gmm", n=3000, dim=2, process="brownian", steps=40, record_every=4, seed=5, dtype="float64"
        ),
        traj,
    )
    with dustsim.open_dataset(traj) as src:
        source_history = src.attrs["history"].splitlines()
    out, fig = tmp_path / "e.nc", tmp_path / "e.png"
    code = main(["emergence", str(traj), "-o", str(out), "--n-scales", "4", "--plot", str(fig), "--units", "bits"])
    assert code == 0, capsys.readouterr().err
    e = dustsim.open_dataset(out)
    assert e.sizes["scale"] == 4 and e.attrs["units"] == "bits" and "exact_coarse_entropy" in e
    assert e.attrs["history"].splitlines()[:-1] == source_history
    assert fig.stat().st_size > 10_000
    assert main(["plot", str(out), "-o", str(tmp_path / "p.png")]) == 0
    assert "emergence figure" in capsys.readouterr().out
    bad = tmp_path / "bad.nc"
    assert main(["emergence", str(traj), "-o", str(bad), "--scales", "a,b"]) == 2
    assert main(["emergence", str(traj), "-o", str(bad), "--tolerance", "-1"]) == 2
    assert main(["emergence", str(traj), "-o", str(bad), "--plot", str(tmp_path / "f.txt")]) == 2
    assert main(["emergence", str(traj), "-o", str(bad), "--scales", "0.1,-1"]) == 2
    assert main(["emergence", str(traj), "-o", str(bad), "--origin", "1,2,3"]) == 2
    assert not bad.exists()
