"""Entropy trajectories: entropy, relative entropy and information of every frame of a trajectory.

:func:`entropy_trajectory` turns a trajectory dataset (the schema of ``docs/schema.md``;
forward, reverse or restoration; in memory, netCDF or dask-backed Zarr) into an
``xr.Dataset`` over ``time``. Frames are read one at a time, each only at the particles of
a fixed random subsample, so a trajectory larger than memory is never loaded whole.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields
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
from .entropy import Norm, binned_entropy, gaussian_entropy, kde_entropy, knn_terms
from .entropy_options import ESTIMATORS, EntropyOptions
from .gmm import GaussianMixture, mixture_entropy
from .information import ksg_mutual_information
from .neighbors import Backend
from .result import nats_to

#: global attributes copied from the source trajectory (provenance)
PROVENANCE = (
    "source",
    "dustsim_version",
    "schema_version",
    "process",
    "direction",
    "seed",
    "config",
    "stepper",
    "artifact",
)
#: processes whose stationary law is invariant at every time (so KL to it cannot grow)
INVARIANT_LAW = ("ou", "vp", "vp-cosine")


def subsample_particles(n: int, m: int | None, rng: np.random.Generator) -> NDArray[np.int64] | None:
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
        norm: Norm = "euclidean" if name == "knn" else "max"
        terms, const, n_ties, _ = knn_terms(pts, dtype, k, norm, "auto", seed, backend, period)
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
        Zarr store opened with :func:`dustsim.io.open_trajectory`) is analysed chunk by chunk
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
    options = EntropyOptions.from_keywords(
        estimators=estimators,
        k=k,
        max_particles=max_particles,
        seed=seed,
        units=units,
        kl=kl,
        mutual_information=mutual_information,
        mi_max_particles=mi_max_particles,
        exact=exact,
        exact_samples=exact_samples,
        scales=scales,
        bin_width=bin_width,
        backend=backend,
        mi_estimator=mi_estimator,
    )
    if "position" not in ds.data_vars:
        raise ConfigError("not a trajectory: the dataset has no 'position' variable")
    if compute not in ("auto", "serial", "dask"):
        raise ConfigError(f"compute must be 'auto', 'serial' or 'dask', got {compute!r}")
    if "realization" in ds["position"].dims:
        parts = [ds.isel(realization=r) for r in range(ds.sizes["realization"])]
        seeds = [seed + r for r in range(len(parts))]
    else:
        parts, seeds = [ds], [seed]
    plans = [_plan_realization(part, options, s_) for part, s_ in zip(parts, seeds, strict=True)]
    saved = None
    if checkpoint is not None:
        key = {"analysis": "entropy_trajectory", "options": options.key(), "trajectory": trajectory_identity(ds)}
        saved = FrameCheckpoint(checkpoint, key)
    frames = _compute_frames(plans, _use_dask(ds, compute), progress, saved)
    results = [_assemble(plan, f, history) for plan, f in zip(plans, frames, strict=True)]
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
) -> list[list[FrameResult]]:
    """The per-frame results of every realization, in frame order.

    Frames already in the checkpoint ``saved`` are loaded, the others computed (and saved).
    """
    done: dict[tuple[int, int], FrameResult | None] = {}
    if saved is not None:
        done = {
            (r, i): _load_frame(saved, r, i, plan.context) for r, plan in enumerate(plans) for i in range(plan.n_frames)
        }
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
        todo: Iterable[tuple[int, int]] = missing
        if progress:
            from tqdm.auto import tqdm

            todo = tqdm(missing, desc="entropy", unit="frame", leave=False)
        for r, i in todo:
            plan = plans[r]
            done[(r, i)] = _frame_values_saved(plan.context, read_frame(plan.position, i, plan.idx), i, saved, r)
    out: list[list[FrameResult]] = []
    for r, plan in enumerate(plans):
        frames = []
        for i in range(plan.n_frames):
            result = done[(r, i)]
            if result is None:  # pragma: no cover - every missing frame was computed above
                raise RuntimeError(f"frame {i} of realization {r} was neither loaded nor computed")
            frames.append(result)
        out.append(frames)
    return out


def _load_frame(saved: FrameCheckpoint, realization: int, i: int, ctx: _FrameContext) -> FrameResult | None:
    """A frame's result from the checkpoint (None if not there); ConfigError if it does not fit."""
    record = saved.load(realization, i)
    if record is None:
        return None
    result = FrameResult.from_record(record)
    if result is None or result.entropy.shape != (len(ctx.estimators),) or result.cg.shape != (len(ctx.scales),):
        raise ConfigError(
            f"the checkpoint {saved.path} holds a frame result this analysis cannot read "
            f"({saved.file(realization, i).name}); delete the checkpoint or start without resuming"
        )
    return result


def _frame_values_saved(
    ctx: _FrameContext, raw: Any, i: int, saved: FrameCheckpoint | None, realization: int
) -> FrameResult:
    """:func:`_frame_values`, saved to the checkpoint when there is one."""
    result = _frame_values(ctx, raw, i)
    if saved is not None:
        saved.save(realization, i, result.to_record())
    return result


@dataclass(frozen=True)
class FrameResult:
    """Everything :func:`entropy_trajectory` measures on one frame (nats; nan where not asked for).

    Attributes
    ----------
    entropy, entropy_se : ndarray, shape (n_estimators,)
        Entropy by each estimator and its standard error.
    n_ties : ndarray of int64, shape (n_estimators,)
        Points with zero neighbour distance.
    degenerate : ndarray of bool, shape (n_estimators,)
        The frame has no density (entropy ``-inf``).
    kl, kl_se : float
        Relative entropy to the stationary law.
    mi, mi_se : float
        Mutual information I(X_0; X_t).
    exact, exact_se : float
        Entropy of the exact marginal (Monte Carlo).
    cg, cg_se : ndarray, shape (n_scales,)
        Coarse-grained entropy at each scale.
    """

    entropy: NDArray[np.float64]
    entropy_se: NDArray[np.float64]
    n_ties: NDArray[np.int64]
    degenerate: NDArray[np.bool_]
    kl: float = math.nan
    kl_se: float = math.nan
    mi: float = math.nan
    mi_se: float = math.nan
    exact: float = math.nan
    exact_se: float = math.nan
    cg: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))
    cg_se: NDArray[np.float64] = field(default_factory=lambda: np.zeros(0))

    def to_record(self) -> NDArray[np.void]:
        """The result as one numpy record (a structured scalar array: named, typed fields)."""
        values = {f.name: np.asarray(getattr(self, f.name)) for f in fields(self)}
        dtype = np.dtype([(name, v.dtype, v.shape) for name, v in values.items()])
        record = np.zeros((), dtype=dtype)
        for name, v in values.items():
            record[name] = v
        return record

    @classmethod
    def from_record(cls, record: NDArray[Any]) -> FrameResult | None:
        """The result saved by :meth:`to_record`; None if ``record`` is not one (e.g. an old flat vector)."""
        names = record.dtype.names
        if record.shape != () or names is None or set(names) != {f.name for f in fields(cls)}:
            return None
        return cls(
            entropy=np.array(record["entropy"], dtype=np.float64),
            entropy_se=np.array(record["entropy_se"], dtype=np.float64),
            n_ties=np.array(record["n_ties"], dtype=np.int64),
            degenerate=np.array(record["degenerate"], dtype=np.bool_),
            kl=float(record["kl"]),
            kl_se=float(record["kl_se"]),
            mi=float(record["mi"]),
            mi_se=float(record["mi_se"]),
            exact=float(record["exact"]),
            exact_se=float(record["exact_se"]),
            cg=np.array(record["cg"], dtype=np.float64),
            cg_se=np.array(record["cg_se"], dtype=np.float64),
        )


def _stack(frames: Sequence[FrameResult], name: str) -> NDArray[Any]:
    """Field ``name`` of every frame, stacked along a leading time axis."""
    return np.stack([np.asarray(getattr(f, name)) for f in frames])


@dataclass(frozen=True)
class _FrameContext:
    """Everything the analysis of one frame needs (picklable: it travels to dask workers)."""

    estimators: tuple[str, ...]
    k: int
    dtype: np.dtype
    seed: int
    bin_width: float | None
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


def _plan_realization(ds: xr.Dataset, options: EntropyOptions, seed: int) -> _RealizationPlan:
    """The plan of one realization, analysed with ``options`` and the realization's ``seed``."""
    position = ds["position"]
    n_frames, n_particles, d = (position.sizes[s] for s in ("time", "particle", "spatial"))
    if n_frames == 0:
        raise ConfigError("the trajectory has no frames")
    max_particles = options.max_particles
    k = check_k(options.k, min(n_particles, max_particles or n_particles))
    times = np.asarray(ds["time"].values, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = subsample_particles(n_particles, max_particles, rng)
    n_used = n_particles if idx is None else len(idx)
    process = trajectory_process(ds)
    stationary = process.stationary() if (options.kl and process is not None) else None
    uniform_log_volume = uniform_box_log_volume(ds) if (options.kl and stationary is None) else None
    period = periodic_box(ds)

    mixture = GaussianMixture.from_trajectory(ds) if options.exact is not False else None
    if options.exact and (mixture is None or process is None):
        raise ConfigError("exact entropy needs a Gaussian-mixture artifact and a linear process in the trajectory")
    exact_mixture = mixture if (mixture is not None and process is not None and mixture.dim == d) else None
    draws = exact_mixture.base_draws(options.exact_samples, seed) if exact_mixture is not None else None

    # KSG pairs: a subset of the analysed particles, X_0 = the frame at the smallest time
    mi_pos, x_ref = None, None
    if options.mutual_information and n_frames > 1:
        mi_max = options.mi_max_particles
        m = n_used if mi_max is None else min(n_used, mi_max)
        mi_pos = np.sort(rng.choice(n_used, size=m, replace=False))
        ref = int(np.argmin(times))
        x_ref = read_frame(position, ref, idx)[mi_pos].astype(np.float64)

    context = _FrameContext(
        estimators=options.estimators,
        k=k,
        dtype=position.dtype,
        seed=seed,
        bin_width=options.bin_width,
        backend=options.backend,
        stationary=stationary,
        uniform_log_volume=uniform_log_volume,
        period=period,
        x_ref=x_ref,
        mi_pos=mi_pos,
        mixture=exact_mixture,
        process=process,
        times=times,
        draws=draws,
        scales=options.scales,
        mi_estimator=options.mi_estimator,
    )
    return _RealizationPlan(ds, position, idx, context, options.units, n_used)


def _frame_values(ctx: _FrameContext, raw: Any, i: int) -> FrameResult:
    """Entropy, KL, MI, exact and coarse-grained entropy of frame ``i`` (nats)."""
    n_est = len(ctx.estimators)
    ent, ent_se = np.full(n_est, np.nan), np.full(n_est, np.nan)
    ties, degen = np.zeros(n_est, dtype=np.int64), np.zeros(n_est, dtype=np.bool_)
    pts, _ = as_points(np.asarray(raw), "frame")
    knn_terms_i, knn_const = None, 0.0
    for j, name in enumerate(ctx.estimators):
        v, se, nt, dg, terms, const = _frame_entropy(
            name,
            pts,
            ctx.dtype,
            k=ctx.k,
            bin_width=ctx.bin_width,
            seed=ctx.seed + i,
            backend=ctx.backend,
            period=ctx.period,
        )
        ent[j], ent_se[j], ties[j], degen[j] = v, se, nt, dg
        if name == "knn":
            knn_terms_i, knn_const = terms, const
    kl = kl_se = mi = mi_se = exact = exact_se = math.nan
    if ctx.stationary is not None or ctx.uniform_log_volume is not None:
        if knn_terms_i is None and "knn" in ctx.estimators:  # the frame has no density
            kl = math.inf
        else:
            kl, kl_se = _kl_to_stationary(pts, ctx, knn_terms_i, knn_const, ctx.seed + i)
    if ctx.mi_pos is not None and ctx.x_ref is not None:
        y = pts[ctx.mi_pos]
        if ctx.mi_estimator == "diffusion" and not np.array_equal(ctx.x_ref, y):
            from .diffusion_mi import diffusion_mutual_information

            est = diffusion_mutual_information(ctx.x_ref, y, seed=ctx.seed + i)
        else:
            est = ksg_mutual_information(
                ctx.x_ref, y, ctx.k, seed=ctx.seed + i, backend=ctx.backend, bias="none", marginals="standardize"
            )
        mi, mi_se = est.value, est.se
    if ctx.mixture is not None and ctx.process is not None:
        est = mixture_entropy(ctx.mixture.transported(ctx.process, float(ctx.times[i])), draws=ctx.draws)
        exact, exact_se = est.value, est.se
    cg, cg_se = np.full(len(ctx.scales), np.nan), np.full(len(ctx.scales), np.nan)
    for j, s in enumerate(ctx.scales):
        est = binned_entropy(pts, s, discrete=True)
        cg[j], cg_se[j] = est.value, est.se
    return FrameResult(
        entropy=ent,
        entropy_se=ent_se,
        n_ties=ties,
        degenerate=degen,
        kl=kl,
        kl_se=kl_se,
        mi=mi,
        mi_se=mi_se,
        exact=exact,
        exact_se=exact_se,
        cg=cg,
        cg_se=cg_se,
    )


def _assemble(plan: _RealizationPlan, frames: Sequence[FrameResult], history: str | None) -> xr.Dataset:
    """The entropy-trajectory Dataset of one realization from its per-frame results."""
    ds, ctx, position, units = plan.ds, plan.context, plan.position, plan.units
    estimators, k, times, process = ctx.estimators, ctx.k, ctx.times, ctx.process
    d = position.sizes["spatial"]
    direction = str(ds.attrs.get("direction", "forward"))
    ent, ent_se = _stack(frames, "entropy"), _stack(frames, "entropy_se")
    ties, degen = _stack(frames, "n_ties"), _stack(frames, "degenerate")
    kl_v, kl_se = _stack(frames, "kl"), _stack(frames, "kl_se")
    mi_v, mi_se = _stack(frames, "mi"), _stack(frames, "mi_se")
    ex_v, ex_se = _stack(frames, "exact"), _stack(frames, "exact_se")
    cg_v, cg_se = _stack(frames, "cg"), _stack(frames, "cg_se")
    stationary, mi_pos, do_exact, scale_list = ctx.stationary, ctx.mi_pos, ctx.mixture is not None, list(ctx.scales)
    n_particles, n_used = position.sizes["particle"], plan.n_used
    exact_samples = 0 if ctx.draws is None else len(ctx.draws[0])
    seed = ctx.seed

    f = nats_to(units)
    unit_name = units
    length_unit = str(position.attrs.get("units", "1"))
    # plain (loaded) copies: the source's coords may be dask arrays carrying ensemble coords
    coords: dict[str, Any] = {
        "time": ("time", np.asarray(ds["time"].values), ds["time"].attrs),
        "estimator": ("estimator", list(estimators)),
    }
    for c in ("step", "alpha", "sigma"):
        if c in ds.coords:
            coords[c] = ("time", np.asarray(ds[c].values), ds[c].attrs)
    h_attrs = {
        "units": unit_name,
        "long_name": "differential entropy of the particle positions",
        "length_unit": length_unit,
        "note": (
            f"positions in length unit {length_unit!r}; rescaling lengths by a factor a adds d*log(a) nats "
            f"(d = {d}). -inf where the frame has no density (degenerate)."
        ),
    }
    out = xr.Dataset(coords=coords)
    out["entropy"] = (("time", "estimator"), ent * f, h_attrs)
    out["entropy_se"] = (
        ("time", "estimator"),
        ent_se * f,
        {"units": unit_name, "long_name": "standard error of entropy"},
    )
    out["n_ties"] = (
        ("time", "estimator"),
        ties,
        {"long_name": "points with zero neighbour distance (ties broken by dequantization)"},
    )
    out["degenerate"] = (
        ("time", "estimator"),
        degen,
        {"long_name": "frame has no density (point source or lower-dimensional): entropy -inf"},
    )
    if stationary is not None or ctx.uniform_log_volume is not None:
        if stationary is not None:
            centre, spread = stationary
            law, invariant = f"N({centre:g}, {spread:g}^2 I)", process is not None and process.name in INVARIANT_LAW
        else:  # the box's uniform law is invariant at every time, whatever the D schedule
            law, invariant = "uniform on the box", True
        out["kl_to_equilibrium"] = (
            "time",
            kl_v * f,
            {
                "units": unit_name,
                "long_name": f"relative entropy D(p_t || {law}) to the stationary law (kNN entropy)",
                "stationary_law": law,
                "invariant_law": int(invariant),
            },
        )
        out["kl_to_equilibrium_se"] = ("time", kl_se * f, {"units": unit_name})
    if mi_pos is not None:
        out["mutual_information"] = (
            "time",
            mi_v * f,
            {
                "units": unit_name,
                "long_name": f"I(X_0; X_t), {'KSG' if ctx.mi_estimator == 'ksg' else 'diffusion (MINDE)'} estimate, "
                "X_0 = frame at the smallest time",
                "estimator": ctx.mi_estimator,
                "k": k,
                "n_pairs": len(mi_pos),
                "note": "saturates near psi(n) - psi(k) where X_t = X_0",
            },
        )
        out["mutual_information_se"] = ("time", mi_se * f, {"units": unit_name})
        if process is not None and direction == "forward" and "knn" in estimators and float(times.min()) == 0.0:
            sig = np.asarray(process.sigma(times), dtype=np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):  # sigma = 0: -inf - (-inf), replaced below
                h_cond = 0.5 * d * np.log(2.0 * math.pi * math.e * sig**2)
                lin = ent[:, list(estimators).index("knn")] - h_cond
            lin = np.where(sig == 0, math.inf, lin)
            out["mutual_information_linear"] = (
                "time",
                lin * f,
                {
                    "units": unit_name,
                    "long_name": "I(X_0; X_t) = H(X_t) - (d/2) log(2 pi e sigma(t)^2) (linear process, kNN H)",
                },
            )
            out["mutual_information_linear_se"] = (
                "time",
                np.where(sig == 0, 0.0, ent_se[:, list(estimators).index("knn")]) * f,  # I(X_0; X_0) = inf exactly
                {"units": unit_name},
            )
    if do_exact:
        out["exact_entropy"] = (
            "time",
            ex_v * f,
            {
                "units": unit_name,
                "long_name": "entropy of the exact marginal p_t of the Gaussian-mixture artifact (Monte Carlo)",
                "n_samples": exact_samples,
            },
        )
        out["exact_entropy_se"] = ("time", ex_se * f, {"units": unit_name})
    if scale_list:
        out = out.assign_coords(scale=("scale", scale_list, {"units": length_unit, "long_name": "bin width"}))
        out["coarse_grained_entropy"] = (
            ("time", "scale"),
            cg_v * f,
            {
                "units": unit_name,
                "long_name": "Shannon entropy of the positions coarse-grained into cubes of side scale (Miller-Madow)",
                "note": "adding d*log(scale) approximates the differential entropy",
            },
        )
        out["coarse_grained_entropy_se"] = (("time", "scale"), cg_se * f, {"units": unit_name})

    out.attrs = {a: ds.attrs[a] for a in PROVENANCE if a in ds.attrs}
    out.attrs.update(
        {
            "title": "dustsim entropy trajectory",
            "history": (
                str(ds.attrs.get("history", "")).rstrip("\n") + "\n" + history_line(history or "entropy_trajectory")
            ).lstrip("\n"),
            "units": unit_name,
            "length_unit": length_unit,
            "dim": d,
            "k": k,
            "n_particles": n_particles,
            "n_particles_used": n_used,
            "analysis_seed": seed,
        }
    )
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
    elif ctx.uniform_log_volume is not None:
        logq = np.full(len(pts), -float(ctx.uniform_log_volume))
    else:  # pragma: no cover - the caller asks only when there is a stationary law
        raise ValueError("no stationary law to compare with")
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


__all__ = ["ESTIMATORS", "EntropyOptions", "FrameResult", "entropy_trajectory"]
