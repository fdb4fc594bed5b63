"""Figures of dustsim datasets: one consistent, colour-blind-safe style.

Every plot function takes a dataset (and optionally an existing ``Axes``), draws with
matplotlib and returns the ``Figure``. Trajectory figures accept any dataset in the
trajectory schema (forward, reverse, restoration); entropy and loss figures take the
datasets produced by the analysis and the trainer.
"""

from __future__ import annotations

import math
import shutil
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from dustsim.schema import swept_coordinates

from .plot_style import DENSITY_CMAP, PALETTE, dustsim_style, new_axes, unit_suffix  # also importable from here


def length_label(ds: xr.Dataset, axis: str) -> str:
    """Axis label with the length unit, e.g. ``x (reduced units)`` or ``x [µm]``."""
    return axis + unit_suffix(ds["position"].attrs.get("units", "1"))


def time_label(ds: xr.Dataset) -> str:
    """Label of the time axis with its unit."""
    return "diffusion time t" + unit_suffix(ds["time"].attrs.get("units", "1"))


def pick_times(ds: xr.Dataset, n_frames: int, spacing: str = "auto") -> np.ndarray:
    """``n_frames`` recorded times, first and last included.

    ``spacing="sigma"`` spreads them evenly in the noise level ``sigma(time)`` (the
    interesting early frames of a VP run are then not skipped); ``"time"`` evenly in time;
    ``"information"`` evenly in how much the frames still know about the data: the mutual
    information ``I(X_0; X_t)`` of the Gaussian channel with the data's per-axis variance,
    ``(1/2) sum_axes log(1 + alpha^2 var_a / sigma^2)`` (exact for Gaussian data, an upper
    bound otherwise): the frames fall where the picture changes, not on near-identical
    blobs of noise; ``"auto"`` uses it for linear processes (``alpha``, ``sigma`` per
    frame), else sigma when the dataset has it.
    """
    n_time = ds.sizes["time"]
    linear = all(name in ds.coords and ds[name].dims == ("time",) for name in ("alpha", "sigma"))
    if spacing == "information" or (spacing == "auto" and linear and "position" in ds):
        return _information_times(ds, n_frames)
    use_sigma = spacing == "sigma" or (spacing == "auto" and "sigma" in ds.coords and ds["sigma"].dims == ("time",))
    if use_sigma:
        sigma = np.asarray(ds["sigma"].values, dtype=float)
        targets = np.linspace(sigma.min(), sigma.max(), n_frames)
        idx = np.unique([int(np.argmin(np.abs(sigma - s))) for s in targets])
        idx = np.unique(np.concatenate([[0, n_time - 1], idx]))
    else:
        idx = np.unique(np.linspace(0, n_time - 1, n_frames).round().astype(int))
    return ds["time"].values[np.sort(idx)]


def _information_times(ds: xr.Dataset, n_frames: int) -> np.ndarray:
    """Frames at equal steps of the Gaussian-channel information (see :func:`pick_times`)."""
    times = np.asarray(ds["time"].values, dtype=float)
    alpha = np.asarray(ds["alpha"].values, dtype=float)
    sigma = np.asarray(ds["sigma"].values, dtype=float)
    clean = int(np.argmin(sigma))  # the data frame: t = 0 forward, the end of a reverse run
    x0 = ds["position"].isel(time=clean)
    if "realization" in x0.dims:
        x0 = x0.isel(realization=0)
    var = np.asarray(x0.values, dtype=float).var(axis=0) / max(alpha[clean], 1e-12) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = alpha[:, None] ** 2 * var[None, :] / sigma[:, None] ** 2
        info = 0.5 * np.log1p(snr).sum(axis=1)
    finite = np.isfinite(info)
    if finite.sum() < 2:
        return times[np.unique(np.linspace(0, len(times) - 1, n_frames).round().astype(int))]
    top = float(info[finite].max())  # the least noisy frame with sigma > 0
    info = np.where(finite, info, top + (top - float(info[finite].min())) / max(1, n_frames - 1))
    targets = np.linspace(info.min(), info.max(), n_frames)
    idx = np.unique([int(np.argmin(np.abs(info - v))) for v in targets])
    idx = np.unique(np.concatenate([[0, len(times) - 1], idx]))
    return times[np.sort(idx)]


def _frame_points(ds: xr.Dataset, time: float, max_points: int, rng: np.random.Generator) -> tuple[np.ndarray, Any]:
    frame = ds["position"].sel(time=time, method="nearest")
    if "realization" in frame.dims:
        frame = frame.isel(realization=0)
    n = frame.sizes["particle"]
    pick = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    points = np.asarray(frame.isel(particle=pick).values, dtype=np.float64)
    labels = None
    if "label" in ds.coords and "particle" in ds["label"].dims:
        lab = ds["label"]
        if "realization" in lab.dims:
            lab = lab.isel(realization=0)
        labels = np.asarray(lab.isel(particle=pick).values)
    return points, labels


def _scatter(ax: Any, points: np.ndarray, labels: Any, size: float, bins: Any = 80) -> None:
    if points.shape[1] == 1:
        ax.hist(points[:, 0], bins=bins, density=True, color=PALETTE[0])
        return
    colours = PALETTE[0] if labels is None else np.asarray(PALETTE)[np.asarray(labels) % len(PALETTE)]
    ax.scatter(points[:, 0], points[:, 1], s=size, c=colours, linewidths=0, alpha=0.7, rasterized=True)


def _window(clouds: Sequence[np.ndarray]) -> tuple[float, float]:
    """One plotting window for every frame and both drawn axes: all but the rarest points."""
    lo = min(float(np.quantile(c[:, :2], 0.001)) for c in clouds)
    hi = max(float(np.quantile(c[:, :2], 0.999)) for c in clouds)
    pad = 0.05 * (hi - lo) or 1.0
    return lo - pad, hi + pad


def _zoomed(points: np.ndarray, window: tuple[float, float]) -> tuple[float, float]:
    """A tighter window for a panel whose cloud fills less than half the common one (the data
    at the end of a generation); the common window otherwise."""
    lo = float(np.quantile(points[:, :2], 0.001))
    hi = float(np.quantile(points[:, :2], 0.999))
    if hi - lo >= 0.5 * (window[1] - window[0]):
        return window
    pad = 0.08 * (hi - lo) or 1.0
    return lo - pad, hi + pad


def filmstrip(
    ds: xr.Dataset,
    times: Sequence[float] | None = None,
    *,
    n_frames: int = 6,
    max_points: int = 20_000,
    point_size: float = 1.0,
    title: str | None = None,
    seed: int = 0,
) -> Any:
    """Snapshots of the particle cloud at several times, side by side.

    Parameters
    ----------
    ds : xarray.Dataset
        A trajectory (any direction); with a ``realization`` dim the first is shown.
    times : sequence of float, optional
        Times to show (nearest recorded frames); default ``n_frames`` evenly spread.
    max_points : int
        Particles drawn per panel (a random subset, the same in every panel).
    title : str, optional
        Figure title (default: from the dataset's direction and process).

    Returns
    -------
    matplotlib.figure.Figure
    """
    shown = pick_times(ds, n_frames) if times is None else np.asarray(times, dtype=float)
    with dustsim_style():
        fig, axes = new_axes(ncols=len(shown), size=(2.4, 2.6))
        axes = np.atleast_2d(axes)[0]
        panels = [_frame_points(ds, float(t), max_points, np.random.default_rng(seed)) for t in shown]
        dim = ds.sizes["spatial"]
        window = _window([p for p, _ in panels])
        bins = np.linspace(*window, 121)  # 1-D: the same bins in every panel
        last = len(shown) - 1
        for i, (ax, t, (points, labels)) in enumerate(zip(axes, shown, panels, strict=True)):
            _scatter(ax, points, labels, point_size, bins)
            own = window
            if i == last and dim > 1 and len(shown) > 1:
                own = _zoomed(points, window)
                if own != window:
                    ax.text(0.03, 0.03, "zoomed", transform=ax.transAxes, fontsize=7, color="0.35")
            ax.set_xlim(*own)
            if dim > 1:
                ax.set_ylim(*own)
                ax.set_aspect("equal", adjustable="box")
            outside = int(np.sum(np.any((points[:, :2] < own[0]) | (points[:, :2] > own[1]), axis=1)))
            if outside:
                ax.text(
                    0.97,
                    0.03,
                    f"{outside} of {len(points)} outside",
                    transform=ax.transAxes,
                    ha="right",
                    fontsize=7,
                    color="0.35",
                )
            extra = ""
            if "sigma" in ds.coords and ds["sigma"].dims == ("time",):
                extra = f", σ = {float(ds['sigma'].sel(time=t, method='nearest')):.2f}"
            ax.set_title(f"t = {float(t):.2f}{extra}")
            ax.set_xlabel(length_label(ds, str(ds["spatial"].values[0])))
        if dim == 1:
            unit = ds["position"].attrs.get("units", "1")
            axes[0].set_ylabel("density" + ("" if unit in ("1", "", None) else f" [1/{unit}]"))
        else:
            axes[0].set_ylabel(length_label(ds, str(ds["spatial"].values[1])))
        if title is None and dim > 2:
            title = f"{_trajectory_title(ds)}: x-y projection of {dim}-D"
        fig.suptitle(title or _trajectory_title(ds))
        fig.tight_layout()
    return fig


def _trajectory_title(ds: xr.Dataset) -> str:
    direction = ds.attrs.get("direction", "forward")
    process = ds.attrs.get("process", "")
    verb = {"forward": "dissolving into noise", "reverse": "re-forming from noise", "restoration": "restored"}.get(
        direction, direction
    )
    return f"{ds.attrs.get('artifact', 'dust')} {verb} ({process})"


def density_heatmaps(
    ds: xr.Dataset,
    times: Sequence[float] | None = None,
    *,
    n_frames: int = 4,
    bins: int = 120,
    extent: float | None = None,
) -> Any:
    """2-D histograms (densities) of the cloud at several times.

    Parameters
    ----------
    ds : xarray.Dataset
        A trajectory with at least 2 spatial axes (the first two are used).
    bins : int
        Bins per axis.
    extent : float, optional
        Half-width of the square window (length units); default covers 99.5% of points
        of the last frame.
    """
    if ds.sizes["spatial"] < 2:
        raise ValueError("density heat-maps need at least 2 spatial axes")
    shown = pick_times(ds, n_frames) if times is None else np.asarray(times, dtype=float)
    rng = np.random.default_rng(0)
    frames = [_frame_points(ds, float(t), 200_000, rng)[0] for t in shown]
    if extent is None:
        extent = float(max(np.quantile(np.abs(f[:, :2]), 0.9975) for f in frames)) * 1.05
    edges = np.linspace(-extent, extent, bins + 1)
    with dustsim_style():
        fig, axes = new_axes(ncols=len(shown), size=(2.6, 2.6))
        axes = np.atleast_2d(axes)[0]
        hists = [np.histogram2d(pts[:, 0], pts[:, 1], bins=(edges, edges), density=True)[0] for pts in frames]
        # one logarithmic scale for every panel, up to the densest bin of any frame: the colour
        # bar is true for each panel and the sharp t = 0 frame does not saturate it
        from matplotlib.colors import LogNorm

        top = max(float(h.max()) for h in hists) or 1.0
        norm = LogNorm(vmin=top * 1e-3, vmax=top, clip=True)
        for ax, t, hist in zip(axes, shown, hists, strict=True):
            im = ax.imshow(
                np.where(hist > 0, hist, np.nan).T,
                origin="lower",
                extent=(-extent, extent, -extent, extent),
                cmap=DENSITY_CMAP,
                norm=norm,
            )
            ax.set_title(f"t = {float(t):.2f}")
            ax.set_xlabel(length_label(ds, str(ds["spatial"].values[0])))
            ax.grid(False)
        axes[0].set_ylabel(length_label(ds, str(ds["spatial"].values[1])))
        unit = ds["position"].attrs.get("units", "1")
        label = "density (reduced units)" if unit == "1" else f"density [{unit}$^{{-2}}$]"
        fig.colorbar(im, ax=list(axes), shrink=0.8, label=label)
    return fig


def compare_clouds(
    reference: np.ndarray,
    others: dict[str, np.ndarray],
    *,
    max_points: int = 20_000,
    title: str | None = None,
    unit: str = "1",
) -> Any:
    """Point clouds side by side (e.g. original, noised, restored), same axes limits."""
    panels = {"original": np.asarray(reference), **{k: np.asarray(v) for k, v in others.items()}}
    rng = np.random.default_rng(0)
    lim = float(np.quantile(np.abs(np.concatenate([p[:, :2] for p in panels.values()])), 0.995)) * 1.05
    with dustsim_style():
        fig, axes = new_axes(ncols=len(panels), size=(2.6, 2.7), sharex=True, sharey=True)
        axes = np.atleast_2d(axes)[0]
        for i, (ax, (name, pts)) in enumerate(zip(axes, panels.items(), strict=True)):
            pick = rng.choice(len(pts), size=min(len(pts), max_points), replace=False)
            ax.scatter(pts[pick, 0], pts[pick, 1], s=1.0, c=PALETTE[i % len(PALETTE)], linewidths=0, rasterized=True)
            ax.set_title(name)
            ax.set_xlim(-lim, lim)
            ax.set_ylim(-lim, lim)
            ax.set_aspect("equal")
            ax.set_xlabel("x" + unit_suffix(unit))
        axes[0].set_ylabel("y" + unit_suffix(unit))
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def animate(
    ds: xr.Dataset,
    path: str | Path,
    *,
    fps: int = 12,
    max_points: int = 20_000,
    point_size: float = 1.5,
) -> Path:
    """Write an animation of the trajectory: GIF (Pillow) or MP4 (needs ffmpeg), by suffix.

    The file is written to a temporary name and renamed when complete.
    """
    import matplotlib.animation as manimation

    from dustsim.io import atomic_output

    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".gif", ".mp4"):
        raise ValueError(f"animation format must be .gif or .mp4, got {suffix!r}")
    if suffix == ".mp4" and shutil.which("ffmpeg") is None:
        raise RuntimeError("writing MP4 needs ffmpeg on the PATH; use a .gif file instead")
    rng = np.random.default_rng(0)
    n = ds.sizes["particle"]
    pick = np.sort(rng.choice(n, size=min(n, max_points), replace=False))
    sub = ds.isel(particle=pick)
    if "realization" in sub.dims:
        sub = sub.isel(realization=0)
    pos = np.asarray(sub["position"].values, dtype=np.float64)
    labels = np.asarray(sub["label"].values) if "label" in sub.coords else None
    window = _window(list(pos))
    dim = pos.shape[2]
    title = "\n".join(textwrap.wrap(_trajectory_title(ds) + (f", x-y projection of {dim}-D" if dim > 2 else ""), 44))
    colours = PALETTE[0] if labels is None else np.asarray(PALETTE)[labels % len(PALETTE)]
    with dustsim_style():
        fig, ax = new_axes(size=(4.0, 4.0))
        ax.set_xlim(*window)
        ax.set_xlabel(length_label(ds, str(ds["spatial"].values[0])))
        label = ax.set_title("")
        if dim == 1:  # a histogram with fixed bins and height
            bins = np.linspace(*window, 121)
            heights = [np.histogram(frame[:, 0], bins=bins, density=True)[0] for frame in pos]
            artist = ax.bar(bins[:-1], heights[0], width=np.diff(bins), align="edge", color=PALETTE[0])
            ax.set_ylim(0.0, 1.05 * max(float(h.max()) for h in heights))
            ax.set_ylabel("density")
        else:
            artist = ax.scatter(pos[0, :, 0], pos[0, :, 1], s=point_size, c=colours, linewidths=0)
            ax.set_ylim(*window)
            ax.set_aspect("equal")
            ax.set_ylabel(length_label(ds, str(ds["spatial"].values[1])))

        def update(i: int) -> tuple[Any, ...]:
            if dim == 1:
                for bar, height in zip(artist, heights[i], strict=True):
                    bar.set_height(height)
            else:
                artist.set_offsets(pos[i, :, :2])
            label.set_text(f"{title}\nt = {float(sub['time'].values[i]):.2f}")
            return artist, label

        update(0)
        fig.tight_layout()  # with the title in place, so that its lines stay inside the frame
        anim = manimation.FuncAnimation(fig, update, frames=pos.shape[0], blit=False)
        writer = manimation.PillowWriter(fps=fps) if suffix == ".gif" else manimation.FFMpegWriter(fps=fps)
        with atomic_output(path) as tmp:
            tmp_named = tmp.with_suffix(suffix)
            anim.save(tmp_named, writer=writer)
            tmp_named.rename(tmp)
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


# ----------------------------------------------------------------- entropy figures
DIRECTION_LABEL = {"forward": "forward (t ↑)", "reverse": "reverse (t ↓)", "restoration": "restoration (t ↓)"}
LINESTYLE = {"forward": "-", "reverse": "--", "restoration": ":"}


def _as_mapping(datasets: xr.Dataset | dict[str, xr.Dataset]) -> dict[str, xr.Dataset]:
    if isinstance(datasets, xr.Dataset):
        return {DIRECTION_LABEL.get(str(datasets.attrs.get("direction", "forward")), "entropy"): datasets}
    return dict(datasets)


def _units(ds: xr.Dataset, var: str) -> str:
    unit = str(ds[var].attrs.get("units", ds.attrs.get("units", "nats")))
    return unit


def _band(ax: Any, x: np.ndarray, y: np.ndarray, se: np.ndarray | None, color: str, z: float) -> None:
    if se is None:
        return
    se = np.nan_to_num(np.asarray(se, dtype=float), nan=0.0)
    ok = np.isfinite(y)
    if ok.sum() > 1:
        ax.fill_between(x[ok], (y - z * se)[ok], (y + z * se)[ok], color=color, alpha=0.22, linewidth=0)


def _members(ds: xr.Dataset) -> list[tuple[str, xr.Dataset]]:
    """A sweep's realizations grouped by member (one line each, labelled by its swept
    values, the keys in the ``swept`` attribute); a single group for anything else."""
    if "realization" not in ds.dims or "member" not in ds.coords or len(np.unique(ds["member"].values)) < 2:
        return [("", ds)]
    swept = swept_coordinates(ds)
    groups = []
    for member in np.unique(ds["member"].values):
        part = ds.isel(realization=np.flatnonzero(ds["member"].values == member))
        values = [part[name].values[0] for name in swept]
        label = ", ".join(
            f"{name} = {v:g}" if isinstance(v, int | float | np.number) else f"{name} = {v}"
            for name, v in zip(swept, values, strict=True)
        )
        groups.append((label or f"member {member}", part))
    return groups


def _mean_and_se(sel: xr.DataArray, se: xr.DataArray | None) -> tuple[xr.DataArray, xr.DataArray | None]:
    """Mean over realizations and its standard error (from their spread when there are several)."""
    if "realization" not in sel.dims:
        return sel, se
    if sel.sizes["realization"] == 1:
        return sel.isel(realization=0), None if se is None else se.isel(realization=0)
    return sel.mean("realization"), sel.std("realization", ddof=1) / np.sqrt(sel.sizes["realization"])


def mi_ceiling(n: int, k: int, units: str = "nats") -> float:
    """The largest mutual information a kNN (KSG) estimate on ``n`` particles with rank ``k`` can show.

    ``psi(n) - psi(k)``: where the estimate of ``I(X_0; X_t)`` saturates as ``t -> 0``
    (the true value is infinite for continuous data), so that part of the curve says
    nothing about the data.
    """
    from scipy.special import digamma

    value = float(digamma(n) - digamma(k))
    return value / np.log(2.0) if units == "bits" else value


def _series_plot(
    ax: Any, datasets: dict[str, xr.Dataset], var: str, z: float, estimators: Sequence[str] | None, exact: bool
) -> int:
    """Plot ``var`` (and its ``_se`` band) of every dataset; returns the number of lines drawn.

    A sweep's entropy trajectory gives one line per member (mean over its replicas)."""
    lines = 0
    colour_index = 0
    for label, whole in datasets.items():
        if var not in whole:
            continue
        style = LINESTYLE.get(str(whole.attrs.get("direction", "forward")), "-")
        t = np.asarray(whole["time"].values, dtype=float)
        order = np.argsort(t)
        groups = _members(whole)
        for group, ds in groups:
            da = ds[var]
            names: list[str | None] = [None]
            if "estimator" in da.dims:
                names = list(estimators) if estimators is not None else [str(e) for e in da["estimator"].values]
            for name in names:
                sel = da if name is None else da.sel(estimator=name)
                se = ds.get(f"{var}_se", None)
                if se is not None and name is not None and "estimator" in se.dims:
                    se = se.sel(estimator=name)
                sel, se = _mean_and_se(sel, se)
                y = np.asarray(sel.values, dtype=float)[order]
                colour = PALETTE[colour_index % len(PALETTE)]
                colour_index += 1
                parts = [label] + ([group] if group else []) + ([name] if name is not None and len(names) > 1 else [])
                ax.plot(t[order], y, linestyle=style, color=colour, label=", ".join(parts))
                _band(ax, t[order], y, None if se is None else np.asarray(se.values, dtype=float)[order], colour, z)
                lines += 1
            if var == "mutual_information" and "n_particles_used" in whole.attrs and "k" in whole.attrs:
                ceiling = mi_ceiling(
                    int(whole.attrs["n_particles_used"]), int(whole.attrs["k"]), str(whole.attrs.get("units", "nats"))
                )
                ax.axhline(ceiling, color="0.4", linewidth=0.8, linestyle=(0, (4, 2)))
                ax.annotate(
                    f"estimator ceiling ψ(n) − ψ(k) = {ceiling:.2f}",
                    (t[order][-1], ceiling),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="right",
                    fontsize=7,
                    color="0.35",
                )
            if exact and var == "entropy" and "exact_entropy" in ds and len(groups) == 1:
                ex = ds["exact_entropy"]
                if "realization" in ex.dims:
                    ex = ex.mean("realization")
                ax.plot(
                    t[order],
                    np.asarray(ex.values, dtype=float)[order],
                    color="black",
                    linewidth=1.0,
                    linestyle=(0, (1, 1)),
                    label=f"{label}, exact (Gaussian mixture)",
                )
                lines += 1
    return lines


def entropy_plot(
    datasets: xr.Dataset | dict[str, xr.Dataset],
    *,
    estimators: Sequence[str] | None = None,
    exact: bool = True,
    z: float = 1.96,
    ax: Any = None,
    title: str | None = None,
) -> Any:
    """Entropy against diffusion time, with uncertainty bands.

    Parameters
    ----------
    datasets : Dataset or mapping of label -> Dataset
        Entropy trajectories (:func:`~analysis.trajectory.entropy_trajectory`), e.g.
        ``{"forward (t ↑)": fwd, "reverse (t ↓)": rev}``. Forward and reverse share the
        time axis; reverse runs are drawn dashed and labelled with their direction.
    estimators : sequence of str, optional
        Which estimators to draw (default: all).
    exact : bool
        Draw the exact entropy of a Gaussian-mixture artifact where present.
    z : float
        Half-width of the bands in standard errors (1.96: 95%).
    ax : matplotlib Axes, optional
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    maps = _as_mapping(datasets)
    first = next(iter(maps.values()))
    with dustsim_style():
        fig, ax = new_axes(ax, size=(5.2, 3.6))
        _series_plot(ax, maps, "entropy", z, estimators, exact)
        ax.set_xlabel(time_label(first))
        unit = _units(first, "entropy")
        length = first.attrs.get("length_unit", "1")
        ax.set_ylabel(f"entropy H [{unit}]" + ("" if length == "1" else f" (lengths in {length})"))
        ax.set_title(title or "entropy along the diffusion")
        ax.legend(loc="best", frameon=False)
    return fig


def information_panels(
    datasets: xr.Dataset | dict[str, xr.Dataset],
    *,
    sohl_dickstein: xr.Dataset | None = None,
    z: float = 1.96,
    title: str | None = None,
) -> Any:
    """Entropy, relative entropy to equilibrium and mutual information I(X_0; X_t), side by side.

    With ``sohl_dickstein`` (from :func:`analysis.thermo.sohl_dickstein_bounds`) a fourth
    panel shows the bounds on the reverse-step conditional entropy as a band.
    """
    maps = _as_mapping(datasets)
    first = next(iter(maps.values()))
    panels = [
        ("entropy", "entropy H"),
        ("kl_to_equilibrium", "KL to equilibrium D(p_t ‖ p_∞)"),
        ("mutual_information", "mutual information I(X_0; X_t)"),
    ]
    panels = [p for p in panels if any(p[0] in ds for ds in maps.values())]
    n = len(panels) + (sohl_dickstein is not None)
    with dustsim_style():
        fig, axes = new_axes(ncols=n, size=(4.0, 3.3))
        axes = np.atleast_2d(axes)[0]
        for ax, (var, name) in zip(axes, panels, strict=False):
            _series_plot(ax, maps, var, z, None, exact=True)
            ax.set_xlabel(time_label(first))
            ax.set_ylabel(f"{name} [{_units(first, var)}]")
            ax.set_title(name)
        if sohl_dickstein is not None:
            sohl_dickstein_plot(sohl_dickstein, ax=axes[-1])
        axes[0].legend(loc="best", frameon=False, fontsize=8)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
    return fig


def sohl_dickstein_plot(bounds: xr.Dataset, *, ax: Any = None, z: float = 1.96) -> Any:
    """The Sohl-Dickstein (2015) bounds on ``H(X_s | X_t)`` as a band, with the measured value."""
    mid = 0.5 * (np.asarray(bounds["t_start"].values) + np.asarray(bounds["t_end"].values))
    with dustsim_style():
        fig, ax = new_axes(ax, size=(4.6, 3.4))
        lower = np.asarray(bounds["lower"].values, dtype=float)
        upper = np.asarray(bounds["upper"].values, dtype=float)
        ok = np.isfinite(lower) & np.isfinite(upper)
        ax.fill_between(
            mid[ok],
            lower[ok],
            upper[ok],
            color=PALETTE[5],
            alpha=0.35,
            linewidth=0,
            label="bounds (Sohl-Dickstein 2015)",
        )
        cond = np.asarray(bounds["conditional_entropy"].values, dtype=float)
        se = np.asarray(bounds["conditional_entropy_se"].values, dtype=float)
        ax.errorbar(mid, cond, yerr=z * se, fmt="o", markersize=3, color=PALETTE[3], label="measured H(X_s | X_t)")
        ax.set_xlabel("diffusion time t (reduced units)")
        ax.set_ylabel(f"conditional entropy [{bounds['lower'].attrs.get('units', 'nats')}]")
        ax.set_title("reverse-step entropy bounds")
        ax.legend(loc="best", frameon=False, fontsize=8)
    return fig


def loss_plot(log: xr.Dataset, *, ax: Any = None, title: str | None = None) -> Any:
    """Training loss against optimiser step, with the learning rate on a twin axis.

    When the log has a validation curve (``validation_loss`` over ``validation_step``) it
    is drawn with its noise band (± 2 standard errors of the fixed-draw loss) and the
    running mean the convergence rule reads, the y range is zoomed on it, and a vertical
    line marks where training stopped and why (``stop_reason``).
    """
    with dustsim_style():
        fig, ax = new_axes(ax, size=(5.0, 3.4))
        step = np.asarray(log["step"].values)
        loss = np.asarray(log["loss"].values)
        ax.plot(step, loss, color=PALETTE[0], alpha=0.6, lw=0.8, label="training loss")
        if "validation_loss" in log.variables and log.sizes.get("validation_step", 0):
            vstep = np.asarray(log["validation_step"].values)
            vloss = np.asarray(log["validation_loss"].values)
            band = 2 * np.asarray(log["validation_se"].values)
            ax.fill_between(
                vstep, vloss - band, vloss + band, color=PALETTE[2], alpha=0.25, lw=0, label="validation ± 2 SE"
            )
            ax.plot(vstep, vloss, color=PALETTE[2], lw=1.2, label="validation loss (EMA, fixed draws)")
            if "validation_smoothed" in log.variables:
                ax.plot(
                    vstep,
                    np.asarray(log["validation_smoothed"].values),
                    color="k",
                    lw=0.8,
                    ls=":",
                    label="smoothed (stopping rule)",
                )
            tail = vloss[len(vloss) // 5 :] if len(vloss) > 4 else vloss
            lo, hi = float(np.min(tail - band[-len(tail) :])), float(np.max(tail + band[-len(tail) :]))
            pad = 0.5 * (hi - lo) + 1e-12
            ax.set_ylim(lo - pad, hi + 3 * pad)
            reason = log.attrs.get("stop_reason")
            if reason is not None:
                where = float(log.attrs.get("stop_step", vstep[-1]))
                ax.axvline(where, color="0.3", lw=0.8, ls="--")
                ax.annotate(
                    f"stopped: {reason}\nstep {where:.0f}",
                    (where, 0.0),
                    xycoords=("data", "axes fraction"),
                    xytext=(-4, 4),
                    textcoords="offset points",
                    ha="right",
                    va="bottom",
                    fontsize=8,
                )
        else:
            ax.set_yscale("log" if np.all(loss > 0) else "linear")
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(f"loss [{log['loss'].attrs.get('units', '1')}] ({log.attrs.get('objective', '')})")
        if "lr" in log:
            twin = ax.twinx()
            twin.plot(step, np.asarray(log["lr"].values), color=PALETTE[1], linestyle="--", label="learning rate")
            twin.set_ylabel("learning rate [1]")
            twin.grid(False)
            lines = [ln for ln in ax.get_lines() + twin.get_lines() if not ln.get_label().startswith("_")]
            ax.legend(lines, [ln.get_label() for ln in lines], loc="upper right", frameon=False, fontsize=8)
        ax.set_title(title or "score-model training")
    return fig


def density_plot(density: xr.Dataset, times: Sequence[float] | None = None, *, n_frames: int = 4) -> Any:
    """A Fokker-Planck density dataset: curves over time (1-D) or heat-maps (2-D)."""
    shown = pick_times(density, n_frames, spacing="time") if times is None else np.asarray(times, dtype=float)
    rho = density["density"]
    with dustsim_style():
        if "y" not in rho.dims:
            fig, ax = new_axes(size=(5.0, 3.4))
            for i, t in enumerate(shown):
                ax.plot(
                    density["x"].values,
                    rho.sel(time=t, method="nearest").values,
                    color=PALETTE[i % len(PALETTE)],
                    label=f"t = {float(t):.2f}",
                )
            ax.set_xlabel("x (reduced units)")
            ax.set_ylabel("density p(x, t) (reduced units)")
            ax.legend(frameon=False)
            ax.set_title("Fokker-Planck density")
            return fig
        fig, axes = new_axes(ncols=len(shown), size=(2.8, 2.7))
        axes = np.atleast_2d(axes)[0]
        x, y = density["x"].values, density["y"].values
        for ax, t in zip(axes, shown, strict=True):
            im = ax.imshow(
                rho.sel(time=t, method="nearest").values.T,
                origin="lower",
                cmap=DENSITY_CMAP,
                extent=(x[0], x[-1], y[0], y[-1]),
                aspect="equal",
            )
            ax.set_title(f"t = {float(t):.2f}")
            ax.set_xlabel("x (reduced units)")
            ax.grid(False)
        axes[0].set_ylabel("y (reduced units)")
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="density (reduced units)")
    return fig


def dataset_kind(ds: xr.Dataset) -> str:
    """``trajectory``, ``entropy``, ``emergence``, ``loss``, ``density``, ``quantum-state``,
    ``quantum-entropy``, ``schedule-study`` or ``likelihood``, from variables and attrs."""
    if ds.attrs.get("kind") in ("quantum-state", "quantum-entropy"):
        return str(ds.attrs["kind"])
    if ds.attrs.get("kind") == "emergence" or ("coarse_entropy" in ds.data_vars and "scale" in ds.dims):
        return "emergence"
    if ds.attrs.get("kind") == "density" or "density" in ds.data_vars:
        return "density"
    if "position" in ds.data_vars:
        return "trajectory"
    if "entropy" in ds.data_vars and "estimator" in ds.dims:
        return "entropy"
    if "loss" in ds.data_vars and "step" in ds.dims:
        return "loss"
    if {"schedule", "nfe"} <= set(ds.dims) and "action" in ds.data_vars:
        return "schedule-study"
    if "log_likelihood" in ds.data_vars and "point" in ds.dims:
        return "likelihood"
    raise ValueError(
        "not a dustsim trajectory, entropy, emergence, loss, density, quantum, schedule-study or likelihood dataset"
    )


def likelihood_plot(ds: xr.Dataset, *, ax: Any = None) -> Any:
    """Histogram of the per-point log-likelihoods of ``dustsim likelihood``, with their mean ± 2 SE (nats)."""
    with dustsim_style():
        fig, ax = new_axes(ax, size=(5.0, 3.4))
        values = np.asarray(ds["log_likelihood"].values, dtype=np.float64)
        finite = values[np.isfinite(values)]
        ax.hist(finite, bins=max(10, min(60, int(np.sqrt(finite.size)))), color=PALETTE[0], alpha=0.7)
        mean = float(np.mean(finite)) if finite.size else math.nan
        se = float(np.std(finite, ddof=1) / np.sqrt(finite.size)) if finite.size > 1 else math.nan
        ax.axvline(mean, color="k", lw=1.0, label=f"mean {mean:.4g} ± {2 * se:.2g} (2 SE)")
        ax.axvspan(mean - 2 * se, mean + 2 * se, color="k", alpha=0.15, lw=0)
        ax.set_xlabel("log-likelihood per point [nats]")
        ax.set_ylabel("points")
        ax.set_title(f"log-likelihood under {ds.attrs.get('model', 'the model')} ({finite.size} points)")
        ax.legend(loc="upper left")
    return fig


def plot_dataset(ds: xr.Dataset, *, style: str | None = None) -> Any:
    """The default figure of any dustsim dataset (see :func:`dataset_kind`)."""
    kind = dataset_kind(ds)
    if kind == "trajectory":
        return density_heatmaps(ds) if style == "heatmap" else filmstrip(ds)
    if kind == "entropy":
        return information_panels(ds) if style == "panels" else entropy_plot(ds)
    if kind == "loss":
        return loss_plot(ds)
    if kind == "quantum-entropy":
        from .quantum_plots import quantum_entropy_panels

        return quantum_entropy_panels(ds)
    if kind == "quantum-state" and "y" not in ds["density"].dims:
        from .quantum_plots import density_matrix_heatmaps, wigner_snapshots

        return density_matrix_heatmaps(ds) if style == "heatmap" else wigner_snapshots(ds)
    if kind == "emergence":
        from .emergence_plot import emergence_plot

        return emergence_plot(ds)
    if kind == "schedule-study":
        from .schedule_study import plot_schedule_study

        return plot_schedule_study(ds, score=str(ds["score"].values[0]))
    if kind == "likelihood":
        return likelihood_plot(ds)
    return density_plot(ds)
