"""The held-out validation loss: fixed draws on held-out particles, deterministic across steps.

:func:`make_validation_set` draws, once and from the run's seed, ``points`` (particle,
time, noise) triples from the held-out particles — and for sliced score matching the
projections too — so that :meth:`ValidationSet.loss` is a deterministic function of the
weights: two evaluations differ only because the weights did. The same loss as training
(same time law, same weighting), on data the optimiser never saw.

Its standard error (``std / sqrt(points)`` of the per-draw terms) is the noise band of the
validation curve: how far the fixed-draw loss may be from the population loss of the
same weights. Differences between two steps are far more precise than that (the draws are
paired), which is why the convergence rule compares the curve with itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .losses import dsm_loss, ssm_vr_loss


@dataclass
class ValidationSet:
    """Fixed validation draws and how to score a model on them.

    Attributes
    ----------
    kind : {"denoiser", "score"}
        The model kind (DSM or SSM loss).
    batch : dict of tensors
        The draws (as a training batch of the same source).
    projections : tensor or None
        SSM projections ``(n_projections, points, d)``.
    weighting : str
        DSM weighting.
    centre : float
        Centre of the process (DSM).
    n_particles : int
        Held-out particles the draws come from.
    """

    kind: str
    batch: dict[str, torch.Tensor]
    projections: torch.Tensor | None
    weighting: str
    centre: float
    n_particles: int

    @property
    def points(self) -> int:
        return int(next(iter(self.batch.values())).shape[0])

    def loss(self, module: nn.Module, chunk: int = 8192) -> tuple[float, float]:
        """``(mean, standard error)`` of the loss of ``module`` on the fixed draws."""
        terms = []
        n = self.points
        for i in range(0, n, chunk):
            part = {k: v[i : i + chunk] for k, v in self.batch.items()}
            if self.kind == "denoiser":
                with torch.no_grad():
                    t = dsm_loss(module, part, self.weighting, self.centre, reduce=False)  # type: ignore[arg-type]
            else:
                proj = self.projections[:, i : i + chunk] if self.projections is not None else None
                with torch.enable_grad():
                    t = ssm_vr_loss(module, part, projections=proj, reduce=False)
            terms.append(t.detach().double().cpu())
        values = torch.cat(terms)
        mean = float(values.mean())
        se = float(values.std(unbiased=True)) / math.sqrt(n) if n > 1 else float("nan")
        return mean, se


def make_validation_set(
    kind: str,
    source: Any,
    points: int,
    generator: torch.Generator,
    device: torch.device,
    weighting: str = "edm",
    centre: float = 0.0,
    n_projections: int = 1,
) -> ValidationSet:
    """Draw the fixed validation set from the held-out ``source``.

    ``source`` is a :class:`~dustsim.model.KernelPairs` or a :class:`~dustsim.model.FrameSamples`.
    """
    batch = source.draw(points, generator, "cpu")
    projections = None
    if kind != "denoiser":
        projections = torch.randn((n_projections, *batch["x"].shape), generator=generator, dtype=batch["x"].dtype)
        projections = projections.to(device)
    batch = {k: v.to(device) for k, v in batch.items()}
    return ValidationSet(kind, batch, projections, weighting, centre, source.n_particles)
