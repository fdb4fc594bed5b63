r"""Emergence across scales: coarse-grained entropy of dust on a grid of scales.

The positions of every frame are coarse-grained into cubes of side :math:`\Delta` (cells
anchored at ``origin``) for each scale of a grid; with :math:`p_i` the fraction of the
dust in cell :math:`i`,

.. math:: H_\Delta(t) = -\sum_i p_i \log p_i

is the entropy of the dust as seen at resolution :math:`\Delta` (a Boltzmann entropy of
the occupation numbers, per particle). :math:`H_\Delta + d \log \Delta` tends to the
differential entropy as :math:`\Delta \to 0` for a density that is smooth on the scale
:math:`\Delta`, so it is the form comparable across scales and with the kNN entropy.

**Structure at scale Δ.** Halving the cells splits each cell into :math:`2^d` children;
the entropy added, :math:`H_{\Delta/2} - H_\Delta`, is the entropy of the child cell given
the parent cell, at most :math:`d \log 2` (reached when the dust is spread evenly over the
children of every cell). The deficit

.. math:: S_\Delta(t) = d \log 2 - \left(H_{\Delta/2}(t) - H_\Delta(t)\right) \ge 0

(estimated with a chance correction, :func:`analysis.coarse.scale_entropies`) is the information (nats)
that the dust holds at scale :math:`\Delta` beyond the coarser picture: the mean
Kullback-Leibler divergence of the within-cell distribution from the uniform one. It is
zero exactly when the density is uniform at resolution :math:`\Delta/2` inside every
cell of side :math:`\Delta`. For a density smooth on the scale :math:`\Delta`, a first-order
expansion inside each cell gives
:math:`S_\Delta \approx \Delta^2 J / 32` with :math:`J = E\|\nabla \log p\|^2` the
Fisher information, so under free diffusion from a point (:math:`J = d / 2Dt`) structure
at scale :math:`\Delta` fades as :math:`S_\Delta \approx d \Delta^2 / (64 D t)`.

**Emergence time.** The time after which the dust looks smooth at scale :math:`\Delta`
(the continuum description *emerges* at that scale): the last time :math:`S_\Delta(t)`
is at or above ``tolerance`` (nats; located by a fit of ``log S`` in ``log t`` over the
frames of the transition, see ``_crossing``).
For free dust it grows like :math:`\Delta^2 / 2D`: with :math:`\varepsilon` the tolerance
and :math:`s_0` the initial width of point-like clumps,
:math:`t_\Delta \approx (d \Delta^2 / 32\varepsilon - s_0^2) / 2D` in the smooth limit,
and exactly :math:`\propto \Delta^2` for a point source at a cell corner (the law then
depends on :math:`\sqrt{2Dt} / \Delta` only). The *ordering time* is the converse, for
dust that orders itself: the first time :math:`S_\Delta` rises to ``tolerance`` from
below.

For a Gaussian-mixture artifact under a linear process the marginal :math:`p_t` is a
mixture with known parameters, and the cell probabilities are products of normal CDF
differences: :func:`analysis.exact_cells.exact_coarse_entropy` gives :math:`H_\Delta(t)` exactly (no sampling),
the reference of the estimates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from dustsim.errors import ConfigError
from dustsim.mixture import GaussianMixture
from dustsim.processes import LinearProcess
from dustsim.schema import closed_box, history_line, trajectory_process

from ._input import as_points
from .coarse import RESOLVED_PER_CHILD, detail_terms, scale_entropies
from .exact_cells import exact_coarse_entropy, exact_structure
from .result import check_units, nats_to
from .trajectory import PROVENANCE, read_frame, subsample_particles

#: most frames in the local fit of a crossing time (their covariance needs them read again)
_MAX_FIT_FRAMES = 40
#: a crossing counts as noisy when the structure's SE there exceeds tolerance / NOISY_RATIO
NOISY_RATIO = 4.0
#: default tolerance of the emergence time (nats)
TOLERANCE = 0.01


def default_scales(ds: xr.Dataset, n_scales: int = 8) -> list[float]:
    """A geometric grid of ``n_scales`` scales, factor 2 apart, below the dust's extent.

    The largest is half the largest extent (max - min over any axis) of the first and the
    last frame; for dust in a closed box, half the largest box length.
    """
    if isinstance(n_scales, bool) or not isinstance(n_scales, (int, np.integer)) or n_scales < 1:
        raise ConfigError(f"n_scales must be a positive integer, got {n_scales!r}")
    box = closed_box(ds)
    if box is not None:
        extent = float(np.max(box[0]))
    else:
        pos = ds["position"]
        if "realization" in pos.dims:
            pos = pos.isel(realization=0)
        ends = [np.asarray(pos.isel(time=i).values, dtype=np.float64) for i in (0, -1)]
        extent = max(float(np.max(e.max(axis=0) - e.min(axis=0))) for e in ends)
    if not (extent > 0 and math.isfinite(extent)):
        raise ConfigError(
            "the dust has no extent (all particles at one point in the first and last frame): "
            "give the scales explicitly"
        )
    return [extent / 2.0 ** (j + 1) for j in range(int(n_scales))]


def _grid_origin(ds: xr.Dataset, origin: float | ArrayLike | None, d: int) -> NDArray[np.float64]:
    """The cell corner: given, the box corner of a closed box, else 0."""
    if origin is not None:
        given = np.asarray(origin, dtype=np.float64)
        if given.size not in (1, d):
            raise ConfigError(f"origin must be one number or {d} (one per axis), got {np.atleast_1d(origin).tolist()}")
        org = np.broadcast_to(given.reshape(-1) if given.size == d else given.reshape(()), (d,)).copy()
        if not np.all(np.isfinite(org)):
            raise ConfigError(f"origin must be finite, got {origin!r}")
        return org
    box = closed_box(ds)
    if box is not None and "box_origin" in ds.coords:
        return np.broadcast_to(np.asarray(ds["box_origin"].values, dtype=np.float64), (d,)).copy()
    if box is not None:
        return -0.5 * box[0]
    return np.zeros(d)


def _check_box_tiling(ds: xr.Dataset, scales: Sequence[float], org: NDArray[np.float64]) -> None:
    """Warn when the cells of a scale do not tile the dust's closed box.

    A cell cut by a face of the box holds less dust than its neighbours and some of its
    children lie outside: that shows as structure (and lowers H_Delta) where there is none.
    """
    import warnings

    box = closed_box(ds)
    if box is None:
        return
    lengths = box[0]
    corner = np.asarray(ds["box_origin"].values, dtype=np.float64) if "box_origin" in ds.coords else -0.5 * lengths
    for s in scales:
        half = 0.5 * s  # the children must tile it too
        cuts = np.concatenate([(lengths / half), (corner - org) / half])
        if np.any(np.abs(cuts - np.round(cuts)) > 1e-9 * np.maximum(1.0, np.abs(cuts))):
            warnings.warn(
                f"cells of side {s:g} (and {half:g}) do not tile the box {lengths.tolist()} from corner "
                f"{corner.tolist()}: cut cells at its faces show as structure; choose scales that divide "
                "the box (the default ones do)",
                UserWarning,
                stacklevel=3,
            )


def _bracket(s: NDArray[np.float64], tol: float, falling: bool) -> tuple[int, int]:
    """``(j, status)``: frames ``j, j + 1`` (in time order) bracket the crossing of ``tol``.

    Falling: the last frame at or above ``tol`` is ``j``; rising: the first one is ``j + 1``.
    status 0: a bracket; 1: never on the structured side (smooth from the start when
    falling, never ordered when rising); 2: censored (still structured at the last frame
    when falling; when rising, structured from the first frame).
    """
    above = s >= tol
    if falling:
        if not above.any():
            return -1, 1
        j = int(np.flatnonzero(above)[-1])
        return (j, 0) if j < len(s) - 1 else (-1, 2)
    if not above.any():
        return -1, 1
    if above[0]:
        return -1, 2
    return int(np.flatnonzero(above)[0]) - 1, 0


def _crossing(
    times: NDArray[np.float64], s: NDArray[np.float64], tol: float, falling: bool
) -> tuple[float, int, NDArray[np.int64], NDArray[np.float64]]:
    """Time where the estimated structure ``s`` crosses ``tol``, with what its SE needs.

    Adjacent frames differ by noise as much as by trend, so the crossing is not read off
    the last (or first) pair of frames that bracket it: ``log s`` is fitted linearly in
    ``log t`` over the transition, the frames between the last one beyond ``2 tol`` on
    the structured side of the bracket and the first one beyond ``tol / 2`` on the other
    side (the smooth-limit law ``s ~ 1/t`` is a straight line there; at most
    ``_MAX_FIT_FRAMES`` of them, evenly spread). Where fewer than 3 frames qualify, the fit
    does not fall the right way or crosses outside the transition, the bracket is
    interpolated linearly.

    Returns ``(time, status, frames, gradient)``: status as :func:`_bracket` (falling and
    never structured: time 0), ``frames`` the indices (into ``times``) of the frames used
    and ``gradient`` the derivative of the time with respect to their structure, for the
    delta method with the covariance of the frames (:func:`_structure_covariance`).
    """
    none = np.zeros(0, dtype=np.int64), np.zeros(0)
    order = np.argsort(times)
    t, v = times[order], s[order]
    j, status = _bracket(v, tol, falling)
    if status:
        return (0.0 if (falling and status == 1) else math.nan), status, *none
    structured, smooth = (v > 2.0 * tol), (v < 0.5 * tol)
    if falling:  # structured before the bracket, smooth after it
        before, after = np.flatnonzero(structured[: j + 1]), np.flatnonzero(smooth[j + 1 :]) + j + 1
    else:
        before, after = np.flatnonzero(smooth[: j + 1]), np.flatnonzero(structured[j + 1 :]) + j + 1
    lo = int(before[-1]) + 1 if len(before) else 0
    hi = int(after[0]) - 1 if len(after) else len(v) - 1
    lo, hi = min(lo, j), max(hi, j + 1)
    use = np.arange(lo, hi + 1)
    use = use[(t[use] > 0) & (v[use] > 0)]
    if len(use) > _MAX_FIT_FRAMES:
        use = use[np.unique(np.linspace(0, len(use) - 1, _MAX_FIT_FRAMES).round().astype(np.int64))]
    if len(use) >= 3:
        x, y = np.log(t[use]), np.log(v[use])
        x_bar, sxx = float(x.mean()), float(np.sum((x - x.mean()) ** 2))
        slope = float(np.sum((x - x_bar) * (y - y.mean()))) / sxx
        intercept = float(y.mean()) - slope * x_bar
        if (slope < 0) == falling and slope != 0:
            log_tau = (math.log(tol) - intercept) / slope
            tau = math.exp(log_tau)
            if t[lo] <= tau <= t[hi]:
                # d log tau / d y_k, with y_k = log s_k
                dl = -(1.0 / len(use) + (log_tau - x_bar) * (x - x_bar) / sxx) / slope
                return tau, 0, order[use], tau * dl / v[use]
    h, k = t[j + 1] - t[j], v[j] - v[j + 1]
    w = (v[j] - tol) / k
    tau = float(t[j] + w * h)
    # tau = t_j + h (v_j - tol) / (v_j - v_j+1)
    grad = np.array([h * (1.0 - w) / k, h * w / k])
    return tau, 0, order[[j, j + 1]], grad


def _structure_covariance(
    position: xr.DataArray,
    idx: NDArray[np.int64] | None,
    frames: NDArray[np.int64],
    scale: float,
    org: NDArray[np.float64],
) -> NDArray[np.float64]:
    """Covariance of the structure estimates of some frames (nats^2).

    The same particles are tracked through the frames, so the estimates are correlated;
    the covariance is that of their per-point terms over n (delta method), less the
    counts' sampling noise and plus the second-order variance on the diagonal (see
    :func:`analysis.coarse._divergence_se`).
    """
    columns, extra = [], []
    for i in frames:
        pts, _ = as_points(read_frame(position, int(i), idx), "frame")
        _, s_terms, s_extra, *_ = detail_terms(pts, scale, org)  # s_extra: the second-order k
        columns.append(s_terms)
        extra.append(s_extra)
    terms = np.stack(columns, axis=1)
    n = terms.shape[0]
    cov = np.atleast_2d(np.cov(terms, rowvar=False))
    k = np.asarray(extra)
    # the counts' sampling noise on the diagonal (see _divergence_se), then the second-order term
    cov[np.diag_indices_from(cov)] = np.maximum(np.diag(cov) - k / n, 0.0)
    return cov / n + np.diag(k / (2.0 * n * n))


def _exact_crossing(
    mixture: GaussianMixture,
    process: LinearProcess,
    scale: float,
    origin: NDArray[np.float64],
    tol: float,
    lo: float,
    hi: float,
) -> float:
    """The exact crossing time inside the bracket ``[lo, hi]`` (brentq on the exact structure)."""
    from scipy.optimize import brentq

    def gap(t: float) -> float:
        return exact_structure(mixture.transported(process, t), scale, origin) - tol

    g_lo, g_hi = gap(lo), gap(hi)
    if g_lo == 0.0:
        return lo
    if g_lo * g_hi > 0:
        return math.nan
    return float(brentq(gap, lo, hi, xtol=1e-10 * max(hi, 1.0), rtol=1e-10))


def emergence(
    ds: xr.Dataset,
    scales: Sequence[float] | None = None,
    *,
    n_scales: int = 8,
    origin: float | ArrayLike | None = None,
    tolerance: float = TOLERANCE,
    max_particles: int | None = 200_000,
    seed: int = 0,
    exact: bool | None = None,
    mixture: GaussianMixture | None = None,
    units: str = "nats",
    progress: bool = False,
    history: str | None = None,
) -> xr.Dataset:
    r"""Coarse-grained entropy ``H_Delta(t)`` on a grid of scales, structure and emergence times.

    Parameters
    ----------
    ds : xr.Dataset
        A trajectory (schema of ``docs/schema.md``); with a ``realization`` dimension every
        realization is analysed separately (``realization`` dimension in the result).
    scales : sequence of float, optional
        Cell sides Delta (length units). Default: :func:`default_scales` (``n_scales``
        scales, factor 2 apart).
    n_scales : int
        Number of default scales.
    origin : float or array of shape (d,), optional
        A cell corner (length units), the same in every frame. Default: the box corner for
        dust in a closed box (so cells tile the box when Delta divides it), else 0.
    tolerance : float
        Structure (nats, whatever ``units``) below which a scale counts as smooth, for the
        emergence and ordering times. It must stand well above the standard error of the
        structure (``structure_se`` near the crossing) to be meaningful.
    max_particles : int or None
        A random subsample of the particles (the same in every frame); None: all.
    seed : int
        Seed of the subsample.
    exact : bool or None
        Add the exact references (``exact_coarse_entropy``, ``exact_structure``,
        ``exact_emergence_time``) from the Gaussian-mixture artifact under the recorded
        linear process. None: whenever possible; True: raise if impossible.
    mixture : GaussianMixture, optional
        The law of the initial positions, when the trajectory does not record one (e.g. a
        ``point`` artifact: ``GaussianMixture([[x0]], [0.0], [1.0])``).
    units : {"nats", "bits"}
        Units of the entropies (the tolerance stays in nats).
    progress : bool
        Progress bar over frames.
    history : str, optional
        Text of the new history line.

    Returns
    -------
    xr.Dataset
        Dims ``time`` x ``scale`` (coordinate ``scale``, length units):
        ``coarse_entropy`` H_Delta (Miller-Madow) and ``coarse_entropy_se`` (delta method);
        ``continuum_entropy`` = H_Delta + d log Delta (comparable with the differential
        entropy) and its SE; ``detail_entropy`` = H_{Delta/2} - H_Delta and
        ``structure`` = d log 2 - detail, with SEs; over ``scale``: ``emergence_time``
        (last time the structure is >= tolerance, fitted over the transition; 0 if never; NaN if still
        structured at the last frame), ``emergence_time_se``, ``emergence_status``
        (0 crossing, 1 smooth from the start, 2 censored, 3 crossing within the noise:
        the structure's SE exceeds tolerance / 4 there), and ``ordering_time`` (first
        upward crossing; NaN if none) with ``_se`` and ``ordering_status``; with ``exact``: ``exact_coarse_entropy``,
        ``exact_structure`` (time, scale) and ``exact_emergence_time`` (scale, root of the
        exact structure inside the bracketing frames).

    Raises
    ------
    ConfigError
        Not a trajectory, bad scales / tolerance / units, exact references impossible
        when ``exact=True``.
    """
    check_units(units)
    if "position" not in ds.data_vars:
        raise ConfigError("not a trajectory: the dataset has no 'position' variable")
    if not (isinstance(tolerance, (int, float)) and tolerance > 0 and math.isfinite(tolerance)):
        raise ConfigError(f"tolerance must be a positive number of nats, got {tolerance!r}")
    if max_particles is not None and (
        isinstance(max_particles, bool) or max_particles < 2 or not isinstance(max_particles, (int, np.integer))
    ):
        raise ConfigError(f"max_particles must be an integer >= 2 (or None for all), got {max_particles!r}")
    scale_list = [float(s) for s in (scales if scales is not None else default_scales(ds, n_scales))]
    if not scale_list or any(not (s > 0 and math.isfinite(s)) for s in scale_list):
        raise ConfigError(f"scales must be positive and finite, got {scale_list}")
    if len(set(scale_list)) != len(scale_list):
        raise ConfigError(f"scales must be distinct, got {scale_list}")
    scale_list.sort()
    options: dict[str, Any] = {
        "scales": scale_list,
        "origin": origin,
        "tolerance": float(tolerance),
        "max_particles": max_particles,
        "seed": seed,
        "exact": exact,
        "mixture": mixture,
        "units": units,
        "progress": progress,
        "history": history,
    }
    if "realization" in ds["position"].dims:
        parts = [
            _emergence_one(ds.isel(realization=r), **{**options, "seed": seed + r})
            for r in range(ds.sizes["realization"])
        ]
        out = xr.concat(parts, dim="realization", combine_attrs="override")
        if "realization" in ds.coords:
            out = out.assign_coords(realization=ds["realization"].values)
        return out
    return _emergence_one(ds, **options)


def _emergence_one(
    ds: xr.Dataset,
    *,
    scales: list[float],
    origin: Any,
    tolerance: float,
    max_particles: int | None,
    seed: int,
    exact: bool | None,
    mixture: GaussianMixture | None,
    units: str,
    progress: bool,
    history: str | None,
) -> xr.Dataset:
    position = ds["position"]
    n_frames, n_particles, d = (position.sizes[s] for s in ("time", "particle", "spatial"))
    if n_frames == 0:
        raise ConfigError("the trajectory has no frames")
    times = np.asarray(ds["time"].values, dtype=np.float64)
    org = _grid_origin(ds, origin, d)
    _check_box_tiling(ds, scales, org)
    idx = subsample_particles(n_particles, max_particles, np.random.default_rng(seed))
    n_used = n_particles if idx is None else len(idx)

    process = trajectory_process(ds)
    law = mixture if mixture is not None else (GaussianMixture.from_trajectory(ds) if exact is not False else None)
    do_exact = exact is not False and law is not None and process is not None and law.dim == d
    if exact and not do_exact:
        raise ConfigError(
            "exact coarse-grained entropies need a Gaussian-mixture artifact (or mixture=) "
            "of the trajectory's dimension and a linear process"
        )

    n_sc = len(scales)
    h, h_se, det, det_se, structure, structure_se, resolved = (np.full((n_frames, n_sc), np.nan) for _ in range(7))
    frames: Any = range(n_frames)
    if progress:
        from tqdm.auto import tqdm

        frames = tqdm(frames, desc="emergence", unit="frame", leave=False)
    for i in frames:
        pts, _ = as_points(read_frame(position, i, idx), "frame")
        for j, s in enumerate(scales):
            (h[i, j], h_se[i, j], det[i, j], det_se[i, j], structure[i, j], structure_se[i, j], resolved[i, j]) = (
                scale_entropies(pts, s, org)
            )

    f = nats_to(units)
    length_unit = str(position.attrs.get("units", "1"))
    coords: dict[str, Any] = {
        "time": ("time", times, ds["time"].attrs),
        "scale": ("scale", np.asarray(scales), {"units": length_unit, "long_name": "cell side Delta"}),
    }
    for c in ("step", "alpha", "sigma"):
        if c in ds.coords:
            coords[c] = ("time", np.asarray(ds[c].values), ds[c].attrs)
    out = xr.Dataset(coords=coords)
    dims = ("time", "scale")
    log_scale = d * np.log(np.asarray(scales))[None, :]
    out["coarse_entropy"] = (
        dims,
        h * f,
        {
            "units": units,
            "long_name": "coarse-grained entropy H_Delta = -sum p_i log p_i over cubes of side Delta",
            "estimator": "plug-in with the Miller-Madow correction (analysis.binned_entropy, discrete=True)",
        },
    )
    out["coarse_entropy_se"] = (dims, h_se * f, {"units": units, "long_name": "standard error of coarse_entropy"})
    out["continuum_entropy"] = (
        dims,
        (h + log_scale) * f,
        {
            "units": units,
            "long_name": "H_Delta + d log Delta: tends to the differential entropy as Delta -> 0",
            "note": f"lengths in {length_unit!r}: rescaling them by a adds d log a",
        },
    )
    out["continuum_entropy_se"] = (dims, h_se * f, {"units": units})
    out["detail_entropy"] = (
        dims,
        det * f,
        {"units": units, "long_name": "H_{Delta/2} - H_Delta: entropy of the half-size cell given the cell"},
    )
    out["detail_entropy_se"] = (dims, det_se * f, {"units": units})
    out["structure"] = (
        dims,
        structure * f,
        {
            "units": units,
            "long_name": "structure at scale Delta: d log 2 - (H_{Delta/2} - H_Delta) >= 0",
            "note": (
                "mean KL divergence of the within-cell distribution from uniform; ~ Delta^2 J / 32 when smooth. "
                "Plug-in minus its value for uniform cells (null_bias); see resolved_fraction"
            ),
        },
    )
    out["structure_se"] = (dims, structure_se * f, {"units": units})
    out["resolved_fraction"] = (
        dims,
        resolved,
        {
            "units": "1",
            "long_name": f"fraction of the particles in cells of at least {RESOLVED_PER_CHILD} x 2^d particles",
            "note": "structure hidden in the other (sparse) cells is partly missed: a downward bias",
        },
    )

    tau, tau_se, status, order, order_se, order_status = (np.full(n_sc, np.nan) for _ in range(6))
    for j, s in enumerate(scales):
        for falling, value, value_se, flag in ((True, tau, tau_se, status), (False, order, order_se, order_status)):
            value[j], flag[j], used, grad = _crossing(times, structure[:, j], tolerance, falling)
            if len(used):
                cov = _structure_covariance(position, idx, used, s, org)
                value_se[j] = math.sqrt(max(float(grad @ cov @ grad), 0.0))
                if float(np.mean(structure_se[used, j])) > tolerance / NOISY_RATIO:
                    flag[j] = 3  # the crossing may be a noise excursion: the tolerance is too close to the noise
            elif flag[j] == 1 and falling:
                value_se[j] = 0.0
    time_units = str(ds["time"].attrs.get("units", "1"))
    out["emergence_time"] = (
        "scale",
        tau,
        {
            "units": time_units,
            "tolerance_nats": tolerance,
            "long_name": "last time the structure at scale Delta is >= tolerance (smooth afterwards)",
            "note": "0: smooth from the start; NaN: still structured at the last frame (see emergence_status)",
        },
    )
    out["emergence_time_se"] = (
        "scale",
        tau_se,
        {
            "units": time_units,
            "long_name": "delta-method SE of the local fit, with the covariance of the frames (same particles)",
        },
    )
    out["emergence_status"] = (
        "scale",
        status.astype(np.int8),
        {
            "long_name": "0: crossing found, 1: never structured, 2: censored (structured at the last frame), "
            f"3: crossing found but the structure's SE there exceeds tolerance / {NOISY_RATIO:g} "
            "(noise may have made it: raise the tolerance or the particle number)"
        },
    )
    out["ordering_time"] = (
        "scale",
        order,
        {
            "units": time_units,
            "tolerance_nats": tolerance,
            "long_name": "first time the structure at scale Delta rises to the tolerance (order appears)",
        },
    )
    out["ordering_time_se"] = ("scale", order_se, {"units": time_units})
    out["ordering_status"] = (
        "scale",
        order_status.astype(np.int8),
        {
            "long_name": "0: crossing found, 1: never ordered, 2: structured from the first frame, 3: noisy (as for "
            "emergence_status)"
        },
    )

    if do_exact:
        assert law is not None and process is not None
        ex_h, ex_s = np.full((n_frames, n_sc), np.nan), np.full((n_frames, n_sc), np.nan)
        skipped: list[str] = []
        for j, s in enumerate(scales):
            try:
                for i, t in enumerate(times):
                    law_t = law.transported(process, float(t))
                    coarse = exact_coarse_entropy(law_t, s, org)
                    ex_h[i, j] = coarse
                    ex_s[i, j] = d * math.log(2.0) - (exact_coarse_entropy(law_t, 0.5 * s, org) - coarse)
            except ConfigError as exc:  # too many cells at this scale: skip it unless asked for
                if exact:
                    raise
                ex_h[:, j] = ex_s[:, j] = np.nan
                skipped.append(f"{s:g}: {exc}")
        ex_tau = np.full(n_sc, np.nan)
        srt = np.argsort(times)
        for j, s in enumerate(scales):
            if np.isnan(ex_s[:, j]).any():
                continue
            k, st = _bracket(ex_s[srt, j], tolerance, falling=True)
            if st == 1:
                ex_tau[j] = 0.0
            elif st == 0:
                lo, hi = float(times[srt][k]), float(times[srt][k + 1])
                ex_tau[j] = _exact_crossing(law, process, s, org, tolerance, lo, hi)
        out["exact_coarse_entropy"] = (
            dims,
            ex_h * f,
            {"units": units, "long_name": "exact H_Delta of the Gaussian-mixture marginal (normal CDF cell integrals)"},
        )
        out["exact_structure"] = (dims, ex_s * f, {"units": units, "long_name": "exact structure at scale Delta"})
        if skipped:
            out["exact_coarse_entropy"].attrs["note"] = "NaN at scales too fine for the exact cell grid: " + "; ".join(
                skipped
            )
        out["exact_emergence_time"] = (
            "scale",
            ex_tau,
            {
                "units": time_units,
                "tolerance_nats": tolerance,
                "long_name": "exact emergence time (root of the exact structure between the bracketing frames)",
            },
        )

    out.attrs = {a: ds.attrs[a] for a in PROVENANCE if a in ds.attrs}
    out.attrs.update(
        {
            "title": "dustsim emergence across scales",
            "kind": "emergence",
            "history": (
                str(ds.attrs.get("history", "")).rstrip("\n") + "\n" + history_line(history or "emergence")
            ).lstrip("\n"),
            "units": units,
            "length_unit": length_unit,
            "dim": d,
            "tolerance_nats": tolerance,
            "origin": org.tolist(),
            "n_particles": n_particles,
            "n_particles_used": n_used,
            "analysis_seed": seed,
        }
    )
    return out


def fit_emergence_exponent(result: xr.Dataset) -> tuple[float, float, float]:
    """Fit ``t_Delta = A Delta^p`` by weighted least squares on ``log t`` vs ``log Delta``.

    Uses the scales whose emergence time is a proper crossing (status 0) with a finite,
    positive SE; weights ``(t / se)^2`` (the SE of ``log t`` is ``se / t``).

    Returns
    -------
    exponent, exponent_se, prefactor : float
        ``p`` (2 for free diffusion), its SE from the weights (the SEs of the times are
        taken as independent), and ``A`` (time units / length units^p).

    Raises
    ------
    ConfigError
        Fewer than 3 usable scales.
    """
    if "realization" in result["emergence_time"].dims:
        raise ConfigError("fit the emergence exponent of one realization: result.isel(realization=r)")
    tau = np.asarray(result["emergence_time"].values, dtype=np.float64)
    se = np.asarray(result["emergence_time_se"].values, dtype=np.float64)
    ok = (np.asarray(result["emergence_status"].values) == 0) & np.isfinite(tau) & (tau > 0) & (se > 0)
    if int(ok.sum()) < 3:
        raise ConfigError(f"the emergence exponent needs at least 3 scales with a crossing, got {int(ok.sum())}")
    x = np.log(np.asarray(result["scale"].values, dtype=np.float64)[ok])
    y = np.log(tau[ok])
    w = (tau[ok] / se[ok]) ** 2
    design = np.stack([np.ones_like(x), x], axis=1)
    cov = np.linalg.inv(design.T @ (w[:, None] * design))
    coef = cov @ (design.T @ (w * y))
    return float(coef[1]), float(math.sqrt(cov[1, 1])), float(math.exp(coef[0]))


__all__ = [
    "TOLERANCE",
    "default_scales",
    "emergence",
    "fit_emergence_exponent",
]
