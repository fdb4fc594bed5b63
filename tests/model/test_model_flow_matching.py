"""Flow matching (process ``fm``): a model trained by DSM on the linear interpolant has an exact
PF-ODE likelihood close to the truth; FM dust runs through ``dustsim train`` / ``entropy``.

The full-size check (the 8-Gaussian default mixture, within 0.03 nats) is in
``scripts/bench/fm_likelihood.py``; this one is sized for the suite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from stats_helpers import Z

import dustsim
from dustsim.cli import main
from dustsim.model import GaussianMixture, NetworkConfig, TrainConfig, model_log_likelihood, train

ARTIFACT = {"k": 2, "radius": 0.6, "std": 0.25}


@pytest.fixture(scope="module")
def fm_trajectory():
    import torch

    ds = dustsim.simulate(init="gmm", artifact=ARTIFACT, n=4000, process="fm", steps=20, record_every=10, seed=2)
    torch.set_num_threads(1)
    return ds


def test_fm_model_likelihood_matches_the_exact_mixture(fm_trajectory):
    mixture = GaussianMixture.from_trajectory(fm_trajectory)
    res = train(
        fm_trajectory,
        network=NetworkConfig(width=64, depth=2),
        training=TrainConfig(
            steps=1200, batch_size=512, seed=0, device="cpu", threads=1, patience=0, checkpoint_every=0
        ),
    )
    assert res.model.process.name == "fm" and res.model.t_max == pytest.approx(1.0, abs=1e-3)
    held = mixture.sample(600, np.random.default_rng(4))
    ll = model_log_likelihood(res.model, held, seed=0).log_likelihood.values
    gap = ll - mixture.logpdf(held)  # paired: far less noisy than comparing the mean with the entropy
    se = gap.std(ddof=1) / math.sqrt(len(gap))
    assert abs(gap.mean()) < 0.03 + Z * se and se < 0.01, (gap.mean(), se)
    entropy, entropy_se = mixture.entropy(100_000, seed=1)
    assert abs(-ll.mean() - entropy) < 0.03 + Z * math.hypot(ll.std(ddof=1) / math.sqrt(len(ll)), entropy_se)


def test_fm_dust_through_the_cli(tmp_path, fm_trajectory, capsys):
    path = tmp_path / "fm.nc"
    dustsim.save_dataset(fm_trajectory, path)
    code = main(["entropy", str(path), "-o", str(tmp_path / "h.nc"), "--max-particles", "1000"])
    out, err = capsys.readouterr()
    assert code == 0, err
    h = dustsim.open_dataset(tmp_path / "h.nc")
    assert np.all(np.isfinite(h.entropy.sel(estimator=h.estimator.values[0]).values))
    code = main(
        [
            "train",
            str(path),
            "-o",
            str(tmp_path / "m.pt"),
            "--steps",
            "20",
            "--width",
            "8",
            "--depth",
            "1",
            "--device",
            "cpu",
            "--no-progress",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "stopped at step 20" in out
