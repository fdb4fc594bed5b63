"""Training pieces: preconditioning, exact-kernel data, DSM / SSM-VR losses, EMA, loop, checkpoints, resume."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
import torch
import xarray as xr
from stats_helpers import assert_within_se

import dustsim
from dustsim.errors import ConfigError, InputFileError
from dustsim.model import (
    Denoiser,
    KernelPairs,
    NetworkConfig,
    TrainConfig,
    dsm_loss,
    load_model,
    make_network,
    read_checkpoint,
    score_error,
    ssm_vr_loss,
    train,
)
from dustsim.model import training as training_module
from dustsim.model.training import ema_update, learning_rate, loss_log_path, partial_checkpoint
from dustsim.processes import make_process

TINY_NET = NetworkConfig(width=16, depth=1)


def tiny_cfg(**kw):
    base = {
        "steps": 40,
        "batch_size": 64,
        "warmup": 5,
        "seed": 3,
        "device": "cpu",
        "log_every": 10,
        "checkpoint_every": 0,
        "threads": 1,
    }
    return TrainConfig(**{**base, **kw})


def test_import_dustsim_does_not_import_torch():
    code = (
        "import sys, dustsim, dustsim.cli; from dustsim.cli import main; "
        "main(['--help']); assert 'torch' not in sys.modules, 'torch was imported'"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_denoiser_preconditioning():
    net = make_network("mlp", 2, generator=torch.Generator().manual_seed(0), width=8, depth=1)
    den = Denoiser(net, sigma_data=0.5, data_mean=np.array([0.2, -0.1]))
    level = torch.tensor([1e-3, 0.5, 10.0])
    c_skip, c_out, c_in, c_noise = den.coefficients(level)
    total = level**2 + 0.25
    torch.testing.assert_close(c_skip, 0.25 / total)
    torch.testing.assert_close(c_out, level * 0.5 / total.sqrt())
    torch.testing.assert_close(c_in, 1 / total.sqrt())
    torch.testing.assert_close(c_noise, level.log() / 4)
    # vanishing noise: D is the identity; huge noise: D is the data mean plus a bounded correction
    x = torch.randn(5, 2, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(den(x, 1e-7), x, atol=1e-6, rtol=0)
    far = den(1e4 * x, 1e4)
    assert torch.all((far - den.data_mean).abs() < 5 * 0.5)


@pytest.mark.parametrize("weighting", ["edm", "sigma2", "likelihood"])
def test_dsm_loss_is_the_weighted_score_error(weighting):
    """dsm_loss == mean lambda(t) |score_model - conditional score|^2 with the documented lambda."""
    process = make_process("ou", k=1.5, D=0.4, centre=0.3)
    x0 = np.random.default_rng(0).normal(size=(100, 2))
    pairs = KernelPairs(x0, process, 1e-3, 2.0)
    batch = pairs.draw(256, torch.Generator().manual_seed(0))
    net = make_network("resmlp", 2, generator=torch.Generator().manual_seed(0), width=8, depth=1)
    torch.nn.init.normal_(net.out.weight, std=0.3, generator=torch.Generator().manual_seed(1))
    den = Denoiser(net, 0.8, x0.mean(0))
    a, s, g = batch["alpha"].double(), batch["sigma"].double(), batch["g"].double()
    c = process.centre
    d = den((batch["x_t"] - c) / batch["alpha"][:, None] + c, batch["sigma"] / batch["alpha"]).double()
    model_score = -(batch["x_t"].double() - c - a[:, None] * (d - c)) / s[:, None] ** 2
    target = torch.as_tensor(
        process.conditional_score(
            batch["x_t"].double().numpy(), batch["x0"].double().numpy(), batch["t"].double().numpy()
        )
    )
    err = (model_score - target).square().sum(1)
    level = s / a
    lam = {"sigma2": s**2, "likelihood": g**2, "edm": (level**2 + 0.64) / (level**2 * 0.64) * a**2 * level**4}[
        weighting
    ]
    expected = (lam * err).mean()
    got = dsm_loss(den, batch, weighting, centre=c)
    assert got.item() == pytest.approx(expected.item(), rel=2e-3)


@pytest.mark.parametrize("sampling", ["log-level", "uniform", "edm"])
def test_kernel_pairs_follow_the_exact_kernel(sampling):
    from scipy.stats import truncnorm

    process = make_process("vp")
    x0 = np.tile([[0.5, -0.2]], (10, 1))
    pairs = KernelPairs(x0, process, 1e-4, 1.0, time_sampling=sampling)
    b = pairs.draw(20000, torch.Generator().manual_seed(4))
    t = b["t"].double().numpy()
    a, s = process.alpha(t), process.sigma(t)
    z = (b["x_t"].double().numpy() - a[:, None] * x0[0]) / s[:, None]
    n = z.size
    assert_within_se(z.mean(), 0.0, 1 / math.sqrt(n), "kernel noise mean")
    assert_within_se((z**2).mean(), 1.0, math.sqrt(2 / n), "kernel noise variance")
    exact_target = process.conditional_score(b["x_t"].double().numpy(), x0[:1], t)
    np.testing.assert_allclose(b["target"].numpy(), exact_target, rtol=2e-3, atol=1e-3)
    lo, hi = np.log(process.sigma(1e-4) / process.alpha(1e-4)), np.log(process.sigma(1.0) / process.alpha(1.0))
    m = len(t)
    if sampling == "uniform":
        assert_within_se(t.mean(), (1 + 1e-4) / 2, (1 - 1e-4) / math.sqrt(12 * m), "uniform times")
    else:
        lev = np.log(s / a)
        if sampling == "log-level":
            mean, sd = (lo + hi) / 2, (hi - lo) / math.sqrt(12)
        else:
            law = truncnorm((lo + 1.2) / 1.2, (hi + 1.2) / 1.2, loc=-1.2, scale=1.2)
            mean, sd = law.mean(), law.std()
        assert_within_se(lev.mean(), mean, sd / math.sqrt(m), f"{sampling} noise levels")


class Linear(torch.nn.Module):
    """s(x) = -a x: the family containing the exact score of N(0, v I) (a = 1 / v)."""

    def __init__(self, a):
        super().__init__()
        self.a = torch.nn.Parameter(torch.tensor(float(a)))

    def forward(self, x, t):
        return -self.a * x


def test_ssm_vr_loss_is_score_matching():
    """E[v^T J v + |s|^2 / 2] for s = -a x on N(0, v I): -a d + a^2 d v / 2 (minimum at the true score)."""
    v, d = 0.3, 2
    gen = torch.Generator().manual_seed(0)
    for a in (1 / v, 0.5 / v):
        values = []
        for _ in range(30):
            x = math.sqrt(v) * torch.randn((2000, d), generator=gen, dtype=torch.float64)
            batch = {"x": x, "t": torch.zeros(2000)}
            values.append(ssm_vr_loss(Linear(a).double(), batch, gen, n_projections=2).item())
        exact = -a * d + 0.5 * a * a * d * v
        assert_within_se(np.mean(values), exact, np.std(values, ddof=1) / math.sqrt(len(values)), f"SSM-VR a={a:g}")


def test_ema_and_learning_rate_schedule():
    model, ema = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        ema.weight.fill_(0.0)
    ema_update(ema, model, decay=0.99, step=1000)
    torch.testing.assert_close(ema.weight, torch.full_like(ema.weight, 0.01))
    ema_update(ema, model, decay=0.99, step=0)  # warm-up: decay (1 + 0) / (10 + 0) = 0.1
    torch.testing.assert_close(ema.weight, torch.full_like(ema.weight, 0.01 * 0.1 + 0.9))
    cfg = TrainConfig(lr=1e-2, warmup=10, steps=110, lr_schedule="cosine")  # the default (auto) has no cosine
    assert learning_rate(0, cfg) == pytest.approx(1e-3)
    assert learning_rate(9, cfg) == pytest.approx(1e-2)
    assert learning_rate(60, cfg) == pytest.approx(1e-4 + 0.5 * (1e-2 - 1e-4))
    assert learning_rate(110, cfg) == pytest.approx(1e-4)


def test_training_learns_the_score(gmm_trajectory, tiny_model):
    """Training cuts the exact score error (vs the analytic mixture score) far below the untrained model's.

    The untrained model is not a straw man: with EDM preconditioning and a zero output layer
    it is the optimal denoiser of a Gaussian with the data's mean and variance.
    """
    from dustsim.model import GaussianMixture

    mixture = GaussianMixture.from_trajectory(gmm_trajectory)
    untrained = train(gmm_trajectory, network=NetworkConfig(width=64, depth=2), training=tiny_cfg(steps=1)).model
    trained = tiny_model
    times = [0.02, 0.1]  # by t = 0.3 the mixture is nearly Gaussian: both are right there
    before = score_error(untrained.score_fn, mixture, untrained.process, times, n=2000, rng=1)
    after = score_error(trained.score_fn, mixture, trained.process, times, n=2000, rng=1)
    gap = before.mse - after.mse
    assert np.all(gap > 4.5 * np.hypot(before.mse_se, after.mse_se)), (before.mse.values, after.mse.values)


def test_outputs_checkpoint_and_loss_log(tmp_path, gmm_trajectory):
    out = tmp_path / "m.pt"
    res = train(gmm_trajectory, out, network=TINY_NET, training=tiny_cfg(checkpoint_every=10))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.loss.nc", "m.pt"]
    log = xr.open_dataset(loss_log_path(out))
    assert list(log.step.values) == [10, 20, 30, 40]
    assert set(log.data_vars) == {"loss", "lr", "grad_norm", "wall_time"}
    assert log.attrs["objective"] == "dsm" and log.attrs["seed"] == 3 and "train" in log.attrs["history"]
    assert np.all(np.isfinite(log.loss.values))
    state = read_checkpoint(out)
    assert state["step"] == 40 and state["dustsim_version"] == dustsim.__version__
    meta = state["meta"]
    assert meta["dim"] == 2 and meta["process"]["name"] == "vp" and meta["training"]["seed"] == 3
    assert meta["kind"] == "denoiser" and set(state) >= {"model", "ema", "optimizer", "rng", "log"}
    model = load_model(out, "cpu")
    assert model.step == 40 and model.dim == 2
    x = torch.zeros(4, 2)
    torch.testing.assert_close(model.score_fn(x, 0.5), res.model.score_fn(x, 0.5))


def test_same_seed_same_weights(gmm_trajectory):
    a = train(gmm_trajectory, network=TINY_NET, training=tiny_cfg(steps=15)).model.module.state_dict()
    b = train(gmm_trajectory, network=TINY_NET, training=tiny_cfg(steps=15)).model.module.state_dict()
    c = train(gmm_trajectory, network=TINY_NET, training=tiny_cfg(steps=15, seed=4)).model.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


@pytest.mark.parametrize("objective", ["dsm", "ssm"])
def test_resume_is_bit_exact(tmp_path, monkeypatch, gmm_trajectory, objective):
    cfg = tiny_cfg(steps=30, checkpoint_every=10, objective=objective)
    straight = train(gmm_trajectory, tmp_path / "a.pt", network=TINY_NET, training=cfg)
    real_save = training_module.save_checkpoint
    calls = []

    def interrupting_save(state, path):
        real_save(state, path)
        calls.append(path)
        if str(path).endswith(".partial") and len(calls) == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(training_module, "save_checkpoint", interrupting_save)
    out = tmp_path / "b.pt"
    with pytest.raises(KeyboardInterrupt):
        train(gmm_trajectory, out, network=TINY_NET, training=cfg)
    assert partial_checkpoint(out).exists() and not out.exists()
    assert read_checkpoint(partial_checkpoint(out))["step"] == 20
    monkeypatch.setattr(training_module, "save_checkpoint", real_save)
    resumed = train(
        gmm_trajectory, out, network=TINY_NET, training=tiny_cfg(steps=30, objective=objective, seed=None), resume=True
    )
    assert not partial_checkpoint(out).exists()
    a, b = straight.model.module.state_dict(), resumed.model.module.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    np.testing.assert_array_equal(straight.log.loss.values, resumed.log.loss.values)
    with pytest.raises(ConfigError, match="lr"):
        train(
            gmm_trajectory, out, network=TINY_NET, training=tiny_cfg(steps=40, lr=1.0, objective=objective), resume=True
        )


def test_bad_inputs(tmp_path, gmm_trajectory):
    with pytest.raises(InputFileError, match="no such model file"):
        load_model(tmp_path / "missing.pt", "cpu")
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"\x00not a checkpoint" * 10)
    with pytest.raises(InputFileError, match="not a readable dustsim model checkpoint"):
        load_model(junk, "cpu")
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(3)}, other)
    with pytest.raises(InputFileError, match="not a dustsim model checkpoint"):
        load_model(other, "cpu")
    with pytest.raises(ConfigError, match="unknown key 'width'"):
        TrainConfig.from_dict({"width": 3})
    with pytest.raises(ConfigError, match="lr must be"):
        TrainConfig(lr=-1.0).validate()
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="no CUDA GPU"):
            train(gmm_trajectory, training=tiny_cfg(device="cuda"))
    reverse = gmm_trajectory.assign_attrs(direction="reverse")
    with pytest.raises(InputFileError, match="forward trajectory"):
        train(reverse, training=tiny_cfg())
