"""Entropy trajectories: entropy, relative entropy and information of every frame of a trajectory.

:func:`entropy_trajectory` turns a trajectory dataset (the schema of ``docs/schema.md``;
forward, reverse or restoration; in memory, netCDF or dask-backed Zarr) into an
``xr.Dataset`` over ``time``. Frames are read one at a time, each only at the particles of
a fixed random subsample, so a trajectory larger than memory is never loaded whole.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dustsim.errors import ConfigError
from dustsim.processes import LinearProcess
from dustsim.run_info import RunInfo
from dustsim.schema import closed_box, history_line, trajectory_process

from ._input import as_points, check_k
from .checkpoint import FrameCheckpoint, trajectory_identity
from .divergence import gaussian_logpdf
from .entropy import binned_entropy, gaussian_entropy, kde_entropy, knn_terms
from .gmm import GaussianMixture, mixture_entropy
from .information import ksg_mutual_information
from .neighbors import Backend
from .result import check_units, nats_to

ESTIMATORS = ("knn", "knn-max", "binned", "gaussian", "kde")
#: estimators of I(X_0; X_t): KSG, or the conditional-denoiser MINDE estimator (:mod:`analysis.diffusion_mi`)
MI_ESTIMATORS = ("ksg", "diffusion")
#: global attributes copied from the source trajectory (provenance)
PROVENANCE = ("source", "dustsim_version", "schema_version", "process", "direction", "seed", "config", "stepper",
              "artifact")
#: processes whose stationary law is invariant at every time (so KL to it cannot grow)
INVARIANT_LAW = ("ou", "vp", "vp-cosine")


def subsample(n: int, m: int | None, rng: np.random.Generator) -> NDArray[np.int64] | None:
    if m is None or m >= n:
        return None
    return np.sort(rng.choice(n, size=m, replace=False))


def read_frame(position: xr.DataArray, i: int, idx: NDArray[np.int64] | None) -> NDArray[np.float64]:
    """One frame (only the subsampled particles), read from disk or dask as needed."""
    frame = position.isel(time=i)
    if idx is not None:
        frame = frame.isel(particle=idx)
    return np.asarray(frame.values)


def _frame_entropy(
    name: str,
    pts: NDArray[np.float64],
    dtype: np.dtype,
    *,
    k: int,
    bin_width: Any,
    seed: int,
    backend: Backend,
    period: NDArray[np.float64] | None = None,
) -> tuple[float, float, int, bool, NDArray[np.float64] | None, float]:
    """(value, se, n_ties, degenerate, knn terms or None, knn constant), nats.

    ``period``: box lengths of a periodic box, for kNN distances on the torus."""
    if name in ("knn", "knn-max"):
        norm = "euclidean" if name == "knn" else "max"
        terms, const, n_ties, _ = knn_terms(pts, dtype, k, norm, "auto", seed, backend, period)  # type: ignore[arg-type]
        if terms is None:
            return -math.inf, math.nan, n_ties, True, None, const
        se = float(np.std(terms, ddof=1)) / math.sqrt(len(terms))
        return const + float(np.mean(terms)), se, n_ties, False, terms, const
    if name == "binned":
        est = binned_entropy(pts, bin_width)
    elif name == "gaussian":
        est = gaussian_entropy(pts)
    else:
        est = kde_entropy(pts, seed=seed)
    return est.value, est.se, est.n_ties, est.degenerate, None, 0.0


def entropy_trajectory(
    ds: xr.Dataset,
    *,
    estimators: Sequence[str] = ("knn",),
    k: int = 4,
    max_particles: int | None = 200_000,
    seed: int = 0,
    units: str = "nats",
    kl: bool = True,
    mutual_information: bool = True,
    mi_max_particles: int | None = 10_000,
    exact: bool | None = None,
    exact_samples: int = 100_000,
    scales: Sequence[float] | None = None,
    bin_width: float | None = None,
    backend: Backend = "auto",
    mi_estimator: str = "ksg",
    progress: bool = False,
    history: str | None = None,
    compute: str = "auto",
    checkpoint: str | Path | None = None,
) -> xr.Dataset:
    """Entropy, relative entropy and mutual information of every frame of a trajectory.

    Parameters
    ----------
    ds : xr.Dataset
        A trajectory (``dustsim.simulate`` output or ``dustsim.open_trajectory``); with a
        ``realization`` dimension, every realization is analysed separately.
    estimators : sequence of str
        Entropy estimators, the ``estimator`` dimension: ``knn`` (Kozachenko-Leonenko,
        Euclidean), ``knn-max`` (maximum norm), ``binned`` (Miller-Madow, ``bin_width``),
        ``gaussian`` (upper bound), ``kde`` (slow: subsampled to 20000 centres).
    k : int
        Neighbour rank of the kNN estimators and of KSG.
    max_particles : int or None
        Random subsample of particles (the same in every frame); None: all.
    seed : int
        Seed of the subsample, of tie-breaking jitter and of the Monte Carlo draws.
    units : {"nats", "bits"}
    kl : bool
        Add ``kl_to_equilibrium(time)`` if the recorded dynamics has a known stationary
        law: the Gaussian of OU / VP / cosine VP, or the uniform law of a box for
        Brownian dust (see :func:`uniform_box_log_volume`).
    mutual_information : bool
        Add ``mutual_information(time)``, I(X_0; X_t) by KSG on ``mi_max_particles``
        particles paired across frames (X_0: the frame at the smallest time), and, for
        forward linear processes, ``mutual_information_linear(time)`` =
        H(X_t) - (d/2) log(2 pi e sigma(t)^2) from the first estimator.
    mi_max_particles : int or None
    exact : bool or None
        Add ``exact_entropy(time)``: Monte Carlo entropy of the exact marginal when the
        artifact is a Gaussian mixture and the process is linear (None: whenever
        possible; True: raise if impossible).
    exact_samples : int
        Monte Carlo draws per frame for ``exact_entropy``.
    scales : sequence of float, optional
        Coarse-graining bin widths (length units): adds
        ``coarse_grained_entropy(time, scale)``.
    bin_width : float, optional
        Bin width of the ``binned`` estimator (default: Scott's rule per frame).
    backend : {"auto", "grid", "kdtree"}
        Neighbour search.
    mi_estimator : {"ksg", "diffusion"}
        Estimator of ``mutual_information``: KSG (fast), or ``diffusion``, a conditional
        denoiser trained per frame (:func:`analysis.diffusion_mi.diffusion_mutual_information`;
        far less biased in 3+ dimensions for heavy-tailed or curved laws, but about a
        minute per frame at 10 000 pairs). Frames identical to X_0 use KSG (its
        saturated value) with either.
    progress : bool
        Show a progress bar over frames.
    history : str, optional
        Text of the new history line (default: ``"entropy_trajectory"``).
    compute : {"auto", "serial", "dask"}
        ``serial`` reads and analyses one frame after another in this process; ``dask``
        makes every (realization, frame) one dask task that reads its own frame (only the
        subsampled particles) from the store, so a dask-backed trajectory (e.g. a sweep's
        Zarr store opened with :func:`dustsim.open_trajectory`) is analysed chunk by chunk
        across a ``dask.distributed`` cluster; ``auto`` uses dask when the positions are a
        dask array and a distributed Client is active. Both give identical numbers.
    checkpoint : path, optional
        A directory where the result of every (realization, frame) is saved as soon as
        it is done. If it already holds results of the same analysis (same data and
        options), those frames are not recomputed: an interrupted run resumes. A
        checkpoint of another analysis raises ``ConfigError``. With ``compute="dask"``
        the workers write to it, so on a cluster it must be on shared storage. It is
        left in place; delete it once the result is saved (``dustsim entropy`` does).

    Returns
    -------
    xr.Dataset
        Over ``time`` (same order as the input; ``step``, ``alpha``, ``sigma`` copied):
        ``entropy(time, estimator)``, ``entropy_se``, ``n_ties``, ``degenerate`` and,
        as requested and available, ``kl_to_equilibrium``, ``mutual_information``,
        ``mutual_information_linear``, ``exact_entropy``, ``coarse_grained_entropy``
        (each with ``_se``). Units and meaning are in the attrs; the source's provenance
        attributes are copied and a history line is added.

    Raises
    ------
    ConfigError
        Not a trajectory, unknown estimator, bad k or units.
    """
    check_units(units)
    for name, value in (("max_particles", max_particles), ("mi_max_particles", mi_max_particles),
                        ("exact_samples", exact_samples)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 2):
            raise ConfigError(f"{name} must be an integer >= 2 (or None for all), got {value!r}")
    if "position" not in ds.data_vars:
        raise ConfigError("not a trajectory: the dataset has no 'position' variable")
    unknown = [e for e in estimators if e not in ESTIMATORS]
    if unknown or not estimators:
        bad = unknown[0] if unknown else "(none)"
        raise ConfigError(f"unknown estimator {bad!r}; choose from {', '.join(ESTIMATORS)}")
    if mi_estimator not in MI_ESTIMATORS:
        raise ConfigError(f"unknown mutual-information estimator {mi_estimator!r}; "
                          f"choose from {', '.join(MI_ESTIMATORS)}")
    if compute not in ("auto", "serial", "dask"):
        raise ConfigError(f"compute must be 'auto', 'serial' or 'dask', got {compute!r}")
    options = {"estimators": tuple(estimators), "k": k, "max_particles": max_particles, "units": units, "kl": kl,
               "mutual_information": mutual_information, "mi_max_particles": mi_max_particles, "exact": exact,
               "exact_samples": exact_samples, "scales": scales, "bin_width": bin_width, "backend": backend}
    if mi_estimator != "ksg":  # only when set, so checkpoints of earlier KSG runs stay valid
        options["mi_estimator"] = mi_estimator
    if "realization" in ds["position"].dims:
        parts = [ds.isel(realization=r) for r in range(ds.sizes["realization"])]
        seeds = [seed + r for r in range(len(parts))]
    else:
        parts, seeds = [ds], [seed]
    plans = [_plan_realization(part, seed=s_, **options) for part, s_ in zip(parts, seeds, strict=True)]
    saved = None
    if checkpoint is not None:
        key = {"analysis": "entropy_trajectory", "options": options, "seed": seed,
               "trajectory": trajectory_identity(ds)}
        saved = FrameCheckpoint(checkpoint, key)
    values = _compute_frames(plans, _use_dask(ds, compute), progress, saved)
    results = [_assemble(plan, v, history) for plan, v in zip(plans, values, strict=True)]
    if "realization" not in ds["position"].dims:
        return results[0]
    out = xr.concat(results, dim="realization", combine_attrs="override")
    if "realization" in ds.coords:
        out = out.assign_coords(realization=ds["realization"].values)
    # what tells the realizations apart (a sweep's member, replica, seed and swept values)
    # travels with the result, so that it can be grouped: ``out.groupby("member")``
    for name, coord in ds.coords.items():
        if coord.dims == ("realization",) and name != "realization":
            values = np.asarray(coord.values)
            if values.dtype.kind in "TO":  # variable-width strings: netCDF wants fixed-width ones
                values = np.array([str(v) for v in values.tolist()])
            out = out.assign_coords({name: ("realization", values, coord.attrs)})
    if "swept" in ds.attrs:
        out.attrs["swept"] = ds.attrs["swept"]
    return out


def _use_dask(ds: xr.Dataset, compute: str) -> bool:
    if compute != "auto":
        return compute == "dask"
    if not hasattr(ds["position"].data, "dask"):
        return False
    try:
        from dask.distributed import default_client

        default_client()
    except (ImportError, ValueError):
        return False
    return True


def _compute_frames(
    plans: list[_RealizationPlan], use_dask: bool, progress: bool, saved: FrameCheckpoint | None = None
) -> list[NDArray[np.float64]]:
    """Per-frame values of every realization: ``(n_frames, n_values)`` arrays.

    Frames already in the checkpoint ``saved`` are loaded, the others computed (and saved).
    """
    done = {(r, i): saved.load(r, i) for r, plan in enumerate(plans) for i in range(plan.n_frames)} if saved else {}
    missing = [(r, i) for r, plan in enumerate(plans) for i in range(plan.n_frames) if done.get((r, i)) is None]
    if use_dask and missing:
        import dask

        contexts = {r: dask.delayed(plans[r].context, pure=True) for r in {r for r, _ in missing}}
        tasks = []
        for r, i in missing:
            plan = plans[r]
            frame = plan.position.isel(time=i)
            if plan.idx is not None:
                frame = frame.isel(particle=plan.idx)
            data = frame.data if hasattr(frame.data, "dask") else np.asarray(frame.values)
            tasks.append(dask.delayed(_frame_values_saved)(contexts[r], data, i, saved, r))
        done.update(zip(missing, dask.compute(*tasks), strict=True))
    elif missing:
        todo: Any = missing
        if progress:
            from tqdm.auto import tqdm

            todo = tqdm(missing, desc="entropy", unit="frame", leave=False)
        for r, i in todo:
            plan = plans[r]
            done[(r, i)] = _frame_values_saved(plan.context, read_frame(plan.position, i, plan.idx), i, saved, r)
    return [np.stack([done[(r, i)] for i in range(plan.n_frames)]) for r, plan in enumerate(plans)]


def _frame_values_saved(ctx: _FrameContext, raw: Any, i: int, saved: FrameCheckpoint | None,
                        realization: int) -> NDArray[np.float64]:
    """:func:`_frame_values`, saved to the checkpoint when there is one."""
    values = _frame_values(ctx, raw, i)
    if saved is not None:
        saved.save(realization, i, values)
    return values


@dataclass(frozen=True)
class _FrameContext:
    """Everything the analysis of one frame needs (picklable: it travels to dask workers)."""

    estimators: tuple[str, ...]
    k: int
    dtype: np.dtype
    seed: int
    bin_width: Any
    backend: Backend
    stationary: tuple[float, float] | None
    uniform_log_volume: float | None
    period: NDArray[np.float64] | None
    x_ref: NDArray[np.float64] | None
    mi_pos: NDArray[np.int64] | None
    mixture: GaussianMixture | None
    process: LinearProcess | None
    times: NDArray[np.float64]
    draws: Any
    scales: tuple[float, ...]
    mi_estimator: str = "ksg"

    @property
    def layout(self) -> dict[str, slice]:
        """Where each quantity sits in the flat per-frame vector."""
        n_est, n_sc = len(self.estimators), len(self.scales)
        sizes = {"entropy": n_est, "entropy_se": n_est, "n_ties": n_est, "degenerate": n_est, "kl": 1,
                 "kl_se": 1, "mi": 1, "mi_se": 1, "exact": 1, "exact_se": 1, "cg": n_sc, "cg_se": n_sc}
        out, start = {}, 0
        for name, size in sizes.items():
            out[name] = slice(start, start + size)
            start += size
        return out

    @property
    def size(self) -> int:
        return max(s.stop for s in self.layout.values())


@dataclass
class _RealizationPlan:
    """A realization's trajectory, subsample and frame context, before any frame is read."""

    ds: xr.Dataset
    position: xr.DataArray
    idx: NDArray[np.int64] | None
    context: _FrameContext
    units: str
    n_used: int

    @property
    def n_frames(self) -> int:
        return int(self.position.sizes["time"])


def _plan_realization(
    ds: xr.Dataset,
    *,
    estimators: tuple[str, ...],
    k: int,
    max_particles: int | None,
    seed: int,
    units: str,
    kl: bool,
    mutual_information: bool,
    mi_max_particles: int | None,
    exact: bool | None,
    exact_samples: int,
    scales: Sequence[float] | None,
    bin_width: float | None,
    backend: Backend,
    mi_estimator: str = "ksg",
) -> _RealizationPlan:
    position = ds["position"]
    n_frames, n_particles, d = (position.sizes[s] for s in ("time", "particle", "spatial"))
    if n_frames == 0:
        raise ConfigError("the trajectory has no frames")
    k = check_k(k, min(n_particles, max_particles or n_particles))
    times = np.asarray(ds["time"].values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = subsample(n_particles, max_particles, rng)
    n_used = n_particles if idx is None else len(idx)
    process = trajectory_process(ds)
    stationary = process.stationary() if (kl and process is not None) else None
    uniform_log_volume = uniform_box_log_volume(ds) if (kl and stationary is None) else None
    period = periodic_box(ds)

    mixture = GaussianMixture.from_trajectory(ds) if exact is not False else None
    if exact and (mixture is None or process is None):
        raise ConfigError("exact entropy needs a Gaussian-mixture artifact and a linear process in the trajectory")
    do_exact = mixture is not None and process is not None and mixture.dim == d
    draws = mixture.base_draws(exact_samples, seed) if do_exact else None  # type: ignore[union-attr]

    # KSG pairs: a subset of the analysed particles, X_0 = the frame at the smallest time
    mi_pos, x_ref = None, None
    if mutual_information and n_frames > 1:
        m = n_used if mi_max_particles is None else min(n_used, mi_max_particles)
        mi_pos = np.sort(rng.choice(n_used, size=m, replace=False))
        ref = int(np.argmin(times))
        x_ref = read_frame(position, ref, idx)[mi_pos].astype(np.float64)

    scale_list = tuple(float(s) for s in (scales or ()))
    if any(not (s > 0 and math.isfinite(s)) for s in scale_list):
        raise ConfigError(f"coarse-graining scales must be positive, got {list(scale_list)}")
    context = _FrameContext(
        estimators=estimators, k=k, dtype=position.dtype, seed=seed, bin_width=bin_width, backend=backend,
        stationary=stationary, uniform_log_volume=uniform_log_volume, period=period, x_ref=x_ref, mi_pos=mi_pos,
        mixture=mixture if do_exact else None, process=process, times=times, draws=draws, scales=scale_list,
        mi_estimator=mi_estimator,
    )
    return _RealizationPlan(ds, position, idx, context, units, n_used)


def _frame_values(ctx: _FrameContext, raw: Any, i: int) -> NDArray[np.float64]:
    """Entropy, KL, MI, exact and coarse-grained entropy of frame ``i``: one flat vector (nats)."""
    lay = ctx.layout
    out = np.full(ctx.size, np.nan)
    out[lay["n_ties"]] = 0.0
    out[lay["degenerate"]] = 0.0
    pts, _ = as_points(np.asarray(raw), "frame")
    knn_terms_i, knn_const = None, 0.0
    ent, se_, ties, degen = (out[lay[n]] for n in ("entropy", "entropy_se", "n_ties", "degenerate"))
    for j, name in enumerate(ctx.estimators):
        v, se, nt, dg, terms, const = _frame_entropy(name, pts, ctx.dtype, k=ctx.k, bin_width=ctx.bin_width,
                                                    seed=ctx.seed + i, backend=ctx.backend, period=ctx.period)
        ent[j], se_[j], ties[j], degen[j] = v, se, nt, dg
        if name == "knn":
            knn_terms_i, knn_const = terms, const
    if ctx.stationary is not None or ctx.uniform_log_volume is not None:
        if knn_terms_i is None and "knn" in ctx.estimators:  # the frame has no density
            out[lay["kl"]] = math.inf
        else:
            out[lay["kl"]], out[lay["kl_se"]] = _kl_to_stationary(pts, ctx, knn_terms_i, knn_const, ctx.seed + i)
    if ctx.mi_pos is not None:
        y = pts[ctx.mi_pos]
        if ctx.mi_estimator == "diffusion" and not np.array_equal(ctx.x_ref, y):
            from .diffusion_mi import diffusion_mutual_information

            est = diffusion_mutual_information(ctx.x_ref, y, seed=ctx.seed + i)
        else:
            est = ksg_mutual_information(ctx.x_ref, y, ctx.k, seed=ctx.seed + i, backend=ctx.backend,
                                         bias="none", marginals="standardize")
        out[lay["mi"]], out[lay["mi_se"]] = est.value, est.se
    if ctx.mixture is not None and ctx.process is not None:
        est = mixture_entropy(ctx.mixture.transported(ctx.process, float(ctx.times[i])), draws=ctx.draws)
        out[lay["exact"]], out[lay["exact_se"]] = est.value, est.se
    cg, cg_se = out[lay["cg"]], out[lay["cg_se"]]
    for j, s in enumerate(ctx.scales):
        est = binned_entropy(pts, s, discrete=True)
        cg[j], cg_se[j] = est.value, est.se
    return out


def _assemble(plan: _RealizationPlan, values: NDArray[np.float64], history: str | None) -> xr.Dataset:
    """The entropy-trajectory Dataset of one realization from its per-frame values."""
    ds, ctx, position, units = plan.ds, plan.context, plan.position, plan.units
    lay = ctx.layout
    estimators, k, times, process = ctx.estimators, ctx.k, ctx.times, ctx.process
    d = position.sizes["spatial"]
    direction = str(ds.attrs.get("direction", "forward"))
    ent, ent_se = values[:, lay["entropy"]], values[:, lay["entropy_se"]]
    ties, degen = values[:, lay["n_ties"]].astype(np.int64), values[:, lay["degenerate"]].astype(bool)
    kl_v, kl_se = values[:, lay["kl"]][:, 0], values[:, lay["kl_se"]][:, 0]
    mi_v, mi_se = values[:, lay["mi"]][:, 0], values[:, lay["mi_se"]][:, 0]
    ex_v, ex_se = values[:, lay["exact"]][:, 0], values[:, lay["exact_se"]][:, 0]
    cg_v, cg_se = values[:, lay["cg"]], values[:, lay["cg_se"]]
    stationary, mi_pos, do_exact, scale_list = ctx.stationary, ctx.mi_pos, ctx.mixture is not None, list(ctx.scales)
    n_particles, n_used = position.sizes["particle"], plan.n_used
    exact_samples = 0 if ctx.draws is None else len(ctx.draws[0])
    seed = ctx.seed

    f = nats_to(units)
    unit_name = units
    length_unit = str(position.attrs.get("units", "1"))
    # plain (loaded) copies: the source's coords may be dask arrays carrying ensemble coords
    coords: dict[str, Any] = {"time": ("time", np.asarray(ds["time"].values), ds["time"].attrs),
                              "estimator": ("estimator", list(estimators))}
    for c in ("step", "alpha", "sigma"):
        if c in ds.coords:
            coords[c] = ("time", np.asarray(ds[c].values), ds[c].attrs)
    h_attrs = {
        "units": unit_name,
        "long_name": "differential entropy of the particle positions",
        "length_unit": length_unit,
        "note": (f"positions in length unit {length_unit!r}; rescaling lengths by a factor a adds d*log(a) nats "
                 f"(d = {d}). -inf where the frame has no density (degenerate)."),
    }
    out = xr.Dataset(coords=coords)
    out["entropy"] = (("time", "estimator"), ent * f, h_attrs)
    out["entropy_se"] = (("time", "estimator"), ent_se * f,
                         {"units": unit_name, "long_name": "standard error of entropy"})
    out["n_ties"] = (("time", "estimator"), ties,
                     {"long_name": "points with zero neighbour distance (ties broken by dequantization)"})
    out["degenerate"] = (("time", "estimator"), degen,
                         {"long_name": "frame has no density (point source or lower-dimensional): entropy -inf"})
    if stationary is not None or ctx.uniform_log_volume is not None:
        if stationary is not None:
            c, s = stationary
            law, invariant = f"N({c:g}, {s:g}^2 I)", process is not None and process.name in INVARIANT_LAW
        else:  # the box's uniform law is invariant at every time, whatever the D schedule
            law, invariant = "uniform on the box", True
        out["kl_to_equilibrium"] = ("time", kl_v * f, {
            "units": unit_name,
            "long_name": f"relative entropy D(p_t || {law}) to the stationary law (kNN entropy)",
            "stationary_law": law,
            "invariant_law": int(invariant),
        })
        out["kl_to_equilibrium_se"] = ("time", kl_se * f, {"units": unit_name})
    if mi_pos is not None:
        out["mutual_information"] = ("time", mi_v * f, {
            "units": unit_name,
            "long_name": f"I(X_0; X_t), {'KSG' if ctx.mi_estimator == 'ksg' else 'diffusion (MINDE)'} estimate, "
                         "X_0 = frame at the smallest time",
            "estimator": ctx.mi_estimator,
            "k": k,
            "n_pairs": len(mi_pos),
            "note": "saturates near psi(n) - psi(k) where X_t = X_0",
        })
        out["mutual_information_se"] = ("time", mi_se * f, {"units": unit_name})
        if process is not None and direction == "forward" and "knn" in estimators and float(times.min()) == 0.0:
            sig = np.asarray(process.sigma(times), dtype=np.float64)
            with np.errstate(divide="ignore"):
                h_cond = 0.5 * d * np.log(2.0 * math.pi * math.e * sig**2)
            lin = ent[:, list(estimators).index("knn")] - h_cond
            lin = np.where(sig == 0, math.inf, lin)
            out["mutual_information_linear"] = ("time", lin * f, {
                "units": unit_name,
                "long_name": "I(X_0; X_t) = H(X_t) - (d/2) log(2 pi e sigma(t)^2) (linear process, kNN H)",
            })
            out["mutual_information_linear_se"] = ("time", ent_se[:, list(estimators).index("knn")] * f,
                                                   {"units": unit_name})
    if do_exact:
        out["exact_entropy"] = ("time", ex_v * f, {
            "units": unit_name,
            "long_name": "entropy of the exact marginal p_t of the Gaussian-mixture artifact (Monte Carlo)",
            "n_samples": exact_samples,
        })
        out["exact_entropy_se"] = ("time", ex_se * f, {"units": unit_name})
    if scale_list:
        out = out.assign_coords(scale=("scale", scale_list, {"units": length_unit, "long_name": "bin width"}))
        out["coarse_grained_entropy"] = (("time", "scale"), cg_v * f, {
            "units": unit_name,
            "long_name": "Shannon entropy of the positions coarse-grained into cubes of side scale (Miller-Madow)",
            "note": "adding d*log(scale) approximates the differential entropy",
        })
        out["coarse_grained_entropy_se"] = (("time", "scale"), cg_se * f, {"units": unit_name})

    out.attrs = {a: ds.attrs[a] for a in PROVENANCE if a in ds.attrs}
    out.attrs.update({
        "title": "dustsim entropy trajectory",
        "history": (str(ds.attrs.get("history", "")).rstrip("\n") + "\n"
                    + history_line(history or "entropy_trajectory")).lstrip("\n"),
        "units": unit_name,
        "length_unit": length_unit,
        "dim": d,
        "k": k,
        "n_particles": n_particles,
        "n_particles_used": n_used,
        "analysis_seed": seed,
    })
    return out


def _kl_to_stationary(
    pts: NDArray[np.float64], ctx: _FrameContext, terms: NDArray[np.float64] | None, const: float, seed: int
) -> tuple[float, float]:
    """D(p || q) = -H + E[-log q] for the stationary law q of the context, from per-point
    kNN terms (nats): N(c, s^2 I), or uniform on a box of volume V (log q = -log V)."""
    if terms is None:
        terms, const, _, _ = knn_terms(pts, ctx.dtype, ctx.k, "euclidean", "auto", seed, ctx.backend, ctx.period)
        if terms is None:  # no density (point source, subspace, unbreakable ties): infinitely far
            return math.inf, math.nan
    if ctx.stationary is not None:
        logq = gaussian_logpdf(ctx.stationary[0], ctx.stationary[1])(pts)
    else:
        logq = np.full(len(pts), -float(ctx.uniform_log_volume))  # type: ignore[arg-type]
    combined = -(terms + logq)
    return -const + float(np.mean(combined)), float(np.std(combined, ddof=1)) / math.sqrt(len(combined))


def periodic_box(ds: xr.Dataset) -> NDArray[np.float64] | None:
    """Box lengths when a trajectory lives in a box periodic on every axis, else None.

    The kNN estimators then measure distances on the torus (minimum image), which removes
    the bias of straight distances near the faces (measured by
    ``scripts/bench/estimators.py``).
    """
    box = closed_box(ds)
    return box[0] if box is not None and all(k == "periodic" for k in box[1]) else None


def uniform_box_log_volume(ds: xr.Dataset) -> float | None:
    """Log volume of the box when a trajectory's stationary law is uniform in it, else None.

    That is free Brownian dust (no external potential) in a box bounded on every axis:
    periodic, or reflecting when there are no pair interactions. (With interactions in a
    periodic box the one-particle law is still uniform, by translation invariance.)
    Neither a diffusion schedule nor per-label D changes the uniform law.
    """
    box = closed_box(ds)
    if box is None:
        return None
    lengths, _ = box
    if RunInfo.from_dataset(ds).stationary_law != "uniform":
        return None
    return float(np.sum(np.log(lengths)))


def process_of(entropy_or_trajectory: xr.Dataset) -> LinearProcess | None:
    """The linear process recorded in a trajectory or an entropy dataset (copied config)."""
    return trajectory_process(entropy_or_trajectory)


__all__ = ["ESTIMATORS", "entropy_trajectory", "process_of"]
