"""Every registered potential and pair interaction agrees with itself across its backends.

This file checks each definition of :mod:`dustsim.physics.potential_defs` and
:mod:`dustsim.physics.pair_defs` generically (parameters drawn by hypothesis from its own
declared defaults and constraints), so a new definition is covered without editing it:

- numpy force = -grad energy (central finite differences);
- the Numba kernel force (the stepper's generated dispatch) = numpy force, float64 and float32;
- torch force = numpy force;
- the curvature bound >= |U''| on its declared region (the Euler stability check relies on it);
- the kernel layout (rows of ``P``, bits of ``flags``) that the kernels are compiled against.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dustsim.kernels import forces as kf
from dustsim.physics import pair_defs, potential_defs
from dustsim.physics.interactions import make_interaction
from dustsim.physics.potentials import make_potential, make_potentials, separable_params, total_force

DIM = 2
NAMES = [d.name for d in potential_defs.DEFINITIONS]
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def parameter_values(draw, definition):
    """Per-axis values for every parameter, within the definition's declared constraints."""
    table = {"name": definition.name}
    for key in definition.params:
        if key in definition.positive:
            lo, hi = 0.3, 3.0
        elif key in definition.nonnegative:
            lo, hi = 0.0, 3.0
        else:
            lo, hi = -2.0, 2.0
        table[key] = [draw(st.floats(lo, hi)) for _ in range(DIM)]
    return table


@st.composite
def potentials(draw, names=tuple(NAMES)):
    definition = potential_defs.BY_NAME[draw(st.sampled_from(names))]
    return make_potential(parameter_values(draw, definition), DIM)


def grid(seed: int = 0, n: int = 400) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-3.0, 3.0, (n, DIM))


def test_kernel_layout_is_the_one_the_kernels_are_compiled_for():
    # the P/flags layout is a contract with dustsim.kernels (euler, cells): existing rows stay put
    assert NAMES[:4] == ["harmonic", "double-well", "cosine", "constant"]
    assert [potential_defs.ROW_OFFSET[n] for n in NAMES[:4]] == [0, 2, 5, 8]
    assert [potential_defs.BY_NAME[n].flag for n in NAMES[:4]] == [1, 2, 4, 8]
    assert sum(d.kernel_rows for d in potential_defs.DEFINITIONS) == kf.N_ROWS
    assert {d.name: d.kind for d in pair_defs.DEFINITIONS} == {"harmonic": 1, "wca": 2, "lj": 2, "morse": 3}
    kf.check_cache()  # the on-disk cache was compiled for this registry


@SETTINGS
@given(potentials())
def test_numpy_force_is_minus_the_gradient_of_the_energy(pot):
    x = grid()
    h = 1e-5
    grad = np.stack([(pot.energy(x + h * e) - pot.energy(x - h * e)) / (2 * h) for e in np.eye(DIM)], axis=1)
    force = pot.force(x)
    assert force.shape == x.shape
    # truncation h^2 U''' / 6 and rounding eps |U| / h, both far below 1e-6 of the force scale here
    scale = 1.0 + np.abs(force).max()
    np.testing.assert_allclose(force, -grad, rtol=0, atol=1e-6 * scale, err_msg=pot.name)


@SETTINGS
@given(potentials(), st.sampled_from([np.float64, np.float32]))
def test_numba_kernel_force_equals_the_numpy_force(pot, dtype):
    x = grid(1).astype(dtype)
    P, flags = separable_params([pot], DIM, np.dtype(dtype))
    assert flags == pot.definition.flag
    kernel = kf.external_forces(np.ascontiguousarray(x.T), P, flags).T
    assert kernel.dtype == dtype
    reference = pot.force(x.astype(np.float64))
    scale = 1.0 + np.abs(reference).max()
    # float32: parameters and positions carry relative rounding 6e-8, the phase of a cosine up to ~30 of it
    atol = (1e-12 if dtype == np.float64 else 1e-5) * scale
    np.testing.assert_allclose(kernel.astype(np.float64), reference, rtol=0, atol=atol, err_msg=pot.name)


@SETTINGS
@given(potentials())
def test_torch_force_equals_the_numpy_force(pot):
    torch = pytest.importorskip("torch")
    x = grid(2)
    t = pot.torch_force(torch.as_tensor(x, dtype=torch.float64))
    assert t.shape == x.shape and t.dtype == torch.float64
    np.testing.assert_allclose(t.numpy(), pot.force(x), rtol=1e-12, atol=1e-12, err_msg=pot.name)


@SETTINGS
@given(potentials())
def test_curvature_bounds_the_second_derivative_on_its_region(pot):
    p = pot.arrays()
    lo, hi = pot.definition.curvature_region(p)
    bound = pot.curvature(DIM)
    assert bound.shape == (DIM,) and np.all(bound >= 0)
    h = 1e-4
    for a in range(DIM):
        left, right = max(lo[a], -3.0), min(hi[a], 3.0)
        if left >= right:
            continue
        x = np.zeros((801, DIM))
        x[:, a] = np.linspace(left, right, 801)
        e = np.eye(DIM)[a]
        u2 = -(pot.force(x + h * e)[:, a] - pot.force(x - h * e)[:, a]) / (2 * h)
        assert np.all(np.abs(u2) <= bound[a] * (1 + 1e-6) + 1e-6), f"{pot.name}: |U''| above its bound, axis {a}"
    assert pot.length_scale() > 0


def test_all_potentials_together_are_the_sum_of_each():
    # the generated dispatch reads every potential's own rows: a row mix-up shows here
    rng = np.random.default_rng(5)
    tables = []
    for d in potential_defs.DEFINITIONS:
        table = {"name": d.name}
        for key in d.params:
            low = 0.5 if key in d.positive else (0.0 if key in d.nonnegative else -1.5)
            table[key] = list(rng.uniform(low, 2.0, DIM))
        tables.append(table)
    pots = make_potentials(tables, DIM)
    x = grid(3)
    together = total_force(pots, x)
    np.testing.assert_allclose(together, sum(p.force(x) for p in pots), rtol=0, atol=1e-12 * np.abs(together).max())


# ------------------------------------------------------------------- pair interactions
@st.composite
def interactions(draw):
    definition = draw(st.sampled_from(pair_defs.DEFINITIONS))
    table = {"name": definition.name, "epsilon": draw(st.floats(0.1, 5.0))}
    ranges = {"sigma": (0.5, 2.0), "r0": (0.5, 2.0), "a": (1.0, 6.0)}
    for key in definition.params:
        if key in ranges:
            table[key] = draw(st.floats(*ranges[key]))
    return make_interaction(table)


@SETTINGS
@given(interactions())
def test_pair_force_is_minus_the_derivative_of_the_energy(inter):
    r = np.linspace(0.6 * inter.length_scale(), 0.999 * inter.cutoff, 300)
    r = r[r < inter.cutoff - 1e-3]
    h = 1e-6 * inter.length_scale()
    du = (inter.energy(r + h) - inter.energy(r - h)) / (2 * h)
    f = inter.force(r)
    np.testing.assert_allclose(f, -du, rtol=1e-6, atol=1e-6 * (1 + np.abs(f).max()), err_msg=inter.name)


@SETTINGS
@given(interactions(), st.sampled_from([np.float64, np.float32]))
def test_pair_kernel_equals_the_numpy_force(inter, dtype):
    r = np.linspace(0.7 * inter.length_scale(), 0.999 * inter.cutoff, 50).astype(dtype)
    Q = inter.params(np.dtype(dtype))
    g = np.array([kf.pair_g(ri * ri, inter.kind, Q) for ri in r])
    reference = inter.force(r.astype(np.float64))
    rtol = 1e-11 if dtype == np.float64 else 1e-4
    np.testing.assert_allclose(
        g * r.astype(np.float64), reference, rtol=rtol, atol=rtol * (1 + np.abs(reference).max()), err_msg=inter.name
    )
    assert kf.pair_g(dtype(0.0), inter.kind, Q) == 0.0  # coincident particles exert no force


def test_pair_defaults_come_from_the_definitions():
    for d in pair_defs.DEFINITIONS:
        inter = make_interaction({"name": d.name})
        assert inter.definition is d
        values = {"sigma": inter.sigma, "a": inter.a, "r0": inter.r0}
        assert math.isclose(inter.cutoff, d.default_cutoff(values))
        assert inter.length_scale() > 0


# ------------------------------------------------- the dispatch of a new definition
def _quartic_force(f, x, strength, centre):
    y = x - centre
    return f - strength * (y * y * y)


def test_a_new_definition_only_needs_its_own_module():
    # what the package does with a new module: the generated dispatch picks up its slot and rows
    from numba import njit

    from dustsim.kernels.options import INLINE
    from dustsim.physics.potential_defs import SeparablePotential, row_offsets

    quartic = SeparablePotential(
        name="quartic",
        slot=len(potential_defs.DEFINITIONS),
        params={"q": 1.0, "centre": 0.0},
        energy=lambda x, p: np.sum(p["q"] * (x - p["centre"]) ** 4, axis=-1),
        force=lambda x, p: -4.0 * p["q"] * (x - p["centre"]) ** 3,
        curvature=lambda p: 48.0 * p["q"],
        kernel_rows=2,
        kernel_params=lambda p: (4.0 * p["q"], p["centre"]),
        kernel_force=njit(**INLINE)(_quartic_force),
        torch_force=lambda x, axis: -4.0 * axis("q") * (x - axis("centre")) ** 3,
    )
    definitions = (*potential_defs.DEFINITIONS, quartic)
    offsets = row_offsets(definitions)
    n_rows = sum(d.kernel_rows for d in definitions)
    assert offsets["quartic"] == kf.N_ROWS and n_rows == kf.N_ROWS + 2
    lines, namespace = kf.separable_source(definitions)
    separable = kf.generate("separable_force", lines, namespace, tag="test")
    params_of = kf.generate("axis_params", kf.axis_params_source(n_rows), {}, tag="test")

    @njit
    def forces(x, P, flags):
        out = np.empty_like(x)
        for a in range(x.shape[0]):
            prm = params_of(P, a)
            for i in range(x.shape[1]):
                out[a, i] = separable(x[a, i], prm, flags)
        return out

    rng = np.random.default_rng(7)
    P = np.zeros((n_rows, DIM))
    flags, expected, x = 0, 0.0, grid(4)
    for d in definitions:
        p = {key: rng.uniform(0.5, 1.5, DIM) for key in d.params}
        for i, row in enumerate(d.kernel_params(p)):
            P[offsets[d.name] + i] = row
        flags |= d.flag
        expected = expected + d.force(x, p)
    got = forces(np.ascontiguousarray(x.T), P, flags).T
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12 * np.abs(expected).max())
