"""Model checkpoints: one ``torch.save`` file, written atomically, read safely.

A checkpoint is a dict of tensors and plain Python values (read back with
``torch.load(weights_only=True)``, which executes no pickled code):

``format``, ``format_version``, ``dustsim_version``
    What the file is and who wrote it.
``step``
    Optimiser steps done.
``meta``
    Everything needed to rebuild and use the model without the training data: ``kind``
    (``denoiser`` for DSM on a linear process, ``score`` for SSM), ``dim``, the
    ``network`` and ``training`` tables, the forward ``process`` table, the time range,
    data statistics (``sigma_data``, ``data_mean`` or per-frame statistics), the prior
    of the reverse process, and the source trajectory's config.
``model``, ``ema``
    State dicts of the raw and the EMA weights.
``optimizer``, ``rng``, ``log``
    Optimiser state, generator states and the loss log so far (for ``--resume``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._version import __version__
from ..errors import ConfigError, InputFileError
from ..io import atomic_output
from ..processes import LinearProcess
from ..run_info import RunInfo
from .config import NetworkConfig
from .device import select_device
from .networks import make_network
from .preconditioning import Denoiser, ScoreFn, ScoreNet, denoiser_score, scorenet_score
from .sde import ForwardSDE, equilibrium_score, sde_from_config

FORMAT = "dustsim-score-model"
FORMAT_VERSION = 1


def save_checkpoint(state: dict[str, Any], path: str | Path) -> Path:
    """Write a checkpoint dict to ``path`` atomically (never half-written under its name)."""
    state = {"format": FORMAT, "format_version": FORMAT_VERSION, "dustsim_version": __version__, **state}
    with atomic_output(path) as tmp:
        torch.save(state, tmp)
    return Path(path)


#: leading bytes of file formats a user may give by mistake
_MAGIC = (
    (b"PK\x03\x04", "a zip archive"),
    (b"\x89HDF\r\n\x1a\n", "an HDF5 / netCDF-4 file"),
    (b"CDF\x01", "a netCDF (classic) file"),
    (b"CDF\x02", "a netCDF (64-bit) file"),
    (b"\x93NUMPY", "a numpy .npy file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"\x80", "a legacy pickle (not a zip-format PyTorch file)"),
)


def file_kind(path: Path) -> str:
    """What a file looks like from its first bytes (for messages), e.g. ``"a zip archive"``."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    if not head:
        return "empty"
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "text" if all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "of an unknown format"


def read_checkpoint(path: str | Path, map_location: torch.device | str = "cpu") -> dict[str, Any]:
    """Read and check a checkpoint.

    Raises
    ------
    InputFileError
        Missing file, unreadable or corrupt file, or not a dustsim model.
    """
    path = Path(path).expanduser()
    if not path.exists():
        raise InputFileError(f"no such model file: {path}")
    if path.is_dir():
        raise InputFileError(f"{path} is a directory, not a model checkpoint")
    kind = file_kind(path)
    if kind != "a zip archive":
        raise InputFileError(
            f"{path} is not a readable dustsim model checkpoint: it is {kind}, not a PyTorch file "
            "(give the .pt written by dustsim train)"
        )
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except Exception:  # noqa: BLE001 - any unpickling failure means a bad file
        raise InputFileError(
            f"{path} is not a readable dustsim model checkpoint: a damaged or truncated PyTorch "
            "file; write it again with dustsim train"
        ) from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise InputFileError(f"{path} is not a dustsim model checkpoint")
    if int(state.get("format_version", 0)) > FORMAT_VERSION:
        raise InputFileError(
            f"{path} was written by dustsim {state.get('dustsim_version')} in a newer checkpoint format "
            f"({state.get('format_version')}); upgrade dustsim"
        )
    for key in ("meta", "model", "step"):
        if key not in state:
            raise InputFileError(f"{path} is an incomplete dustsim checkpoint (no {key!r})")
    return state


def source_run(meta: dict[str, Any]) -> RunInfo | None:
    """The run of a checkpoint's training data (its recorded config), or None if unrecorded or unreadable."""
    text = meta.get("source", {}).get("config", "")
    if not text:
        return None
    try:
        return RunInfo.from_text(text, "the model's source config")
    except ConfigError:
        return None


def forward_run(meta: dict[str, Any]) -> RunInfo:
    """The run that describes the forward dynamics of a checkpoint's training data.

    The source trajectory's full resolved config when recorded (physical runs need its
    potentials and schedules, not only the ``[process]`` table), else the process table.
    """
    run = source_run(meta)
    if run is not None and isinstance(run.tables.get("process"), dict):
        return run
    return RunInfo.from_tables({"process": dict(meta["process"])})


def build_module(meta: dict[str, Any]) -> nn.Module:
    """An untrained module of the architecture a checkpoint's ``meta`` describes.

    A score model with the ``equilibrium`` baseline needs the forward SDE: ConfigError
    when the process's drift is unknown (register it with :func:`dustsim.model.register_sde`).
    """
    net_cfg = NetworkConfig.from_checkpoint(meta["network"])
    net = make_network(net_cfg.kind, int(meta["dim"]), **net_cfg.options())
    if meta["kind"] == "denoiser":
        return Denoiser(net, float(meta["sigma_data"]), np.asarray(meta["data_mean"], dtype=np.float64))
    if meta["kind"] == "score":
        baseline = None
        if meta.get("baseline", "none") == "equilibrium":
            baseline = equilibrium_score(sde_from_config(forward_run(meta)))
        return ScoreNet(
            net,
            np.asarray(meta["frame_times"]),
            np.asarray(meta["frame_mean"]),
            np.asarray(meta["frame_std"]),
            baseline=baseline,
        )
    raise InputFileError(f"unknown model kind {meta['kind']!r} in checkpoint")


@dataclass
class TrainedModel:
    """A trained score model, ready to sample, restore and evaluate likelihoods.

    Attributes
    ----------
    module : nn.Module
        :class:`Denoiser` (``kind = "denoiser"``) or :class:`ScoreNet` (``kind = "score"``),
        in eval mode with the chosen (EMA by default) weights.
    meta : dict
        The checkpoint's ``meta`` (see the module docstring).
    step : int
        Training steps behind the weights.
    path : str
        Where the model was read from ("" if built in memory).
    """

    module: nn.Module
    meta: dict[str, Any]
    step: int = 0
    path: str = ""
    _sde: ForwardSDE | None = field(default=None, repr=False)

    @property
    def kind(self) -> str:
        return str(self.meta["kind"])

    @property
    def dim(self) -> int:
        return int(self.meta["dim"])

    @property
    def t_min(self) -> float:
        return float(self.meta["t_min"])

    @property
    def t_max(self) -> float:
        return float(self.meta["t_max"])

    @property
    def device(self) -> torch.device:
        return next(self.module.buffers()).device

    @property
    def sde(self) -> ForwardSDE:
        """The forward SDE the model reverses (ConfigError if its drift is unknown)."""
        if self._sde is None:
            self._sde = sde_from_config(forward_run(self.meta))
        return self._sde

    @property
    def process(self) -> LinearProcess | None:
        return self.sde.process

    @cached_property
    def source(self) -> RunInfo | None:
        """The run of the training data, from its recorded config (None if unrecorded or unreadable)."""
        return source_run(self.meta)

    @cached_property
    def score_fn(self) -> ScoreFn:
        """``score(x, t)``: the model's ``grad log p_t`` for positions of shape ``(n, d)``."""
        if self.kind == "denoiser":
            process = self.process
            if process is None:  # pragma: no cover - a denoiser is only trained on linear processes
                raise ConfigError("a denoiser model needs a linear process")
            return denoiser_score(self.module, process)
        return scorenet_score(self.module)

    def check_dim(self, dim: int, what: str = "the data") -> None:
        """ConfigError if ``dim`` is not the model's dimension."""
        if int(dim) != self.dim:
            raise ConfigError(f"the model was trained on {self.dim}-D data but {what} is {dim}-D")

    def prior_sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the law the reverse process starts from at ``t_max``.

        Linear processes: the Gaussian with the moments of ``X_T``,
        ``N(c + alpha_T (m - c), (sigma_T^2 + alpha_T^2 sd^2) I)``. Otherwise a Gaussian
        kernel density estimate of the last recorded frame (Silverman's bandwidth).
        """
        prior = self.meta["prior"]
        device = self.device
        if prior["kind"] == "gaussian":
            mean = torch.as_tensor(prior["mean"], dtype=torch.float32, device=device)
            z = torch.randn((n, self.dim), generator=generator, device=device)
            return mean + float(prior["std"]) * z
        points = torch.as_tensor(prior["points"], dtype=torch.float32, device=device)
        idx = torch.randint(points.shape[0], (n,), generator=generator, device=device)
        z = torch.randn((n, self.dim), generator=generator, device=device)
        return points[idx] + float(prior["bandwidth"]) * z

    def prior_log_density(self, x: torch.Tensor) -> torch.Tensor:
        """``log`` of the prior density at ``x`` (shape ``(n,)``, nats; see :meth:`prior_sample`)."""
        prior = self.meta["prior"]
        return prior_log_density(prior, x)


def prior_log_density(prior: dict[str, Any], x: torch.Tensor) -> torch.Tensor:
    """Log-density (nats) of a recorded prior (``gaussian`` or ``kde``) at points ``x`` ``(n, d)``."""
    d = x.shape[-1]
    if prior["kind"] == "gaussian":
        mean = torch.as_tensor(prior["mean"], dtype=x.dtype, device=x.device)
        var = float(prior["std"]) ** 2
        return -0.5 * (x - mean).square().sum(-1) / var - 0.5 * d * math.log(2 * math.pi * var)
    points = torch.as_tensor(prior["points"], dtype=x.dtype, device=x.device)
    var = float(prior["bandwidth"]) ** 2
    logk = -0.5 * torch.cdist(x, points).square() / var - 0.5 * d * math.log(2 * math.pi * var)
    return torch.logsumexp(logk, dim=1) - math.log(points.shape[0])


def gaussian_prior(process: LinearProcess, t_max: float, mean: np.ndarray, sd: float) -> dict[str, Any]:
    """The moment-matched Gaussian law of ``X_T`` (see :meth:`TrainedModel.prior_sample`)."""
    a, s = float(process.alpha(t_max)), float(process.sigma(t_max))
    c = float(process.centre)
    return {
        "kind": "gaussian",
        "mean": (c + a * (np.asarray(mean) - c)).tolist(),
        "std": math.sqrt(s * s + a * a * sd * sd),
    }


def kde_prior(points: np.ndarray, max_points: int = 5000) -> dict[str, Any]:
    """A Gaussian KDE of (at most ``max_points`` of) the last frame, Silverman's bandwidth."""
    points = np.asarray(points, dtype=np.float64)[:max_points]
    n, d = points.shape
    sd = float(np.sqrt(points.var(axis=0).mean()))
    bandwidth = sd * (4.0 / (d + 2.0)) ** (1.0 / (d + 4.0)) * n ** (-1.0 / (d + 4.0))
    return {"kind": "kde", "points": torch.as_tensor(points, dtype=torch.float32), "bandwidth": bandwidth}


def load_model(path: str | Path, device: str | torch.device | None = "auto", use_ema: bool = True) -> TrainedModel:
    """Read a checkpoint into a :class:`TrainedModel` (EMA weights by default) on ``device``."""
    dev = select_device(device)
    state = read_checkpoint(path, map_location="cpu")
    meta = state["meta"]
    module = build_module(meta)
    ema = state.get("ema")
    weights: dict[str, Any] = ema if use_ema and ema is not None else state["model"]
    try:
        module.load_state_dict(weights)
    except RuntimeError as exc:
        raise InputFileError(f"{path}: the weights do not fit the recorded architecture ({str(exc)[:100]})") from None
    module.to(dev).eval()
    for p in module.parameters():
        p.requires_grad_(False)
    return TrainedModel(module, meta, int(state["step"]), str(path))
