"""Physical dust against exact results: Boltzmann, boxes, walls, OU, schedules, label types.

Tolerances are standard errors (``stats_helpers``); Euler steps are small enough that the
scheme's O(dt) bias is far below them (stated where it matters).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import integrate, stats
from stats_helpers import assert_within_se

import dustsim
from dustsim.physics.boundaries import make_boundary
from dustsim.physics.fokker_planck import fokker_planck
from dustsim.physics.potentials import make_potentials, total_energy, total_force
from dustsim.processes import make_process
from dustsim.schema import trajectory_process, unwrapped_position
from dustsim.stepping import affine_coefficients


def binned_check(samples, edges, probs, what):
    """Histogram of ``samples`` vs bin probabilities, bin by bin within binomial SEs, and a chi-square."""
    n = len(samples)
    counts = np.histogram(samples, edges)[0]
    assert counts.sum() == n, f"{what}: samples outside the bins"
    probs = np.asarray(probs) / np.sum(probs)
    expected = n * probs
    assert_within_se(counts, expected, np.sqrt(np.maximum(expected * (1 - probs), 1.0)), what)
    keep = expected > 5
    chi2 = np.sum((counts[keep] - expected[keep]) ** 2 / expected[keep])
    p = stats.chi2.sf(chi2, keep.sum() - 1)
    assert p > 1e-5, f"{what}: chi-square p = {p:.2g}"


# ------------------------------------------------------------------------- Boltzmann
DOUBLE_WELL = {
    "init": "uniform",
    "artifact": {"half_width": 2.0},
    "n": 20_000,
    "dim": 1,
    "process": "brownian",
    "potential": [{"name": "double-well", "barrier": 1.0, "width": 1.0}],
    "boundary": {"kind": "reflecting", "box": 6.0},
    "dt": 2e-3,
    "t_end": 6.0,
    "record_every": 1000,
    "seed": 12,
}


def boltzmann_bins(potentials, edges, kT=1.0):
    U = lambda x: total_energy(potentials, np.array([[x]]))[0]  # noqa: E731
    return np.array([integrate.quad(lambda x: math.exp(-U(x) / kT), a, b)[0] for a, b in itertools.pairwise(edges)])


def test_double_well_reaches_boltzmann_and_matches_fokker_planck():
    ds = dustsim.simulate(**DOUBLE_WELL)
    x = ds.position.isel(time=-1).values[:, 0].astype(np.float64)
    edges = np.linspace(-3.0, 3.0, 41)
    potentials = make_potentials(DOUBLE_WELL["potential"], 1)
    exact = boltzmann_bins(potentials, edges)
    binned_check(x, edges, exact, "double-well vs exp(-U/kT)")
    # the Fokker-Planck density of the same run, on cells that tile the bins
    fp = fokker_planck(**DOUBLE_WELL, cells=600)
    assert fp.time.values[-1] == ds.time.values[-1]
    masses = fp.density.isel(time=-1).values * np.diff(fp.x_edges.values)
    fp_bins = masses.reshape(40, 15).sum(axis=1)
    binned_check(x, edges, fp_bins, "double-well vs Fokker-Planck")
    # and the Fokker-Planck solution itself has relaxed to Boltzmann (discretisation error only)
    np.testing.assert_allclose(fp_bins, exact / exact.sum(), atol=2e-4)


def test_forces_are_minus_the_gradient_of_the_energy():
    potentials = make_potentials(
        [
            {"name": "harmonic", "k": [1.5, 0.5], "centre": [0.2, -0.1]},
            {"name": "double-well", "barrier": [2.0, 1.0], "width": [0.8, 1.3], "centre": [0.0, 0.3]},
            {"name": "cosine", "amplitude": [0.7, -1.2], "wavelength": [0.9, 2.1], "centre": [0.1, 0.0]},
            {"name": "constant", "force": [0.3, -2.0]},
        ],
        2,
    )
    x = np.random.default_rng(0).uniform(-3, 3, (200, 2))
    h = 1e-6
    grad = np.stack(
        [(total_energy(potentials, x + h * e) - total_energy(potentials, x - h * e)) / (2 * h) for e in np.eye(2)],
        axis=1,
    )
    np.testing.assert_allclose(total_force(potentials, x), -grad, rtol=1e-6, atol=1e-6)


# ----------------------------------------------------------------------- boxes, walls
def test_periodic_box_conserves_particles_unwraps_exactly_and_becomes_uniform():
    n, L, D = 20_000, 4.0, 1.0
    ds = dustsim.simulate(
        init="uniform",
        artifact={"half_width": 0.5},
        n=n,
        dim=2,
        process="brownian",
        process_params={"D": D},
        boundary={"kind": "periodic", "box": L},
        dt=2e-3,
        t_end=4.0,
        record_every=500,
        seed=3,
    )
    x = ds.position.values.astype(np.float64)
    assert x.shape == (5, n, 2) and np.all(np.isfinite(x))
    assert np.all((x >= -L / 2) & (x < L / 2)), "a particle left the periodic box"
    assert ds.image.dtype == np.int32 and np.abs(ds.image.values).max() >= 1
    # unwrapped displacements are free Brownian motion: MSD = 2 d D t, exactly what the images must give
    disp = unwrapped_position(ds).values - unwrapped_position(ds).values[0]
    msd = (disp**2).sum(-1).mean(-1)[1:]
    exact = 4 * D * ds.time.values[1:]
    assert_within_se(msd, exact, exact * math.sqrt(2 / (2 * n)), "unwrapped MSD")
    # the stationary density is uniform
    final = x[-1]
    cells = np.floor((final + L / 2) / (L / 8)).astype(int)
    binned_check(cells[:, 0] * 8 + cells[:, 1], np.arange(65) - 0.5, np.ones(64), "uniform density")
    assert trajectory_process(ds) is None and ds.attrs["boundary"] == "periodic"


def test_reflecting_walls_never_leak_and_give_the_barometric_law():
    n, g, H = 20_000, 2.0, 3.0
    ds = dustsim.simulate(
        init="uniform",
        artifact={"half_width": 1.0},
        n=n,
        dim=2,
        process="brownian",
        potential=[{"name": "constant", "force": [0.0, -g]}],
        boundary={"kind": ["periodic", "reflecting"], "box": [4.0, H], "origin": [-2.0, -1.5]},
        dt=2e-3,
        t_end=3.0,
        record_every=100,
        seed=8,
    )
    y = ds.position.values[..., 1].astype(np.float64)
    assert np.all((y >= -1.5) & (y <= 1.5)), "a particle went through a reflecting wall"
    assert "image" in ds and np.all(ds.image.values[..., 1] == 0)
    edges = np.linspace(-1.5, 1.5, 31)
    exact = np.diff(-np.exp(-g * (edges + 1.5)))  # p(y) ~ exp(-g y / kT), relaxation time ~ 1 / g^2
    binned_check(y[-1], edges, exact, "sedimentation profile")


def test_reflecting_walls_hold_even_when_one_step_crosses_the_box_many_times():
    ds = dustsim.simulate(
        init="point",
        n=20_000,
        dim=1,
        process="brownian",
        process_params={"D": 50.0},
        boundary={"kind": "reflecting", "box": 0.05},
        dt=1e-3,
        t_end=0.05,
        record_every=5,
        seed=2,
    )
    x = ds.position.values
    assert np.all((x >= -0.025) & (x <= 0.025))
    binned_check(x[-1, :, 0].astype(np.float64), np.linspace(-0.025, 0.025, 11), np.ones(10), "folded uniform")


def test_particles_outside_the_box_are_refused():
    with pytest.raises(dustsim.errors.ConfigError, match="starts outside the box"):
        dustsim.simulate(
            init="uniform",
            artifact={"half_width": 3.0},
            n=100,
            dim=1,
            process="brownian",
            boundary={"kind": "reflecting", "box": 2.0},
            steps=2,
        )


# ---------------------------------------------------------------------- OU and noise
def test_exact_ou_and_euler_in_a_harmonic_trap_agree_on_variance_and_autocorrelation():
    k, D, n, dt = 1.5, 1.0, 20_000, 1e-3
    t0, taus = 4.0, np.array([0.25, 0.5, 1.0, 1.5])
    common = {"init": "point", "n": n, "dim": 2, "t_end": t0 + taus[-1], "seed": 17}
    exact = dustsim.simulate(**common, process="ou", process_params={"k": k, "D": D}, dt=0.25, record_every=1)
    euler = dustsim.simulate(
        **common,
        process="brownian",
        process_params={"D": D},
        potential=[{"name": "harmonic", "k": k}],
        dt=dt,
        record_every=250,
    )
    assert euler.attrs["stepper"] == "euler" and trajectory_process(euler) is None
    var_euler_stationary = D / (k * (1 - k * dt / 2))  # 0.075 % above D / k: far below the SE
    for ds, what in ((exact, "exact OU"), (euler, "Euler")):
        frames = ds.set_index(time="time").position
        x0 = frames.sel(time=t0, method="nearest").values.astype(np.float64).ravel()
        se = D / k * math.sqrt(2 / (2 * n))
        assert_within_se(x0.var(), D / k, se, f"{what} stationary variance")
        assert abs(var_euler_stationary - D / k) < 0.2 * se
        for tau in taus:
            xt = frames.sel(time=t0 + tau, method="nearest").values.astype(np.float64).ravel()
            rho = np.corrcoef(x0, xt)[0, 1]
            exact_rho = math.exp(-k * tau)
            assert_within_se(rho, exact_rho, (1 - exact_rho**2) / math.sqrt(2 * n), f"{what} autocorrelation {tau}")


def test_euler_increments_are_gaussian():
    n, dt, f = 100_000, 1e-2, 3.0
    ds = dustsim.simulate(
        init="point",
        n=n,
        dim=2,
        process="brownian",
        potential=[{"name": "constant", "force": f}],
        dt=dt,
        steps=2,
        record_every=1,
        seed=23,
    )
    x = ds.position.values.astype(np.float64)
    for step in (1, 2):
        z = (x[step] - x[step - 1] - f * dt) / math.sqrt(2 * dt)
        for axis in (0, 1):
            assert stats.kstest(z[:, axis], "norm").pvalue > 1e-4
    z1 = (x[1] - x[0] - f * dt).ravel()
    z2 = (x[2] - x[1] - f * dt).ravel()
    assert abs(np.corrcoef(z1, z2)[0, 1]) < 4.5 / math.sqrt(2 * n)


# ------------------------------------------------------------------ schedules, labels
def discrete_law(process, times):
    A, B, _ = affine_coefficients(process, times, "euler", 1, np.dtype(np.float64))
    alpha, var = [1.0], [0.0]
    for a, b in zip(A[:, 0], B[:, 0], strict=True):
        alpha.append(alpha[-1] * a)
        var.append(a * a * var[-1] + b * b)
    return np.array(alpha), np.array(var)


@pytest.mark.parametrize(
    "schedule",
    [
        {"name": "linear", "start": 0.05, "end": 10.0, "t1": 1.0},
        {"name": "python", "function": "physics_forces:vp_half_beta"},
    ],
)
def test_a_diffusion_schedule_in_a_harmonic_trap_is_the_vp_sde(schedule):
    n, steps = 40_000, 500
    ds = dustsim.simulate(
        init="gaussian",
        artifact={"std": 0.5, "mean": 1.0},
        n=n,
        dim=1,
        process="brownian",
        potential=[{"name": "harmonic", "k": 1.0}],
        schedule={**schedule, "of": "D"},
        steps=steps,
        t_end=1.0,
        record_every=100,
        seed=5,
    )
    alpha, var = discrete_law(make_process("vp"), np.linspace(0, 1, steps + 1))
    x0 = ds.position.isel(time=0).values[:, 0].astype(np.float64)
    for i, step in enumerate(ds.step.values[1:], start=1):
        x = ds.position.isel(time=i).values[:, 0].astype(np.float64)
        resid = x - alpha[step] * x0
        assert_within_se(resid.mean(), 0.0, math.sqrt(var[step] / n), f"VP mean at step {step}")
        assert_within_se(resid.var(), var[step], var[step] * math.sqrt(2 / n), f"VP variance at step {step}")


def test_a_temperature_schedule_scales_the_stationary_variance():
    n, k = 20_000, 2.0
    ds = dustsim.simulate(
        init="point",
        n=n,
        dim=1,
        process="brownian",
        potential=[{"name": "harmonic", "k": k}],
        schedule={"name": "constant", "value": 3.0, "of": "kT"},
        kT=0.5,
        dt=2e-3,
        t_end=3.0,
        record_every=1500,
        seed=4,
    )
    var = ds.position.isel(time=-1).values.astype(np.float64).var()
    exact = 3.0 * 0.5 / k  # kT(t) / k, relaxation rate mu k = D k / kT0 = 4
    assert_within_se(var, exact, exact * math.sqrt(2 / n), "stationary variance at kT = 1.5")


def test_label_types_have_their_own_diffusion_coefficient():
    n, D, t = 40_000, 0.5, 0.5
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 2, "std": 0.1},
        n=n,
        process="brownian",
        process_params={"D": D},
        label_diffusion=[1.0, 0.25],
        potential=[{"name": "constant", "force": 0.0}],
        dt=1e-2,
        t_end=t,
        record_every=50,
        seed=6,
    )
    disp = (ds.position.isel(time=-1) - ds.position.isel(time=0)).values.astype(np.float64)
    labels = ds.label.values
    for label, factor in ((0, 1.0), (1, 0.25)):
        d = disp[labels == label]
        exact = 2 * factor * D * t
        assert_within_se(d.var(axis=0), exact, exact * math.sqrt(2 / len(d)), f"label {label} variance")


def test_custom_force_equals_the_builtin_bit_for_bit():
    common = {"init": "gaussian", "n": 5000, "dim": 2, "process": "brownian", "dt": 1e-2, "steps": 40, "seed": 9}
    builtin = dustsim.simulate(**common, potential=[{"name": "harmonic", "k": 2.0}])
    custom = dustsim.simulate(**common, potential=[{"name": "custom", "force": "physics_forces:harmonic_k2"}])
    assert np.array_equal(builtin.position.values, custom.position.values)
    again = dustsim.simulate(dustsim.SimulationConfig.from_toml(custom.attrs["config"]))
    assert np.array_equal(again.position.values, custom.position.values)


def test_boundary_helpers_are_a_consistent_space():
    b = make_boundary({"kind": ["periodic", "reflecting", "free"], "box": [2.0, 3.0, 1.0]}, 3)
    rng = np.random.default_rng(1)
    x = np.stack([rng.uniform(-1, 1, 500), rng.uniform(-1.5, 1.5, 500), rng.normal(size=500)], axis=1)
    dx = rng.normal(scale=5.0, size=(500, 3))
    y, crossed = b.shift(x, dx)
    assert b.contains(y).all()
    np.testing.assert_allclose(b.unwrap(y, crossed)[:, 0], (x + dx)[:, 0], atol=1e-12)
    d = b.displacement(y, x)
    assert np.all(np.abs(d[:, 0]) <= 1.0 + 1e-12)
    np.testing.assert_array_equal(b.displacement(x, y), -d)
