"""Coarse-grained entropy of a point set at one scale: H_Delta, the detail below it, the structure.

Plain functions of an ``(n, d)`` array, the building blocks of :func:`analysis.emergence.emergence`:
:func:`scale_entropies` returns H_Delta (from :func:`analysis.entropy.binned_entropy`), the detail
entropy H_{Delta/2} - H_Delta and the chance-corrected structure, with standard errors.
The chance correction (:func:`null_bias`) is dustsim's own: no library offers the expected
plug-in entropy of uniform cells, per cell count, that it needs.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._input import as_points
from .entropy import binned_entropy

#: points per child cell above which the detail of a cell counts as resolved
RESOLVED_PER_CHILD = 5


def _cells(cells: NDArray[np.int64]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """``(cell index of every point, points per cell)`` from integer cell coordinates ``(n, d)``."""
    cells = cells - cells.min(axis=0)
    shape = cells.max(axis=0) + 1
    if float(np.prod(shape.astype(np.float64))) < 2.0**62:
        key = np.ravel_multi_index(tuple(cells.T), tuple(int(s) for s in shape))
        _, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
    else:
        _, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    return inverse.ravel().astype(np.int64), counts.astype(np.int64)


def null_bias(count: ArrayLike, k: int) -> NDArray[np.float64]:
    """``log k - E[plug-in entropy]`` of ``count`` draws spread uniformly over ``k`` cells (nats).

    The chance structure of a cell holding ``count`` points when its density is in fact
    uniform: by linearity, ``E[H] = -k E[(N/c) log(N/c)]`` with ``N ~ Binomial(c, 1/k)``,
    summed exactly for ``c <= 2000`` (``(k - 1) / 2c`` beyond, the Miller-Madow term, off
    by ``O(1/c^2)``). It is ``log k`` for a single point (one point always lands in one
    child) and falls like ``(k - 1) / 2c``.
    """
    counts = np.asarray(count, dtype=np.int64)
    unique, inverse = np.unique(counts.ravel(), return_inverse=True)
    values = np.array([_null_bias_one(int(c), int(k)) for c in unique])
    return values[inverse].reshape(counts.shape)


@functools.lru_cache(maxsize=65536)
def _null_bias_one(c: int, k: int) -> float:
    if c <= 0:
        return 0.0
    if c > 2000:
        return (k - 1) / (2.0 * c)
    from scipy.stats import binom

    m = np.arange(1, c + 1)
    return math.log(k) + k * float(np.sum(binom.pmf(m, c, 1.0 / k) * (m / c) * np.log(m / c)))


def detail_terms(
    pts: NDArray[np.float64], scale: float, org: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], float, float, int, int]:
    """Per-point terms of the detail entropy and of the structure (see :func:`scale_entropies`).

    Returns ``(detail_terms, structure_terms, second_order, resolved, m_parent, m_child)``:
    the structure is ``mean(structure_terms)``; ``second_order`` is the ``k`` of its
    second-order variance ``k / 2n^2``.
    """
    d = pts.shape[1]
    children = 2**d
    # parents from the children's integer coordinates, so that every child lies in one parent exactly
    child_cells = np.floor((pts - org) / (0.5 * scale)).astype(np.int64)
    parent_of, parent_count = _cells(child_cells // 2)
    child_of, child_count = _cells(child_cells)
    c_parent, c_child = parent_count[parent_of].astype(np.float64), child_count[child_of].astype(np.float64)
    terms = -np.log(c_child / c_parent)
    # each point carries its cell's chance structure: sum over a cell's points = its weight x null_bias
    s_terms = d * math.log(2.0) - terms - null_bias(parent_count, children)[parent_of]
    resolved = float(np.mean(parent_count[parent_of] >= RESOLVED_PER_CHILD * children))
    # free probabilities: 2^d - 1 per cell of two or more points (a single point has no noise left)
    second_order = float((children - 1) * np.count_nonzero(parent_count > 1))
    return terms, s_terms, second_order, resolved, len(parent_count), len(child_count)


def scale_entropies(
    points: ArrayLike, scale: float, origin: float | ArrayLike = 0.0
) -> tuple[float, float, float, float, float, float, float]:
    """Coarse-grained entropy at ``scale``, the detail entropy below it and the structure, with SEs (nats).

    Returns ``(H, H_se, detail, detail_se, structure, structure_se, resolved)``.

    ``H`` is :func:`~analysis.entropy.binned_entropy` with ``discrete=True`` (Miller-Madow) at ``scale``;
    ``detail = H_{scale/2} - H_scale`` (both Miller-Madow). ``detail`` is the mean of the
    per-point terms ``-log(c_child / c_parent)`` (the counts of the point's cell at
    ``scale / 2`` and at ``scale``) plus ``(m_child - m_parent) / 2n`` (m: occupied cells);
    the two entropies share the sample, so the SE of the difference is not that of
    either but the standard deviation of these terms over ``sqrt(n)``.

    The structure ``d log 2 - detail`` is the mean over the cells (weighted by their share
    of the points) of the plug-in divergence of the children's counts from uniform, minus
    its expectation when the cell's density is uniform, :func:`null_bias` (as the adjusted
    mutual information of clusterings subtracts its chance value). That correction is
    exact for smooth cells whatever their count: a point alone in its cell (which always
    lands in one child) adds no structure instead of ``d log 2``, and well-filled cells get
    the Miller-Madow term ``(2^d - 1) / 2c`` with the true number of children, not the
    occupied ones. What cannot be corrected is structure hidden in sparse cells: the
    estimate is biased downwards by part of the true structure of cells holding a few
    points. ``resolved`` is the share of the points in cells with at least
    ``RESOLVED_PER_CHILD * 2^d`` of them, where this does not matter.

    All SEs add the second-order variance of the plug-in entropy, ``(m - 1) / 2n^2``
    (``(m_child - m_parent) / 2n^2`` for the detail, ``(2^d - 1) / 2n^2`` per cell of two
    or more points for the structure: the chi-square fluctuation of 2n times the plug-in
    divergence). The delta-method term vanishes at
    an even split of the cells (e.g. a Gaussian centred on a cell corner seen through
    two cells), where this one is all the noise there is.
    """
    pts, _ = as_points(points)
    n, d = pts.shape
    org = np.broadcast_to(np.asarray(origin, dtype=np.float64), (d,))
    coarse = binned_entropy(pts, scale, origin=org, discrete=True)
    fine = binned_entropy(pts, 0.5 * scale, origin=org, discrete=True)
    terms, s_terms, s_extra, resolved, m_coarse, m_fine = detail_terms(pts, scale, org)
    structure = float(np.mean(s_terms))

    return (
        coarse.value,
        math.sqrt(coarse.se**2 + (m_coarse - 1) / (2.0 * n * n)),
        fine.value - coarse.value,
        _divergence_se(terms, m_fine - m_coarse, debias=False),
        structure,
        _divergence_se(s_terms, s_extra),
        resolved,
    )


def _divergence_se(terms: NDArray[np.float64], k: float, debias: bool = True) -> float:
    """SE of a plug-in divergence (or conditional entropy) from its per-point terms (nats).

    The spread of the per-point terms holds, besides the spread of the true terms (the
    delta-method variance), the sampling noise of the counts they are made of, about
    ``k / n`` for ``k`` free cell probabilities (it would otherwise be counted again by
    the second-order term); so ``Var = max(var_terms - k / n, 0) / n + k / 2n^2``. Near a
    zero divergence only the second-order (chi-square) term is left. ``debias=False``
    keeps the whole spread (for the detail entropy, whose occupied cells are not its free
    probabilities: a conservative SE).
    """
    n = len(terms)
    if n < 2:
        return math.nan
    spread = float(np.var(terms, ddof=1))
    noise = k / n if debias else 0.0
    return math.sqrt(max(spread - noise, 0.0) / n + k / (2.0 * n * n))


__all__ = ["RESOLVED_PER_CHILD", "null_bias", "scale_entropies"]
