"""Ensembles and parameter sweeps on dask.distributed, into one Zarr store.

A sweep file is a simulation config (the same keys as ``dustsim simulate --config``)
plus a ``[sweep]`` table::

    init = "gmm"
    n = 20000
    process = "vp"
    steps = 500
    record_every = 50

    [sweep]
    replicas = 4          # independent replicas of every parameter set
    seed = 2026           # root seed; member seeds are spawned from it
    [sweep.grid]          # Cartesian product (or a list: [[sweep.members]] tables)
    "process.beta_max" = [10.0, 20.0]
    "artifact.std" = [0.05, 0.1]

Dotted keys address the ``[process]`` and ``[artifact]`` tables. Every member is an
independent simulation with its own seed (``numpy.random.SeedSequence(seed).spawn``) and
runs as one dask task; the result is one Zarr store in the trajectory schema with a
leading ``realization`` dimension, the swept values as ``realization`` coordinates
(``process_beta_max`` ...), plus ``member``, ``replica`` and ``seed``.

Members write their own region of the store (``realization`` chunks never overlap) and
leave a completion record, so a re-run skips members already complete and a killed
worker or an interrupted sweep loses nothing. The store appears under its final name only
when every member is complete.

Numba inside workers: the kernels are module-level functions compiled with
``cache=True`` (each worker loads them from the on-disk cache), and every worker process
gets ``NUMBA_NUM_THREADS`` = its share of the cores so threads do not oversubscribe.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .config import SimulationConfig, parse_toml, toml_safe
from .errors import ConfigError, DustsimError
from .faults import fault_point
from .io import (
    ZARR_FORMAT,
    check_writable,
    clean_stale_temporaries,
    open_trajectory,
    partial_path,
    remove_path,
    replace_path,
)
from .run_info import config_text
from .schema import history_line, position_attrs, spatial_labels, swept_coordinate_name, trajectory_attrs
from .spec import integer
from .streams import MAX_SEED, member_seeds

#: fields that change the shape or time grid of a member, so cannot vary within one store
SHAPE_FIELDS = ("n", "dim", "steps", "t_end", "dt", "record_every", "dtype")


@dataclass
class SweepMember:
    """One simulation of a sweep.

    Attributes
    ----------
    index : int
        Position along the ``realization`` dimension.
    member : int
        Index of the parameter set.
    replica : int
        Replica number within the parameter set.
    values : dict
        The swept values, by dotted key.
    config : SimulationConfig
        The member's config (base config + swept values + its seed).
    """

    index: int
    member: int
    replica: int
    values: dict[str, Any]
    config: SimulationConfig


@dataclass
class SweepSpec:
    """A parsed sweep file: the base config, the parameter sets, replicas and root seed."""

    base: SimulationConfig
    parameter_sets: list[dict[str, Any]]
    replicas: int = 1
    seed: int = 0

    @classmethod
    def from_toml(cls, text: str, source: str = "sweep") -> SweepSpec:
        data = parse_toml(text, source)
        table = data.pop("sweep", None)
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: no [sweep] table; see `dustsim sweep --help`")
        base = SimulationConfig.from_dict(data, source)
        unknown = set(table) - {"replicas", "seed", "grid", "members"}
        if unknown:
            raise ConfigError(f"{source}: unknown key {sorted(unknown)[0]!r} in [sweep]")
        if "grid" in table and "members" in table:
            raise ConfigError(f"{source}: give either [sweep.grid] or [[sweep.members]], not both")
        if "grid" in table:
            grid = table["grid"]
            for key, values in grid.items():
                if not isinstance(values, list) or not values:
                    raise ConfigError(f"{source}: sweep.grid.{key} must be a non-empty list")
            keys = list(grid)
            sets = [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*(grid[k] for k in keys))]
        else:
            sets = [dict(m) for m in table.get("members", [{}])]
        replicas = table.get("replicas", 1)
        seed = table.get("seed", 0)
        replicas = integer(replicas, "sweep.replicas", source, minimum=1)
        seed = integer(seed, "sweep.seed", source, minimum=0, maximum=MAX_SEED - 1)
        spec = cls(base, sets, replicas, seed)
        spec.members()  # validate every key now
        return spec

    @classmethod
    def load(cls, path: str | Path) -> SweepSpec:
        path = Path(path)
        try:
            return cls.from_toml(path.read_text(), source=str(path))
        except OSError as exc:
            raise ConfigError(f"cannot read sweep file {path}: {exc.strerror or exc}") from None

    @property
    def swept_keys(self) -> list[str]:
        return sorted({k for s in self.parameter_sets for k in s})

    def members(self) -> list[SweepMember]:
        """Every (parameter set, replica) pair, with its own seed."""
        n_total = len(self.parameter_sets) * self.replicas
        seeds = member_seeds(self.seed, n_total)
        out = []
        for index, (m, r) in enumerate(itertools.product(range(len(self.parameter_sets)), range(self.replicas))):
            values = self.parameter_sets[m]
            seed = seeds[index]
            out.append(SweepMember(index, m, r, values, apply_values(self.base, values).replace(seed=seed)))
        return out


def apply_values(base: SimulationConfig, values: dict[str, Any]) -> SimulationConfig:
    """The base config with dotted-key values applied (``process.beta_max``, ``n`` ...)."""
    cfg = dataclasses.replace(base, process_params=dict(base.process_params), artifact=dict(base.artifact))
    fields = {f.name for f in dataclasses.fields(SimulationConfig)}
    for key, value in values.items():
        head, _, tail = key.partition(".")
        if head == "process" and tail:
            cfg.process_params[tail] = value
        elif head == "artifact" and tail:
            cfg.artifact[tail] = value
        elif not tail and key in fields and key not in ("process_params", "artifact"):
            if key in SHAPE_FIELDS:
                raise ConfigError(f"cannot sweep {key!r}: all members of one store share shape and time grid")
            if key == "seed":
                raise ConfigError("cannot sweep 'seed': use [sweep] replicas and seed")
            setattr(cfg, key, value)
        else:
            raise ConfigError(f"unknown sweep key {key!r} (use a config key, or process.X / artifact.X)")
    return cfg


# ----------------------------------------------------------------------------- workers
def bookkeeping_dir(store: Path) -> Path:
    """Where the completion records of a partial sweep store live (beside it)."""
    return store.with_name(f".{store.name}.members")


def run_member(store: str, index: int, config_toml: str) -> dict[str, Any]:
    """Simulate one member and write it into its region of ``store`` (runs on a worker)."""
    import zarr

    from .simulation import PriorWarning, simulate

    started = time.perf_counter()
    cfg = SimulationConfig.from_toml(config_toml)
    with warnings.catch_warnings():  # the driver already checked the prior once
        warnings.simplefilter("ignore", PriorWarning)
        ds = simulate(cfg, progress=False)
    group = zarr.open_group(store, mode="r+")
    for name in ("position", "alpha", "sigma", "label"):
        if name in group and name in ds.variables:
            array = group[name]
            if not isinstance(array, zarr.Array):  # pragma: no cover - the store was made by prepare_store
                raise DustsimError(f"{store}: {name!r} is not an array")
            array[index] = ds[name].values
    record = {"index": index, "config": config_text(ds), "seconds": time.perf_counter() - started}
    done = bookkeeping_dir(Path(store)) / f"{index}.json"
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(record))
    os.replace(tmp, done)
    return record


def completed_members(store: Path) -> dict[int, dict[str, Any]]:
    """The completion records in a (partial) sweep store, by realization index."""
    out = {}
    for path in bookkeeping_dir(store).glob("[0-9]*.json"):
        try:
            record = json.loads(path.read_text())
            out[int(record["index"])] = record
        except (OSError, ValueError, KeyError):
            continue
    return out


# ---------------------------------------------------------------------------- template
def _template(spec: SweepSpec, members: list[SweepMember], history: str | None) -> xr.Dataset:
    """The sweep store's layout: lazy per-realization arrays, eager coordinates."""
    import dask.array as da

    from .simulation import PriorWarning, check_prior, prepare

    probe = prepare(members[0].config)  # shapes, time grid, whether there are labels
    message = check_prior(probe)
    if message:
        warnings.warn(f"{message} (member 0)", PriorWarning, stacklevel=3)
    cfg = probe.config
    n_real, n_time = len(members), len(probe.record_steps)
    dtype = probe.dtype
    chunk_particles = max(1, min(cfg.n, (1 << 24) // (cfg.dim * dtype.itemsize)))  # <= 16 MiB, one frame
    coords: dict[str, Any] = {
        "realization": ("realization", np.arange(n_real, dtype=np.int64), {"long_name": "realization index"}),
        "member": (
            "realization",
            np.array([m.member for m in members], dtype=np.int64),
            {"long_name": "parameter set index"},
        ),
        "replica": (
            "realization",
            np.array([m.replica for m in members], dtype=np.int64),
            {"long_name": "replica within the parameter set"},
        ),
        "seed": (
            "realization",
            np.array([m.config.seed for m in members], dtype=np.int64),
            {"long_name": "seed of the realization"},
        ),
        "time": ("time", probe.record_times, {"long_name": "diffusion time", "units": "1"}),
        "step": ("time", probe.record_steps, {"long_name": "integration step", "units": "1"}),
        "particle": ("particle", np.arange(cfg.n, dtype=np.int64), {"long_name": "particle index"}),
        "spatial": ("spatial", spatial_labels(cfg.dim), {"long_name": "spatial axis"}),
    }
    for key in spec.swept_keys:
        values = [m.values.get(key) for m in members]
        coords[swept_coordinate_name(key)] = ("realization", np.asarray(values), {"long_name": f"swept {key}"})
    lazy = {
        "position": (
            ("realization", "time", "particle", "spatial"),
            da.empty((n_real, n_time, cfg.n, cfg.dim), dtype=dtype, chunks=(1, 1, chunk_particles, cfg.dim)),
            position_attrs(cfg.length_unit),
        ),
        "alpha": (
            ("realization", "time"),
            da.empty((n_real, n_time), chunks=(1, n_time)),
            {"long_name": "mean coefficient of X_t given X_0", "units": "1"},
        ),
        "sigma": (
            ("realization", "time"),
            da.empty((n_real, n_time), chunks=(1, n_time)),
            {"long_name": "standard deviation of X_t given X_0, per axis", "units": "1"},
        ),
    }
    if probe.labels is not None:
        lazy["label"] = (
            ("realization", "particle"),
            da.empty((n_real, cfg.n), dtype=np.int32, chunks=(1, cfg.n)),
            {"long_name": "particle label"},
        )
    base_toml = _spec_config(spec)
    attrs = trajectory_attrs(
        process=cfg.process,
        direction="forward",
        seed=spec.seed,
        config=base_toml,
        history=history_line(history or "sweep"),
        stepper=cfg.stepper,
        artifact=cfg.init,
        title="dustsim sweep",
        swept=", ".join(spec.swept_keys),
    )
    ds = xr.Dataset({"position": lazy.pop("position")}, coords=coords, attrs=attrs)
    return ds.assign_coords(lazy)


# ----------------------------------------------------------------------------- driver
def dask_client(scheduler: str | None = None, n_workers: int | None = None) -> tuple[Any, Any]:
    """A dask.distributed Client: attached to ``scheduler`` or on a fresh LocalCluster.

    The local cluster has ``n_workers`` single-threaded worker processes (default: one
    per core) and gives each ``NUMBA_NUM_THREADS`` = cores / workers. Returns
    ``(client, cluster)``; ``cluster`` is None when attached to a scheduler. Close both.
    """
    from dask.distributed import Client, LocalCluster

    if scheduler:
        return Client(scheduler), None
    cores = os.cpu_count() or 1
    n_workers = n_workers or cores
    threads = max(1, cores // n_workers)
    env = {"NUMBA_NUM_THREADS": str(threads), "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    cluster = LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True, dashboard_address=":0", env=env)
    return Client(cluster), cluster


def run_sweep(
    spec: SweepSpec | str | Path,
    output: str | Path,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    retries: int = 2,
    progress: bool | None = None,
    history: str | None = None,
    on_member: Callable[[dict[str, Any]], None] | None = None,
) -> xr.Dataset:
    """Run every member of a sweep as dask tasks and return the combined store (lazily).

    Parameters
    ----------
    spec : SweepSpec or path
        The sweep (a TOML file path or a parsed spec).
    output : path
        The ``.zarr`` store to create. While running it lives at ``<output>.partial``;
        running again with the same spec resumes, skipping complete members.
    scheduler : str, optional
        Address of an existing dask scheduler (``tcp://host:8786``); the store's directory
        must then be on storage every worker can reach. Default: a LocalCluster.
    n_workers : int, optional
        Workers of the LocalCluster (default: one per core).
    retries : int
        Times a failed member is retried before the sweep reports it.
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).
    on_member : callable, optional
        Called with each completion record (for progress or tests).

    Returns
    -------
    xarray.Dataset
        The sweep store, opened lazily (dask arrays).
    """
    import sys

    from dask.distributed import as_completed
    from tqdm.auto import tqdm

    if not isinstance(spec, SweepSpec):
        spec = SweepSpec.load(spec)
    out = check_writable(output)
    if out.suffix.lower() != ".zarr":
        raise ConfigError(f"a sweep is written as one Zarr store: use a .zarr output, not {out.name!r}")
    members = spec.members()
    partial = partial_path(out)
    books = bookkeeping_dir(partial)
    spec_toml = json.dumps(
        {
            "parameter_sets": toml_safe(spec.parameter_sets),
            "replicas": spec.replicas,
            "seed": spec.seed,
            "base": spec.base.to_toml(),
        },
        sort_keys=True,
    )
    marker = books / "spec.json"
    if not partial.exists() and out.exists() and _is_store_of(out, spec):
        remove_path(books)  # finished before: killed after the rename, or simply run again
        clean_stale_temporaries(out)
        return open_trajectory(out)
    if partial.exists() and (not marker.exists() or marker.read_text() != spec_toml):
        raise ConfigError(f"{partial} belongs to a different sweep; remove it or use another output")
    if not partial.exists():
        check_members(members, out)  # every input checked before the first file is created
        template = _template(spec, members, history)
        books.mkdir(exist_ok=True)
        for stale in books.glob("*.json"):
            stale.unlink()
        template.to_zarr(partial, mode="w", compute=False, consolidated=True, zarr_format=ZARR_FORMAT)
        marker.write_text(spec_toml)
    done = completed_members(partial)
    todo = [m for m in members if m.index not in done]
    if todo:
        client, cluster = dask_client(scheduler, n_workers)
        try:
            futures = {
                client.submit(
                    run_member,
                    str(partial.resolve()),
                    m.index,
                    m.config.to_toml(),
                    retries=retries,
                    key=f"dustsim-member-{m.index}-{spec.seed}",
                    pure=False,
                ): m
                for m in todo
            }
            enabled = sys.stderr.isatty() if progress is None else progress
            with tqdm(total=len(members), initial=len(done), unit="member", desc="sweep", disable=not enabled) as bar:
                for future in as_completed(futures):
                    member = futures[future]
                    try:
                        record = future.result()
                    except Exception as exc:
                        raise DustsimError(
                            f"sweep member {member.index} ({_describe(member)}) failed: {type(exc).__name__}: {exc}"
                        ) from exc
                    bar.update(1)
                    fault_point("sweep:member")
                    if on_member is not None:
                        on_member(record)
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    _finish(partial, members)
    fault_point("sweep:finish")
    replace_path(partial, out)
    fault_point("finish:renamed")
    remove_path(books)
    return open_trajectory(out)


def check_members(members: list[SweepMember], output: Path) -> None:
    """Resolve the first replica of every parameter set (ConfigError naming the set if one is bad).

    Runs before the store is created, so a bad value anywhere in the grid leaves nothing
    behind; resolving draws each set's artifact once (cheap next to its simulation).
    """
    from .preflight import check_disk
    from .simulation import frame_bytes, prepare

    per_member = 0
    for member in members:
        if member.replica:
            continue
        try:
            plan = prepare(member.config)
        except ConfigError as exc:
            raise ConfigError(f"sweep member {member.index} ({_describe(member)}): {exc}") from None
        per_member = max(per_member, frame_bytes(plan))
    check_disk(
        per_member * len(members),
        output,
        f"{len(members)} members",
        "sweep fewer values or replicas, or record fewer frames (record_every)",
    )


def _spec_config(spec: SweepSpec) -> str:
    """The ``config`` attribute of a sweep store: the base config and its [sweep] table."""
    import tomli_w

    sweep_table = {"replicas": spec.replicas, "seed": spec.seed, "members": toml_safe(spec.parameter_sets)}
    return tomli_w.dumps({**spec.base.to_dict(), "sweep": sweep_table})


def _is_store_of(path: Path, spec: SweepSpec) -> bool:
    """Whether ``path`` is the finished store of this very sweep (same base config, sets, replicas, seed)."""
    try:
        ds = open_trajectory(path)
    except DustsimError:
        return False
    same = config_text(ds) == _spec_config(spec) and "member_config" in ds.coords
    ds.close()
    return same


def _describe(member: SweepMember) -> str:
    values = ", ".join(f"{k}={v}" for k, v in member.values.items()) or "base config"
    return f"{values}, replica {member.replica}, seed {member.config.seed}"


def _finish(partial: Path, members: list[SweepMember]) -> None:
    """Record every member's resolved config (the bookkeeping is dropped once the store is renamed)."""
    import zarr

    done = completed_members(partial)
    missing = [m.index for m in members if m.index not in done]
    if missing:
        raise DustsimError(f"sweep incomplete: members {missing[:5]} did not finish")
    attrs = dict(zarr.open_group(str(partial), mode="r").attrs)
    configs = xr.Dataset(
        coords={
            "member_config": (
                "realization",
                np.array([done[m.index]["config"] for m in members], dtype=object),
                {"long_name": "resolved config of the realization (TOML)"},
            )
        },
        attrs=attrs,
    )
    configs.to_zarr(partial, mode="a", zarr_format=ZARR_FORMAT, consolidated=True)
