"""Periodic landscape: ``u = A cos(2 pi (x - c) / lambda)`` per axis.

Parameters ``amplitude`` A, ``wavelength`` lambda > 0, ``centre`` c.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ...kernels.options import INLINE
from ...kernels.trig import sin2pi
from .base import Params, SeparablePotential


def energy(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    phase = 2 * np.pi * (x - p["centre"]) / p["wavelength"]
    return np.sum(p["amplitude"] * np.cos(phase), axis=-1)


def force(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    k = 2 * np.pi / p["wavelength"]
    return p["amplitude"] * k * np.sin(k * (x - p["centre"]))


def kernel_params(p: Params) -> tuple[NDArray[np.float64], ...]:
    lam = p["wavelength"]
    return 2 * np.pi * p["amplitude"] / lam, 1.0 / lam, p["centre"]


@njit(**INLINE)
def kernel_force(f, x, strength, inv_wavelength, centre):
    # sin(2 pi u) by quadrant reduction: exact periodicity, vectorisable, per precision
    return f + strength * sin2pi((x - centre) * inv_wavelength)


def torch_force(x: Any, axis: Callable[[str], Any]) -> Any:
    import math

    k = 2.0 * math.pi / axis("wavelength")
    return axis("amplitude") * k * (k * (x - axis("centre"))).sin()


def length_scale(p: Params) -> float:
    return float(np.min(p["wavelength"][p["amplitude"] != 0], initial=np.inf))


DEFINITION = SeparablePotential(
    name="cosine",
    slot=2,
    params={"amplitude": 1.0, "wavelength": 1.0, "centre": 0.0},
    positive=("wavelength",),
    energy=energy,
    force=force,
    curvature=lambda p: np.abs(p["amplitude"]) * (2 * np.pi / p["wavelength"]) ** 2,
    kernel_rows=3,
    kernel_params=kernel_params,
    kernel_force=kernel_force,
    torch_force=torch_force,
    length_scale=length_scale,
)
