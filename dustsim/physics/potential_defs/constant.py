"""Constant force (sedimentation): ``u = -f x`` per axis (parameter ``force``)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ...kernels.options import INLINE
from .base import SeparablePotential


def energy(x, p):
    return -np.sum(p["force"] * x, axis=-1)


def force(x, p):
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
