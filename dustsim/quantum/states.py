"""Initial quantum states on a :class:`~dustsim.quantum.grid.QuantumGrid`.

Pure states are complex arrays ``psi`` of shape ``(n,)`` (1-D) or ``(n, n)`` (2-D, axes
``x, y`` on the same grid), normalised so that ``sum |psi|^2 dx^d = 1`` (``psi`` in
``length^(-d/2)``). Density matrices are Hermitian ``(n, n)`` arrays ``rho[i, j] =
rho(x_i, x_j)`` with trace ``sum_i rho_ii dx = 1`` (``1 / length``).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ..errors import ConfigError
from .grid import QuantumGrid

#: relative size of rho - rho^H, and most negative eigenvalue relative to the largest, allowed
HERMITIAN_TOLERANCE = 1e-10


def normalise(grid: QuantumGrid, psi: ArrayLike, what: str = "the state") -> NDArray[np.complex128]:
    """``psi / ||psi||`` on the grid.

    Raises
    ------
    ConfigError
        Non-finite values, or a norm that is zero or not finite (not normalisable).
    """
    psi = np.asarray(psi, dtype=np.complex128)
    if psi.ndim not in (1, 2) or any(s != grid.n for s in psi.shape):
        raise ConfigError(f"{what} must have shape ({grid.n},) or ({grid.n}, {grid.n}) on this grid, got {psi.shape}")
    if not np.all(np.isfinite(psi)):
        raise ConfigError(f"{what} has non-finite values (NaN or inf): not normalisable")
    norm2 = float(np.sum(np.abs(psi) ** 2)) * grid.dx**psi.ndim
    if not (math.isfinite(norm2) and norm2 > 1e-300):
        raise ConfigError(f"{what} is not normalisable: its norm on the grid is {math.sqrt(norm2):g}")
    return np.asarray(psi / math.sqrt(norm2), dtype=np.complex128)


def gaussian_packet(
    grid: QuantumGrid, centre: float = 0.0, width: float = 0.5, momentum: float = 0.0
) -> NDArray[np.complex128]:
    """A minimum-uncertainty Gaussian packet, ``|psi|^2 = N(centre, width^2)``, mean momentum ``momentum``.

    Parameters
    ----------
    centre, width : float
        Mean and standard deviation of the position density (length).
    momentum : float
        Mean momentum (momentum units); the momentum spread is ``hbar / (2 width)``.
    """
    if not (math.isfinite(width) and width > 0):
        raise ConfigError(f"the packet width must be positive, got {width!r}")
    x = grid.x
    psi = np.exp(-((x - centre) ** 2) / (4 * width**2) + 1j * momentum * x / grid.hbar)
    return normalise(grid, psi, "the Gaussian packet")


def cat_state(
    grid: QuantumGrid,
    separation: float = 4.0,
    width: float = 0.3,
    centre: float = 0.0,
    phase: float = 0.0,
    momentum: float = 0.0,
) -> NDArray[np.complex128]:
    """A "cat": equal superposition of two packets at ``centre -/+ separation / 2``, relative phase ``phase``."""
    a = gaussian_packet(grid, centre - separation / 2, width, momentum)
    b = gaussian_packet(grid, centre + separation / 2, width, -momentum)
    return normalise(grid, a + np.exp(1j * phase) * b, "the cat state")


def artifact_state(
    grid: QuantumGrid,
    spec: str,
    *,
    n: int = 20_000,
    seed: int = 0,
    options: dict[str, Any] | None = None,
    bandwidth: float | None = None,
) -> NDArray[np.complex128]:
    """A real state whose ``|psi|^2`` is an artifact's 1-D density (zero mean momentum).

    ``gmm`` and ``gaussian`` artifacts have their exact density; other artifacts the
    Gaussian kernel density estimate of ``n`` of their points (``bandwidth``: kernel
    standard deviation, default scipy's Scott rule), so ``|psi|^2`` is that smoothed law.
    A density with sharp edges has a long momentum tail: the grid check refuses it if the
    grid cannot carry it.
    """
    from ..artifacts import make_artifact
    from ..mixture import GaussianMixture

    art = make_artifact(spec, n, 1, seed=seed, options=options)
    x = grid.x
    kind = art.params["kind"]
    if kind == "gmm":
        density = np.exp(GaussianMixture.from_artifact(art.params).logpdf(x[:, None]))
    elif kind == "gaussian":
        s = float(art.params["std"]) * float(art.params.get("scale", 1.0))
        m = float(art.params["mean"]) * float(art.params.get("scale", 1.0))
        density = np.exp(-0.5 * ((x - m) / s) ** 2)
    else:
        from scipy.stats import gaussian_kde

        points = art.positions[:, 0]
        if np.ptp(points) == 0:
            raise ConfigError(f"artifact {spec!r} puts every point at one place: |psi|^2 would be a delta")
        factor = None if bandwidth is None else bandwidth / float(np.std(points, ddof=1))
        density = gaussian_kde(points, bw_method=factor)(x)
    return normalise(grid, np.sqrt(np.maximum(density, 0.0)), f"the state of artifact {spec!r}")


def pure_density_matrix(psi: NDArray[np.complex128]) -> NDArray[np.complex128]:
    """``rho(x, x') = psi(x) psi*(x')`` of a 1-D pure state."""
    psi = np.asarray(psi, dtype=np.complex128)
    if psi.ndim != 1:
        raise ConfigError("density matrices are 1-D: pass a 1-D wavefunction")
    return np.outer(psi, psi.conj())


def check_density_matrix(grid: QuantumGrid, rho: ArrayLike, what: str = "the density matrix") -> NDArray[np.complex128]:
    """Validate and normalise a density matrix (Hermitian, positive semi-definite, finite trace).

    Raises
    ------
    ConfigError
        Wrong shape, non-finite values, non-Hermitian (``||rho - rho^H|| > 1e-10 ||rho||``),
        negative eigenvalues below ``-1e-10`` of the largest, or a trace that is not
        positive and finite (not normalisable).
    """
    m: NDArray[np.complex128] = np.asarray(rho, dtype=np.complex128)
    if m.shape != (grid.n, grid.n):
        raise ConfigError(f"{what} must have shape ({grid.n}, {grid.n}) on this grid, got {m.shape}")
    if not np.all(np.isfinite(m)):
        raise ConfigError(f"{what} has non-finite values (NaN or inf)")
    scale = float(np.linalg.norm(m))
    if not scale > 0:
        raise ConfigError(f"{what} is zero: not normalisable")
    asym = float(np.linalg.norm(m - m.conj().T)) / scale
    if asym > HERMITIAN_TOLERANCE:
        raise ConfigError(f"{what} is not Hermitian (||rho - rho^H|| / ||rho|| = {asym:.2g})")
    m = 0.5 * (m + m.conj().T)
    trace = float(np.trace(m).real) * grid.dx
    if not (math.isfinite(trace) and trace > 0):
        raise ConfigError(f"{what} is not normalisable: its trace is {trace:g}")
    eig = np.linalg.eigvalsh(m)
    if eig[0] < -HERMITIAN_TOLERANCE * max(abs(eig[-1]), 1e-300):
        raise ConfigError(f"{what} is not positive semi-definite (eigenvalue {eig[0] * grid.dx:.2g} after normalising)")
    return np.asarray(m / trace, dtype=np.complex128)


def gaussian_mixed_state(
    grid: QuantumGrid, centre: float = 0.0, width: float = 0.5, momentum_width: float | None = None
) -> NDArray[np.complex128]:
    """A Gaussian mixed state: position ``N(centre, width^2)``, momentum ``N(0, momentum_width^2)``.

    ``rho(x, x') = N exp(-((x + x')/2 - centre)^2 / 2 width^2 - momentum_width^2 (x - x')^2 / 2 hbar^2)``;
    ``momentum_width = hbar / (2 width)`` (the default) is the pure packet, larger ones
    mixtures (a thermal momentum spread ``sqrt(m kT)``), smaller ones are not states.
    Purity ``hbar / (2 width momentum_width)``.
    """
    s_p = grid.hbar / (2 * width) if momentum_width is None else float(momentum_width)
    if not (math.isfinite(width) and width > 0 and math.isfinite(s_p) and s_p > 0):
        raise ConfigError("a Gaussian state needs positive width and momentum_width")
    if width * s_p < grid.hbar / 2 * (1 - 1e-12):
        raise ConfigError(
            f"width * momentum_width = {width * s_p:.3g} < hbar/2: violates the uncertainty relation, not a state"
        )
    x = grid.x
    mid, chord = 0.5 * (x[:, None] + x[None, :]), x[:, None] - x[None, :]
    rho = np.exp(-0.5 * ((mid - centre) / width) ** 2 - 0.5 * (s_p * chord / grid.hbar) ** 2).astype(np.complex128)
    return rho / (np.trace(rho).real * grid.dx)


#: the initial-state kinds of :func:`make_state`, with their options and defaults
STATE_KINDS: dict[str, dict[str, Any]] = {
    "gaussian": {"centre": 0.0, "width": 0.5, "momentum": 0.0},
    "cat": {"separation": 4.0, "width": 0.3, "centre": 0.0, "phase": 0.0, "momentum": 0.0},
    "mixed": {"centre": 0.0, "width": 0.5, "momentum_width": None},
    "artifact": {},
    "file": {},
}


def parse_state(spec: str) -> tuple[str, dict[str, Any]]:
    """Split a state spec: ``"cat:separation=6"`` -> ``("cat", {"separation": 6.0})``.

    ``"artifact:gmm:k=3"`` -> ``("artifact", {"spec": "gmm:k=3"})``.
    """
    from ..spec import finite_number, parse_options

    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"empty state spec; choose one of: {', '.join(STATE_KINDS)}")
    kind, _, rest = spec.strip().partition(":")
    kind = kind.strip().lower()
    if kind not in STATE_KINDS:
        raise ConfigError(f"unknown quantum state {kind!r}; choose one of: {', '.join(STATE_KINDS)}")
    if kind == "artifact":
        if not rest.strip():
            raise ConfigError("state 'artifact' needs an artifact spec: 'artifact:gmm:k=3,std=0.1'")
        return kind, {"spec": rest.strip()}
    if kind == "file":
        if not rest.strip():
            raise ConfigError("state 'file' needs a path: 'file:state.npy'")
        return kind, {"path": rest.strip()}
    options: dict[str, Any] = {}
    for key, value in parse_options(rest, "state").items():
        if key not in STATE_KINDS[kind]:
            raise ConfigError(f"state {kind!r} has no option {key!r}; its options are: {', '.join(STATE_KINDS[kind])}")
        options[key] = finite_number(value, key, f"state {kind!r}")
    return kind, options


def make_state(grid: QuantumGrid, spec: str, *, dim: int = 1, seed: int = 0) -> tuple[NDArray[np.complex128], bool]:
    """The initial state named by ``spec`` (see :data:`STATE_KINDS`); returns ``(state, is_pure)``.

    Pure states are wavefunctions (``(n,)``, or the product ``psi(x) psi(y)`` in 2-D);
    ``mixed`` is a density matrix (1-D only). ``file:PATH.npy`` reads a user's state on this
    grid: a complex ``(n,)`` wavefunction, an ``(n, n)`` density matrix (1-D) or an
    ``(n, n)`` wavefunction (2-D), validated (normalisable; Hermitian and positive).
    """
    kind, o = parse_state(spec)
    if kind == "file":
        return _state_file(grid, o["path"], dim)
    if kind == "mixed":
        if dim != 1:
            raise ConfigError("mixed states are density matrices: 1-D only")
        return gaussian_mixed_state(grid, **o), False
    if kind == "gaussian":
        psi = gaussian_packet(grid, **o)
    elif kind == "cat":
        psi = cat_state(grid, **o)
    else:
        psi = artifact_state(grid, o["spec"], seed=seed)
    if dim == 2:
        psi = normalise(grid, np.outer(psi, psi), f"the 2-D state {spec!r}")
    elif dim != 1:
        raise ConfigError(f"quantum dust is 1-D or 2-D, got dim = {dim}")
    return psi, True


def _state_file(grid: QuantumGrid, path: str, dim: int) -> tuple[NDArray[np.complex128], bool]:
    from pathlib import Path

    from ..errors import InputFileError

    file = Path(path).expanduser()
    if file.suffix.lower() != ".npy" or not file.is_file():
        raise InputFileError(f"state file {file} not found (a .npy array: psi of shape (n,), or rho of shape (n, n))")
    try:
        data = np.load(file, allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - any reader failure is a bad input file
        raise InputFileError(f"cannot read state file {file}: {exc}") from None
    if not np.issubdtype(data.dtype, np.number):
        raise InputFileError(f"state file {file}: values are not numbers (dtype {data.dtype})")
    if data.ndim == 1 and dim == 1:
        return normalise(grid, data, f"the state in {file.name}"), True
    if data.ndim == 2 and dim == 2:
        return normalise(grid, data, f"the state in {file.name}"), True
    if data.ndim == 2 and dim == 1:
        return check_density_matrix(grid, data, f"the density matrix in {file.name}"), False
    raise InputFileError(
        f"state file {file}: shape {data.shape} is neither psi ({grid.n},) nor rho ({grid.n}, {grid.n}) for dim = {dim}"
    )


__all__ = [
    "HERMITIAN_TOLERANCE",
    "STATE_KINDS",
    "artifact_state",
    "cat_state",
    "check_density_matrix",
    "gaussian_mixed_state",
    "gaussian_packet",
    "make_state",
    "normalise",
    "parse_state",
    "pure_density_matrix",
]
