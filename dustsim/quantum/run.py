"""One call from a state spec to the quantum-state Dataset (what ``dustsim quantum`` writes).

The Dataset (``attrs["kind"] = "quantum-state"``, see ``docs/schema.md``) holds the
position density ``density(time, x[, y])`` of every frame and the state itself in one of
three representations (``attrs["representation"]``):

``wavefunction``
    ``psi_real``, ``psi_imag`` ``(time, x[, y])``: pure states, no environment.
``density-matrix``
    ``rho_real``, ``rho_imag`` ``(time, x, x_prime)``: position dephasing (``dephasing``
    = Lambda > 0) or a mixed initial state.
``wigner``
    ``wigner(time, x, p)``: the Caldeira-Leggett equation (``gamma > 0``).

netCDF has no complex type, hence the real/imaginary pairs; :func:`state_frames` reads
them back as complex arrays.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from .._version import __version__
from ..errors import ConfigError, InputFileError
from ..schema import SCHEMA_VERSION, history_line
from .evolution import DEFAULT_TOLERANCE, evolve_density_matrix, evolve_wavefunction, resolve_potentials, time_grid
from .grid import QuantumGrid
from .phase_space import caldeira_leggett, wigner, wigner_momenta
from .states import make_state, pure_density_matrix

REPRESENTATIONS = ("wavefunction", "density-matrix", "wigner")


def quantum_run(
    state: str = "gaussian",
    *,
    points: int = 256,
    domain: tuple[float, float] = (-10.0, 10.0),
    dim: int = 1,
    hbar: float = 1.0,
    mass: float = 1.0,
    potential: Any = None,
    t_end: float = 1.0,
    dt: float = 0.01,
    record_every: int = 10,
    dephasing: float = 0.0,
    gamma: float = 0.0,
    kT: float = 0.0,
    tolerance: float = DEFAULT_TOLERANCE,
    seed: int = 0,
    progress: bool | None = None,
    history: str | None = None,
) -> xr.Dataset:
    """Evolve quantum dust from ``state`` and return the quantum-state Dataset.

    Parameters
    ----------
    state : str
        Initial state spec: ``gaussian[:centre=,width=,momentum=]``, ``cat[:separation=,
        width=,centre=,phase=,momentum=]``, ``mixed[:centre=,width=,momentum_width=]``,
        ``artifact:SPEC`` (``|psi|^2`` = the artifact's 1-D density) or ``file:PATH.npy``
        (a wavefunction or density matrix on this grid).
    points, domain : int, (float, float)
        Grid points and extent ``[lo, hi)`` (length, periodic).
    dim : int
        1, or 2 (pure states only, the same grid on both axes).
    hbar, mass : float
        Reduced Planck constant and mass.
    potential : spec(s), optional
        dustsim potentials (``"harmonic:k=1"``, ``"double-well:barrier=2,width=1"``).
    t_end, dt, record_every : float, float, int
        End time, split-operator step, steps between frames.
    dephasing : float
        Position dephasing rate Lambda (1 / (length^2 time)).
    gamma, kT : float
        Caldeira-Leggett damping rate (1 / time) and bath temperature (energy).
    tolerance : float
        Target of the estimated split-operator error (wavefunction and density matrix).
    seed : int
        Seed of the artifact sampling (``artifact:`` states).
    """
    grid = QuantumGrid(int(points), float(domain[0]), float(domain[1]), float(hbar), float(mass))
    resolve_potentials(potential, dim)  # fail early on a bad spec
    if gamma < 0 or kT < 0 or dephasing < 0:
        raise ConfigError("dephasing, gamma and kT must be >= 0")
    if (gamma > 0) != (kT > 0):
        raise ConfigError("the Caldeira-Leggett equation needs both gamma > 0 and kT > 0")
    initial, pure = make_state(grid, state, dim=dim, seed=seed)
    representation = "wigner" if gamma > 0 else "density-matrix" if (dephasing > 0 or not pure) else "wavefunction"
    if dim == 2 and representation != "wavefunction":
        raise ConfigError("2-D quantum dust is pure states only: drop dephasing / gamma, or use dim = 1")
    if gamma > 0 and dephasing > 0:
        raise ConfigError("give either dephasing (pure position dephasing) or gamma and kT (Caldeira-Leggett)")
    common = {"t_end": t_end, "dt": dt, "potential": potential, "record_every": record_every, "progress": progress}
    frames: NDArray[Any]  # complex wavefunctions / density matrices, or real Wigner functions
    if representation == "wavefunction":
        times, frames = evolve_wavefunction(grid, initial, tolerance=tolerance, **common)
    elif representation == "density-matrix":
        rho0 = pure_density_matrix(initial) if pure else initial
        times, frames = evolve_density_matrix(grid, rho0, dephasing=dephasing, tolerance=tolerance, **common)
    else:
        rho0 = pure_density_matrix(initial) if pure else initial
        times, frames = caldeira_leggett(grid, wigner(grid, rho0), gamma=gamma, kT=kT, tolerance=tolerance, **common)
    params = {
        "state": state,
        "points": grid.n,
        "domain": [grid.lo, grid.hi],
        "dim": dim,
        "hbar": grid.hbar,
        "mass": grid.mass,
        "potential": [p.to_table() for p in resolve_potentials(potential, dim)],
        "t_end": t_end,
        "dt": time_grid(t_end, dt, record_every).dt,
        "record_every": record_every,
        "dephasing": dephasing,
        "gamma": gamma,
        "kT": kT,
        "tolerance": tolerance,
        "seed": seed,
    }
    return state_dataset(grid, times, frames, representation, params, history)


def state_dataset(
    grid: QuantumGrid,
    times: NDArray[np.float64],
    frames: NDArray,
    representation: str,
    params: dict[str, Any],
    history: str | None = None,
) -> xr.Dataset:
    """Assemble the quantum-state Dataset from evolved frames (see the module docstring)."""
    import tomli_w

    times = np.asarray(times, dtype=np.float64)
    dt = float(params.get("dt", 0.0))
    steps = np.rint(times / dt).astype(np.int64) if dt > 0 else np.arange(len(times))
    x = grid.x
    length = {"units": "1"}
    coords: dict[str, Any] = {
        "time": ("time", times, {"long_name": "time", "units": "1"}),
        "step": ("time", steps, {"long_name": "split-operator step", "units": "1"}),
        "x": ("x", x, {"long_name": "position", **length}),
    }
    data: dict[str, Any] = {}
    if representation == "wavefunction":
        dims = ("time", "x") if frames.ndim == 2 else ("time", "x", "y")
        if frames.ndim == 3:
            coords["y"] = ("y", x, {"long_name": "position", **length})
        density = np.abs(frames) ** 2
        data["psi_real"] = (dims, frames.real, {"long_name": "wavefunction, real part", "units": "1"})
        data["psi_imag"] = (dims, frames.imag, {"long_name": "wavefunction, imaginary part", "units": "1"})
    elif representation == "density-matrix":
        dims = ("time", "x")
        coords["x_prime"] = ("x_prime", x, {"long_name": "second position argument of rho", **length})
        density = np.einsum("tii->ti", frames).real.copy()
        mdims = ("time", "x", "x_prime")
        for part, values in (("real", frames.real), ("imaginary", frames.imag)):
            data[f"rho_{part[:4]}"] = (
                mdims,
                values,
                {"long_name": f"density matrix rho(x, x'), {part} part", "units": "1"},
            )
    elif representation == "wigner":
        dims = ("time", "x")
        p = wigner_momenta(grid)
        coords["p"] = ("p", p, {"long_name": "momentum", "units": "1"})
        density = frames.sum(axis=2) * (p[1] - p[0])
        data["wigner"] = (("time", "x", "p"), frames, {"long_name": "Wigner function W(x, p)", "units": "1"})
    else:
        raise ValueError(f"representation must be one of {REPRESENTATIONS}")
    data["density"] = (dims, density, {"long_name": "position probability density |psi|^2 = rho(x, x)", "units": "1"})
    config = tomli_w.dumps({"quantum": {k: v for k, v in params.items() if v is not None}})
    attrs = {
        "title": "dustsim quantum state",
        "kind": "quantum-state",
        "representation": representation,
        "source": f"dustsim {__version__}",
        "dustsim_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "hbar": grid.hbar,
        "mass": grid.mass,
        "dx": grid.dx,
        "dephasing": float(params.get("dephasing", 0.0)),
        "gamma": float(params.get("gamma", 0.0)),
        "kT": float(params.get("kT", 0.0)),
        "initial_state": str(params.get("state", "")),
        "method": {
            "wavefunction": "split-operator (Strang), FFT",
            "density-matrix": "split-operator (Strang) on both sides, exact dephasing factor",
            "wigner": "Caldeira-Leggett in phase space: Strang splitting, exact sub-flows",
        }[representation],
        "seed": int(params.get("seed", 0)),
        "config": config,
        "history": history_line(history or "quantum"),
    }
    return xr.Dataset(data, coords=coords, attrs=attrs)


def validate_state_dataset(ds: xr.Dataset, source: str = "dataset") -> None:
    """Check that ``ds`` is a dustsim quantum-state Dataset."""
    if ds.attrs.get("kind") != "quantum-state" or "density" not in ds.data_vars:
        raise InputFileError(f"{source} is not a dustsim quantum-state dataset (attribute kind = 'quantum-state')")
    if ds.attrs.get("representation") not in REPRESENTATIONS:
        raise InputFileError(f"{source}: representation must be one of {REPRESENTATIONS}")


def grid_of(ds: xr.Dataset) -> QuantumGrid:
    """The :class:`~dustsim.quantum.grid.QuantumGrid` of a quantum-state Dataset."""
    x = np.asarray(ds["x"].values, dtype=np.float64)
    dx = float(ds.attrs.get("dx", x[1] - x[0]))
    return QuantumGrid(len(x), float(x[0]), float(x[0]) + dx * len(x), float(ds.attrs["hbar"]), float(ds.attrs["mass"]))


def state_frames(ds: xr.Dataset) -> NDArray:
    """The state of every frame: complex ``psi`` / ``rho``, or real ``W`` (by representation)."""
    validate_state_dataset(ds)
    rep = ds.attrs["representation"]
    if rep == "wavefunction":
        return ds["psi_real"].values + 1j * ds["psi_imag"].values
    if rep == "density-matrix":
        return ds["rho_real"].values + 1j * ds["rho_imag"].values
    return ds["wigner"].values


def density_matrix(ds: xr.Dataset, k: int) -> NDArray[np.complex128] | None:
    """``rho(x, x')`` of frame ``k`` of a 1-D state (pure states: ``psi psi^H``); None for Wigner runs and 2-D."""
    rep = ds.attrs["representation"]
    if rep == "wavefunction":
        if ds["psi_real"].ndim != 2:
            return None
        psi = ds["psi_real"].isel(time=k).values + 1j * ds["psi_imag"].isel(time=k).values
        return np.outer(psi, psi.conj())
    if rep == "density-matrix":
        return ds["rho_real"].isel(time=k).values + 1j * ds["rho_imag"].isel(time=k).values
    return None


def density_matrices(ds: xr.Dataset) -> NDArray[np.complex128] | None:
    """``rho(x, x')`` of every frame (shape ``(time, n, n)``) of a 1-D state; None for Wigner runs and 2-D."""
    frames = [density_matrix(ds, k) for k in range(ds.sizes["time"])]
    present = [rho for rho in frames if rho is not None]
    if len(present) != len(frames):
        return None
    return np.stack(present)


def wigner_frames(ds: xr.Dataset, every: int = 1) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """``(p, W)``: the Wigner function of every ``every``-th frame of a 1-D state, shape ``(frames, n, n)``."""
    grid = grid_of(ds)
    if ds.attrs["representation"] == "wigner":
        return np.asarray(ds["p"].values), ds["wigner"].values[::every]
    frames = state_frames(ds)
    if ds.attrs["representation"] == "wavefunction" and frames.ndim != 2:
        raise ConfigError("the Wigner function is for 1-D states")
    return wigner_momenta(grid), np.stack([wigner(grid, f) for f in frames[::every]])


__all__ = [
    "REPRESENTATIONS",
    "density_matrices",
    "density_matrix",
    "grid_of",
    "quantum_run",
    "state_dataset",
    "state_frames",
    "validate_state_dataset",
    "wigner_frames",
]
