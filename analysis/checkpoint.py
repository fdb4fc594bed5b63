"""Per-frame checkpoints of a long analysis, so that an interrupted run can resume.

An entropy trajectory of a large store (or of a sweep with many realizations) is many
independent ``(realization, frame)`` tasks. Each finished task's result vector is written
to its own small ``.npy`` file in a checkpoint directory (atomically: temporary name,
then rename), so a killed run loses at most the tasks in flight. A ``key.json`` records
what was being computed (the analysis options and the identity of the trajectory); a
checkpoint written for anything else is refused rather than mixed in.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dustsim.errors import ConfigError

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
            _atomic_write_text(key_file, text)

    def _file(self, realization: int, frame: int) -> Path:
        return self.path / f"r{realization:05d}-f{frame:06d}.npy"

    def load(self, realization: int, frame: int) -> NDArray[np.float64] | None:
        """The saved result of a task, or None if it has not finished."""
        file = self._file(realization, frame)
        return np.load(file) if file.exists() else None

    def save(self, realization: int, frame: int, values: NDArray[np.float64]) -> None:
        """Save a finished task's result (atomically)."""
        file = self._file(realization, frame)
        tmp = file.with_name(f".{file.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as f:
            np.save(f, np.asarray(values, dtype=np.float64))
        os.replace(tmp, file)

    def remove(self) -> None:
        """Delete the checkpoint (after the result has been written)."""
        shutil.rmtree(self.path, ignore_errors=True)


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


__all__ = ["FrameCheckpoint", "trajectory_identity"]
