"""When training stops: the step cap's default, the convergence rule, the stopping reasons.

Training stops at the first of

- ``converged``: the smoothed validation loss (running mean of the last ``smoothing``
  validation losses) has not improved within the last ``patience`` steps by more than a
  fraction ``min_improvement`` of what training has gained so far (:func:`converged`);
- ``max_time``: the wall-clock cap ``max_time`` (seconds) is reached;
- ``steps``: the step cap is reached (default :func:`default_steps`).

The validation loss is computed on a fixed set of draws (held-out particles, times and
noises chosen once from the seed), so it is a deterministic function of the weights and
the rule gives the same decision on every rerun and after a resume.

Why relative to the gain and not to the loss itself: a denoising loss is mostly its
irreducible part (the noise the best denoiser cannot remove), so the loss of an untrained,
EDM-preconditioned model (the optimal Gaussian denoiser) is already within a few per cent
of the converged one. "0.2 % better" is noise early on and a large step late; "1 % of the
improvement since the start" means the same at every stage and for every loss scale.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

#: Step cap of a 2-D data set of ``REFERENCE_PARTICLES`` particles (see :func:`default_steps`).
REFERENCE_STEPS = 4000
REFERENCE_PARTICLES = 100_000


def default_steps(n_particles: int, dim: int) -> int:
    """Default cap on the optimiser steps for ``n_particles`` training particles in ``dim`` dimensions.

    ``REFERENCE_STEPS * (n / 1e5)^(1/4) * sqrt(d / 2)``, rounded to hundreds and clipped to
    ``[1000, 20000]``: more particles resolve finer structure (worth more steps, slowly:
    the DSM targets are fresh noise every batch, so data are re-used, not exhausted), and
    the score has ``d`` components to learn. With 2048-particle batches, 4000 steps take
    about two minutes on two CPU cores for the default network; the convergence rule
    usually stops earlier.
    """
    if n_particles < 1 or dim < 1:
        raise ValueError(f"need positive sizes, got n = {n_particles}, d = {dim}")
    raw = REFERENCE_STEPS * (n_particles / REFERENCE_PARTICLES) ** 0.25 * math.sqrt(dim / 2)
    return int(min(max(round(raw / 100) * 100, 1000), 20000))


def smoothed(losses: Sequence[float] | np.ndarray, window: int) -> np.ndarray:
    """Running mean of the last ``window`` values at every position (shorter at the start)."""
    values = np.asarray(losses, dtype=np.float64)
    if values.size == 0:
        return values
    cums = np.concatenate([[0.0], np.cumsum(values)])
    idx = np.arange(1, values.size + 1)
    lo = np.maximum(idx - window, 0)
    return (cums[idx] - cums[lo]) / (idx - lo)


def converged(
    steps: Sequence[float],
    losses: Sequence[float],
    *,
    patience: int,
    min_improvement: float,
    smoothing: int,
    origin: int = 0,
) -> bool:
    """Has the smoothed validation loss stopped improving?

    Parameters
    ----------
    steps, losses : sequences
        Steps (increasing whole numbers; a float log's values are fine) and validation
        losses of the evaluations so far.
    patience : int
        Window in steps (0: never converged).
    min_improvement : float
        Improvement that counts as progress, as a fraction of the gain so far: the best
        smoothed loss within the last ``patience`` steps must be below
        ``best_before - min_improvement (reference - best_before)``, ``best_before`` the
        best smoothed loss of the evaluations at least ``patience`` steps older than the
        latest and ``reference`` the first validation loss counted (at ``origin``: the
        untrained model, or the model a resumed run extends). A run that has gained
        nothing converges when a whole window brings nothing either.
    smoothing : int
        Window of the running mean, in evaluations.
    origin : int
        Only evaluations at or after this step count (a resumed run that extends a
        finished model starts a new window there).

    Returns
    -------
    bool
        True when the last ``patience`` steps brought no relative improvement.
    """
    if patience <= 0:
        return False
    s = np.asarray(steps, dtype=np.int64)
    keep = s >= origin
    s = s[keep]
    if s.size < 2:
        return False
    raw = np.asarray(losses, dtype=np.float64)[keep]
    values = smoothed(raw, smoothing)
    latest = s[-1]
    before = s <= latest - patience
    if not np.any(before) or not np.all(np.isfinite(values)):
        return False
    best_before = float(values[before].min())
    recent = float(values[~before].min())
    gain = max(float(raw[0]) - best_before, 0.0)
    return recent >= best_before - min_improvement * gain
