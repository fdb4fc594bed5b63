"""Forces: separable external potentials, pair potentials, fixed-point accumulation.

The formulas are not written here: each built-in potential is defined once, in its module
of :mod:`dustsim.physics.potential_defs` (pair interactions: :mod:`dustsim.physics.pair_defs`),
and this module generates the kernels' dispatch over them (``separable_force``,
``axis_params``, ``pair_g``) from those registries at import time.

External potentials
-------------------
Every built-in external potential is a sum of one-axis terms, ``U(x) = sum_a u_a(x_a)``,
so the force on axis ``a`` depends on ``x_a`` only and the stepper can advance each axis
on its own, vectorised. The per-axis parameters are packed into an array ``P`` of shape
``(N_ROWS, d)`` and a bit mask ``flags`` of the terms present: the potential of slot ``s``
owns bit ``1 << s`` and ``kernel_rows`` consecutive rows after those of the lower slots
(today: harmonic rows 0-1, double-well 2-4, cosine 5-7, constant 8).

Pair potentials
---------------
A pair potential enters through ``g(r^2)`` with ``F_i = g (x_i - x_j)``
(``g = -u'(r) / r``), for ``r < r_c``; its kernel is picked by the integer ``pair_kind``
(``PAIR_NONE``: no pair forces) and reads its parameters from
``Q = (epsilon, sigma, a, r0, cap, 0, 1, 24)`` (the constants in the positions' precision).
``cap > 0`` limits the magnitude of a pair force (a warm-up device for overlapping
starts). Coincident particles (``r = 0``) exert no force on each other.

Fixed-point sums
----------------
Pair forces on a particle are summed as 64-bit integers in units of ``2^-32``
(``FORCE_SCALE``), as OpenMM does: integer addition is associative, so the total does
not depend on the order in which neighbours are visited — cell list or brute force, any
thread count, any memory order of the particles — and the forces of a pair cancel exactly.
A single pair force above ``FORCE_LIMIT`` (2^24) is reported as an overflow.

Numba cache
-----------
The kernels that inline the generated dispatch are cached on disk keyed on their own
source file, not on the registry: after adding or editing a definition, delete
``dustsim/kernels/__pycache__`` (``docs/development.md``). ``LAYOUT_ID`` fingerprints
the registry layout so that a stale cache is detected (``check_cache``).
"""

from __future__ import annotations

import hashlib
import linecache
from typing import Any

import numpy as np
from numba import njit

from ..physics import pair_defs, potential_defs
from ..physics.pair_defs.base import N_Q, Q_A, Q_C24, Q_CAP, Q_EPS, Q_ONE, Q_R0, Q_SIGMA, Q_ZERO  # noqa: F401 - the Q layout
from .options import INLINE as _INLINE
from .options import JIT as _JIT
from .space import displacement

#: rows of the separable parameter array P (from the registry)
N_ROWS = potential_defs.N_ROWS

PAIR_NONE = 0

FORCE_SCALE = 2.0**32
FORCE_LIMIT = 2.0**24

# status codes of the steppers and force kernels
OK, NOT_FINITE, TOO_FAR, FORCE_OVERFLOW = 0, 1, 2, 3


# ------------------------------------------------------------- generated dispatch
def generate(name: str, lines: list[str], namespace: dict[str, Any], tag: str = "") -> Any:
    """Compile generated source into an inlined Numba function named ``name``.

    The text is deterministic (built from the registries in slot / kind order) and is
    registered with :mod:`linecache` under ``<dustsim.kernels.forces generated NAME TAG>``
    so that tracebacks and ``inspect`` show it.
    """
    source = "\n".join(lines) + "\n"
    filename = f"<dustsim.kernels.forces generated {name}{' ' + tag if tag else ''}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    exec(compile(source, filename, "exec"), namespace)  # source built from the registry above
    fn = namespace[name]
    fn.__module__ = __name__
    fn.__doc__ = f"Generated from the registry; source: ``linecache.getlines({filename!r})``."
    return njit(**_INLINE)(fn)


def separable_source(definitions: tuple[Any, ...]) -> tuple[list[str], dict[str, Any]]:
    """Source of ``separable_force`` over ``definitions`` (slot order: the order forces are summed) and its globals."""
    lines = ["def separable_force(x, prm, flags):", "    f = x - x  # a zero of the right precision"]
    namespace: dict[str, Any] = {}
    offsets = potential_defs.row_offsets(definitions)
    for d in sorted(definitions, key=lambda d: d.slot):
        term = f"_term_{d.slot}"
        namespace[term] = d.kernel_force
        row = offsets[d.name]
        args = ", ".join(f"prm[{row + i}]" for i in range(d.kernel_rows))
        lines += [f"    if flags & {d.flag}:  # {d.name}", f"        f = {term}(f, x, {args})"]
    lines.append("    return f")
    return lines, namespace


def axis_params_source(n_rows: int) -> list[str]:
    """Source of ``axis_params``: the ``n_rows`` parameters of one axis as a tuple."""
    items = ", ".join(f"P[{i}, axis]" for i in range(n_rows))
    return ["def axis_params(P, axis):", f"    return ({items}{',' if n_rows == 1 else ''})"]


def _pair_source() -> tuple[list[str], dict[str, Any]]:
    lines = [
        "def pair_g(r2, kind, Q):",
        "    zero = Q[Q_ZERO]",
        "    g = zero",
        "    if r2 > zero:",
    ]
    namespace: dict[str, Any] = {"Q_ZERO": Q_ZERO, "Q_CAP": Q_CAP, "np": np}
    for i, (kind, kernel) in enumerate(pair_defs.KERNELS.items()):
        namespace[f"_g_{kind}"] = kernel
        names = "/".join(d.name for d in pair_defs.DEFINITIONS if d.kind == kind)
        branch = "if" if i == 0 else "elif"
        lines += [f"        {branch} kind == {kind}:  # {names}", f"            g = _g_{kind}(r2, Q)"]
    lines += [
        "        cap = Q[Q_CAP]",
        "        if cap > zero:",
        "            limit = cap / np.sqrt(r2)",
        "            g = min(max(g, -limit), limit)",
        "    return g",
    ]
    return lines, namespace


_SEP_LINES, _SEP_NS = separable_source(potential_defs.DEFINITIONS)
separable_force = generate("separable_force", _SEP_LINES, _SEP_NS)
separable_force.__doc__ = """Force on one axis from the built-in external potentials (generated from the registry).

    Parameters
    ----------
    x : float32 or float64
        Coordinate (length), finite.
    prm : tuple of N_ROWS floats, same precision as ``x``
        The axis's parameters, from ``axis_params``.
    flags : int64
        Bit mask of the terms present.
    """
axis_params = generate("axis_params", axis_params_source(N_ROWS), {})
axis_params.__doc__ = "The separable parameters of one axis, as a tuple (load them once, outside a loop)."
_PAIR_LINES, _PAIR_NS = _pair_source()
pair_g = generate("pair_g", _PAIR_LINES, _PAIR_NS)
pair_g.__doc__ = """``g = -u'(r) / r`` of the pair potential at squared distance ``r2`` (0 at ``r = 0``).

    Constants come from ``Q`` (``Q_ZERO``) so that they have the precision of the positions.
    """


def _fingerprint() -> int:
    """Hash of the generated dispatch and of the bytecode of every kernel formula it calls."""
    h = hashlib.sha256("\n".join([*_SEP_LINES, *_PAIR_LINES]).encode())
    for fn in [*(d.kernel_force for d in potential_defs.DEFINITIONS), *pair_defs.KERNELS.values()]:
        code = fn.py_func.__code__
        consts = tuple(c for c in code.co_consts if not isinstance(c, type(code)))  # no addresses
        h.update(code.co_code + repr(consts).encode() + repr(code.co_names).encode())
    return int.from_bytes(h.digest()[:7], "little")


#: fingerprint of the generated dispatch (changes whenever a definition is added, moved or edited)
LAYOUT_ID = _fingerprint()


@njit(**_JIT)
def _cached_layout_id():
    return LAYOUT_ID


def check_cache() -> None:
    """Raise if the on-disk Numba cache was compiled for another registry layout.

    The cached kernels freeze the dispatch they were compiled with; a cache built before a
    potential or pair interaction was added would silently ignore it. Checked once per process.
    """
    global _CACHE_CHECKED
    if _CACHE_CHECKED:
        return
    if _cached_layout_id() != LAYOUT_ID:
        from ..errors import DustsimError

        raise DustsimError(
            "the Numba cache in dustsim/kernels/__pycache__ was compiled for another set of potentials "
            "(a definition was added or changed): delete that folder and run again"
        )
    _CACHE_CHECKED = True


_CACHE_CHECKED = False


@njit(**_INLINE)
def to_fixed(v, scale, limit):
    """``(round(v * 2^32) as int64, overflow flag)`` for one force component.

    Written with a select (no early return) so that loops over pairs vectorise; an
    overflowing component gives 0.
    """
    bad = not (abs(v) <= limit)
    q = np.int64(np.rint(v * scale))
    return (np.int64(0) if bad else q), bad


@njit(**_INLINE)
def pair_fixed(dx0, dx1, dx2, r2, d, rc2, kind, Q, scale, limit):
    """Fixed-point force on a particle from one pair at displacement ``dx`` (``r2 = |dx|^2``).

    Returns ``(q0, q1, q2, overflow)``: zero (and no overflow) unless ``r2 < rc2``. The one
    formula of every pair kernel; selects only, so that a loop over candidate pairs
    vectorises.
    """
    zero = np.int64(0)
    inside = r2 < rc2
    g = pair_g(r2, kind, Q)
    q0, bad = to_fixed(g * dx0, scale, limit)
    q1 = zero
    q2 = zero
    if d > 1:
        q1, bad1 = to_fixed(g * dx1, scale, limit)
        bad = bad or bad1
    if d > 2:
        q2, bad2 = to_fixed(g * dx2, scale, limit)
        bad = bad or bad2
    return (q0 if inside else zero), (q1 if inside else zero), (q2 if inside else zero), (bad and inside)


@njit(**_INLINE)
def add_pair(p, k, j, d, kinds, length, half, rc2, kind, Q, scale, limit):
    """Fixed-point force of particle ``j`` on ``k`` (rows of ``p``): ``(q0, q1, q2, overflow)``.

    Scalars only (no array views) so that the pair loop does no reference counting.
    """
    zero = np.int64(0)
    dx0 = displacement(p[k, 0], p[j, 0], kinds[0], length[0], half[0])
    r2 = dx0 * dx0
    dx1 = dx0
    dx2 = dx0
    if d > 1:
        dx1 = displacement(p[k, 1], p[j, 1], kinds[1], length[1], half[1])
        r2 = r2 + dx1 * dx1
    if d > 2:
        dx2 = displacement(p[k, 2], p[j, 2], kinds[2], length[2], half[2])
        r2 = r2 + dx2 * dx2
    if not (r2 < rc2):  # most candidates of a cell list: skip the formula
        return zero, zero, zero, False
    return pair_fixed(dx0, dx1, dx2, r2, d, rc2, kind, Q, scale, limit)


# ----------------------------------------------------------- Python-callable kernels
@njit(**_JIT)
def external_forces(x, P, flags):
    """Forces of the built-in external potentials at positions ``x`` (shape ``(d, n)``)."""
    d, n = x.shape
    out = np.empty_like(x)
    for a in range(d):
        prm = axis_params(P, a)
        for i in range(n):
            out[a, i] = separable_force(x[a, i], prm, flags)
    return out


@njit(**_JIT)
def pair_forces_brute(p, kinds, length, half, rc2, kind, Q, scale, limit):
    """All-pairs (O(N^2)) fixed-point pair forces: the reference for the cell list.

    Parameters
    ----------
    p : ndarray, shape (n, d), d <= 3
        Positions (inside the box on periodic axes).
    kinds : ndarray of int64, shape (d,)
        Boundary kind per axis (:mod:`dustsim.kernels.space`).
    length, half : ndarray, shape (d,), precision of ``p``
        Box length per axis and its half (ignored on free axes).
    rc2 : float
        Squared cut-off radius (precision of ``p``).
    kind : int
        Pair kind; ``Q`` its parameters (precision of ``p``).
    scale, limit : float
        ``FORCE_SCALE`` and ``FORCE_LIMIT`` in the precision of ``p``.

    Returns
    -------
    acc : ndarray of int64, shape (n, 3)
        Forces in units of ``2^-32`` (columns beyond ``d`` are zero).
    bad : ndarray of bool, shape (n,)
        Whether a pair force on the particle exceeded ``FORCE_LIMIT``.
    """
    n, d = p.shape
    acc = np.zeros((n, 3), dtype=np.int64)
    bad = np.zeros(n, dtype=np.bool_)
    for k in range(n):
        a0 = a1 = a2 = np.int64(0)
        overflow = False
        for j in range(n):
            if j != k:
                q0, q1, q2, b = add_pair(p, k, j, d, kinds, length, half, rc2, kind, Q, scale, limit)
                a0 += q0
                a1 += q1
                a2 += q2
                overflow = overflow or b
        acc[k, 0] = a0
        acc[k, 1] = a1
        acc[k, 2] = a2
        bad[k] = overflow
    return acc, bad
