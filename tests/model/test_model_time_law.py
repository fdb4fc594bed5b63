"""The default ``mixed`` law of DSM noise levels: half EDM log-normal (scaled by the data), half log-uniform."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy.stats import truncnorm
from stats_helpers import assert_within_se

from dustsim.model import KernelPairs
from dustsim.processes import make_process


def levels(sampling, scale=1.0, n=40000):
    process = make_process("vp")
    pairs = KernelPairs(
        np.array([[0.0, 0.0], [1.0, 1.0]]), process, 1e-4, 1.0, time_sampling=sampling, level_scale=scale
    )
    t = pairs.draw_times(n, torch.Generator().manual_seed(2))
    lo, hi = pairs.table.range
    return np.log(process.sigma(t) / process.alpha(t)), lo, hi


def test_mixed_law_is_half_log_uniform_half_scaled_lognormal():
    for scale in (1.0, 4.0):
        lev, lo, hi = levels("mixed", scale)
        mean = math.log(scale) - 1.2
        normal = truncnorm((lo - mean) / 1.2, (hi - mean) / 1.2, loc=mean, scale=1.2)
        expected = 0.5 * (lo + hi) / 2 + 0.5 * normal.mean()
        second = 0.5 * ((hi - lo) ** 2 / 12 + ((lo + hi) / 2) ** 2) + 0.5 * (normal.var() + normal.mean() ** 2)
        sd = math.sqrt(second - expected**2)
        assert_within_se(lev.mean(), expected, sd / math.sqrt(len(lev)), f"mixed levels, scale {scale}")
        # the log-uniform half reaches the ends of the range that the log-normal half almost never draws
        assert np.mean(lev < lo + 0.1 * (hi - lo)) > 0.04
    edm, _, _ = levels("edm", 4.0)
    edm1, _, _ = levels("edm", 1.0)
    assert edm.mean() > edm1.mean() + 1.0  # the scaled law moves with the data (ln 4 = 1.39)
