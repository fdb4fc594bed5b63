"""Per-frame checkpoints of a long analysis, so that an interrupted run can resume.

An entropy trajectory of a large store (or of a sweep with many realizations) is many
independent ``(realization, frame)`` tasks. Each finished task's result, one numpy record
(a structured array with named, typed fields), is written to its own small ``.npy`` file
in a checkpoint directory (through :func:`dustsim.io.atomic_output`), so a killed run loses
at most the tasks in flight. A ``key.json`` records what was being computed (the analysis
options, the identity of the trajectory and the checkpoint :data:`FORMAT`); a checkpoint
written for anything else, or in another format (an older dustsim wrote flat float
vectors), is refused rather than mixed in or misread.
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
#: version of the on-disk layout: 1 (no ``format`` in the key) stored flat float vectors,
#: 2 stores one numpy record per task
FORMAT = 2


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
        JSON-serialisable description of the computation (the checkpoint's ``format`` is
        added); an existing directory with a different key, or written in another format,
        raises :class:`~dustsim.errors.ConfigError`.
    """

    def __init__(self, path: str | Path, key: dict[str, Any]) -> None:
        self.path = Path(path).expanduser()
        text = json.dumps({**key, "format": FORMAT}, sort_keys=True, default=str)
        key_file = self.path / KEY_FILE
        if key_file.exists():
            old = key_file.read_text()
            if old != text:
                _check_format(self.path, old)
                raise ConfigError(
                    f"the checkpoint {self.path} belongs to a different analysis (other data or options); "
                    "delete it or start without resuming"
                )
        else:
            self.path.mkdir(parents=True, exist_ok=True)
            with atomic_output(key_file) as tmp:
                tmp.write_text(text)

    def file(self, realization: int, frame: int) -> Path:
        """The file of a task's result."""
        return self.path / f"r{realization:05d}-f{frame:06d}.npy"

    def load(self, realization: int, frame: int) -> NDArray[Any] | None:
        """The saved result of a task (the record given to :meth:`save`), or None if it has not finished."""
        file = self.file(realization, frame)
        return np.load(file, allow_pickle=False) if file.exists() else None

    def save(self, realization: int, frame: int, record: NDArray[Any]) -> None:
        """Save a finished task's result, a numpy array without Python objects (atomically)."""
        if np.asarray(record).dtype.hasobject:
            raise TypeError("a checkpoint record must not hold Python objects")
        with atomic_output(self.file(realization, frame)) as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(record), allow_pickle=False)


def _check_format(path: Path, key_text: str) -> None:
    """ConfigError naming the format if the key of the checkpoint at ``path`` is of another format."""
    try:
        found = json.loads(key_text).get("format", 1)
    except (ValueError, AttributeError):
        found = "unreadable"
    if found != FORMAT:
        raise ConfigError(
            f"the checkpoint {path} was written in checkpoint format {found} (an older or newer dustsim); "
            f"this one reads format {FORMAT}: delete it or start without resuming"
        )


__all__ = ["FORMAT", "FrameCheckpoint", "trajectory_identity"]
