"""Shared test helpers.

Statistical checks compare an estimate with its exact value in units of the estimate's
standard error: ``|estimate - exact| < Z * SE``. With ``Z = 4.5`` a correct simulator
fails one such check with probability 7e-6, so the suite's false-failure rate stays far
below 1e-3 even with a few hundred checks, for any seed. Seeds are fixed anyway so that
a failure reproduces.
"""

from __future__ import annotations

import numpy as np

Z = 4.5


def assert_within_se(estimate, exact, se, what: str = "estimate", z: float = Z) -> None:
    estimate, exact, se = np.broadcast_arrays(
        np.asarray(estimate, float), np.asarray(exact, float), np.asarray(se, float)
    )
    dev = np.abs(estimate - exact) / se
    worst = int(np.argmax(dev))
    assert np.all(dev < z), (
        f"{what}: {estimate.flat[worst]:.6g} vs exact {exact.flat[worst]:.6g} "
        f"({dev.flat[worst]:.2f} standard errors, tolerance {z})"
    )
