"""hypothesis properties of the entropy estimators: invariances and unit conversion."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import binned_entropy, gaussian_entropy, knn_entropy, ksg_mutual_information

SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
seeds = st.integers(0, 2**32 - 1)
dims = st.integers(1, 4)


def cloud(seed: int, d: int, n: int = 300) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)) * rng.uniform(0.5, 2.0, size=d)


@SETTINGS
@given(seeds, dims, st.floats(-1e3, 1e3))
def test_translation_invariance(seed, d, shift):
    x = cloud(seed, d)
    for fn in (knn_entropy, gaussian_entropy):
        assert fn(x + shift).value == pytest.approx(fn(x).value, abs=1e-6)


@SETTINGS
@given(seeds, dims, st.floats(1e-3, 1e3), st.booleans())
def test_scaling_adds_d_log_a(seed, d, a, negative):
    x = cloud(seed, d)
    scale = -a if negative else a
    for fn in (knn_entropy, gaussian_entropy):
        assert fn(scale * x).value == pytest.approx(fn(x).value + d * math.log(a), abs=1e-8)
    # a histogram is scale-equivariant when its bins scale with the data
    h = binned_entropy(x, 0.3).value
    assert binned_entropy(a * x, 0.3 * a).value == pytest.approx(h + d * math.log(a), abs=1e-8)


@SETTINGS
@given(seeds, dims)
def test_permutation_invariance(seed, d):
    x = cloud(seed, d)
    perm = np.random.default_rng(seed + 1).permutation(len(x))
    for fn in (knn_entropy, gaussian_entropy, binned_entropy):
        assert fn(x[perm]).value == pytest.approx(fn(x).value, abs=1e-10)
    y = x[:, :1] + np.random.default_rng(seed + 2).standard_normal((len(x), 1))
    assert ksg_mutual_information(x[perm], y[perm]).value == pytest.approx(
        ksg_mutual_information(x, y).value, abs=1e-10
    )


@SETTINGS
@given(seeds, dims)
def test_bits_are_nats_over_ln2(seed, d):
    x = cloud(seed, d)
    for fn in (knn_entropy, gaussian_entropy, binned_entropy):
        nats, bits = fn(x), fn(x, units="bits")
        assert bits.value == pytest.approx(nats.value / math.log(2), rel=1e-12)
        assert bits.se == pytest.approx(nats.se / math.log(2), rel=1e-12)
        assert nats.to("bits").value == pytest.approx(bits.value, rel=1e-12)


@SETTINGS
@given(seeds, dims, st.integers(1, 8))
def test_grid_and_kdtree_backends_agree(seed, d, k):
    x = cloud(seed, min(d, 3), n=200)
    a = knn_entropy(x, k, backend="grid").value
    b = knn_entropy(x, k, backend="kdtree").value
    assert a == pytest.approx(b, rel=1e-12, abs=1e-12)


@SETTINGS
@given(seeds, st.integers(1, 50), dims, st.sampled_from([np.nan, np.inf, -np.inf]))
def test_non_finite_values_are_refused(seed, n, d, bad):
    from dustsim.errors import ConfigError

    x = cloud(seed, d, n=n + 5)
    rng = np.random.default_rng(seed)
    x[rng.integers(len(x)), rng.integers(d)] = bad
    for fn in (knn_entropy, gaussian_entropy, binned_entropy):
        with pytest.raises(ConfigError, match="NaN or infinite"):
            fn(x)


@SETTINGS
@given(st.lists(st.integers(0, 3), min_size=0, max_size=4))
def test_wrong_shapes_are_refused_or_handled(shape):
    from dustsim.errors import ConfigError

    x = np.ones(shape)
    ok = x.ndim in (1, 2) and x.shape[0] >= 5 and (x.ndim == 1 or x.shape[1] >= 1)
    if ok:
        est = knn_entropy(x)  # all points equal: a point source, reported, not raised
        assert est.degenerate and est.value == -math.inf
    else:
        with pytest.raises(ConfigError):
            knn_entropy(x)
