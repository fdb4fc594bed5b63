r"""Mutual information from a conditional diffusion denoiser (I-MMSE; MINDE, Franzese et al. 2024).

For the Gaussian channel :math:`z_\gamma = \sqrt\gamma\,x + \varepsilon` the I-MMSE relation
(Guo, Shamai & Verdú 2005), applied once with and once without the side information y, gives

.. math::

   I(X; Y) = \tfrac12\int_0^\infty [\mathrm{mmse}(X\mid z_\gamma) - \mathrm{mmse}(X\mid z_\gamma, Y)]\,d\gamma
           = \tfrac12\int_{-\infty}^{\infty} E\,|\hat\varepsilon_c - \hat\varepsilon_m|^2\,d\lambda

in the log-SNR :math:`\lambda = \log\gamma`, with :math:`\hat\varepsilon_c = E[\varepsilon\mid z_\gamma, y]` and
:math:`\hat\varepsilon_m = E[\varepsilon\mid z_\gamma]` the noise predictions (the second form is the
orthogonality of conditional-mean errors, :math:`E|\varepsilon - \hat\varepsilon_m|^2 =
E|\varepsilon - \hat\varepsilon_c|^2 + E|\hat\varepsilon_c - \hat\varepsilon_m|^2`;
it is non-negative term by term and has a far smaller variance than the difference of two
losses: the "difference" estimator of MINDE-C).

**One model: a marginal denoiser plus a conditional correction, condition dropped at
random.** One module holds two small residual trunks trained jointly on every batch: the
marginal noise predictor :math:`\hat\varepsilon_m(z, \lambda)` and a correction
:math:`w(\gamma)\,c(z, \lambda, m y, m)` with :math:`w = \sqrt\gamma/(1+\gamma)`, the exact
asymptotics of :math:`\hat\varepsilon_c - \hat\varepsilon_m` at both ends of the SNR range. The
correction is fitted to the residual of the (detached) marginal prediction, with the
condition dropped (m = 0) for a random half of every batch (as in MINDE): its m = 0 output
learns the marginal net's own error, which cancels in the integrand
:math:`|w (c(\cdot, y, 1) - c(\cdot, 0, 0))|^2`. Measured on BMI tasks at n = 5000: MINDE's
plain single network (no damping) over-estimated a 5+5 MI of 1.02 at 6-7 nats; the damped
correction without condition dropping absorbed the marginal's error (Student 3+3: 0.50 for
a true 0.29); with both, E|d|^2 was 0.28 after 1500 training steps and 0.40 after 4000 on
the same file: longer training raises the variance of the fitted correction, which
E|d|^2 counts as information; the variance-cancelled value below gives 0.245 and 0.275.

**Estimator.** The data are split in two halves; a network is trained on each half and
evaluated on the other (cross-fitting), so that every point gets a held-out estimate. On
held-out points two statistics are computed: :math:`E|d|^2` with d the predicted
difference :math:`\hat\varepsilon_c - \hat\varepsilon_m`, which exceeds the MI by the
variance :math:`E|e|^2` of the network's error e (plus a cross term), and the loss gain
:math:`E[2 r\cdot d - |d|^2]` (r the marginal's residual), which falls short of it by
:math:`E|e|^2`; their mean is reported, so the variance term cancels. Measured on the BMI
tasks (n = 5000): the over-estimates of heavy-tailed laws (Student-t 5+5: +0.28 and +0.36
nats with :math:`E|d|^2` alone) shrink to -0.07 and -0.10. The
λ-integral is importance sampled from a logistic law (stratified, ``n_draws`` per point);
the integrand decays like :math:`e^{\lambda}` and :math:`e^{-\lambda}` on the two sides, faster
than the proposal, so the weights stay bounded. The network is hand written here (on
dustsim's Fourier embedding and residual blocks) because no library offers a conditional
MI denoiser; the training loop is ten lines of plain AdamW.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from dustsim.errors import ConfigError

from ._input import as_points, dequantize_grid, quantisation_steps
from .information import gaussianize
from .result import Estimate, check_units, nats_to, with_interval

FloatArray = NDArray[np.float64]


def _prepare(
    x: FloatArray, y: FloatArray, tx: np.dtype, ty: np.dtype, marginals: str, seed: int
) -> tuple[FloatArray, FloatArray, str]:
    """Dequantise gridded axes, then map every axis to unit scale (ranks or standardisation)."""
    notes = []
    for i, (p, t) in enumerate(((x, tx), (y, ty))):
        steps = quantisation_steps(p, t)
        if np.any(steps > 0):
            p, how = dequantize_grid(p, steps, seed + 17 + i)
            notes.append(f"{'xy'[i]}: {how}")
        if marginals == "gaussianize":
            p = gaussianize(p)
        else:
            std = p.std(axis=0)
            p = (p - p.mean(axis=0)) / np.where(std > 0, std, 1.0)
        if i == 0:
            x = p
        else:
            y = p
    return x, y, "; ".join(notes)


def _network(dx: int, dy: int, width: int, depth: int, generator: Any) -> Any:
    import torch
    from torch import nn

    from dustsim.model.networks import FourierEmbedding, ResidualBlock, init_parameters

    class Trunk(nn.Module):
        """Residual MLP of ``[inputs, embedding(lambda)]`` (dustsim's blocks), zero output layer."""

        def __init__(self, n_in: int, n_out: int) -> None:
            super().__init__()
            self.embedding = FourierEmbedding(32, 0.25, 16.0)
            self.embed = nn.Sequential(nn.Linear(32, width), nn.SiLU(), nn.Linear(width, width))
            self.inp = nn.Linear(n_in, width)
            self.blocks = nn.ModuleList(ResidualBlock(width, width, "silu") for _ in range(depth))
            self.act = nn.SiLU()
            self.out = nn.Linear(width, n_out)

        def forward(self, h: torch.Tensor, log_snr: torch.Tensor) -> torch.Tensor:
            emb = self.embed(self.embedding(log_snr / 8.0))
            h = self.inp(h) + emb
            for block in self.blocks:
                h = block(h, emb)
            return self.out(self.act(h))

    class ConditionalNoisePredictor(nn.Module):
        """Marginal and conditional noise predictions of ``z = sqrt(snr) x + eps``.

        ``eps_m = z / (1 + snr) + sqrt(snr / (1 + snr)) marginal(z / sqrt(1 + snr), lambda)``
        (exact for N(0, I) data at zero net) and ``eps_c = eps_m + w(snr) correction(..., y)``
        with ``w = sqrt(snr) / (1 + snr)``: the exact asymptotics of ``eps_c - eps_m``
        (``sqrt(snr) (E[x|y] - E x)`` at low SNR, ``O(snr^-1/2)`` at high SNR), so that the
        integrand of the MI stays bounded where the network has seen little data.
        """

        def __init__(self) -> None:
            super().__init__()
            self.marginal = Trunk(dx, dx)
            self.correction = Trunk(dx + dy + 1, dx)

        def forward(
            self, z: torch.Tensor, log_snr: torch.Tensor, cond: torch.Tensor
        ) -> tuple[torch.Tensor, torch.Tensor]:
            """``(eps_m, w * correction(z, lambda, cond))``, ``cond = [m y, m]``."""
            frac = torch.sigmoid(log_snr)[:, None]  # snr / (1 + snr)
            zin = z * torch.sqrt(1.0 - frac)
            eps_m = z * (1.0 - frac) + torch.sqrt(frac) * self.marginal(zin, log_snr)
            w = torch.sqrt(frac * (1.0 - frac))
            return eps_m, w * self.correction(torch.cat([zin, cond], dim=-1), log_snr)

    net = ConditionalNoisePredictor()
    init_parameters(net, generator)
    with torch.no_grad():
        for trunk in (net.marginal, net.correction):
            trunk.out.weight.zero_()
            trunk.out.bias.zero_()
    return net


def _logistic_draws(u: NDArray[np.float64], loc: float, scale: float) -> tuple[FloatArray, FloatArray]:
    """Log-SNR draws at uniform quantiles ``u`` of a logistic law, and their densities."""
    u = np.clip(u, 1e-12, 1 - 1e-12)
    lam = loc + scale * np.log(u / (1 - u))
    density = u * (1 - u) / scale
    return lam, density


def _train(
    x: FloatArray,
    y: FloatArray,
    *,
    steps: int,
    batch_size: int,
    width: int,
    depth: int,
    lr: float,
    loc: float,
    scale: float,
    seed: int,
    weight_decay: float = 0.0,
) -> Any:
    import torch

    gen = torch.Generator().manual_seed(seed)
    net = _network(x.shape[1], y.shape[1], width, depth, gen)
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    n, b = len(xt), min(batch_size, len(xt))
    for _ in range(steps):
        idx = torch.randint(0, n, (b,), generator=gen)
        x0, y0 = xt[idx], yt[idx]
        u = torch.rand(b, generator=gen) * (1 - 2e-6) + 1e-6
        lam = loc + scale * torch.log(u / (1 - u))
        eps = torch.randn(x0.shape, generator=gen)
        z = torch.exp(0.5 * lam)[:, None] * x0 + eps
        m = (torch.rand(b, 1, generator=gen) < 0.5).to(torch.float32)
        eps_m, delta = net(z, lam, torch.cat([y0 * m, m], dim=-1))
        # the correction fits the residual of the (detached) marginal prediction, with the
        # condition dropped (m = 0) for half the batch: its m = 0 output learns the marginal
        # net's own error, which then cancels in the difference of the two outputs
        loss = ((eps_m - eps) ** 2).sum(-1).mean() + ((eps_m.detach() + delta - eps) ** 2).sum(-1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


def _per_point(
    net: Any, x: FloatArray, y: FloatArray, *, n_draws: int, loc: float, scale: float, rng: np.random.Generator
) -> tuple[FloatArray, FloatArray]:
    """Per-point importance-sampled estimates (nats) of ``1/2 int E_eps|eps_c - eps_m|^2 d lambda``
    and of the loss difference ``1/2 int E_eps(|eps - eps_m|^2 - |eps - eps_c|^2) d lambda``."""
    import torch

    n = len(x)
    # stratified quantiles of the proposal: one draw in each of n_draws equal-probability bins
    u = (np.arange(n_draws)[None, :] + rng.random((n, n_draws))) / n_draws
    lam, q = _logistic_draws(u, loc, scale)
    eps = rng.standard_normal((n, n_draws, x.shape[1]))
    z = np.exp(0.5 * lam)[..., None] * x[:, None, :] + eps
    yy = np.broadcast_to(y[:, None, :], (n, n_draws, y.shape[1]))
    flat = n * n_draws
    with torch.no_grad():
        zt = torch.as_tensor(z.reshape(flat, -1), dtype=torch.float32)
        lt = torch.as_tensor(lam.reshape(flat), dtype=torch.float32)
        cond = torch.as_tensor(yy.reshape(flat, -1), dtype=torch.float32)
        ones = torch.ones(flat, 1)
        eps_m, d1 = net(zt, lt, torch.cat([cond, ones], dim=-1))
        _, d0 = net(zt, lt, torch.zeros(flat, cond.shape[1] + 1))
        diff = (d1 - d0).double().numpy().reshape(n, n_draws, -1)
        resid = eps - (eps_m + d0).double().numpy().reshape(n, n_draws, -1)
    sq = np.einsum("ijk,ijk->ij", diff, diff)
    gain = 2.0 * np.einsum("ijk,ijk->ij", resid, diff) - sq  # |r|^2 - |r - diff|^2
    return 0.5 * np.mean(sq / q, axis=1), 0.5 * np.mean(gain / q, axis=1)


def diffusion_mutual_information(
    x: ArrayLike,
    y: ArrayLike,
    *,
    steps: int = 4000,
    batch_size: int = 512,
    width: int = 64,
    depth: int = 2,
    lr: float = 2e-3,
    weight_decay: float = 0.01,
    n_draws: int = 16,
    log_snr_loc: float = 0.0,
    log_snr_scale: float = 2.0,
    marginals: str = "gaussianize",
    seed: int = 0,
    units: str = "nats",
) -> Estimate:
    r"""I(X; Y) from a conditional denoiser trained on the data (MINDE-C, variance-cancelled).

    Parameters
    ----------
    x, y : array_like, shape (n, dx) and (n, dy)
        Paired samples (row i of x with row i of y); at least 20 pairs.
    steps, batch_size, width, depth, lr, weight_decay : int, int, int, int, float, float
        Training of each of the two networks (AdamW, cosine-decaying learning rate). The
        networks are deliberately small: with a few thousand points, wider ones memorise
        their half. The 4000 steps are those of the measured tables in docs/analysis.md.
    n_draws : int
        Monte Carlo draws (log-SNR, noise) per held-out point.
    log_snr_loc, log_snr_scale : float
        Logistic law of the log-SNR, for training and for importance sampling.
    marginals : {"gaussianize", "standardize"}
        Each axis mapped through its ranks to normal scores (default; MI is invariant
        under increasing maps of each axis, and the denoiser then sees unit-scale,
        light-tailed marginals) or standardised.
    seed : int
        Seed of the split, the network weights, the batches and the Monte Carlo draws.
    units : {"nats", "bits"}

    Returns
    -------
    Estimate
        ``value``: the cross-fitted held-out estimate (each half scored by the network
        trained on the other half), the mean of the two held-out statistics
        ``E|d|^2`` (d the predicted difference ``eps_c - eps_m``) and the loss gain
        ``E[2 r.d - |d|^2]`` (r the marginal prediction's residual), clipped at 0. With
        ``e`` the network's error in d, the first is ``I + 2 E[d*.e] + E|e|^2`` and the second
        ``I - E|e|^2``: the mean cancels the variance term ``E|e|^2``, by which ``E|d|^2``
        alone over-estimated heavy-tailed laws (Student-t 5+5 by +0.28 to +0.36 nats), and
        leaves the shrinkage term ``E[d*.e]``. ``se``: the Monte Carlo error over held-out
        points, combined with the excess spread between the two networks (training noise).
        ``bias`` is stated as 0 with ``bias_se`` the half-width of the bracket,
        ``E[d.(d - r)] = (E|d|^2 - gain) / 2`` (0 for exact denoisers), so the interval
        widens where the model generalises badly. This is a heuristic, not a proven bound:
        see docs/analysis.md for its measured coverage. ``params`` holds
        ``fold_estimates``, ``train_estimate`` (``E|d|^2`` on training points),
        ``held_out_difference`` (``E|d|^2``), ``held_out_loss_gain``, ``misfit`` and
        ``seconds``. Cost: two trainings of ``steps`` steps (about 15 s each on one quiet CPU
        core at the defaults) plus ``3 n n_draws`` network evaluations.

    Raises
    ------
    ConfigError
        Mismatched or too few samples, bad options.
    """
    check_units(units)
    px, tx = as_points(x, "x", min_points=20)
    py, ty = as_points(y, "y", min_points=20)
    if len(px) != len(py):
        raise ConfigError(f"x and y must have the same number of samples, got {len(px)} and {len(py)}")
    if marginals not in ("gaussianize", "standardize"):
        raise ConfigError(f"marginals must be 'gaussianize' or 'standardize', got {marginals!r}")
    for name, count in (
        ("steps", steps),
        ("batch_size", batch_size),
        ("width", width),
        ("depth", depth),
        ("n_draws", n_draws),
    ):
        if isinstance(count, bool) or not isinstance(count, (int, np.integer)) or count < 1:
            raise ConfigError(f"{name} must be a positive integer, got {count!r}")
    if not (lr > 0 and log_snr_scale > 0 and weight_decay >= 0 and math.isfinite(log_snr_loc)):
        raise ConfigError("lr and log_snr_scale must be positive, weight_decay >= 0, log_snr_loc finite")
    started = time.perf_counter()
    px, py, note = _prepare(px, py, tx, ty, marginals, seed)
    n = len(px)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(0x4D494E44,)))
    order = rng.permutation(n)
    folds = (order[: n // 2], order[n // 2 :])
    held, gain = np.empty(n), np.empty(n)
    fold_values, fold_se, train_values = [], [], []
    for fold, (train_idx, test_idx) in enumerate((folds, folds[::-1])):
        net = _train(
            px[train_idx],
            py[train_idx],
            steps=int(steps),
            batch_size=int(batch_size),
            width=int(width),
            depth=int(depth),
            lr=lr,
            loc=log_snr_loc,
            scale=log_snr_scale,
            seed=seed * 2 + fold,
            weight_decay=weight_decay,
        )
        held[test_idx], gain[test_idx] = _per_point(
            net, px[test_idx], py[test_idx], rng=rng, n_draws=n_draws, loc=log_snr_loc, scale=log_snr_scale
        )
        terms = 0.5 * (held[test_idx] + gain[test_idx])
        fold_values.append(float(terms.mean()))
        fold_se.append(float(terms.std(ddof=1)) / math.sqrt(len(terms)))
        own = train_idx[: len(test_idx)]
        own_terms, _ = _per_point(net, px[own], py[own], rng=rng, n_draws=n_draws, loc=log_snr_loc, scale=log_snr_scale)
        train_values.append(float(own_terms.mean()))
    # the two held-out statistics bracket the error e = d - d* of the predicted difference d
    # (d* the exact one): E|d|^2 = I + 2 E[d*.e] + E|e|^2 and the loss gain
    # E[2 r.d - |d|^2] = I - E|e|^2 (r the marginal's residual, E[r | z, y] = d*). Their mean
    # cancels E|e|^2, the variance of the fitted network, which made E|d|^2 alone over-estimate
    # by up to 0.36 nats on heavy-tailed BMI tasks; the cross term E[d*.e] (shrinkage of the fit)
    # is what is left.
    mid = 0.5 * (held + gain)
    value = max(float(mid.mean()), 0.0)  # MI >= 0: the clipped value is never farther from the truth
    se_mc = float(mid.std(ddof=1)) / math.sqrt(n)
    # spread between the two networks beyond their Monte Carlo errors: training noise
    excess = max(0.0, 0.5 * (fold_values[0] - fold_values[1]) ** 2 - 0.5 * (fold_se[0] ** 2 + fold_se[1] ** 2))
    se = math.sqrt(se_mc**2 + excess / 2)
    # misfit on held-out data: E[d.(d - r)] = E[d*.e] + E|e|^2 is 0 for the exact conditional
    # mean; it is half of |d|^2 minus the loss gain, the half-width of the bracket. It (with its
    # Monte Carlo error) is the stated uncertainty of the bias of the midpoint.
    misfit_terms = 0.5 * (held - gain)
    misfit = float(misfit_terms.mean())
    misfit_se = float(misfit_terms.std(ddof=1)) / math.sqrt(n)
    f = nats_to(units)
    params = {
        "steps": int(steps),
        "batch_size": int(batch_size),
        "width": int(width),
        "depth": int(depth),
        "lr": lr,
        "weight_decay": weight_decay,
        "n_draws": int(n_draws),
        "log_snr_loc": log_snr_loc,
        "log_snr_scale": log_snr_scale,
        "marginals": marginals,
        "fold_estimates": tuple(v * f for v in fold_values),
        "train_estimate": float(np.mean(train_values)) * f,
        "held_out_difference": float(held.mean()) * f,
        "held_out_loss_gain": float(gain.mean()) * f,
        "misfit": misfit * f,
        "seconds": time.perf_counter() - started,
    }
    est = Estimate(
        value * f,
        se * f,
        units=units,
        estimator="diffusion",
        n=n,
        dim=px.shape[1] + py.shape[1],
        params=params,
        note=note,
    )
    return with_interval(est, bias=0.0, bias_se=math.hypot(misfit, misfit_se) * f, lower=0.0)


__all__ = ["diffusion_mutual_information"]
