"""Forward noise processes of diffusion models, as physical processes on particles.

Every process here is a *linear* SDE

    dX = f(t) (X - c) dt + g(t) dW,

so the law of ``X_t`` given ``X_s`` is Gaussian with an exact transition kernel:
``X_t | X_s ~ N(c + A (X_s - c), B^2 I)`` with mean coefficient ``A = alpha_t / alpha_s``
and standard deviation ``B``. From ``X_0 = x0``: ``X_t = c + alpha(t) (x0 - c) + sigma(t) Z``.

Time ``t`` and lengths are in reduced (dimensionless) units: the schedules of diffusion
models live on ``t in [0, 1]``; Brownian motion and the Ornstein-Uhlenbeck process use the
diffusion coefficient ``D`` (length^2 / time) and stiffness ``k`` (1 / time) in the same
units.

Processes are small frozen dataclasses; :func:`make_process` builds one from a name and
keyword parameters, validating them.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .errors import ConfigError
from .spec import is_number, positive_number

FloatArray = NDArray[np.float64]


def _t(t: ArrayLike) -> FloatArray:
    return np.asarray(t, dtype=np.float64)


@dataclass(frozen=True)
class LinearProcess:
    """Interface shared by the linear processes (not used directly).

    Subclasses implement :meth:`alpha`, :meth:`sigma`, :meth:`drift_coefficient`,
    :meth:`diffusion` and, where the generic formula loses precision, :meth:`transition`.
    """

    name: ClassVar[str] = ""
    #: whether the process forgets its initial condition and converges to a fixed law
    has_stationary: ClassVar[bool] = False
    #: largest end time for which the schedule is defined (None: unbounded)
    t_max: ClassVar[float | None] = None

    # -- to implement -----------------------------------------------------------------
    def alpha(self, t: ArrayLike) -> FloatArray:
        """Mean coefficient of ``X_t | X_0`` (dimensionless)."""
        raise NotImplementedError

    def sigma(self, t: ArrayLike) -> FloatArray:
        """Standard deviation of ``X_t | X_0`` per axis (length units)."""
        raise NotImplementedError

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        """``f(t)`` in the drift ``f(t) (x - c)`` (1 / time)."""
        raise NotImplementedError

    def diffusion(self, t: ArrayLike) -> FloatArray:
        """``g(t)``, the noise amplitude (length / sqrt(time))."""
        raise NotImplementedError

    # -- shared -----------------------------------------------------------------------
    @property
    def centre(self) -> float:
        """The point ``c`` the drift pulls towards (0 except for a shifted OU trap)."""
        return 0.0

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Exact kernel between times ``s <= t``: ``(A, B)`` with ``X_t | X_s ~ N(c + A (X_s - c), B^2)``.

        Uses ``A = alpha_t / alpha_s`` and ``B^2 = sigma_t^2 - A^2 sigma_s^2``; processes
        override it where that difference cancels badly.
        """
        s, t = _t(s), _t(t)
        a = self.alpha(t) / self.alpha(s)
        var = self.sigma(t) ** 2 - a**2 * self.sigma(s) ** 2
        return a, np.sqrt(np.maximum(var, 0.0))

    def marginal(self, x0: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Mean and standard deviation of ``X_t | X_0 = x0``.

        ``t`` broadcasts against the leading axes of ``x0`` (shape ``(..., d)``).
        """
        x0 = np.asarray(x0, dtype=np.float64)
        t = _t(t)
        a = self.alpha(t)[..., None] if t.ndim else self.alpha(t)
        s = self.sigma(t)[..., None] if t.ndim else self.sigma(t)
        c = self.centre
        return c + a * (x0 - c), np.broadcast_to(s, np.broadcast_shapes(np.shape(s), x0.shape))

    def conditional_score(self, x: ArrayLike, x0: ArrayLike, t: ArrayLike) -> FloatArray:
        """``grad_x log p(x_t = x | x_0)`` = ``-(x - mean) / sigma^2`` (1 / length)."""
        mean, std = self.marginal(x0, t)
        return -(np.asarray(x, dtype=np.float64) - mean) / std**2

    def stationary(self) -> tuple[float, float] | None:
        """Mean and per-axis standard deviation of the stationary Gaussian, or None."""
        return None

    def params(self) -> dict[str, Any]:
        """The parameters, as written to the ``[process]`` table of a config."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def check_end_time(self, t_end: float) -> None:
        """Raise ConfigError if ``t_end`` lies outside the schedule's domain."""
        if not (t_end > 0 and math.isfinite(t_end)):
            raise ConfigError(f"the end time must be a positive number, got {t_end}")
        if self.t_max is not None and t_end > self.t_max:
            raise ConfigError(f"process '{self.name}' is defined on t in [0, {self.t_max}], got t_end = {t_end}")


def _positive(name: str, process: str, value: float) -> None:
    positive_number(value, name, f"process '{process}'")


@dataclass(frozen=True)
class Brownian(LinearProcess):
    """Free Brownian motion, ``dX = sqrt(2 D) dW``: ``alpha = 1``, ``sigma^2 = 2 D t``.

    Parameters
    ----------
    D : float
        Diffusion coefficient (length^2 / time).
    """

    D: float = 1.0
    name: ClassVar[str] = "brownian"

    def __post_init__(self) -> None:
        _positive("D", self.name, self.D)

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.ones_like(_t(t))

    def sigma(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(2.0 * self.D * _t(t))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return np.zeros_like(_t(t))

    def diffusion(self, t: ArrayLike) -> FloatArray:
        return np.full_like(_t(t), math.sqrt(2.0 * self.D))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        s, t = _t(s), _t(t)
        return np.ones_like(t - s), np.sqrt(2.0 * self.D * (t - s))


@dataclass(frozen=True)
class OrnsteinUhlenbeck(LinearProcess):
    """Dust in a harmonic trap, ``dX = -k (X - c) dt + sqrt(2 D) dW``.

    ``alpha = exp(-k t)``, ``sigma^2 = (D / k) (1 - exp(-2 k t))``; stationary law
    ``N(c, D / k)``.

    Parameters
    ----------
    k : float
        Trap stiffness divided by the friction (1 / time).
    D : float
        Diffusion coefficient (length^2 / time).
    centre : float
        Trap centre on every axis (length).
    """

    k: float = 1.0
    D: float = 1.0
    centre: float = 0.0
    name: ClassVar[str] = "ou"
    has_stationary: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _positive("k", self.name, self.k)
        _positive("D", self.name, self.D)
        if not math.isfinite(self.centre):
            raise ConfigError(f"process 'ou': centre must be finite, got {self.centre}")

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.exp(-self.k * _t(t))

    def sigma(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(self.D / self.k * -np.expm1(-2.0 * self.k * _t(t)))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return np.full_like(_t(t), -self.k)

    def diffusion(self, t: ArrayLike) -> FloatArray:
        return np.full_like(_t(t), math.sqrt(2.0 * self.D))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        h = _t(t) - _t(s)
        return np.exp(-self.k * h), np.sqrt(self.D / self.k * -np.expm1(-2.0 * self.k * h))

    def stationary(self) -> tuple[float, float]:
        return self.centre, math.sqrt(self.D / self.k)


@dataclass(frozen=True)
class VarianceExploding(LinearProcess):
    """The VE SDE of Song et al. (2021): noise level ``s(t) = sigma_min (sigma_max / sigma_min)^t``.

    ``dX = sqrt(d s^2 / dt) dW`` started from ``X_0 = x0``, so ``alpha = 1`` and the
    kernel standard deviation is ``sigma(t) = sqrt(s(t)^2 - sigma_min^2)``, which equals
    the noise level ``s(t)`` to within ``sigma_min^2 / (2 s)``.

    Parameters
    ----------
    sigma_min, sigma_max : float
        Smallest and largest noise level (length). Choose ``sigma_max`` about the
        largest distance between data points (Song & Ermon 2020); ``None`` lets
        :func:`dustsim.simulate` set it from the initial artifact.
    """

    sigma_min: float = 0.01
    sigma_max: float | None = None
    name: ClassVar[str] = "ve"
    t_max: ClassVar[float | None] = None

    def __post_init__(self) -> None:
        _positive("sigma_min", self.name, self.sigma_min)
        if self.sigma_max is not None:
            _positive("sigma_max", self.name, self.sigma_max)
            if self.sigma_max <= self.sigma_min:
                raise ConfigError(
                    f"process 've': sigma_max ({self.sigma_max}) must exceed sigma_min ({self.sigma_min})"
                )

    def _require_max(self) -> float:
        if self.sigma_max is None:
            raise ConfigError("process 've': sigma_max is not set (resolve it from the data first)")
        return self.sigma_max

    def noise_level(self, t: ArrayLike) -> FloatArray:
        """The schedule ``s(t) = sigma_min (sigma_max / sigma_min)^t`` (length)."""
        return self.sigma_min * (self._require_max() / self.sigma_min) ** _t(t)

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.ones_like(_t(t))

    def sigma(self, t: ArrayLike) -> FloatArray:
        t = _t(t)
        log_ratio = math.log(self._require_max() / self.sigma_min)
        return self.sigma_min * np.sqrt(np.expm1(2.0 * log_ratio * t))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return np.zeros_like(_t(t))

    def diffusion(self, t: ArrayLike) -> FloatArray:
        log_ratio = math.log(self._require_max() / self.sigma_min)
        return self.noise_level(t) * math.sqrt(2.0 * log_ratio)

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        s, t = _t(s), _t(t)
        log_ratio = math.log(self._require_max() / self.sigma_min)
        # s(t)^2 - s(s)^2 = s(s)^2 expm1(2 log_ratio (t - s)), no cancellation
        var = self.noise_level(s) ** 2 * np.expm1(2.0 * log_ratio * (t - s))
        return np.ones_like(t), np.sqrt(var)


@dataclass(frozen=True)
class VariancePreserving(LinearProcess):
    """The VP SDE (DDPM in continuous time): ``dX = -beta/2 X dt + sqrt(beta) dW``.

    Linear ``beta(t) = beta_min + t (beta_max - beta_min)`` on ``t in [0, 1]``;
    ``alpha = exp(-B(t) / 2)`` with ``B(t) = int_0^t beta``, ``sigma^2 = 1 - alpha^2``;
    stationary law ``N(0, I)``.
    """

    beta_min: float = 0.1
    beta_max: float = 20.0
    name: ClassVar[str] = "vp"
    has_stationary: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _positive("beta_min", self.name, self.beta_min)
        _positive("beta_max", self.name, self.beta_max)

    def beta(self, t: ArrayLike) -> FloatArray:
        """Noise rate ``beta(t)`` (1 / time)."""
        return self.beta_min + _t(t) * (self.beta_max - self.beta_min)

    def integrated_beta(self, t: ArrayLike) -> FloatArray:
        """``B(t) = int_0^t beta`` (dimensionless)."""
        t = _t(t)
        return self.beta_min * t + 0.5 * (self.beta_max - self.beta_min) * t**2

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.exp(-0.5 * self.integrated_beta(t))

    def sigma(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(-np.expm1(-self.integrated_beta(t)))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return -0.5 * self.beta(t)

    def diffusion(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(self.beta(t))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        db = self.integrated_beta(t) - self.integrated_beta(s)
        return np.exp(-0.5 * db), np.sqrt(-np.expm1(-db))

    def stationary(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass(frozen=True)
class SubVariancePreserving(VariancePreserving):
    """The sub-VP SDE of Song et al. (2021): VP's ``alpha``, ``sigma = 1 - alpha^2``.

    ``dX = -beta/2 X dt + sqrt(beta (1 - exp(-2 B(t)))) dW``; its variance stays below
    VP's at every ``t`` and tends to 1.
    """

    name: ClassVar[str] = "sub-vp"

    def sigma(self, t: ArrayLike) -> FloatArray:
        return -np.expm1(-self.integrated_beta(t))

    def diffusion(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(self.beta(t) * -np.expm1(-2.0 * self.integrated_beta(t)))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        db = self.integrated_beta(t) - self.integrated_beta(s)
        # B^2 = (1 - A^2)(1 - alpha_t^2 alpha_s^2), both factors without cancellation
        var = -np.expm1(-db) * -np.expm1(-self.integrated_beta(t) - self.integrated_beta(s))
        return np.exp(-0.5 * db), np.sqrt(var)


@dataclass(frozen=True)
class CosineVP(LinearProcess):
    """VP process with the cosine schedule of Nichol & Dhariwal (2021).

    ``alpha_bar(t) = f(t) / f(0)``, ``f(t) = cos^2(phi(t))``,
    ``phi(t) = (t + s) / (1 + s) * pi / 2``; ``alpha = sqrt(alpha_bar)``,
    ``sigma^2 = 1 - alpha_bar``, ``beta(t) = pi tan(phi(t)) / (1 + s)`` (diverging at
    ``t = 1``, where ``alpha = 0``). Stationary law ``N(0, I)``.
    """

    s: float = 0.008
    name: ClassVar[str] = "vp-cosine"
    has_stationary: ClassVar[bool] = True
    t_max: ClassVar[float | None] = 1.0

    def __post_init__(self) -> None:
        _positive("s", self.name, self.s)

    def _phi(self, t: ArrayLike) -> FloatArray:
        return (_t(t) + self.s) / (1.0 + self.s) * (math.pi / 2.0)

    def beta(self, t: ArrayLike) -> FloatArray:
        """Noise rate ``beta(t) = -d log alpha_bar / dt`` (1 / time)."""
        return math.pi * np.tan(self._phi(t)) / (1.0 + self.s)

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.cos(self._phi(t)) / math.cos(self._phi(0.0))

    def sigma(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(np.maximum(1.0 - self.alpha(t) ** 2, 0.0))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return -0.5 * self.beta(t)

    def diffusion(self, t: ArrayLike) -> FloatArray:
        return np.sqrt(self.beta(t))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        ps, pt = self._phi(s), self._phi(t)
        a = np.cos(pt) / np.cos(ps)
        # 1 - A = (cos ps - cos pt) / cos ps = 2 sin((pt+ps)/2) sin((pt-ps)/2) / cos ps
        one_minus_a = 2.0 * np.sin(0.5 * (pt + ps)) * np.sin(0.5 * (pt - ps)) / np.cos(ps)
        return a, np.sqrt(np.maximum(one_minus_a * (1.0 + a), 0.0))

    def stationary(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass(frozen=True)
class FlowMatching(LinearProcess):
    """The linear interpolant of flow matching / rectified flow (conditional OT path).

    ``X_t = (1 - t) X_0 + t Z`` on ``t in [0, 1]``: ``alpha = 1 - t``, ``sigma = t``
    (Lipman et al. 2023; Liu et al. 2023). As an SDE with the same marginals,
    ``f(t) = -1 / (1 - t)`` and ``g(t)^2 = d sigma^2/dt - 2 f sigma^2 = 2 t / (1 - t)``,
    both diverging at ``t = 1``, where ``alpha = 0`` and the law is exactly ``N(0, I)``.
    The flow-matching velocity target ``u = Z - X_0`` is the PF-ODE drift
    ``f x - g^2 / 2 * score`` of this process, so diffusion and flow matching share the
    exact marginals, the samplers and the likelihood.
    """

    name: ClassVar[str] = "fm"
    has_stationary: ClassVar[bool] = True
    t_max: ClassVar[float | None] = 1.0

    def alpha(self, t: ArrayLike) -> FloatArray:
        return 1.0 - _t(t)

    def sigma(self, t: ArrayLike) -> FloatArray:
        return _t(t).copy()

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        with np.errstate(divide="ignore"):
            return -1.0 / (1.0 - _t(t))

    def diffusion(self, t: ArrayLike) -> FloatArray:
        t = _t(t)
        with np.errstate(divide="ignore"):
            return np.sqrt(2.0 * t / (1.0 - t))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        s, t = _t(s), _t(t)
        a = (1.0 - t) / (1.0 - s)
        # B^2 = t^2 - A^2 s^2 = (t - s) (t + s - 2 t s) / (1 - s)^2, no cancellation
        var = (t - s) * (t + s - 2.0 * t * s) / (1.0 - s) ** 2
        return a, np.sqrt(np.maximum(var, 0.0))

    def stationary(self) -> tuple[float, float]:
        return 0.0, 1.0


@dataclass(frozen=True)
class EDM(LinearProcess):
    """The noise levels of Karras et al. (2022, "EDM"), as a VE-type process on ``t in [0, 1]``.

    Noise level ``n(t) = (sigma_min^(1/rho) + t (sigma_max^(1/rho) - sigma_min^(1/rho)))^rho``:
    EDM's rho-interpolated step sequence (eq. 5 of the paper, ``rho = 7``), with ``t`` running
    from the smallest to the largest noise. ``dX = sqrt(d n^2 / dt) dW`` started from
    ``X_0 = x0``, so ``alpha = 1`` and ``sigma(t) = sqrt(n(t)^2 - sigma_min^2)``. Its prior is
    ``N(0, sigma_max^2 I)`` (no stationary law). Uniform steps in ``t`` reproduce EDM's
    sampling grid.

    Parameters
    ----------
    sigma_min, sigma_max : float
        Smallest and largest noise level (length); EDM's defaults 0.002 and 80 are meant for
        data of standard deviation about 0.5.
    rho : float
        Interpolation exponent (7 in EDM; 1 is a linear ramp of the noise level).
    """

    sigma_min: float = 0.002
    sigma_max: float = 80.0
    rho: float = 7.0
    name: ClassVar[str] = "edm"
    t_max: ClassVar[float | None] = 1.0

    def __post_init__(self) -> None:
        _positive("sigma_min", self.name, self.sigma_min)
        _positive("sigma_max", self.name, self.sigma_max)
        _positive("rho", self.name, self.rho)
        if self.sigma_max <= self.sigma_min:
            raise ConfigError(f"process 'edm': sigma_max ({self.sigma_max}) must exceed sigma_min ({self.sigma_min})")

    def _root(self, t: ArrayLike) -> FloatArray:
        lo, hi = self.sigma_min ** (1.0 / self.rho), self.sigma_max ** (1.0 / self.rho)
        return lo + _t(t) * (hi - lo)

    def noise_level(self, t: ArrayLike) -> FloatArray:
        """EDM's noise level ``n(t)`` (length)."""
        return self._root(t) ** self.rho

    def alpha(self, t: ArrayLike) -> FloatArray:
        return np.ones_like(_t(t))

    def sigma(self, t: ArrayLike) -> FloatArray:
        return self.transition(0.0, t)[1]

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        return np.zeros_like(_t(t))

    def diffusion(self, t: ArrayLike) -> FloatArray:
        # d n^2/dt = 2 n dn/dt = 2 rho r^(2 rho - 1) (hi - lo), r = n^(1/rho)
        lo, hi = self.sigma_min ** (1.0 / self.rho), self.sigma_max ** (1.0 / self.rho)
        r = self._root(t)
        return np.sqrt(2.0 * self.rho * (hi - lo) * r ** (2.0 * self.rho - 1.0))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        s, t = _t(s), _t(t)
        ns, nt = self.noise_level(s), self.noise_level(t)
        # n_t - n_s = r_s^rho expm1(rho log(r_t / r_s)): no cancellation for close times
        diff = ns * np.expm1(self.rho * np.log(self._root(t) / self._root(s)))
        return np.ones_like(t + s), np.sqrt(np.maximum(diff * (nt + ns), 0.0))


def _as_warp(process: str, warp: Any) -> tuple[float, ...] | None:
    """Validate a time warp: values ``u(t_j)`` at ``t_j = j / (m - 1)``, from 0 rising to 1."""
    if warp is None:
        return None
    if isinstance(warp, str):  # "0,0.3,1" from the command line
        warp = [w for w in warp.replace(" ", "").split(",") if w]
    try:
        values = tuple(float(v) for v in warp)
    except (TypeError, ValueError):
        raise ConfigError(f"process {process!r}: warp must be a list of numbers, got {warp!r}") from None
    arr = np.asarray(values)
    if len(arr) < 2 or arr[0] != 0.0 or arr[-1] != 1.0 or not np.all(np.diff(arr) > 0):
        raise ConfigError(
            f"process {process!r}: warp must rise strictly from 0 to 1 (values of u at equally spaced t), "
            f"got {list(values)}"
        )
    return values


@dataclass(frozen=True)
class OptimalTransport(LinearProcess):
    """The Wasserstein-2 geodesic from ``N(m, s^2 I)`` data to ``N(0, I)``, optionally re-timed.

    For isotropic Gaussian data of standard deviation ``s`` the optimal-transport map to
    ``N(0, I)`` is ``T(x) = (x - m) / s``, and the displacement interpolation
    ``X_u = (1 - u) X_0 + u T(X_0)`` has the marginals of the linear process
    ``alpha = 1 - u``, ``sigma^2 = u^2 + 2 s u (1 - u)``: the path of least entropy
    production (kinetic action ``int E|v|^2 dt = W2^2``, at constant speed) between the data
    and the prior. ``s = 0`` is flow matching's conditional-OT path (point-mass data); ``s = 1``
    leaves ``N(0, I)`` invariant. The SDE with these marginals has ``f = -u' / (1 - u)`` and
    ``g^2 = u' (2 s + 2 u / (1 - u))``, diverging at ``u = 1`` like flow matching's.

    For other data, :func:`dustsim.schedule_theory.thermodynamics.optimal_schedule` fits ``s`` and a time warp
    ``u(t)`` that spreads the entropy production evenly over ``t``.

    Parameters
    ----------
    s : float
        Data standard deviation per axis that the geodesic is built for (length; >= 0).
    warp : list of float, optional
        ``u`` at equally spaced ``t`` from 0 to 1 (strictly increasing, 0 to 1), joined by a
        monotone cubic (PCHIP). None: ``u = t``.
    """

    s: float = 1.0
    warp: tuple[float, ...] | None = None
    name: ClassVar[str] = "ot"
    #: parameters that take a list of numbers
    sequence_params: ClassVar[tuple[str, ...]] = ("warp",)
    has_stationary: ClassVar[bool] = True
    t_max: ClassVar[float | None] = 1.0

    def __post_init__(self) -> None:
        if not (isinstance(self.s, (int, float)) and math.isfinite(self.s) and self.s >= 0):
            raise ConfigError(f"process 'ot': s must be a non-negative number, got {self.s!r}")
        object.__setattr__(self, "warp", _as_warp(self.name, self.warp))

    @cached_property
    def _interp(self) -> Any:
        from scipy.interpolate import PchipInterpolator

        assert self.warp is not None
        return PchipInterpolator(np.linspace(0.0, 1.0, len(self.warp)), np.asarray(self.warp))

    def time_warp(self, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """``(u(t), du/dt)``: the geodesic parameter at time ``t`` and its rate (1 / time)."""
        t = _t(t)
        if self.warp is None:
            return t.copy(), np.ones_like(t)
        tc = np.clip(t, 0.0, 1.0)
        return np.clip(self._interp(tc), 0.0, 1.0), np.maximum(self._interp(tc, 1), 0.0)

    def alpha(self, t: ArrayLike) -> FloatArray:
        return 1.0 - self.time_warp(t)[0]

    def sigma(self, t: ArrayLike) -> FloatArray:
        u = self.time_warp(t)[0]
        return np.sqrt(u * (2.0 * self.s + u * (1.0 - 2.0 * self.s)))

    def drift_coefficient(self, t: ArrayLike) -> FloatArray:
        u, du = self.time_warp(t)
        with np.errstate(divide="ignore"):
            return -du / (1.0 - u)

    def diffusion(self, t: ArrayLike) -> FloatArray:
        u, du = self.time_warp(t)
        with np.errstate(divide="ignore"):
            return np.sqrt(du * (2.0 * self.s + 2.0 * u / (1.0 - u)))

    def transition(self, s: ArrayLike, t: ArrayLike) -> tuple[FloatArray, FloatArray]:
        us, ut = self.time_warp(s)[0], self.time_warp(t)[0]
        a = (1.0 - ut) / (1.0 - us)
        # sigma^2 / alpha^2 = w^2 + 2 s w with w = u / (1 - u), so
        # B^2 = alpha_t^2 (w_t - w_s)(w_t + w_s + 2 s), w_t - w_s = (u_t - u_s) / ((1 - u_t)(1 - u_s))
        with np.errstate(divide="ignore", invalid="ignore"):
            ws, wt = us / (1.0 - us), ut / (1.0 - ut)
            var = (1.0 - ut) ** 2 * (ut - us) / ((1.0 - ut) * (1.0 - us)) * (wt + ws + 2.0 * self.s)
        var = np.where(ut >= 1.0, self.sigma(t) ** 2, var)
        return a, np.sqrt(np.maximum(var, 0.0))

    def stationary(self) -> tuple[float, float]:
        return 0.0, 1.0

    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"s": self.s}
        if self.warp is not None:
            out["warp"] = list(self.warp)
        return out


PROCESSES: dict[str, type[LinearProcess]] = {
    cls.name: cls
    for cls in (
        Brownian,
        OrnsteinUhlenbeck,
        VarianceExploding,
        VariancePreserving,
        SubVariancePreserving,
        CosineVP,
        FlowMatching,
        EDM,
        OptimalTransport,
    )
}


def make_process(name: str, /, **params: Any) -> LinearProcess:
    """Build a process from its registry name and parameters.

    Parameters
    ----------
    name : str
        One of ``brownian``, ``ou``, ``ve``, ``vp``, ``sub-vp``, ``vp-cosine``, ``fm``, ``edm``,
        ``ot``.
    **params
        The process parameters (see each class).

    Raises
    ------
    ConfigError
        Unknown process, unknown parameter, or an invalid value.
    """
    try:
        cls = PROCESSES[name]
    except KeyError:
        raise ConfigError(f"unknown process {name!r}; choose one of: {', '.join(PROCESSES)}") from None
    known = {f.name for f in dataclasses.fields(cls) if f.init}  # not the class-level name, t_max, ...
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(
            f"process {name!r} has no parameter {unknown[0]!r}; "
            f"its parameters are: {', '.join(sorted(known)) or 'none'}"
        )
    sequences = getattr(cls, "sequence_params", ())
    for key, value in params.items():
        if key in sequences and isinstance(value, (list, tuple, str)):
            continue
        if value is not None and not is_number(value):
            raise ConfigError(f"process {name!r}: {key} must be a number, got {value!r}")
    return cls(**{k: (v if k in sequences else float(v) if v is not None else None) for k, v in params.items()})


__all__ = [
    "EDM",
    "PROCESSES",
    "Brownian",
    "CosineVP",
    "FlowMatching",
    "LinearProcess",
    "OptimalTransport",
    "OrnsteinUhlenbeck",
    "SubVariancePreserving",
    "VarianceExploding",
    "VariancePreserving",
    "make_process",
]
