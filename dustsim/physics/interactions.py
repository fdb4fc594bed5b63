"""Pair interactions between dust particles, computed with O(N) cell lists.

Pair potentials ``u(r)`` (energy units of ``kT``, lengths of the positions), all cut off
at ``cutoff``::

    harmonic  u = eps/2 (1 - r/sigma)^2, r < sigma              soft repulsion (cutoff = sigma)
    wca       u = 4 eps ((sigma/r)^12 - (sigma/r)^6) + eps       cutoff = 2^(1/6) sigma (purely repulsive)
    lj        u = 4 eps ((sigma/r)^12 - (sigma/r)^6) - u(rc)     cutoff = 2.5 sigma by default
    morse     u = eps ((1 - exp(-a (r - r0)))^2 - 1) - u(rc)     cutoff = r0 + 5/a; attractive well of depth eps:
                                                                 dust aggregates when eps >> kT

Each pair interaction is defined once, in its module of :mod:`dustsim.physics.pair_defs`
(parameters, default cut-off, energy, force, step-guard length, Numba kernel).

Options common to all: ``cap`` (largest pair force magnitude; 0 = none) tames overlapping
starting configurations. The stepper sums pair forces in 64-bit fixed point (units of
2^-32), so forces do not depend on the order in which neighbours are visited (cell list,
brute force, thread count) and the forces of a pair cancel exactly.

Config::

    [interaction]
    name = "wca"
    epsilon = 1.0
    sigma = 1.0
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..kernels import cells as kc
from ..kernels import forces as kf
from ..spec import nonnegative_number, positive_number
from ..spec import parse_spec as spec_table
from .boundaries import Boundary, free
from .pair_defs import BY_NAME as DEFINITIONS
from .pair_defs import PairPotential

INTERACTIONS = tuple(DEFINITIONS)
_PARAMS = {name: d.params for name, d in DEFINITIONS.items()}


@dataclass(frozen=True)
class Interaction:
    """A pair potential.

    Attributes
    ----------
    name : str
        One of :data:`INTERACTIONS`.
    epsilon : float
        Energy scale (well depth for ``lj`` and ``morse``); 0 switches forces off
        (the interacting code still runs: the ideal-gas limit).
    sigma : float
        Diameter (``harmonic``, ``wca``, ``lj``).
    cutoff : float
        Cut-off radius.
    a, r0 : float
        Morse stiffness (1 / length) and equilibrium distance.
    cap : float
        Largest pair force magnitude (0: no cap).
    """

    name: str
    epsilon: float = 1.0
    sigma: float = 1.0
    cutoff: float = 1.0
    a: float = 5.0
    r0: float = 1.0
    cap: float = 0.0

    @property
    def definition(self) -> PairPotential:
        """Its definition (:mod:`dustsim.physics.pair_defs`)."""
        return DEFINITIONS[self.name]

    @property
    def kind(self) -> int:
        """Kernel id of its pair potential (``pair_kind``)."""
        return self.definition.kind

    def to_table(self) -> dict[str, Any]:
        """The ``[interaction]`` table of a config (only this potential's parameters)."""
        values = asdict(self)
        return {"name": self.name, **{k: values[k] for k in (*_PARAMS[self.name], "cutoff") if k in values}}

    def length_scale(self) -> float:
        """Length over which the force changes: ``sigma``, or ``1/a`` for Morse."""
        return float(self.definition.length_scale(self))

    def params(self, dtype: np.dtype) -> NDArray:
        """The kernel parameter vector ``Q`` (:mod:`dustsim.kernels.forces`)."""
        kf.check_cache()
        Q = np.zeros(kf.N_Q)
        Q[kf.Q_EPS], Q[kf.Q_SIGMA], Q[kf.Q_A], Q[kf.Q_R0], Q[kf.Q_CAP] = (
            self.epsilon,
            self.sigma,
            self.a,
            self.r0,
            self.cap,
        )
        Q[kf.Q_ZERO], Q[kf.Q_ONE], Q[kf.Q_C24] = 0.0, 1.0, 24.0
        return Q.astype(dtype)

    # --------------------------------------------------------------- reference
    def energy(self, r: ArrayLike) -> NDArray[np.float64]:
        """Pair energy ``u(r)`` (zero beyond the cut-off; shifted to be continuous there)."""
        r = np.asarray(r, dtype=np.float64)
        return np.where(r < self.cutoff, self._u(r) - self._u(np.asarray(self.cutoff, dtype=np.float64)), 0.0)

    def force(self, r: ArrayLike) -> NDArray[np.float64]:
        """Radial force ``-u'(r)`` (positive: repulsive), capped like the stepper's."""
        r = np.asarray(r, dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore"):
            f = self.definition.force(r, self)
        if self.cap > 0:
            f = np.clip(f, -self.cap, self.cap)
        return np.where((r < self.cutoff) & (r > 0), f, 0.0)

    def _u(self, r: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.definition.energy(r, self)


def _number(name: str, key: str, value: Any, positive: bool = True) -> float:
    check = positive_number if positive else nonnegative_number
    return check(value, key, f"interaction {name!r}")


def make_interaction(table: dict[str, Any] | None) -> Interaction | None:
    """Build the pair interaction from its config table (None or empty: no interaction)."""
    if not table:
        return None
    table = dict(table)
    name = str(table.pop("name", "")).strip().lower()
    if name in ("", "none"):
        return None
    if name not in _PARAMS:
        raise ConfigError(f"unknown interaction {name!r}; choose one of: {', '.join(INTERACTIONS)}")
    unknown = sorted(set(table) - set(_PARAMS[name]) - {"cutoff"})
    if unknown:
        raise ConfigError(
            f"interaction {name!r} has no parameter {unknown[0]!r}; its parameters are: {', '.join(_PARAMS[name])}"
        )
    definition = DEFINITIONS[name]
    eps = _number(name, "epsilon", table.get("epsilon", 1.0), positive=False)
    cap = _number(name, "cap", table.get("cap", 0.0), positive=False)
    defaults = {"sigma": Interaction.sigma, "a": Interaction.a, "r0": Interaction.r0}
    values = {key: _number(name, key, table.get(key, defaults[key])) for key in definition.params if key in defaults}
    values.setdefault("sigma", values.get("r0", Interaction.sigma))  # Morse: sigma = r0
    default_cut = definition.default_cutoff(values)
    cutoff = _number(name, "cutoff", table.get("cutoff", default_cut))
    if definition.fixed_cutoff and "cutoff" in table and not math.isclose(cutoff, default_cut, rel_tol=1e-12):
        raise ConfigError(f"interaction {name!r} has a fixed cut-off ({default_cut:g}); use 'lj' for another cut-off")
    return Interaction(name, epsilon=eps, cutoff=cutoff, cap=cap, **values)


def parse_spec(spec: str) -> dict[str, Any]:
    """``"wca:sigma=1,epsilon=2"`` -> ``{"name": "wca", "sigma": 1, "epsilon": 2}``."""
    return spec_table(spec, "interaction")


def check_box(interaction: Interaction, boundary: Boundary) -> None:
    """The minimum-image convention needs ``cutoff <= L / 2`` on periodic axes."""
    for a, kind in enumerate(boundary.kinds):
        if kind == "periodic" and interaction.cutoff > 0.5 * boundary.length[a]:
            raise ConfigError(
                f"the interaction cut-off ({interaction.cutoff:g}) exceeds half the periodic box on axis {a} "
                f"({boundary.length[a]:g}); enlarge the box"
            )


# ------------------------------------------------------------------------ forces
def _kernel_args(positions: ArrayLike, interaction: Interaction, boundary: Boundary | None) -> tuple[Any, ...]:
    p = np.ascontiguousarray(positions)
    if p.dtype not in (np.float32, np.float64):
        p = p.astype(np.float64)
    d = p.shape[1]
    if not 1 <= d <= 3:
        raise ConfigError(f"pair interactions are implemented for 1 to 3 dimensions, got {d}")
    boundary = boundary or free(d)
    check_box(interaction, boundary)
    kinds, lo, L, _, half = boundary.kernel_arrays(p.dtype)
    T = p.dtype.type
    return p, kinds, lo, L, half, T


def pair_forces(
    positions: ArrayLike, interaction: Interaction, boundary: Boundary | None = None, *, method: str = "cells"
) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
    """Pair forces on every particle, as the stepper computes them.

    Parameters
    ----------
    positions : array, shape (n, d), float32 or float64
        Positions (inside the box on periodic axes).
    interaction : Interaction
    boundary : Boundary, optional
        Free space by default.
    method : {"cells", "brute"}
        O(N) cell list, or the O(N^2) all-pairs reference. Both give the same integers.

    Returns
    -------
    force : ndarray, shape (n, d), float64
        Force per particle (energy / length).
    fixed : ndarray of int64, shape (n, d)
        The same in fixed point (units of 2^-32), bit-exact.
    """
    p, kinds, lo, L, half, T = _kernel_args(positions, interaction, boundary)
    d = p.shape[1]
    rc2 = T(interaction.cutoff) * T(interaction.cutoff)
    Q = interaction.params(p.dtype)
    scale, limit = T(kf.FORCE_SCALE), T(kf.FORCE_LIMIT)
    if method == "brute":
        acc, bad = kf.pair_forces_brute(p, kinds, L, half, rc2, interaction.kind, Q, scale, limit)
    elif method == "cells":
        eps = float(np.finfo(p.dtype).eps)
        acc, bad = kc.pair_forces_cells(
            p,
            kinds,
            lo.astype(np.float64),
            L,
            half,
            float(interaction.cutoff),
            rc2,
            interaction.kind,
            Q,
            scale,
            limit,
            eps,
        )
    else:
        raise ValueError(f"method must be 'cells' or 'brute', got {method!r}")
    if bad.any():
        raise FloatingPointError(f"a pair force exceeds {kf.FORCE_LIMIT:g}: particles overlap")
    fixed = np.ascontiguousarray(acc[:, :d])
    return fixed / kf.FORCE_SCALE, fixed


def radial_distribution(
    positions: ArrayLike, boundary: Boundary, r_max: float, bins: int = 50
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Radial distribution function g(r) of one configuration in a periodic box.

    Parameters
    ----------
    positions : array, shape (n, d) or (frames, n, d)
        Positions in the box (frames are averaged).
    boundary : Boundary
        A fully periodic box.
    r_max : float
        Largest distance (at most half the smallest box length).
    bins : int
        Number of shells.

    Returns
    -------
    r : ndarray, shape (bins,)
        Shell centres.
    g : ndarray, shape (bins,)
        Pair counts over the ideal-gas expectation ``n (n - 1) / (2 V) * shell volume``.
    counts : ndarray of int, shape (bins,)
        Pair counts (for standard errors: ``g / sqrt(counts)``).
    """
    from scipy.spatial import cKDTree

    x = np.asarray(positions, dtype=np.float64)
    frames = x[None] if x.ndim == 2 else x
    if not boundary.periodic.all():
        raise ConfigError("radial_distribution needs a periodic box on every axis")
    L = np.asarray(boundary.length)
    if r_max > 0.5 * L.min():
        raise ConfigError(f"r_max ({r_max:g}) exceeds half the box ({0.5 * L.min():g})")
    edges = np.linspace(0.0, r_max, bins + 1)
    counts = np.zeros(bins, dtype=np.int64)
    n, d = frames.shape[1:]
    for frame in frames:
        tree = cKDTree(np.mod(frame - np.asarray(boundary.lo), L), boxsize=L)
        pairs = tree.query_pairs(r_max, output_type="ndarray")
        if len(pairs):
            r = np.linalg.norm(boundary.displacement(frame[pairs[:, 0]], frame[pairs[:, 1]]), axis=1)
            counts += np.histogram(r, edges)[0]
    shell = math.pi ** (d / 2) / math.gamma(d / 2 + 1) * (edges[1:] ** d - edges[:-1] ** d)
    ideal = len(frames) * n * (n - 1) / (2.0 * np.prod(L)) * shell
    return 0.5 * (edges[1:] + edges[:-1]), counts / ideal, counts


__all__ = [
    "INTERACTIONS",
    "Interaction",
    "check_box",
    "make_interaction",
    "pair_forces",
    "parse_spec",
    "radial_distribution",
]
