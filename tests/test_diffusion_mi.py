"""The diffusion (conditional-denoiser) mutual-information estimator: known MI, wiring, bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats_helpers import Z

import dustsim
from analysis import diffusion_mi, entropy_trajectory
from analysis.diffusion_mi import diffusion_mutual_information
from dustsim.cli import main
from dustsim.errors import ConfigError


@pytest.fixture(autouse=True)
def _one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def _correlated(n: int, rho: float, d: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d))
    return x, rho * x + math.sqrt(1 - rho**2) * rng.standard_normal((n, d))


def test_correlated_gaussians_inside_the_interval():
    # I = -d/2 log(1 - rho^2) for d independent pairs with correlation rho
    rho, d = 0.8, 2
    x, y = _correlated(1500, rho, d, seed=11)
    exact = -0.5 * d * math.log(1 - rho**2)
    est = diffusion_mutual_information(x, y, steps=400, seed=3)
    assert est.estimator == "diffusion" and est.n == 1500 and est.dim == 2 * d
    assert est.ci_low <= exact <= est.ci_high, (est.value, est.ci, exact)
    assert est.ci_high - est.ci_low < 0.5 * exact  # informative, not a blanket interval
    assert len(est.params["fold_estimates"]) == 2


def test_independent_variables_give_small_mi_and_bits_convert():
    rng = np.random.default_rng(5)
    x, y = rng.standard_normal((600, 1)), rng.standard_normal((600, 1))
    est = diffusion_mutual_information(x, y, steps=150, seed=1, units="bits")
    assert est.units == "bits" and est.ci_low == 0.0  # clipped at 0, and 0 is inside
    assert 0.0 <= est.value < 0.1


def test_network_variance_cancels_for_independent_heavy_tails():
    # independent Student-t (nu = 2) 3+3: the true MI is 0. The held-out |d|^2 alone is
    # positive by the variance of the fitted correction (about 7 SE above 0 here); the
    # reported mean with the held-out loss gain cancels that term and stays within Z SE of 0
    rng = np.random.default_rng(40)
    x, y = rng.standard_t(2.0, (1500, 3)), rng.standard_t(2.0, (1500, 3))
    est = diffusion_mutual_information(x, y, steps=600, seed=0)
    held, gain = est.params["held_out_difference"], est.params["held_out_loss_gain"]
    assert held > Z * est.se and gain < held
    assert 0.0 <= est.value < Z * est.se, (est.value, est.se, held, gain)
    assert est.ci_low == 0.0


def test_same_seed_same_answer():
    x, y = _correlated(200, 0.5, 1, seed=2)
    a = diffusion_mutual_information(x, y, steps=20, seed=4, n_draws=4)
    b = diffusion_mutual_information(x, y, steps=20, seed=4, n_draws=4)
    assert a.value == b.value and a.se == b.se


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"y": np.zeros((50, 1))}, "same number of samples"),
        ({"x": np.zeros((5, 1)), "y": np.zeros((5, 1))}, "at least 20"),
        ({"steps": 0}, "steps must be a positive integer"),
        ({"marginals": "rank"}, "marginals"),
        ({"log_snr_scale": -1.0}, "log_snr_scale"),
    ],
)
def test_bad_input_is_a_config_error(kwargs, match):
    x, y = _correlated(100, 0.5, 1, seed=0)
    args = {"x": x, "y": y, **kwargs}
    with pytest.raises(ConfigError, match=match):
        diffusion_mutual_information(args.pop("x"), args.pop("y"), **args)


def test_entropy_trajectory_and_cli_use_the_diffusion_estimator(tmp_path, monkeypatch, capsys):
    calls = []
    real = diffusion_mi.diffusion_mutual_information

    def quick(x, y, **kw):  # the real estimator, only with a short training
        calls.append(len(x))
        return real(x, y, steps=30, n_draws=4, **kw)

    monkeypatch.setattr(diffusion_mi, "diffusion_mutual_information", quick)
    ds = dustsim.simulate(init="gmm", n=400, process="vp", steps=20, record_every=10, seed=5)
    e = entropy_trajectory(ds, mi_estimator="diffusion", kl=False, exact=False)
    assert calls == [400, 400]  # frames 1 and 2; frame 0 (X_t = X_0) is KSG's saturated value
    assert e["mutual_information"].attrs["estimator"] == "diffusion"
    assert np.all(np.isfinite(e["mutual_information"].values)) and np.all(e["mutual_information"].values >= 0)
    with pytest.raises(ConfigError, match="mutual-information estimator"):
        entropy_trajectory(ds, mi_estimator="mine")

    traj, out = tmp_path / "run.nc", tmp_path / "h.nc"
    dustsim.save_dataset(ds, traj)
    assert main(["entropy", str(traj), "-o", str(out), "--mi-estimator", "diffusion"]) == 0, capsys.readouterr().err
    assert dustsim.open_dataset(out)["mutual_information"].attrs["estimator"] == "diffusion"
    assert main(["entropy", str(traj), "-o", str(out), "--mi-estimator", "nope"]) == 2
