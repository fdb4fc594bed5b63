"""Constant force (sedimentation): ``u = -f x`` per axis (parameter ``force``)."""

from __future__ import annotations

import numpy as np
from numba import njit
from numpy.typing import NDArray

from ...kernels.options import INLINE
from .base import Params, SeparablePotential


def energy(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    return -np.sum(p["force"] * x, axis=-1)


def force(x: NDArray[np.float64], p: Params) -> NDArray[np.float64]:
    return np.broadcast_to(p["force"], np.shape(x)).copy()


@njit(**INLINE)
def kernel_force(f, _x, value):
    return f + value


DEFINITION = SeparablePotential(
    name="constant",
    slot=3,
    params={"force": 0.0},
    energy=energy,
    force=force,
    curvature=lambda p: np.zeros_like(p["force"]),
    kernel_rows=1,
    kernel_params=lambda p: (p["force"],),
    kernel_force=kernel_force,
    torch_force=lambda x, axis: axis("force").expand_as(x),
)
