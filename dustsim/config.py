"""Simulation configuration: one dataclass, read from and written to TOML.

A config file looks like::

    init = "text:DUST"       # artifact spec (dustsim.artifacts)
    n = 100000               # particles
    dim = 2                  # spatial axes (default: the artifact's own)
    steps = 1000             # integration steps
    t_end = 1.0              # end time (or give dt)
    record_every = 10        # steps between recorded frames
    stepper = "exact"        # "exact" kernel or "euler" (Euler-Maruyama)
    dtype = "float32"
    seed = 42

    [process]
    name = "vp"
    beta_min = 0.1
    beta_max = 20.0

    [artifact]               # options of the artifact, e.g. for "gmm":
    k = 4
    std = 0.1

Physical dust (see ``docs/physics.md``) adds a potential, a box, pair interactions, a
schedule, a temperature and per-label diffusion coefficients::

    kT = 1.0
    label_diffusion = [1.0, 0.25]   # D multiplier per particle label (type)

    [[potential]]            # one table per term (a single [potential] table also works)
    name = "double-well"
    barrier = 2.0

    [boundary]
    kind = "periodic"        # free, periodic, reflecting (or one per axis)
    box = [20.0, 20.0]

    [interaction]
    name = "wca"
    sigma = 1.0

    [schedule]
    name = "linear"
    of = "kT"
    start = 2.0
    end = 0.2

The *resolved* config (every default filled in, the seed drawn, the artifact's exact
parameters added) is what a trajectory records in its ``config`` attribute; feeding it
back to ``dustsim simulate --config`` reproduces the trajectory bit for bit.
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import numpy as np
import tomli_w

from .errors import ConfigError
from .spec import integer, parse_value, positive_number
from .stepping import STEPPERS
from .streams import MAX_SEED

DTYPES = ("float32", "float64")
#: the physics tables, written after the scalar keys (TOML needs tables last)
_TABLES = ("potential", "boundary", "interaction", "schedule")
#: the fields whose settings make physical dust (:func:`has_physics`)
PHYSICS_FIELDS = (*_TABLES, "label_diffusion")
DEFAULT_STEPS = 1000


@dataclass
class SimulationConfig:
    """Everything that defines a simulation.

    Attributes
    ----------
    init : str
        Artifact spec, e.g. ``"gmm"``, ``"text:DUST"``, ``"points:cloud.npy"``.
    n : int or None
        Number of particles (None: 10000, or every point of a points file).
    dim : int or None
        Number of spatial axes (None: the artifact's natural dimension).
    process : str
        Process name (see :data:`dustsim.processes.PROCESSES`).
    process_params : dict
        Process parameters (the ``[process]`` table without ``name``).
    artifact : dict
        Artifact options (the ``[artifact]`` table).
    steps : int or None
        Number of integration steps (None: ``t_end / dt`` if both are given, else 1000).
    t_end, dt : float or None
        End time and step (time units); give one of them, or both consistently.
        With neither, ``t_end = 1``.
    record_every : int
        Steps between recorded frames; the last step is always recorded.
    stepper : {"exact", "euler"} or None
        Exact transition kernel or Euler-Maruyama (None: exact for a linear process,
        Euler-Maruyama for physical dust, which has no exact kernel).
    dtype : {"float32", "float64"}
        Precision of positions.
    seed : int or None
        Seed of every random draw (None: drawn from OS entropy and recorded).
    length_unit : str
        Unit of positions written to the dataset (``"1"``: reduced units).
    potential : list of dict
        External potentials (``[[potential]]`` tables; :mod:`dustsim.physics.potentials`).
    boundary : dict
        ``[boundary]`` table: ``kind``, ``box``, ``origin`` (:mod:`dustsim.physics.boundaries`).
    interaction : dict
        ``[interaction]`` table: pair potential (:mod:`dustsim.physics.interactions`).
    schedule : dict
        ``[schedule]`` table: time dependence of D or kT (:mod:`dustsim.physics.schedules`).
    kT : float or None
        Temperature (energy units; default 1 for physical dust).
    label_diffusion : list of float or None
        Multiplier of the diffusion coefficient per particle label (type).
    step_guard : float or None
        Largest deterministic displacement per Euler step, as a fraction of the forces'
        length scale (default 0.2); beyond it the run stops with a StepSizeError.
    """

    init: str = "gmm"
    n: int | None = None
    dim: int | None = None
    process: str = "vp"
    process_params: dict[str, Any] = field(default_factory=dict)
    artifact: dict[str, Any] = field(default_factory=dict)
    steps: int | None = None
    t_end: float | None = None
    dt: float | None = None
    record_every: int = 10
    stepper: str | None = None
    dtype: str = "float32"
    seed: int | None = None
    length_unit: str = "1"
    potential: list[dict[str, Any]] = field(default_factory=list)
    boundary: dict[str, Any] = field(default_factory=dict)
    interaction: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    kT: float | None = None
    label_diffusion: list[float] | None = None
    step_guard: float | None = None

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "config") -> SimulationConfig:
        """Build from a TOML-shaped mapping (``[process]`` and ``[artifact]`` tables)."""
        data = dict(data)
        process = data.pop("process", None)
        kwargs: dict[str, Any] = {}
        if isinstance(process, dict):
            process = dict(process)
            if "name" in process:
                kwargs["process"] = process.pop("name")
            kwargs["process_params"] = process
        elif process is not None:
            kwargs["process"] = process
        potential = data.pop("potential", None)
        if isinstance(potential, dict):
            kwargs["potential"] = [dict(potential)]
        elif isinstance(potential, list):
            kwargs["potential"] = [dict(t) if isinstance(t, dict) else t for t in potential]
        elif potential is not None:
            raise ConfigError(f"{source}: potential must be a [potential] table or [[potential]] tables")
        for table in ("boundary", "interaction", "schedule"):
            value = data.pop(table, None)
            if value is not None and not isinstance(value, dict):
                raise ConfigError(f"{source}: {table} must be a [{table}] table")
            if value is not None:
                kwargs[table] = dict(value)
        names = {f.name for f in dataclasses.fields(cls)}
        for key, value in data.items():
            if key not in names:
                raise ConfigError(f"{source}: unknown key {key!r}; known keys: {', '.join(sorted(names))}")
            kwargs[key] = value
        return cls(**kwargs)

    @classmethod
    def from_toml(cls, text: str, source: str = "config") -> SimulationConfig:
        """Parse a TOML string."""
        return cls.from_dict(parse_toml(text, source), source)

    @classmethod
    def load(cls, path: str | Path) -> SimulationConfig:
        """Read a TOML config file."""
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
        return cls.from_toml(text, source=str(path))

    def replace(self, **changes: Any) -> Self:
        """A copy with some fields changed (``None`` values are ignored)."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})

    @property
    def has_physics(self) -> bool:
        """Whether the config asks for physical dust (:func:`has_physics`)."""
        return has_physics({name: getattr(self, name) for name in PHYSICS_FIELDS})

    # ------------------------------------------------------------------------ output
    def to_dict(self) -> dict[str, Any]:
        """TOML-shaped mapping, without unset (None) values."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("process", "process_params", "artifact", *_TABLES) or value is None:
                continue
            out[f.name] = toml_safe(value)
        out["process"] = {"name": self.process, **toml_safe(self.process_params)}
        if self.artifact:
            out["artifact"] = toml_safe(self.artifact)
        for name in _TABLES:
            value = getattr(self, name)
            if value:
                out[name] = toml_safe(value)
        return out

    def to_toml(self) -> str:
        """Serialise as TOML."""
        return tomli_w.dumps(self.to_dict())

    # --------------------------------------------------------------------- checking
    def validate(self) -> None:
        """Check types and ranges of the scalar fields; raise ConfigError."""
        for name, lo, hi in (("n", 1, 2**32 - 1), ("dim", 1, 255), ("steps", 1, None), ("seed", 0, MAX_SEED - 1)):
            if getattr(self, name) is not None:
                integer(getattr(self, name), name, minimum=lo, maximum=hi)
        integer(self.record_every, "record_every", minimum=1)
        for name in ("t_end", "dt"):
            if getattr(self, name) is not None:
                positive_number(getattr(self, name), name)
        if self.stepper is not None and self.stepper not in STEPPERS:
            raise ConfigError(f"unknown stepper {self.stepper!r}; choose one of: {', '.join(STEPPERS)}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"unknown dtype {self.dtype!r}; choose one of: {', '.join(DTYPES)}")
        if not isinstance(self.init, str):
            raise ConfigError(f"init must be an artifact spec string, got {self.init!r}")
        if not isinstance(self.process, str):
            raise ConfigError(f"process must be a name, got {self.process!r}")
        if not isinstance(self.potential, list) or not all(isinstance(t, dict) for t in self.potential):
            raise ConfigError(f"potential must be a list of tables, got {self.potential!r}")
        for name in ("boundary", "interaction", "schedule"):
            if not isinstance(getattr(self, name), dict):
                raise ConfigError(f"{name} must be a table, got {getattr(self, name)!r}")

    def time_grid(self) -> tuple[int, float]:
        """Resolve ``(steps, t_end)`` from ``steps``, ``t_end`` and ``dt``."""
        steps, t_end, dt = self.steps, self.t_end, self.dt
        if dt is not None and t_end is not None:
            implied = t_end / dt
            if abs(implied - round(implied)) > 1e-9 * max(1.0, implied):
                raise ConfigError(f"t_end ({t_end}) is not a whole number of steps dt ({dt})")
            if steps is not None and steps != round(implied):
                raise ConfigError(f"steps ({steps}) disagrees with t_end / dt = {round(implied)}")
            return round(implied), float(t_end)
        steps = DEFAULT_STEPS if steps is None else steps
        if dt is not None:
            return steps, float(steps * dt)
        return steps, float(t_end if t_end is not None else 1.0)


@dataclass
class ResolvedConfig(SimulationConfig):
    """A config with every default filled in (:func:`dustsim.prepare`).

    The same fields as :class:`SimulationConfig`, but the ones a request may leave open
    are known: the number of particles and axes, the time grid, the stepper and the
    seed. It is what a trajectory records (``dustsim.run_info.RunInfo.text``);
    ``kT``, ``step_guard`` and ``label_diffusion`` stay None where no physics uses them.
    """

    n: int = 0
    dim: int = 0
    steps: int = 0
    t_end: float = 0.0
    dt: float = 0.0
    stepper: str = "exact"
    seed: int = 0


def parse_toml(text: str, source: str, error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """Parse TOML text: the one TOML reader of dustsim's configs (files, recorded configs).

    A syntax error becomes a one-line ``error`` (a ``ConfigError``) naming ``source``.
    """
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{source}: invalid TOML: {exc}") from None


def interacting(interaction: Any) -> bool:
    """Whether an ``[interaction]`` table asks for a pair interaction (a name other than none)."""
    return (
        bool(interaction)
        and isinstance(interaction, dict)
        and (str(interaction.get("name", "")).strip().lower() not in ("", "none"))
    )


def has_physics(fields: Mapping[str, Any]) -> bool:
    """Whether config fields ask for physical dust: more than the linear ``[process]``.

    The one rule: a potential, a pair interaction, a schedule, a boundary other than free
    on some axis, or a ``label_diffusion`` factor other than 1. ``fields`` is a config's
    TOML tables or ``dataclasses.asdict`` of a :class:`SimulationConfig`; a resolved
    config of a linear run has none of these (:func:`dustsim.prepare` drops
    trivial settings).
    """
    boundary = fields.get("boundary") or {}
    kinds = boundary.get("kind", "free") if isinstance(boundary, dict) else "free"
    kinds = kinds if isinstance(kinds, (list, tuple)) else [kinds]
    label_diffusion = fields.get("label_diffusion")
    return bool(
        fields.get("potential")
        or interacting(fields.get("interaction"))
        or fields.get("schedule")
        or any(str(k).lower() != "free" for k in kinds)
        or (
            label_diffusion is not None
            and (not isinstance(label_diffusion, (list, tuple)) or any(v != 1 for v in label_diffusion))
        )
    )


def toml_safe(value: Any) -> Any:
    """Convert numpy scalars/arrays and tuples into TOML-serialisable values; drop None."""
    if isinstance(value, dict):
        return {str(k): toml_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [toml_safe(v) for v in (value.tolist() if isinstance(value, np.ndarray) else value)]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


def parse_config_value(text: str) -> Any:
    """Parse a ``KEY=VALUE`` value from the command line as a TOML literal (else a string).

    The rule of spec values (:func:`dustsim.spec.parse_value`).
    """
    return parse_value(text)
