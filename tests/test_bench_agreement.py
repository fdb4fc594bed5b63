"""The physics agreement check of scripts/bench/interacting.py catches a perturbed side (no LAMMPS needed)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts" / "bench"))
import interacting

FRAMES, BINS = 400, 20


def synthetic(seed, energy=0.043, shift_gr=0.0, rho=0.8):
    """Per-frame energies and g(r) rows with AR(1) correlation in time (like equilibrium frames)."""
    r = np.random.default_rng(seed)
    g_mean = 1.0 - 0.3 * np.exp(-np.linspace(0, 2.5, BINS)) + shift_gr * (np.arange(BINS) < 5)
    noise = np.empty((FRAMES, BINS + 1))
    noise[0] = r.standard_normal(BINS + 1)
    for t in range(1, FRAMES):
        noise[t] = rho * noise[t - 1] + np.sqrt(1 - rho**2) * r.standard_normal(BINS + 1)
    return energy + 4e-4 * noise[:, 0], g_mean + 0.02 * noise[:, 1:]


@pytest.mark.parametrize("seed", range(5))
def test_same_physics_passes(seed):
    a = synthetic(2 * seed)
    b = synthetic(2 * seed + 1)
    assert interacting.check_agreement(*a, *b).passed


def test_a_perturbed_side_fails_on_the_energy():
    a = synthetic(1, energy=0.043 * 0.98)  # ~ what a 10 % stiffer potential does to E/N (--self-check)
    b = synthetic(2)
    result = interacting.check_agreement(*a, *b)
    assert not result.passed and abs(result.energy_z) > interacting.Z


def test_a_different_structure_fails_on_g_of_r():
    a = synthetic(3, shift_gr=0.03)
    b = synthetic(4)
    result = interacting.check_agreement(*a, *b)
    assert not result.passed and abs(result.energy_z) < interacting.Z and result.gr_p < 1e-6


def test_frame_observables_of_an_ideal_gas():
    """Uniform random points: g(r) = 1 within its Poisson error; energy = rho pi/12 per particle (exact mean)."""
    L, n = 60.0, 3000
    x = np.random.default_rng(0).uniform(0, L, (n, 2))
    energy, g = interacting.frame_observables(x, L)
    edges = interacting.R_EDGES
    expected_pairs = 0.5 * n * (n - 1) / L**2 * np.pi * np.diff(edges**2)
    assert np.all(np.abs(g - 1.0) < 4.5 / np.sqrt(expected_pairs))
    # E/N = (rho / 2) * integral_0^1 u(r) 2 pi r dr with u = (1 - r)^2 / 2: rho pi / 24
    rho = n / L**2
    mean = rho * np.pi / 24
    # variance of a U-statistic of n uniform points on a torus: the one-point projection is
    # constant, so Var(E/N) = (rho / 2) * integral u^2 2 pi r dr / n = (rho / 2) (pi / 60) / n
    se = np.sqrt(rho / 2 * np.pi / 60 / n)
    assert abs(energy - mean) < 4.5 * se
