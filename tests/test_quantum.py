"""Quantum dust against exact results: free spreading, coherent states, dephasing, cats, the classical limit."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats
from stats_helpers import Z

from dustsim.errors import ConfigError
from dustsim.quantum import (
    QuantumGrid,
    cat_state,
    check_density_matrix,
    evolve_density_matrix,
    evolve_wavefunction,
    gaussian_packet,
    pure_density_matrix,
)
from dustsim.quantum.measure import born_sample
from dustsim.quantum.phase_space import caldeira_leggett, gaussian_wigner, negative_volume, wigner, wigner_cell
from dustsim.quantum.run import quantum_run
from dustsim.quantum.states import artifact_state, gaussian_mixed_state


def moments(grid: QuantumGrid, density: np.ndarray) -> tuple[float, float]:
    p = density / (density.sum() * grid.dx)
    mean = float(np.sum(p * grid.x) * grid.dx)
    return mean, float(np.sum(p * (grid.x - mean) ** 2) * grid.dx)


# ------------------------------------------------------------------ pure states
@pytest.mark.parametrize(("hbar", "mass"), [(1.0, 1.0), (0.5, 2.0)])
def test_free_packet_width_follows_the_exact_law(hbar, mass):
    grid = QuantumGrid(512, -24.0, 24.0, hbar=hbar, mass=mass)
    s0, p0 = 0.5, 0.3
    times, psi = evolve_wavefunction(
        grid, gaussian_packet(grid, -1.0, s0, p0), t_end=3.0, dt=0.1, record_every=5, progress=False
    )
    for t, f in zip(times, psi, strict=True):
        mean, var = moments(grid, np.abs(f) ** 2)
        exact = s0**2 * (1 + (hbar * t / (2 * mass * s0**2)) ** 2)
        assert abs(var / exact - 1) < 1e-6, (t, var, exact)
        assert abs(mean - (-1.0 + p0 * t / mass)) < 1e-9
        assert abs(np.sum(np.abs(f) ** 2) * grid.dx - 1) < 1e-10


def test_harmonic_coherent_state_centre_follows_the_classical_orbit():
    k, mass, hbar = 2.0, 0.5, 1.0
    omega = math.sqrt(k / mass)
    grid = QuantumGrid(256, -10.0, 10.0, hbar=hbar, mass=mass)
    x0, p0 = 1.5, -1.0
    width = math.sqrt(hbar / (2 * mass * omega))
    dt = 2e-3
    period = 2 * math.pi / omega
    times, psi = evolve_wavefunction(
        grid,
        gaussian_packet(grid, x0, width, p0),
        t_end=period,
        dt=dt,
        potential=f"harmonic:k={k}",
        record_every=100,
        progress=False,
        tolerance=1e-4,
    )
    dt = times[1] / 100
    # the split-operator step moves <x>, <p> exactly as kick-drift-kick leapfrog (Ehrenfest, linear force)
    x, p = x0, p0
    centres = [x]
    for _ in range(round(times[-1] / dt)):
        p -= 0.5 * dt * k * x
        x += dt * p / mass
        p -= 0.5 * dt * k * x
        centres.append(x)
    amplitude = math.hypot(x0, p0 / (mass * omega))
    for t, f in zip(times, psi, strict=True):
        mean, var = moments(grid, np.abs(f) ** 2)
        assert abs(mean - centres[round(t / dt)]) < 1e-9
        classical = x0 * math.cos(omega * t) + p0 / (mass * omega) * math.sin(omega * t)
        # leapfrog vs the exact orbit: frequency error omega^3 dt^2 / 24, amplitude error (omega dt)^2 / 6
        # (x_n = x0 cos(w' t) + p0 dt / (m sin(w' dt)) sin(w' t), cos(w' dt) = 1 - (omega dt)^2 / 2); margin 2
        assert abs(mean - classical) < 2 * amplitude * (omega**3 * dt**2 * t / 24 + (omega * dt) ** 2 / 6)
        assert abs(var / width**2 - 1) < 1e-4  # a coherent state keeps its width


def test_2d_pure_state_conserves_norm_and_spreads_per_axis():
    grid = QuantumGrid(96, -12.0, 12.0)
    psi1 = gaussian_packet(grid, 0.0, 0.6)
    _times, psi = evolve_wavefunction(grid, np.outer(psi1, psi1), t_end=1.0, dt=0.1, record_every=10, progress=False)
    density = np.abs(psi[-1]) ** 2
    assert abs(density.sum() * grid.dx**2 - 1) < 1e-10
    _, var = moments(grid, density.sum(axis=1))
    assert abs(var / (0.36 * (1 + (1.0 / (2 * 0.36)) ** 2)) - 1) < 1e-6


def test_density_matrix_conserves_trace_and_purity_in_a_double_well():
    grid = QuantumGrid(128, -5.0, 5.0)
    rho0 = pure_density_matrix(cat_state(grid, 2.0, 0.4))
    _, rho = evolve_density_matrix(
        grid,
        rho0,
        t_end=1.0,
        dt=1e-3,
        potential="double-well:barrier=1,width=1",
        record_every=250,
        progress=False,
        tolerance=1e-4,
    )
    for r in rho:
        assert abs(np.trace(r).real * grid.dx - 1) < 1e-10
        assert abs(np.sum(np.abs(r) ** 2) * grid.dx**2 - 1) < 1e-10
        assert np.linalg.norm(r - r.conj().T) < 1e-10


# ------------------------------------------------------------------- dephasing
def test_dephasing_decays_coherences_as_exp_minus_lambda_chord_squared_t():
    grid = QuantumGrid(256, -10.0, 10.0)
    lam = 0.8
    rho0 = pure_density_matrix(gaussian_packet(grid, 0.0, 0.7, 0.5))
    x = grid.x
    chord2 = (x[:, None] - x[None, :]) ** 2

    def run(t, lam_, dt):
        return evolve_density_matrix(
            grid, rho0, t_end=t, dt=dt, dephasing=lam_, record_every=10**6, progress=False, tolerance=1.0
        )[1][-1]

    # exact at every time for a free particle: the chord function C(r) = int rho(x + r, x) dx decays as exp(-L r^2 t)
    t = 1.0
    rho = run(t, lam, 0.05)
    for j in (1, 5, 10, 20):
        c0 = np.trace(rho0, offset=-j) * grid.dx
        c = np.trace(rho, offset=-j) * grid.dx
        assert abs(c - c0 * math.exp(-lam * (j * grid.dx) ** 2 * t)) < 1e-12
    # short times: rho_L(x, x') / rho_0(x, x') -> exp(-L (x - x')^2 t), with an O(t^2) remainder: from the
    # exact solution in (q, r) (q conjugate to (x + x')/2) it is exp(L r v t^2 - L v^2 t^3 / 3), v = hbar q / m,
    # bounded here by |r| <= sqrt(8 ln 100) s (where |rho_0| > 1% of its maximum) and |q| <= 3 / s
    width = 0.7
    big = np.abs(rho0) > 1e-2 * np.abs(rho0).max()
    bound = lam * math.sqrt(8 * math.log(100)) * width * (3 / width) * 0.02**2
    deviation = []
    for t in (0.02, 0.04):
        ratio = run(t, lam, t / 4)[big] / run(t, 0.0, t / 4)[big]
        deviation.append(np.max(np.abs(ratio / np.exp(-lam * chord2[big] * t) - 1)))
    assert deviation[0] < bound
    assert 3.0 < deviation[1] / deviation[0] < 5.0  # second order in t


def _binary_entropy(q: float) -> float:
    return -q * math.log(q) - (1 - q) * math.log(1 - q)


def test_cat_state_decoheres_to_purity_half_and_entropy_ln2():
    # separation / width = 380 so that the dephasing inside each packet (2 L s^2 t ~ 7e-5 at L d^2 t = 5) adds
    # less than the 1e-3 target to S; the large mass keeps the narrow packets from spreading meanwhile
    grid = QuantumGrid(1024, -5.12, 5.12, hbar=1.0, mass=1000.0)
    width = 2.5 * grid.dx
    separation = 380 * width
    lam = 5.0 / (separation**2 * 0.01)  # L d^2 t = 5 at t = 0.01
    rho0 = pure_density_matrix(cat_state(grid, separation, width))
    times, rho = evolve_density_matrix(
        grid, rho0, t_end=0.01, dt=1e-3, dephasing=lam, record_every=2, progress=False, tolerance=1e-6
    )
    from analysis.quantum import von_neumann_entropy

    final = rho[-1]
    purity = float(np.sum(np.abs(final) ** 2) * grid.dx**2)
    entropy = von_neumann_entropy(final, grid.dx)
    assert abs(purity - 0.5) < 1e-3
    assert abs(entropy - math.log(2)) < 1e-3
    # on the way: two orthogonal packets with coherence exp(-L d^2 t): S = h((1 + c) / 2)
    for t, r in zip(times, rho, strict=True):
        c = math.exp(-lam * separation**2 * t)
        expected = _binary_entropy((1 + c) / 2) if c < 1 else 0.0
        assert abs(von_neumann_entropy(r, grid.dx) - expected) < 1e-3


def test_wigner_negativity_of_a_cat_decays_monotonically_under_dephasing():
    grid = QuantumGrid(288, -12.0, 12.0)
    rho0 = pure_density_matrix(cat_state(grid, 3.0, 0.4))
    _, rho = evolve_density_matrix(
        grid, rho0, t_end=0.8, dt=2.5e-3, dephasing=2.0, record_every=20, progress=False, tolerance=1e-4
    )
    neg = np.array([negative_volume(grid, wigner(grid, r)) for r in rho])
    assert neg[0] > 0.1  # the cat's fringes
    assert np.all(np.diff(neg) < 1e-12), neg
    assert neg[-1] < 1e-3 * neg[0]


def test_wigner_marginal_and_purity_are_exact_on_the_grid():
    grid = QuantumGrid(128, -8.0, 8.0)
    psi = cat_state(grid, 3.0, 0.5, phase=0.7, momentum=0.8)
    W = wigner(grid, psi)
    p_cell = wigner_cell(grid) / grid.dx
    assert np.max(np.abs(W.sum(axis=1) * p_cell - np.abs(psi) ** 2)) < 1e-12
    assert abs(2 * math.pi * grid.hbar * np.sum(W**2) * wigner_cell(grid) - 1) < 1e-12
    # a Gaussian packet has a positive Wigner function
    assert negative_volume(grid, wigner(grid, gaussian_packet(grid, 0.0, 0.5))) < 1e-12


# -------------------------------------------------------------- classical limit
def test_caldeira_leggett_free_particle_matches_the_exact_kramers_variance_and_entropy():
    # free particle: the Wigner equation is the classical Klein-Kramers equation, so the exact
    # underdamped Langevin result holds: Var x = s0^2 + (2 kT / m g^2)(g t - 1 + e^{-g t})
    grid = QuantumGrid(192, -8.0, 8.0, hbar=0.25)
    kT, gamma, s0 = 0.5, 5.0, 0.2
    W0 = gaussian_wigner(grid, 0.0, s0, math.sqrt(kT))
    times, W = caldeira_leggett(
        grid, W0, t_end=10.0, dt=0.02, gamma=gamma, kT=kT, record_every=50, progress=False, tolerance=2e-3
    )
    from analysis.quantum import shannon_entropy

    p_cell = wigner_cell(grid) / grid.dx
    H = []
    for t, w in zip(times, W, strict=True):
        density = w.sum(axis=1) * p_cell
        _, var = moments(grid, density)
        exact = s0**2 + 2 * kT / gamma**2 * (gamma * t - 1 + math.exp(-gamma * t))
        assert abs(var / exact - 1) < 2e-3  # Strang splitting error, O((gamma dt)^2)
        H.append(shannon_entropy(density, grid.dx))
        assert abs(H[-1] - 0.5 * math.log(2 * math.pi * math.e * exact)) < 2e-3
    # diffusive growth: dH / d log t -> 1/2 (the offsets s0^2 and 2D/gamma nearly cancel here)
    slope = (H[-1] - H[-3]) / math.log(times[-1] / times[-3])
    exact_var = [s0**2 + 2 * kT / gamma**2 * (gamma * t - 1 + math.exp(-gamma * t)) for t in (times[-3], times[-1])]
    exact_slope = 0.5 * math.log(exact_var[1] / exact_var[0]) / math.log(times[-1] / times[-3])
    assert abs(slope - exact_slope) < 5e-3
    assert abs(exact_slope - 0.5) < 0.02


def test_free_schrodinger_shannon_entropy_grows_like_log_t():
    grid = QuantumGrid(512, -24.0, 24.0)
    s0 = 0.3
    times, psi = evolve_wavefunction(
        grid, gaussian_packet(grid, 0.0, s0), t_end=2.0, dt=0.05, record_every=20, progress=False
    )
    from analysis.quantum import shannon_entropy

    H = [shannon_entropy(np.abs(f) ** 2, grid.dx) for f in psi]
    for t, h in zip(times, H, strict=True):
        assert abs(h - 0.5 * math.log(2 * math.pi * math.e * s0**2 * (1 + (t / (2 * s0**2)) ** 2))) < 1e-6
    slope = (H[-1] - H[-2]) / math.log(times[-1] / times[-2])
    assert abs(slope - 1.0) < 0.02  # ballistic: dH / d log t -> 1


def test_caldeira_leggett_at_high_friction_approaches_the_fokker_planck_density():
    """Overdamped limit: CL at time t vs dustsim's Fokker-Planck at t - 1/gamma (the velocity slip).

    The remaining error is O(omega^2 / gamma^2): the L1 distance must fall ~4x when gamma doubles
    (measured: 0.0127 at gamma = 10, 0.0032 at gamma = 20; the splitting error at dt = 0.005 is ~1e-4).
    """
    import dustsim

    grid = QuantumGrid(192, -3.0, 3.0, hbar=0.1)
    kT, mass, t_end = 0.5, 1.0, 2.0
    pot = {"name": "double-well", "barrier": 1.0, "width": 1.0}
    W0 = gaussian_wigner(grid, 0.5, 0.3, math.sqrt(mass * kT))
    p_cell = wigner_cell(grid) / grid.dx
    distances = []
    for gamma in (10.0, 20.0):
        _, W = caldeira_leggett(
            grid,
            W0,
            t_end=t_end,
            dt=0.005,
            gamma=gamma,
            kT=kT,
            potential=[pot],
            record_every=400,
            progress=False,
            tolerance=1e-3,
        )
        fp = dustsim.fokker_planck(
            {
                "init": "gaussian",
                "artifact": {"mean": 0.5, "std": 0.3},
                "dim": 1,
                "process": "brownian",
                "process_params": {"D": kT / (mass * gamma)},
                "kT": kT,
                "potential": [pot],
                "t_end": t_end - 1 / gamma,
                "steps": 100,
                "record_every": 100,
                "seed": 0,
            },
            cells=600,
            domain=[-3.0, 3.0],
        )
        reference = np.interp(grid.x, fp.x.values, fp.density.values[-1])
        distances.append(float(np.abs(W[-1].sum(axis=1) * p_cell - reference).sum() * grid.dx))
    assert distances[1] < 4e-3
    assert 3.2 < distances[0] / distances[1] < 5.0, distances


# ------------------------------------------------------------------ measurement
def test_born_samples_pass_a_ks_test_against_the_exact_density():
    ds = quantum_run(
        "gaussian:width=0.4,momentum=1",
        points=512,
        domain=(-16, 16),
        t_end=2.0,
        dt=0.05,
        record_every=20,
        progress=False,
    )
    traj = born_sample(ds, 20_000, seed=3)
    from dustsim.schema import validate_trajectory

    validate_trajectory(traj)
    assert traj.attrs["dynamics"] == "quantum-measurement"
    alpha = 2 * stats.norm.sf(Z)  # the suite's Z = 4.5 as a two-sided level
    for k, t in enumerate(traj.time.values):
        sd = 0.4 * math.sqrt(1 + (t / (2 * 0.16)) ** 2)
        result = stats.kstest(traj.position.values[k, :, 0], stats.norm(loc=t, scale=sd).cdf)
        assert result.pvalue > alpha, (t, result)
    # another seed gives other samples; the same seed the same ones
    assert not np.array_equal(born_sample(ds, 100, seed=4).position.values, traj.position.values[:, :100])
    np.testing.assert_array_equal(
        born_sample(ds, 100, seed=3).position.values[0], born_sample(ds, 100, seed=3, times=[0.0]).position.values[0]
    )


def test_measured_dust_continues_in_the_classical_simulator_and_analysis(tmp_path):
    import dustsim
    from analysis import entropy_trajectory
    from analysis.quantum import quantum_entropy
    from dustsim.quantum.measure import measurement_points

    ds = quantum_run(
        "cat:separation=4,width=0.5", points=256, domain=(-10, 10), t_end=0.5, dt=0.05, record_every=5, progress=False
    )
    traj = born_sample(ds, 4000, seed=1)
    ent = entropy_trajectory(traj, estimators=("knn",), kl=False, mutual_information=False)
    qe = quantum_entropy(ds)
    est, se = ent["entropy"].sel(estimator="knn").values, ent["entropy_se"].sel(estimator="knn").values
    assert np.all(np.abs(est - qe["shannon"].values) < Z * se + 0.02)  # kNN bias at n = 4000 is ~0.01
    path = measurement_points(traj, tmp_path / "measured.npy")
    run = dustsim.simulate(init=f"points:{path}", dim=1, process="brownian", steps=10, seed=0)
    np.testing.assert_allclose(run.position.values[0, :, 0], traj.position.values[-1, :, 0], rtol=1e-6)


# -------------------------------------------------------------------- bad input
def test_grid_too_coarse_for_the_packet_is_refused():
    grid = QuantumGrid(64, -10.0, 10.0)
    with pytest.raises(ConfigError, match="too coarse"):
        evolve_wavefunction(grid, gaussian_packet(grid, 0.0, 0.1), t_end=1.0, dt=0.01)
    with pytest.raises(ConfigError, match="too coarse"):  # a fast packet aliases too
        evolve_wavefunction(grid, gaussian_packet(grid, 0.0, 1.0, momentum=8.0), t_end=1.0, dt=0.01)
    wide = QuantumGrid(128, -10.0, 10.0)
    with pytest.raises(ConfigError, match="edge"):
        evolve_wavefunction(wide, gaussian_packet(wide, 9.0, 0.5), t_end=1.0, dt=0.01)


def test_too_large_a_step_for_the_accuracy_target_is_refused():
    grid = QuantumGrid(128, -8.0, 8.0)
    psi = gaussian_packet(grid, 1.0, 0.5)
    with pytest.raises(ConfigError, match=r"dt = 0\.2 is too large"):
        evolve_wavefunction(grid, psi, t_end=2.0, dt=0.2, potential="harmonic:k=4", tolerance=1e-6)
    # the free particle is exact at any step
    evolve_wavefunction(grid, psi, t_end=1.0, dt=0.5, tolerance=1e-12, progress=False)


def test_caldeira_leggett_refuses_a_step_too_large_for_its_accuracy_target():
    grid = QuantumGrid(96, -8.0, 8.0, hbar=0.5)
    W0 = gaussian_wigner(grid, 0.0, 0.5, 0.8)
    with pytest.raises(ConfigError, match="too large for the split-operator accuracy target"):
        caldeira_leggett(grid, W0, t_end=5.0, dt=0.05, gamma=5.0, kT=0.5, tolerance=1e-5)
    with pytest.raises(ConfigError, match="too large for the damping"):
        caldeira_leggett(grid, W0, t_end=5.0, dt=0.2, gamma=5.0, kT=0.5)


def test_non_hermitian_non_positive_and_non_normalisable_states_are_refused():
    grid = QuantumGrid(64, -8.0, 8.0)
    rho = pure_density_matrix(gaussian_packet(grid))
    bad = rho.copy()
    bad[10, 20] += 0.1
    with pytest.raises(ConfigError, match="not Hermitian"):
        check_density_matrix(grid, bad)
    with pytest.raises(ConfigError, match="positive semi-definite"):
        check_density_matrix(grid, rho - 0.5 * pure_density_matrix(gaussian_packet(grid, 1.0, 0.5)))
    with pytest.raises(ConfigError, match="not normalisable"):
        evolve_wavefunction(grid, np.zeros(64), t_end=1.0, dt=0.1)
    with pytest.raises(ConfigError, match="not normalisable"):
        evolve_wavefunction(grid, np.full(64, np.nan), t_end=1.0, dt=0.1)
    with pytest.raises(ConfigError, match="uncertainty"):
        gaussian_mixed_state(grid, 0.0, 0.5, 0.5)


def test_artifact_state_has_the_artifacts_density():
    grid = QuantumGrid(512, -3.0, 3.0)
    psi = artifact_state(grid, "gmm:k=2,std=0.2")
    from dustsim.mixture import GaussianMixture

    law = GaussianMixture(np.array([[-0.8], [0.8]]), np.array([0.2, 0.2]), np.array([0.5, 0.5]))
    np.testing.assert_allclose(np.abs(psi) ** 2, np.exp(law.logpdf(grid.x[:, None])), atol=1e-10)
    with pytest.raises(ConfigError, match="too coarse"):  # a sharp-edged density has a long momentum tail
        quantum_run("artifact:uniform", points=128, domain=(-4, 4), progress=False)


def test_mixed_state_purity():
    grid = QuantumGrid(256, -10.0, 10.0)
    rho = gaussian_mixed_state(grid, 0.0, 0.5, 2.0)
    assert abs(np.sum(np.abs(rho) ** 2) * grid.dx**2 - 1 / (2 * 0.5 * 2.0)) < 1e-10


# ------------------------------------------------------------------ invariances
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_GRID = QuantumGrid(192, -10.0, 10.0)
_WIDE = QuantumGrid(128, -20.0, 20.0)  # tails ~1e-25 at the edges: grid shifts are exact


@settings(max_examples=20, deadline=None)
@given(
    separation=st.floats(0.0, 4.0),
    width=st.floats(0.4, 1.0),
    phase=st.floats(0.0, 2 * math.pi),
    shift=st.integers(-10, 10),
    boost=st.integers(-6, 6),
)
def test_wigner_is_covariant_under_grid_shifts_and_boosts(separation, width, phase, shift, boost):
    psi = cat_state(_WIDE, separation, width, phase=phase)
    W = wigner(_WIDE, psi)
    np.testing.assert_allclose(wigner(_WIDE, np.roll(psi, shift)), np.roll(W, shift, axis=0), atol=1e-13)
    dp = math.pi * _WIDE.hbar / (_WIDE.n * _WIDE.dx)  # the Wigner grid's momentum spacing
    boosted = wigner(_WIDE, psi * np.exp(1j * boost * dp * _WIDE.x / _WIDE.hbar))
    np.testing.assert_allclose(boosted, np.roll(W, boost, axis=1), atol=1e-13)
    np.testing.assert_allclose(wigner(_WIDE, np.exp(1j * phase) * psi), W, atol=1e-13)  # global phase


# unitarity holds on the grid even where a steep well kicks the tails beyond the band (and the run warns so)
@pytest.mark.filterwarnings("ignore:at t = .* beyond half the grid's band")
@settings(max_examples=15, deadline=None)
@given(
    k=st.floats(0.0, 2.0),
    barrier=st.floats(0.0, 2.0),
    width=st.floats(0.5, 1.0),
    centre=st.floats(-2.0, 2.0),
    momentum=st.floats(-1.5, 1.5),
)
def test_unitary_evolution_keeps_norm_and_purity_for_any_potential(k, barrier, width, centre, momentum):
    potential = [f"harmonic:k={k}", f"double-well:barrier={barrier},width=1.5"]
    psi = gaussian_packet(_GRID, centre, width, momentum)
    _, frames = evolve_wavefunction(
        _GRID, psi, t_end=0.5, dt=0.01, potential=potential, record_every=50, progress=False, tolerance=1.0
    )
    assert abs(np.sum(np.abs(frames[-1]) ** 2) * _GRID.dx - 1) < 1e-10
    _, rho = evolve_density_matrix(
        _GRID,
        pure_density_matrix(psi),
        t_end=0.5,
        dt=0.01,
        potential=potential,
        record_every=50,
        progress=False,
        tolerance=1.0,
    )
    # the density matrix follows the same unitary: rho = psi psi^H at the end
    np.testing.assert_allclose(rho[-1], np.outer(frames[-1], frames[-1].conj()), atol=1e-10)
