"""The figure of an emergence dataset (:func:`analysis.emergence.emergence`).

Three panels in dustsim's style (:mod:`analysis.plotting`): a heat map of the
coarse-grained entropy ``H_Delta(t)`` over time and scale, the structure ``S_Delta(t)`` at
each scale against the tolerance, and the emergence time against the scale on log-log
axes with the fitted exponent and, for free Brownian dust, the reference ``Delta^2 / 2D``
law.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import xarray as xr

from dustsim.errors import ConfigError
from dustsim.schema import trajectory_config, trajectory_process

from .plot_style import dustsim_style, new_axes, unit_suffix


def _one(result: xr.Dataset) -> tuple[xr.Dataset, str]:
    """A single realization to draw (the mean over realizations, said in the title)."""
    if "realization" in result.dims:
        return result.mean("realization", keep_attrs=True), f" (mean of {result.sizes['realization']} realizations)"
    return result, ""


def _brownian_d(result: xr.Dataset) -> float | None:
    """D of free Brownian dust (no potential, interaction or schedule), else None."""
    from dustsim.processes import Brownian

    try:
        config = trajectory_config(result)
        process = trajectory_process(result)
    except Exception:  # noqa: BLE001 - no or unreadable config: no reference line
        return None
    if not isinstance(process, Brownian) or any(config.get(k) for k in ("potential", "interaction", "schedule")):
        return None
    return float(process.D)


def emergence_plot(result: xr.Dataset, *, title: str | None = None, z: float = 1.96) -> Any:
    """Heat map of ``H_Delta(t)``, structure per scale, and emergence time vs scale.

    Parameters
    ----------
    result : xr.Dataset
        Output of :func:`analysis.emergence.emergence`.
    title : str, optional
        Figure title (default from the dataset).
    z : float
        Half-width of the error bars in standard errors (1.96: 95 %).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if "coarse_entropy" not in result.data_vars or "scale" not in result.dims:
        raise ConfigError("not an emergence dataset: no coarse_entropy(time, scale)")
    from .emergence import fit_emergence_exponent

    res, note = _one(result)
    times = np.asarray(res["time"].values, dtype=np.float64)
    scales = np.asarray(res["scale"].values, dtype=np.float64)
    units = str(res.attrs.get("units", "nats"))
    length = unit_suffix(str(res.attrs.get("length_unit", "1")))
    tol = float(res.attrs.get("tolerance_nats", res["emergence_time"].attrs.get("tolerance_nats", math.nan)))
    factor = 1.0 if units == "nats" else 1.0 / math.log(2.0)
    with dustsim_style():
        fig, axes = new_axes(ncols=4, size=(3.9, 3.4), layout="constrained")
        ax_h, ax_s, ax_t, ax_d = axes[0]
        # (a) H_Delta(t): time across, scale up (log), colour the coarse-grained entropy
        edges = np.sqrt(scales[1:] * scales[:-1]) if len(scales) > 1 else np.array([])
        y_edges = np.concatenate(
            [
                [scales[0] ** 2 / edges[0]] if len(edges) else [scales[0] / 1.5],
                edges,
                [scales[-1] ** 2 / edges[-1]] if len(edges) else [scales[0] * 1.5],
            ]
        )
        t_mid = 0.5 * (times[1:] + times[:-1]) if len(times) > 1 else np.array([])
        x_edges = np.concatenate(
            [
                [times[0] - (t_mid[0] - times[0]) if len(t_mid) else times[0] - 0.5],
                t_mid,
                [times[-1] + (times[-1] - t_mid[-1]) if len(t_mid) else times[0] + 0.5],
            ]
        )
        mesh = ax_h.pcolormesh(x_edges, y_edges, np.asarray(res["coarse_entropy"].values).T, shading="flat")
        ax_h.set_yscale("log")
        ax_h.set_xlabel("time t" + unit_suffix(str(res["time"].attrs.get("units", "1"))))
        ax_h.set_ylabel("scale Δ" + length)
        ax_h.grid(False)
        fig.colorbar(mesh, ax=ax_h, label=f"H_Δ(t) ({units})")
        ok_tau = np.isfinite(np.asarray(res["emergence_time"].values))
        if ok_tau.any():
            ax_h.plot(
                res["emergence_time"].values[ok_tau],
                scales[ok_tau],
                "o",
                color="white",
                mec="black",
                ms=4,
                label="emergence time",
            )
            ax_h.legend(loc="lower right", fontsize=8)
        ax_h.set_title("(a) coarse-grained entropy")
        # (b) structure S_Delta(t) per scale, against the tolerance
        import matplotlib as mpl

        cmap = mpl.colormaps["cividis"]
        s_vals = np.asarray(res["structure"].values) / factor
        floor = tol / 30.0 if math.isfinite(tol) else 1e-4  # estimates at or below 0 (noise) sit on the floor
        for j, s in enumerate(scales):
            colour = cmap(j / max(len(scales) - 1, 1))
            ax_s.plot(times, np.clip(s_vals[:, j], floor, None), color=colour, label=f"Δ = {s:.3g}")
            if "exact_structure" in res:
                ax_s.plot(
                    times,
                    np.clip(np.asarray(res["exact_structure"].values)[:, j] / factor, floor, None),
                    ":",
                    color="black",
                    lw=0.9,
                )
        if math.isfinite(tol):
            ax_s.axhline(tol, color="#D55E00", ls="--", lw=1.0, label=f"tolerance {tol:g} nats")
        ax_s.set_yscale("log")
        ax_s.set_xlabel("time t")
        ax_s.set_ylabel("structure S_Δ (nats)")
        ax_s.legend(fontsize=7, ncol=2)
        ax_s.set_title("(b) structure at each scale" + (" (dotted: exact)" if "exact_structure" in res else ""))
        # (c) emergence time vs scale
        tau = np.asarray(res["emergence_time"].values, dtype=np.float64)
        tau_se = np.asarray(res["emergence_time_se"].values, dtype=np.float64)
        good = np.isfinite(tau) & (tau > 0)
        order = np.asarray(res["ordering_time"].values, dtype=np.float64)
        order_se = np.asarray(res["ordering_time_se"].values, dtype=np.float64)
        ordered = np.isfinite(order) & (order > 0)
        if good.any() or ordered.any():
            noisy = good & (np.asarray(res["emergence_status"].values) == 3)
            clean = good & ~noisy
            if clean.any():
                ax_t.errorbar(
                    scales[clean],
                    tau[clean],
                    yerr=z * tau_se[clean],
                    fmt="o",
                    capsize=2,
                    color="#0072B2",
                    label="emergence (smooth after)",
                )
            if noisy.any():
                ax_t.errorbar(
                    scales[noisy],
                    tau[noisy],
                    yerr=z * tau_se[noisy],
                    fmt="o",
                    mfc="none",
                    capsize=2,
                    color="#0072B2",
                    label="emergence, within the noise",
                )
            if ordered.any():
                ax_t.errorbar(
                    scales[ordered],
                    order[ordered],
                    yerr=z * order_se[ordered],
                    fmt="^",
                    capsize=2,
                    color="#D55E00",
                    label="ordering (structured after)",
                )
            if "exact_emergence_time" in res and good.any():
                ex = np.asarray(res["exact_emergence_time"].values)
                ax_t.plot(scales, np.where(ex > 0, ex, np.nan), "s", mfc="none", color="black", label="exact")
            try:
                p, p_se, a = fit_emergence_exponent(res)
                xs = np.geomspace(scales[good].min(), scales[good].max(), 50)
                ax_t.plot(xs, a * xs**p, "-", lw=1.0, label=f"fit ∝ Δ^{p:.2f} ± {z * p_se:.2f}")
            except ConfigError:
                pass
            d_coef = _brownian_d(result)
            if d_coef is not None and math.isfinite(tol) and good.any():
                dim = int(res.attrs.get("dim", 1))
                xs = np.geomspace(scales.min(), scales.max(), 50)
                ax_t.plot(
                    xs,
                    dim / (32.0 * tol) * xs**2 / (2.0 * d_coef),
                    "--",
                    color="#009E73",
                    lw=1.0,
                    label="(d/32ε) Δ²/2D",
                )
            from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

            ax_t.set_xscale("log")
            ax_t.set_yscale("log")
            for axis in (ax_t.xaxis, ax_t.yaxis):  # ticks at 1, 2, 5 x 10^k with plain labels
                axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
                axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
                axis.set_minor_formatter(NullFormatter())
            ax_t.legend(fontsize=7)
        else:
            ax_t.text(
                0.5,
                0.5,
                "no scale crossed the tolerance\nwithin the run",
                ha="center",
                va="center",
                transform=ax_t.transAxes,
            )
        ax_t.set_xlabel("scale Δ" + length)
        ax_t.set_ylabel("time t_Δ")
        ax_t.set_title("(c) when each scale turns smooth (or ordered)")
        # (d) the entropy change at each scale, first to last frame: both signs when dust orders itself
        first, last = int(np.argmin(times)), int(np.argmax(times))
        h = np.asarray(res["coarse_entropy"].values)
        h_se = np.asarray(res["coarse_entropy_se"].values)
        change = h[last] - h[first]
        change_se = np.hypot(h_se[last], h_se[first])
        colours = np.where(change >= 0, "#0072B2", "#D55E00")
        ax_d.bar(np.arange(len(scales)), change, yerr=z * change_se, color=colours, capsize=2)
        ax_d.axhline(0.0, color="black", lw=0.8)
        ax_d.set_xticks(np.arange(len(scales)), [f"{s:.2g}" for s in scales], rotation=45)
        ax_d.set_xlabel("scale Δ" + length)
        ax_d.set_ylabel(f"H_Δ(t_end) − H_Δ(t_0) ({units})")
        ax_d.set_title("(d) entropy change per scale")
        fig.suptitle(title or ("emergence across scales" + note))
    return fig


__all__ = ["emergence_plot"]
