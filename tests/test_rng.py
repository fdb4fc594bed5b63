"""The counter-based generator: known answers, distribution, counter arithmetic."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numba import njit
from scipy import stats
from stats_helpers import assert_within_se

from dustsim.kernels import rng

# Random123 known-answer vectors for philox4x32-10 (kat_vectors):
# counter words, key words, expected output words.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize(("counter", "key", "expected"), KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in rng.philox4x32_block(*counter, *key)) == expected


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_normals_are_standard_normal(dtype):
    z = rng.counter_normals(12345, 200_000, 5, dtype=dtype).astype(np.float64).ravel()
    n = z.size
    assert_within_se(z.mean(), 0.0, 1 / math.sqrt(n), "mean")
    assert_within_se(z.var(), 1.0, math.sqrt(2 / n), "variance")
    # fourth moment of N(0,1) is 3, its estimator has variance (105 - 9) / n
    assert_within_se(np.mean(z**4), 3.0, math.sqrt(96 / n), "fourth moment")
    assert stats.kstest(z, "norm").pvalue > 1e-5


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_streams_are_uncorrelated(dtype):
    n = 200_000
    base = rng.counter_normals(7, n, 2, dtype=dtype).astype(np.float64)
    other_axis = rng.counter_normals(7, n, 2, axis=1, dtype=dtype).astype(np.float64)
    other_stream = rng.counter_normals(7, n, 2, stream=1, dtype=dtype).astype(np.float64)
    other_seed = rng.counter_normals(8, n, 2, dtype=dtype).astype(np.float64)
    se = 1 / math.sqrt(n)
    assert_within_se(np.mean(base[0] * base[1]), 0.0, se, "consecutive steps")
    assert_within_se(np.mean(base[0, 1:] * base[0, :-1]), 0.0, se, "neighbouring particles")
    for name, other in [("axis", other_axis), ("stream", other_stream), ("seed", other_seed)]:
        assert_within_se(np.mean(base * other), 0.0, se / math.sqrt(2), f"other {name}")


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**63 - 1),
    step0=st.integers(0, 2**40),
    n_steps=st.integers(1, 9),
    split=st.integers(0, 9),
    dtype=st.sampled_from([np.float32, np.float64]),
)
def test_stream_continues_across_calls(seed, step0, n_steps, split, dtype):
    split = min(split, n_steps)
    whole = rng.counter_normals(seed, 5, n_steps, step0=step0, dtype=dtype)
    first = rng.counter_normals(seed, 5, split, step0=step0, dtype=dtype)
    rest = rng.counter_normals(seed, 5, n_steps - split, step0=step0 + split, dtype=dtype)
    assert np.array_equal(whole, np.concatenate([first, rest]))


def test_particle_offset_addresses_the_same_numbers():
    whole = rng.counter_normals(3, 100, 3)
    part = rng.counter_normals(3, 10, 3, particle0=40)
    assert np.array_equal(whole[:, 40:50], part)


def test_bad_counter_fields_are_rejected():
    with pytest.raises(ValueError, match="seed"):
        rng.counter_normals(-1, 3, 3)
    with pytest.raises(ValueError, match="axis"):
        rng.counter_normals(1, 3, 3, axis=300)
    with pytest.raises(ValueError, match="dtype"):
        rng.counter_normals(1, 3, 3, dtype=np.int32)


@njit(error_model="numpy")
def _logs(u32, u64):
    a = np.empty(u32.size, np.float32)
    b = np.empty(u64.size)
    for i in range(u32.size):
        a[i] = rng.log_f32(u32[i])
    for i in range(u64.size):
        b[i] = rng.log_f64(u64[i])
    return a, b


@njit(error_model="numpy")
def _sincos(t32, t64):
    a = np.empty((2, t32.size), np.float32)
    b = np.empty((2, t64.size))
    for i in range(t32.size):
        a[0, i], a[1, i] = rng.sincos_f32(t32[i])
    for i in range(t64.size):
        b[0, i], b[1, i] = rng.sincos_f64(t64[i])
    return a, b


def test_polynomial_log_and_sincos_are_accurate():
    u = np.concatenate([np.geomspace(2.0**-53, 1.0, 20_000), np.linspace(1e-3, 1.0, 20_000)])
    a, b = _logs(u.astype(np.float32), u)
    exact32 = np.log(u.astype(np.float32).astype(np.float64))
    assert np.max(np.abs(a - exact32) / np.maximum(np.abs(exact32), 1e-3)) < 4e-7
    assert np.max(np.abs(b - np.log(u)) / np.maximum(np.abs(np.log(u)), 1e-3)) < 1e-15
    t = np.linspace(-np.pi / 4, np.pi / 4, 10_001)
    a, b = _sincos(t.astype(np.float32), t)
    t32 = t.astype(np.float32).astype(np.float64)
    assert np.max(np.abs(a[0] - np.sin(t32))) < 2e-7 and np.max(np.abs(a[1] - np.cos(t32))) < 2e-7
    assert np.max(np.abs(b[0] - np.sin(t))) < 3e-16 and np.max(np.abs(b[1] - np.cos(t))) < 3e-16
