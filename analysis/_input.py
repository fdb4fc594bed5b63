"""Input checks shared by the estimators: point arrays, ``k``, degenerate data, ties."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dustsim.errors import ConfigError

#: points of the subsample on which the covariance rank is checked first
RANK_SAMPLE = 20_000
#: relative width of the tie-breaking noise for float64 data (see :func:`dequantize`)
AUTO_JITTER_F64 = 1e-10


def as_points(x: ArrayLike, name: str = "x", min_points: int = 2) -> tuple[NDArray[np.float64], np.dtype]:
    """Check a point set and return it as a C-contiguous float64 array of shape (n, d).

    A 1-D array is taken as n points in one dimension.

    Returns
    -------
    points : ndarray, shape (n, d), float64
    dtype : numpy dtype
        The input's dtype (its resolution is the scale of tie-breaking jitter).

    Raises
    ------
    ConfigError
        Not numeric, not 1-D or 2-D, empty, fewer than ``min_points`` points, zero
        dimensions, or not finite.
    """
    arr = np.asarray(x)
    if arr.dtype.kind not in "biuf":
        raise ConfigError(f"{name} must be a numeric array of points, got dtype {arr.dtype}")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ConfigError(f"{name} must have shape (n, d) (or (n,) for 1-D data), got shape {arr.shape}")
    n, d = arr.shape
    if n == 0:
        raise ConfigError(f"{name} is empty: an entropy needs points")
    if d == 0:
        raise ConfigError(f"{name} has zero dimensions (shape {arr.shape})")
    if n < min_points:
        raise ConfigError(f"{name} has {n} point(s); this estimator needs at least {min_points}")
    pts = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.all(np.isfinite(pts)):
        raise ConfigError(f"{name} contains NaN or infinite values; drop or fix them first")
    return pts, arr.dtype


def check_k(k: int, n: int) -> int:
    """``k`` must be an integer with ``1 <= k < n``."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ConfigError(f"k must be a positive integer, got {k!r}")
    if k >= n:
        raise ConfigError(f"k = {k} needs more than {k} points, got {n}")
    return int(k)


def same_dim(x: NDArray[np.float64], y: NDArray[np.float64], what: str = "the two samples") -> None:
    if x.shape[1] != y.shape[1]:
        raise ConfigError(f"{what} must have the same dimension, got {x.shape[1]} and {y.shape[1]}")


def resolution(dtype: np.dtype) -> float:
    """Relative precision of the input's number type (1 for integers: spacing of 1)."""
    return float(np.finfo(dtype).eps) if np.dtype(dtype).kind == "f" else 0.0


def _rank_deficient(points: NDArray[np.float64], eps: float) -> int | None:
    """Numerical rank of the covariance if below d (to relative precision ``eps``), else None."""
    centred = points - points.mean(axis=0)
    eig = np.linalg.eigvalsh(centred.T @ centred / len(points))
    tol = eig[-1] * (16.0 * eps) ** 2
    if eig[0] <= tol:
        return int(np.sum(eig > tol))
    return None


def degeneracy(points: NDArray[np.float64], dtype: np.dtype) -> str | None:
    """Why ``points`` have no density in d dimensions, or None if they may have one.

    All points equal ("point source"), or the covariance rank-deficient to the input's
    precision (points on a line or plane). The rank is first checked on an evenly strided
    subsample of at most ``RANK_SAMPLE`` points (a full-rank subsample proves full rank)
    and only then, if needed, on all points.
    """
    n, d = points.shape
    # column by column: numpy reduces a strided column much faster than along axis 0
    spread = [float(points[:, a].max() - points[:, a].min()) for a in range(d)]
    if not any(s > 0 for s in spread):
        return f"point source: all {n} points coincide, so the differential entropy is -inf"
    if d == 1:
        return None
    eps = resolution(dtype) or float(np.finfo(np.float64).eps)
    rank = _rank_deficient(points[:: max(1, n // RANK_SAMPLE)], eps)
    if rank is not None and n > RANK_SAMPLE:
        rank = _rank_deficient(points, eps)
    if rank is not None:
        return f"the {d}-D points lie on a {rank}-D subspace, so they have no density and the entropy is -inf"
    return None


def dequantize(
    points: NDArray[np.float64], dtype: np.dtype, jitter: float | str, seed: int | None
) -> tuple[NDArray[np.float64], str]:
    """Break exact ties by adding uniform noise; returns the new points and what was done.

    ``jitter="auto"``: float16/float32 input is taken as rounded to its precision and each
    value is spread uniformly over its rounding interval (``U(-1/2, 1/2) * spacing(x)`` in
    the input dtype; computed in float64, so nothing else changes); integers get unit-width
    noise. float64 values cannot be spread below their own precision in float64, so their
    duplicates get noise of width ``AUTO_JITTER_F64`` x each axis's standard deviation (as
    infomeasure and NPEET do, but only when there are ties). A number sets that relative
    width for any input.
    """
    rng = np.random.default_rng(seed)
    u = rng.random(points.shape) - 0.5
    kind = np.dtype(dtype).kind
    if isinstance(jitter, str):
        if jitter != "auto":
            raise ConfigError(f"jitter must be 'auto', a positive number or None, got {jitter!r}")
        if kind == "f" and np.dtype(dtype).itemsize < 8:
            width = np.spacing(np.abs(points).astype(dtype)).astype(np.float64)
            how = f"dequantized at the {np.dtype(dtype).name} precision of the input"
        elif kind != "f":
            width = np.ones_like(points)
            how = "dequantized integer data with unit-width noise"
        else:
            jitter = AUTO_JITTER_F64
    if not isinstance(jitter, str):
        if not (isinstance(jitter, (int, float)) and jitter > 0):
            raise ConfigError(f"jitter must be 'auto', a positive number or None, got {jitter!r}")
        width = float(jitter) * points.std(axis=0)
        how = f"jittered by U(-1/2, 1/2) x {jitter:g} x (per-axis standard deviation)"
    return points + u * width, how
