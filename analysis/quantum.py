"""Quantum entropy along the way: the information content of a quantum-state Dataset.

:func:`quantum_entropy` reads a Dataset written by ``dustsim quantum``
(:func:`dustsim.quantum.run.quantum_run`; ``kind = "quantum-state"``) and returns, per
frame (nats):

``von_neumann``
    ``S = -tr rho ln rho`` from the eigenvalues ``lambda`` of ``rho dx`` (clipped at 0).
    0 for a pure state, ``ln 2`` for an even mixture of two orthogonal packets. Not
    available (NaN) for Wigner-representation runs (Caldeira-Leggett), whose grid does
    not hold every ``rho(x, x')``.
``purity``
    ``tr rho^2`` (``2 pi hbar int W^2`` in the Wigner representation).
``shannon``
    ``-int |psi|^2 ln |psi|^2 dx``: the differential entropy (nats, length units) of
    the position measurement, what the Born samples' entropy estimates.
``coherence_length``
    ``l = sqrt(2 sum (x - x')^2 |rho|^2 / sum |rho|^2)`` (length): ``hbar / sigma_p``
    for a Gaussian state (``2 sigma`` for a pure packet), and it shrinks as dephasing
    kills the off-diagonal.
``negative_volume``
    ``int max(-W, 0) dx dp`` of the Wigner function (1-D states): the non-classicality
    decoherence removes.
``position_mean``, ``position_std``
    Of ``|psi|^2`` (length), for spreading plots.

The grid sums are exact for states that the grid resolves (spectral accuracy); 2-D
pure states get the Shannon entropy and moments of their ``x`` marginal and of the joint
density, purity 1 and ``S = 0`` by construction.
"""

from __future__ import annotations

import math

import numpy as np
import xarray as xr
from numpy.typing import NDArray

from dustsim.quantum.phase_space import negative_volume, wigner, wigner_cell
from dustsim.quantum.run import density_matrix, grid_of, validate_state_dataset
from dustsim.schema import history_line


def von_neumann_entropy(rho: NDArray[np.complex128], dx: float) -> float:
    """``-sum lambda ln lambda`` over the eigenvalues of ``rho dx`` (nats)."""
    lam = np.clip(np.linalg.eigvalsh(0.5 * (rho + rho.conj().T)) * dx, 0.0, None)
    lam = lam[lam > 1e-300]
    return float(-np.sum(lam * np.log(lam)))


def shannon_entropy(density: NDArray[np.float64], cell: float) -> float:
    """``-sum p ln p cell`` of a grid density (nats; differential entropy in ``length^d``)."""
    p = np.clip(np.asarray(density, dtype=np.float64), 0.0, None)
    p = p[p > 0]
    return float(-np.sum(p * np.log(p)) * cell)


def _coherence_length(rho: NDArray[np.complex128], x: NDArray[np.float64]) -> float:
    w = np.abs(rho) ** 2
    chord2 = (x[:, None] - x[None, :]) ** 2
    return math.sqrt(2.0 * float(np.sum(chord2 * w) / np.sum(w)))


def _chord_coherence_length(W: NDArray[np.float64], p: NDArray[np.float64], dx: float, hbar: float) -> float:
    r = np.fft.ifftshift(np.arange(-len(p) // 2, len(p) - len(p) // 2)) * 2 * dx
    chord = W @ np.exp(1j * np.outer(p, r) / hbar)
    w = np.abs(chord) ** 2
    return math.sqrt(2.0 * float(np.sum(r**2 * w) / np.sum(w)))


def quantum_entropy(ds: xr.Dataset, *, wigner_every: int = 1) -> xr.Dataset:
    """Entropy, purity, coherence and non-classicality of every frame of a quantum-state Dataset.

    Parameters
    ----------
    ds : xarray.Dataset
        A quantum-state Dataset (``kind = "quantum-state"``).
    wigner_every : int
        Compute the Wigner negative volume on every ``wigner_every``-th frame (NaN on the
        others; it costs an ``n x n`` FFT per frame).

    Returns
    -------
    xarray.Dataset
        Variables over ``time`` (see the module docstring); ``attrs`` carry ``units =
        "nats"``, ``hbar``, ``representation`` and the source's provenance.
    """
    validate_state_dataset(ds)
    grid = grid_of(ds)
    rep = ds.attrs["representation"]
    x = grid.x
    nt = ds.sizes["time"]
    density = ds["density"].values
    two_d = density.ndim == 3
    out = {
        name: np.full(nt, np.nan)
        for name in (
            "von_neumann",
            "purity",
            "shannon",
            "coherence_length",
            "negative_volume",
            "position_mean",
            "position_std",
        )
    }
    marginal = density.sum(axis=2) * grid.dx if two_d else density
    cell = grid.dx**2 if two_d else grid.dx
    for k in range(nt):
        out["shannon"][k] = shannon_entropy(density[k], cell)
        m = marginal[k] / (marginal[k].sum() * grid.dx)
        mean = float(np.sum(m * x) * grid.dx)
        out["position_mean"][k] = mean
        out["position_std"][k] = math.sqrt(max(float(np.sum(m * (x - mean) ** 2) * grid.dx), 0.0))
    if two_d:
        out["von_neumann"][:] = 0.0
        out["purity"][:] = 1.0
    elif rep == "wigner":
        p = np.asarray(ds["p"].values)
        W = ds["wigner"].values
        for k in range(nt):
            out["purity"][k] = 2 * math.pi * grid.hbar * float(np.sum(W[k] ** 2)) * wigner_cell(grid)
            out["coherence_length"][k] = _chord_coherence_length(W[k], p, grid.dx, grid.hbar)
            if k % wigner_every == 0:
                out["negative_volume"][k] = negative_volume(grid, W[k])
    else:
        pure = rep == "wavefunction"
        for k in range(nt):
            rho = density_matrix(ds, k)
            assert rho is not None  # 1-D wavefunction or density matrix here
            out["purity"][k] = float(np.sum(np.abs(rho) ** 2)) * grid.dx**2
            out["von_neumann"][k] = 0.0 if pure else von_neumann_entropy(rho, grid.dx)
            out["coherence_length"][k] = _coherence_length(rho, x)
            if k % wigner_every == 0:
                out["negative_volume"][k] = negative_volume(grid, wigner(grid, rho))
    attrs = {
        "von_neumann": {"long_name": "von Neumann entropy -tr rho ln rho", "units": "nats"},
        "purity": {"long_name": "purity tr rho^2", "units": "1"},
        "shannon": {"long_name": "Shannon (differential) entropy of |psi|^2", "units": "nats"},
        "coherence_length": {"long_name": "coherence length sqrt(2 <(x - x')^2>_|rho|^2)", "units": "1"},
        "negative_volume": {"long_name": "negative volume of the Wigner function", "units": "1"},
        "position_mean": {"long_name": "mean position", "units": "1"},
        "position_std": {"long_name": "standard deviation of the position", "units": "1"},
    }
    data = {name: ("time", values, attrs[name]) for name, values in out.items()}
    return xr.Dataset(
        data,
        coords={"time": ds["time"], "step": ds["step"]},
        attrs={
            "title": "dustsim quantum entropy",
            "kind": "quantum-entropy",
            "units": "nats",
            "representation": rep,
            "hbar": grid.hbar,
            "mass": grid.mass,
            "dephasing": ds.attrs.get("dephasing", 0.0),
            "gamma": ds.attrs.get("gamma", 0.0),
            "kT": ds.attrs.get("kT", 0.0),
            "config": ds.attrs.get("config", ""),
            "history": "\n".join([str(ds.attrs.get("history", "")), history_line("quantum entropy")]).strip(),
        },
    )


__all__ = ["quantum_entropy", "shannon_entropy", "von_neumann_entropy"]
