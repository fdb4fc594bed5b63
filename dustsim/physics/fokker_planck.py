"""Fokker-Planck reference: the density of non-interacting dust on a grid, over time.

For particles that do not interact, the density ``p(x, t)`` obeys the Fokker-Planck
equation of :mod:`dustsim.physics.system`::

    dp/dt = -div J,    J = v p - D grad p,    v = f(t) (x - c) + mu(t) F(x)

This module solves it in 1-D and 2-D with a finite-volume scheme: cell averages on a
uniform grid, Scharfetter-Gummel fluxes between neighbouring cells (exact for a drift that
is constant across the face; central for weak, upwind for strong drift, positivity
preserving), zero flux through reflecting walls and through the edges of the domain on
free axes (taken wide enough that no mass gets there), wrap-around fluxes on periodic
axes. The generator is a sparse matrix whose columns sum to zero, so total probability
is conserved; time is integrated with scipy's BDF (stiff, adaptive) to the frame times
of the run. It is the ground truth particle runs are tested against.

The initial density is the artifact's: exact cell integrals for ``gmm``, ``gaussian``
and ``point``, otherwise the histogram of the ``n`` particles the simulation starts from
(same config, same seed). The result is a Dataset of kind ``"density"`` (see
``docs/schema.md``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import xarray as xr
from numpy.typing import NDArray
from scipy.integrate import solve_ivp
from scipy.special import ndtr

from .._version import __version__
from ..config import SimulationConfig
from ..errors import ConfigError, DustsimError
from ..schema import SCHEMA_VERSION, history_line, spatial_labels
from .potentials import total_energy, total_force
from .system import PhysicalSystem, build_system

DEFAULT_CELLS = {1: 400, 2: 120}
#: a free axis's domain reaches this many diffusion lengths sqrt(2 D T) beyond the start
FREE_MARGIN = 5.0
#: and, in a confining potential, up to where U exceeds its minimum by this many kT
CONFINE_KT = 30.0


@dataclass(frozen=True)
class Grid:
    """A uniform grid: ``edges[a]`` of every axis, its kinds and cell widths."""

    edges: tuple[NDArray[np.float64], ...]
    kinds: tuple[str, ...]

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(len(e) - 1 for e in self.edges)

    @property
    def widths(self) -> tuple[float, ...]:
        return tuple(float(e[1] - e[0]) for e in self.edges)

    @property
    def centres(self) -> tuple[NDArray[np.float64], ...]:
        return tuple(0.5 * (e[1:] + e[:-1]) for e in self.edges)

    @property
    def cell_volume(self) -> float:
        return float(np.prod(self.widths))


# --------------------------------------------------------------------- the operator
def bernoulli(z: NDArray[np.float64]) -> NDArray[np.float64]:
    """``B(z) = z / (e^z - 1)`` (``B(0) = 1``), without cancellation near 0."""
    z = np.asarray(z, dtype=np.float64)
    small = np.abs(z) < 1e-6
    with np.errstate(over="ignore"):  # expm1 overflows to inf for z > 709: B -> 0, as it should
        return np.where(small, 1.0 - 0.5 * z, z / np.expm1(np.where(small, 1.0, z)))


@dataclass
class _Faces:
    """The faces of one axis: the two cells (flat indices), the drift's pieces there."""

    left: NDArray[np.int64]
    right: NDArray[np.int64]
    offset: NDArray[np.float64]  # x_face - c (linear drift of the base process)
    force: NDArray[np.float64]  # force component along the axis at the face
    h: float


def _faces(system: PhysicalSystem, grid: Grid) -> list[_Faces]:
    shape = grid.shape
    index = np.arange(int(np.prod(shape))).reshape(shape)
    centres = grid.centres
    out = []
    for a, kind in enumerate(grid.kinds):
        n = shape[a]
        left_idx = np.arange(n - 1)
        right_idx = np.arange(1, n)
        face_x = grid.edges[a][1:-1]
        if kind == "periodic" and n > 1:
            left_idx = np.append(left_idx, n - 1)
            right_idx = np.append(right_idx, 0)
            face_x = np.append(face_x, grid.edges[a][-1])
        left = np.take(index, left_idx, axis=a)
        right = np.take(index, right_idx, axis=a)
        # face centres: the face coordinate on axis a, cell centres on the others
        mesh = np.meshgrid(*[face_x if b == a else centres[b] for b in range(len(shape))], indexing="ij")
        points = np.stack([m.ravel() for m in mesh], axis=-1)
        force = total_force(system.potentials, points)[:, a] if system.potentials else np.zeros(len(points))
        out.append(
            _Faces(
                left=left.ravel(),
                right=right.ravel(),
                offset=points[:, a] - system.process.centre,
                force=force,
                h=grid.widths[a],
            )
        )
    return out


class Operator:
    """The Fokker-Planck generator ``L(t)`` on a grid: ``dp/dt = L(t) p`` (sparse, mass conserving)."""

    def __init__(self, system: PhysicalSystem, grid: Grid, factor: float = 1.0) -> None:
        self.system = system
        self.grid = grid
        self.factor = factor
        self.faces = _faces(system, grid)
        self.n = int(np.prod(grid.shape))
        rows, cols = [], []
        for f in self.faces:
            # d p_L/dt: -alpha p_L + beta p_R ; d p_R/dt: +alpha p_L - beta p_R
            rows += [f.left, f.left, f.right, f.right]
            cols += [f.left, f.right, f.left, f.right]
        self.rows = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        self.cols = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        self.constant = self.system.schedule is None and type(system.process).__name__ in (
            "Brownian",
            "OrnsteinUhlenbeck",
        )
        self._cache: sp.csc_matrix | None = None

    def matrix(self, t: float) -> sp.csc_matrix:
        """``L(t)`` (1 / time)."""
        if self.constant and self._cache is not None:
            return self._cache
        tt = np.array([t], dtype=np.float64)
        D_t, mu_t = self.system.diffusion_mobility(tt)
        D, mu = float(D_t[0]) * self.factor, float(mu_t[0]) * self.factor
        f = float(np.asarray(self.system.process.drift_coefficient(tt))[0])
        data = []
        for face in self.faces:
            v = f * face.offset + mu * face.force
            peclet = v * face.h / D
            alpha = D / face.h**2 * bernoulli(-peclet)
            beta = D / face.h**2 * bernoulli(peclet)
            data += [-alpha, beta, alpha, -beta]
        values = np.concatenate(data) if data else np.zeros(0)
        L = sp.coo_matrix((values, (self.rows, self.cols)), shape=(self.n, self.n)).tocsc()
        if self.constant:
            self._cache = L
        return L


# ------------------------------------------------------------------------ the grid
def _confined_range(system: PhysicalSystem, axis: int) -> tuple[float, float] | None:
    """Where the built-in potential on ``axis`` stays within CONFINE_KT kT of its minimum (None: not confining)."""
    if system.custom is not None:
        return None
    spans, centres = [], []
    for p in system.potentials:
        confined = p.confinement(axis, CONFINE_KT, system.kT)
        if confined is not None:
            spans.append(confined[0])
            centres.append(confined[1])
    if not spans:
        return None
    xs = float(np.mean(centres)) + np.linspace(-4 * max(spans), 4 * max(spans), 8001)
    points = np.zeros((len(xs), system.dim))
    points[:, axis] = xs
    U = total_energy([p for p in system.potentials if p.name != "custom"], points)
    kT = system.kT
    if system.schedule is not None and system.schedule.of == "kT":
        kT *= min(1.0, float(np.min(system.schedule(np.linspace(0.0, 1.0, 101)))))
    inside = xs[U - U.min() <= CONFINE_KT * kT]
    return float(inside.min()), float(inside.max())


def make_grid(
    system: PhysicalSystem,
    x0: NDArray[np.float64],
    t_end: float,
    cells: int | list[int] | None = None,
    domain: list[float] | list[list[float]] | None = None,
) -> Grid:
    """The grid: the box on periodic/reflecting axes, ``domain`` (or an automatic one) on free axes."""
    dim = system.dim
    if cells is None:
        cells = DEFAULT_CELLS[dim]
    counts = list(cells) if isinstance(cells, (list, tuple)) else [cells] * dim
    if len(counts) != dim or any(isinstance(c, bool) or not isinstance(c, int) or c < 2 for c in counts):
        raise ConfigError(f"cells must be an integer >= 2 (or one per axis), got {cells!r}")
    if domain is not None:
        doms: list[list[float]] = [list(domain)] * dim if np.ndim(domain) == 1 else [list(d) for d in domain]  # type: ignore[arg-type]
        if len(doms) != dim or any(len(d) != 2 or not d[0] < d[1] for d in doms):
            raise ConfigError(f"domain must be [lo, hi] (or one per axis) with lo < hi, got {domain!r}")
    D_max = float(np.max(system.diffusion_mobility(np.linspace(0.0, t_end, 257))[0])) * max(system.label_diffusion)
    edges = []
    for a, kind in enumerate(system.boundary.kinds):
        if kind != "free":
            lo, hi = system.boundary.lo[a], system.boundary.lo[a] + system.boundary.length[a]
        elif domain is not None:
            lo, hi = doms[a]
            if x0[:, a].min() < lo or x0[:, a].max() > hi:
                raise ConfigError(f"the initial particles reach beyond the domain on axis {a}; widen --domain")
        else:
            reach = FREE_MARGIN * math.sqrt(2.0 * D_max * t_end)
            lo, hi = float(x0[:, a].min()) - reach, float(x0[:, a].max()) + reach
            confined = _confined_range(system, a)
            if confined is not None:
                pad = 0.05 * (confined[1] - confined[0])
                lo = max(lo, min(confined[0], float(x0[:, a].min()) - pad))
                hi = min(hi, max(confined[1], float(x0[:, a].max()) + pad))
            if not hi > lo:
                lo, hi = lo - 1.0, hi + 1.0
        edges.append(np.linspace(lo, hi, counts[a] + 1))
    return Grid(tuple(edges), system.boundary.kinds)


# ----------------------------------------------------------------- initial density
def initial_density(
    grid: Grid, artifact: dict[str, Any], x0: NDArray[np.float64], mask: NDArray[np.bool_] | None = None
) -> NDArray[np.float64]:
    """Cell averages of the initial density (integrating to 1 over the grid).

    Exact cell integrals for a Gaussian mixture (the components selected by ``mask`` of
    the particles' labels are handled by the caller), a Gaussian and a point; otherwise
    the histogram of the particles ``x0``.
    """
    kind = artifact.get("kind")
    if kind == "gmm" and mask is None:
        means = np.asarray(artifact["means"], dtype=np.float64)
        stds = np.asarray(artifact["stds"], dtype=np.float64)
        weights = np.asarray(artifact["weights"], dtype=np.float64)
        mass = sum(w * _gaussian_cells(grid, m, s) for m, s, w in zip(means, stds, weights, strict=True))
    elif kind == "gaussian" and mask is None:
        mass = _gaussian_cells(grid, np.full(len(grid.edges), float(artifact["mean"])), float(artifact["std"]))
    else:
        pts = x0 if mask is None else x0[mask]
        mass, _ = np.histogramdd(pts, bins=list(grid.edges))
        mass = mass.astype(np.float64)
    total = float(mass.sum())
    if not total > 0:
        raise ConfigError("the initial density has no mass on the grid; widen the domain")
    return mass / (total * grid.cell_volume)


def _gaussian_cells(grid: Grid, mean: NDArray[np.float64], std: float) -> NDArray[np.float64]:
    out = np.ones(())
    for a, e in enumerate(grid.edges):
        cdf = ndtr((e - mean[a]) / std)
        out = np.multiply.outer(out, np.diff(cdf))
    return out


# --------------------------------------------------------------------------- solve
def solve(
    system: PhysicalSystem,
    grid: Grid,
    p0: NDArray[np.float64],
    times: NDArray[np.float64],
    *,
    factor: float = 1.0,
    rtol: float = 1e-8,
    atol: float = 1e-12,
) -> NDArray[np.float64]:
    """Integrate ``dp/dt = L(t) p`` from ``p0`` (cell averages) to every time in ``times``.

    Returns
    -------
    ndarray, shape (len(times), *grid.shape)
        Cell-averaged densities (1 / length^d).
    """
    op = Operator(system, grid, factor)
    y0 = np.ascontiguousarray(p0, dtype=np.float64).ravel()
    if len(times) == 1:
        return y0.reshape((1, *grid.shape))

    def rhs(t: float, y: NDArray[np.float64]) -> NDArray[np.float64]:
        return op.matrix(t) @ y

    def jac(t: float, _y: NDArray[np.float64]) -> sp.csc_matrix:
        return op.matrix(t)

    result = solve_ivp(
        rhs,
        (float(times[0]), float(times[-1])),
        y0,
        method="BDF",
        t_eval=times,
        jac=jac,
        rtol=rtol,
        atol=atol * float(np.max(y0)),
    )
    if not result.success:
        raise DustsimError(f"the Fokker-Planck integration failed: {result.message}")
    return result.y.T.reshape((len(times), *grid.shape))


def fokker_planck(
    config: SimulationConfig | dict[str, Any] | str | Path | None = None,
    *,
    cells: int | list[int] | None = None,
    domain: list[float] | list[list[float]] | None = None,
    history: str | None = None,
    rtol: float = 1e-8,
    **overrides: Any,
) -> xr.Dataset:
    """The Fokker-Planck density of a run's dust (non-interacting), on a grid over the frame times.

    Parameters
    ----------
    config : SimulationConfig, dict, path or None
        The run (the same config :func:`dustsim.simulate` takes; ``[interaction]`` is
        refused). ``overrides`` are config fields.
    cells : int or list of int, optional
        Grid cells per axis (default 400 in 1-D, 120 in 2-D).
    domain : [lo, hi] or one per axis, optional
        Grid extent on free axes (default: wide enough to hold the mass; see
        :func:`make_grid`). Box axes use the box.
    history : str, optional
        Text of the history entry.
    rtol : float
        Relative tolerance of the time integration.

    Returns
    -------
    xarray.Dataset
        ``density(time, x[, y])`` and ``mass(time)``; see ``docs/schema.md``.
    """
    from ..artifacts import make_artifact
    from ..config import interacting
    from ..processes import make_process
    from ..simulation import as_config
    from ..streams import artifact_rng, fresh_seed

    cfg = as_config(config).replace(**overrides)
    cfg.validate()
    if interacting(cfg.interaction):
        raise ConfigError("the Fokker-Planck solver is for non-interacting particles; drop the interaction")
    seed = cfg.seed if cfg.seed is not None else fresh_seed()
    steps, t_end = cfg.time_grid()
    artifact = make_artifact(cfg.init, cfg.n, cfg.dim, seed=artifact_rng(seed), options=cfg.artifact)
    dim = artifact.dim
    if dim not in (1, 2):
        raise ConfigError(f"the Fokker-Planck solver works in 1-D and 2-D, got dim = {dim}")
    process = make_process(cfg.process, **cfg.process_params)
    process.check_end_time(t_end)
    system = build_system(cfg, process, dim, artifact.labels, t_end)
    grid = make_grid(system, artifact.positions, t_end, cells, domain)
    times_all = t_end * (np.arange(steps + 1, dtype=np.float64) / steps)
    record = np.arange(0, steps + 1, cfg.record_every, dtype=np.int64)
    if record[-1] != steps:
        record = np.append(record, steps)
    times = times_all[record]
    types = system.particle_types(artifact.labels, len(artifact.positions))
    mf, _ = system.type_factors(np.dtype(np.float64))
    density = np.zeros((len(times), *grid.shape))
    for t in np.unique(types):
        mask = None if len(np.unique(types)) == 1 else types == t
        weight = 1.0 if mask is None else float(mask.mean())
        p0 = initial_density(grid, artifact.params, artifact.positions, mask)
        density += weight * solve(system, grid, p0, times, factor=float(mf[t]), rtol=rtol)
    resolved = cfg.replace(
        n=len(artifact.positions),
        dim=dim,
        steps=steps,
        t_end=t_end,
        dt=t_end / steps,
        seed=seed,
        process_params=process.params(),
        artifact=artifact.params,
        stepper="euler",
        **system.to_config(),
    )
    return density_dataset(density, grid, times, record, system, resolved, history)


def density_dataset(
    density: NDArray[np.float64],
    grid: Grid,
    times: NDArray[np.float64],
    steps: NDArray[np.int64],
    system: PhysicalSystem,
    config: SimulationConfig,
    history: str | None = None,
) -> xr.Dataset:
    """Assemble the density Dataset (schema: ``docs/schema.md``, "density datasets")."""
    names = spatial_labels(len(grid.edges))
    coords: dict[str, Any] = {
        "time": ("time", np.asarray(times, dtype=np.float64), {"long_name": "diffusion time", "units": "1"}),
        "step": ("time", np.asarray(steps, dtype=np.int64), {"long_name": "integration step", "units": "1"}),
    }
    for name, centres, edges in zip(names, grid.centres, grid.edges, strict=True):
        coords[name] = (name, centres, {"long_name": f"cell centre along {name}", "units": "1"})
        coords[f"{name}_edges"] = (f"{name}_edge", edges, {"long_name": f"cell edges along {name}", "units": "1"})
    mass = density.reshape(len(times), -1).sum(axis=1) * grid.cell_volume
    ds = xr.Dataset(
        {
            "density": (("time", *names), density, {"long_name": "probability density (cell average)", "units": "1"}),
            "mass": ("time", mass, {"long_name": "total probability on the grid", "units": "1"}),
        },
        coords=coords,
        attrs={
            "title": "dustsim Fokker-Planck density",
            "kind": "density",
            "source": f"dustsim {__version__}",
            "dustsim_version": __version__,
            "schema_version": SCHEMA_VERSION,
            "process": system.describe(),
            "boundary": system.boundary.describe(),
            "dynamics": "overdamped-langevin",
            "method": "finite volume, Scharfetter-Gummel fluxes, scipy BDF",
            "seed": int(config.seed or 0),
            "config": config.to_toml(),
            "history": history_line(history or "fokker-planck"),
        },
    )
    return ds


def validate_density(ds: xr.Dataset, source: str = "dataset") -> None:
    """Check that ``ds`` is a dustsim density dataset."""
    from ..errors import InputFileError

    if ds.attrs.get("kind") != "density" or "density" not in ds.data_vars:
        raise InputFileError(f"{source} is not a dustsim density dataset (attribute kind = 'density')")
    if ds["density"].dims[0] != "time":
        raise InputFileError(f"{source}: density must have time as its first dimension")


def boltzmann_density(system: PhysicalSystem, grid: Grid, kT: float | None = None) -> NDArray[np.float64]:
    """``exp(-U / kT)`` normalised on the grid (cell centres), for built-in potentials."""
    mesh = np.meshgrid(*grid.centres, indexing="ij")
    points = np.stack([m.ravel() for m in mesh], axis=-1)
    U = total_energy([p for p in system.potentials if p.name != "custom"], points).reshape(grid.shape)
    w = np.exp(-(U - U.min()) / (kT if kT is not None else system.kT))
    return w / (w.sum() * grid.cell_volume)


__all__ = [
    "Grid",
    "Operator",
    "bernoulli",
    "boltzmann_density",
    "density_dataset",
    "fokker_planck",
    "initial_density",
    "make_grid",
    "solve",
    "validate_density",
]
