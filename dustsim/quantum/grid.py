"""The position grid of quantum dust: points, momenta, and the checks that a state fits it.

Reduced units: lengths in the positions' unit, ``hbar`` and ``mass`` explicit (both 1 by
default), energies in ``hbar^2 / (mass length^2)`` when those are 1, times in
``hbar / energy``. The grid is periodic (the FFT's), so a state must stay away from its
edges and its momentum content must stay well inside the band ``|p| < pi hbar / dx``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError

#: probability allowed beyond half the Nyquist momentum, and within EDGE_FRACTION of the edges
LEAK_TOLERANCE = 1e-10
#: the outer fraction of the domain (each side) that must hold no probability
EDGE_FRACTION = 0.02


@dataclass(frozen=True)
class QuantumGrid:
    """A uniform periodic 1-D grid of ``n`` points on ``[lo, hi)``.

    Attributes
    ----------
    n : int
        Number of points (even numbers make the fastest FFTs).
    lo, hi : float
        Domain (length units); the point spacing is ``(hi - lo) / n``.
    hbar, mass : float
        Reduced Planck constant (action units) and particle mass (mass units).
    """

    n: int
    lo: float
    hi: float
    hbar: float = 1.0
    mass: float = 1.0

    def __post_init__(self) -> None:
        if isinstance(self.n, bool) or not isinstance(self.n, (int, np.integer)) or self.n < 8:
            raise ConfigError(f"a quantum grid needs an integer number of points >= 8, got {self.n!r}")
        for name in ("lo", "hi", "hbar", "mass"):
            if not math.isfinite(getattr(self, name)):
                raise ConfigError(f"quantum grid: {name} must be finite, got {getattr(self, name)!r}")
        if not self.hi > self.lo:
            raise ConfigError(f"quantum grid: the domain needs lo < hi, got [{self.lo}, {self.hi}]")
        if not (self.hbar > 0 and self.mass > 0):
            raise ConfigError(f"hbar and mass must be positive, got hbar={self.hbar}, mass={self.mass}")

    @property
    def dx(self) -> float:
        """Point spacing (length)."""
        return (self.hi - self.lo) / self.n

    @property
    def x(self) -> NDArray[np.float64]:
        """Grid points (length), shape ``(n,)``."""
        return np.asarray(self.lo + self.dx * np.arange(self.n), dtype=np.float64)

    @property
    def k(self) -> NDArray[np.float64]:
        """Wave numbers in FFT order (1 / length)."""
        return np.asarray(2 * np.pi * np.fft.fftfreq(self.n, d=self.dx), dtype=np.float64)

    @property
    def p(self) -> NDArray[np.float64]:
        """Momenta ``hbar k`` in FFT order (momentum units)."""
        return self.hbar * self.k

    @property
    def p_nyquist(self) -> float:
        """The largest momentum the grid represents, ``pi hbar / dx``."""
        return math.pi * self.hbar / self.dx

    def kinetic(self) -> NDArray[np.float64]:
        """Kinetic energy ``p^2 / 2m`` at every FFT momentum (energy)."""
        return self.p**2 / (2 * self.mass)

    def describe(self) -> str:
        return f"{self.n} points on [{self.lo:g}, {self.hi:g}), hbar={self.hbar:g}, m={self.mass:g}"


def momentum_density(grid: QuantumGrid, psi: NDArray[np.complex128], axis: int = -1) -> NDArray[np.float64]:
    """``|psi(p)|^2`` per FFT momentum along ``axis``, normalised to sum to the norm."""
    phi = np.fft.fft(psi, axis=axis)
    return np.abs(phi) ** 2 / grid.n * grid.dx


def check_resolved(grid: QuantumGrid, psi: NDArray[np.complex128], what: str = "the state", axis: int = -1) -> None:
    """Refuse a state that the grid cannot carry (aliasing) or that reaches its edges.

    The split-operator step and the Wigner function are spectrally accurate only while
    the momentum content stays inside half the band, ``|p| < pi hbar / (2 dx)`` (the
    Wigner transform samples ``psi(x + y) psi*(x - y)``, which doubles the frequencies);
    the periodic grid wraps a state that reaches the edges onto the other side.

    Raises
    ------
    ConfigError
        More than :data:`LEAK_TOLERANCE` of the probability beyond half the Nyquist
        momentum, or within :data:`EDGE_FRACTION` of either edge.
    """
    psi = np.asarray(psi)
    norm = float(np.sum(np.abs(psi) ** 2) * grid.dx**psi.ndim)
    if not (math.isfinite(norm) and norm > 0):
        raise ConfigError(f"{what} is not normalisable (norm {norm:g} on the grid)")
    xd = np.abs(np.moveaxis(psi, axis, -1)) ** 2
    xd = xd.reshape(-1, grid.n).sum(axis=0) * grid.dx**psi.ndim / norm
    m = max(1, int(EDGE_FRACTION * grid.n))
    edge = float(xd[:m].sum() + xd[-m:].sum())
    if edge > LEAK_TOLERANCE:
        raise ConfigError(
            f"{what} reaches the edge of the domain [{grid.lo:g}, {grid.hi:g}) ({edge:.2g} of its probability "
            "within 2% of an edge; the grid is periodic): widen the domain"
        )
    pd = momentum_density(grid, psi, axis)
    other = tuple(a for a in range(psi.ndim) if a != axis % psi.ndim)
    pd_axis = pd.sum(axis=other) if other else pd
    pd_axis = pd_axis * (grid.dx ** len(other))
    high = np.abs(grid.p) > 0.5 * grid.p_nyquist
    leak = float(pd_axis[high].sum()) / norm
    if leak > LEAK_TOLERANCE:
        p_needed = _momentum_extent(grid, pd_axis / norm)
        n_fit = 2 * p_needed * (grid.hi - grid.lo) / (math.pi * grid.hbar)
        n_needed = max(2 * grid.n, int(2 ** math.ceil(math.log2(n_fit))))
        raise ConfigError(
            f"the grid is too coarse for {what}: {leak:.2g} of its momentum probability lies beyond half the "
            f"Nyquist momentum pi*hbar/dx = {grid.p_nyquist:.4g} (aliasing); use at least {n_needed} points "
            "or a narrower domain"
        )


def check_resolved_density_matrix(grid: QuantumGrid, rho: NDArray[np.complex128], what: str = "the state") -> None:
    """:func:`check_resolved` for a density matrix: momentum law ``diag(F rho F^H)``, position law ``diag(rho)``."""
    rho = np.asarray(rho)
    pd = np.abs(np.diag(np.fft.fft(np.fft.ifft(rho, axis=1), axis=0)))
    pd = pd / pd.sum()
    m = max(1, int(EDGE_FRACTION * grid.n))
    xd = np.abs(np.diag(rho))
    xd = xd / xd.sum()
    edge = float(xd[:m].sum() + xd[-m:].sum())
    if edge > LEAK_TOLERANCE:
        raise ConfigError(
            f"{what} reaches the edge of the domain [{grid.lo:g}, {grid.hi:g}) ({edge:.2g} of its probability "
            "within 2% of an edge; the grid is periodic): widen the domain"
        )
    leak = float(pd[np.abs(grid.p) > 0.5 * grid.p_nyquist].sum())
    if leak > LEAK_TOLERANCE:
        n_fit = 2 * _momentum_extent(grid, pd) * (grid.hi - grid.lo) / (math.pi * grid.hbar)
        n_needed = max(2 * grid.n, int(2 ** math.ceil(math.log2(n_fit))))
        raise ConfigError(
            f"the grid is too coarse for {what}: {leak:.2g} of its momentum probability lies beyond half the "
            f"Nyquist momentum pi*hbar/dx = {grid.p_nyquist:.4g} (aliasing); use at least {n_needed} points "
            "or a narrower domain"
        )


def _momentum_extent(grid: QuantumGrid, pd: NDArray[np.float64]) -> float:
    """The momentum beyond which a Gaussian with the second moment of ``pd`` holds LEAK_TOLERANCE."""
    mean_p2 = float(np.sum(pd * grid.p**2))
    return math.sqrt(2 * mean_p2 * math.log(1 / LEAK_TOLERANCE))


__all__ = [
    "EDGE_FRACTION",
    "LEAK_TOLERANCE",
    "QuantumGrid",
    "check_resolved",
    "check_resolved_density_matrix",
    "momentum_density",
]
