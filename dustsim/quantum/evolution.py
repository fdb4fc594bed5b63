"""Split-operator (Strang) evolution of wavefunctions and density matrices on a grid.

One step of length ``dt`` under ``H = p^2 / 2m + V(x)``::

    psi <- e^{-i V dt / 2 hbar} F^-1 e^{-i p^2 dt / 2 m hbar} F e^{-i V dt / 2 hbar} psi

(``F`` the FFT). It is unitary to round-off (norm and purity are conserved to ~1e-13),
exact for a free particle (``V = 0``) at any ``dt``, and second-order accurate otherwise
(global error ``O(dt^2)``, from the commutator ``[T, V]``). Density matrices take the
same factors on both sides, ``rho <- U rho U^H``, and position dephasing
``d rho(x, x') / dt = -Lambda (x - x')^2 rho`` enters as its exact factor
``exp(-Lambda (x - x')^2 dt)``, split in two halves around the kinetic step (it commutes
with ``V``). The potentials are dustsim's own (:mod:`dustsim.physics.potentials`), evaluated by
their energy function.

The step size is checked before the run by step doubling: one step of ``dt`` against two
of ``dt / 2`` from the initial state estimates the local error; times the number of steps
it estimates the global error, which must stay below ``tolerance`` (relative, in the
state's norm).
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..physics.potentials import Potential, make_potentials, parse_spec, total_energy
from .grid import LEAK_TOLERANCE, QuantumGrid, check_resolved, check_resolved_density_matrix, momentum_density
from .states import check_density_matrix, normalise

#: default target of the estimated global split-operator error (relative, state norm)
DEFAULT_TOLERANCE = 1e-5


def resolve_potentials(potential: Any, dim: int) -> list[Potential]:
    """dustsim potentials from specs (``"harmonic:k=2"``), tables, Potential objects or None."""
    if potential is None:
        return []
    items = potential if isinstance(potential, (list, tuple)) else [potential]
    out: list[Potential] = []
    tables = []
    for item in items:
        if isinstance(item, Potential):
            out.append(item)
        elif isinstance(item, str):
            tables.append(parse_spec(item))
        elif isinstance(item, dict):
            tables.append(dict(item))
        else:
            raise ConfigError(f"a potential is a spec like 'harmonic:k=1' or a table, got {item!r}")
    out += make_potentials(tables, dim)
    if any(p.name == "custom" for p in out):
        raise ConfigError("quantum dust needs the potential's energy: custom forces are not supported")
    return out


def potential_on_grid(grid: QuantumGrid, potentials: Sequence[Potential], dim: int = 1) -> NDArray[np.float64]:
    """``V`` at the grid points (energy), shape ``(n,)`` or ``(n, n)``, from dustsim's energy functions."""
    x = grid.x
    if dim == 1:
        points = x[:, None]
    else:
        mesh = np.meshgrid(x, x, indexing="ij")
        points = np.stack(mesh, axis=-1)
    return total_energy(list(potentials), points) if potentials else np.zeros(points.shape[:-1])


@dataclass(frozen=True)
class TimeGrid:
    """Steps of a run: ``steps`` of ``dt``, frames at ``record`` (step indices)."""

    dt: float
    steps: int
    record: NDArray[np.int64]

    @property
    def times(self) -> NDArray[np.float64]:
        return np.asarray(self.record * self.dt, dtype=np.float64)


def time_grid(t_end: float, dt: float, record_every: int = 1) -> TimeGrid:
    """``ceil(t_end / dt)`` equal steps ending at ``t_end``; frames every ``record_every`` steps and the last."""
    if not (math.isfinite(t_end) and t_end > 0):
        raise ConfigError(f"t_end must be positive, got {t_end!r}")
    if not (math.isfinite(dt) and dt > 0):
        raise ConfigError(f"dt must be positive, got {dt!r}")
    if isinstance(record_every, bool) or not isinstance(record_every, int) or record_every < 1:
        raise ConfigError(f"record_every must be a positive integer, got {record_every!r}")
    steps = max(1, math.ceil(t_end / dt - 1e-9))
    record = np.arange(0, steps + 1, record_every, dtype=np.int64)
    if record[-1] != steps:
        record = np.append(record, steps)
    return TimeGrid(t_end / steps, steps, record)


# ------------------------------------------------------------------------ the steps
class _Stepper:
    """The factors of one Strang step, for wavefunctions (1-D, 2-D) or density matrices."""

    def __init__(self, grid: QuantumGrid, V: NDArray[np.float64], dt: float, kind: str, dephasing: float) -> None:
        self.grid, self.kind = grid, kind
        T = grid.kinetic()
        if kind == "wavefunction" and V.ndim == 2:
            T = T[:, None] + T[None, :]
        self.kinetic = np.exp(-1j * T * dt / grid.hbar)
        if kind == "wavefunction":
            self.half = np.exp(-0.5j * V * dt / grid.hbar)
        else:
            x = grid.x
            phase = np.exp(-0.5j * V * dt / grid.hbar)
            self.half = np.outer(phase, phase.conj()) * np.exp(-0.5 * dephasing * (x[:, None] - x[None, :]) ** 2 * dt)

    def _kin(self, a: NDArray[np.complex128], axis: int) -> NDArray[np.complex128]:
        shape = [1] * a.ndim
        shape[axis] = -1
        return np.fft.ifft(self.kinetic.reshape(shape) * np.fft.fft(a, axis=axis), axis=axis)

    def __call__(self, state: NDArray[np.complex128]) -> NDArray[np.complex128]:
        state = self.half * state
        if self.kind == "wavefunction":
            state = np.fft.ifftn(self.kinetic * np.fft.fftn(state))
        else:
            a = self._kin(state, 0)  # U rho
            state = self._kin(a.conj().T, 0).conj().T  # (U (U rho)^H)^H = U rho U^H
        return self.half * state


def _norm(grid: QuantumGrid, state: NDArray[np.complex128]) -> float:
    return float(np.sqrt(np.sum(np.abs(state) ** 2) * grid.dx**state.ndim))


def estimate_error(
    grid: QuantumGrid,
    state: NDArray[np.complex128],
    V: NDArray[np.float64],
    dt: float,
    steps: int,
    kind: str,
    dephasing: float = 0.0,
) -> float:
    """Step-doubling estimate of the global error of ``steps`` Strang steps of ``dt`` (relative).

    One step of ``dt`` and two of ``dt / 2`` differ by ``(3/4) e`` where ``e ~ C dt^3`` is
    the local error of one step of ``dt``; the global error is about ``steps e``.
    """
    one = _Stepper(grid, V, dt, kind, dephasing)(state)
    half = _Stepper(grid, V, dt / 2, kind, dephasing)
    two = half(half(state))
    local = _norm(grid, one - two) / _norm(grid, state) * 4.0 / 3.0
    return steps * local


def _check_step(grid: QuantumGrid, state, V, tg: TimeGrid, kind: str, dephasing: float, tolerance: float) -> float:
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ConfigError(f"tolerance must be positive, got {tolerance!r}")
    error = estimate_error(grid, state, V, tg.dt, tg.steps, kind, dephasing)
    if error > tolerance:
        suggestion = tg.dt * math.sqrt(tolerance / error) * 0.8
        raise ConfigError(
            f"dt = {tg.dt:.3g} is too large for the split-operator accuracy target: estimated global error "
            f"{error:.2g} > tolerance {tolerance:.2g}; use dt <= {suggestion:.2g} (or raise --tolerance)"
        )
    return error


def _leak(grid: QuantumGrid, state: NDArray[np.complex128], kind: str) -> float:
    if kind == "density-matrix":
        pd = np.abs(np.diag(np.fft.fft(np.fft.ifft(state, axis=1), axis=0))) * grid.dx
        # diag of F rho F^H / n: momentum probabilities (up to the constant fixed by the ratio)
    else:
        pd = momentum_density(grid, state, axis=0)
        if state.ndim == 2:
            pd = pd.sum(axis=1)
    high = np.abs(grid.p) > 0.5 * grid.p_nyquist
    return float(pd[high].sum() / pd.sum())


def _warn_if_unresolved(grid: QuantumGrid, state: NDArray[np.complex128], kind: str, t: float) -> bool:
    """Warn (once) when the evolving state leaves what the grid can carry; True if it did."""
    if _leak(grid, state, kind) > 1e3 * LEAK_TOLERANCE:
        warnings.warn(
            f"at t = {t:.4g} the state's momentum reaches beyond half the grid's band: "
            "later frames may be aliased; use more points",
            stacklevel=4,
        )
        return True
    density = np.abs(np.diag(state)).real if kind == "density-matrix" else np.abs(state) ** 2
    if density.ndim == 2:
        density = density.sum(axis=1)
    m = max(1, grid.n // 50)
    if (density[:m].sum() + density[-m:].sum()) / density.sum() > 1e3 * LEAK_TOLERANCE:
        warnings.warn(
            f"at t = {t:.4g} the state reaches the edge of the (periodic) domain: later frames "
            "wrap around; widen the domain",
            stacklevel=4,
        )
        return True
    return False


def _run(
    grid: QuantumGrid,
    state: NDArray[np.complex128],
    V: NDArray[np.float64],
    tg: TimeGrid,
    kind: str,
    dephasing: float,
    progress: bool | None,
) -> NDArray[np.complex128]:
    from tqdm.auto import tqdm

    step = _Stepper(grid, V, tg.dt, kind, dephasing)
    frames = np.empty((len(tg.record), *state.shape), dtype=np.complex128)
    frames[0] = state
    enabled = sys.stderr.isatty() if progress is None else progress
    done, warned = 0, False
    with tqdm(total=tg.steps, unit="step", desc="quantum", disable=not enabled, leave=False) as bar:
        for i, target in enumerate(tg.record[1:], start=1):
            for _ in range(int(target - done)):
                state = step(state)
            bar.update(int(target - done))
            done = int(target)
            frames[i] = state
            if not warned:
                warned = _warn_if_unresolved(grid, state, kind, done * tg.dt)
    return frames


def evolve_wavefunction(
    grid: QuantumGrid,
    psi: NDArray[np.complex128],
    *,
    t_end: float,
    dt: float,
    potential: Any = None,
    record_every: int = 1,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    """Evolve a pure state (1-D ``(n,)`` or 2-D ``(n, n)``) under ``H = p^2/2m + V``.

    Parameters
    ----------
    grid : QuantumGrid
    psi : complex array
        The initial state (normalised here; refused if the grid cannot carry it).
    t_end, dt : float
        End time and step (time units); ``dt`` is shortened to divide ``t_end``.
    potential : spec, table, Potential or list of them, optional
        dustsim potentials (``"harmonic:k=1"``, ``"double-well:barrier=2"``), applied to
        every axis as for the classical dust.
    record_every : int
        Steps between stored frames (the last step is always stored).
    tolerance : float
        Target of the estimated global split-operator error (see :func:`estimate_error`).
    progress : bool, optional
        Progress bar (default: when stderr is a terminal).

    Returns
    -------
    times : ndarray, shape (frames,)
    psi : ndarray, shape (frames, n) or (frames, n, n)
    """
    psi = normalise(grid, psi)
    for axis in range(psi.ndim):
        check_resolved(grid, psi, "the initial state", axis=axis)
    V = potential_on_grid(grid, resolve_potentials(potential, psi.ndim), psi.ndim)
    tg = time_grid(t_end, dt, record_every)
    _check_step(grid, psi, V, tg, "wavefunction", 0.0, tolerance)
    return tg.times, _run(grid, psi, V, tg, "wavefunction", 0.0, progress)


def evolve_density_matrix(
    grid: QuantumGrid,
    rho: NDArray[np.complex128],
    *,
    t_end: float,
    dt: float,
    potential: Any = None,
    dephasing: float = 0.0,
    record_every: int = 1,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.complex128]]:
    """Evolve a 1-D density matrix under ``H`` with position dephasing of rate ``dephasing``.

    ``d rho/dt = -(i/hbar) [H, rho] - Lambda (x - x')^2 rho`` with ``Lambda = dephasing``
    (1 / (length^2 time)); other parameters as :func:`evolve_wavefunction`. The dephasing
    factor is exact per step; the state's support must stay away from the grid's edges
    (``x - x'`` is the plain difference, not wrapped).

    Returns
    -------
    times : ndarray, shape (frames,)
    rho : ndarray, shape (frames, n, n)
    """
    if not (math.isfinite(dephasing) and dephasing >= 0):
        raise ConfigError(f"the dephasing rate must be >= 0, got {dephasing!r}")
    rho = check_density_matrix(grid, rho)
    check_resolved_density_matrix(grid, rho, "the initial state")
    V = potential_on_grid(grid, resolve_potentials(potential, 1), 1)
    tg = time_grid(t_end, dt, record_every)
    _check_step(grid, rho, V, tg, "density-matrix", dephasing, tolerance)
    return tg.times, _run(grid, rho, V, tg, "density-matrix", dephasing, progress)


__all__ = [
    "DEFAULT_TOLERANCE",
    "TimeGrid",
    "estimate_error",
    "evolve_density_matrix",
    "evolve_wavefunction",
    "potential_on_grid",
    "resolve_potentials",
    "time_grid",
]
