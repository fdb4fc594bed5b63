"""Physical dust: overdamped Langevin dynamics with potentials, boundaries and interactions.

A particle ``i`` of type ``l`` obeys (Ito, per axis ``a``)::

    dX = [ f(t) (X - c) + mu_l(t) F(X) ] dt + sqrt(2 D_l(t)) dW

where ``f(t) (X - c)`` and ``g(t) = sqrt(2 D(t))`` are the drift and noise of the *base
process* (``[process]``: Brownian motion with ``D``, or any linear process of
:mod:`dustsim.processes`), ``F = -grad U`` is the force of the external potentials
(:mod:`dustsim.physics.potentials`) and of the pair interactions (:mod:`dustsim.physics.interactions`),
and, by the Einstein relation, ``mu = D / kT``. Type ``l`` (the particle's ``label``)
multiplies ``D`` and ``mu`` by ``label_diffusion[l]``; a schedule
(:mod:`dustsim.physics.schedules`) multiplies ``D`` (and ``mu``) or the temperature over time.
Positions live in the space of a :class:`~dustsim.physics.boundaries.Boundary`.

The stationary law of non-interacting particles in a potential at constant ``kT`` is
Boltzmann's, ``p ~ exp(-U / kT)``; :mod:`dustsim.physics.fokker_planck` solves for the density at
any time.

This module resolves the physics of a config into a :class:`PhysicalSystem`, computes
the per-step coefficients of the Euler-Maruyama kernels (:mod:`dustsim.kernels.euler`)
with their stability checks, and provides the advance function the simulator calls.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..errors import ConfigError, StepSizeError
from ..kernels import euler as ke
from ..kernels import forces as kf
from ..kernels import rng
from ..kernels import verlet as kv
from ..processes import LinearProcess
from ..spec import positive_number
from ..stepping import MAX_STEPS_PER_CALL
from ..streams import DYNAMICS_STREAM  # the Euler noise: the same stream as the linear processes' dynamics
from .boundaries import Boundary, make_boundary
from .interactions import Interaction, check_box, make_interaction
from .potentials import (
    Potential,
    compile_user_force,
    custom_potential,
    make_potentials,
    separable_params,
)
from .schedules import Schedule, make_schedule

DEFAULT_KT = 1.0
#: largest deterministic displacement per step, as a fraction of the forces' length scale
DEFAULT_STEP_GUARD = 0.2


@dataclass(frozen=True)
class PhysicalSystem:
    """The resolved physics of a run.

    Attributes
    ----------
    process : LinearProcess
        Base process: linear drift ``f(t) (x - c)`` and noise ``g(t)``, ``D = g^2 / 2``.
    dim : int
    potentials : tuple of Potential
    boundary : Boundary
    interaction : Interaction or None
    schedule : Schedule or None
    kT : float
        Temperature (energy units).
    label_diffusion : tuple of float
        Multiplier of ``D`` (and ``mu``) per particle type (label).
    step_guard : float
        Largest deterministic displacement per step, as a fraction of :meth:`guard_length`.
    """

    process: LinearProcess
    dim: int
    potentials: tuple[Potential, ...]
    boundary: Boundary
    interaction: Interaction | None
    schedule: Schedule | None
    kT: float
    label_diffusion: tuple[float, ...]
    step_guard: float

    # ------------------------------------------------------------------ properties
    @property
    def custom(self) -> Potential | None:
        return custom_potential(self.potentials)

    @property
    def uses_cells(self) -> bool:
        """Whether the general (per-particle) kernel is needed."""
        return self.interaction is not None or self.custom is not None

    def describe(self) -> str:
        """The ``process`` attribute: base process and the physics on top, e.g. ``brownian+double-well+wca``."""
        parts = [self.process.name, *(p.name for p in self.potentials)]
        if self.interaction is not None:
            parts.append(self.interaction.name)
        return "+".join(parts)

    def guard_length(self) -> float:
        """Smallest length scale of the forces (inf if none has one)."""
        lengths = [p.length_scale() for p in self.potentials]
        if self.interaction is not None:
            lengths.append(self.interaction.length_scale())
        return min(lengths, default=math.inf)

    def max_drift(self) -> float:
        """Largest allowed deterministic displacement per step (length)."""
        return self.step_guard * self.guard_length()

    def curvature(self) -> NDArray[np.float64]:
        """Per-axis curvature bound of the built-in potentials (for the stability check)."""
        total = np.zeros(self.dim)
        for p in self.potentials:
            if p.name != "custom":
                total += p.curvature(self.dim)
        return total

    # ------------------------------------------------------------ coefficients
    def diffusion_mobility(self, t: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """``(D(t), mu(t))`` of a type-0-factor particle (``label_diffusion`` = 1)."""
        g = np.asarray(self.process.diffusion(t), dtype=np.float64)
        D0 = 0.5 * g * g
        s = self.schedule(t) if self.schedule is not None else np.ones_like(D0)
        if self.schedule is not None and not np.all(np.isfinite(s) & (s > 0)):
            bad = int(np.flatnonzero(~(np.isfinite(s) & (s > 0)))[0])
            raise ConfigError(f"the schedule is not a positive number at t = {t[bad]:.6g} (got {s[bad]!r})")
        D = D0 * s
        mu = D / self.kT if self.schedule is None or self.schedule.of == "D" else D0 / self.kT
        return D, mu

    def coefficients(
        self, times: NDArray[np.float64], dtype: np.dtype, first_step: int = 0
    ) -> tuple[NDArray, NDArray, NDArray, NDArray]:
        """Per-step kernel coefficients ``(A, C, M, B)`` for the steps between ``times``.

        ``A = 1 + f dt``, ``C = -f c dt`` (shape ``(steps, d)``), ``M = mu dt`` and
        ``B = sqrt(2 D dt)`` (shape ``(steps,)``), all at the start of each step.

        Raises
        ------
        StepSizeError
            A step at which Euler-Maruyama is unstable: ``|f| dt >= 1``,
            ``mu U'' dt >= 1`` for a built-in potential, or a noise step
            ``sqrt(2 D dt)`` larger than the step guard allows.
        """
        t0 = times[:-1]
        dt = np.diff(times)
        f = np.asarray(self.process.drift_coefficient(t0), dtype=np.float64)
        a = 1.0 + f * dt
        c = -f * dt * self.process.centre
        D, mu = self.diffusion_mobility(t0)
        factor = max(self.label_diffusion)
        m = mu * dt
        b = np.sqrt(2.0 * D * dt)
        dt_now = float(dt[0]) if len(dt) else 0.0

        def fail(j: int, why: str) -> StepSizeError:
            step = first_step + j
            return StepSizeError(
                f"Euler-Maruyama is unstable at step {step} (t = {t0[j]:.6g}): {why}; "
                f"use a smaller dt (now {dt_now:.3g}, try {dt_now / 4:.3g})"
            )

        bad = np.flatnonzero(~(a > 0) | ~np.isfinite(b) | ~np.isfinite(m))
        if bad.size:
            j = int(bad[0])
            raise fail(j, f"|f(t)| dt = {abs(f[j] * dt[j]):.3g} >= 1 for the base process")
        stiff = factor * m[:, None] * self.curvature()[None, :]
        bad = np.flatnonzero(np.any(stiff >= 1.0, axis=1))
        if bad.size:
            j = int(bad[0])
            raise fail(j, f"mu U'' dt = {stiff[j].max():.3g} >= 1 for the external potential")
        limit = self.max_drift()
        noisy = np.sqrt(factor) * b
        bad = np.flatnonzero(noisy > limit)
        if bad.size:
            j = int(bad[0])
            raise fail(
                j,
                f"the noise moves a particle by sqrt(2 D dt) = {noisy[j]:.3g} per step, more than the step guard "
                f"{self.step_guard:g} x the force length scale {self.guard_length():.3g}",
            )
        A = np.ascontiguousarray(np.broadcast_to(a[:, None], (len(t0), self.dim)), dtype=dtype)
        C = np.ascontiguousarray(np.broadcast_to(c[:, None], (len(t0), self.dim)), dtype=dtype)
        return A, C, m.astype(dtype), b.astype(dtype)

    def type_factors(self, dtype: np.dtype) -> tuple[NDArray, NDArray]:
        """Mobility and noise factors per type: ``label_diffusion`` and its square root."""
        ell = np.asarray(self.label_diffusion, dtype=np.float64)
        return ell.astype(dtype), np.sqrt(ell).astype(dtype)

    def particle_types(self, labels: NDArray[np.int32] | None, n: int) -> NDArray[np.int32]:
        """The type of every particle: its label (or 0 if all particles are alike)."""
        if len(self.label_diffusion) == 1:
            return np.zeros(n, dtype=np.int32)
        if labels is None:
            raise ConfigError("label_diffusion gives several types but the artifact has no labels; give one value")
        labels = np.asarray(labels, dtype=np.int32)
        if labels.min() < 0 or labels.max() >= len(self.label_diffusion):
            raise ConfigError(
                f"label_diffusion has {len(self.label_diffusion)} values but labels run up to {int(labels.max())}; "
                "give one value per label"
            )
        return labels

    def to_config(self) -> dict[str, Any]:
        """The resolved physics fields of the config."""
        out: dict[str, Any] = {
            "kT": self.kT,
            "step_guard": self.step_guard,
            "label_diffusion": list(self.label_diffusion),
            "potential": [p.to_table() for p in self.potentials],
            "boundary": self.boundary.to_table(),
            "interaction": self.interaction.to_table() if self.interaction is not None else {},
            "schedule": self.schedule.to_table() if self.schedule is not None else {},
        }
        return out


def build_system(
    cfg: Any, process: LinearProcess, dim: int, labels: NDArray[np.int32] | None, t_end: float
) -> PhysicalSystem:
    """Resolve the physics fields of a :class:`~dustsim.config.SimulationConfig`."""
    potentials = tuple(make_potentials(cfg.potential or None, dim))
    boundary = make_boundary(cfg.boundary, dim)
    interaction = make_interaction(cfg.interaction)
    if interaction is not None:
        if not 1 <= dim <= 3:
            raise ConfigError(f"pair interactions are implemented for 1 to 3 dimensions, got dim = {dim}")
        check_box(interaction, boundary)
    schedule = make_schedule(cfg.schedule, t_end)
    kT = positive_number(DEFAULT_KT if cfg.kT is None else cfg.kT, "kT")
    guard = positive_number(DEFAULT_STEP_GUARD if cfg.step_guard is None else cfg.step_guard, "step_guard")
    ell = cfg.label_diffusion
    if ell is None:
        ell = [1.0]
    if not isinstance(ell, (list, tuple)) or not ell:
        raise ConfigError(f"label_diffusion must be a list of positive numbers (one per label), got {ell!r}")
    ell = tuple(positive_number(v, "label_diffusion") for v in ell)
    system = PhysicalSystem(process, dim, potentials, boundary, interaction, schedule, kT, ell, guard)
    if labels is not None or len(ell) > 1:
        system.particle_types(labels, 0 if labels is None else len(labels))
    return system


def check_initial(system: PhysicalSystem, x0: NDArray[np.float64]) -> None:
    """Refuse initial positions outside a reflecting or periodic box (they would be moved silently)."""
    inside = system.boundary.contains(x0)
    if not inside.all():
        i = int(np.flatnonzero(~inside)[0])
        raise ConfigError(
            f"particle {i} starts outside the box ({np.array2string(x0[i], precision=4)}); "
            "enlarge the box or scale the artifact (-A scale=...)"
        )


# ------------------------------------------------------------------------ advancing
_WHY = {
    kf.NOT_FINITE: "a position became infinite or NaN",
    kf.TOO_FAR: "a force moved a particle by more than {limit:.3g} in one step ({guard:g} x the force length scale)",
    kf.FORCE_OVERFLOW: "a pair force exceeded {flimit:.3g} (overlapping particles; a cap on the pair force may help)",
}


class LangevinAdvance:
    """Advance function of a physical run: ``advance(state, s0, s1)`` like the affine one.

    Parameters
    ----------
    system : PhysicalSystem
    times : ndarray, shape (steps + 1,)
        Time of every step.
    seed : int
        The run's seed (Philox key).
    dtype : numpy dtype
        Precision of the positions.
    labels : ndarray of int32 or None
        Particle labels (types).
    n : int
        Number of particles.
    image : ndarray of int32, shape (d, n), optional
        Periodic image counts to start from (zeros by default); updated in place and
        readable as :attr:`image`.
    """

    def __init__(
        self,
        system: PhysicalSystem,
        times: NDArray[np.float64],
        seed: int,
        dtype: np.dtype,
        labels: NDArray[np.int32] | None,
        n: int,
        image: NDArray[np.int32] | None = None,
    ) -> None:
        self.system = system
        self.times = times
        self.dtype = np.dtype(dtype)
        d = system.dim
        self.image = np.zeros((d, n), dtype=np.int32) if image is None else np.ascontiguousarray(image, np.int32)
        self.k0, self.k1 = rng.split_key(seed)
        self.words = np.array([rng.stream_axis_word(DYNAMICS_STREAM, a) for a in range(d)], dtype=np.uint64)
        self.kinds, self.lo, self.length, self.hi, self.half = system.boundary.kernel_arrays(self.dtype)
        self.P, self.flags = separable_params(system.potentials, d, self.dtype)
        self.types = system.particle_types(labels, n)
        self.mf_type, self.bf_type = system.type_factors(self.dtype)
        limit = system.max_drift()
        self.max_drift = self.dtype.type(limit if math.isfinite(limit) else np.inf)
        self.status = np.zeros(2, dtype=np.int64)
        if system.uses_cells:
            inter = system.interaction
            self.pair_kind = inter.kind if inter is not None else kf.PAIR_NONE
            self.Q = inter.params(self.dtype) if inter is not None else np.zeros(kf.N_Q, dtype=self.dtype)
            self.rc = float(inter.cutoff) if inter is not None else 0.0
            self.order = np.arange(n, dtype=np.int64)
            custom = system.custom
            function = custom.function if custom is not None else None
            self.user = compile_user_force(function) if function is not None else ke.no_force
            self.has_user = custom is not None
            self.parts = kv.Particles(self.image, self.types, self.order)
            self.forces = kv.Forces(self.mf_type, self.bf_type, self.P, self.flags, self.user, self.has_user)
            self.box = kv.Box(self.kinds, self.lo, self.length, self.hi, self.half)
            self.work: kv.PairWork | None = None  # the kernel's arrays and lists, kept between calls
        else:
            self.mf = np.ascontiguousarray(self.mf_type[self.types])
            self.bf = np.ascontiguousarray(self.bf_type[self.types])

    def __call__(self, state: NDArray, s0: int, s1: int) -> None:
        """Advance ``state`` (shape ``(d, n)``, axis-major) from step ``s0`` to ``s1`` in place."""
        for a in range(s0, s1, MAX_STEPS_PER_CALL):
            b = min(s1, a + MAX_STEPS_PER_CALL)
            A, C, M, B = self.system.coefficients(self.times[a : b + 1], self.dtype, first_step=a)
            if self.system.uses_cells:
                # the skin sets only how often the neighbour list is rebuilt, never the result
                step_sigma = float(np.max(B)) * float(np.max(self.bf_type))
                skin = kv.list_skin(self.rc, step_sigma, d=state.shape[0])
                pair = kv.Pair(self.pair_kind, self.Q, self.rc, skin, float(np.finfo(self.dtype).eps))
                self.work = kv.work_for(self.work, state)
                kv.advance_pairs(
                    state,
                    self.parts,
                    kv.Steps(A, C, M, B),
                    self.forces,
                    self.box,
                    pair,
                    kv.Key(a, self.words, self.k0, self.k1),
                    self.max_drift,
                    self.status,
                    self.work,
                )
            else:
                ke.advance_separable(
                    state,
                    self.image,
                    self.mf,
                    self.bf,
                    A,
                    C,
                    M,
                    B,
                    self.P,
                    self.flags,
                    self.kinds,
                    self.lo,
                    self.length,
                    self.hi,
                    a,
                    self.words,
                    self.k0,
                    self.k1,
                    self.max_drift,
                    self.status,
                )
            if self.status[0] >= 0:
                self._raise(int(self.status[0]), int(self.status[1]))

    def _raise(self, step: int, code: int) -> None:
        dt = float(self.times[step + 1] - self.times[step])
        why = _WHY.get(code, "unknown failure").format(
            limit=float(self.max_drift), guard=self.system.step_guard, flimit=kf.FORCE_LIMIT
        )
        raise StepSizeError(
            f"Euler-Maruyama step {step} (t = {self.times[step]:.6g}) failed: {why}; "
            f"use a smaller dt (now {dt:.3g}, try {dt / 4:.3g}); nothing after step {step} was written"
        )


__all__ = [
    "DEFAULT_KT",
    "DEFAULT_STEP_GUARD",
    "LangevinAdvance",
    "PhysicalSystem",
    "build_system",
    "check_initial",
]
