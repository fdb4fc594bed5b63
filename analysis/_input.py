"""Input checks shared by the estimators: point arrays, ``k``, degenerate data, ties."""

from __future__ import annotations

import math

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


#: allowance for input values rounded more than once (computed in their own precision), in ulps
ROUNDING_ULPS = 4.0


def _rank_deficient(points: NDArray[np.float64], eps: float) -> int | None:
    """Numerical rank of the centred points if below d, else None; ``eps``: the input's relative precision.

    Two tolerances on the singular values, added. The SVD's own rounding in float64
    (``s_max * max(n, d) * eps_float64``, numpy.linalg.matrix_rank's threshold) and the
    rounding of the input to its precision: points exactly on a subspace, each coordinate
    rounded by at most ``eps |x|``, have their smallest singular value moved by at most
    the Frobenius norm of those errors (Weyl), ``eps * ||X||_F``. The latter does not grow
    with n relative to ``s_max`` as ``max(n, d) * eps`` does, which for float16 or float32
    input called any large enough cloud (or a thin axis) degenerate.
    """
    centred = points - points.mean(axis=0)
    # singular values of the centred points, not eigenvalues of their covariance: the Gram
    # matrix squares the rounding error, so an exactly duplicated column (singular value
    # ~ eps * s_max) would look full rank
    sv = np.linalg.svd(centred, compute_uv=False)
    tol = sv[0] * max(centred.shape) * float(np.finfo(np.float64).eps)
    tol += ROUNDING_ULPS * eps * float(np.sqrt(np.sum(points * points)))
    if sv[-1] <= tol:
        return int(np.sum(sv > tol))
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
    eps = resolution(dtype)  # 0 for integers: exact values
    rank = _rank_deficient(points[:: max(1, n // RANK_SAMPLE)], eps)
    if rank is not None and n > RANK_SAMPLE:
        rank = _rank_deficient(points, eps)
    if rank is not None:
        return f"the {d}-D points lie on a {rank}-D subspace, so they have no density and the entropy is -inf"
    return None


#: values of one axis checked for repeats before the full grid search (cheap first look)
REPEAT_SAMPLE = 4_096
#: largest divisor of the smallest gap tried when looking for a grid step
MAX_GRID_DIVISOR = 16


def _grid_tolerance(values: NDArray[np.float64], dtype: np.dtype) -> float:
    """Absolute tolerance (length units) for "this value lies on the grid": the rounding
    error of the input's number type at the axis's largest magnitude (float64 for integers)."""
    eps = resolution(dtype) or float(np.finfo(np.float64).eps)
    return 64.0 * eps * max(float(np.max(np.abs(values))), 1e-300)


def grid_step(values: NDArray[np.float64], dtype: np.dtype) -> float:
    """The quantisation step of one axis, or 0 if its values do not lie on a uniform grid.

    A grid is ``offset + j * step`` (integers j) that holds every value to the precision of
    the input's number type, with values repeated (fewer distinct values than points): data
    rounded to 0.1, integers stored as float64, counts, digitised readings. The step is the
    smallest gap between distinct values divided by the smallest integer q <= 16 for which
    every gap is a multiple of it (values {0, 0.2, 0.5} have step 0.1). An integer dtype
    always has a grid. Continuous float data (no repeats, or gaps that are no common
    multiple) have none.
    """
    u = np.unique(values)
    if len(u) < 2:
        return 0.0
    if np.dtype(dtype).kind != "f":
        return float(np.gcd.reduce(np.diff(u).astype(np.int64)))
    if len(u) == len(values):
        return 0.0
    tol = _grid_tolerance(u, dtype)
    gaps = np.diff(u)
    smallest = float(gaps.min())
    if smallest <= 4.0 * tol:
        return 0.0
    offsets = u - u[0]
    for q in range(1, MAX_GRID_DIVISOR + 1):
        step = smallest / q
        # least-squares step through the origin, first from the small gaps, then on ever
        # larger offsets: the smallest gap alone carries a rounding error that the grid
        # index (up to n) would amplify
        small_gaps = gaps[gaps <= 32.0 * smallest]
        for limit in (0.0, 1e3, 3e4, 1e6, math.inf):
            sel = small_gaps if limit == 0.0 else offsets[(offsets > 0) & (offsets <= limit * step)]
            if len(sel) == 0:
                continue
            j = np.rint(sel / step)
            if float(np.max(np.abs(sel / step - j))) > 0.25:
                break
            step = float(np.dot(j, sel) / np.dot(j, j))
        else:
            j = np.rint(offsets / step)
            if float(np.max(np.abs(offsets - j * step))) <= tol:
                return step
    return 0.0


def quantisation_steps(points: NDArray[np.float64], dtype: np.dtype) -> NDArray[np.float64]:
    """Per-axis quantisation step of ``points`` (0 where an axis is not on a grid).

    Cheap for continuous data: an axis is searched for a grid only if an evenly strided
    subsample of ``REPEAT_SAMPLE`` of its values has repeats, or for integer dtypes.
    """
    n, d = points.shape
    steps = np.zeros(d)
    stride = max(1, n // REPEAT_SAMPLE)
    integer = np.dtype(dtype).kind != "f"
    for a in range(d):
        col = points[:, a]
        sample = col[::stride]
        if integer or len(np.unique(sample)) < len(sample):
            steps[a] = grid_step(col, dtype)
    return steps


def constant_axes(points: NDArray[np.float64]) -> NDArray[np.bool_]:
    """Mask of the axes on which every point has the same value."""
    return np.array([bool(points[:, a].max() == points[:, a].min()) for a in range(points.shape[1])], dtype=bool)


def jitter_rng(seed: int | None, stream: int = 0) -> np.random.Generator:
    """Generator of tie-breaking noise: a stream of its own (``spawn_key``), so that it is
    independent of data a caller drew with ``default_rng(seed)`` (the same seed would
    otherwise replay the uniforms that generated the data, and the jitter would carry
    information about them)."""
    if seed is None:
        return np.random.default_rng()
    return np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x714E5, stream)))


def dequantize_grid(
    points: NDArray[np.float64], steps: NDArray[np.float64], seed: int | None
) -> tuple[NDArray[np.float64], str]:
    """Spread each value of the gridded axes uniformly over its grid cell (``U(-1/2, 1/2) * step``).

    The dequantised points have a density whose differential entropy is the discrete
    entropy of the grid values plus ``sum(log step)``, and whose mutual informations are
    those of the grid values exactly (the grid value is a function of the dequantised one).
    Done in the input's units, before any standardisation, so that the noise is one grid
    cell wide whatever the spread of the data.
    """
    on_grid = steps > 0
    rng = jitter_rng(seed, 1)
    out = points.copy()
    out[:, on_grid] += (rng.random((len(points), int(on_grid.sum()))) - 0.5) * steps[on_grid]
    shown = ", ".join(f"{s:.6g}" for s in steps[on_grid][:6]) + (", ..." if on_grid.sum() > 6 else "")
    return out, f"values on a grid of step {shown} (axes {np.flatnonzero(on_grid).tolist()}) spread over their cells"


def dequantize(
    points: NDArray[np.float64], dtype: np.dtype, jitter: float | str, seed: int | None
) -> tuple[NDArray[np.float64], str]:
    """Break exact ties by adding uniform noise; returns the new points and what was done.

    ``jitter="auto"``: axes whose values lie on a uniform grid (:func:`quantisation_steps`:
    rounded or integer-valued data, whatever the dtype) are spread over their grid cells
    (:func:`dequantize_grid`); float16/float32 input off a grid is taken as rounded to its
    precision and each value is spread uniformly over its rounding interval
    (``U(-1/2, 1/2) * spacing(x)`` in the input dtype; computed in float64). float64
    values off a grid cannot be spread below their own precision in float64, so their
    duplicates get noise of width ``AUTO_JITTER_F64`` x each axis's standard deviation (as
    infomeasure and NPEET do, but only when there are ties). A number sets that relative
    width for every axis of any input.
    """
    if isinstance(jitter, str):
        if jitter != "auto":
            raise ConfigError(f"jitter must be 'auto', a positive number or None, got {jitter!r}")
        steps = quantisation_steps(points, dtype)
        hows = []
        if np.any(steps > 0):
            points, how = dequantize_grid(points, steps, seed)
            hows.append(how)
        rest = steps == 0
        if np.any(rest):
            rng = jitter_rng(seed, 2)
            u = rng.random((len(points), int(rest.sum()))) - 0.5
            sub = points[:, rest]
            if np.dtype(dtype).kind == "f" and np.dtype(dtype).itemsize < 8:
                width = np.spacing(np.abs(sub).astype(dtype)).astype(np.float64)
                hows.append(f"dequantized at the {np.dtype(dtype).name} precision of the input")
            else:
                width = AUTO_JITTER_F64 * sub.std(axis=0)
                hows.append(f"jittered by U(-1/2, 1/2) x {AUTO_JITTER_F64:g} x (per-axis standard deviation)")
            points = points.copy()
            points[:, rest] = sub + u * width
        return points, "; ".join(hows)
    if not (isinstance(jitter, (int, float)) and jitter > 0):
        raise ConfigError(f"jitter must be 'auto', a positive number or None, got {jitter!r}")
    rng = jitter_rng(seed, 3)
    u = rng.random(points.shape) - 0.5
    width = float(jitter) * points.std(axis=0)
    return points + u * width, f"jittered by U(-1/2, 1/2) x {jitter:g} x (per-axis standard deviation)"
