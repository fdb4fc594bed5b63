"""The definition of one built-in external potential: everything dustsim knows about it.

A built-in potential is separable, ``U(x) = sum_a u(x_a; p_a)``, with per-axis parameters
``p_a`` (every parameter is a number or one value per axis). Its
:class:`SeparablePotential` owns, in one place:

- the config side: parameter names, defaults and which must be positive / non-negative;
- the numpy reference: ``energy`` and ``force`` (``-dU/dx``), float64;
- the stability data: ``curvature`` (a per-axis bound on ``U''`` used by the Euler check),
  the region where that bound holds, ``length_scale`` (for the step guard) and
  ``confinement`` (where the potential confines the density, for the Fokker-Planck grid);
- the kernel side: ``kernel_params`` (how its parameters pack into its rows of the array
  ``P`` of :mod:`dustsim.kernels.forces`) and ``kernel_force`` (a Numba function that adds
  its force on one coordinate to a running total);
- the torch side: ``torch_force`` (differentiable ``-dU/dx``, for the score model).

Parameters ``p`` are passed as a mapping from parameter name to a float64 array of shape
``(d,)``; positions ``x`` have shape ``(..., d)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

Params = Mapping[str, NDArray[np.float64]]


def _whole_line(p: Params) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    d = len(next(iter(p.values())))
    return np.full(d, -np.inf), np.full(d, np.inf)


def _never(_p: Params) -> float:
    return math.inf


def _not_confining(_p: Params, _axis: int, _confine_kt: float, _kT: float) -> tuple[float, float] | None:
    return None


@dataclass(frozen=True)
class SeparablePotential:
    """One built-in external potential (see the module docstring).

    Attributes
    ----------
    name : str
        The config name (``[[potential]] name = ...``).
    slot : int
        Its place in the kernel layout: bit ``1 << slot`` of ``flags``; its rows of ``P``
        follow those of the lower slots. Forces are summed in slot order. Slots are unique
        and contiguous from 0; a new potential takes the next free one.
    params : dict of str to float
        Parameter names and defaults (all per-axis).
    positive, nonnegative : tuple of str
        Parameters that must be > 0, or >= 0.
    energy : callable ``(x, p) -> (...)``
        ``U(x)`` summed over axes (energy units).
    force : callable ``(x, p) -> (..., d)``
        ``-dU/dx_a`` per axis (energy / length).
    curvature : callable ``p -> (d,)``
        Per-axis bound on ``U''`` (1 / length^2 x energy) used by the Euler stability check
        ``mu U'' dt < 1``; it must bound ``|U''|`` on ``curvature_region``.
    kernel_rows : int
        How many rows of ``P`` it uses.
    kernel_params : callable ``p -> tuple of kernel_rows arrays (d,)``
        Its rows of ``P`` (float64; cast to the positions' precision by the caller).
    kernel_force : Numba function ``(f, x, *rows) -> f``
        Adds its force on one coordinate ``x`` to ``f`` (the row values are scalars of the
        precision of ``x``). Inlined into the steppers: keep it branch-free and typed per
        precision (no float64 literals multiplying float32 values).
    torch_force : callable ``(x, axis) -> tensor``
        ``-dU/dx`` in torch; ``axis(name)`` returns a parameter as a tensor like ``x``.
    length_scale : callable ``p -> float``
        Length over which its force changes appreciably (inf: never), for the step guard.
    curvature_region : callable ``p -> (lo, hi)``
        Per-axis interval on which ``curvature`` bounds ``|U''|`` (default: everywhere).
    confinement : callable ``(p, axis, confine_kt, kT) -> (half_width, centre) or None``
        Half-width of the region around ``centre`` where the potential stays within about
        ``confine_kt * kT`` of its minimum along ``axis`` (None: not confining).
    """

    name: str
    slot: int
    params: dict[str, float]
    energy: Callable[[NDArray[np.float64], Params], NDArray[np.float64]]
    force: Callable[[NDArray[np.float64], Params], NDArray[np.float64]]
    curvature: Callable[[Params], NDArray[np.float64]]
    kernel_rows: int
    kernel_params: Callable[[Params], tuple[NDArray[np.float64], ...]]
    kernel_force: Any
    torch_force: Callable[[Any, Callable[[str], Any]], Any]
    positive: tuple[str, ...] = ()
    nonnegative: tuple[str, ...] = ()
    length_scale: Callable[[Params], float] = _never
    curvature_region: Callable[[Params], tuple[NDArray[np.float64], NDArray[np.float64]]] = _whole_line
    confinement: Callable[[Params, int, float, float], tuple[float, float] | None] = _not_confining

    @property
    def flag(self) -> int:
        """Its bit in the kernel's ``flags``."""
        return 1 << self.slot


__all__ = ["Params", "SeparablePotential"]
