"""Time-dependent temperature or diffusion coefficient: drive a physical process like a diffusion model.

A schedule is a dimensionless multiplier ``s(t)`` of either

``of = "D"``
    the diffusion coefficient at fixed temperature: mobility and noise both scale,
    ``mu(t) = s(t) D / kT``, ``D(t) = s(t) D`` — a change of the clock. With a harmonic
    trap ``k = 1`` at ``kT = 1`` and ``s(t) = beta(t) / 2`` this *is* the VP SDE of
    diffusion models: ``dX = -beta/2 X dt + sqrt(beta) dW``;
``of = "kT"``
    the temperature at fixed friction: the noise scales, the mobility does not,
    ``kT(t) = s(t) kT``, ``D(t) = s(t) D`` — heating or annealing.

Named schedules (``t0`` and ``t1`` default to 0 and the run's end time)::

    constant     s = value
    linear       s = start + (end - start) (t - t0) / (t1 - t0)      (clamped outside [t0, t1])
    exponential  s = start (end / start)^((t - t0) / (t1 - t0))      (geometric, like the VE noise)
    table        piecewise-linear through ``times`` and ``values``
    python       any function of t: ``function = "module:name"`` (vectorised over t or not)

Config::

    [schedule]
    name = "linear"
    of = "D"
    start = 0.05
    end = 10.0
    t1 = 1.0
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..spec import finite_number, positive_number
from ..spec import parse_spec as spec_table

SCHEDULES = ("constant", "linear", "exponential", "table", "python")
QUANTITIES = ("D", "kT")
_PARAMS = {
    "constant": ("value",),
    "linear": ("start", "end", "t0", "t1"),
    "exponential": ("start", "end", "t0", "t1"),
    "table": ("times", "values"),
    "python": ("function",),
}


@dataclass(frozen=True)
class Schedule:
    """A multiplier ``s(t)`` of the diffusion coefficient or of the temperature.

    Attributes
    ----------
    name : str
        One of :data:`SCHEDULES`.
    of : {"D", "kT"}
        What it multiplies.
    params : dict
        The resolved parameters (as in the ``[schedule]`` table).
    function : callable or None
        The function of a ``python`` schedule.
    """

    name: str
    of: str
    params: dict[str, Any]
    function: Callable[..., Any] | None = field(default=None, compare=False)

    def __call__(self, t: ArrayLike) -> NDArray[np.float64]:
        """``s(t)`` (dimensionless), evaluated in float64."""
        t = np.asarray(t, dtype=np.float64)
        p = self.params
        if self.name == "constant":
            return np.full(t.shape, float(p["value"]))
        if self.name in ("linear", "exponential"):
            u = np.clip((t - p["t0"]) / (p["t1"] - p["t0"]), 0.0, 1.0)
            if self.name == "linear":
                return p["start"] + (p["end"] - p["start"]) * u
            return p["start"] * (p["end"] / p["start"]) ** u
        if self.name == "table":
            return np.interp(t, p["times"], p["values"])
        assert self.function is not None
        try:
            out = np.asarray(self.function(t), dtype=np.float64)
            if out.shape != t.shape:
                raise ValueError
        except (TypeError, ValueError):
            out = np.array([float(self.function(float(v))) for v in t.ravel()]).reshape(t.shape)
        return out

    def to_table(self) -> dict[str, Any]:
        """The ``[schedule]`` table of a config."""
        return {"name": self.name, "of": self.of, **self.params}


def _num(name: str, key: str, value: Any, positive: bool = False) -> float:
    check = positive_number if positive else finite_number
    return check(value, key, f"schedule {name!r}")


def make_schedule(table: dict[str, Any] | None, t_end: float) -> Schedule | None:
    """Build a schedule from its config table (``None``/empty: none); ``t_end`` resolves ``t1``."""
    from .potentials import function_path, import_function

    if not table:
        return None
    table = dict(table)
    name = str(table.pop("name", "")).strip().lower()
    of = str(table.pop("of", "D"))
    if name not in _PARAMS:
        raise ConfigError(f"unknown schedule {name!r}; choose one of: {', '.join(SCHEDULES)}")
    if of not in QUANTITIES:
        raise ConfigError(f"schedule: of must be 'D' or 'kT', got {of!r}")
    unknown = sorted(set(table) - set(_PARAMS[name]))
    if unknown:
        raise ConfigError(
            f"schedule {name!r} has no parameter {unknown[0]!r}; its parameters are: {', '.join(_PARAMS[name])}"
        )
    fn = None
    if name == "constant":
        params: dict[str, Any] = {"value": _num(name, "value", table.get("value", 1.0), positive=True)}
    elif name in ("linear", "exponential"):
        params = {
            "start": _num(name, "start", table.get("start", 1.0), positive=True),
            "end": _num(name, "end", table.get("end", 1.0), positive=True),
            "t0": _num(name, "t0", table.get("t0", 0.0)),
            "t1": _num(name, "t1", table.get("t1", t_end)),
        }
        if params["t1"] <= params["t0"]:
            raise ConfigError(f"schedule {name!r}: t1 ({params['t1']}) must exceed t0 ({params['t0']})")
    elif name == "table":
        times = np.asarray(table.get("times", []), dtype=np.float64)
        values = np.asarray(table.get("values", []), dtype=np.float64)
        if times.ndim != 1 or len(times) < 1 or times.shape != values.shape:
            raise ConfigError("schedule 'table' needs lists times and values of the same length")
        if not (np.all(np.isfinite(times)) and np.all(np.diff(times) > 0)):
            raise ConfigError("schedule 'table': times must be finite and increasing")
        if not (np.all(np.isfinite(values)) and np.all(values > 0)):
            raise ConfigError("schedule 'table': values must be positive")
        params = {"times": times.tolist(), "values": values.tolist()}
    else:
        function = table.get("function")
        if function is None:
            raise ConfigError("schedule 'python' needs function = 'module:name' (a function of t)")
        if callable(function):
            fn, path = function, function_path(function, "schedule function")
        else:
            path = str(function)
            fn = import_function(path, "schedule function")
        params = {"function": path}
    return Schedule(name, of, params, fn)


def parse_spec(spec: str) -> dict[str, Any]:
    """``"linear:start=2,end=0.1,of=kT"`` -> a ``[schedule]`` table (``python:module:function`` for short)."""
    python = str(spec).strip().partition(":")[0].strip().lower() == "python"
    return spec_table(spec, "schedule", strings=("function", "of"), positional="function" if python else None)


__all__ = ["QUANTITIES", "SCHEDULES", "Schedule", "make_schedule", "parse_spec"]
