"""Configuration of the score model: network, training and sampler tables.

A TOML file given to ``dustsim train --config`` / ``dustsim sample --config`` may hold
the tables::

    [network]              # NetworkConfig
    kind = "resmlp"
    width = 128
    depth = 3

    [training]             # TrainConfig
    steps = 8000           # a cap: training stops earlier when converged
    max_time = 120         # seconds (optional cap)
    batch_size = 2048
    lr = 2e-3
    seed = 1

    [sampler]              # SamplerConfig
    name = "heun"          # the default of `dustsim sample` (restore: euler-maruyama)
    steps = 100            # the default of heun (the other samplers: 500)

Every field has a default; unknown keys are errors. The resolved tables are recorded in
checkpoints and in the ``config`` attribute of generated trajectories.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from ..spec import choice, integer, is_number, number_in

OBJECTIVES = ("auto", "dsm", "ssm")
WEIGHTINGS = ("edm", "sigma2", "likelihood")
TIME_SAMPLINGS = ("log-level", "uniform", "edm", "mixed")
LR_SCHEDULES = ("auto", "cosine", "constant")
#: Sampler of ``dustsim sample`` / :func:`dustsim.model.sample` when none is given: Heun's
#: second-order PF-ODE steps are sharper per network evaluation than Euler–Maruyama's (on the
#: 2-D mixture of docs/model.md, mean exact log-density of samples 0.016 nats below the data's
#: with Heun-100, 0.06 with Euler–Maruyama-500).
SAMPLE_SAMPLER = "heun"
#: Sampler of ``dustsim restore`` when none is given: the reverse SDE, so a restored particle
#: is a draw from ``p(x_0 | x_t)`` (the PF-ODE would map every noised particle deterministically).
RESTORE_SAMPLER = "euler-maruyama"
#: Default number of steps of each sampler (the others: ``FALLBACK_SAMPLER_STEPS``).
DEFAULT_SAMPLER_STEPS = {"heun": 100}
FALLBACK_SAMPLER_STEPS = 500


class _Table:
    """Shared ``from_dict`` / ``to_dict`` / ``replace`` of the config tables."""

    _table: str = ""

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None, source: str = "config") -> Any:
        data = dict(data or {})
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(set(data) - names)
        if unknown:
            raise ConfigError(
                f"{source}: unknown key {unknown[0]!r} in [{cls._table}]; known keys: {', '.join(sorted(names))}"
            )
        obj = cls(**data)
        obj.validate()
        return obj

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if v is not None}  # type: ignore[call-overload]

    def replace(self, **changes: Any) -> Any:
        obj = dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[type-var]
        obj.validate()
        return obj

    def validate(self) -> None:  # pragma: no cover - overridden
        pass


def _check(
    table: str,
    name: str,
    value: Any,
    kind: type,
    minimum: float | None = None,
    maximum: float | None = None,
    optional: bool = False,
    strict: bool = False,
) -> None:
    """One field of a ``[table]`` (:mod:`dustsim.spec` rules): a number or an int, in range."""
    if value is None and optional:
        return
    if kind is int:
        integer(
            value,
            name,
            f"[{table}]",
            minimum=None if minimum is None else int(minimum),
            maximum=None if maximum is None else int(maximum),
        )
    else:
        number_in(value, name, f"[{table}]", minimum=minimum, maximum=maximum, strict=strict)


def _choice(table: str, name: str, value: Any, choices: tuple[str, ...]) -> None:
    choice(value, name, choices, f"[{table}]")


#: network settings added after checkpoints were first written, at the values those checkpoints were trained
#: with (none of them had Fourier position features, nor their damping)
CHECKPOINT_NETWORK_DEFAULTS: dict[str, Any] = {"fourier_features": 0, "fourier_damping": False}


@dataclass
class NetworkConfig(_Table):
    """The network: ``kind`` (``mlp`` or ``resmlp``), ``width``, ``depth``, ``embedding_dim``, ``activation``,
    ``fourier_features`` (frequencies per coordinate of the input's Fourier features, 0: none),
    ``fourier_max_frequency`` (the largest, in 1 / units of the preconditioned input) and
    ``fourier_damping`` (scale each feature by the factor by which the noise damps its frequency,
    :class:`~dustsim.model.networks.PositionFeatures`)."""

    kind: str = "resmlp"
    width: int = 128
    depth: int = 3
    embedding_dim: int = 64
    activation: str = "silu"
    fourier_features: int = 16
    fourier_max_frequency: float = 64.0
    fourier_damping: bool = True
    _table = "network"

    def validate(self) -> None:
        from .networks import ACTIVATIONS, NETWORKS

        _choice("network", "kind", self.kind, tuple(NETWORKS))
        _choice("network", "activation", self.activation, tuple(ACTIVATIONS))
        _check("network", "width", self.width, int, 1)
        _check("network", "depth", self.depth, int, 1)
        _check("network", "embedding_dim", self.embedding_dim, int, 2)
        if self.embedding_dim % 2:
            raise ConfigError(f"[network] embedding_dim must be even, got {self.embedding_dim}")
        _check("network", "fourier_features", self.fourier_features, int, 0)
        _check("network", "fourier_max_frequency", self.fourier_max_frequency, float, 0, strict=True)
        if not isinstance(self.fourier_damping, bool):
            raise ConfigError(f"[network] fourier_damping must be true or false, got {self.fourier_damping!r}")

    @classmethod
    def from_checkpoint(cls, saved: dict[str, Any]) -> NetworkConfig:
        """The network of a checkpoint; keys it predates take the value that reproduces its network."""
        return cls.from_dict({**CHECKPOINT_NETWORK_DEFAULTS, **saved}, source="checkpoint")

    def options(self) -> dict[str, Any]:
        """Keyword arguments of :func:`dustsim.model.networks.make_network` (without ``kind``)."""
        return {k: v for k, v in self.to_dict().items() if k != "kind"}


@dataclass
class TrainConfig(_Table):
    """Training: objective, loss weighting, optimiser, schedule, checkpoints.

    Attributes
    ----------
    objective : {"auto", "dsm", "ssm"}
        Denoising score matching with the exact kernel (linear processes) or sliced
        score matching with variance reduction on the recorded frames; ``auto`` picks
        DSM when the trajectory's process is linear.
    weighting : {"edm", "sigma2", "likelihood"}
        DSM loss weighting (EDM's ``lambda(s) = (s^2 + sd^2) / (s sd)^2`` on the denoiser
        error, ``sigma^2`` or the likelihood weighting ``g^2`` on the score error).
    time_sampling : {"mixed", "log-level", "uniform", "edm"}
        How DSM draws times: uniform in ``log(sigma / alpha)``, uniform in ``t``, EDM's
        log-normal noise levels (``p_mean``, ``p_std``, scaled by the data's sd / 0.5),
        truncated to ``[t_min, t_end]``, or (default) ``mixed``: half of the draws each.
    t_min : float or None
        Smallest training time (default ``1e-5 t_end`` for DSM; SSM: the first recorded
        frame after 0).
    steps : int or None
        Cap on the optimiser steps. None: :func:`dustsim.model.stopping.default_steps` of
        the data size and dimension, or, when ``max_time`` is given, no step cap (the time
        budget is the cap). Training usually stops earlier, by the convergence rule.
    max_time : float or None
        Cap on the training wall-clock time in seconds (None: no cap). A run stopped by it
        depends on the machine's speed; the step cap and the convergence rule do not.
    batch_size : int
        Particles per batch.
    validation_fraction : float
        Fraction of the particles held out for validation, in (0, 1).
    validation_points : int
        Fixed draws (particle, time, noise) of the validation loss: drawn once from the
        seed, so the validation loss is deterministic and comparable across steps.
    validate_every : int
        Steps between validation losses (of the EMA weights).
    patience : int
        Convergence rule: stop when the smoothed validation loss has not improved within
        the last ``patience`` steps by ``min_improvement`` of the gain since the start
        (:func:`dustsim.model.stopping.converged`; 0: never).
    min_improvement : float
        Improvement that counts as progress, as a fraction of the validation loss gained
        since the start.
    smoothing : int
        Validation losses averaged (running mean) before the rule compares them.
    lr, weight_decay, warmup, grad_clip : float / int
        AdamW learning rate and weight decay, linear warm-up steps, gradient-norm clip.
    lr_schedule : {"auto", "cosine", "constant"}
        Decay after the warm-up. ``auto`` (default): warm-up, stable, decay — the rate
        stays at ``lr`` until the cooldown to ``lr / 100``, which starts at convergence, at
        80 % of the step cap or at 80 % of ``max_time``, whichever comes first. ``cosine``:
        to ``lr / 100`` over the step cap; ``constant``: no decay but the cooldown of an
        early stop (convergence, ``max_time``).
    ema_decay : float
        Decay of the exponential moving average of the weights.
    baseline : {"auto", "equilibrium", "none"}
        SSM: known part of the score, ``2 f / g^2`` (:func:`dustsim.model.sde.equilibrium_score`);
        ``auto`` uses it when the process's drift is known.
    n_projections : int
        SSM: random projections per particle.
    max_particles : int
        SSM: particles kept per recorded frame (a random subset, from the seed).
    checkpoint_every, log_every : int
        Steps between checkpoints (0: only at the end) and between loss-log rows.
    seed : int or None
        Seed of every random draw (None: drawn and recorded).
    device : str
        ``auto``, ``cpu``, ``cuda``...
    threads : int or None
        torch CPU threads (None: torch's default).
    """

    objective: str = "auto"
    weighting: str = "edm"
    time_sampling: str = "mixed"
    p_mean: float = -1.2
    p_std: float = 1.2
    t_min: float | None = None
    steps: int | None = None
    max_time: float | None = None
    batch_size: int = 2048
    validation_fraction: float = 0.1
    validation_points: int = 8192
    validate_every: int = 100
    patience: int = 1000
    min_improvement: float = 0.01
    smoothing: int = 5
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup: int = 500
    lr_schedule: str = "auto"
    grad_clip: float = 1.0
    ema_decay: float = 0.999
    baseline: str = "auto"
    n_projections: int = 1
    max_particles: int = 20000
    checkpoint_every: int = 1000
    log_every: int = 50
    seed: int | None = None
    device: str = "auto"
    threads: int | None = None
    _table = "training"

    def validate(self) -> None:
        t = "training"
        _choice(t, "objective", self.objective, OBJECTIVES)
        _choice(t, "weighting", self.weighting, WEIGHTINGS)
        _choice(t, "time_sampling", self.time_sampling, TIME_SAMPLINGS)
        _choice(t, "lr_schedule", self.lr_schedule, LR_SCHEDULES)
        _check(t, "p_mean", self.p_mean, float)
        _check(t, "p_std", self.p_std, float, 0, strict=True)
        _check(t, "t_min", self.t_min, float, 0, strict=True, optional=True)
        _check(t, "steps", self.steps, int, 1, optional=True)
        _check(t, "max_time", self.max_time, float, 0, strict=True, optional=True)
        _check(t, "batch_size", self.batch_size, int, 1)
        if not (is_number(self.validation_fraction) and 0 < self.validation_fraction < 1):
            raise ConfigError(
                f"[training] validation_fraction must be a number in (0, 1), got {self.validation_fraction!r}"
            )
        _check(t, "validation_points", self.validation_points, int, 1)
        _check(t, "validate_every", self.validate_every, int, 1)
        _check(t, "patience", self.patience, int, 0)
        _check(t, "min_improvement", self.min_improvement, float, 0)
        _check(t, "smoothing", self.smoothing, int, 1)
        _check(t, "lr", self.lr, float, 0, strict=True)
        _check(t, "weight_decay", self.weight_decay, float, 0)
        _check(t, "warmup", self.warmup, int, 0)
        _check(t, "grad_clip", self.grad_clip, float, 0)
        _check(t, "ema_decay", self.ema_decay, float, 0, 1)
        _choice(t, "baseline", self.baseline, ("auto", "equilibrium", "none"))
        _check(t, "n_projections", self.n_projections, int, 1)
        _check(t, "max_particles", self.max_particles, int, 1)
        _check(t, "checkpoint_every", self.checkpoint_every, int, 0)
        _check(t, "log_every", self.log_every, int, 1)
        _check(t, "seed", self.seed, int, 0, 2**63 - 1, optional=True)
        _check(t, "threads", self.threads, int, 1, optional=True)
        if not isinstance(self.device, str):
            raise ConfigError(f"[training] device must be a string, got {self.device!r}")


@dataclass
class SamplerConfig(_Table):
    """Sampling: sampler name and its options.

    Attributes
    ----------
    name : str or None
        ``euler-maruyama`` (``em``), ``pc``, ``heun``, ``rk45`` or ``ddim`` (None: the
        command's default, :data:`~dustsim.model.config.SAMPLE_SAMPLER` for generation,
        :data:`~dustsim.model.config.RESTORE_SAMPLER` for restoration; see ``resolved``).
    steps : int or None
        Number of steps (``rk45``: number of reported frames; None: the sampler's default,
        :data:`~dustsim.model.config.DEFAULT_SAMPLER_STEPS`).
    t_min : float or None
        Last time of the reverse integration (default ``1e-3 t_end`` for linear
        processes; the model's first training time otherwise).
    spacing : {"uniform", "edm"} or None
        Time grid (default: ``edm`` for linear processes, else ``uniform``).
    denoise : bool
        Finish with Tweedie's ``E[X_0 | X_t_min]`` as the frame at time 0 (linear processes).
    snr, corrector_steps : float, int
        Predictor–corrector options.
    rtol, atol : float
        Tolerances of the adaptive solver.
    record_every : int
        Steps between recorded frames of the reverse trajectory (0: first and last only).
    use_ema : bool
        Sample with the EMA weights (default) or the raw ones.
    seed : int or None
        Seed of the prior and of the sampler noise.
    device : str
        ``auto``, ``cpu``, ``cuda``...
    """

    name: str | None = None
    steps: int | None = None
    t_min: float | None = None
    spacing: str | None = None
    denoise: bool = True
    snr: float = 0.16
    corrector_steps: int = 1
    rtol: float = 1e-5
    atol: float = 1e-5
    record_every: int = 10
    use_ema: bool = True
    seed: int | None = None
    device: str = "auto"
    _table = "sampler"

    def validate(self) -> None:
        from .samplers import get_sampler

        t = "sampler"
        if self.name is not None:
            if not isinstance(self.name, str):
                raise ConfigError(f"[sampler] name must be a sampler name, got {self.name!r}")
            self.name = get_sampler(self.name)[0]
        _check(t, "steps", self.steps, int, 1, optional=True)
        _check(t, "t_min", self.t_min, float, 0, strict=True, optional=True)
        if self.spacing is not None:
            _choice(t, "spacing", self.spacing, ("uniform", "edm"))
        if not isinstance(self.denoise, bool) or not isinstance(self.use_ema, bool):
            raise ConfigError("[sampler] denoise and use_ema must be true or false")
        _check(t, "snr", self.snr, float, 0, strict=True)
        _check(t, "corrector_steps", self.corrector_steps, int, 0)
        _check(t, "rtol", self.rtol, float, 0, strict=True)
        _check(t, "atol", self.atol, float, 0, strict=True)
        _check(t, "record_every", self.record_every, int, 0)
        _check(t, "seed", self.seed, int, 0, 2**63 - 1, optional=True)

    def resolved(self, default: str = "heun") -> SamplerConfig:
        """This config with the sampler (``default`` when unset) and its step count filled in.

        The step count defaults per sampler (:data:`~dustsim.model.config.DEFAULT_SAMPLER_STEPS`), so
        ``--sampler em`` alone keeps Euler–Maruyama's 500 steps and the default
        ``heun`` takes 100.
        """
        name = self.name if self.name is not None else get_canonical(default)
        steps = self.steps if self.steps is not None else DEFAULT_SAMPLER_STEPS.get(name, FALLBACK_SAMPLER_STEPS)
        return self.replace(name=name, steps=steps)

    @property
    def resolved_name(self) -> str:
        """The sampler's canonical name (ValueError before ``resolved``)."""
        if self.name is None:
            raise ValueError("this sampler config is not resolved yet: call resolved()")
        return self.name

    @property
    def resolved_steps(self) -> int:
        """The number of steps (ValueError before ``resolved``)."""
        if self.steps is None:
            raise ValueError("this sampler config is not resolved yet: call resolved()")
        return self.steps

    def options(self) -> dict[str, Any]:
        """Keyword arguments specific to the chosen sampler."""
        if self.name == "pc":
            return {"snr": self.snr, "corrector_steps": self.corrector_steps}
        if self.name == "rk45":
            return {"rtol": self.rtol, "atol": self.atol}
        return {}


def get_canonical(name: str) -> str:
    """The canonical name of a sampler given by name or alias (ConfigError if unknown)."""
    from .samplers import get_sampler

    return get_sampler(name)[0]


def load_tables(path: str | Path | None) -> dict[str, Any]:
    """Read a TOML config file (``{}`` for None); ConfigError if unreadable or invalid."""
    if path is None:
        return {}
    from ..config import parse_toml

    path = Path(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    return parse_toml(text, str(path))
