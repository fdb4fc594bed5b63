"""Restoration of a partially diffused artifact (SDEdit) and inpainting.

:func:`restore` takes the frame of a forward trajectory nearest to ``from_time`` — dust
that has partly forgotten its artifact — and runs the learned reverse process from that
time down to 0 (Meng et al. 2022, "SDEdit"). Entries listed in ``hold`` (whole particles,
or some coordinates of every particle) are *inpainted*: they are known at ``t = 0`` and,
at every reverse step, replaced by a fresh draw of their exact forward marginal
``c + alpha(t) (x0 - c) + sigma(t) z`` (Song et al. 2021, "replacement"), so the free
entries are generated conditionally on them; at the end they equal the originals. The
score model treats particles independently, so holding whole particles leaves the others
unchanged — holding coordinates (say ``x`` to regenerate ``y``) is the conditional case.

Fidelity against the originals ``x0`` is measured per particle (distance, "displacement
error") for the noised state and for the restoration, and as distributions (energy
distances of the clouds to the original cloud). The output is a trajectory Dataset with
``direction = "restoration"`` and the extra variables ``original_position``,
``noised_error``, ``restored_error``, ``held`` and, for linear processes,
``posterior_mean_error``: the error of Tweedie's one-step estimate ``E[X0 | X_t]``, which
minimises the mean squared error per particle but collapses the cloud onto its "mean
shape" (the sampler's restoration is a draw from ``p(x0 | x_t)``: worse per particle,
right as a distribution).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import xarray as xr

from ..errors import ConfigError, InputFileError
from ..io import open_trajectory
from ..schema import history_line, spatial_labels, trajectory_attrs, trajectory_dataset
from ..streams import EXACT_POSTERIOR_STREAM, RESTORE_REFERENCE_STREAM, fresh_seed, numpy_stream
from .checkpoint import TrainedModel
from .config import RESTORE_SAMPLER, SamplerConfig
from .device import make_generator
from .generate import Recorder, chunked, progress_bar, resolved_config, reverse_times, run_sampler, sampler_config
from .metrics import displacement_error, energy_distance, sliced_wasserstein
from .samplers import tweedie_denoise

#: at most this many particles enter the energy distances recorded as attributes
ED_PARTICLES = 5000


def hold_mask(n: int, dim: int, *, axes: Iterable[int | str] = (), particles: Any = None) -> np.ndarray:
    """Boolean ``(n, dim)`` mask of held entries: every listed axis, and every listed particle.

    Parameters
    ----------
    axes : iterable of int or str
        Axis indices or names (``"x"``, ``"y"``, ...).
    particles : array of int or bool, optional
        Indices of held particles, or a boolean mask of shape ``(n,)``.
    """
    mask = np.zeros((n, dim), dtype=bool)
    names = spatial_labels(dim)
    for axis in axes:
        if isinstance(axis, str) and not axis.lstrip("-").isdigit():
            if axis not in names:
                raise ConfigError(f"unknown axis {axis!r}; the axes are {', '.join(names)}")
            mask[:, names.index(axis)] = True
        else:
            i = int(axis)
            if not 0 <= i < dim:
                raise ConfigError(f"axis {i} out of range for {dim}-D data")
            mask[:, i] = True
    if particles is not None:
        p = np.asarray(particles)
        if p.dtype == bool:
            if p.shape != (n,):
                raise ConfigError(f"a particle mask must have shape ({n},), got {p.shape}")
            mask[p] = True
        elif p.size:
            if p.min() < 0 or p.max() >= n:
                raise ConfigError(f"held particle indices must lie in 0..{n - 1}")
            mask[p.astype(np.int64)] = True
    return mask


def split_halves(n: int, rng: np.random.Generator, size: int = ED_PARTICLES) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint random sets of particle indices, ``size // 2`` each (at most ``n // 2``).

    A restored cloud is compared with the originals of the *other* half: a particle's
    restoration depends on its own original, so pairing the two would put the
    distance below what two independent samples of one law show.
    """
    m = min(n // 2, size // 2)
    perm = rng.permutation(n)
    return perm[:m], perm[m : 2 * m]


def energy_floor(
    x0: np.ndarray, rng: np.random.Generator, repeats: int = 5, size: int = ED_PARTICLES
) -> tuple[float, float]:
    """Mean and standard deviation of the energy distance between two disjoint halves of ``x0``.

    The independent-sample floor of :func:`split_halves`' distances: what a restoration
    that draws exactly from the data's law shows (its expectation is
    ``E|X - X'| (2 / m)`` for halves of ``m``).
    """
    values = []
    for _ in range(repeats):
        a, b = split_halves(len(x0), rng, size)
        values.append(energy_distance(x0[a], x0[b]))
    return float(np.mean(values)), float(np.std(values, ddof=1)) if repeats > 1 else 0.0


def exact_posterior_errors(
    ds: xr.Dataset, process: Any, x0: np.ndarray, xt: np.ndarray, t: float, mask: np.ndarray, seed: int
) -> dict[str, tuple[np.ndarray, str]]:
    """Per-particle errors of the *exact* posterior mean and of one exact posterior draw.

    Only for a trajectory whose artifact is a Gaussian mixture under a linear process
    (otherwise empty): the references a restoration is read against. A restoration is a
    posterior draw, so per particle it matches the draw error (``E|draw - x0|^2 = 2 mmse``),
    not the posterior mean's (the least error any estimate can have).
    """
    from ..mixture import GaussianMixture

    try:
        mixture = GaussianMixture.from_trajectory(ds)
    except Exception:  # noqa: BLE001 - an unreadable config: no exact reference
        return {}
    if mixture is None or process is None or mixture.dim != x0.shape[1]:
        return {}
    a, s, c = float(process.alpha(t)), float(process.sigma(t)), float(process.centre)
    mean = np.where(mask, x0, mixture.posterior_mean(xt, a, s, c))
    draw_rng = numpy_stream(seed, EXACT_POSTERIOR_STREAM)
    draw = np.where(mask, x0, mixture.posterior_sample(xt, a, s, c, seed=draw_rng))
    return {
        "exact_posterior_mean_error": (displacement_error(mean, x0), "the exact posterior mean E[X0 | X_t]"),
        "exact_posterior_draw_error": (displacement_error(draw, x0), "an exact draw from p(X0 | X_t)"),
    }


def restoration_frames(ds: xr.Dataset, from_time: float) -> tuple[np.ndarray, np.ndarray, float, np.ndarray | None]:
    """``(x0, x_t, t, labels)`` of a forward trajectory: its first frame and the frame at ``from_time``.

    Raises
    ------
    ConfigError
        Not a single forward trajectory (InputFileError), or no frame at ``from_time``.
    """
    pos = ds["position"]
    if "realization" in pos.dims:
        raise InputFileError("restoration needs a single trajectory (select one realization first)")
    if ds.attrs.get("direction") != "forward":
        raise InputFileError(f"restoration needs a forward trajectory, got direction = {ds.attrs.get('direction')!r}")
    if not np.isfinite(from_time):
        raise ConfigError(f"from_time must be a finite time, got {from_time!r}")
    times = np.asarray(ds["time"].values, dtype=np.float64)
    if not np.any(times == 0.0):
        raise InputFileError("the trajectory has no frame at t = 0: nothing to compare the restoration with")
    k = int(np.argmin(np.abs(times - from_time)))
    tol = 1e-6 * max(1.0, abs(from_time))
    if abs(times[k] - from_time) > tol:
        recorded = ", ".join(f"{t:g}" for t in times[: min(len(times), 8)])
        raise ConfigError(
            f"no frame at t = {from_time:g}; recorded frames are at t = {recorded}{', ...' if len(times) > 8 else ''}"
        )
    x0 = np.asarray(pos.isel(time=int(np.argmax(times == 0.0))).values, dtype=np.float64)
    xt = np.asarray(pos.isel(time=k).values, dtype=np.float64)
    labels = ds["label"].values if "label" in ds.coords else None
    return x0, xt, float(times[k]), labels


def restore(
    model: TrainedModel,
    trajectory: str | Path | xr.Dataset,
    from_time: float,
    sampler: SamplerConfig | dict[str, Any] | str | None = None,
    *,
    hold: np.ndarray | None = None,
    seed: int | None = None,
    progress: bool | None = None,
    history: str | None = None,
) -> xr.Dataset:
    """Restore the frame of a forward trajectory at ``from_time`` back to ``t = 0``.

    Parameters
    ----------
    model : TrainedModel
    trajectory : path or Dataset
        Forward trajectory with frames at 0 and at ``from_time``.
    from_time : float
        Time of the frame to restore (must be a recorded frame).
    sampler : SamplerConfig, dict or name, optional
        ``steps`` is the number of reverse steps from ``from_time`` to ``t_min`` (default:
        Euler–Maruyama, 500 steps, :data:`~dustsim.model.config.RESTORE_SAMPLER`).
    hold : bool array (n, d), optional
        Entries known and held (:func:`hold_mask`); needs a linear process.
    seed : int, optional
        Seed of the sampler noise and the held entries' forward draws.

    Returns
    -------
    xarray.Dataset
        Trajectory schema, ``direction = "restoration"``: frames from ``from_time`` (the
        noised state) down to 0, plus ``original_position``, ``noised_error``,
        ``restored_error`` and ``held``; summary numbers as attributes.
    """
    cfg = sampler_config(sampler, RESTORE_SAMPLER)
    ds = trajectory if isinstance(trajectory, xr.Dataset) else open_trajectory(trajectory)
    source = "dataset" if isinstance(trajectory, xr.Dataset) else str(trajectory)
    x0, xt, t_frame, labels = restoration_frames(ds, float(from_time))
    n, d = xt.shape
    model.check_dim(d, "the trajectory")
    if not t_frame <= model.t_max * (1 + 1e-9):
        raise ConfigError(f"t = {t_frame:g} lies beyond the model's training range (t <= {model.t_max:g})")
    seed = int(seed if seed is not None else cfg.seed if cfg.seed is not None else fresh_seed())
    device = model.device
    ts, spacing = reverse_times(model, cfg, t_start=t_frame)
    mask = np.zeros((n, d), dtype=bool) if hold is None else np.asarray(hold, dtype=bool)
    if mask.shape != (n, d):
        raise ConfigError(f"the hold mask must have shape ({n}, {d}), got {mask.shape}")
    project = None
    x0_t = torch.as_tensor(x0, dtype=torch.float32, device=device)
    held = torch.as_tensor(mask, device=device)
    if mask.any():
        process = model.process
        if process is None:
            raise ConfigError("inpainting needs a linear process (the exact forward marginal of the held entries)")
        gen_hold = make_generator(seed, "restore", device)
        c = float(process.centre)

        def project(x: torch.Tensor, t: float) -> torch.Tensor:
            a, s = float(process.alpha(t)), float(process.sigma(t))
            z = torch.randn(x.shape, generator=gen_hold, device=device, dtype=x.dtype)
            return torch.where(held, c + a * (x0_t - c) + s * z, x)

    x = torch.as_tensor(xt, dtype=torch.float32, device=device)
    posterior_err = None
    if model.process is not None:  # the one-step MMSE estimate E[X0 | X_t], for comparison
        xhat = tweedie_denoise(chunked(model.score_fn), model.process, x, t_frame)
        posterior_err = displacement_error(torch.where(held, x0_t, xhat).double().cpu().numpy(), x0)
    bar = progress_bar(cfg.resolved_steps, f"restore ({cfg.name})", progress)
    rec = Recorder(x, t_frame, cfg.resolved_steps, cfg.record_every, bar)
    try:
        x = run_sampler(
            model, cfg, x, ts, generator=make_generator(seed, "sampler", device), callback=rec, project=project
        )
    finally:
        bar.close()
    if cfg.denoise and model.process is not None:
        x = tweedie_denoise(chunked(model.score_fn), model.process, x, float(ts[-1]))
        x = torch.where(held, x0_t, x)
        rec.add(x, 0.0, cfg.resolved_steps + 1)
    elif mask.any():
        x = torch.where(held, x0_t, x)
        rec.frames[-1] = x.float().cpu().numpy()
    restored = rec.frames[-1].astype(np.float64)
    noised_err = displacement_error(xt, x0)
    restored_err = displacement_error(restored, x0)
    rng = numpy_stream(seed, RESTORE_REFERENCE_STREAM)
    half_a, half_b = split_halves(n, rng)
    floor, floor_sd = energy_floor(x0, rng)
    exact = exact_posterior_errors(ds, model.process, x0, xt, t_frame, mask, seed)
    extra = {"restoration": {"trajectory": source, "from_time": t_frame, "held_entries": int(mask.sum())}}
    config = resolved_config(model, cfg, n=n, seed=seed, t_stop=float(ts[-1]), spacing=spacing, extra=extra)
    attrs = trajectory_attrs(
        process=str(model.meta["process"].get("name", "unknown")),
        direction="restoration",
        seed=seed,
        config=config,
        history=history_line(history or f"restore from t = {t_frame:g}"),
        sampler=cfg.name,
        model=model.path,
        from_time=t_frame,
        mean_displacement_noised=float(noised_err.mean()),
        mean_displacement_restored=float(restored_err.mean()),
        energy_distance_noised=energy_distance(xt[half_a], x0[half_b]),
        energy_distance_restored=energy_distance(restored[half_a], x0[half_b]),
        energy_distance_floor=floor,
        energy_distance_floor_sd=floor_sd,
        sliced_wasserstein_noised=sliced_wasserstein(xt[half_a], x0[half_b], rng=rng),
        sliced_wasserstein_restored=sliced_wasserstein(restored[half_a], x0[half_b], rng=rng),
    )
    out = trajectory_dataset(
        np.stack(rec.frames),
        time=rec.times,
        step=rec.steps,
        attrs=attrs,
        process=model.process,
        labels=labels,
        length_unit=ds["position"].attrs.get("units", "1"),
    )
    unit = out["position"].attrs["units"]
    out["original_position"] = (
        ("particle", "spatial"),
        x0.astype(out["position"].dtype),
        {"long_name": "particle position at t = 0 (the original)", "units": unit},
    )
    out["noised_error"] = (
        "particle",
        noised_err,
        {"long_name": f"distance of the noised position (t = {t_frame:g}) from the original", "units": unit},
    )
    out["restored_error"] = (
        "particle",
        restored_err,
        {"long_name": "distance of the restored position from the original", "units": unit},
    )
    if posterior_err is not None:
        out["posterior_mean_error"] = (
            "particle",
            posterior_err,
            {"long_name": f"distance of Tweedie's E[X0 | X_t] (t = {t_frame:g}) from the original", "units": unit},
        )
        out.attrs["mean_displacement_posterior_mean"] = float(posterior_err.mean())
    for name, (errors, what) in exact.items():
        out[name] = (
            "particle",
            errors,
            {"long_name": f"distance of {what} (t = {t_frame:g}) from the original", "units": unit},
        )
        out.attrs[f"mean_displacement_{name.removesuffix('_error')}"] = float(errors.mean())
    out["held"] = (
        ("particle", "spatial"),
        mask.astype(np.int8),
        {"long_name": "1 where the entry was held (inpainting)", "units": "1"},
    )
    return out
