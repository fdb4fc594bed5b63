"""The registry of pair interactions: one module per pair potential (or family).

Every module of this package (other than ``base``) defines ``DEFINITIONS``, a tuple of
:class:`~dustsim.physics.pair_defs.base.PairPotential` that own the interaction's
parameters, default cut-off, energy, force, step-guard length and Numba ``g = -u'(r)/r``.
The modules are found by name, so **adding a pair interaction is adding one module** plus
its case in ``tests/test_potential_registry.py``. :mod:`dustsim.kernels.forces` generates
the kernel dispatch on ``pair_kind`` from ``KERNELS``.

A leaf package: numpy, numba and ``dustsim.kernels.options`` only.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

from .base import PairPotential


def _discover() -> tuple[PairPotential, ...]:
    found: list[PairPotential] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        definitions = getattr(module, "DEFINITIONS", None)
        if not isinstance(definitions, tuple) or not all(isinstance(d, PairPotential) for d in definitions):
            raise ImportError(f"{module.__name__} defines no DEFINITIONS (a tuple of PairPotential)")
        found.extend(definitions)
    names = [d.name for d in found]
    if len(set(names)) != len(names) or "none" in names:
        raise ImportError(f"pair interaction names must be unique and not 'none': {names}")
    return tuple(sorted(found, key=lambda d: (d.kind, names.index(d.name))))


def _kernels(definitions: tuple[PairPotential, ...]) -> dict[int, Any]:
    out: dict[int, Any] = {}
    for d in definitions:
        if d.kind < 1:
            raise ImportError(f"pair interaction {d.name!r}: kind must be >= 1 (0 means no pair forces)")
        if out.setdefault(d.kind, d.kernel_g) is not d.kernel_g:
            raise ImportError(f"pair interaction {d.name!r} shares kind {d.kind} with another kernel")
    return dict(sorted(out.items()))


#: every pair interaction, by kernel kind
DEFINITIONS: tuple[PairPotential, ...] = _discover()
#: definition by config name
BY_NAME: dict[str, PairPotential] = {d.name: d for d in DEFINITIONS}
#: the Numba ``g(r2, Q)`` of each kernel kind
KERNELS: dict[int, Any] = _kernels(DEFINITIONS)

__all__ = ["BY_NAME", "DEFINITIONS", "KERNELS", "PairPotential"]
