"""Double well: ``u = h ((x - c)^2 / w^2 - 1)^2`` per axis (``barrier`` h >= 0, ``width`` w > 0, ``centre``).

Minima at ``c +- w``, barrier ``h`` at ``c``. The curvature bound ``8 h / w^2`` is ``U''``
at the minima; it bounds ``|U''| = h |12 y^2 - 4| / w^2`` (``y = (x - c) / w``) between
the minima only, beyond them the potential stiffens as ``x^2``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ...kernels.options import INLINE
from .base import Params, SeparablePotential


def energy(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    y2 = ((x - p["centre"]) / p["width"]) ** 2
    return np.sum(p["barrier"] * (y2 - 1.0) ** 2, axis=-1)


def force(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    y = (x - p["centre"]) / p["width"]
    return -4.0 * p["barrier"] / p["width"] * (y**3 - y)


def kernel_params(p: Params) -> tuple[NDArray[np.float64], ...]:
    w = p["width"]
    return 4.0 * p["barrier"] / w, p["centre"], 1.0 / w


@njit(**INLINE)
def kernel_force(f, x, strength, centre, inv_width):
    y = (x - centre) * inv_width
    return f - strength * (y * y * y - y)


def torch_force(x: Any, axis: Callable[[str], Any]) -> Any:
    w = axis("width")
    y = (x - axis("centre")) / w
    return -4.0 * axis("barrier") * y * (y * y - 1.0) / w


def length_scale(p: Params) -> float:
    return float(np.min(p["width"][p["barrier"] > 0], initial=np.inf))


def confinement(p: Params, a: int, _confine_kt: float, _kT: float) -> tuple[float, float] | None:
    return (2.0 * float(p["width"][a]), float(p["centre"][a])) if p["barrier"][a] > 0 else None


DEFINITION = SeparablePotential(
    name="double-well",
    slot=1,
    params={"barrier": 1.0, "width": 1.0, "centre": 0.0},
    positive=("width",),
    nonnegative=("barrier",),
    energy=energy,
    force=force,
    curvature=lambda p: 8.0 * p["barrier"] / p["width"] ** 2,
    kernel_rows=3,
    kernel_params=kernel_params,
    kernel_force=kernel_force,
    torch_force=torch_force,
    length_scale=length_scale,
    curvature_region=lambda p: (p["centre"] - p["width"], p["centre"] + p["width"]),
    confinement=confinement,
)
