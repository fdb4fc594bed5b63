"""Mutual information from samples: the Kraskov-Stögbauer-Grassberger (KSG) estimator."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma

from ._input import as_points, check_k, dequantize
from .neighbors import Backend, count_within, kth_neighbour_distance
from .result import Estimate, check_units, nats_to


def _standardize(points: NDArray[np.float64]) -> NDArray[np.float64]:
    std = points.std(axis=0)
    return points / np.where(std > 0, std, 1.0)


def ksg_mutual_information(
    x: ArrayLike,
    y: ArrayLike,
    k: int = 4,
    *,
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    backend: Backend = "auto",
) -> Estimate:
    r"""KSG estimate (algorithm 1) of the mutual information I(X; Y) from paired samples.

    .. math:: \hat I = \psi(k) + \psi(n) - \langle \psi(n_x + 1) + \psi(n_y + 1) \rangle

    with :math:`\varepsilon_i` the maximum-norm distance from :math:`(x_i, y_i)` to its
    k-th neighbour in the joint space and :math:`n_x(i)`, :math:`n_y(i)` the numbers of
    other points strictly closer than :math:`\varepsilon_i` in each marginal space
    (Kraskov, Stögbauer & Grassberger 2004). Every axis is first divided by its standard
    deviation (as scikit-learn does), so the estimate does not depend on the length units;
    I(X; Y) itself is invariant under invertible maps of x and y separately.

    Parameters
    ----------
    x, y : array_like, shapes (n, dx) and (n, dy)
        Paired samples (row i of x goes with row i of y).
    k : int
    units : {"nats", "bits"}
    jitter, seed
        Tie breaking, as in :func:`analysis.entropy.knn_entropy`.
    backend : {"auto", "grid", "kdtree"}
        Joint-space neighbour search.

    Returns
    -------
    Estimate
        ``se``: standard deviation of the per-point digamma terms over ``sqrt(n)``.
    """
    from dustsim.errors import ConfigError

    check_units(units)
    px, tx = as_points(x, "x")
    py, ty = as_points(y, "y")
    if len(px) != len(py):
        raise ConfigError(f"x and y must be paired samples of the same size, got {len(px)} and {len(py)}")
    n = len(px)
    k = check_k(k, n)
    # the joint max-norm mixes the axes: put every axis in its own unit scale first, so
    # the estimate does not depend on the length units of x and y
    px, py = _standardize(px), _standardize(py)
    joint = np.ascontiguousarray(np.hstack([px, py]))
    eps = kth_neighbour_distance(joint, k, norm="max", backend=backend)
    n_ties = int(np.count_nonzero(eps == 0.0))
    note = ""
    if n_ties:
        if jitter is None:
            return Estimate(math.nan, math.nan, units, "ksg", n, joint.shape[1], {"k": k}, n_ties, True,
                            f"{n_ties} zero joint distances and jitter=None")
        px, how = dequantize(px, tx, jitter, seed)
        py, _ = dequantize(py, ty, jitter, None if seed is None else seed + 1)
        joint = np.ascontiguousarray(np.hstack([px, py]))
        eps = kth_neighbour_distance(joint, k, norm="max", backend=backend)
        note = f"{n_ties} zero joint neighbour distances; ties broken ({how})"
    nx = count_within(px, eps, backend)
    ny = count_within(py, eps, backend)
    terms = digamma(nx + 1.0) + digamma(ny + 1.0)
    value = float(digamma(k) + digamma(n)) - float(np.mean(terms))
    se = float(np.std(terms, ddof=1)) / math.sqrt(n)
    f = nats_to(units)
    return Estimate(value * f, se * f, units, "ksg", n, joint.shape[1], {"k": k, "dx": px.shape[1], "dy": py.shape[1]},
                    n_ties, False, note)


__all__ = ["ksg_mutual_information"]
