"""Interacting dust: cell lists vs brute force, the dilute limit, bitwise reproducibility, the step guard."""

from __future__ import annotations

import itertools
import math

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stats_helpers import Z

import dustsim
from dustsim.errors import StepSizeError
from dustsim.io import FrameStore, partial_path
from dustsim.physics.boundaries import make_boundary
from dustsim.physics.interactions import make_interaction, pair_forces, radial_distribution

SPECS = [
    {"name": "harmonic", "epsilon": 10.0, "sigma": 1.0},
    {"name": "wca", "epsilon": 1.0, "sigma": 0.9},
    {"name": "lj", "epsilon": 0.5, "sigma": 0.8, "cutoff": 2.0},
    {"name": "morse", "epsilon": 3.0, "a": 4.0, "r0": 1.0, "cap": 50.0},
]


@st.composite
def configurations(draw):
    dim = draw(st.integers(1, 3))
    spec = draw(st.sampled_from(SPECS))
    inter = make_interaction(spec)
    kinds = [draw(st.sampled_from(["free", "periodic", "reflecting"])) for _ in range(dim)]
    boxes = [draw(st.floats(2.0 * inter.cutoff, 6.0 * inter.cutoff)) for _ in range(dim)]
    boundary = make_boundary({"kind": kinds, "box": boxes}, dim)
    n = draw(st.integers(2, 80))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    lo = np.where(np.isfinite(boundary.lo), boundary.lo, -3.0)
    length = np.where(np.isfinite(boundary.length), boundary.length, 6.0)
    x = (lo + rng.random((n, dim)) * length).astype(dtype)
    x = np.where(boundary.periodic & (x >= lo + length), lo, x).astype(dtype)  # float32 rounding up to the wall
    # some pairs exactly at the cut-off, some coincident: the edge cases of the cell grid
    if n >= 4:
        x[1] = x[0]
        x[3, 0] = x[2, 0] + np.asarray(inter.cutoff * 0.999, dtype) if not boundary.periodic[0] else x[3, 0]
    x = boundary.shift(x.astype(np.float64), 0.0)[0].astype(dtype) if not boundary.is_free else x
    return x, inter, boundary


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(configurations())
def test_cell_list_forces_equal_brute_force_exactly(case):
    x, inter, boundary = case
    try:
        _f_cells, q_cells = pair_forces(x, inter, boundary, method="cells")
    except FloatingPointError:  # overlapping particles: the brute force must overflow too
        with pytest.raises(FloatingPointError):
            pair_forces(x, inter, boundary, method="brute")
        return
    _f_brute, q_brute = pair_forces(x, inter, boundary, method="brute")
    np.testing.assert_array_equal(q_cells, q_brute)
    # Newton's third law holds exactly in fixed point
    np.testing.assert_array_equal(q_cells.sum(axis=0), 0)


def test_pair_forces_follow_the_potential():
    """Two particles at distance r feel -u'(r) along their separation (float64, to fixed-point resolution)."""
    for spec in SPECS:
        inter = make_interaction(spec)
        for r in np.linspace(0.75, inter.cutoff * 1.05, 23):
            x = np.array([[0.0, 0.0], [r * 0.6, r * 0.8]])
            f, _ = pair_forces(x, inter)
            expected = inter.force(r)
            np.testing.assert_allclose(f[1], expected * np.array([0.6, 0.8]), atol=1e-8, rtol=1e-9)
            np.testing.assert_allclose(f[0], -f[1], atol=0)


def test_dilute_soft_disks_have_the_low_density_pair_distribution():
    """At low density g(r) -> exp(-u(r)/kT) inside the core and 1 outside, to O(rho)."""
    n, rho, eps = 4000, 0.02, 4.0
    L = math.sqrt(n / rho)
    spec = {"name": "harmonic", "epsilon": eps, "sigma": 1.0}
    ds = dustsim.simulate(
        init="uniform",
        artifact={"half_width": L / 2 * 0.999},
        n=n,
        dim=2,
        process="brownian",
        boundary={"kind": "periodic", "box": L},
        interaction=spec,
        dt=5e-3,
        t_end=12.0,
        record_every=200,
        seed=31,
    )
    frames = ds.position.values[2:].astype(np.float64)  # t >= 2: relaxed; frames 1 apart are nearly independent
    boundary = make_boundary({"kind": "periodic", "box": L}, 2)
    r, g, counts = radial_distribution(frames, boundary, r_max=3.0, bins=12)
    inter = make_interaction(spec)
    edges = np.linspace(0, 3, 13)
    # bin average of exp(-u/kT), weighted by the shell area
    ideal = np.array(
        [
            np.trapezoid(np.exp(-inter.energy(s)) * s, s) / np.trapezoid(s, s)
            for s in (np.linspace(a, b, 201) for a, b in itertools.pairwise(edges))
        ]
    )
    se = np.maximum(g, 0.05) / np.sqrt(np.maximum(counts, 1))
    # |g - g_0| <= Z SE + the O(rho) correction, |rho * integral of f f| <= rho pi sigma^2
    assert np.all(np.abs(g - ideal) <= Z * se + rho * math.pi * ideal), np.c_[r, g, ideal, se]
    outside = r > 1.0
    assert np.all(np.abs(g[outside] - 1.0) <= Z * se[outside] + 0.02)
    assert g[0] < 0.5, "the soft core must deplete close pairs"


# ------------------------------------------------------------------ reproducibility
# 10001 soft disks at packing fraction 0.3: enough chunks of particles for the parallel steps
INTERACTING = {
    "init": "uniform",
    "artifact": {"half_width": 80.0},
    "n": 10_001,
    "dim": 2,
    "process": "brownian",
    "boundary": {"kind": "periodic", "box": 161.0},
    "interaction": {"name": "harmonic", "epsilon": 10.0, "sigma": 1.0},
    "potential": [{"name": "cosine", "amplitude": 0.5, "wavelength": 16.1}],
    "dt": 4e-3,
    "steps": 60,
    "record_every": 10,
    "seed": 71,
}


def test_ideal_gas_limit_of_the_interacting_code_is_the_free_code_bit_for_bit():
    free = dict(INTERACTING)
    free.pop("interaction")
    kwargs = {
        "init": "checkerboard",
        "artifact": {"scale": 80.0},  # 8 labels, up to the walls
        "label_diffusion": [1.0, 0.5, 2.0, 1.0, 0.25, 1.5, 1.0, 0.75],
    }
    off = dustsim.simulate(**{**INTERACTING, **kwargs, "interaction": {"name": "harmonic", "epsilon": 0.0}})
    alone = dustsim.simulate(**{**free, **kwargs})
    assert np.array_equal(off.position.values, alone.position.values)
    assert np.array_equal(off.image.values, alone.image.values) and np.abs(off.image.values).max() > 0
    on = dustsim.simulate(**{**INTERACTING, **kwargs, "interaction": {"name": "harmonic", "epsilon": 2.0}})
    assert not np.array_equal(on.position.values, alone.position.values)


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_interacting_run_does_not_depend_on_the_thread_count():
    one = dustsim.simulate(**INTERACTING, threads=1)
    two = dustsim.simulate(**INTERACTING, threads=2)
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
    assert np.array_equal(one.position.values, two.position.values)
    assert np.array_equal(one.image.values, two.image.values)


class Interrupt(Exception):
    pass


@pytest.mark.parametrize("suffix", [".zarr", ".nc"])
def test_interacting_periodic_run_resumes_bit_for_bit(tmp_path, monkeypatch, suffix):
    reference = dustsim.simulate(**INTERACTING)
    out = tmp_path / f"run{suffix}"
    original = FrameStore.write_frame

    def failing(self, index, frame, progress, extra=None):
        if index == 4:
            raise Interrupt
        original(self, index, frame, progress, extra)

    monkeypatch.setattr(FrameStore, "write_frame", failing)
    with pytest.raises(Interrupt):
        dustsim.simulate(**INTERACTING, output=out)
    assert not out.exists()
    monkeypatch.setattr(FrameStore, "write_frame", original)
    resumed = dustsim.simulate(output=out, resume=True)
    assert np.array_equal(resumed.position.values, reference.position.values)
    assert np.array_equal(resumed.image.values, reference.image.values)
    assert resumed.attrs["config"] == reference.attrs["config"]
    assert not partial_path(out).exists()


def test_record_interval_does_not_change_an_interacting_path():
    every_10 = dustsim.simulate(**INTERACTING)
    every_20 = dustsim.simulate(**{**INTERACTING, "record_every": 20})
    sel = every_10.set_index(time="step").sel(time=every_20.step.values)
    assert np.array_equal(sel.position.values, every_20.position.values)


# ------------------------------------------------------------------- the step guard
def test_step_guard_stops_an_unstable_run_before_writing_nans(tmp_path):
    out = tmp_path / "lj.nc"
    with pytest.raises(StepSizeError, match=r"step \d+ .*smaller dt"):
        dustsim.simulate(
            init="uniform",
            artifact={"half_width": 4.0},
            n=400,
            dim=2,
            process="brownian",
            boundary={"kind": "periodic", "box": 10.0},
            interaction={"name": "lj"},
            dt=1e-2,
            steps=50,
            output=out,
            seed=1,
        )
    assert not out.exists()
    store = FrameStore(partial_path(out))
    written = store.read_progress()["frames_written"]
    store.open()
    for i in range(written):
        assert np.all(np.isfinite(store.read_frame(i)))


def test_step_guard_catches_a_non_finite_user_force():
    with pytest.raises(StepSizeError, match="infinite or NaN"):
        dustsim.simulate(
            init="gaussian",
            n=500,
            dim=1,
            process="brownian",
            potential=[{"name": "custom", "force": "physics_forces:blows_up"}],
            dt=1e-3,
            steps=20,
            seed=2,
        )


def test_noise_larger_than_the_guard_is_refused():
    with pytest.raises(StepSizeError, match="sqrt\\(2 D dt\\)"):
        dustsim.simulate(
            init="uniform",
            n=100,
            dim=1,
            process="brownian",
            potential=[{"name": "double-well", "barrier": 0.01, "width": 0.1}],
            dt=0.1,
            steps=5,
        )


def test_a_stiff_potential_is_refused():
    with pytest.raises(StepSizeError, match="U'' dt"):
        dustsim.simulate(
            init="uniform",
            n=100,
            dim=1,
            process="brownian",
            potential=[{"name": "harmonic", "k": 500.0}],
            dt=0.01,
            steps=5,
        )
