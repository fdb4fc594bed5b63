"""External potentials: the landscape the dust moves in.

Built-in potentials (energies in units of ``kT``'s energy unit, lengths in the
positions' unit; every parameter may be a number, applied to every axis, or a list with
one value per axis)::

    harmonic     U = sum_a k_a/2 (x_a - c_a)^2                       k, centre
    double-well  U = sum_a h_a ((x_a - c_a)^2 / w_a^2 - 1)^2          barrier, width, centre
    cosine       U = sum_a A_a cos(2 pi (x_a - c_a) / lambda_a)      amplitude, wavelength, centre
    constant     U = -sum_a f_a x_a   (sedimentation: a constant force)   force
    custom       a Numba function ``force(x, out)`` adding the force at ``x`` to ``out``

Each built-in potential is defined once, in its module of
:mod:`dustsim.physics.potential_defs` (energy, force, curvature bound, step-guard length,
kernel parameters, Numba and torch forces); this module builds and combines them.

A double well along ``x`` only, free along ``y``: ``barrier = [2.0, 0.0]``. Several
potentials add up (at most one of each built-in kind, and one custom force).

Custom forces
-------------
Write a Numba ``njit`` function of one particle's position that *adds* the force to
``out`` (both float64 arrays of length d), in an importable module::

    # mylandscape.py
    from numba import njit

    @njit
    def mexican_hat(x, out):
        r2 = x[0] ** 2 + x[1] ** 2
        out[0] += -4.0 * x[0] * (r2 - 1.0)
        out[1] += -4.0 * x[1] * (r2 - 1.0)

and name it as ``custom`` with ``force = "mylandscape:mexican_hat"`` (config or CLI:
``--potential custom:force=mylandscape:mexican_hat``), or pass the function itself from
Python (``potential=[{"name": "custom", "force": mexican_hat}]``). The config records the
import path, so that the run can be reproduced and resumed; a function that cannot be
imported by that path (defined inside another function) is refused. Optional
``length`` sets the length scale the step-size guard compares displacements with.
"""

from __future__ import annotations

import importlib
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..kernels import forces as kf
from ..spec import axis_numbers, positive_number
from ..spec import parse_spec as spec_table
from .potential_defs import BY_NAME as DEFINITIONS
from .potential_defs import ROW_OFFSET, SeparablePotential

POTENTIALS = (*DEFINITIONS, "custom")
_PARAMS: dict[str, dict[str, Any]] = {
    **{name: dict(d.params) for name, d in DEFINITIONS.items()},
    "custom": {"force": None, "length": None},
}
_POSITIVE = {(name, key) for name, d in DEFINITIONS.items() for key in d.positive}
_NONNEGATIVE = {(name, key) for name, d in DEFINITIONS.items() for key in d.nonnegative}


@dataclass(frozen=True)
class Potential:
    """One external potential term.

    Attributes
    ----------
    name : str
        One of :data:`POTENTIALS`.
    params : dict
        Resolved parameters: per-axis lists of floats (built-ins), or ``force`` (import
        path) and ``length`` (custom).
    function : callable or None
        The custom force function (custom only).
    """

    name: str
    params: dict[str, Any]
    function: Callable[..., Any] | None = field(default=None, compare=False)

    def axis(self, key: str) -> NDArray[np.float64]:
        """A per-axis parameter as an array."""
        return np.asarray(self.params[key], dtype=np.float64)

    def to_table(self) -> dict[str, Any]:
        """The ``[[potential]]`` table of a config."""
        return {"name": self.name, **{k: v for k, v in self.params.items() if v is not None}}

    # ------------------------------------------------------------------ physics
    @property
    def definition(self) -> SeparablePotential:
        """Its definition (:mod:`dustsim.physics.potential_defs`); custom terms have none."""
        if self.name not in DEFINITIONS:
            raise ConfigError("a custom potential is given by its force only: its energy is not available")
        return DEFINITIONS[self.name]

    def arrays(self) -> dict[str, NDArray[np.float64]]:
        """The per-axis parameters as float64 arrays (what the definitions take)."""
        return {key: self.axis(key) for key in self.definition.params}

    def energy(self, x: ArrayLike) -> NDArray[np.float64]:
        """Potential energy at positions ``x`` (shape ``(..., d)``); custom: not available."""
        return self.definition.energy(np.asarray(x, dtype=np.float64), self.arrays())

    def force(self, x: ArrayLike) -> NDArray[np.float64]:
        """Force ``-grad U`` at positions ``x`` (shape ``(..., d)``), numpy float64 reference."""
        return self.definition.force(np.asarray(x, dtype=np.float64), self.arrays())

    def curvature(self, dim: int) -> NDArray[np.float64]:
        """Largest curvature ``U''`` per axis near the minima (1 / time per unit mobility).

        The explicit Euler step is stable where ``mu U'' dt < 2``; dustsim requires
        ``mu U'' dt < 1`` (see :mod:`dustsim.physics.system`). Harmonic: ``k``; double well:
        ``8 h / w^2`` (at its minima); cosine: ``A (2 pi / lambda)^2``; others 0.
        """
        if self.name not in DEFINITIONS:
            return np.zeros(dim)
        return self.definition.curvature(self.arrays())

    def length_scale(self) -> float:
        """Length over which the force changes appreciably (inf if it never does)."""
        if self.name == "custom":
            return math.inf if self.params.get("length") is None else float(self.params["length"])
        return self.definition.length_scale(self.arrays())

    def confinement(self, axis: int, confine_kt: float, kT: float) -> tuple[float, float] | None:
        """``(half_width, centre)`` where it stays within about ``confine_kt * kT`` of its minimum on ``axis``."""
        if self.name not in DEFINITIONS:
            return None
        return self.definition.confinement(self.arrays(), axis, confine_kt, kT)

    def torch_force(self, x: Any) -> Any:
        """The force ``-grad U`` in torch (differentiable) at ``x`` (tensor ``(..., d)``)."""
        if self.name not in DEFINITIONS:
            raise ConfigError(f"the score model cannot use a {self.name!r} potential (no differentiable force)")
        import torch

        def axis(key: str) -> Any:
            return torch.as_tensor(self.axis(key), dtype=x.dtype, device=x.device)

        return self.definition.torch_force(x, axis)


# ------------------------------------------------------------------------- building
def parse_spec(spec: str) -> dict[str, Any]:
    """``"double-well:barrier=2,width=[1,2]"`` -> ``{"name": "double-well", "barrier": 2, ...}``.

    ``custom:module:function`` is short for ``custom:force=module:function``.
    """
    custom = str(spec).strip().partition(":")[0].strip().lower() == "custom"
    return spec_table(
        spec,
        "potential",
        choices=POTENTIALS,
        strings=("force",) if custom else (),
        positional="force" if custom else None,
    )


def _per_axis(name: str, key: str, value: Any, dim: int) -> list[float]:
    sign = "positive" if (name, key) in _POSITIVE else "nonnegative" if (name, key) in _NONNEGATIVE else "any"
    return axis_numbers(value, key, dim, f"potential {name!r}", sign=sign)


def import_function(path: str, what: str = "custom force") -> Callable[..., Any]:
    """The object at ``"module:qualified.name"`` (the module may already be loaded, e.g. ``__main__``)."""
    module_name, colon, qualname = str(path).partition(":")
    if not colon or not module_name or not qualname:
        raise ConfigError(f"{what} {path!r} must be given as 'module:function'")
    try:
        obj: Any = sys.modules.get(module_name) or importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"cannot import module {module_name!r} of the {what} {path!r}: {exc}") from None
    for part in qualname.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            raise ConfigError(f"module {module_name!r} has no {qualname!r} (the {what} {path!r})")
    return obj


def function_path(fn: Callable[..., Any], what: str = "custom force") -> str:
    """The import path ``"module:qualname"`` of a function, checked to lead back to it."""
    py = getattr(fn, "py_func", fn)
    module, qualname = getattr(py, "__module__", None), getattr(py, "__qualname__", "")
    if not module or "<locals>" in qualname or "<lambda>" in qualname:
        raise ConfigError(
            f"the {what} {qualname or fn!r} cannot be recorded for reproduction: define it at the top level of a module"
        )
    path = f"{module}:{qualname}"
    if import_function(path, what) is not fn:
        raise ConfigError(f"the {what} {path} does not import back to the same object; define it at module level")
    return path


def make_potential(table: dict[str, Any], dim: int) -> Potential:
    """Build one potential from its config table (``name`` plus parameters)."""
    table = dict(table)
    name = str(table.pop("name", "")).strip().lower()
    if name not in _PARAMS:
        raise ConfigError(f"unknown potential {name!r}; choose one of: {', '.join(POTENTIALS)}")
    defaults = _PARAMS[name]
    unknown = sorted(set(table) - set(defaults))
    if unknown:
        raise ConfigError(
            f"potential {name!r} has no parameter {unknown[0]!r}; its parameters are: {', '.join(defaults)}"
        )
    if name == "custom":
        force = table.get("force")
        if force is None:
            raise ConfigError("potential 'custom' needs force = 'module:function' (a Numba function force(x, out))")
        if callable(force):
            fn, path = force, function_path(force)
        else:
            path = str(force)
            fn = import_function(path)
        length = table.get("length")
        length = None if length is None else positive_number(length, "length", "potential 'custom'")
        return Potential(name, {"force": path, "length": length}, fn)
    params = {key: _per_axis(name, key, table.get(key, default), dim) for key, default in defaults.items()}
    return Potential(name, params)


def make_potentials(tables: Sequence[dict[str, Any]] | dict[str, Any] | None, dim: int) -> list[Potential]:
    """All potential terms of a config (a table, or a list of tables)."""
    if tables is None:
        return []
    if isinstance(tables, dict):
        tables = [tables]
    out = [make_potential(t, dim) for t in tables]
    names = [p.name for p in out]
    for name in set(names):
        if names.count(name) > 1:
            raise ConfigError(f"potential {name!r} is given {names.count(name)} times; combine them into one")
    return out


# ------------------------------------------------------------------------ kernels
def separable_params(potentials: Sequence[Potential], dim: int, dtype: np.dtype) -> tuple[NDArray, int]:
    """The kernel form of the built-in terms: ``(P, flags)`` (see :mod:`dustsim.kernels.forces`)."""
    kf.check_cache()
    P = np.zeros((kf.N_ROWS, dim), dtype=np.float64)
    flags = 0
    for pot in potentials:
        if pot.name not in DEFINITIONS:
            continue
        definition = pot.definition
        rows = definition.kernel_params(pot.arrays())
        if len(rows) != definition.kernel_rows:
            raise ValueError(f"potential {pot.name!r} packs {len(rows)} kernel rows, not {definition.kernel_rows}")
        start = ROW_OFFSET[pot.name]
        for i, row in enumerate(rows):
            P[start + i] = row
        flags |= definition.flag
    return np.ascontiguousarray(P, dtype=dtype), flags


def custom_potential(potentials: Sequence[Potential]) -> Potential | None:
    """The custom term, if any."""
    return next((p for p in potentials if p.name == "custom"), None)


def compile_user_force(fn: Callable[..., Any]) -> Any:
    """Wrap a Numba ``force(x, out)`` into the ``cfunc`` the stepper calls."""
    from numba import carray, cfunc, njit
    from numba.core.registry import CPUDispatcher

    from ..kernels.euler import USER_FORCE_SIG

    jitted = fn if isinstance(fn, CPUDispatcher) else njit(fn)

    @cfunc(USER_FORCE_SIG)
    def wrapper(x, out, d):  # pragma: no cover - compiled
        jitted(carray(x, (d,)), carray(out, (d,)))

    return wrapper


def total_force(potentials: Sequence[Potential], x: ArrayLike) -> NDArray[np.float64]:
    """The force of all terms at positions ``x`` (shape ``(n, d)``), float64.

    Built-in terms are evaluated by the stepper's own kernel (the same formulas, in
    float64); a custom force by calling it on every point.
    """
    x = np.ascontiguousarray(np.atleast_2d(np.asarray(x, dtype=np.float64)))
    n, dim = x.shape
    P, flags = separable_params(potentials, dim, np.dtype(np.float64))
    out = kf.external_forces(np.ascontiguousarray(x.T), P, flags).T.copy()
    custom = custom_potential(potentials)
    if custom is not None and custom.function is not None:
        buf = np.zeros(dim)
        for i in range(n):
            buf[:] = 0.0
            custom.function(x[i], buf)
            out[i] += buf
    return out


def total_energy(potentials: Sequence[Potential], x: ArrayLike) -> NDArray[np.float64]:
    """The potential energy of all (built-in) terms at positions ``x`` (shape ``(..., d)``)."""
    x = np.asarray(x, dtype=np.float64)
    return sum((p.energy(x) for p in potentials), np.zeros(x.shape[:-1]))


__all__ = [
    "POTENTIALS",
    "Potential",
    "compile_user_force",
    "make_potential",
    "make_potentials",
    "parse_spec",
    "separable_params",
    "total_energy",
    "total_force",
]
