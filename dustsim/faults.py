"""Fault injection for interruption tests: die at a named point, as a SIGKILL would.

Setting the environment variable ``DUSTSIM_FAULT=NAME`` (or ``NAME@K``) makes the
process end at once with ``os._exit(137)`` — no cleanup, no ``finally`` blocks, exactly
like ``kill -9`` — the first (or ``K``-th) time the code reaches
``fault_point("NAME")``. Without the variable a fault point costs one dictionary look-up.
Tests use it to kill a command at every finishing step and check that the next run
resumes to a bitwise-identical result and leaves no stray file.

Points: ``frame`` (after a recorded frame of a streamed simulation is stored),
``write:complete`` (an output written through :func:`dustsim.io.atomic_output` is
complete under its temporary name), ``write:renamed`` (it is in place; what follows,
such as removing a partial store, not yet done), ``finish:renamed`` (a Zarr partial
store renamed to the output, its progress record not yet removed; a sweep store renamed),
``sweep:member`` (the driver has recorded a sweep member as complete), ``sweep:finish``
(a sweep's members' configs are recorded, the store not yet renamed).
"""

from __future__ import annotations

import os

ENV = "DUSTSIM_FAULT"
KILLED_EXIT_CODE = 137
_hits: dict[str, int] = {}


def fault_point(name: str) -> None:
    """End the process here if ``DUSTSIM_FAULT`` names this point (see the module docstring)."""
    spec = os.environ.get(ENV)
    if not spec:
        return
    target, _, count = spec.partition("@")
    if target != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] >= (int(count) if count.isdigit() else 1):
        os._exit(KILLED_EXIT_CODE)
