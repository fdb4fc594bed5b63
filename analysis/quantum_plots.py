"""Figures of quantum dust: Wigner snapshots, rho(x, x') heat maps, entropy panels, spreading.

Every function takes the Datasets of :func:`dustsim.quantum.run.quantum_run` /
:func:`analysis.quantum.quantum_entropy` and returns a matplotlib ``Figure``, in
dustsim's style (:mod:`analysis.plotting`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import xarray as xr

from dustsim.quantum.run import density_matrices, wigner_frames

from .plot_style import DENSITY_CMAP, PALETTE, dustsim_style, new_axes

#: diverging map for the Wigner function (negative = blue, positive = red; colour-blind safe)
WIGNER_CMAP = "RdBu_r"


def _frame_indices(ds: xr.Dataset, times: Sequence[float] | None, n_frames: int) -> list[int]:
    t = np.asarray(ds["time"].values, dtype=float)
    if times is None:
        return sorted(set(np.linspace(0, len(t) - 1, min(n_frames, len(t))).round().astype(int).tolist()))
    return [int(np.argmin(np.abs(t - float(s)))) for s in times]


def _window(density: np.ndarray, x: np.ndarray, mass: float = 0.999) -> tuple[float, float]:
    """The smallest x-range that holds ``mass`` of every frame's density (with a margin)."""
    c = np.cumsum(density, axis=-1)
    c = c / c[..., -1:]
    lo = x[int(np.min(np.argmax(c >= (1 - mass) / 2, axis=-1)))]
    hi = x[int(np.max(np.argmax(c >= 1 - (1 - mass) / 2, axis=-1)))]
    pad = 0.1 * (hi - lo) + (x[1] - x[0])
    return float(lo - pad), float(hi + pad)


def wigner_snapshots(ds: xr.Dataset, times: Sequence[float] | None = None, *, n_frames: int = 4) -> Any:
    """The Wigner function ``W(x, p)`` at several times (1-D states); negative regions in blue."""
    idx = _frame_indices(ds, times, n_frames)
    sub = ds.isel(time=idx)
    p, W = wigner_frames(sub)
    x = np.asarray(ds["x"].values)
    xlo, xhi = _window(sub["density"].values, x)
    pd = W.sum(axis=1)
    plo, phi = _window(pd, p)
    vmax = float(np.max(np.abs(W)))
    with dustsim_style():
        fig, axes = new_axes(ncols=len(idx), size=(2.8, 2.7))
        axes = np.atleast_2d(axes)[0]
        for ax, w, t in zip(axes, W, sub["time"].values, strict=True):
            im = ax.imshow(
                w.T,
                origin="lower",
                extent=(x[0], x[-1], p[0], p[-1]),
                aspect="auto",
                cmap=WIGNER_CMAP,
                vmin=-vmax,
                vmax=vmax,
                interpolation="nearest",
            )
            ax.set_xlim(xlo, xhi)
            ax.set_ylim(plo, phi)
            ax.set_title(f"t = {float(t):.3g}")
            ax.set_xlabel("x (reduced units)")
            ax.grid(False)
        axes[0].set_ylabel("p (reduced units)")
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="W(x, p)")
    return fig


def density_matrix_heatmaps(ds: xr.Dataset, times: Sequence[float] | None = None, *, n_frames: int = 4) -> Any:
    """``|rho(x, x')|`` at several times (1-D states): coherences are the off-diagonal."""
    idx = _frame_indices(ds, times, n_frames)
    sub = ds.isel(time=idx)
    rhos = density_matrices(sub)
    if rhos is None:
        raise ValueError("rho(x, x') heat maps need a wavefunction or density-matrix dataset (1-D)")
    x = np.asarray(ds["x"].values)
    lo, hi = _window(sub["density"].values, x)
    with dustsim_style():
        fig, axes = new_axes(ncols=len(idx), size=(2.7, 2.7))
        axes = np.atleast_2d(axes)[0]
        for ax, r, t in zip(axes, rhos, sub["time"].values, strict=True):
            im = ax.imshow(
                np.abs(r).T,
                origin="lower",
                extent=(x[0], x[-1], x[0], x[-1]),
                cmap=DENSITY_CMAP,
                interpolation="nearest",
            )
            ax.set_xlim(lo, hi)
            ax.set_ylim(lo, hi)
            ax.set_title(f"t = {float(t):.3g}")
            ax.set_xlabel("x")
            ax.grid(False)
        axes[0].set_ylabel("x'")
        fig.colorbar(im, ax=list(axes), shrink=0.8, label="|rho(x, x')| (reduced units)")
    return fig


def quantum_entropy_panels(qe: xr.Dataset) -> Any:
    """Four panels over time: entropies (von Neumann, Shannon of ``|psi|^2``), purity, coherence length, negativity."""
    t = qe["time"].values
    with dustsim_style():
        fig, axes = new_axes(ncols=4, size=(3.0, 2.6))
        axes = np.atleast_2d(axes)[0]
        ax = axes[0]
        ax.plot(t, qe["shannon"].values, color=PALETTE[0], label="Shannon of |psi|^2")
        if np.any(np.isfinite(qe["von_neumann"].values)):
            ax.plot(t, qe["von_neumann"].values, color=PALETTE[3], label="von Neumann")
            ax.axhline(np.log(2), color="0.5", lw=0.8, ls=":", label="ln 2")
        ax.set_ylabel("nats")
        ax.legend(frameon=False, fontsize=8)
        for ax, var, label in zip(
            axes[1:],
            ("purity", "coherence_length", "negative_volume"),
            ("purity tr rho^2", "coherence length", "Wigner negative volume"),
            strict=True,
        ):
            values = qe[var].values
            ok = np.isfinite(values)
            ax.plot(t[ok], values[ok], color=PALETTE[{"purity": 1, "coherence_length": 2}.get(var, 4)], marker=".")
            ax.set_title(label)
        axes[0].set_title(f"entropy ({qe.attrs.get('representation', '')})")
        for ax in axes:
            ax.set_xlabel("t (reduced units)")
        fig.tight_layout()
    return fig


def spreading_plot(
    quantum: xr.Dataset, classical: xr.Dataset | None = None, *, label: str = "classical", ax: Any = None
) -> Any:
    """Standard deviation of the position over time: quantum ``|psi|^2``, and a classical run overlaid.

    ``classical`` is a trajectory (std of the first axis over particles per frame) or a
    Fokker-Planck density dataset (std of its 1-D density).
    """
    from .quantum import quantum_entropy

    qe = quantum_entropy(quantum, wigner_every=10**9)
    with dustsim_style():
        fig, ax = new_axes(ax, size=(4.6, 3.2))
        ax.plot(qe["time"].values, qe["position_std"].values, color=PALETTE[0], label="quantum |psi|^2")
        if classical is not None:
            if "position" in classical.data_vars:
                std = classical["position"].isel(spatial=0).std("particle").values
                t = classical["time"].values
            else:
                x = classical["x"].values
                d = classical["density"].values
                d = d / d.sum(axis=1, keepdims=True)
                mean = (d * x).sum(axis=1, keepdims=True)
                std = np.sqrt((d * (x - mean) ** 2).sum(axis=1))
                t = classical["time"].values
            ax.plot(t, std, color=PALETTE[3], ls="--", label=label)
        ax.set_xlabel("t (reduced units)")
        ax.set_ylabel("position std (reduced units)")
        ax.legend(frameon=False)
        ax.set_title("spreading: quantum and classical dust")
    return fig


__all__ = ["density_matrix_heatmaps", "quantum_entropy_panels", "spreading_plot", "wigner_snapshots"]
