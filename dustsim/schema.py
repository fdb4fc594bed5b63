"""The trajectory schema: one kind of xarray Dataset for every particle trajectory.

Forward simulations, reverse (generated) trajectories and restorations all use it; the
analysis reads nothing else. The full description is ``docs/schema.md``; in short:

- dims ``time``, ``particle``, ``spatial`` (and ``realization`` first, for ensembles);
- data variable ``position(time, particle, spatial)`` with ``units`` and ``long_name``;
- coordinates ``time`` (float64, diffusion time), ``step(time)`` (int64), ``particle``
  (int64), ``spatial`` (``"x", "y", "z"``); ``alpha(time)`` and ``sigma(time)`` for
  linear processes; optional ``label(particle)``;
- attributes ``source``, ``dustsim_version``, ``schema_version``, ``process``,
  ``direction``, ``seed``, ``config`` (resolved TOML), ``history``.
- physical dust (additions, see ``docs/schema.md``): coordinates ``box(spatial)`` and
  ``box_origin(spatial)``, variable ``image(time, particle, spatial)`` (int32, periodic
  boxes) and attributes ``dynamics`` and ``boundary``; see :func:`unwrapped_position`.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import ArrayLike, NDArray

from ._version import __version__
from .errors import InputFileError
from .processes import LinearProcess
from .run_info import RunInfo

SCHEMA_VERSION = "1.0"
DIRECTIONS = ("forward", "reverse", "restoration")
REQUIRED_ATTRS = ("source", "schema_version", "process", "direction", "seed", "config", "history")


def spatial_labels(dim: int) -> list[str]:
    """Names of the spatial axes: ``x, y, z`` up to 3-D, ``x0, x1, ...`` beyond."""
    return ["x", "y", "z"][:dim] if dim <= 3 else [f"x{i}" for i in range(dim)]


def history_line(action: str) -> str:
    """A CF-style history entry: ``<UTC timestamp> dustsim <version>: <action>``."""
    now = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return f"{now} dustsim {__version__}: {action}"


def trajectory_attrs(
    *,
    process: str,
    direction: str,
    seed: int,
    config: str,
    history: str,
    **extra: Any,
) -> dict[str, Any]:
    """The global attributes every trajectory carries (``extra`` appended)."""
    if direction not in DIRECTIONS:
        raise ValueError(f"direction must be one of {DIRECTIONS}, got {direction!r}")
    return {
        "title": f"dustsim {direction} trajectory",
        "source": f"dustsim {__version__}",
        "dustsim_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "process": process,
        "direction": direction,
        "seed": int(seed),
        "config": config,
        "history": history,
        **extra,
    }


def trajectory_coords(
    *,
    time: ArrayLike,
    step: ArrayLike,
    n_particles: int,
    dim: int,
    process: LinearProcess | None = None,
    labels: ArrayLike | None = None,
) -> dict[str, Any]:
    """Coordinates of a trajectory (``alpha``/``sigma`` from the process, if linear)."""
    time = np.asarray(time, dtype=np.float64)
    coords: dict[str, Any] = {
        "time": ("time", time, {"long_name": "diffusion time", "units": "1"}),
        "step": ("time", np.asarray(step, dtype=np.int64), {"long_name": "integration step", "units": "1"}),
        "particle": ("particle", np.arange(n_particles, dtype=np.int64), {"long_name": "particle index"}),
        "spatial": ("spatial", spatial_labels(dim), {"long_name": "spatial axis"}),
    }
    if process is not None:
        coords["alpha"] = (
            "time",
            process.alpha(time),
            {"long_name": "mean coefficient of X_t given X_0", "units": "1"},
        )
        coords["sigma"] = (
            "time",
            process.sigma(time),
            {"long_name": "standard deviation of X_t given X_0, per axis", "units": "1"},
        )
    if labels is not None:
        coords["label"] = ("particle", np.asarray(labels, dtype=np.int32), {"long_name": "particle label"})
    return coords


def position_attrs(length_unit: str = "1") -> dict[str, str]:
    """Attributes of the ``position`` variable."""
    return {"long_name": "particle position", "units": length_unit}


def trajectory_dataset(
    position: ArrayLike,
    *,
    time: ArrayLike,
    step: ArrayLike,
    attrs: Mapping[str, Any],
    process: LinearProcess | None = None,
    labels: ArrayLike | None = None,
    length_unit: str = "1",
) -> xr.Dataset:
    """Assemble a trajectory Dataset from an array of shape ``(time, particle, spatial)``.

    Parameters
    ----------
    position : array, shape (T, N, d)
        Positions (length units).
    time, step : array, shape (T,)
        Diffusion time and integration step of each frame.
    attrs : mapping
        Global attributes, normally from :func:`trajectory_attrs`.
    process : LinearProcess, optional
        Adds the ``alpha(time)`` and ``sigma(time)`` coordinates.
    labels : array of int, shape (N,), optional
        Per-particle labels.
    length_unit : str
        ``units`` of ``position``.
    """
    position = np.asarray(position)
    if position.ndim != 3:
        raise ValueError(f"position must have shape (time, particle, spatial), got {position.shape}")
    _, n, d = position.shape
    coords = trajectory_coords(time=time, step=step, n_particles=n, dim=d, process=process, labels=labels)
    ds = xr.Dataset(
        {"position": (("time", "particle", "spatial"), position, position_attrs(length_unit))},
        coords=coords,
        attrs=dict(attrs),
    )
    return ds


def validate_trajectory(ds: xr.Dataset, source: str = "dataset") -> None:
    """Check that ``ds`` follows the trajectory schema.

    Raises
    ------
    InputFileError
        With a one-line message naming the first problem found.
    """
    if "position" not in ds.data_vars:
        raise InputFileError(f"{source} is not a dustsim trajectory: no 'position' variable")
    dims = tuple(ds["position"].dims)
    expected = ("time", "particle", "spatial")
    if dims not in (expected, ("realization", *expected)):
        raise InputFileError(f"{source}: position has dims {dims}, expected {expected} (optionally realization first)")
    for coord in ("time", "step"):
        if coord not in ds.coords:
            raise InputFileError(f"{source}: missing coordinate {coord!r}")
    missing = [a for a in REQUIRED_ATTRS if a not in ds.attrs]
    if missing:
        raise InputFileError(f"{source}: missing attribute {missing[0]!r} of the trajectory schema")
    if ds.attrs["direction"] not in DIRECTIONS:
        raise InputFileError(f"{source}: direction must be one of {DIRECTIONS}, got {ds.attrs['direction']!r}")


def trajectory_config(ds: xr.Dataset) -> dict[str, Any]:
    """The resolved config recorded in a trajectory, as a dict (a copy of ``RunInfo.tables``
    of :class:`dustsim.run_info.RunInfo`; see :func:`trajectory_config_text`)."""
    return dict(RunInfo.from_dataset(ds).tables)


def trajectory_config_text(ds: xr.Dataset) -> str:
    """The resolved config recorded in a trajectory, as TOML text.

    For a sweep store, whose realizations each have their own config (the
    ``member_config`` coordinate), it is the config of the realization(s) selected: one
    realization, or several that differ only in their seed (the first one's).
    Realizations with different settings have no single config: select one member first
    (``ds.isel(realization=r)``). See :meth:`dustsim.run_info.RunInfo.from_dataset`.

    Raises
    ------
    InputFileError
        Not valid TOML, or realizations that differ in more than their seed.
    """
    return RunInfo.from_dataset(ds).text


def trajectory_process(ds: xr.Dataset) -> LinearProcess | None:
    """The forward process recorded in a trajectory, or None if it has no linear process.

    Physical dust (a potential, a box, interactions, a schedule or per-label diffusion
    on top of the ``[process]``) is not that linear process: None, so that nobody uses
    its exact kernels for it (:attr:`dustsim.run_info.RunInfo.process`).
    """
    return RunInfo.from_dataset(ds).process


# --------------------------------------------------------------------- physical dust
#: ``dynamics`` attribute values
DYNAMICS = ("linear", "overdamped-langevin")


def box_coords(lo: ArrayLike, length: ArrayLike) -> dict[str, Any]:
    """The ``box`` and ``box_origin`` coordinates (per spatial axis; NaN on free axes)."""
    return {
        "box": ("spatial", np.asarray(length, dtype=np.float64), {"long_name": "box length", "units": "1"}),
        "box_origin": (
            "spatial",
            np.asarray(lo, dtype=np.float64),
            {"long_name": "lower corner of the box", "units": "1"},
        ),
    }


def closed_box(ds: xr.Dataset) -> tuple[NDArray[np.float64], list[str]] | None:
    """Box lengths and boundary kind per axis when the dust is in a box on every axis.

    Reads the ``box`` coordinate and the ``boundary`` attribute (one kind, or one per axis
    joined by commas). None for free dust or a box that leaves some axis free.
    """
    if "box" not in ds.coords:
        return None
    box = np.asarray(ds["box"].values, dtype=np.float64).ravel()
    if box.size != ds.sizes["spatial"] or not np.all(np.isfinite(box) & (box > 0)):
        return None
    kinds = [k.strip() for k in str(ds.attrs.get("boundary", "")).split(",")]
    kinds = kinds * box.size if len(kinds) == 1 else kinds
    if len(kinds) != box.size or any(k not in ("periodic", "reflecting") for k in kinds):
        return None
    return box, kinds


def image_attrs() -> dict[str, str]:
    """Attributes of the ``image`` variable."""
    return {
        "long_name": "periodic image count: unwrapped position = position + image * box",
        "units": "1",
    }


def unwrapped_position(ds: xr.Dataset) -> xr.DataArray:
    """Positions with periodic wrapping undone: ``position + image * box`` (float64).

    Exact for any number of box crossings (the image counts are integers), so MSDs of a
    periodic run need no guessing. Returns ``position`` (as float64) when the trajectory
    has no ``image`` variable.
    """
    pos = ds["position"].astype(np.float64)
    if "image" not in ds or "box" not in ds.coords:
        return pos
    box = ds["box"].fillna(0.0)
    return pos + ds["image"].astype(np.float64) * box


def swept_coordinate_name(key: str) -> str:
    """Name of the ``realization`` coordinate of a sweep store that holds a swept key's values.

    Dots and dashes become underscores: ``process.beta_max`` -> ``process_beta_max``.
    """
    return key.replace(".", "_").replace("-", "_")


def swept_coordinates(ds: xr.Dataset) -> list[str]:
    """The swept-value coordinates of a sweep store (from its ``swept`` attribute) that ``ds`` has.

    Empty for anything that is not a sweep (or whose swept coordinates were dropped).
    """
    keys = [key.strip() for key in str(ds.attrs.get("swept", "")).split(",") if key.strip()]
    return [name for name in map(swept_coordinate_name, keys) if name in ds.coords]
