r"""Exact coarse-grained entropy of an isotropic Gaussian mixture: cell integrals of normal CDFs.

For a Gaussian-mixture artifact under a linear process the marginal p_t is a mixture with
known parameters (:meth:`dustsim.mixture.GaussianMixture.transported`), and the probability
of a cube is a product over axes of normal CDF differences, summed over components. These
are the references of the estimates of :mod:`analysis.coarse` and :mod:`analysis.emergence`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import ndtr

from dustsim.errors import ConfigError
from dustsim.mixture import GaussianMixture

#: largest number of cells of an exact coarse-grained entropy (memory: 8 bytes each, a few arrays)
MAX_EXACT_CELLS = 4_000_000
#: standard deviations beyond the outermost component covered by the exact cell grid
_TAIL_SD = 10.0


def _axis_edges(lo: float, hi: float, scale: float, origin: float) -> NDArray[np.float64]:
    first = math.floor((lo - origin) / scale)
    last = math.ceil((hi - origin) / scale)
    return origin + scale * np.arange(first, last + 1, dtype=np.float64)


def _interval_probabilities(edges: NDArray[np.float64], mean: float, std: float) -> NDArray[np.float64]:
    """P(edge_j <= X < edge_j+1) for X ~ N(mean, std^2) (a point mass when std = 0)."""
    if std == 0.0:
        return np.diff((edges <= mean).astype(np.float64))
    z = (edges - mean) / std
    lo, hi = z[:-1], z[1:]
    # upper-tail differences right of the mean: no cancellation far out on either side
    prob = np.where(lo >= 0, ndtr(-lo) - ndtr(-hi), ndtr(hi) - ndtr(lo))
    return np.clip(prob, 0.0, None)


def exact_cell_probabilities(
    mixture: GaussianMixture, scale: float, origin: float | ArrayLike = 0.0
) -> NDArray[np.float64]:
    """Probabilities of the cubes of side ``scale`` under an isotropic Gaussian mixture.

    The cells are anchored at ``origin`` (a cell corner) and cover every component to
    ``10`` standard deviations (mass left out below 1e-23). The probability of a cell is
    ``sum_k w_k prod_a [Phi((b_a - mu_ka)/s_k) - Phi((a_a - mu_ka)/s_k)]``: exact, up to
    round-off.

    Returns
    -------
    ndarray
        Flat array of cell probabilities (sums to 1 within round-off).

    Raises
    ------
    ConfigError
        A non-positive scale, or a grid of more than ``MAX_EXACT_CELLS`` cells.
    """
    if not (scale > 0 and math.isfinite(scale)):
        raise ConfigError(f"scale must be positive and finite, got {scale!r}")
    d = mixture.dim
    org = np.broadcast_to(np.asarray(origin, dtype=np.float64), (d,))
    reach = _TAIL_SD * float(mixture.stds.max())
    edges = [
        _axis_edges(
            float(mixture.means[:, a].min()) - reach, float(mixture.means[:, a].max()) + reach, scale, float(org[a])
        )
        for a in range(d)
    ]
    n_cells = math.prod(len(e) - 1 for e in edges)
    if n_cells > MAX_EXACT_CELLS:
        raise ConfigError(
            f"the exact coarse-grained entropy at scale {scale:g} needs {n_cells:.3g} cells "
            f"(more than {MAX_EXACT_CELLS:.0e}); use a coarser scale"
        )
    total = np.zeros([len(e) - 1 for e in edges])
    for w, mu, s in zip(mixture.weights, mixture.means, mixture.stds, strict=True):
        cell = np.asarray(w, dtype=np.float64)
        for a in range(d):
            cell = np.multiply.outer(cell, _interval_probabilities(edges[a], float(mu[a]), float(s)))
        total += cell
    return total.ravel()


def exact_coarse_entropy(mixture: GaussianMixture, scale: float, origin: float | ArrayLike = 0.0) -> float:
    """Exact coarse-grained entropy ``H_Delta = -sum p_i log p_i`` (nats) of a Gaussian mixture.

    See :func:`exact_cell_probabilities`; transport a trajectory's artifact to time t with
    ``mixture.transported(process, t)``.
    """
    p = exact_cell_probabilities(mixture, scale, origin)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)))


def exact_structure(mixture: GaussianMixture, scale: float, origin: float | ArrayLike = 0.0) -> float:
    """Exact structure at scale Delta, ``d log 2 - (H_{Delta/2} - H_Delta)`` (nats)."""
    fine = exact_coarse_entropy(mixture, 0.5 * scale, origin)
    return mixture.dim * math.log(2.0) - (fine - exact_coarse_entropy(mixture, scale, origin))


__all__ = ["MAX_EXACT_CELLS", "exact_cell_probabilities", "exact_coarse_entropy", "exact_structure"]
