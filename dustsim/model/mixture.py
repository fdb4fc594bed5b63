"""The exact score of a Gaussian-mixture artifact, in torch (for samplers and score errors).

The mixture law is :class:`dustsim.mixture.GaussianMixture` (read from the trajectory's
``[artifact]`` table); this module evaluates its score on tensors.
"""

from __future__ import annotations

import numpy as np
import torch

from ..mixture import GaussianMixture
from ..processes import LinearProcess
from .preconditioning import ScoreFn


def torch_score(mixture: GaussianMixture, x: torch.Tensor) -> torch.Tensor:
    """``grad log p(x)`` of ``mixture`` on a tensor (computed in float64, returned in ``x.dtype``)."""
    means = torch.as_tensor(mixture.means, device=x.device)
    var = torch.as_tensor(mixture.stds**2, device=x.device)
    logw = torch.as_tensor(np.log(np.maximum(mixture.weights, 1e-300)), device=x.device)
    x64 = x.to(torch.float64)
    diff = means[None] - x64[:, None, :]
    logits = logw - 0.5 * diff.square().sum(-1) / var - 0.5 * x.shape[-1] * torch.log(2 * torch.pi * var)
    r = torch.softmax(logits, dim=1)
    return torch.einsum("nk,nkd->nd", r, diff / var[None, :, None]).to(x.dtype)


def mixture_score(mixture: GaussianMixture, process: LinearProcess) -> ScoreFn:
    """The exact score ``grad log p_t(x)`` of a mixture artifact under ``process``, as ``f(x, t)``."""

    def score(x: torch.Tensor, t: float) -> torch.Tensor:
        return torch_score(mixture.transported(process, t), x)

    return score


__all__ = ["GaussianMixture", "mixture_score", "torch_score"]
