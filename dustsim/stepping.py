"""Per-step coefficients of the affine stepper for a linear process.

A step from ``t_j`` to ``t_{j+1}`` is ``x <- A_j x + B_j z + C_j`` (see
:mod:`dustsim.kernels.affine`). This module turns a process and a time grid into the
``(M, d)`` coefficient arrays for either stepping mode.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
from numpy.typing import NDArray

from .errors import StepSizeError
from .processes import LinearProcess

Stepper = Literal["exact", "euler"]
STEPPERS: tuple[str, ...] = ("exact", "euler")
#: largest number of steps handed to one kernel call (bounds coefficient memory and keeps the
#: progress bar moving; results do not depend on it, the kernels count absolute steps)
MAX_STEPS_PER_CALL = 1024


def affine_coefficients(
    process: LinearProcess,
    times: NDArray[np.float64],
    stepper: Stepper,
    dim: int,
    dtype: np.dtype,
    first_step: int = 0,
) -> tuple[NDArray, NDArray, NDArray]:
    """Coefficients ``(A, B, C)``, each of shape ``(len(times) - 1, dim)``.

    Parameters
    ----------
    process : LinearProcess
        The forward process.
    times : ndarray, shape (M + 1,)
        Time grid ``t_0 < ... < t_M`` of the steps (time units).
    stepper : {"exact", "euler"}
        ``exact`` uses the transition kernel (no discretisation error for any step);
        ``euler`` is Euler-Maruyama, ``A = 1 + f(t_j) dt``, ``B = g(t_j) sqrt(dt)``.
    dim : int
        Number of spatial axes.
    dtype : numpy dtype
        Precision of the result (coefficients are computed in float64).
    first_step : int
        Global index of the first step, used only in error messages.

    Raises
    ------
    StepSizeError
        Euler-Maruyama with ``|f(t) dt| >= 1`` (the mean coefficient would not be a
        contraction) or a non-finite coefficient.
    """
    t0, t1 = times[:-1], times[1:]
    if stepper == "exact":
        a, b = process.transition(t0, t1)
    elif stepper == "euler":
        dt = t1 - t0
        f = process.drift_coefficient(t0)
        a = 1.0 + f * dt
        b = process.diffusion(t0) * np.sqrt(dt)
        bad = np.flatnonzero(~(a > 0) | ~np.isfinite(b))
        if bad.size:
            j = int(bad[0])
            raise StepSizeError(
                f"Euler-Maruyama is unstable at step {first_step + j} (t = {t0[j]:.6g}): "
                f"|f(t)| dt = {abs(f[j] * dt[j]):.3g} >= 1; use a smaller dt or --stepper exact"
            )
    else:
        raise ValueError(f"unknown stepper {stepper!r}")
    c = (1.0 - a) * process.centre
    shape = (len(t0), dim)
    return tuple(np.ascontiguousarray(np.broadcast_to(v[:, None], shape), dtype=dtype) for v in (a, b, c))  # type: ignore[return-value]
