"""Differential entropy estimators on point clouds: kNN, binned, Gaussian, KDE.

Every estimator is a plain function of an ``(n, d)`` array (a 1-D array is n points in one
dimension) that returns an :class:`~analysis.result.Estimate` (value and standard error,
nats by default). Lengths are in the units of the input: rescaling the data by ``a``
shifts every differential entropy by ``d * log|a|``.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.special import digamma, gammaln

from dustsim.errors import ConfigError

from ._input import as_points, check_k, degeneracy, dequantize, quantisation_steps
from .neighbors import Backend, kth_neighbour_distance
from .result import Estimate, check_units, nats_to, with_interval

Norm = Literal["euclidean", "max"]


def log_unit_ball_volume(d: int, norm: Norm = "euclidean") -> float:
    """``log`` of the volume of the unit ball in d dimensions (Euclidean or maximum norm)."""
    if norm == "max":
        return d * math.log(2.0)
    if norm == "euclidean":
        return 0.5 * d * math.log(math.pi) - float(gammaln(0.5 * d + 1.0))
    raise ConfigError(f"norm must be 'euclidean' or 'max', got {norm!r}")


def finish_estimate(
    value: float,
    se: float,
    units: str,
    estimator: str,
    n: int,
    d: int,
    params: dict,
    *,
    n_ties: int = 0,
    note: str = "",
) -> Estimate:
    """The estimate of ``value`` and ``se`` (nats) in ``units``, with its confidence interval."""
    f = nats_to(units)
    est = Estimate(
        float(value) * f,
        float(se) * f,
        units=units,
        estimator=estimator,
        n=n,
        dim=d,
        params=params,
        n_ties=n_ties,
        note=note,
    )
    return with_interval(est)


def degenerate_estimate(
    message: str, units: str, estimator: str, n: int, d: int, params: dict, n_ties: int = 0
) -> Estimate:
    """The estimate of data without a density: value ``-inf``, ``degenerate`` set, ``message`` as note."""
    return Estimate(
        -math.inf,
        math.nan,
        units=units,
        estimator=estimator,
        n=n,
        dim=d,
        params=params,
        n_ties=n_ties,
        degenerate=True,
        note=message,
    )


def knn_terms(
    points: NDArray[np.float64],
    dtype: np.dtype,
    k: int,
    norm: Norm,
    jitter: float | str | None,
    seed: int | None,
    backend: Backend,
    period: NDArray[np.float64] | None = None,
) -> tuple[NDArray[np.float64] | None, float, int, str]:
    """Per-point terms of the Kozachenko-Leonenko estimator (whose mean is the estimate).

    Returns ``(terms, constant, n_ties, note)``: ``H = constant + mean(terms)`` with
    ``terms = d log eps_i``; ``terms`` is None if the data are degenerate (``note`` says
    why) or have ties that ``jitter=None`` forbids breaking.
    """
    n, d = points.shape
    const = float(digamma(n) - digamma(k)) + log_unit_ball_volume(d, norm)
    why = degeneracy(points, dtype)
    if why:
        return None, const, 0, why
    eps = kth_neighbour_distance(points, k, norm=norm, backend=backend, period=period)
    n_ties = int(np.count_nonzero(eps == 0.0))
    note = ""
    steps = quantisation_steps(points, dtype) if jitter == "auto" else np.zeros(d)
    if n_ties or np.any(steps > 0):
        if n_ties and jitter is None:
            return (
                None,
                const,
                n_ties,
                (
                    f"{n_ties} points have at least k = {k} exact duplicates (zero k-th neighbour distance) and "
                    "jitter=None: the estimate is -inf"
                ),
            )
        if jitter is None:  # pragma: no cover - ties returned above; grid steps are sought only for "auto"
            raise ValueError("jitter=None cannot break ties")
        points, how = dequantize(points, dtype, jitter, seed)
        eps = kth_neighbour_distance(points, k, norm=norm, backend=backend, period=period)
        if np.any(steps > 0):
            note = (
                f"quantised data: {how}; the value is the entropy of the dequantised density "
                "(the discrete entropy of the grid values plus the log cell volume)"
            )
            if n_ties:
                note += f"; {n_ties} of {n} points had at least k = {k} exact duplicates before"
        else:
            note = (
                f"{n_ties} of {n} points had at least k = {k} exact duplicates; ties broken ({how}). "
                "Many duplicates mean atoms (entropy -inf): then the value depends on the jitter"
            )
        if np.any(eps == 0.0):
            return None, const, n_ties, note + "; duplicates remain after jitter: the estimate is -inf"
    return d * np.log(eps), const, n_ties, note


def knn_entropy(
    x: ArrayLike,
    k: int = 4,
    *,
    norm: Norm = "euclidean",
    units: str = "nats",
    jitter: float | str | None = "auto",
    seed: int | None = 0,
    backend: Backend = "auto",
    period: ArrayLike | None = None,
    bias: str = "auto",
    ci_level: float = 0.95,
) -> Estimate:
    r"""Kozachenko-Leonenko k-nearest-neighbour estimate of the differential entropy.

    .. math:: \hat H = \psi(n) - \psi(k) + \log V_d + \frac{d}{n}\sum_i \log \varepsilon_i

    with :math:`\varepsilon_i` the distance from point i to its k-th nearest other point
    and :math:`V_d` the volume of the unit ball of the norm (Euclidean:
    :math:`\pi^{d/2}/\Gamma(d/2+1)`; maximum norm: :math:`2^d`, NPEET's and KSG's
    convention). Computed in float64 whatever the input dtype.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
        Points (length units; d = 1 for a 1-D array).
    k : int
        Neighbour rank (default 4, as infomeasure; NPEET uses 3). Larger k: less variance,
        more bias where the density varies on the scale of the k-th neighbour distance.
    norm : {"euclidean", "max"}
        Distance. Both estimate the same entropy.
    units : {"nats", "bits"}
    jitter : "auto", float or None
        What to do when some point has k or more exact duplicates (zero distance, which
        would give ``-inf``): ``"auto"`` dequantizes all points at the input's precision
        (uniform noise over each value's float32/float64 rounding interval, unit width for
        integers); a number adds uniform noise of that width relative to each axis's
        standard deviation; None returns ``-inf`` with a note. Tie-free data are never
        jittered.
    seed : int or None
        Seed of the jitter (used only when there are ties).
    backend : {"auto", "grid", "kdtree"}
        Neighbour search (see :func:`analysis.neighbors.kth_neighbour_distance`).
    period : array_like, shape (d,) or float, optional
        Box lengths of a periodic domain (dust in a periodic box): neighbour distances
        are taken on the torus, which removes the boundary bias of straight distances
        near the box's faces. The points may be wrapped or not.
    bias : {"auto", "subsample", "none"}
        Estimate the bias by extrapolating over subsamples n/2 and n/4
        (:func:`analysis.bias.subsample_bias`, about twice the cost again); ``"auto"``
        does so up to ``analysis.bias.AUTO_MAX_POINTS`` points.
    ci_level : float
        Coverage of the confidence interval ``ci_low, ci_high``.

    Returns
    -------
    Estimate
        Entropy (nats or bits). ``se`` is the standard deviation of the per-point terms
        ``d log eps_i`` over ``sqrt(n)`` (the terms are only locally dependent); ``bias``
        and the interval as in :func:`analysis.result.with_interval`. Data
        with no density (all points equal, or on a lower-dimensional subspace) give
        ``value = -inf``, ``degenerate = True`` and a note, not an exception. Data on a
        grid (rounded values, integers of any dtype) are dequantised first
        (``analysis._input.dequantize``): the value is then the entropy of the
        dequantised density, i.e. the discrete entropy plus the log cell volume.

    Raises
    ------
    ConfigError
        Empty, NaN, non-numeric or wrongly shaped input; ``k >= n``.
    """
    check_units(units)
    pts, dtype = as_points(x)
    n, d = pts.shape
    k = check_k(k, n)
    params: dict[str, Any] = {"k": k, "norm": norm}
    box = None
    if period is not None:
        box = np.broadcast_to(np.asarray(period, dtype=np.float64), (d,)).copy()
        if not np.all(np.isfinite(box) & (box > 0)):
            raise ConfigError(f"period must be positive and finite on every axis, got {period!r}")
        params["period"] = box.tolist()
    terms, const, n_ties, note = knn_terms(pts, dtype, k, norm, jitter, seed, backend, box)
    if terms is None:
        return degenerate_estimate(note, units, "knn", n, d, params, n_ties)
    se = float(np.std(terms, ddof=1)) / math.sqrt(n)
    value = const + float(np.mean(terms))

    def on_subsample(arrays: list[NDArray[np.float64]]) -> tuple[float, float]:
        t, c, _, _ = knn_terms(arrays[0], dtype, k, norm, jitter, seed, backend, box)
        if t is None:
            return math.nan, math.nan
        return c + float(np.mean(t)), float(np.std(t, ddof=1)) / math.sqrt(len(t))

    est = finish_estimate(value, se, units, "knn", n, d, params, n_ties=n_ties, note=note)
    return add_bias(est, on_subsample, [pts], bias, k, seed, ci_level)


def add_bias(
    est: Estimate,
    on_subsample: Any,
    arrays: list[NDArray[np.float64]],
    bias: str,
    k: int,
    seed: int | None,
    ci_level: float,
    *,
    lower: float = -math.inf,
    upper_open: bool = False,
    paired: bool = True,
) -> Estimate:
    """``est`` (in its units) with a subsample bias estimate (if ``bias`` asks for one) and its interval."""
    from .bias import subsample_bias, wants_subsample_bias

    if not wants_subsample_bias(bias, est.n, k) or not math.isfinite(est.value):
        return with_interval(est, level=ci_level, lower=lower, upper_open=upper_open)
    f = nats_to(est.units)
    sub = subsample_bias(on_subsample, arrays, (est.value / f, est.se / f), dim=est.dim, seed=seed, paired=paired)
    if not (math.isfinite(sub.bias) and math.isfinite(sub.bias_se)):
        return with_interval(est, level=ci_level, lower=lower, upper_open=upper_open)
    params = {**est.params, "bias_method": "subsample n, n/2, n/4", "bias_gamma": sub.gamma}
    est = replace(est, params=params)
    return with_interval(
        est,
        bias=sub.bias * f,
        bias_se=sub.bias_se * f,
        level=ci_level,
        lower=lower,
        upper_open=upper_open,
        corrected_se=sub.corrected_se * f,
    )


def scott_bin_width(points: NDArray[np.float64]) -> NDArray[np.float64]:
    """Scott's rule per axis: ``3.49 * std * n^(-1/(d+2))`` (length units)."""
    n, d = points.shape
    return 3.49 * points.std(axis=0) * n ** (-1.0 / (d + 2))


def _cell_counts(points: NDArray[np.float64], width: NDArray[np.float64], origin: NDArray[np.float64]) -> NDArray:
    cells = np.floor((points - origin) / width).astype(np.int64)
    cells -= cells.min(axis=0)
    shape = cells.max(axis=0) + 1
    n = len(points)
    if float(np.prod(shape.astype(np.float64))) <= max(4.0 * n, 1e6):
        key = np.ravel_multi_index(tuple(cells.T), tuple(shape))
        counts = np.bincount(key)
        return counts[counts > 0]
    if float(np.prod(shape.astype(np.float64))) < 2.0**62:
        key = np.ravel_multi_index(tuple(cells.T), tuple(shape))
        return np.unique(key, return_counts=True)[1]
    return np.unique(cells, axis=0, return_counts=True)[1]


def binned_entropy(
    x: ArrayLike,
    bin_width: float | ArrayLike | None = None,
    *,
    origin: float | ArrayLike = 0.0,
    miller_madow: bool = True,
    discrete: bool = False,
    units: str = "nats",
) -> Estimate:
    r"""Plug-in (histogram) entropy with the Miller-Madow correction.

    The points are binned into cubes of side ``bin_width`` (a coarse-graining scale)
    anchored at ``origin``; with bin probabilities :math:`\hat p_j = c_j / n` over the
    :math:`m` occupied bins,

    .. math:: \hat H_\text{disc} = -\sum_j \hat p_j \log \hat p_j + \frac{m - 1}{2n}

    is the Shannon entropy of the coarse-grained distribution, and
    :math:`\hat H_\text{disc} + \sum_a \log h_a` estimates the differential entropy
    (exact as the bins shrink, for a density that is smooth on the bin scale).

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
    bin_width : float or array of shape (d,), optional
        Bin side per axis (length units). Default: Scott's rule
        :func:`scott_bin_width`.
    origin : float or array of shape (d,)
        A bin corner (length units); fixed bins make estimates comparable across frames.
    miller_madow : bool
        Add the Miller-Madow bias correction ``(m - 1) / (2 n)``.
    discrete : bool
        Return the coarse-grained (discrete) entropy :math:`\hat H_\text{disc}` instead
        of the differential estimate.
    units : {"nats", "bits"}

    Returns
    -------
    Estimate
        ``se``: the delta-method standard error ``sqrt((sum p log^2 p - H^2) / n)``;
        ``params`` holds the bin width, the number of occupied bins and the discrete
        entropy.
    """
    check_units(units)
    pts, _ = as_points(x)
    n, d = pts.shape
    width = scott_bin_width(pts) if bin_width is None else np.broadcast_to(np.asarray(bin_width, float), (d,))
    width = np.array(width, dtype=np.float64)
    if not np.all(np.isfinite(width)) or np.any(width <= 0):
        if bin_width is None:
            why = degeneracy(pts, np.dtype(np.float64)) or "zero spread on some axis: entropy -inf"
            return degenerate_estimate(why, units, "binned", n, d, {})
        raise ConfigError(f"bin_width must be positive and finite, got {bin_width!r}")
    org = np.broadcast_to(np.asarray(origin, dtype=np.float64), (d,))
    counts = _cell_counts(pts, width, org).astype(np.float64)
    p = counts / n
    logp = np.log(p)
    h_disc = -float(np.sum(p * logp))
    se = math.sqrt(max(float(np.sum(p * logp**2)) - h_disc**2, 0.0) / n)
    m = len(counts)
    if miller_madow:
        h_disc += (m - 1) / (2.0 * n)
    log_volume = float(np.sum(np.log(width)))
    value = h_disc if discrete else h_disc + log_volume
    params = {
        "bin_width": width.tolist(),
        "occupied_bins": m,
        "miller_madow": miller_madow,
        "discrete": discrete,
        "discrete_entropy_nats": h_disc,
    }
    return finish_estimate(value, se, units, "binned", n, d, params)


def gaussian_entropy(x: ArrayLike, *, bias_correction: bool = True, units: str = "nats") -> Estimate:
    r"""Entropy of the Gaussian with the sample covariance: :math:`\tfrac12\log\det(2\pi e\hat\Sigma)`.

    An upper bound on the true entropy (the Gaussian has the largest entropy for a given
    covariance), equal to it for Gaussian data.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
    bias_correction : bool
        Remove the bias of :math:`\log\det\hat\Sigma` for Gaussian samples,
        :math:`\sum_{i=1}^d \psi((n-i)/2) + d\log(2/(n-1))` (Ahmed & Gokhale 1989), so the
        estimate is unbiased for Gaussian data.
    units : {"nats", "bits"}

    Returns
    -------
    Estimate
        ``se`` from the influence function of the log-determinant: half the standard
        deviation of the squared Mahalanobis distances over ``sqrt(n)`` (``sqrt(d/(2n))``
        for Gaussian data; valid for any law with finite fourth moments).
    """
    check_units(units)
    pts, dtype = as_points(x, min_points=2)
    n, d = pts.shape
    if n <= d:
        raise ConfigError(f"the Gaussian estimate in {d}-D needs more than {d} points, got {n}")
    params = {"bias_correction": bias_correction}
    why = degeneracy(pts, dtype)
    if why:
        return degenerate_estimate(why, units, "gaussian", n, d, params)
    centred = pts - pts.mean(axis=0)
    cov = centred.T @ centred / (n - 1)
    sign, logdet = np.linalg.slogdet(cov)
    if sign <= 0:
        return degenerate_estimate("singular sample covariance: entropy -inf", units, "gaussian", n, d, params)
    if bias_correction:
        logdet -= float(np.sum(digamma((n - np.arange(1, d + 1)) / 2.0))) + d * math.log(2.0 / (n - 1))
    value = 0.5 * (d * math.log(2.0 * math.pi * math.e) + logdet)
    maha = np.einsum("ij,ij->i", centred @ np.linalg.inv(cov), centred)
    se = 0.5 * float(np.std(maha, ddof=1)) / math.sqrt(n)
    return finish_estimate(value, se, units, "gaussian", n, d, params)


def kde_entropy(
    x: ArrayLike,
    *,
    bandwidth: str | float = "scott",
    leave_one_out: bool = True,
    max_points: int | None = 20_000,
    max_eval: int | None = 5_000,
    seed: int | None = 0,
    units: str = "nats",
) -> Estimate:
    r"""Resubstitution estimate with a Gaussian kernel density: :math:`-\frac1m\sum_i \log\hat f(x_i)`.

    Uses ``scipy.stats.gaussian_kde`` (kernel covariance = bandwidth factor^2 x the data
    covariance). The kernel smooths the density, so the estimate is biased upwards by
    about the entropy the kernel adds; ``leave_one_out`` removes each point's own kernel
    from :math:`\hat f(x_i)`, which otherwise biases it downwards.

    Parameters
    ----------
    x : array_like, shape (n, d) or (n,)
    bandwidth : "scott", "silverman" or float
        ``bw_method`` of ``gaussian_kde``.
    leave_one_out : bool
        Leave-one-out density at each evaluation point.
    max_points, max_eval : int or None
        Random subsamples (seeded) of the kernel centres and of the evaluation points:
        the cost is ``max_points * max_eval * d``. None: use all points.
    seed : int or None
    units : {"nats", "bits"}

    Returns
    -------
    Estimate
        ``se``: standard deviation of ``-log f(x_i)`` over ``sqrt(m)`` evaluation points.
    """
    from scipy.stats import gaussian_kde

    check_units(units)
    pts, dtype = as_points(x, min_points=3)
    n, d = pts.shape
    params: dict = {"bandwidth": bandwidth, "leave_one_out": leave_one_out}
    why = degeneracy(pts, dtype)
    if why:
        return degenerate_estimate(why, units, "kde", n, d, params)
    rng = np.random.default_rng(seed)
    centres = pts if max_points is None or n <= max_points else pts[rng.choice(n, max_points, replace=False)]
    m = len(centres)
    # evaluation points: a subsample of the kernel centres, so that leave-one-out applies
    ev = centres if max_eval is None or m <= max_eval else centres[rng.choice(m, max_eval, replace=False)]
    kde = gaussian_kde(centres.T, bw_method=bandwidth)
    logf = kde.logpdf(ev.T)
    if leave_one_out:
        _, logdet = np.linalg.slogdet(kde.covariance)
        log_k0 = -0.5 * (d * math.log(2.0 * math.pi) + logdet)
        # f_loo = (m f - K(0)) / (m - 1); K(0) <= m f always (f contains the point itself)
        ratio = np.exp(log_k0 - logf) / m
        logf = logf + np.log(np.maximum(1.0 - ratio, 1e-300)) + math.log(m / (m - 1.0))
    terms = -logf
    params["bandwidth_factor"] = float(kde.factor)
    se = float(np.std(terms, ddof=1)) / math.sqrt(len(terms))
    return finish_estimate(float(np.mean(terms)), se, units, "kde", len(ev), d, params)


__all__ = [
    "binned_entropy",
    "gaussian_entropy",
    "kde_entropy",
    "knn_entropy",
    "log_unit_ball_volume",
    "scott_bin_width",
]
