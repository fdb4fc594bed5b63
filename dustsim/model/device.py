"""Devices, dtypes and seeded random generators for the score model.

Every random draw of the model package (network initialisation, training batches,
noise of the samplers, Hutchinson probes) comes from a :class:`torch.Generator` seeded
from the run's recorded seed and a *stream* id, so that different uses of one seed never
share random numbers and every run can be repeated exactly.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ..errors import ConfigError
from ..streams import stream_seed


def select_device(name: str | torch.device | None = "auto") -> torch.device:
    """The torch device to run on.

    Parameters
    ----------
    name : {"auto", "cpu", "cuda", "cuda:N", "mps"} or torch.device, optional
        ``"auto"`` (or None) picks CUDA when a GPU is present, else the CPU.

    Raises
    ------
    ConfigError
        An unknown device name, or a device that is not available here.
    """
    if isinstance(name, torch.device):
        return name
    if name is None or name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ConfigError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"device {name!r} requested but no CUDA GPU is available; use --device cpu")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ConfigError(f"device {name!r} does not exist: {torch.cuda.device_count()} CUDA device(s)")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ConfigError(f"device {name!r} requested but MPS is not available; use --device cpu")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device {name!r}; use auto, cpu, cuda or cuda:N")
    return device


def make_generator(seed: int, stream: str | int, device: torch.device | str = "cpu") -> torch.Generator:
    """A :class:`torch.Generator` on ``device`` seeded from ``(seed, stream)`` (:func:`dustsim.streams.stream_seed`)."""
    gen = torch.Generator(device=torch.device(device))
    gen.manual_seed(stream_seed(seed, stream))
    return gen


def as_tensor(x: Any, device: torch.device | str = "cpu", dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """``x`` as a tensor of ``dtype`` on ``device`` (no copy when it already is one)."""
    return torch.as_tensor(np.asarray(x) if not isinstance(x, torch.Tensor) else x, device=device, dtype=dtype)
