"""The definition of one pair interaction: everything dustsim knows about it.

A pair potential ``u(r)`` acts between every two particles closer than its cut-off. Its
:class:`PairPotential` owns, in one place:

- the config side: parameter names (a subset of the fields of
  ``Interaction``: ``epsilon``, ``sigma``, ``a``, ``r0``,
  ``cutoff``, ``cap``), its default cut-off and whether the cut-off is fixed;
- the numpy reference: ``energy`` ``u(r)`` (before the shift that makes it continuous at
  the cut-off) and ``force`` ``-u'(r)``, float64;
- the step guard's ``length_scale``;
- the kernel side: ``kind`` (its integer id in ``pair_kind``) and ``kernel_g``, a Numba
  function ``(r2, Q) -> g = -u'(r) / r`` reading its parameters from the kernel vector
  ``Q = (epsilon, sigma, a, r0, cap, 0, 1, 24)`` of :mod:`dustsim.kernels.forces`.

Several definitions may share a kernel (``wca`` and ``lj`` differ in cut-off only): they
give the same ``kind`` and the same ``kernel_g``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

#: the kernel parameter vector ``Q`` (one per run, in the positions' precision): pair
#: parameters, then the constants 0, 1 and 24 in that precision (no float64 literals in
#: float32 kernels)
Q_EPS, Q_SIGMA, Q_A, Q_R0, Q_CAP, Q_ZERO, Q_ONE, Q_C24 = range(8)
N_Q = 8


@dataclass(frozen=True)
class PairPotential:
    """One pair interaction (see the module docstring).

    Attributes
    ----------
    name : str
        The config name (``[interaction] name = ...``).
    kind : int
        Kernel id (>= 1; 0 is "no pair forces"); definitions sharing it share ``kernel_g``.
    params : tuple of str
        Its config parameters, in the order they are validated.
    default_cutoff : callable ``values -> float``
        Cut-off radius from the resolved parameters (a dict of floats).
    fixed_cutoff : bool
        Whether a different ``cutoff`` is refused.
    energy : callable ``(r, inter) -> u``
        Pair energy at distances ``r`` (unshifted; ``inter`` the Interaction).
    force : callable ``(r, inter) -> -u'(r)``
        Radial force (positive: repulsive), uncapped.
    length_scale : callable ``inter -> float``
        Length over which the force changes (for the step guard).
    kernel_g : Numba function ``(r2, Q) -> g``
        ``-u'(r) / r`` at squared distance ``r2 > 0``, in the precision of ``Q``.
    """

    name: str
    kind: int
    params: tuple[str, ...]
    default_cutoff: Callable[[dict[str, float]], float]
    energy: Callable[[NDArray[np.float64], Any], NDArray[np.float64]]
    force: Callable[[NDArray[np.float64], Any], NDArray[np.float64]]
    length_scale: Callable[[Any], float]
    kernel_g: Any
    fixed_cutoff: bool = False


__all__ = ["N_Q", "Q_A", "Q_C24", "Q_CAP", "Q_EPS", "Q_ONE", "Q_R0", "Q_SIGMA", "Q_ZERO", "PairPotential"]
