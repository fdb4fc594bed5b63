"""A run's recorded configuration, read once: :class:`RunInfo`.

Every trajectory records the resolved config of the run that made it as TOML text (the
``config`` attribute; a sweep store records one per realization, the ``member_config``
coordinate). :class:`RunInfo` is that text parsed once, with what the rest of dustsim
asks of it — the simulator config, the forward process, the physical system, the box,
the stationary law, the artifact's mixture — resolved on first use and kept. Model
training, the forward SDE, generation, restoration and the analysis take a RunInfo
(``RunInfo.from_dataset(ds)``) instead of reading the TOML themselves.

It is the one reader of a recorded config: nothing else in dustsim or ``analysis``
parses the ``config`` attribute.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from .config import SimulationConfig, has_physics, interacting, parse_toml
from .errors import ConfigError, InputFileError
from .processes import PROCESSES, LinearProcess, make_process

if TYPE_CHECKING:
    import xarray as xr

    from .mixture import GaussianMixture
    from .physics.boundaries import Boundary
    from .physics.system import PhysicalSystem

#: keys of a recorded config that belong to the simulator (others: ``model``, ``sampler`` ...)
SIMULATOR_KEYS = frozenset({f.name for f in dataclasses.fields(SimulationConfig)} - {"process_params"})

__all__ = ["SIMULATOR_KEYS", "RunInfo", "config_text"]


def config_text(ds: xr.Dataset) -> str:
    """The ``config`` attribute of a dataset as recorded (empty if it has none)."""
    return str(ds.attrs.get("config", ""))


def _member_text(ds: xr.Dataset) -> str:
    """The config of the realization(s) of a sweep store selected in ``ds``.

    One realization, or several that differ only in their seed (the first one's).

    Raises
    ------
    InputFileError
        Realizations with different settings: there is no single config.
    """
    texts = [str(v) for v in np.asarray(ds["member_config"].values, dtype=object).ravel().tolist()]
    tables = [parse_toml(text, "a realization's member_config", InputFileError) for text in dict.fromkeys(texts)]
    first = {k: v for k, v in tables[0].items() if k != "seed"}
    differ = sorted(
        {key for t in tables[1:] for key in set(t) | set(first) if key != "seed" and t.get(key) != first.get(key)}
    )
    if differ:
        raise InputFileError(
            f"the realizations of this sweep differ in {', '.join(differ)}: select one member first "
            "(ds.isel(realization=r); on the command line --realization R)"
        )
    return texts[0]


@dataclass(frozen=True)
class RunInfo:
    """A run's recorded config, parsed once, with what it resolves to.

    Build it with :meth:`from_dataset`, :meth:`from_text` or :meth:`from_config`. The
    derived attributes (``config``, ``process``, ``physics`` ...) are computed on first
    use and kept.

    Attributes
    ----------
    text : str
        The recorded TOML (empty for a dataset that records none).
    tables : dict
        ``text`` parsed: the simulator's keys and tables, and for generated or restored
        datasets also ``[model]``, ``[sampler]``, ``[restoration]``. Treat as read-only.
    dynamics : str
        The trajectory's ``dynamics`` attribute (``"linear"`` unless it says otherwise).
    member : bool
        Whether ``text`` is the ``member_config`` of a sweep realization (else the
        dataset's own ``config``).
    """

    text: str
    tables: dict[str, Any] = field(repr=False)
    dynamics: str = "linear"
    member: bool = False

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_text(cls, text: str, source: str = "config", *, dynamics: str = "linear", member: bool = False) -> RunInfo:
        """Parse a recorded config (InputFileError naming ``source`` if it is not TOML)."""
        return cls(text, parse_toml(text, source, InputFileError), dynamics, member)

    @classmethod
    def from_dataset(cls, ds: xr.Dataset) -> RunInfo:
        """The run of a trajectory (or a dataset that copies its config, such as an entropy dataset).

        For a sweep store it is the selected realization's (see ``_member_text``).
        """
        dynamics = str(ds.attrs.get("dynamics", "linear"))
        if "member_config" in ds.coords:
            return cls.from_text(_member_text(ds), "a realization's member_config", dynamics=dynamics, member=True)
        return cls.from_text(config_text(ds), "the trajectory's config", dynamics=dynamics)

    @classmethod
    def from_tables(cls, tables: Mapping[str, Any], *, dynamics: str = "linear") -> RunInfo:
        """The run of TOML-shaped config tables (a dict as ``tables`` holds), its text written from them."""
        tables = dict(tables)
        return cls(tomli_dumps(tables), tables, dynamics)

    @classmethod
    def from_config(cls, config: SimulationConfig, dynamics: str | None = None) -> RunInfo:
        """The run of a (resolved) config: its TOML written once, its tables without re-parsing."""
        tables = config.to_dict()
        physical = has_physics(tables)
        return cls(tomli_dumps(tables), tables, dynamics or ("overdamped-langevin" if physical else "linear"))

    # --------------------------------------------------------------------- reading
    @cached_property
    def config(self) -> SimulationConfig:
        """The simulator config (the simulator's keys of ``tables``).

        Raises
        ------
        ConfigError
            Tables that no simulator config can have (a malformed recorded config).
        """
        return SimulationConfig.from_dict(
            {k: v for k, v in self.tables.items() if k in SIMULATOR_KEYS}, source="the recorded config"
        )

    @property
    def process_table(self) -> dict[str, Any] | None:
        """The ``[process]`` table (with ``name``), or None if the config has none."""
        table = self.tables.get("process")
        return dict(table) if isinstance(table, dict) and "name" in table else None

    @property
    def process_name(self) -> str | None:
        table = self.process_table
        return None if table is None else str(table["name"])

    @cached_property
    def base_process(self) -> LinearProcess | None:
        """The linear process of the ``[process]`` table (the base of physical dust), or None.

        None when there is no table, it names a process dustsim does not know (a
        registered non-linear SDE), or its parameters are invalid.
        """
        table = self.process_table
        if table is None or table["name"] not in PROCESSES:
            return None
        try:
            return make_process(table.pop("name"), **table)
        except ValueError:
            return None

    @property
    def physical(self) -> bool:
        """Whether the run is physical dust: more than its linear ``[process]`` (:func:`dustsim.config.has_physics`)."""
        return self.dynamics != "linear" or has_physics(self.tables)

    @property
    def interacting(self) -> bool:
        """Whether the run has pair interactions."""
        return interacting(self.tables.get("interaction"))

    @property
    def process(self) -> LinearProcess | None:
        """The forward process when the run *is* that linear process (exact kernels apply), else None.

        Physical dust (a potential, a box, interactions, a schedule or per-label diffusion on
        top of the ``[process]``) is not its base process: None, so that nobody uses the
        exact kernels for it.
        """
        return None if self.physical else self.base_process

    @property
    def dim(self) -> int | None:
        dim = self.tables.get("dim")
        return int(dim) if isinstance(dim, int) and not isinstance(dim, bool) else None

    @property
    def t_end(self) -> float | None:
        """The run's end time, if recorded."""
        t_end = self.tables.get("t_end")
        return float(t_end) if t_end is not None else None

    @property
    def seed(self) -> int | None:
        seed = self.tables.get("seed")
        return int(seed) if isinstance(seed, int) else None

    @property
    def length_unit(self) -> str:
        """Unit of positions (``"1"``: reduced units)."""
        return str(self.tables.get("length_unit", "1"))

    @property
    def artifact(self) -> dict[str, Any]:
        """The ``[artifact]`` table (resolved options and exact parameters), or ``{}``."""
        table = self.tables.get("artifact", {})
        return dict(table) if isinstance(table, dict) else {}

    @cached_property
    def mixture(self) -> GaussianMixture | None:
        """The law of ``X_0`` when the artifact is a Gaussian mixture with recorded parameters, else None."""
        from .mixture import GaussianMixture

        mixture = GaussianMixture.from_config(self.tables)
        if mixture is not None and self.dim is not None and mixture.dim != self.dim:
            return None
        return mixture

    @cached_property
    def physics(self) -> PhysicalSystem | None:
        """The physical system (potentials, box, interactions, schedule), or None for a linear run.

        Built from the recorded tables for one particle type per label; a custom force or
        schedule function is imported.

        Raises
        ------
        ConfigError
            The base process is unknown, or the physics tables are invalid.
        """
        from .physics.system import build_system

        if not has_physics(self.tables):
            return None
        process = self.base_process
        if process is None:
            raise ConfigError(f"the recorded config has no known base [process] (got {self.process_table!r})")
        cfg = self.config
        return build_system(cfg, process, int(cfg.dim or 1), None, float(cfg.t_end or 1.0))

    @cached_property
    def box(self) -> Boundary:
        """The space the particles live in (free on every axis for a run without a box)."""
        from .physics.boundaries import free, make_boundary

        dim = self.dim or 1
        table = self.tables.get("boundary")
        return make_boundary(table, dim) if table else free(dim)

    @property
    def stationary_law(self) -> str | None:
        """The one-particle stationary law of the dynamics when dustsim knows it in closed form.

        ``"uniform"``: free Brownian dust (no external potential) in a box bounded on every
        axis, periodic, or reflecting when there are no pair interactions (with
        interactions in a periodic box the one-particle law is still uniform, by
        translation invariance); neither a schedule of D nor per-label D changes it.
        None otherwise (other laws are not named here yet).
        """
        if self.process_name != "brownian" or self.tables.get("potential"):
            return None
        try:
            kinds = self.box.kinds
        except ConfigError:  # a malformed [boundary]: no known law
            return None
        if not kinds or any(k not in ("periodic", "reflecting") for k in kinds):
            return None
        if self.interacting and any(k != "periodic" for k in kinds):
            return None
        return "uniform"


def tomli_dumps(tables: Mapping[str, Any]) -> str:
    """TOML text of config tables (the one writer of recorded configs)."""
    import tomli_w

    return tomli_w.dumps(dict(tables))
