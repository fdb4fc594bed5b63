"""kNN entropy on a bounded box: neighbour balls truncated at the faces of the support.

Near a face of a bounded support the Kozachenko-Leonenko ball sticks out of the support,
so its volume overstates the region the k neighbours could be in and the entropy is
biased upwards (+0.11 nats for uniform points in the unit cube in 3-D at n = 5000). With
the maximum norm the ball is a cube, and its intersection with a box support
:math:`\\prod_a [l_a, u_a]` has the exact volume
:math:`V_i = \\prod_a (\\min(x_{ia} + \\varepsilon_i, u_a) - \\max(x_{ia} - \\varepsilon_i, l_a))`.
The probability mass of that region is Beta(k, n - k) distributed whatever the density,
so :math:`\\hat H = \\psi(n) - \\psi(k) + \\frac1n\\sum_i \\log V_i` is unbiased for the
uniform law on the box and removes the face bias for any density that does not vanish at
the faces. No library offers it, hence it is written here.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma

from dustsim.errors import ConfigError

from ._input import as_points, check_k, degeneracy, dequantize, quantisation_steps
from .entropy import add_bias, degenerate_estimate, finish_estimate
from .neighbors import Backend, kth_neighbour_distance
from .result import Estimate, check_units


def data_box(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """The support box estimated from the data: each axis's range widened by ``range/(n - 1)``
    at both ends (the unbiased endpoints of a uniform law), shape (2, d)."""
    lo, hi = points.min(axis=0), points.max(axis=0)
    pad = (hi - lo) / max(len(points) - 1, 1)
    return np.array([lo - pad, hi + pad])


def _box_terms(
    points: NDArray[np.float64],
    dtype: np.dtype,
    k: int,
    box: NDArray[np.float64],
    jitter: Any,
    seed: int | None,
    backend: Backend,
) -> tuple[NDArray[np.float64] | None, float, int, str]:
    n = len(points)
    const = float(digamma(n) - digamma(k))
    why = degeneracy(points, dtype)
    if why:
        return None, const, 0, why
    eps = kth_neighbour_distance(points, k, norm="max", backend=backend)
    n_ties = int(np.count_nonzero(eps == 0.0))
    note = ""
    if n_ties or (jitter == "auto" and np.any(quantisation_steps(points, dtype) > 0)):
        if n_ties and jitter is None:
            return None, const, n_ties, f"{n_ties} zero neighbour distances and jitter=None: the estimate is -inf"
        points, how = dequantize(points, dtype, jitter, seed)
        points = np.clip(points, box[0], box[1])
        eps = kth_neighbour_distance(points, k, norm="max", backend=backend)
        note = f"ties or quantised values: {how}"
    side = np.minimum(points + eps[:, None], box[1]) - np.maximum(points - eps[:, None], box[0])
    return np.sum(np.log(side), axis=1), const, n_ties, note


def bounded_knn_entropy(
    x: ArrayLike,
    k: int = 4,
    *,
    bounds: str | ArrayLike = "data",
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    backend: Backend = "auto",
    bias: str = "auto",
    ci_level: float = 0.95,
) -> Estimate:
    """Kozachenko-Leonenko entropy (maximum norm) with neighbour cubes truncated at a box support.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
        Points (length units), all inside the box.
    k : int
    bounds : "data" or array_like, shape (2, d)
        The support box: lower and upper corners (length units; ``-inf``/``inf`` for an
        unbounded axis), or ``"data"`` for :func:`data_box`.
    units, jitter, seed, backend, bias, ci_level
        As in :func:`analysis.entropy.knn_entropy`.

    Returns
    -------
    Estimate
        ``se`` from the spread of the per-point ``log V_i``; ``params["bounds"]``.

    Raises
    ------
    ConfigError
        Bounds of the wrong shape, not increasing, or points outside them.
    """
    check_units(units)
    pts, dtype = as_points(x)
    n, d = pts.shape
    k = check_k(k, n)
    if isinstance(bounds, str):
        if bounds != "data":
            raise ConfigError(f"bounds must be 'data' or an array of shape (2, {d}), got {bounds!r}")
        box = data_box(pts)
    else:
        box = np.array(np.broadcast_to(np.asarray(bounds, dtype=np.float64), (2, d)))
        if not np.all(box[0] < box[1]):
            raise ConfigError(f"bounds must have lower < upper on every axis, got {box.tolist()}")
        if np.any(pts < box[0]) or np.any(pts > box[1]):
            raise ConfigError("some points lie outside bounds; widen the box or drop them")
    params: dict[str, Any] = {"k": k, "norm": "max", "bounds": box.tolist()}
    terms, const, n_ties, note = _box_terms(pts, dtype, k, box, jitter, seed, backend)
    if terms is None:
        return degenerate_estimate(note, units, "knn-bounded", n, d, params, n_ties)
    est = finish_estimate(
        const + float(np.mean(terms)),
        float(np.std(terms, ddof=1)) / math.sqrt(n),
        units,
        "knn-bounded",
        n,
        d,
        params,
        n_ties=n_ties,
        note=note,
    )

    def on_subsample(arrays: list[NDArray[np.float64]]) -> tuple[float, float]:
        t, c, _, _ = _box_terms(arrays[0], dtype, k, box, jitter, seed, backend)
        if t is None:
            return math.nan, math.nan
        return c + float(np.mean(t)), float(np.std(t, ddof=1)) / math.sqrt(len(t))

    return add_bias(est, on_subsample, [pts], bias, k, seed, ci_level)


__all__ = ["bounded_knn_entropy", "data_box"]
