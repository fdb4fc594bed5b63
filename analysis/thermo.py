"""Thermodynamic checks along a trajectory, each returned as an ``xr.Dataset``.

Every check compares a measured quantity (from :func:`~analysis.trajectory.entropy_trajectory`) with
what the physics of the recorded linear process predicts, and states whether it holds
within ``z`` standard errors (attribute ``holds``, 1 or 0, and per-time flags). Frames are
put in increasing diffusion time first, so reverse trajectories are handled the same way.

Notation: the process is ``dX = f(t) (X - c) dt + g(t) dW`` in d dimensions, ``p_t`` the
law of ``X_t``, ``s(x, t) = grad log p_t(x)`` its score, ``J(t) = E|s|^2`` its Fisher
information.

- :func:`h_theorem`: relative entropy to the stationary law is non-increasing (OU, VP,
  cosine VP: their stationary Gaussian is invariant at every time).
- :func:`de_bruijn`: ``dH/dt = d f(t) + g(t)^2 J(t) / 2`` with J from a score.
- :func:`entropy_production`: ``Pi = (2/g^2) E|f (x - c) - g^2 s / 2|^2 >= 0``, the
  system's entropy change ``dH/dt`` and the heat flow ``Pi - dH/dt`` to the medium.
- :func:`kl_decay`: ``dKL/dt = -(g^2/2) E|s - grad log q|^2`` (= ``-Pi`` for these
  gradient drifts; ``-beta/2 E|s + x|^2`` for VP) and Bakry-Émery
  ``KL_t <= alpha_{t|t0}^2 KL_{t0}``.
- :func:`entropy_power`: ``N(X_t) >= alpha^2 N(X_0) + sigma^2`` (entropy power inequality;
  the textbook case is VE/Brownian, alpha = 1).
- :func:`sohl_dickstein_bounds`: bounds on ``H(X_s | X_t)`` between frames s < t
  (Sohl-Dickstein et al. 2015, eq. 24).
- :func:`mixture_entropy_bounds`: ``sum_k w_k H_k <= H <= sum_k w_k H_k + H(w)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dustsim.errors import ConfigError
from dustsim.processes import LinearProcess
from dustsim.schema import trajectory_process

from .gmm import GaussianMixture
from .trajectory import INVARIANT_LAW, PROVENANCE, read_frame, subsample_particles

#: default number of standard errors of a check (as the test suite's Z)
Z = 4.5
Score = Callable[[NDArray[np.float64], float], NDArray[np.float64]]


# ---------------------------------------------------------------------------- helpers
def _attrs(source: xr.Dataset, title: str, z: float, **extra: Any) -> dict[str, Any]:
    attrs = {a: source.attrs[a] for a in PROVENANCE if a in source.attrs}
    attrs.update({"title": title, "z": z, **extra})
    return attrs


def _process(ds: xr.Dataset, process: LinearProcess | None) -> LinearProcess:
    p = process if process is not None else trajectory_process(ds)
    if p is None:
        raise ConfigError("this check needs the linear process of the trajectory (none is recorded; pass process=)")
    return p


def _ascending(ds: xr.Dataset) -> xr.Dataset:
    if "realization" in ds.dims:
        raise ConfigError("the checks work on one realization: select it first, e.g. ds.isel(realization=0)")
    return ds.sortby("time")


def _series(entropy: xr.Dataset, estimator: str) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Entropy and its SE in increasing time; ``estimator="exact"`` takes ``exact_entropy``."""
    if estimator == "exact":
        if "exact_entropy" not in entropy:
            raise ConfigError("the entropy dataset has no exact_entropy (not a Gaussian-mixture artifact)")
        return entropy["exact_entropy"].values.astype(float), entropy["exact_entropy_se"].values.astype(float)
    if estimator not in entropy["estimator"].values:
        raise ConfigError(f"the entropy dataset has no estimator {estimator!r}")
    return (
        entropy["entropy"].sel(estimator=estimator).values.astype(float),
        entropy["entropy_se"].sel(estimator=estimator).values.astype(float),
    )


def _to_nats(entropy: xr.Dataset) -> float:
    return math.log(2.0) if entropy.attrs.get("units") == "bits" else 1.0


def finite_difference(
    t: NDArray[np.float64], y: NDArray[np.float64], se: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Slope dy/dt by central differences (one-sided at the ends) and its standard error.

    The SE treats the errors of the frames as independent, which overstates it when the
    frames share particles (their errors are positively correlated).
    """
    n = len(t)
    if n < 2:
        raise ConfigError("a slope needs at least two frames")
    lo = np.clip(np.arange(n) - 1, 0, n - 1)
    hi = np.clip(np.arange(n) + 1, 0, n - 1)
    dt = t[hi] - t[lo]
    slope = (y[hi] - y[lo]) / dt
    slope_se = np.sqrt(se[hi] ** 2 + se[lo] ** 2) / dt
    return slope, slope_se


def score_expectations(
    ds: xr.Dataset,
    score: Score,
    *,
    process: LinearProcess | None = None,
    max_particles: int | None = 20_000,
    seed: int = 0,
) -> xr.Dataset:
    """Expectations over the particles of each frame that involve the score ``s(x, t)``.

    Parameters
    ----------
    ds : xr.Dataset
        A trajectory (no ``realization`` dimension).
    score : callable
        ``score(x, t) -> array (n, d)``: ``grad log p_t`` at positions ``x`` (shape (n, d),
        length units) and time ``t`` (1 / length). Analytic (e.g.
        :meth:`dustsim.mixture.GaussianMixture.score_function`) or learned.
    process : LinearProcess, optional
        Default: the one recorded in ``ds``.
    max_particles : int or None
        Random subsample of particles (the same in every frame).
    seed : int

    Returns
    -------
    xr.Dataset
        Over time (increasing): ``fisher_information`` J (1 / length^2),
        ``drift_divergence`` d f(t), ``dHdt_score`` = d f + g^2 J / 2,
        ``entropy_production_rate`` Pi and, where the stationary law is invariant,
        ``dKLdt_score``; each with ``_se`` (nats per unit time).
    """
    p = _process(ds, process)
    ds = _ascending(ds)
    position = ds["position"]
    times = ds["time"].values.astype(float)
    d = position.sizes["spatial"]
    idx = subsample_particles(position.sizes["particle"], max_particles, np.random.default_rng(seed))
    stationary = p.stationary() if p.name in INVARIANT_LAW else None
    names = ("fisher_information", "dHdt_score", "entropy_production_rate", "dKLdt_score")
    vals = {nm: np.full(len(times), np.nan) for nm in names}
    ses = {nm: np.full(len(times), np.nan) for nm in names}
    f = np.asarray(p.drift_coefficient(times), dtype=float)
    g2 = np.asarray(p.diffusion(times), dtype=float) ** 2
    c = p.centre

    def put(name: str, i: int, terms: NDArray[np.float64]) -> None:
        vals[name][i] = float(np.mean(terms))
        ses[name][i] = float(np.std(terms, ddof=1)) / math.sqrt(len(terms))

    for i, t in enumerate(times):
        x = read_frame(position, i, idx).astype(np.float64)
        s = np.asarray(score(x, float(t)), dtype=np.float64)
        if s.shape != x.shape:
            raise ConfigError(f"score(x, t) must return an array of shape {x.shape}, got {s.shape}")
        sq = np.einsum("ij,ij->i", s, s)
        put("fisher_information", i, sq)
        put("dHdt_score", i, d * f[i] + 0.5 * g2[i] * sq)
        if g2[i] > 0:
            v = f[i] * (x - c) - 0.5 * g2[i] * s
            put("entropy_production_rate", i, (2.0 / g2[i]) * np.einsum("ij,ij->i", v, v))
        if stationary is not None:
            w = s + (x - stationary[0]) / stationary[1] ** 2
            put("dKLdt_score", i, -0.5 * g2[i] * np.einsum("ij,ij->i", w, w))
    out = xr.Dataset(coords={"time": ("time", times, {"units": "1"})})
    units = {"fisher_information": "1/length^2"}
    for nm in names:
        if nm == "dKLdt_score" and stationary is None:
            continue
        out[nm] = ("time", vals[nm], {"units": units.get(nm, "nats per unit time")})
        out[nm + "_se"] = ("time", ses[nm], {"units": units.get(nm, "nats per unit time")})
    out["drift_divergence"] = ("time", d * f, {"units": "1/time", "long_name": "E[div drift] = d f(t)"})
    return out


def _merge_time(a: xr.Dataset, b: xr.Dataset) -> xr.Dataset:
    """Align an entropy dataset (b) onto a's times (both from the same trajectory)."""
    b = _ascending(b)
    if len(b["time"]) != len(a["time"]) or not np.allclose(b["time"].values, a["time"].values):
        raise ConfigError("the entropy dataset and the trajectory have different frames")
    return b


def trapezoid(
    t: NDArray[np.float64], rate: NDArray[np.float64], rate_se: NDArray[np.float64]
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Integral of ``rate`` over each interval of ``t`` by the trapezoid rule.

    Returns the integrals, their standard errors and an estimate of the quadrature error,
    ``dt^3 |rate''| / 12`` with the second derivative from finite differences (frames must
    be fine enough for it to be small; a coarse grid shows up here, not as a false
    agreement).
    """
    dt = np.diff(t)
    integ = 0.5 * dt * (rate[1:] + rate[:-1])
    integ_se = 0.5 * dt * np.sqrt(rate_se[1:] ** 2 + rate_se[:-1] ** 2)
    if len(t) >= 3:
        curv = np.abs(np.gradient(np.gradient(rate, t), t))
        quad = dt**3 / 12.0 * 0.5 * (curv[1:] + curv[:-1])
    else:
        quad = np.zeros_like(dt)
    return integ, integ_se, quad


def _intervals(t: NDArray[np.float64]) -> dict[str, Any]:
    return {"t_start": ("interval", t[:-1], {"units": "1"}), "t_end": ("interval", t[1:], {"units": "1"})}


# ------------------------------------------------------------------------- checks
def h_theorem(entropy: xr.Dataset, *, z: float = Z) -> xr.Dataset:
    """Second law: relative entropy to the stationary law never increases under the forward process.

    Parameters
    ----------
    entropy : xr.Dataset
        From :func:`~analysis.trajectory.entropy_trajectory` (needs ``kl_to_equilibrium``).
    z : float
        An increase counts as a violation when it exceeds ``z`` standard errors.

    Returns
    -------
    xr.Dataset
        Over ``interval`` (successive frames in increasing time): ``kl_increment`` and its
        ``_se``, ``violation`` (bool), ``entropy_increment`` (first estimator) and its
        ``_se``; attrs ``holds`` (no violation), ``guaranteed`` (a forward run whose
        stationary law is invariant at every time: OU, VP, cosine VP, Brownian dust in a
        box) and ``entropy_monotone`` (the entropy itself moved one way within z SE; often
        not: VP from a wide artifact rises then falls).
    """
    if "kl_to_equilibrium" not in entropy:
        raise ConfigError("the entropy dataset has no kl_to_equilibrium (the process has no stationary law)")
    e = _ascending(entropy)
    t = e["time"].values.astype(float)
    kl, kl_se = e["kl_to_equilibrium"].values, e["kl_to_equilibrium_se"].values
    inc = np.diff(kl)
    inc_se = np.sqrt(kl_se[1:] ** 2 + kl_se[:-1] ** 2)
    finite = np.isfinite(inc)
    violation = finite & (inc > z * inc_se)
    h = e["entropy"].isel(estimator=0).values
    h_se = e["entropy_se"].isel(estimator=0).values
    dh, dh_se = np.diff(h), np.sqrt(h_se[1:] ** 2 + h_se[:-1] ** 2)
    ok = np.isfinite(dh)
    monotone = bool(np.all(dh[ok] >= -z * dh_se[ok]) or np.all(dh[ok] <= z * dh_se[ok]))
    invariant = entropy["kl_to_equilibrium"].attrs.get("invariant_law")
    if invariant is None:  # written before the attribute existed
        invariant = entropy.attrs.get("process") in INVARIANT_LAW
    guaranteed = bool(invariant) and entropy.attrs.get("direction") == "forward"
    out = xr.Dataset(
        {
            "kl_increment": (
                "interval",
                inc,
                {"units": e.attrs.get("units", "nats"), "long_name": "KL(t_end) - KL(t_start)"},
            ),
            "kl_increment_se": ("interval", inc_se, {"units": e.attrs.get("units", "nats")}),
            "violation": ("interval", violation, {"long_name": f"KL increased by more than {z} SE"}),
            "entropy_increment": ("interval", dh, {"units": e.attrs.get("units", "nats")}),
            "entropy_increment_se": ("interval", dh_se, {"units": e.attrs.get("units", "nats")}),
            "kl_to_equilibrium": ("time", kl, e["kl_to_equilibrium"].attrs),
        },
        coords={"time": ("time", t), **_intervals(t)},
    )
    out.attrs = _attrs(
        entropy,
        "H-theorem check",
        z,
        holds=int(not violation.any()),
        guaranteed=int(guaranteed),
        entropy_monotone=int(monotone),
    )
    return out


def de_bruijn(
    ds: xr.Dataset,
    score: Score,
    *,
    entropy: xr.Dataset | None = None,
    estimator: str = "knn",
    process: LinearProcess | None = None,
    max_particles: int | None = 20_000,
    seed: int = 0,
    z: float = Z,
    expectations: xr.Dataset | None = None,
) -> xr.Dataset:
    """de Bruijn's identity ``dH/dt = E[div f] + g^2 J / 2`` against the measured entropy.

    Parameters
    ----------
    ds : xr.Dataset
        The trajectory (the score is evaluated on its particles).
    score : callable
        ``score(x, t) -> (n, d)`` (see :func:`score_expectations`).
    entropy : xr.Dataset, optional
        Its entropy trajectory (default: computed with ``estimator``).
    estimator : str
        Which entropy to differentiate: an estimator of ``entropy`` or ``"exact"``.
    process, max_particles, seed
        As in :func:`score_expectations`.
    z : float
    expectations : xr.Dataset, optional
        The output of :func:`score_expectations` for this trajectory, to reuse (the score
        is then not evaluated again).

    Returns
    -------
    xr.Dataset
        Over time: ``dHdt_score`` (+ ``_se``), ``dHdt_measured`` (central finite
        differences, + ``_se``), ``fisher_information``; over ``interval``:
        ``entropy_change_measured`` and ``entropy_change_score`` (trapezoid rule of
        ``dHdt_score``, see :func:`trapezoid`) with SEs, the quadrature error estimate and
        ``agree`` (within z SE plus the quadrature error); attr ``holds``. Rates in nats
        per unit time. Frames must resolve the rate: near t = 0 from a sharp artifact it
        changes fast, and coarse frames fail the check there.
    """
    from .trajectory import entropy_trajectory

    if entropy is None:
        entropy = entropy_trajectory(
            ds,
            estimators=("knn",) if estimator in ("knn", "exact") else (estimator,),
            kl=False,
            mutual_information=False,
            exact=estimator == "exact",
            seed=seed,
        )
    se_ds = (
        expectations
        if expectations is not None
        else score_expectations(ds, score, process=process, max_particles=max_particles, seed=seed)
    )
    e = _merge_time(se_ds, entropy)
    t = se_ds["time"].values
    h, h_se = _series(e, estimator)
    scale = _to_nats(entropy)
    h, h_se = h * scale, h_se * scale
    slope, slope_se = finite_difference(t, h, h_se)
    pred, pred_se = se_ds["dHdt_score"].values, se_ds["dHdt_score_se"].values
    change = np.diff(h)
    change_se = np.sqrt(h_se[1:] ** 2 + h_se[:-1] ** 2)
    integ, integ_se, quad = trapezoid(t, pred, pred_se)
    dev = np.abs(change - integ)
    tol = z * np.sqrt(change_se**2 + integ_se**2) + quad
    agree = np.where(np.isfinite(dev), dev <= tol, True)
    rate = {"units": "nats per unit time"}
    out = xr.Dataset(
        {
            "dHdt_score": ("time", pred, {**rate, "long_name": "d f(t) + g(t)^2 J(t) / 2 (de Bruijn, with the score)"}),
            "dHdt_score_se": ("time", pred_se, rate),
            "dHdt_measured": (
                "time",
                slope,
                {**rate, "long_name": f"finite-difference slope of the {estimator} entropy"},
            ),
            "dHdt_measured_se": ("time", slope_se, rate),
            "fisher_information": se_ds["fisher_information"],
            "entropy_change_measured": ("interval", change, {"units": "nats"}),
            "entropy_change_measured_se": ("interval", change_se, {"units": "nats"}),
            "entropy_change_score": (
                "interval",
                integ,
                {"units": "nats", "long_name": "trapezoid integral of dHdt_score"},
            ),
            "entropy_change_score_se": ("interval", integ_se, {"units": "nats"}),
            "entropy_change_score_quadrature_error": ("interval", quad, {"units": "nats"}),
            "agree": ("interval", agree, {"long_name": f"changes agree within {z} SE + quadrature error"}),
        },
        coords={"time": ("time", t), **_intervals(t)},
    )
    out.attrs = _attrs(entropy, "de Bruijn identity check", z, estimator=estimator, holds=int(agree.all()))
    return out


def entropy_production(
    ds: xr.Dataset,
    score: Score,
    *,
    entropy: xr.Dataset | None = None,
    estimator: str = "knn",
    process: LinearProcess | None = None,
    max_particles: int | None = 20_000,
    seed: int = 0,
) -> xr.Dataset:
    """Entropy production rate and its split into system entropy change and heat flow.

    ``Pi(t) = (2/g^2) E|f(t)(x - c) - g^2 s / 2|^2 >= 0`` (the mean squared probability
    current velocity over the diffusion constant); ``dH/dt`` of the system (de Bruijn with
    the score, and measured) and the entropy flow into the medium ``Pi - dH/dt``.

    Returns
    -------
    xr.Dataset
        Over time: ``entropy_production_rate`` (+ ``_se``), ``dHdt_score``,
        ``dHdt_measured`` (+ ``_se``) and ``heat_flow`` = Pi - dHdt_score; nats per unit
        time. Attribute ``holds``: Pi >= 0 at every frame (by construction for any
        score; a sanity check of the inputs).
    """
    se_ds = score_expectations(ds, score, process=process, max_particles=max_particles, seed=seed)
    db = de_bruijn(
        ds,
        score,
        entropy=entropy,
        estimator=estimator,
        process=process,
        max_particles=max_particles,
        seed=seed,
        expectations=se_ds,
    )
    pi = se_ds["entropy_production_rate"]
    rate = {"units": "nats per unit time"}
    out = xr.Dataset(
        {
            "entropy_production_rate": pi,
            "entropy_production_rate_se": se_ds["entropy_production_rate_se"],
            "dHdt_score": db["dHdt_score"],
            "dHdt_measured": db["dHdt_measured"],
            "dHdt_measured_se": db["dHdt_measured_se"],
            "heat_flow": (
                "time",
                pi.values - db["dHdt_score"].values,
                {**rate, "long_name": "entropy flow into the medium, Pi - dH/dt"},
            ),
        }
    )
    ok = pi.values[np.isfinite(pi.values)]
    out.attrs = _attrs(db, "entropy production", db.attrs["z"], holds=int(bool(np.all(ok >= 0))))
    return out


def kl_decay(
    entropy: xr.Dataset,
    ds: xr.Dataset | None = None,
    score: Score | None = None,
    *,
    process: LinearProcess | None = None,
    max_particles: int | None = 20_000,
    seed: int = 0,
    z: float = Z,
) -> xr.Dataset:
    """KL decay identity and the Bakry-Émery bound for OU / VP / cosine VP.

    ``dKL/dt = -(g^2/2) E|s - grad log q|^2`` (VP: ``-beta/2 E|s + x|^2``) needs the
    trajectory ``ds`` and a ``score``; the bound ``KL_t <= (alpha_t/alpha_{t0})^2 KL_{t0}``
    (log-Sobolev inequality of the stationary Gaussian) needs only the entropy dataset.

    Returns
    -------
    xr.Dataset
        Over time: ``kl_to_equilibrium`` (+ ``_se``), ``bakry_emery_bound``,
        ``bakry_emery_holds``; with a score also ``dKLdt_score`` and ``dKLdt_measured``
        (+ ``_se``) and, over ``interval``, ``kl_change_measured`` /
        ``kl_change_score`` / ``agree``. Attrs ``holds`` (every flag true) and
        ``guaranteed``.
    """
    if "kl_to_equilibrium" not in entropy:
        raise ConfigError("the entropy dataset has no kl_to_equilibrium (the process has no stationary law)")
    p = _process(entropy, process)
    e = _ascending(entropy)
    t = e["time"].values.astype(float)
    scale = _to_nats(entropy)
    kl = e["kl_to_equilibrium"].values * scale
    kl_se = e["kl_to_equilibrium_se"].values * scale
    ratio = (np.asarray(p.alpha(t)) / float(p.alpha(t[0]))) ** 2
    bound = ratio * kl[0]
    bound_se = ratio * kl_se[0]
    with np.errstate(invalid="ignore"):
        be_ok = np.where(np.isfinite(bound), kl <= bound + z * np.sqrt(kl_se**2 + bound_se**2), True)
    out = xr.Dataset(
        {
            "kl_to_equilibrium": ("time", kl, {"units": "nats"}),
            "kl_to_equilibrium_se": ("time", kl_se, {"units": "nats"}),
            "bakry_emery_bound": ("time", bound, {"units": "nats", "long_name": "(alpha_t / alpha_t0)^2 KL_t0"}),
            "bakry_emery_holds": ("time", be_ok),
        },
        coords={"time": ("time", t)},
    )
    holds = bool(be_ok.all())
    if score is not None:
        if ds is None:
            raise ConfigError("the KL decay identity needs the trajectory (ds) to evaluate the score on")
        se_ds = score_expectations(ds, score, process=p, max_particles=max_particles, seed=seed)
        if "dKLdt_score" not in se_ds:
            raise ConfigError(f"process {p.name!r} has no invariant stationary law: no KL decay identity")
        pred, pred_se = se_ds["dKLdt_score"].values, se_ds["dKLdt_score_se"].values
        slope, slope_se = finite_difference(t, kl, kl_se)
        change, change_se = np.diff(kl), np.sqrt(kl_se[1:] ** 2 + kl_se[:-1] ** 2)
        integ, integ_se, quad = trapezoid(t, pred, pred_se)
        dev = np.abs(change - integ)
        agree = np.where(np.isfinite(dev), dev <= z * np.sqrt(change_se**2 + integ_se**2) + quad, True)
        rate = {"units": "nats per unit time"}
        out["dKLdt_score"] = ("time", pred, {**rate, "long_name": "-(g^2/2) E|s - grad log q|^2"})
        out["dKLdt_score_se"] = ("time", pred_se, rate)
        out["dKLdt_measured"] = ("time", slope, rate)
        out["dKLdt_measured_se"] = ("time", slope_se, rate)
        out = out.assign_coords(_intervals(t))
        out["kl_change_measured"] = ("interval", change, {"units": "nats"})
        out["kl_change_measured_se"] = ("interval", change_se, {"units": "nats"})
        out["kl_change_score"] = ("interval", integ, {"units": "nats"})
        out["kl_change_score_se"] = ("interval", integ_se, {"units": "nats"})
        out["kl_change_score_quadrature_error"] = ("interval", quad, {"units": "nats"})
        out["agree"] = ("interval", agree)
        holds = holds and bool(agree.all())
    guaranteed = p.name in INVARIANT_LAW and entropy.attrs.get("direction") == "forward"
    out.attrs = _attrs(entropy, "KL decay and Bakry-Emery check", z, holds=int(holds), guaranteed=int(guaranteed))
    return out


def entropy_power(
    entropy: xr.Dataset, *, estimator: str = "knn", process: LinearProcess | None = None, z: float = Z
) -> xr.Dataset:
    """Entropy power inequality ``N(X_t) >= alpha_{t|t0}^2 N(X_t0) + sigma_{t|t0}^2`` along a forward run.

    ``N(X) = exp(2 H / d) / (2 pi e)`` (length^2). ``X_t = c + A (X_t0 - c) + B Z`` with Z
    independent of X_t0 (any forward linear process; VE/Brownian: A = 1). Equality holds
    only for Gaussian X_t0.

    Returns
    -------
    xr.Dataset
        Over time: ``entropy_power`` (+ ``_se``), ``epi_bound``, ``epi_holds``; attr
        ``holds``.
    """
    p = _process(entropy, process)
    e = _ascending(entropy)
    t = e["time"].values.astype(float)
    d = int(entropy.attrs.get("dim", 0)) or None
    if d is None:
        raise ConfigError("the entropy dataset does not record its dimension (attribute 'dim')")
    h, h_se = _series(e, estimator)
    scale = _to_nats(entropy)
    h, h_se = h * scale, h_se * scale
    with np.errstate(over="ignore", invalid="ignore"):
        n_pow = np.exp(2.0 * h / d) / (2.0 * math.pi * math.e)
        n_se = n_pow * 2.0 / d * h_se
        a, b = p.transition(np.full_like(t, t[0]), t)
        bound = np.asarray(a) ** 2 * n_pow[0] + np.asarray(b) ** 2
        bound_se = np.asarray(a) ** 2 * np.nan_to_num(n_se[0])
        ok = np.where(np.isfinite(n_pow), n_pow + z * np.sqrt(np.nan_to_num(n_se) ** 2 + bound_se**2) >= bound, True)
    out = xr.Dataset(
        {
            "entropy_power": ("time", n_pow, {"units": "length^2", "long_name": "exp(2H/d) / (2 pi e)"}),
            "entropy_power_se": ("time", n_se, {"units": "length^2"}),
            "epi_bound": ("time", bound, {"units": "length^2", "long_name": "A^2 N(X_t0) + B^2"}),
            "epi_holds": ("time", ok),
        },
        coords={"time": ("time", t)},
    )
    out.attrs = _attrs(entropy, "entropy power inequality check", z, estimator=estimator, holds=int(ok.all()))
    return out


def sohl_dickstein_bounds(
    entropy: xr.Dataset, *, estimator: str = "knn", process: LinearProcess | None = None, z: float = Z
) -> xr.Dataset:
    """Bounds on the reverse-step conditional entropy ``H(X_s | X_t)`` for successive frames s < t.

    Sohl-Dickstein et al. (2015), eq. 24, with the exact Gaussian kernels of the process:

    ``H(X_t|X_s) + H(X_s|X_0) - H(X_t|X_0) <= H(X_s|X_t) <= H(X_t|X_s)``

    where ``H(X_t|X_s) = (d/2) log(2 pi e sigma_{t|s}^2)``. The measured value is
    ``H(X_s|X_t) = H(X_t|X_s) + H(X_s) - H(X_t)``. The lower bound is the data-processing
    inequality and always holds; the upper one holds where the entropy grows (H(X_t) >=
    H(X_s)), not e.g. where VP contracts a wide artifact.

    Returns
    -------
    xr.Dataset
        Over ``interval``: ``lower``, ``upper``, ``conditional_entropy`` (+ ``_se``),
        ``lower_holds``, ``upper_holds``, ``upper_guaranteed``; nats.
    """
    p = _process(entropy, process)
    e = _ascending(entropy)
    t = e["time"].values.astype(float)
    d = int(entropy.attrs["dim"])
    h, h_se = _series(e, estimator)
    scale = _to_nats(entropy)
    h, h_se = h * scale, h_se * scale
    s_, t_ = t[:-1], t[1:]
    _, b_ts = p.transition(s_, t_)
    _, b_s0 = p.transition(np.full_like(s_, t[0]), s_)
    _, b_t0 = p.transition(np.full_like(t_, t[0]), t_)

    def hg(b: NDArray[np.float64]) -> NDArray[np.float64]:
        with np.errstate(divide="ignore"):
            return 0.5 * d * np.log(2.0 * math.pi * math.e * np.asarray(b, dtype=float) ** 2)

    upper = hg(b_ts)
    lower = upper + hg(b_s0) - hg(b_t0)
    cond = upper + h[:-1] - h[1:]
    cond_se = np.sqrt(h_se[:-1] ** 2 + h_se[1:] ** 2)
    with np.errstate(invalid="ignore"):
        lower_ok = np.where(np.isfinite(cond) & np.isfinite(lower), cond + z * cond_se >= lower, True)
        upper_ok = np.where(np.isfinite(cond), cond - z * cond_se <= upper, True)
    grows = h[1:] - h[:-1] >= 0
    out = xr.Dataset(
        {
            "lower": ("interval", lower, {"units": "nats"}),
            "upper": ("interval", upper, {"units": "nats", "long_name": "H(X_t | X_s) of the forward kernel"}),
            "conditional_entropy": ("interval", cond, {"units": "nats", "long_name": "H(X_s | X_t), measured"}),
            "conditional_entropy_se": ("interval", cond_se, {"units": "nats"}),
            "lower_holds": ("interval", lower_ok),
            "upper_holds": ("interval", upper_ok),
            "upper_guaranteed": ("interval", grows, {"long_name": "entropy grows over the interval"}),
        },
        coords=_intervals(t),
    )
    out.attrs = _attrs(
        entropy,
        "Sohl-Dickstein bounds on H(X_s|X_t)",
        z,
        estimator=estimator,
        holds=int(bool(lower_ok.all() and np.all(upper_ok[grows]))),
    )
    return out


def mixture_entropy_bounds(entropy: xr.Dataset, *, process: LinearProcess | None = None, z: float = Z) -> xr.Dataset:
    """Gaussian-mixture bounds ``sum w_k H_k <= H(p_t) <= sum w_k H_k + H(w)`` at every frame.

    Needs a Gaussian-mixture artifact recorded in the config. Compares the bounds with
    ``exact_entropy`` (if present) and with the first estimator.

    Returns
    -------
    xr.Dataset
        Over time: ``lower``, ``upper``, ``bounds_hold_exact``, ``bounds_hold_estimate``;
        attr ``holds``; nats.
    """
    mix = GaussianMixture.from_trajectory(entropy)
    if mix is None:
        raise ConfigError("the trajectory's artifact is not a Gaussian mixture")
    p = _process(entropy, process)
    e = _ascending(entropy)
    t = e["time"].values.astype(float)
    bounds = np.array([mix.transported(p, float(ti)).entropy_bounds() for ti in t])
    scale = _to_nats(entropy)
    out = xr.Dataset(
        {"lower": ("time", bounds[:, 0], {"units": "nats"}), "upper": ("time", bounds[:, 1], {"units": "nats"})},
        coords={"time": ("time", t)},
    )
    series = {"estimate": (e["entropy"].isel(estimator=0).values, e["entropy_se"].isel(estimator=0).values)}
    if "exact_entropy" in e:
        series["exact"] = _series(e, "exact")
    flags = []
    for name, (h, se) in series.items():
        h, se = h * scale, se * scale
        with np.errstate(invalid="ignore"):
            ok = (h + z * se >= bounds[:, 0]) & (h - z * se <= bounds[:, 1])
        out[f"bounds_hold_{name}"] = ("time", ok)
        flags.append(bool(ok.all()))
    out.attrs = _attrs(entropy, "Gaussian-mixture entropy bounds", z, holds=int(all(flags)))
    return out


__all__ = [
    "Z",
    "de_bruijn",
    "entropy_power",
    "entropy_production",
    "finite_difference",
    "h_theorem",
    "kl_decay",
    "mixture_entropy_bounds",
    "score_expectations",
    "sohl_dickstein_bounds",
]
