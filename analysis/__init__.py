"""analysis: entropy and information along dustsim trajectories.

Reads datasets in the trajectory schema (see ``docs/schema.md``) and returns xarray
Datasets; it never imports dustsim's simulator internals. See ``docs/analysis.md``.

Estimators (plain functions of ``(n, d)`` arrays returning an :class:`~analysis.result.Estimate`,
nats by default): :func:`~analysis.entropy.knn_entropy`, :func:`~analysis.entropy.binned_entropy`,
:func:`~analysis.entropy.gaussian_entropy`, :func:`~analysis.entropy.kde_entropy`,
:func:`~analysis.weighted_knn.weighted_knn_entropy`, :func:`~analysis.bounded.bounded_knn_entropy`,
:func:`~analysis.divergence.kl_divergence`, :func:`~analysis.divergence.kl_to_density`,
:func:`~analysis.information.ksg_mutual_information`,
:func:`~analysis.diffusion_mi.diffusion_mutual_information` (a trained conditional denoiser); each
carries a bias estimate and a confidence interval (:mod:`analysis.bias`). Trajectories:
:func:`~analysis.trajectory.entropy_trajectory`. Checks: :mod:`analysis.thermo`. Model-side entropy:
:mod:`analysis.model`. Exact references: :class:`~analysis.gmm.GaussianMixture`.
"""

from .bounded import bounded_knn_entropy
from .diffusion_mi import diffusion_mutual_information
from .divergence import gaussian_logpdf, kl_divergence, kl_to_density
from .ensemble import ensemble_summary
from .entropy import binned_entropy, gaussian_entropy, kde_entropy, knn_entropy
from .gmm import GaussianMixture
from .information import ksg_mutual_information
from .result import Estimate
from .trajectory import entropy_trajectory
from .weighted_knn import weighted_knn_entropy

__all__ = [
    "Estimate",
    "GaussianMixture",
    "binned_entropy",
    "bounded_knn_entropy",
    "diffusion_mutual_information",
    "ensemble_summary",
    "entropy_trajectory",
    "gaussian_entropy",
    "gaussian_logpdf",
    "kde_entropy",
    "kl_divergence",
    "kl_to_density",
    "knn_entropy",
    "ksg_mutual_information",
    "weighted_knn_entropy",
]
