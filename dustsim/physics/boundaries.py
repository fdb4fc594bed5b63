"""Boundaries: free space, periodic boxes, reflecting walls — as (displacement, shift) pairs.

A :class:`Boundary` gives every axis a kind — ``free``, ``periodic`` (minimum-image
convention; particles crossing the box are wrapped and their *image* count recorded) or
``reflecting`` (walls at both ends; a move that would cross a wall is folded back) — and,
for the non-free axes, the box ``[lo, lo + L)``. By default the box is centred on the
origin: ``lo = -L / 2``.

As in jax-md, the space is two functions: :meth:`Boundary.displacement` (the vector
between two points, minimum image on periodic axes) and :meth:`Boundary.shift` (move
points, wrapping or reflecting). The stepper uses the same pair, compiled, in
:mod:`dustsim.kernels.space`.

Config::

    [boundary]
    kind = "periodic"          # or "reflecting", "free", or one per axis: ["periodic", "reflecting"]
    box = [20.0, 10.0]         # box length per axis (a number: the same on every axis)
    origin = [-10.0, 0.0]      # lower corner (default: -box / 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from ..kernels.space import KIND_CODES
from ..spec import finite_number, per_axis, positive_number

KINDS = tuple(KIND_CODES)


@dataclass(frozen=True)
class Boundary:
    """Boundary conditions per axis.

    Attributes
    ----------
    kinds : tuple of str
        ``free``, ``periodic`` or ``reflecting``, one per axis.
    lo, length : tuple of float
        Lower wall and box length per axis (``nan`` on free axes).
    """

    kinds: tuple[str, ...]
    lo: tuple[float, ...]
    length: tuple[float, ...]

    @property
    def dim(self) -> int:
        return len(self.kinds)

    @property
    def is_free(self) -> bool:
        return all(k == "free" for k in self.kinds)

    @property
    def periodic(self) -> NDArray[np.bool_]:
        return np.array([k == "periodic" for k in self.kinds])

    @property
    def has_box(self) -> bool:
        return not self.is_free

    def to_table(self) -> dict[str, Any]:
        """The ``[boundary]`` table of a config (empty for free space)."""
        if self.is_free:
            return {}
        kinds = self.kinds[0] if len(set(self.kinds)) == 1 else list(self.kinds)
        box = [float(v) if math.isfinite(v) else 0.0 for v in self.length]
        origin = [float(v) if math.isfinite(v) else 0.0 for v in self.lo]
        return {"kind": kinds, "box": box, "origin": origin}

    def describe(self) -> str:
        """E.g. ``"periodic"`` or ``"periodic,reflecting"``."""
        return self.kinds[0] if len(set(self.kinds)) == 1 else ",".join(self.kinds)

    # -------------------------------------------------------------- the space
    def displacement(self, a: ArrayLike, b: ArrayLike) -> NDArray[np.float64]:
        """``a - b`` with the minimum image on periodic axes (shapes broadcast, last axis d)."""
        dx = np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64)
        per = self.periodic
        if per.any():
            L = np.where(per, np.asarray(self.length), 1.0)
            dx = np.where(per, dx - L * np.round(dx / L), dx)
        return dx

    def shift(self, x: ArrayLike, dx: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.int64]]:
        """Move points: ``(x + dx folded into the box, periodic boxes crossed per axis)``."""
        y = np.asarray(x, dtype=np.float64) + np.asarray(dx, dtype=np.float64)
        crossed = np.zeros(y.shape, dtype=np.int64)
        for a, kind in enumerate(self.kinds):
            lo, L = self.lo[a], self.length[a]
            if kind == "periodic":
                k = np.floor((y[..., a] - lo) / L)
                y[..., a] -= k * L
                crossed[..., a] = k.astype(np.int64)
            elif kind == "reflecting":
                u = np.mod(y[..., a] - lo, 2 * L)
                y[..., a] = lo + np.where(u > L, 2 * L - u, u)
        return y, crossed

    def unwrap(self, position: ArrayLike, image: ArrayLike) -> NDArray[np.float64]:
        """Unwrapped coordinates ``position + image * L`` (periodic axes; others unchanged)."""
        L = np.where(self.periodic, np.nan_to_num(np.asarray(self.length, dtype=np.float64)), 0.0)
        return np.asarray(position, dtype=np.float64) + np.asarray(image, dtype=np.float64) * L

    def contains(self, x: ArrayLike) -> NDArray[np.bool_]:
        """Whether points lie in the box (closed on reflecting, half-open on periodic axes)."""
        x = np.asarray(x, dtype=np.float64)
        ok = np.ones(x.shape[:-1], dtype=bool)
        for a, kind in enumerate(self.kinds):
            lo, hi = self.lo[a], self.lo[a] + self.length[a]
            if kind == "periodic":
                ok &= (x[..., a] >= lo) & (x[..., a] < hi)
            elif kind == "reflecting":
                ok &= (x[..., a] >= lo) & (x[..., a] <= hi)
        return ok

    def volume(self) -> float:
        """Volume of the box (inf if an axis is free)."""
        return math.inf if any(k == "free" for k in self.kinds) else float(np.prod(self.length))

    # ------------------------------------------------------------- for kernels
    def kernel_arrays(self, dtype: np.dtype) -> tuple[NDArray[np.int64], NDArray, NDArray, NDArray, NDArray]:
        """``(kinds, lo, length, hi, half)`` as the kernels take them (free axes: harmless values)."""
        kinds = np.array([KIND_CODES[k] for k in self.kinds], dtype=np.int64)
        lo = np.array([v if math.isfinite(v) else 0.0 for v in self.lo])
        L = np.array([v if math.isfinite(v) else 1.0 for v in self.length])
        lo_t, L_t = lo.astype(dtype), L.astype(dtype)
        hi_t = (lo_t + L_t).astype(dtype)
        return kinds, lo_t, L_t, hi_t, (L_t * dtype.type(0.5)).astype(dtype)


def free(dim: int) -> Boundary:
    """Free space in ``dim`` dimensions."""
    return Boundary(("free",) * dim, (math.nan,) * dim, (math.nan,) * dim)


def _per_axis(name: str, value: Any, dim: int) -> list[Any]:
    return per_axis(value, name, dim, "boundary")


def make_boundary(table: dict[str, Any] | None, dim: int) -> Boundary:
    """Build the boundary from its config table (``kind``, ``box``, ``origin``)."""
    table = dict(table or {})
    unknown = sorted(set(table) - {"kind", "box", "origin"})
    if unknown:
        raise ConfigError(f"boundary has no option {unknown[0]!r}; its options are: kind, box, origin")
    kinds = [str(k).strip().lower() for k in _per_axis("kind", table.get("kind", "free"), dim)]
    for k in kinds:
        if k not in KIND_CODES:
            raise ConfigError(f"unknown boundary {k!r}; choose one of: {', '.join(KINDS)}")
    if all(k == "free" for k in kinds):
        return free(dim)
    if table.get("box") is None:
        walls = "/".join(sorted(set(kinds) - {"free"}))
        raise ConfigError(f"a {walls} boundary needs a box: give --box L (or box = L in [boundary])")
    box = _per_axis("box", table["box"], dim)
    lengths, los = [], []
    origin = _per_axis("origin", table["origin"], dim) if table.get("origin") is not None else [None] * dim
    for a, kind in enumerate(kinds):
        L = box[a]
        if kind == "free":
            lengths.append(math.nan)
            los.append(math.nan)
            continue
        L = positive_number(L, f"box length on axis {a}")
        o = finite_number(-0.5 * L if origin[a] is None else origin[a], f"box origin on axis {a}")
        lengths.append(L)
        los.append(o)
    return Boundary(tuple(kinds), tuple(los), tuple(lengths))


def parse_box(text: str) -> list[float] | float:
    """``"10"`` -> 10.0, ``"10,5"`` or ``"10x5"`` -> [10.0, 5.0] (for ``--box``)."""
    parts = [p for p in text.replace("x", ",").replace("[", "").replace("]", "").split(",") if p.strip()]
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ConfigError(f"--box must be a length or lengths per axis like 10 or 10,5; got {text!r}") from None
    if not values:
        raise ConfigError("--box needs a length")
    return values[0] if len(values) == 1 else values


__all__ = ["KINDS", "Boundary", "free", "make_boundary", "parse_box"]
