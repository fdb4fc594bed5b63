"""The registry of built-in external potentials: one module per potential.

Every module of this package (other than ``base``) defines ``DEFINITION``, a
:class:`~dustsim.physics.potential_defs.base.SeparablePotential` that owns the potential's
energy, force, curvature bound, step-guard length, kernel parameters, Numba kernel force
and torch force. The modules are found by name, so **adding a potential is adding one
module** (copy ``harmonic.py``, take the next free ``slot``) plus its line in the registry
test (``tests/test_potential_registry.py`` checks every definition against itself:
force = -grad energy, Numba = numpy = torch, curvature bound).

The kernel layout follows from the slots: potential ``slot`` sets bit ``1 << slot`` of the
kernel's ``flags`` and owns ``kernel_rows`` consecutive rows of ``P`` after those of the
lower slots (``ROW_OFFSET``); :mod:`dustsim.kernels.forces` generates its dispatch
from ``DEFINITIONS``.

This package is a leaf: it imports numpy, numba and ``dustsim.kernels`` helpers only
(torch lazily, inside ``torch_force``), so the kernels can import it.
"""

from __future__ import annotations

import importlib
import pkgutil

from .base import Params, SeparablePotential


def _discover() -> tuple[SeparablePotential, ...]:
    found = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name == "base" or info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        definition = getattr(module, "DEFINITION", None)
        if not isinstance(definition, SeparablePotential):
            raise ImportError(f"{module.__name__} defines no DEFINITION (a SeparablePotential)")
        found.append(definition)
    found.sort(key=lambda d: d.slot)
    slots = [d.slot for d in found]
    if slots != list(range(len(found))):
        raise ImportError(f"potential slots must be 0..{len(found) - 1}, each once; got {slots}")
    names = [d.name for d in found]
    if len(set(names)) != len(names):
        raise ImportError(f"two potential definitions share a name: {names}")
    return tuple(found)


#: every built-in external potential, in slot order
DEFINITIONS: tuple[SeparablePotential, ...] = _discover()
#: definition by config name
BY_NAME: dict[str, SeparablePotential] = {d.name: d for d in DEFINITIONS}


def row_offsets(definitions: tuple[SeparablePotential, ...]) -> dict[str, int]:
    """First row of ``P`` of each potential (by name): rows follow slot order."""
    out, row = {}, 0
    for d in sorted(definitions, key=lambda d: d.slot):
        out[d.name] = row
        row += d.kernel_rows
    return out


#: first row of ``P`` of each potential (by name)
ROW_OFFSET: dict[str, int] = row_offsets(DEFINITIONS)
#: rows of the kernel parameter array ``P``
N_ROWS: int = sum(d.kernel_rows for d in DEFINITIONS)

__all__ = ["BY_NAME", "DEFINITIONS", "N_ROWS", "ROW_OFFSET", "Params", "SeparablePotential", "row_offsets"]
