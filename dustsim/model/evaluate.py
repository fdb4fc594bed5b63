"""A trained model's probability-flow ODE as a map: encode / decode, and log-likelihoods of points.

:func:`encode` carries points from ``t_min`` to ``t_max`` along the probability-flow ODE
(deterministic, invertible), :func:`decode` carries them back; with an adaptive solver at
tight tolerances ``decode(encode(x)) == x`` to within the tolerance.
:func:`model_log_likelihood` evaluates ``log p_{t_min}`` (nats) of points under a trained
model, as an xarray Dataset.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import xarray as xr

from .._version import __version__
from ..errors import ConfigError
from ..schema import SCHEMA_VERSION
from ..streams import fresh_seed
from .checkpoint import TrainedModel
from .device import make_generator
from .generate import chunked
from .likelihood import bits_per_dim, log_likelihood
from .preconditioning import ScoreFn, denoise
from .samplers import sample_ode_adaptive
from .sde import ForwardSDE


def encode(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    x: torch.Tensor,
    t_min: float,
    t_max: float,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> torch.Tensor:
    """Points at ``t_min`` -> their images at ``t_max`` under the probability-flow ODE."""
    return sample_ode_adaptive(score_fn, sde, x, [t_min, t_max], rtol=rtol, atol=atol)


def decode(
    score_fn: ScoreFn,
    sde: ForwardSDE,
    z: torch.Tensor,
    t_max: float,
    t_min: float,
    rtol: float = 1e-6,
    atol: float = 1e-6,
) -> torch.Tensor:
    """Points at ``t_max`` -> their preimages at ``t_min`` (the inverse of :func:`encode`)."""
    return sample_ode_adaptive(score_fn, sde, z, [t_max, t_min], rtol=rtol, atol=atol)


def numpy_score(model: TrainedModel) -> Any:
    """The model's score as a numpy function ``score(x (n, d), t) -> (n, d)`` (float64).

    For analyses written in numpy (e.g. :func:`analysis.thermo.de_bruijn`,
    :func:`analysis.model.kl_routes`).
    """
    score = chunked(model.score_fn)

    @torch.no_grad()
    def fn(x: np.ndarray, t: float) -> np.ndarray:
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=model.device)
        return score(xt, float(t)).double().cpu().numpy()

    return fn


def numpy_denoiser(model: TrainedModel) -> Any:
    """The model's posterior mean ``E[X_0 | X_t = x]`` as a numpy function ``(x (n, d), t) -> (n, d)``.

    Only for denoiser models (linear processes); for :func:`analysis.model.snr_denoiser`.
    """
    if model.kind != "denoiser" or model.process is None:
        raise ConfigError("only a denoiser model of a linear process has a posterior mean")
    process = model.process

    @torch.no_grad()
    def fn(x: np.ndarray, t: float) -> np.ndarray:
        xt = torch.as_tensor(np.asarray(x), dtype=torch.float32, device=model.device)
        parts = [denoise(model.module, process, xt[i : i + 20000], float(t)) for i in range(0, len(xt), 20000)]
        return torch.cat(parts).double().cpu().numpy()

    return fn


def model_log_likelihood(
    model: TrainedModel,
    points: np.ndarray | torch.Tensor,
    *,
    t_min: float | None = None,
    divergence: str = "auto",
    seed: int | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-5,
    chunk: int = 20000,
) -> xr.Dataset:
    """Log-likelihood (nats) of points under a trained model, via the probability-flow ODE.

    Parameters
    ----------
    model : TrainedModel
    points : array, shape (n, d)
    t_min : float, optional
        Where the density is evaluated (default ``1e-5 t_max`` for linear processes, the
        first training time otherwise). ``p_{t_min}`` approximates the data law ``p_0``.
    divergence : {"auto", "exact", "hutchinson"}
    seed : int, optional
        Seed of the Hutchinson probes.

    Returns
    -------
    xarray.Dataset
        ``log_likelihood``, ``prior`` and ``delta`` over ``point`` (nats); attributes
        ``mean_log_likelihood``, ``standard_error``, ``bits_per_dim`` (``-mean / (d ln 2)``),
        ``t_min``, ``t_max``, ``divergence``, ``nfev``, ``seed``.
    """
    x = torch.as_tensor(
        np.asarray(points) if not isinstance(points, torch.Tensor) else points, dtype=torch.float32, device=model.device
    )
    if x.ndim != 2:
        raise ConfigError(f"points must be an (n, d) array, got shape {tuple(x.shape)}")
    model.check_dim(x.shape[1], "the points file")
    if not torch.isfinite(x).all():
        raise ConfigError("the points contain non-finite values")
    t_min = t_min if t_min is not None else (1e-5 * model.t_max if model.kind == "denoiser" else model.t_min)
    if t_min < model.t_min * (1 - 1e-9):
        raise ConfigError(f"t_min = {t_min:g} lies below the model's training range (t >= {model.t_min:g})")
    seed = int(seed if seed is not None else fresh_seed())
    res = log_likelihood(
        chunked(model.score_fn),
        model.sde,
        x,
        t_min=t_min,
        t_max=model.t_max,
        prior_log_density=model.prior_log_density,
        divergence=divergence,
        generator=make_generator(seed, "probe", model.device),
        rtol=rtol,
        atol=atol,
        chunk=chunk,
    )
    ll = res["log_likelihood"]
    n, d = x.shape
    attrs: dict[str, Any] = {
        "title": "dustsim log-likelihood under a score model",
        "source": f"dustsim {__version__}",
        "dustsim_version": __version__,
        "schema_version": SCHEMA_VERSION,
        "model": model.path,
        "mean_log_likelihood": float(ll.mean()),
        "standard_error": float(ll.std(ddof=1) / math.sqrt(n)) if n > 1 else float("nan"),
        "bits_per_dim": float(bits_per_dim(ll.mean(), d)),
        "t_min": float(t_min),
        "t_max": model.t_max,
        "divergence": res["divergence"],
        "nfev": int(res["nfev"]),
        "seed": seed,
    }
    return xr.Dataset(
        {
            "log_likelihood": ("point", ll, {"long_name": "log p(x) at t_min", "units": "nats"}),
            "prior": ("point", res["prior"], {"long_name": "log p_T of the ODE end point", "units": "nats"}),
            "delta": ("point", res["delta"], {"long_name": "integral of div v along the path", "units": "nats"}),
        },
        coords={"point": ("point", np.arange(n, dtype=np.int64))},
        attrs=attrs,
    )
