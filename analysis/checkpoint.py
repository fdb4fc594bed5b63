"""Per-frame checkpoints of a long analysis, so that an interrupted run can resume.

An entropy trajectory of a large store (or of a sweep with many realizations) is many
independent ``(realization, frame)`` tasks. Each finished task's result vector is written
to its own small ``.npy`` file in a checkpoint directory (through
:func:`dustsim.io.atomic_output`), so a killed run loses at most the tasks in flight. A ``key.json`` records
what was being computed (the analysis options and the identity of the trajectory); a
checkpoint written for anything else is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dustsim.errors import ConfigError
from dustsim.io import atomic_output

KEY_FILE = "key.json"


def trajectory_identity(ds: xr.Dataset) -> dict[str, Any]:
    """What identifies a trajectory cheaply: its config, seed, shape and time grid."""
    times = np.ascontiguousarray(np.asarray(ds["time"].values, dtype=np.float64))
    return {
        "config": str(ds.attrs.get("config", "")),
        "seed": str(ds.attrs.get("seed", "")),
        "direction": str(ds.attrs.get("direction", "")),
        "shape": {str(k): int(v) for k, v in ds["position"].sizes.items()},
        "dtype": str(ds["position"].dtype),
        "times_sha256": hashlib.sha256(times.tobytes()).hexdigest(),
    }


class FrameCheckpoint:
    """A directory of finished ``(realization, frame)`` results.

    Parameters
    ----------
    path : path
        The directory (created if missing).
    key : dict
        JSON-serialisable description of the computation; an existing directory with a
        different key raises :class:`~dustsim.errors.ConfigError`.
    """

    def __init__(self, path: str | Path, key: dict[str, Any]) -> None:
        self.path = Path(path).expanduser()
        text = json.dumps(key, sort_keys=True, default=str)
        key_file = self.path / KEY_FILE
        if key_file.exists():
            if key_file.read_text() != text:
                raise ConfigError(
                    f"the checkpoint {self.path} belongs to a different analysis (other data or options); "
                    "delete it or start without resuming"
                )
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            with atomic_output(key_file) as tmp:
                tmp.write_text(text)

    def _file(self, realization: int, frame: int) -> Path:
        return self.path / f"r{realization:05d}-f{frame:06d}.npy"

    def load(self, realization: int, frame: int) -> NDArray[np.float64] | None:
        """The saved result of a task, or None if it has not finished."""
        file = self._file(realization, frame)
        return np.load(file) if file.exists() else None

    def save(self, realization: int, frame: int, values: NDArray[np.float64]) -> None:
        """Save a finished task's result (atomically)."""
        with atomic_output(self._file(realization, frame)) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(values, dtype=np.float64))


__all__ = ["FrameCheckpoint", "trajectory_identity"]
