"""Harmonic trap: ``u = k/2 (x - c)^2`` per axis (parameters ``k >= 0``, ``centre``)."""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ...kernels.options import INLINE
from .base import SeparablePotential


def energy(x, p):
    return np.sum(0.5 * p["k"] * (x - p["centre"]) ** 2, axis=-1)


def force(x, p):
    return -p["k"] * (x - p["centre"])


@njit(**INLINE)
def kernel_force(f, x, k, centre):
    return f - k * (x - centre)


def torch_force(x, axis):
    return -axis("k") * (x - axis("centre"))


def confinement(p, a, confine_kt, kT):
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
