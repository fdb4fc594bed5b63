"""Measurement makes dust: Born-rule samples of positions, as a trajectory Dataset.

A position measurement of ``n`` independently prepared copies of the state at time ``t``
gives ``n`` positions drawn from ``rho(x, x; t)`` (``|psi|^2``). Each frame of the result is
such an independent ensemble: frame ``k`` and frame ``k + 1`` are *not* the same
particles at two times (a measurement collapses the state); the trajectory schema's
``dynamics`` attribute says ``quantum-measurement``. Any single frame is a classical
point cloud that :func:`dustsim.simulate` can continue from
(:func:`measurement_points` -> a ``points:`` artifact) and :mod:`analysis` can read.

Sampling: the grid density is taken as constant over each point's cell ``[x_i - dx/2,
x_i + dx/2)`` (a cell drawn with probability ``rho_ii dx``, then a uniform offset), so
the samples' law differs from the smooth density by ``O(dx^2)`` in its CDF. Frame ``k``
uses the generator ``default_rng([seed, k])``: any subset of frames is reproducible.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from ..errors import ConfigError
from ..schema import history_line, trajectory_attrs, trajectory_dataset
from .run import grid_of, validate_state_dataset


def born_positions(
    x: NDArray[np.float64], density: NDArray[np.float64], n: int, rng: np.random.Generator
) -> NDArray[np.float64]:
    """``n`` positions (shape ``(n, d)``) from a grid density on the points ``x`` (1-D ``(m,)`` or 2-D ``(m, m)``)."""
    density = np.asarray(density, dtype=np.float64)
    if np.any(density < -1e-12 * np.max(np.abs(density))) or not np.all(np.isfinite(density)):
        raise ConfigError("the position density has negative or non-finite values: not a probability law")
    w = np.maximum(density, 0.0).ravel()
    total = w.sum()
    if not total > 0:
        raise ConfigError("the position density has no mass")
    dx = float(x[1] - x[0])
    cells = rng.choice(w.size, size=n, p=w / total)
    idx = np.stack(np.unravel_index(cells, density.shape), axis=-1)
    return x[idx] + dx * (rng.random(idx.shape) - 0.5)


def born_sample(
    ds: xr.Dataset,
    n: int = 10_000,
    *,
    seed: int = 0,
    times: list[float] | None = None,
    history: str | None = None,
) -> xr.Dataset:
    """Measure the positions of ``n`` copies of the state at every frame (or the frames nearest ``times``).

    Parameters
    ----------
    ds : xarray.Dataset
        A quantum-state Dataset (:func:`dustsim.quantum.run.quantum_run`).
    n : int
        Measured particles per frame.
    seed : int
        Seed of the draws (recorded).
    times : list of float, optional
        Measurement times (the nearest frames are used; default every frame).

    Returns
    -------
    xarray.Dataset
        A trajectory in the dustsim schema (``docs/schema.md``), ``dynamics =
        "quantum-measurement"``, frames independent ensembles.
    """
    validate_state_dataset(ds)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"the number of measured particles must be a positive integer, got {n!r}")
    grid = grid_of(ds)
    all_times = np.asarray(ds["time"].values, dtype=np.float64)
    if times is None:
        frames = np.arange(len(all_times))
    else:
        frames = np.array([int(np.argmin(np.abs(all_times - t))) for t in times], dtype=np.int64)
    density = ds["density"].values
    positions = np.stack(
        [born_positions(grid.x, density[k], int(n), np.random.default_rng([int(seed), int(k)])) for k in frames]
    )
    attrs = trajectory_attrs(
        process="quantum",
        direction="forward",
        seed=int(seed),
        config=str(ds.attrs.get("config", "")),
        history="\n".join([str(ds.attrs.get("history", "")), history_line(history or f"born-sample n={n}")]).strip(),
        dynamics="quantum-measurement",
        measurement="Born-rule position samples; every frame an independent ensemble",
        hbar=float(ds.attrs["hbar"]),
        mass=float(ds.attrs["mass"]),
        representation=str(ds.attrs["representation"]),
    )
    return trajectory_dataset(positions, time=all_times[frames], step=ds["step"].values[frames], attrs=attrs)


def measurement_points(trajectory: xr.Dataset, path: str | Path, time: float | None = None) -> Path:
    """Write one frame's positions (the last, or the one nearest ``time``) as an ``.npy`` points file.

    ``dustsim simulate --init points:PATH --dim D`` continues from it.
    """
    from ..io import atomic_output

    path = Path(path)
    if path.suffix.lower() != ".npy":
        raise ConfigError(f"the points file must end in .npy, got {path.name!r}")
    t = trajectory["time"].values
    k = len(t) - 1 if time is None else int(np.argmin(np.abs(t - time)))
    pts = np.asarray(trajectory["position"].values[k], dtype=np.float64)
    with atomic_output(path) as tmp, open(tmp, "wb") as fh:
        np.save(fh, pts)
    return path


__all__ = ["born_positions", "born_sample", "measurement_points"]
