"""Score models that learn to reverse the dust's diffusion (imports torch; load on demand).

Training
    :func:`train` (DSM with the exact kernel for linear processes, sliced score matching
    on recorded frames otherwise), :class:`NetworkConfig`, :class:`TrainConfig`.
Models
    :func:`load_model` -> :class:`TrainedModel` (``score_fn``, ``prior_sample``);
    networks :class:`MLP`, :class:`ResidualMLP`; wrappers :class:`Denoiser` (EDM
    preconditioning) and :class:`ScoreNet`.
Sampling
    :func:`sample` (reverse trajectory Dataset); stateless samplers
    :func:`~dustsim.model.samplers.sample_euler_maruyama`,
    :func:`~dustsim.model.samplers.sample_predictor_corrector`, :func:`~dustsim.model.samplers.sample_heun`,
    :func:`~dustsim.model.samplers.sample_ode_adaptive`, :func:`~dustsim.model.samplers.sample_ddim`;
    :func:`encode` / :func:`decode`.
Likelihood, restoration, metrics
    :func:`~dustsim.model.likelihood.log_likelihood`, :func:`model_log_likelihood`, :func:`restore`,
    :func:`energy_distance`, :func:`sliced_wasserstein`, :func:`score_error`,
    :func:`~dustsim.model.metrics.support_precision`, :func:`~dustsim.model.metrics.coverage`,
    :class:`~dustsim.mixture.GaussianMixture`.
"""

from __future__ import annotations

from .checkpoint import TrainedModel, load_model, read_checkpoint, save_checkpoint
from .config import NetworkConfig, SamplerConfig, TrainConfig
from .data import FrameSamples, KernelPairs, initial_positions
from .device import make_generator, select_device
from .evaluate import decode, encode, model_log_likelihood, numpy_denoiser, numpy_score
from .generate import sample
from .likelihood import bits_per_dim, log_likelihood
from .losses import dsm_loss, ssm_vr_loss
from .metrics import (
    SupportPrecision,
    coverage,
    displacement_error,
    energy_distance,
    energy_noise_floor,
    score_error,
    sliced_wasserstein,
    support_precision,
)
from .mixture import GaussianMixture, mixture_score, torch_score
from .networks import MLP, FourierEmbedding, ResidualMLP, make_network
from .preconditioning import Denoiser, ScoreNet, denoiser_score
from .restore import hold_mask, restore
from .samplers import (
    SAMPLERS,
    pf_ode_velocity,
    sample_ddim,
    sample_euler_maruyama,
    sample_heun,
    sample_ode_adaptive,
    sample_predictor_corrector,
    tweedie_denoise,
)
from .sde import ForwardSDE, linear_sde, register_sde, sde_from_config, sde_from_trajectory, time_grid
from .training import TrainResult, train

__all__ = [
    "MLP",
    "SAMPLERS",
    "Denoiser",
    "ForwardSDE",
    "FourierEmbedding",
    "FrameSamples",
    "GaussianMixture",
    "KernelPairs",
    "NetworkConfig",
    "ResidualMLP",
    "SamplerConfig",
    "ScoreNet",
    "SupportPrecision",
    "TrainConfig",
    "TrainResult",
    "TrainedModel",
    "bits_per_dim",
    "coverage",
    "decode",
    "denoiser_score",
    "displacement_error",
    "dsm_loss",
    "encode",
    "energy_distance",
    "energy_noise_floor",
    "hold_mask",
    "initial_positions",
    "linear_sde",
    "load_model",
    "log_likelihood",
    "make_generator",
    "make_network",
    "mixture_score",
    "model_log_likelihood",
    "numpy_denoiser",
    "numpy_score",
    "pf_ode_velocity",
    "read_checkpoint",
    "register_sde",
    "restore",
    "sample",
    "sample_ddim",
    "sample_euler_maruyama",
    "sample_heun",
    "sample_ode_adaptive",
    "sample_predictor_corrector",
    "save_checkpoint",
    "score_error",
    "sde_from_config",
    "sde_from_trajectory",
    "select_device",
    "sliced_wasserstein",
    "ssm_vr_loss",
    "support_precision",
    "time_grid",
    "torch_score",
    "train",
    "tweedie_denoise",
]
