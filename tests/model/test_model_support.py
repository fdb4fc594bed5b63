"""Support precision and coverage (dustsim.model.metrics) against exact expectations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stats_helpers import Z

from dustsim.model import coverage, support_precision


def uniform_square(n, rng):
    return rng.random((n, 2))


def test_fresh_sample_is_outside_one_minus_q_and_blur_is_caught():
    rng = np.random.default_rng(0)
    train, fresh, gen = uniform_square(4000, rng), uniform_square(4000, rng), uniform_square(3000, rng)
    for q in (0.9, 0.99):
        res = support_precision(gen, train, fresh, quantile=q)
        # the radius is a quantile of 2000 fresh distances: its own error adds to the binomial one
        se = math.sqrt(q * (1 - q) / 3000 + q * (1 - q) / 2000)
        assert abs(res.outside - (1 - q)) < Z * se, (q, res)
        assert abs(res.fresh_outside - (1 - q)) < Z * math.sqrt(2) * math.sqrt(q * (1 - q) / 2000), (q, res)
        assert res.precision == pytest.approx(1 - res.outside)
    blur = 0.05
    blurred = gen + blur * rng.standard_normal(gen.shape)  # the square's edges spread out
    res = support_precision(blurred, train, fresh)
    # exact: the chance of leaving the square dilated by the radius, U + blur Z on each axis
    from scipy.stats import norm

    u = (np.arange(20000) + 0.5) / 20000
    inside_axis = np.mean(norm.cdf((1 + res.radius - u) / blur) - norm.cdf((-res.radius - u) / blur))
    expected = 1 - inside_axis**2 + 0.01 * inside_axis**2  # plus the 1 % of gaps inside the square
    assert expected > 0.04
    assert abs(res.outside - expected) < Z * res.outside_se + 0.005, (res, expected)


def test_coverage_of_a_fresh_sample_and_of_a_dropped_half():
    """Coverage -> 1 - (M / (M + N))^k for N generated points per M reference points in a region
    (Naeem et al. 2020): 1 - 2^-k for a fresh sample; a model that drops half of the support
    (its points twice as dense on the other half) covers half the reference, 1 - 3^-k there."""
    rng = np.random.default_rng(1)
    ref = uniform_square(6000, rng)
    k = 3
    fresh = coverage(uniform_square(6000, rng), ref, k=k)
    assert abs(fresh - (1 - 2.0**-k)) < 0.02, fresh  # boundary cells of the square add ~1/sqrt(n)
    half = uniform_square(6000, rng) * [0.5, 1.0]  # only the left half of the square
    dropped = coverage(half, ref, k=k)
    assert abs(dropped - 0.5 * (1 - 3.0**-k)) < 0.02, dropped
    assert dropped < fresh - 0.3


@settings(max_examples=15, deadline=None)
@given(angle=st.floats(0, 2 * math.pi), shift=st.floats(-5, 5), scale=st.floats(0.1, 10))
def test_invariant_under_similarity_transforms(angle, shift, scale):
    rng = np.random.default_rng(2)
    train, fresh, gen = uniform_square(500, rng), uniform_square(500, rng), rng.normal(0.5, 0.4, (300, 2))
    rot = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])

    def move(x):
        return scale * x @ rot.T + shift

    a = support_precision(gen, train, fresh)
    b = support_precision(move(gen), move(train), move(fresh))
    assert b.outside == pytest.approx(a.outside, abs=1 / 300 + 1e-12)
    assert b.radius == pytest.approx(scale * a.radius, rel=1e-6)
    assert coverage(move(gen), move(train)) == pytest.approx(coverage(gen, train), abs=2 / 500 + 1e-12)


def test_bad_input():
    x = np.zeros((10, 2))
    with pytest.raises(ValueError, match="quantile"):
        support_precision(x, x, x, quantile=1.0)
    with pytest.raises(ValueError, match="finite"):
        support_precision(np.full((3, 2), np.nan), x, x)
    with pytest.raises(ValueError, match="k must be"):
        coverage(x, x, k=10)
