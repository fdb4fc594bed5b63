"""The Wigner function, and the Caldeira-Leggett master equation solved in phase space.

Wigner function of a density matrix on the grid (``y = j dx``)::

    W(x, p) = (1 / pi hbar) sum_j rho(x + y, x - y) exp(-2 i p y / hbar) dx

on the momenta ``p_m = pi hbar m / (n dx)``, ``|p| < pi hbar / (2 dx)`` (half the grid's
Nyquist momentum: the transform doubles the frequencies, which is why
:func:`~dustsim.quantum.grid.check_resolved` keeps states inside half the band).
``sum_p W dp = rho(x, x)`` and ``2 pi hbar sum W^2 dx dp = tr rho^2`` hold exactly on the
grid. Its negative volume ``N = sum max(-W, 0) dx dp = (sum |W| dx dp - 1) / 2``
(Kenfack & Zyczkowski 2004) is zero for every classical mixture of Gaussians and
positive for a cat's interference fringes.

Caldeira-Leggett (convention: ``gamma`` is the momentum damping rate, ``d<p>/dt = -<V'>
- gamma <p>``)::

    d rho/dt = -(i/hbar) [H, rho] - (i gamma / 2 hbar) [x, {p, rho}] - (m gamma kT / hbar^2) [x, [x, rho]]

In the Wigner picture it is ``dW/dt = -(p/m) dW/dx + (quantum potential term) + gamma
d(pW)/dp + m gamma kT d^2W/dp^2``. The solver splits it (Strang) into three parts, each
solved exactly on the grid: free streaming ``W(x - p dt/m, p)`` (FFT in x); the potential,
exact for any ``V`` (the Moyal term), as the phase ``exp(-i [V(x + r/2) - V(x - r/2)] dt /
hbar)`` on the chord representation ``rho_c(x, r) = sum_p W(x, p) exp(i p r / hbar) dp``;
and the Ornstein-Uhlenbeck process of the momentum, exactly ``rho_c(x, r) -> rho_c(x, r
e^{-gamma dt}) exp(-m kT r^2 (1 - e^{-2 gamma dt}) / (2 hbar^2))`` (the dilated chord
evaluated from W by a direct sum, no interpolation). The time-splitting error is
``O(dt^2)``; the grid error is spectral while W fits the phase-space box.

What is approximated: the Caldeira-Leggett equation itself is the high-temperature
(``kT >> hbar gamma``), weak-coupling (Markov) limit of an oscillator bath; it is not of
Lindblad form, so at low temperature or very short times it can make ``rho`` slightly
non-positive. With ``gamma -> infinity`` at fixed ``D = kT / (m gamma)`` the position
density follows the Smoluchowski equation ``dp/dt = d/dx (V' p / (m gamma) + D dp/dx)``,
the overdamped dust of :mod:`dustsim.physics.system` with mobility ``1 / (m gamma)``; the
corrections are ``O(1 / (gamma t))`` (initial velocity relaxation: a position variance
short by ``2D/gamma``) and ``O(omega^2 / gamma^2)`` for curvature ``omega^2 = V''/m``.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError
from ..physics.potentials import total_energy
from .evolution import DEFAULT_TOLERANCE, resolve_potentials, time_grid
from .grid import QuantumGrid


def wigner_momenta(grid: QuantumGrid) -> NDArray[np.float64]:
    """The sorted momenta of the grid's Wigner function, ``pi hbar m / (n dx)`` (momentum units)."""
    step = math.pi * grid.hbar / (grid.n * grid.dx)
    return np.asarray(step * np.arange(-grid.n // 2, grid.n - grid.n // 2), dtype=np.float64)


def _chord_indices(n: int) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.bool_]]:
    i = np.arange(n)[:, None]
    j = np.fft.ifftshift(np.arange(-n // 2, n - n // 2))[None, :]  # FFT order
    a, b = i + j, i - j
    valid = (a >= 0) & (a < n) & (b >= 0) & (b < n)
    return np.clip(a, 0, n - 1), np.clip(b, 0, n - 1), valid


def wigner(grid: QuantumGrid, rho: NDArray[np.complex128]) -> NDArray[np.float64]:
    """The Wigner function ``W(x, p)`` (1 / action) of a density matrix ``(n, n)`` or a 1-D wavefunction.

    Returns
    -------
    ndarray, shape (n, n)
        ``W[i, m]`` at ``x_i`` and ``p_m`` = :func:`wigner_momenta` ``[m]``.
    """
    rho = np.asarray(rho, dtype=np.complex128)
    if rho.ndim == 1:
        rho = np.outer(rho, rho.conj())
    a, b, valid = _chord_indices(grid.n)
    chord = np.where(valid, rho[a, b], 0.0)
    W = np.fft.fftshift(np.fft.fft(chord, axis=1), axes=1).real
    return W * grid.dx / (math.pi * grid.hbar)


def wigner_cell(grid: QuantumGrid) -> float:
    """The phase-space cell ``dx dp`` of the Wigner grid (action)."""
    return grid.dx * math.pi * grid.hbar / (grid.n * grid.dx)


def negative_volume(grid: QuantumGrid, W: NDArray[np.float64]) -> float:
    """``sum max(-W, 0) dx dp``: the Wigner function's negative volume (dimensionless)."""
    return float(np.sum(np.maximum(-W, 0.0)) * wigner_cell(grid))


def gaussian_wigner(
    grid: QuantumGrid,
    centre: float = 0.0,
    width: float = 0.5,
    momentum_width: float | None = None,
    momentum: float = 0.0,
) -> NDArray[np.float64]:
    """A Gaussian state in phase space: ``N(x; centre, width^2) N(p; momentum, momentum_width^2)``.

    ``momentum_width`` defaults to the minimum-uncertainty ``hbar / (2 width)``; a larger one
    is a mixed (e.g. thermal) state. Smaller ones violate the uncertainty relation: refused.
    """
    s_p = grid.hbar / (2 * width) if momentum_width is None else float(momentum_width)
    if not (width > 0 and s_p > 0):
        raise ConfigError("Gaussian phase-space state: widths must be positive")
    if width * s_p < grid.hbar / 2 * (1 - 1e-12):
        raise ConfigError(f"width * momentum_width = {width * s_p:.3g} < hbar/2: not a quantum state")
    x, p = grid.x[:, None], wigner_momenta(grid)[None, :]
    W = np.exp(-0.5 * ((x - centre) / width) ** 2 - 0.5 * ((p - momentum) / s_p) ** 2)
    return W / (W.sum() * wigner_cell(grid))


def _check_fits(grid: QuantumGrid, W: NDArray[np.float64], what: str) -> None:
    total = float(np.sum(np.abs(W)))
    m = max(1, grid.n // 50)
    edge_x = float(np.abs(W[:m]).sum() + np.abs(W[-m:]).sum()) / total
    edge_p = float(np.abs(W[:, :m]).sum() + np.abs(W[:, -m:]).sum()) / total
    if edge_x > 1e-8:
        raise ConfigError(f"{what} reaches the edge of the domain [{grid.lo:g}, {grid.hi:g}): widen the domain")
    if edge_p > 1e-8:
        raise ConfigError(
            f"{what} reaches the edge of the Wigner momentum range +-{math.pi * grid.hbar / (2 * grid.dx):.4g} "
            "(pi hbar / 2 dx): use more grid points (smaller dx)"
        )


def _cl_step(grid: QuantumGrid, potential: Any, tau: float, gamma: float, kT: float) -> Any:
    """One Strang step of length ``tau`` of the Caldeira-Leggett equation on W (see the module docstring)."""
    pots = resolve_potentials(potential, 1)
    p = wigner_momenta(grid)
    dp = p[1] - p[0]
    n = grid.n
    r = np.fft.ifftshift(np.arange(-n // 2, n - n // 2)) * 2 * grid.dx  # FFT order, chord x - x'
    x = grid.x

    def energy(points: NDArray[np.float64]) -> NDArray[np.float64]:
        return total_energy(pots, points[..., None]) if pots else np.zeros(points.shape)

    phase = np.exp(-1j * (energy(x[:, None] + r / 2) - energy(x[:, None] - r / 2)) * (tau / 2) / grid.hbar)
    shrink = math.exp(-gamma * tau / 2)
    damp = np.exp(-grid.mass * kT * r**2 * (1 - math.exp(-gamma * tau)) / (2 * grid.hbar**2))
    # the chord at the dilated r from W(p) (sorted p), a direct sum: E[m, j] = exp(i p_m r_j shrink / hbar) dp
    dilate = np.exp(1j * np.outer(p, r * shrink) / grid.hbar) * dp
    stream = np.exp(-1j * np.outer(grid.k, p) * tau / grid.mass)  # W(x - p tau / m, p) in (k, p)
    # p_m r_j / hbar = 2 pi (m - n/2) j / n: the plain chord <-> W transforms are FFTs with a sign flip
    sign = np.where(np.fft.ifftshift(np.arange(-n // 2, n - n // 2)) % 2 == 0, 1.0, -1.0)

    def chord(W: NDArray[np.float64]) -> NDArray[np.complex128]:
        return np.fft.ifft(W, axis=1) * (n * dp) * sign

    def to_w(c: NDArray[np.complex128]) -> NDArray[np.float64]:
        return np.fft.fft(c * sign, axis=1).real * (2 * grid.dx / (2 * math.pi * grid.hbar))

    def step(W: NDArray[np.float64]) -> NDArray[np.float64]:
        # potential (tau/2), OU (tau/2), streaming (tau), OU (tau/2), potential (tau/2): symmetric, O(tau^2)
        W = to_w(chord(W) * phase)
        W = to_w((W @ dilate) * damp)
        W = np.fft.ifft(stream * np.fft.fft(W, axis=0), axis=0).real
        return to_w((W @ dilate) * damp * phase)

    return step


def caldeira_leggett(
    grid: QuantumGrid,
    W0: NDArray[np.float64],
    *,
    t_end: float,
    dt: float,
    gamma: float,
    kT: float,
    potential: Any = None,
    record_every: int = 1,
    tolerance: float = DEFAULT_TOLERANCE,
    progress: bool | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Evolve a Wigner function under the Caldeira-Leggett equation (see the module docstring).

    Parameters
    ----------
    grid : QuantumGrid
    W0 : ndarray, shape (n, n)
        Initial Wigner function on ``(x, wigner_momenta(grid))`` (e.g. :func:`wigner`,
        :func:`gaussian_wigner`).
    t_end, dt : float
        End time and step (time units); ``gamma dt <= 0.5`` is required.
    gamma : float
        Momentum damping rate (1 / time), >= 0.
    kT : float
        Bath temperature (energy), >= 0.
    potential : spec(s), optional
        dustsim potentials, as for :func:`~dustsim.quantum.evolution.evolve_wavefunction`.
    record_every : int
        Steps between stored frames.
    tolerance : float
        Target of the step-doubling estimate of the global splitting error (relative, L2
        norm of W; errors add up over at most the relaxation time ``1 / gamma``).

    Returns
    -------
    times : ndarray, shape (frames,)
    W : ndarray, shape (frames, n, n)
    """
    from tqdm.auto import tqdm

    for name, value in (("gamma", gamma), ("kT", kT)):
        if not (math.isfinite(value) and value >= 0):
            raise ConfigError(f"{name} must be >= 0, got {value!r}")
    W = np.asarray(W0, dtype=np.float64)
    if W.shape != (grid.n, grid.n) or not np.all(np.isfinite(W)):
        raise ConfigError(f"the Wigner function must be finite with shape ({grid.n}, {grid.n})")
    norm = float(W.sum() * wigner_cell(grid))
    if not norm > 0:
        raise ConfigError(f"the Wigner function is not normalisable (integral {norm:g})")
    W = W / norm
    _check_fits(grid, W, "the initial state")
    tg = time_grid(t_end, dt, record_every)
    if gamma * tg.dt > 0.5:
        raise ConfigError(
            f"dt = {tg.dt:.3g} is too large for the damping: use dt <= {0.5 / gamma:.3g} (gamma dt <= 0.5)"
        )
    step = _cl_step(grid, potential, tg.dt, gamma, kT)
    half = _cl_step(grid, potential, tg.dt / 2, gamma, kT)
    # step doubling: local error ~ (4/3)|one step - two half steps|; the damped dynamics forgets its errors over
    # the relaxation time 1/gamma, so they add up over min(steps, 1/(gamma dt)) steps (calibrated on the free
    # particle against the exact Kramers variance: estimate 7.4e-4, measured 8.0e-4 at gamma dt = 0.1)
    local = 4.0 / 3.0 * float(np.linalg.norm(step(W) - half(half(W))) / np.linalg.norm(W))
    error = local * (tg.steps if gamma == 0 else min(tg.steps, math.ceil(1.0 / (gamma * tg.dt))))
    if not (math.isfinite(tolerance) and tolerance > 0):
        raise ConfigError(f"tolerance must be positive, got {tolerance!r}")
    if error > tolerance:
        raise ConfigError(
            f"dt = {tg.dt:.3g} is too large for the split-operator accuracy target: estimated global error "
            f"{error:.2g} > tolerance {tolerance:.2g}; use dt <= {tg.dt * math.sqrt(tolerance / error) * 0.8:.2g} "
            "(or raise --tolerance)"
        )
    frames = np.empty((len(tg.record), grid.n, grid.n))
    frames[0] = W
    enabled = sys.stderr.isatty() if progress is None else progress
    done = 0
    with tqdm(total=tg.steps, unit="step", desc="caldeira-leggett", disable=not enabled, leave=False) as bar:
        for i, target in enumerate(tg.record[1:], start=1):
            for _ in range(int(target - done)):
                W = step(W)
            bar.update(int(target - done))
            done = int(target)
            frames[i] = W
    return tg.times, frames


__all__ = ["caldeira_leggett", "gaussian_wigner", "negative_volume", "wigner", "wigner_cell", "wigner_momenta"]
