"""Verlet neighbour lists (kernels/verlet.py): the same trajectory as the cell list rebuilt every step.

The list changes only which candidate pairs are visited (from the list, or by a search of
the cells for particles that moved more than half the skin); the pair test ``r < rc`` and
the fixed-point force sum are the cell list's, so positions and images must be equal bit
for bit for any skin, rebuild schedule, thread count and split of the steps between calls.
"""

from __future__ import annotations

import itertools

import numba
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dustsim
from dustsim.kernels import euler as ke
from dustsim.kernels import rng
from dustsim.kernels import verlet as kv
from dustsim.physics.boundaries import make_boundary
from dustsim.physics.interactions import make_interaction
from dustsim.physics.potentials import make_potentials, separable_params

SPECS = [
    {"name": "harmonic", "epsilon": 10.0, "sigma": 1.0},
    {"name": "wca", "epsilon": 1.0, "sigma": 0.9},
    {"name": "lj", "epsilon": 0.5, "sigma": 0.8, "cutoff": 2.0},
    {"name": "morse", "epsilon": 3.0, "a": 4.0, "r0": 1.0, "cap": 50.0},
]


def make_case(n, kinds, boxes, dtype, spec, steps, seed, noise=1.0, potential=None, types=1):
    """Kernel arguments of a small run: positions, the tuples of ``advance_pairs`` and the flat ones."""
    dim = len(kinds)
    inter = make_interaction(spec)
    boundary = make_boundary({"kind": kinds, "box": boxes}, dim)
    r = np.random.default_rng(seed)
    lo = np.where(np.isfinite(boundary.lo), boundary.lo, -0.5 * np.asarray(boxes))
    length = np.where(np.isfinite(boundary.length), boundary.length, boxes)
    x = (lo + r.random((n, dim)) * length).astype(dtype)
    x = np.where(boundary.periodic & (x >= lo + length), lo, x).astype(dtype)
    dt = np.dtype(dtype)
    kinds_a, lo_a, L, hi, half = boundary.kernel_arrays(dt)
    P, flags = separable_params(make_potentials(potential, dim), dim, dt)
    A = np.ones((steps, dim), dt)
    C = np.zeros((steps, dim), dt)
    M = np.full(steps, 1e-3, dt)
    B = np.full(steps, np.sqrt(2e-3) * noise, dt)
    mf = np.linspace(1.0, 0.5, types).astype(dt)
    bf = np.sqrt(mf).astype(dt)
    labels = (np.arange(n) % types).astype(np.int32)
    k0, k1 = rng.split_key(seed)
    words = np.array([rng.stream_axis_word(0, a) for a in range(dim)], dtype=np.uint64)
    return {
        "x": np.ascontiguousarray(x.T),
        "labels": labels,
        "steps": kv.Steps(A, C, M, B),
        "forces": kv.Forces(mf, bf, P, flags, ke.no_force, False),
        "box": kv.Box(kinds_a, lo_a, L, hi, half),
        "inter": inter,
        "Q": inter.params(dt),
        "eps": float(np.finfo(dt).eps),
        "words": words,
        "k0": k0,
        "k1": k1,
        "max_drift": dt.type(np.inf),
    }


def run_lists(case, skin, step0=0, splits=(), keep_work=False, between=None):
    """Positions, images, status, list builds and fast particles after ``advance_pairs`` (split at ``splits``)."""
    x = case["x"].copy()
    d, n = x.shape
    parts = kv.Particles(np.zeros((d, n), np.int32), case["labels"], np.arange(n, dtype=np.int64))
    status = np.zeros(2, np.int64)
    pair = kv.Pair(case["inter"].kind, case["Q"], float(case["inter"].cutoff), skin, case["eps"])
    A, C, M, B = case["steps"]
    edges = [0, *splits, A.shape[0]]
    builds = made_fast = 0
    work = kv.work_for(None, x) if keep_work else None
    for a, b in itertools.pairwise(edges):
        if between is not None and a > 0:
            between(x)
        got = kv.advance_pairs(
            x,
            parts,
            kv.Steps(A[a:b], C[a:b], M[a:b], B[a:b]),
            case["forces"],
            case["box"],
            pair,
            kv.Key(step0 + a, case["words"], case["k0"], case["k1"]),
            case["max_drift"],
            status,
            work,
        )
        builds += got[0]
        made_fast += got[1]
        if status[0] >= 0:
            break
    return x, parts.image, status, builds, made_fast


def run_cells(case, step0=0):
    """The same run through ``advance_general`` (cell list rebuilt every step): the reference."""
    x = case["x"].copy()
    d, n = x.shape
    image = np.zeros((d, n), np.int32)
    status = np.zeros(2, np.int64)
    A, C, M, B = case["steps"]
    mf, bf, P, flags, _, _ = case["forces"]
    kinds, lo, L, hi, half = case["box"]
    ke.advance_general(
        x,
        image,
        case["labels"],
        mf,
        bf,
        np.arange(n, dtype=np.int64),
        A,
        C,
        M,
        B,
        P,
        flags,
        kinds,
        lo,
        L,
        hi,
        half,
        case["inter"].kind,
        case["Q"],
        float(case["inter"].cutoff),
        case["eps"],
        ke.no_force,
        False,
        step0,
        case["words"],
        case["k0"],
        case["k1"],
        case["max_drift"],
        status,
    )
    return x, image, status


def assert_same(got, ref):
    assert np.array_equal(got[0], ref[0], equal_nan=True)
    assert np.array_equal(got[1], ref[1])
    assert np.array_equal(got[2], ref[2])


@st.composite
def cases(draw):
    dim = draw(st.integers(1, 3))
    spec = draw(st.sampled_from(SPECS))
    rc = make_interaction(spec).cutoff
    kinds = [draw(st.sampled_from(["free", "periodic", "reflecting"])) for _ in range(dim)]
    boxes = [draw(st.floats(2.5 * rc, 8.0 * rc)) for _ in range(dim)]
    n = draw(st.integers(2, 150))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    steps = draw(st.integers(1, 13))
    noise = draw(st.sampled_from([0.3, 1.0, 10.0]))  # 10: moves of 0.45 per step, a rebuild nearly every step
    potential = draw(st.sampled_from([None, [{"name": "cosine", "amplitude": 0.5, "wavelength": 3.0}]]))
    case = make_case(
        n, kinds, boxes, dtype, spec, steps, draw(st.integers(0, 2**31)), noise, potential, draw(st.integers(1, 2))
    )
    skin = draw(st.sampled_from([1e-3, 0.1, 0.5, 2.0])) * rc
    step0 = draw(st.integers(0, 7))
    split = draw(st.integers(1, steps))  # a second call from this step on (none if it is the last)
    keep_work = draw(st.booleans())  # the second call carries the first one's lists on
    return case, skin, step0, (split,) if split < steps else (), keep_work


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_neighbour_lists_give_the_cell_list_trajectory_bit_for_bit(drawn):
    case, skin, step0, splits, keep_work = drawn
    got = run_lists(case, skin, step0, splits=splits, keep_work=keep_work)
    assert_same(got[:3], run_cells(case, step0))


def dense_case(dtype=np.float32, noise=1.0, steps=40):
    n = 3000
    L = float(np.sqrt(n * np.pi / 1.2))  # packing fraction 0.3
    return make_case(
        n,
        ["periodic", "reflecting"],
        [L, L],
        dtype,
        SPECS[0],
        steps,
        5,
        noise,
        [{"name": "cosine", "amplitude": 0.5, "wavelength": 7.0}],
        types=2,
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_result_does_not_depend_on_the_skin_or_the_rebuild_schedule(dtype):
    case = dense_case(dtype)
    ref = run_cells(case)
    builds = {}
    made_fast = {}
    for skin in (0.05, 0.3, 1.0, 3.0):
        got = run_lists(case, skin)
        assert_same(got[:3], ref)
        builds[skin] = got[3]
        made_fast[skin] = got[4]
    assert builds[0.05] > builds[1.0] > builds[3.0] >= 1  # the schedules really differ
    assert made_fast[0.3] > 0 and made_fast[1.0] > 0  # and pairs of fast particles were searched for


def test_particles_moving_far_between_rebuilds_trigger_them():
    """Per-step moves (~0.45 per axis) larger than the skin: the list must be rebuilt at almost every step."""
    case = dense_case(noise=10.0, steps=30)
    got = run_lists(case, 0.2)
    assert got[3] >= 25
    assert_same(got[:3], run_cells(case))
    assert not np.array_equal(got[0], case["x"])


def test_split_calls_resume_bit_for_bit():
    """A run split between calls (mid Philox group, mid list lifetime) equals one call."""
    case = dense_case(steps=40)
    whole = run_lists(case, 0.5)
    split = run_lists(case, 0.5, splits=(5, 6, 23))
    assert_same(split[:3], whole[:3])
    assert whole[4] > 0 and split[4] > 0  # with fast particles in both


@pytest.mark.parametrize("skin", [0.05, 0.5])
def test_calls_sharing_their_work_arrays_carry_the_lists_on_bit_for_bit(skin):
    """One run's calls keep their lists, fast particles and noise: fewer builds, the same bits.

    With the small skin a call mostly ends with a rebuild due, which the next call must do.
    """
    case = dense_case(steps=40)
    whole = run_lists(case, skin)
    splits = (5, 6, 13, 23, 30)
    fresh = run_lists(case, skin, splits=splits)
    kept = run_lists(case, skin, splits=splits, keep_work=True)
    assert_same(kept[:3], whole[:3])
    if skin == 0.5:  # (at 0.05 every step moves some particle past the skin: a build each step)
        assert kept[3] < fresh[3]  # no build at the start of each call
        assert kept[4] > 0


def test_positions_changed_between_calls_rebuild_the_lists():
    """A particle moved between calls (as by a user, or a resume from other positions): the lists start again."""

    def jump(x):
        x[:, 0] = x[:, 1]  # onto another particle's place: far from where the lists had it

    case = dense_case(steps=20)
    fresh = run_lists(case, 0.5, splits=(7,), between=jump)
    kept = run_lists(case, 0.5, splits=(7,), keep_work=True, between=jump)
    assert_same(kept[:3], fresh[:3])
    assert kept[3] == fresh[3]


@pytest.mark.skipif(numba.config.NUMBA_NUM_THREADS < 2, reason="needs at least 2 Numba threads")
def test_neighbour_lists_do_not_depend_on_the_thread_count():
    case = dense_case(steps=24)
    case_big = make_case(20_000, ["periodic", "periodic"], [160.0, 160.0], np.float32, SPECS[0], 12, 9)
    try:
        for c in (case, case_big):
            numba.set_num_threads(1)
            one = run_lists(c, 0.3)
            numba.set_num_threads(2)
            two = run_lists(c, 0.3)
            assert_same(one[:3], two[:3])
            assert one[3] == two[3] > 1
            assert one[4] == two[4] > 0
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)


@pytest.mark.parametrize("physics", ["interaction", "user force alone"])
def test_simulate_takes_the_neighbour_list_path_and_matches_the_cell_list(monkeypatch, physics):
    """End to end (potential, interaction or user force, periodic box): the list path equals the old cell list."""
    config = {
        "init": "uniform",
        "artifact": {"half_width": 20.0},
        "n": 1200,
        "dim": 2,
        "process": "brownian",
        "boundary": {"kind": "periodic", "box": 40.5},
        "interaction": {"name": "harmonic", "epsilon": 5.0, "sigma": 1.0},
        "potential": [{"name": "cosine", "amplitude": 0.5, "wavelength": 8.1}],
        "dt": 1e-3,
        "steps": 50,
        "record_every": 10,
        "seed": 3,
    }
    if physics == "user force alone":
        del config["interaction"]
        config["potential"] = [{"name": "custom", "force": "physics_forces:harmonic_k2"}]
    calls = []
    original = kv.advance_pairs

    def counting(*args):
        calls.append(1)
        return original(*args)

    monkeypatch.setattr(kv, "advance_pairs", counting)
    lists = dustsim.simulate(**config)
    assert calls

    def cells(x, parts, steps, forces, box, pair, key, max_drift, status, work=None):
        ke.advance_general(
            x,
            parts.image,
            parts.labels,
            forces.mf,
            forces.bf,
            parts.order,
            *steps,
            forces.P,
            forces.flags,
            *box,
            pair.kind,
            pair.Q,
            pair.rc,
            pair.eps,
            forces.user,
            forces.has_user,
            key.step0,
            key.words,
            key.k0,
            key.k1,
            max_drift,
            status,
        )
        return 0, 0

    monkeypatch.setattr(kv, "advance_pairs", cells)
    reference = dustsim.simulate(**config)
    assert np.array_equal(lists.position.values, reference.position.values)
    assert np.array_equal(lists.image.values, reference.image.values)


def test_list_skin_is_bounded_by_the_cut_off():
    lo, hi = kv.SKIN_RANGE
    assert kv.list_skin(1.0, 0.0) == pytest.approx(lo)
    assert kv.list_skin(1.0, 10.0) == pytest.approx(hi)
    assert kv.list_skin(2.0, 0.02) > kv.list_skin(2.0, 0.01)


@pytest.mark.parametrize("failure", ["too far", "overflow"])
def test_a_failing_step_reports_the_cell_lists_step_and_code(failure):
    """The step guard and the force-overflow check: same first bad step, code and positions as the cell list."""
    case = dense_case(steps=30)
    case["inter"] = make_interaction(SPECS[2])
    case["Q"] = case["inter"].params(np.dtype(np.float32))
    if failure == "too far":
        case["max_drift"] = np.float32(2e-3)
    else:
        case["x"][:, 1] = case["x"][:, 0] + np.float32(1e-3)  # an overlapping pair: LJ force beyond 2^24
    ref = run_cells(case)
    assert ref[2][0] >= 0  # the cell list does fail
    threads = [1, 2] if numba.config.NUMBA_NUM_THREADS >= 2 else [1]
    try:
        for t in threads:
            numba.set_num_threads(t)
            assert_same(run_lists(case, 0.5)[:3], ref)
    finally:
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
