"""Wrappers that turn a raw network into a denoiser or a score, well conditioned at every noise level.

:class:`Denoiser` is EDM's preconditioning (Karras et al. 2022, table 1) in the
variance-exploding form shared by every linear process: with ``x_hat = c + (x_t - c) / alpha``
and the noise level ``s = sigma / alpha`` (so that ``x_hat = x_0 + s Z``),

    D(x_hat; s) = m + c_skip (x_hat - m) + c_out F(c_in (x_hat - m), c_noise),
    c_skip = sd^2 / (s^2 + sd^2),  c_out = s sd / sqrt(s^2 + sd^2),
    c_in = 1 / sqrt(s^2 + sd^2),   c_noise = log(s) / 4,

where ``sd`` is the data's standard deviation and ``m`` its mean (EDM assumes ``m = 0``;
subtracting the mean keeps the skip connection optimal for off-centre artifacts). ``D``
estimates ``E[X_0 | X_t]`` and Tweedie's formula gives the score
``grad log p_t(x_t) = -(x_t - c - alpha (D - c)) / sigma^2`` (:func:`denoiser_score`).

:class:`ScoreNet` is the wrapper for processes without a closed-form kernel, trained by
sliced score matching on recorded frames: ``s(x, t) = b(x, t) + F((x - m_t) / s_t, c(t)) / s_t``
with ``m_t`` and ``s_t`` the mean and standard deviation of the recorded frames
(interpolated in time), ``c(t) = sqrt(t / t_end)`` and an optional baseline ``b`` — by
default the equilibrium score ``2 f / g^2`` of the forward dynamics
(:func:`dustsim.model.sde.equilibrium_score`), which makes the network learn only how far
the dust is from equilibrium and keeps the reverse dynamics confining in the tails.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn

from ..processes import LinearProcess

ScoreFn = Callable[[torch.Tensor, float], torch.Tensor]


class Denoiser(nn.Module):
    """EDM-preconditioned denoiser ``D(x_hat; s)`` around a network ``F(x, c_noise)``.

    Parameters
    ----------
    net : nn.Module
        Maps ``(x, c_noise)`` of shapes ``(n, d)``, ``(n,)`` to ``(n, d)``.
    sigma_data : float
        Standard deviation of the data per axis (length units).
    data_mean : array of shape (d,), optional
        Mean of the data (default 0).
    """

    # buffers (registered in __init__), declared so that type checkers see tensors, not Module | Tensor
    sigma_data: torch.Tensor
    data_mean: torch.Tensor

    def __init__(self, net: nn.Module, sigma_data: float, data_mean: np.ndarray | torch.Tensor | None = None) -> None:
        super().__init__()
        self.net = net
        self.register_buffer("sigma_data", torch.tensor(float(sigma_data)))
        mean = torch.zeros(1) if data_mean is None else torch.as_tensor(np.asarray(data_mean), dtype=torch.float32)
        self.register_buffer("data_mean", mean.reshape(-1).to(torch.float32))

    def coefficients(self, level: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(c_skip, c_out, c_in, c_noise)`` at noise levels ``level`` (shape ``(n,)``)."""
        sd2 = self.sigma_data**2
        total = level**2 + sd2
        return sd2 / total, level * self.sigma_data / total.sqrt(), total.rsqrt(), level.log() / 4

    def forward(self, x_hat: torch.Tensor, level: torch.Tensor | float) -> torch.Tensor:
        """``D(x_hat; level)``: the estimate of ``X_0`` (same shape as ``x_hat``)."""
        level = torch.as_tensor(level, dtype=x_hat.dtype, device=x_hat.device)
        if level.ndim == 0:  # one level for every row: the network embeds it once
            level = level.reshape(1)
        c_skip, c_out, c_in, c_noise = self.coefficients(level)
        centred = x_hat - self.data_mean
        if getattr(self.net, "takes_noise_std", False):  # the noise level in the network's input units
            out = self.net(c_in[:, None] * centred, c_noise, noise_std=level * c_in)
        else:
            out = self.net(c_in[:, None] * centred, c_noise)
        return self.data_mean + c_skip[:, None] * centred + c_out[:, None] * out


def denoise(denoiser: nn.Module, process: LinearProcess, x: torch.Tensor, t: float) -> torch.Tensor:
    """``E[X_0 | X_t = x]`` from a denoiser trained on noise levels ``sigma / alpha``."""
    a, s = float(process.alpha(t)), float(process.sigma(t))
    c = float(process.centre)
    x_hat = (x - c) / a + c
    return denoiser(x_hat, s / a)


def denoiser_score(denoiser: nn.Module, process: LinearProcess) -> ScoreFn:
    """The score ``grad log p_t(x)`` implied by a denoiser (Tweedie's formula), as ``f(x, t)``."""
    c = float(process.centre)

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        a, s = float(process.alpha(t)), float(process.sigma(t))
        d = denoiser((x - c) / a + c, s / a)
        return -(x - c - a * (d - c)) / (s * s)

    return score


class ScoreNet(nn.Module):
    """Direct score model ``s(x, t) = b(x, t) + F((x - m_t) / s_t, sqrt(t / t_end)) / s_t``.

    Parameters
    ----------
    net : nn.Module
        Maps ``(x, c)`` to ``(n, d)``.
    frame_times : array, shape (K,)
        Increasing times of the recorded frames.
    frame_mean : array, shape (K, d)
        Mean position in each frame (length units).
    frame_std : array, shape (K,)
        Standard deviation per axis in each frame, averaged over axes (length units).
    baseline : callable ``(x, t) -> score``, optional
        Known part of the score (not a parameter; rebuilt from the process on loading).
    """

    # buffers (registered in __init__), declared so that type checkers see tensors, not Module | Tensor
    frame_times: torch.Tensor
    frame_mean: torch.Tensor
    frame_std: torch.Tensor
    t_end: torch.Tensor

    def __init__(
        self,
        net: nn.Module,
        frame_times: np.ndarray,
        frame_mean: np.ndarray,
        frame_std: np.ndarray,
        baseline: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    ) -> None:
        super().__init__()
        self.net = net
        self.baseline = baseline
        times = torch.as_tensor(np.asarray(frame_times, dtype=np.float64))
        self.register_buffer("frame_times", times)
        self.register_buffer("frame_mean", torch.as_tensor(np.asarray(frame_mean, dtype=np.float32)))
        self.register_buffer("frame_std", torch.as_tensor(np.asarray(frame_std, dtype=np.float32)))
        self.register_buffer("t_end", times[-1].clone())

    def _interp(self, table: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        times = self.frame_times
        t = t.to(times.dtype).clamp(times[0], times[-1])
        hi = torch.searchsorted(times, t).clamp(1, len(times) - 1)
        lo = hi - 1
        w = ((t - times[lo]) / (times[hi] - times[lo])).to(table.dtype)
        w = w.reshape(-1, *([1] * (table.ndim - 1)))
        return table[lo] * (1 - w) + table[hi] * w

    def frame_statistics(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Interpolated ``(m_t, s_t)`` at times ``t`` (shape ``(n,)``)."""
        return self._interp(self.frame_mean, t), self._interp(self.frame_std, t)

    def forward(self, x: torch.Tensor, t: torch.Tensor | float) -> torch.Tensor:
        """The score ``s(x, t)`` at positions ``x`` of shape ``(n, d)`` and times ``t`` (scalar or ``(n,)``)."""
        t = torch.as_tensor(t, dtype=torch.float64, device=x.device)
        if t.ndim == 0:  # one time for every row: statistics and embedding computed once
            t = t.reshape(1)
        mean, std = self.frame_statistics(t)
        c = (t / self.t_end).clamp_min(0).sqrt().to(x.dtype)
        out = self.net((x - mean) / std[:, None], c) / std[:, None]
        if self.baseline is not None:
            out = out + self.baseline(x, t)
        return out


def scorenet_score(model: nn.Module) -> ScoreFn:
    """A :class:`ScoreNet` as a score function ``f(x, t)``."""

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        return model(x, t)

    return score
