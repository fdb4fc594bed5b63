"""The Fokker-Planck reference against exact densities: OU, VP by schedule, label mixtures, Boltzmann."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

import dustsim
from dustsim.errors import ConfigError
from dustsim.io import open_dataset, save_dataset
from dustsim.physics.fokker_planck import fokker_planck, validate_density
from dustsim.processes import make_process


def gaussian(x, mean, var):
    return np.exp(-((x - mean) ** 2) / (2 * var)) / np.sqrt(2 * np.pi * var)


def gaussian_cells(edges, mean, var):
    """Cell averages of the N(mean, var) density."""
    return np.diff(norm.cdf((edges - mean) / np.sqrt(var))) / np.diff(edges)


def test_conserves_mass_and_matches_the_ou_gaussian_in_1d():
    k, D, kT, m0, s0 = 2.0, 0.5, 0.8, 1.0, 0.3
    ds = fokker_planck(
        init="gaussian",
        artifact={"std": s0, "mean": m0},
        n=10,
        dim=1,
        process="brownian",
        process_params={"D": D},
        kT=kT,
        potential=[{"name": "harmonic", "k": k}],
        t_end=3.0,
        steps=30,
        record_every=3,
        cells=500,
    )
    np.testing.assert_allclose(ds.mass.values, 1.0, rtol=0, atol=1e-10)
    rate = D / kT * k  # mu k
    t = ds.time.values[:, None]
    mean = m0 * np.exp(-rate * t)
    var = s0**2 * np.exp(-2 * rate * t) + kT / k * -np.expm1(-2 * rate * t)
    exact = gaussian(ds.x.values[None, :], mean, var)
    err = np.abs(ds.density.values - exact).max(axis=1) / exact.max(axis=1)
    assert np.all(err < 2e-3), err


def test_matches_an_anisotropic_ou_gaussian_in_2d():
    ks = np.array([1.0, 3.0])
    ds = fokker_planck(
        init="gaussian",
        artifact={"std": 0.4, "mean": 0.5},
        n=10,
        dim=2,
        process="brownian",
        potential=[{"name": "harmonic", "k": ks.tolist(), "centre": [0.0, -0.2]}],
        t_end=1.0,
        steps=4,
        domain=[[-4.0, 4.0], [-3.0, 3.0]],
        record_every=2,
        cells=[100, 100],
    )
    np.testing.assert_allclose(ds.mass.values, 1.0, atol=1e-10)
    for i, t in enumerate(ds.time.values):
        centre = np.array([0.0, -0.2])
        mean = centre + (0.5 - centre) * np.exp(-ks * t)
        var = 0.16 * np.exp(-2 * ks * t) + (1 / ks) * -np.expm1(-2 * ks * t)
        exact = np.outer(
            gaussian_cells(ds.x_edges.values, mean[0], var[0]), gaussian_cells(ds.y_edges.values, mean[1], var[1])
        )
        assert np.abs(ds.density.values[i] - exact).max() / exact.max() < 2e-3


def test_a_diffusion_schedule_gives_the_continuous_vp_density():
    ds = fokker_planck(
        init="gaussian",
        artifact={"std": 0.2, "mean": 1.5},
        n=10,
        dim=1,
        process="brownian",
        potential=[{"name": "harmonic", "k": 1.0}],
        schedule={"name": "linear", "of": "D", "start": 0.05, "end": 10.0, "t1": 1.0},
        t_end=1.0,
        steps=10,
        record_every=2,
        cells=600,
    )
    vp = make_process("vp")
    alpha, sigma = vp.alpha(ds.time.values), vp.sigma(ds.time.values)
    exact = gaussian(ds.x.values[None, :], (alpha * 1.5)[:, None], (alpha**2 * 0.04 + sigma**2)[:, None])
    assert np.all(np.abs(ds.density.values - exact).max(axis=1) / exact.max(axis=1) < 3e-3)


def test_label_types_mix_their_own_diffusions():
    D, t_end = 0.5, 0.4
    ds = fokker_planck(
        init="gmm",
        artifact={"k": 2, "std": 0.15, "radius": 1.0},
        n=20_000,
        dim=2,
        process="brownian",
        process_params={"D": D},
        label_diffusion=[1.0, 0.25],
        t_end=t_end,
        steps=4,
        record_every=4,
        cells=[90, 90],
        seed=3,
    )
    art = dustsim.SimulationConfig.from_toml(ds.attrs["config"]).artifact
    means, stds = np.array(art["means"]), np.array(art["stds"])
    # the initial histogram of each label's particles evolves with its own D: compare marginal means/variances
    p = ds.density.isel(time=-1).values
    x, _y = np.meshgrid(ds.x.values, ds.y.values, indexing="ij")
    cell = np.diff(ds.x_edges.values)[0] * np.diff(ds.y_edges.values)[0]
    total_var = (p * (x - (p * x).sum() * cell) ** 2).sum() * cell
    weights = np.array([0.5, 0.5])
    var_k = stds**2 + 2 * np.array([1.0, 0.25]) * D * t_end
    mean_x = weights @ means[:, 0]
    exact_var = weights @ (var_k + means[:, 0] ** 2) - mean_x**2
    # the histogram of 20000 particles carries sampling noise: a few percent
    assert abs(total_var - exact_var) < 0.05 * exact_var


def test_periodic_landscape_relaxes_to_boltzmann_and_keeps_its_mass():
    A, lam, L = 1.5, 1.0, 4.0
    ds = fokker_planck(
        init="point",
        n=10,
        dim=1,
        process="brownian",
        potential=[{"name": "cosine", "amplitude": A, "wavelength": lam}],
        boundary={"kind": "periodic", "box": L},
        t_end=20.0,
        steps=4,
        record_every=4,
        cells=400,
    )
    np.testing.assert_allclose(ds.mass.values, 1.0, atol=1e-10)
    x = ds.x.values
    w = np.exp(-A * np.cos(2 * np.pi * x / lam))
    boltzmann = w / (w.sum() * (L / 400))
    np.testing.assert_allclose(ds.density.isel(time=-1).values, boltzmann, rtol=2e-3)


def test_tilted_washboard_keeps_mass_in_a_periodic_box():
    ds = fokker_planck(
        init="uniform",
        n=2000,
        dim=1,
        process="brownian",
        potential=[{"name": "cosine", "amplitude": 2.0, "wavelength": 1.0}, {"name": "constant", "force": 3.0}],
        boundary={"kind": "periodic", "box": 2.0},
        t_end=5.0,
        steps=10,
        record_every=5,
        cells=200,
    )
    np.testing.assert_allclose(ds.mass.values, 1.0, atol=1e-10)
    assert np.all(ds.density.values >= -1e-12)


def test_sedimentation_against_reflecting_walls_is_barometric():
    g = 2.0
    ds = fokker_planck(
        init="uniform",
        n=5000,
        dim=1,
        process="brownian",
        potential=[{"name": "constant", "force": -g}],
        boundary={"kind": "reflecting", "box": 3.0},
        t_end=10.0,
        steps=2,
        record_every=2,
        cells=300,
    )
    edges = ds.x_edges.values
    exact = np.diff(-np.exp(-g * (edges - edges[0]))) / (1 - math.exp(-g * 3.0)) / np.diff(edges)
    np.testing.assert_allclose(ds.density.isel(time=-1).values, exact, rtol=2e-3)


def test_density_dataset_round_trip_and_schema(tmp_path):
    ds = fokker_planck(
        init="gaussian",
        n=10,
        dim=1,
        process="brownian",
        potential=[{"name": "double-well"}],
        t_end=0.5,
        steps=5,
        record_every=1,
        cells=100,
        seed=4,
    )
    validate_density(ds)
    assert ds.attrs["kind"] == "density" and ds.density.dims == ("time", "x")
    path = save_dataset(ds, tmp_path / "fp.nc")
    back = open_dataset(path).load()
    validate_density(back)
    np.testing.assert_array_equal(back.density.values, ds.density.values)
    assert back.attrs["config"] == ds.attrs["config"]
    cfg = dustsim.SimulationConfig.from_toml(ds.attrs["config"])
    assert cfg.potential[0]["name"] == "double-well" and cfg.seed == 4


def test_interacting_dust_is_refused():
    with pytest.raises(ConfigError, match="non-interacting"):
        fokker_planck(
            init="uniform", n=10, dim=1, interaction={"name": "wca"}, boundary={"kind": "periodic", "box": 10.0}
        )


def test_initial_gaussian_is_exact_cell_integrals():
    ds = fokker_planck(
        init="gaussian",
        artifact={"std": 0.5},
        n=10,
        dim=1,
        process="brownian",
        t_end=1.0,
        steps=1,
        cells=200,
        domain=[-4.0, 4.0],
    )
    edges = ds.x_edges.values
    exact = np.diff(norm.cdf(edges / 0.5)) / np.diff(edges)
    np.testing.assert_allclose(ds.density.isel(time=0).values, exact / (exact * np.diff(edges)).sum(), rtol=1e-12)
