"""Training data drawn from the simulator's output.

Two sources, one per kind of process:

:class:`KernelPairs` (linear processes)
    Pairs ``(x0, t, x_t)`` with ``x0`` an artifact position (the ``t = 0`` frame of a
    forward trajectory, or any point cloud), ``t`` drawn on ``[t_min, t_end]`` and
    ``x_t = c + alpha (x0 - c) + sigma z`` drawn with the exact kernel — fresh noise every
    batch, so the data never run out — with the analytic conditional score
    ``-(x_t - c - alpha (x0 - c)) / sigma^2`` as the regression target.

:class:`FrameSamples` (any process, including those without a closed-form kernel)
    The recorded snapshots themselves: a batch is a set of ``(x, t)`` with ``t`` a
    recorded frame time and ``x`` a particle of that frame. Nothing else about the
    process is needed, so it serves sliced score matching on non-linear or interacting
    dynamics.

Batches are drawn on the CPU from a seeded generator and moved to the device, so a seed
gives the same batches on every device.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError, InputFileError
from ..processes import LinearProcess
from .sde import NoiseTable


def initial_positions(ds: xr.Dataset) -> np.ndarray:
    """The artifact positions: the frame at ``t = 0`` of a forward trajectory, shape ``(N, d)``."""
    pos = ds["position"]
    if "realization" in pos.dims:
        pos = pos.stack(sample=("realization", "particle")).transpose("time", "sample", "spatial")
    if ds.attrs.get("direction", "forward") != "forward":
        raise InputFileError(f"training needs a forward trajectory, got direction = {ds.attrs.get('direction')!r}")
    times = np.asarray(ds["time"].values, dtype=np.float64)
    first = int(np.argmin(times))
    if times[first] != 0.0:
        raise InputFileError(f"the trajectory has no frame at t = 0 (first frame at t = {times[first]:g})")
    x0 = np.asarray(pos.isel(time=first).values, dtype=np.float64)
    if not np.all(np.isfinite(x0)):
        raise InputFileError("the t = 0 frame has non-finite positions")
    return x0


def split_particles(n: int, fraction: float, generator: torch.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Random split of ``n`` particle indices into (training, validation), sorted.

    The validation part has ``max(2, round(fraction n))`` particles; at least two stay for
    training (ConfigError otherwise).
    """
    n_val = max(2, round(fraction * n))
    if n - n_val < 2:
        raise ConfigError(f"cannot hold out {fraction:g} of {n} particles for validation and keep 2 for training")
    order = torch.randperm(n, generator=generator).numpy()
    return np.sort(order[n_val:]), np.sort(order[:n_val])


@dataclass
class KernelPairs:
    """Exact-kernel training pairs for a linear process.

    Parameters
    ----------
    x0 : array, shape (N, d)
        Artifact positions (length units).
    process : LinearProcess
    t_min, t_max : float
        Range of training times.
    time_sampling : {"log-level", "uniform", "edm", "mixed"}
        Law of ``t``: uniform in ``log(sigma / alpha)``, uniform in ``t``, EDM's
        ``log(sigma / alpha / level_scale) ~ N(p_mean, p_std^2)`` (truncated to the range),
        or ``mixed``: each draw from the ``edm`` or the ``log-level`` law with probability 1/2.
    p_mean, p_std : float
        Parameters of the ``edm`` law.
    level_scale : float
        The ``edm`` law is that of ``log(sigma / alpha / level_scale)``: training passes
        ``sd / 0.5`` (``sd`` the data's standard deviation; EDM's defaults are for
        ``sd = 0.5``), so the noise levels scale with the data and the law is
        unit-invariant.
    """

    x0: np.ndarray
    process: LinearProcess
    t_min: float
    t_max: float
    time_sampling: str = "log-level"
    p_mean: float = -1.2
    p_std: float = 1.2
    level_scale: float = 1.0
    table: NoiseTable = field(init=False)
    _x0: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        x0 = np.asarray(self.x0, dtype=np.float64)
        if x0.ndim != 2 or len(x0) < 2:
            raise ConfigError(f"training positions must be an (N, d) array with N >= 2, got shape {x0.shape}")
        self.x0 = x0
        self._x0 = torch.as_tensor(x0, dtype=torch.float32)
        self.table = NoiseTable.build(self.process, self.t_min, self.t_max)

    @property
    def dim(self) -> int:
        return int(self.x0.shape[1])

    @property
    def n_particles(self) -> int:
        return int(self.x0.shape[0])

    def subset(self, index: np.ndarray) -> KernelPairs:
        """The same pairs on the particles ``index`` only."""
        return KernelPairs(
            self.x0[index],
            self.process,
            self.t_min,
            self.t_max,
            self.time_sampling,
            self.p_mean,
            self.p_std,
            self.level_scale,
        )

    def draw_times(self, n: int, generator: torch.Generator) -> np.ndarray:
        """``n`` training times (float64)."""
        u = torch.rand(n, generator=generator, dtype=torch.float64).numpy()
        if self.time_sampling == "uniform":
            return self.t_min + (self.t_max - self.t_min) * u
        lo, hi = self.table.range
        if self.time_sampling == "log-level":
            return self.table.time(lo + (hi - lo) * u)
        if self.time_sampling in ("edm", "mixed"):
            from scipy.special import ndtr, ndtri

            # inverse-CDF draw of the normal truncated to the range: no rejection loop
            mean = self.p_mean + math.log(self.level_scale)
            a, b = ndtr((lo - mean) / self.p_std), ndtr((hi - mean) / self.p_std)
            level = mean + self.p_std * ndtri(a + (b - a) * u)
            if self.time_sampling == "mixed":  # half of the draws uniform in log-level: every level is trained
                uniform = torch.rand(n, generator=generator, dtype=torch.float64).numpy() < 0.5
                level = np.where(uniform, lo + (hi - lo) * u, level)
            return self.table.time(level)
        raise ConfigError(f"unknown time sampling {self.time_sampling!r}")

    def draw(
        self, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """One batch: ``x0``, ``t``, ``x_t``, ``alpha``, ``sigma``, ``g`` and the ``target`` score.

        Shapes ``(B, d)`` for positions and scores, ``(B,)`` for the rest.
        """
        idx = torch.randint(len(self._x0), (batch_size,), generator=generator)
        t = self.draw_times(batch_size, generator)
        z = torch.randn((batch_size, self.dim), generator=generator)
        x0 = self._x0[idx]
        a = torch.as_tensor(self.process.alpha(t), dtype=torch.float32)
        s = torch.as_tensor(self.process.sigma(t), dtype=torch.float32)
        g = torch.as_tensor(self.process.diffusion(t), dtype=torch.float32)
        c = float(self.process.centre)
        xt = c + a[:, None] * (x0 - c) + s[:, None] * z
        batch = {
            "x0": x0,
            "t": torch.as_tensor(t, dtype=torch.float32),
            "x_t": xt,
            "alpha": a,
            "sigma": s,
            "g": g,
            "target": -z / s[:, None],
        }
        return {k: v.to(device) for k, v in batch.items()}


@dataclass
class FrameSamples:
    """Particles of recorded frames with their frame times (kernel-free training data).

    Parameters
    ----------
    frames : array, shape (K, M, d)
        Positions of ``M`` particles in each of ``K`` frames (length units).
    times : array, shape (K,)
        Increasing frame times.
    """

    frames: np.ndarray
    times: np.ndarray
    _frames: torch.Tensor = field(init=False, repr=False)

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames, dtype=np.float64)
        times = np.asarray(self.times, dtype=np.float64)
        if frames.ndim != 3 or frames.shape[0] != times.shape[0] or frames.shape[0] < 2:
            raise ConfigError(f"need frames of shape (K >= 2, M, d) matching the times, got {frames.shape}")
        if np.any(np.diff(times) <= 0):
            raise ConfigError("frame times must be strictly increasing")
        if not np.all(np.isfinite(frames)):
            raise InputFileError("the recorded frames contain non-finite positions")
        self.frames, self.times = frames, times
        self._frames = torch.as_tensor(frames, dtype=torch.float32)

    @classmethod
    def from_trajectory(
        cls,
        ds: xr.Dataset,
        t_min: float | None = None,
        max_particles: int = 20000,
        generator: torch.Generator | None = None,
    ) -> FrameSamples:
        """Frames of a trajectory with ``t >= t_min`` (default: every frame after ``t = 0``).

        At most ``max_particles`` particles are kept (the same random subset in every frame).
        """
        pos = ds["position"]
        if "realization" in pos.dims:
            pos = pos.stack(sample=("realization", "particle")).transpose("time", "sample", "spatial")
        times = np.asarray(ds["time"].values, dtype=np.float64)
        order = np.argsort(times)
        lo = times[order][times[order] > 0].min() if t_min is None and np.any(times > 0) else (t_min or 0.0)
        keep = order[times[order] >= lo - 1e-12 * max(1.0, abs(lo))]
        if len(keep) < 2:
            raise InputFileError(f"need at least two recorded frames with t >= {lo:g} for score matching")
        n = pos.shape[1]
        if n > max_particles:
            sel = torch.randperm(n, generator=generator)[:max_particles].sort().values.numpy()
        else:
            sel = np.arange(n)
        frames = np.stack([np.asarray(pos.isel(time=int(k)).values)[sel] for k in keep])
        return cls(frames, times[keep])

    @property
    def dim(self) -> int:
        return int(self.frames.shape[2])

    @property
    def n_particles(self) -> int:
        return int(self.frames.shape[1])

    def subset(self, index: np.ndarray) -> FrameSamples:
        """The same frames with the particles ``index`` only."""
        return FrameSamples(self.frames[:, index], self.times)

    def statistics(self) -> tuple[np.ndarray, np.ndarray]:
        """Per-frame mean ``(K, d)`` and standard deviation per axis averaged over axes ``(K,)``."""
        mean = self.frames.mean(axis=1)
        std = np.sqrt(self.frames.var(axis=1).mean(axis=1))
        if np.any(std <= 0) or not np.all(np.isfinite(std)):
            raise InputFileError("a recorded frame has zero spread; drop it with a larger t_min")
        return mean, std

    def draw(
        self, batch_size: int, generator: torch.Generator, device: torch.device | str = "cpu"
    ) -> dict[str, torch.Tensor]:
        """One batch: positions ``x`` ``(B, d)`` and their frame times ``t`` ``(B,)``."""
        k = torch.randint(self._frames.shape[0], (batch_size,), generator=generator)
        j = torch.randint(self._frames.shape[1], (batch_size,), generator=generator)
        t = torch.as_tensor(self.times, dtype=torch.float64)[k]
        return {"x": self._frames[k, j].to(device), "t": t.to(device)}


def sigma_data(x0: np.ndarray) -> tuple[float, np.ndarray]:
    """``(sd, mean)``: root-mean per-axis standard deviation and mean of the data."""
    x0 = np.asarray(x0, dtype=np.float64)
    sd = float(math.sqrt(float(x0.var(axis=0).mean())))
    if not sd > 0:
        raise InputFileError("the training positions have zero spread")
    return sd, x0.mean(axis=0)
