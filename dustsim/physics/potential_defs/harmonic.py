"""Harmonic trap: ``u = k/2 (x - c)^2`` per axis (parameters ``k >= 0``, ``centre``)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ...kernels.options import INLINE
from .base import Params, SeparablePotential


def energy(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    return np.sum(0.5 * p["k"] * (x - p["centre"]) ** 2, axis=-1)


def force(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    return -p["k"] * (x - p["centre"])


@njit(**INLINE)
def kernel_force(f, x, k, centre):
    return f - k * (x - centre)


def torch_force(x: Any, axis: Callable[[str], Any]) -> Any:
    return -axis("k") * (x - axis("centre"))


def confinement(p: Params, a: int, confine_kt: float, kT: float) -> tuple[float, float] | None:
    k = float(p["k"][a])
    return (math.sqrt(2 * confine_kt * kT / k), float(p["centre"][a])) if k > 0 else None


DEFINITION = SeparablePotential(
    name="harmonic",
    slot=0,
    params={"k": 1.0, "centre": 0.0},
    nonnegative=("k",),
    energy=energy,
    force=force,
    curvature=lambda p: p["k"],
    kernel_rows=2,
    kernel_params=lambda p: (p["k"], p["centre"]),
    kernel_force=kernel_force,
    torch_force=torch_force,
    confinement=confinement,
)
