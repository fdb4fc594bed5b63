"""Distances between particle clouds, and score errors against an exact score.

- :func:`~dustsim.model.energy_distance`: Székely's energy distance
  ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` (V-statistic: within-cloud sums include the
  zero diagonal), any dimension; :func:`~dustsim.model.energy_noise_floor` is its mean over pairs of
  independent samples of one law — what a perfect model reaches at those sample sizes.
- :func:`~dustsim.model.sliced_wasserstein`: the sliced ``p``-Wasserstein distance, exact 1-D quantile
  matching on random directions (agrees with POT's ``ot.sliced_wasserstein_distance``).
- :func:`~dustsim.model.score_error`: ``E_{x ~ p_t} |s(x, t) - grad log p_t(x)|^2`` at each ``t`` for a
  Gaussian-mixture artifact, with its standard error and the relative error.
- :func:`~dustsim.model.displacement_error`: per-particle distance to the original positions.
- :func:`support_precision`: the fraction of generated points farther from the training
  cloud than the ``q``-quantile of a fresh artifact sample's nearest-neighbour distances
  to it (a fresh sample scores ``1 - q`` by construction; a blurred model much more), and
  :func:`coverage`, its recall companion (Naeem et al. 2020): the fraction of reference
  points whose k-nearest-neighbour ball holds a generated point.

Units: distances in length units; energy distance in length units too.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..processes import LinearProcess
from .mixture import GaussianMixture
from .preconditioning import ScoreFn


def _mean_distance(x: torch.Tensor, y: torch.Tensor, chunk: int) -> float:
    total = 0.0
    for i in range(0, len(x), chunk):
        total += float(torch.cdist(x[i : i + chunk], y).sum())
    return total / (len(x) * len(y))


def energy_distance(x: np.ndarray | torch.Tensor, y: np.ndarray | torch.Tensor, chunk: int = 2048) -> float:
    """Energy distance between two clouds of shape ``(n, d)`` and ``(m, d)`` (length units).

    ``2 E|X - Y| - E|X - X'| - E|Y - Y'|`` with every pair (V-statistic): zero only for
    identical clouds; its expectation for two independent samples of one law is
    ``E|X - X'| (1/n + 1/m)`` (the noise floor).
    """
    xt = torch.as_tensor(np.asarray(x, dtype=np.float64) if not isinstance(x, torch.Tensor) else x.double().cpu())
    yt = torch.as_tensor(np.asarray(y, dtype=np.float64) if not isinstance(y, torch.Tensor) else y.double().cpu())
    xt, yt = xt.reshape(len(xt), -1), yt.reshape(len(yt), -1)
    return 2 * _mean_distance(xt, yt, chunk) - _mean_distance(xt, xt, chunk) - _mean_distance(yt, yt, chunk)


def energy_noise_floor(
    sample: Callable[[int, np.random.Generator], np.ndarray], n: int, m: int, rng: np.random.Generator, repeats: int = 5
) -> tuple[float, float]:
    """Mean and standard deviation of :func:`~dustsim.model.energy_distance` between independent samples of one law.

    Parameters
    ----------
    sample : callable ``(size, rng) -> array``
        Draws from the reference law.
    n, m : int
        The two sample sizes (those of the comparison it serves as a floor for).
    rng : numpy Generator
    repeats : int
        Number of independent pairs.
    """
    values = [energy_distance(sample(n, rng), sample(m, rng)) for _ in range(repeats)]
    return float(np.mean(values)), float(np.std(values, ddof=1)) if repeats > 1 else 0.0


def sliced_wasserstein(
    x: np.ndarray, y: np.ndarray, n_projections: int = 200, p: int = 2, rng: np.random.Generator | int | None = 0
) -> float:
    """Sliced ``p``-Wasserstein distance (length units), Monte Carlo over ``n_projections`` directions.

    ``(E_theta W_p^p(theta.X, theta.Y))^(1/p)`` with ``theta`` uniform on the sphere; each
    1-D distance is computed exactly from the two empirical quantile functions.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    theta = rng.standard_normal((x.shape[1], n_projections))
    theta /= np.linalg.norm(theta, axis=0, keepdims=True)
    px, py = np.sort(x @ theta, axis=0), np.sort(y @ theta, axis=0)
    # merge the two quantile grids: exact W_p between empirical 1-D laws of any sizes
    qx, qy = np.arange(1, len(px) + 1) / len(px), np.arange(1, len(py) + 1) / len(py)
    q = np.union1d(qx, qy)
    dq = np.diff(np.concatenate([[0.0], q]))
    ix = np.minimum(np.searchsorted(qx, q, side="left"), len(px) - 1)
    iy = np.minimum(np.searchsorted(qy, q, side="left"), len(py) - 1)
    wpp = (np.abs(px[ix] - py[iy]) ** p * dq[:, None]).sum(axis=0)
    return float(wpp.mean() ** (1.0 / p))


@torch.no_grad()
def score_error(
    score_fn: ScoreFn,
    mixture: GaussianMixture,
    process: LinearProcess,
    times: Sequence[float],
    n: int = 10000,
    rng: np.random.Generator | int | None = 0,
    device: torch.device | str = "cpu",
) -> xr.Dataset:
    """Error of a score against the exact score of a Gaussian-mixture artifact at each time.

    Returns an xarray Dataset over ``time`` with ``mse`` = ``E |s - s*|^2`` (1 / length^2,
    summed over axes), ``mse_se`` its standard error, ``reference`` = ``E |s*|^2``, and
    ``relative`` = ``mse / reference``; points drawn from the exact ``p_t``.
    """
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    rows = []
    for t in times:
        law = mixture.transported(process, float(t))
        x = law.sample(n, rng)
        exact = law.score(x)
        model = score_fn(torch.as_tensor(x, dtype=torch.float32, device=device), float(t)).double().cpu().numpy()
        err = ((model - exact) ** 2).sum(axis=1)
        ref = (exact**2).sum(axis=1)
        rows.append((err.mean(), err.std(ddof=1) / np.sqrt(n), ref.mean()))
    mse, se, ref = (np.array(v) for v in zip(*rows, strict=True))
    return xr.Dataset(
        {
            "mse": ("time", mse, {"long_name": "mean squared score error E|s - s*|^2", "units": "1"}),
            "mse_se": ("time", se, {"long_name": "standard error of mse", "units": "1"}),
            "reference": ("time", ref, {"long_name": "E|s*|^2 of the exact score", "units": "1"}),
            "relative": ("time", mse / ref, {"long_name": "mse / E|s*|^2", "units": "1"}),
        },
        coords={"time": ("time", np.asarray(times, dtype=np.float64), {"long_name": "diffusion time", "units": "1"})},
        attrs={"points_per_time": n},
    )


def displacement_error(x: np.ndarray, x0: np.ndarray) -> np.ndarray:
    """Distance of every particle from its original position, shape ``(n,)`` (length units)."""
    return np.linalg.norm(np.asarray(x, dtype=np.float64) - np.asarray(x0, dtype=np.float64), axis=-1)


def _tree(points: np.ndarray) -> Any:
    from scipy.spatial import cKDTree

    return cKDTree(np.asarray(points, dtype=np.float64))


def _points(x: np.ndarray | torch.Tensor, name: str) -> np.ndarray:
    arr = x.detach().double().cpu().numpy() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or len(arr) < 1 or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite (n, d) array, got shape {arr.shape}")
    return arr


@dataclass(frozen=True)
class SupportPrecision:
    """Result of :func:`support_precision` (fractions in [0, 1], radius in length units).

    Attributes
    ----------
    outside : float
        Fraction of generated points farther from the training cloud than ``radius``.
    outside_se : float
        Its binomial standard error ``sqrt(p (1 - p) / n)``.
    radius : float
        The ``quantile`` of the fresh sample's nearest-neighbour distances to the training cloud.
    quantile : float
    fresh_outside : float
        The same fraction for a second, independent fresh sample (about ``1 - quantile``):
        what a perfect model scores.
    """

    outside: float
    outside_se: float
    radius: float
    quantile: float
    fresh_outside: float

    @property
    def precision(self) -> float:
        """``1 - outside``: the fraction of generated points on the support."""
        return 1.0 - self.outside


def support_precision(
    generated: np.ndarray | torch.Tensor,
    training: np.ndarray | torch.Tensor,
    fresh: np.ndarray | torch.Tensor,
    quantile: float = 0.99,
) -> SupportPrecision:
    """How many generated points fall off the artifact's support.

    The radius is the ``quantile`` of the nearest-neighbour distances from a fresh artifact
    sample to the training cloud: a point of the artifact's law is farther than that with
    probability ``1 - quantile``. Half of ``fresh`` sets the radius, the other half gives
    ``fresh_outside`` (an independent check of the ``1 - quantile`` a perfect model scores).

    Parameters
    ----------
    generated : array (n, d)
        Generated points.
    training : array (N, d)
        The training cloud (the artifact sample the model learned from).
    fresh : array (m, d), m >= 2
        An independent sample of the artifact's law (e.g. a fresh artifact draw).
    quantile : float
        In (0, 1).
    """
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    gen, train, ref = _points(generated, "generated"), _points(training, "training"), _points(fresh, "fresh")
    if len(ref) < 2:
        raise ValueError("need at least two fresh points")
    tree = _tree(train)
    d_ref = tree.query(ref, k=1)[0]
    half = len(ref) // 2
    radius = float(np.quantile(d_ref[:half], quantile))
    d_gen = tree.query(gen, k=1)[0]
    p = float(np.mean(d_gen > radius))
    return SupportPrecision(
        p, math.sqrt(p * (1 - p) / len(gen)), radius, quantile, float(np.mean(d_ref[half:] > radius))
    )


def coverage(generated: np.ndarray | torch.Tensor, reference: np.ndarray | torch.Tensor, k: int = 5) -> float:
    """Coverage (recall proxy, Naeem et al. 2020): fraction of reference points with a generated point
    inside their ball of radius = distance to their ``k``-th nearest reference neighbour.

    Compare it with the coverage of a fresh sample of the same size as ``generated``: a
    model that drops thin parts of the artifact scores lower; one that only blurs does not.
    """
    gen, ref = _points(generated, "generated"), _points(reference, "reference")
    if not 1 <= k < len(ref):
        raise ValueError(f"k must be in [1, {len(ref) - 1}], got {k}")
    radius = _tree(ref).query(ref, k=k + 1)[0][:, -1]  # the point itself is its 0-th neighbour
    nearest = _tree(gen).query(ref, k=1)[0]
    return float(np.mean(nearest < radius))
