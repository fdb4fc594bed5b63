"""Score-matching losses.

Denoising score matching (Vincent 2011) with the exact kernel, written on the denoiser
``D`` (:class:`~dustsim.model.preconditioning.Denoiser`). With ``x_hat = c + (x_t - c)/alpha``
and ``s = sigma / alpha``, the model score is ``-(x_t - c - alpha (D - c)) / sigma^2`` and
the target (conditional) score ``-(x_t - c - alpha (x0 - c)) / sigma^2``, so

    lambda(t) |score - target|^2 = lambda(t) / (alpha^2 s^4) |D - x0|^2.

The weightings (per particle, summed over axes, averaged over the batch):

``sigma2``      ``lambda = sigma^2``           -> ``|D - x0|^2 / s^2``
``likelihood``  ``lambda = g^2`` (Song et al. 2021b: the loss bounds the KL)
                                                -> ``g^2 alpha^2 |D - x0|^2 / sigma^4``
``edm``         EDM's ``(s^2 + sd^2) / (s sd)^2`` on ``|D - x0|^2`` (unit-variance network target)

Sliced score matching with variance reduction (Song et al. 2019) needs no kernel:

    J = E_x E_v [ v^T (d score / dx) v + |score|^2 / 2 ],  v ~ N(0, I),

equal up to a constant to ``E |score - grad log p|^2 / 2``. It is weighted per frame by
``s_t^2`` (the frame's variance), the analogue of the ``sigma^2`` weighting.
"""

from __future__ import annotations

import torch
from torch import nn

from ..errors import ConfigError
from .preconditioning import Denoiser, ScoreNet


def dsm_loss(
    denoiser: Denoiser,
    batch: dict[str, torch.Tensor],
    weighting: str = "edm",
    centre: float = 0.0,
    forward: nn.Module | None = None,
    reduce: bool = True,
) -> torch.Tensor:
    """Weighted denoising score-matching loss on a batch of :class:`~dustsim.model.data.KernelPairs`.

    Parameters
    ----------
    denoiser : Denoiser
    batch : dict
        ``x0``, ``x_t``, ``alpha``, ``sigma``, ``g``.
    weighting : {"edm", "sigma2", "likelihood"}
    centre : float
        Centre ``c`` of the process.
    forward : module, optional
        What to call for the forward pass (e.g. the DDP wrapper of ``denoiser``).
    reduce : bool
        Return the batch mean (default) or the per-particle terms ``(B,)``.

    Returns
    -------
    Tensor
        Scalar loss (dimensionless for ``edm`` and ``sigma2``), or its terms.
    """
    a, s = batch["alpha"], batch["sigma"]
    level = s / a
    x_hat = (batch["x_t"] - centre) / a[:, None] + centre
    err = ((forward or denoiser)(x_hat, level) - batch["x0"]).square().sum(dim=-1)
    if weighting == "edm":
        sd2 = denoiser.sigma_data**2
        w = (level**2 + sd2) / (level**2 * sd2)
    elif weighting == "sigma2":
        w = 1.0 / level**2
    elif weighting == "likelihood":
        w = (batch["g"] * a) ** 2 / s**4
    else:
        raise ConfigError(f"unknown DSM weighting {weighting!r}; use edm, sigma2 or likelihood")
    terms = w * err
    return terms.mean() if reduce else terms


def ssm_vr_loss(
    model: nn.Module,
    batch: dict[str, torch.Tensor],
    generator: torch.Generator | None = None,
    n_projections: int = 1,
    projections: torch.Tensor | None = None,
    forward: nn.Module | None = None,
    reduce: bool = True,
) -> torch.Tensor:
    """Sliced score matching with variance reduction, weighted by the frame variance.

    Parameters
    ----------
    model : ScoreNet or any module ``(x, t) -> score``
    batch : dict
        ``x`` ``(B, d)`` and ``t`` ``(B,)`` from :class:`~dustsim.model.data.FrameSamples`.
    generator : torch.Generator, optional
        Source of the projections ``v`` (on the batch's device).
    n_projections : int
        Projections per particle (averaged).
    projections : Tensor, optional
        Pre-drawn projections ``(n_projections, B, d)`` (instead of drawing them).
    forward : module, optional
        What to call for the forward pass (e.g. the DDP wrapper of ``model``).
    reduce : bool
        Return the batch mean (default) or the per-particle terms ``(B,)``.
    """
    x = batch["x"].detach().requires_grad_(True)
    t = batch["t"]
    score = (forward or model)(x, t)
    if isinstance(model, ScoreNet):
        _, std = model.frame_statistics(t)
        weight = std.to(score.dtype) ** 2
    else:
        weight = torch.ones(x.shape[0], dtype=score.dtype, device=x.device)
    total = 0.5 * score.square().sum(dim=-1)
    if projections is not None:
        n_projections = projections.shape[0]
    for i in range(n_projections):
        v = (
            projections[i]
            if projections is not None
            else torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        )
        (grad_v,) = torch.autograd.grad((score * v).sum(), x, create_graph=True)
        total = total + (grad_v * v).sum(dim=-1) / n_projections
    terms = weight * total
    return terms.mean() if reduce else terms
