"""dustsim: particle ("dust") diffusion, the score models that reverse it, and its entropy.

The simulator is imported eagerly-light: heavy pieces (xarray writers, torch models) load
on first use, so ``import dustsim`` stays fast for users who only simulate.

>>> import dustsim
>>> ds = dustsim.simulate(init="text:DUST", n=10_000, process="vp", seed=0)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

_LAZY = {
    "simulate": ("dustsim.simulation", "simulate"),
    "prepare": ("dustsim.simulation", "prepare"),
    "SimulationConfig": ("dustsim.config", "SimulationConfig"),
    "RunInfo": ("dustsim.run_info", "RunInfo"),
    "make_process": ("dustsim.processes", "make_process"),
    "make_artifact": ("dustsim.artifacts", "make_artifact"),
    "open_trajectory": ("dustsim.io", "open_trajectory"),
    "open_dataset": ("dustsim.io", "open_dataset"),
    "save_dataset": ("dustsim.io", "save_dataset"),
    "trajectory_dataset": ("dustsim.schema", "trajectory_dataset"),
    "validate_trajectory": ("dustsim.schema", "validate_trajectory"),
    "counter_normals": ("dustsim.kernels.rng", "counter_normals"),
    "GaussianMixture": ("dustsim.mixture", "GaussianMixture"),
    "fokker_planck": ("dustsim.physics.fokker_planck", "fokker_planck"),
}

__all__ = [
    "GaussianMixture",
    "RunInfo",
    "SimulationConfig",
    "__version__",
    "counter_normals",
    "fokker_planck",
    "make_artifact",
    "make_process",
    "open_dataset",
    "open_trajectory",
    "prepare",
    "save_dataset",
    "simulate",
    "trajectory_dataset",
    "validate_trajectory",
]

if TYPE_CHECKING:
    from .artifacts import make_artifact
    from .config import SimulationConfig
    from .io import open_dataset, open_trajectory, save_dataset
    from .kernels.rng import counter_normals
    from .mixture import GaussianMixture
    from .physics.fokker_planck import fokker_planck
    from .processes import make_process
    from .run_info import RunInfo
    from .schema import trajectory_dataset, validate_trajectory
    from .simulation import prepare, simulate


def __getattr__(name: str) -> Any:
    try:
        module, attr = _LAZY[name]
    except KeyError:
        raise AttributeError(f"module 'dustsim' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value
