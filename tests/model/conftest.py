"""Fixtures of the score-model tests: one torch thread (the CI machine has two cores), shared laws."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")


@pytest.fixture(autouse=True)
def _one_thread():
    """One torch thread per test. Numba's OpenMP layer (dustsim.simulate) resets the
    shared OpenMP thread count, so this is re-applied before every test, and training
    configs in these tests pass ``threads=1`` for runs that follow a simulation."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def mixture():
    """An asymmetric 2-D mixture: unequal weights and widths (sharper tests than a symmetric ring)."""
    from dustsim.model import GaussianMixture

    return GaussianMixture(
        np.array([[0.8, 0.0], [-0.5, 0.5], [0.0, -0.7]]), np.array([0.1, 0.2, 0.05]), np.array([0.5, 0.3, 0.2])
    )


@pytest.fixture(scope="session")
def gmm_trajectory():
    """A small forward VP trajectory of the default Gaussian-mixture artifact (21 frames)."""
    import dustsim

    ds = dustsim.simulate(init="gmm", n=3000, process="vp", steps=100, record_every=5, seed=1)
    torch.set_num_threads(1)
    return ds


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory, gmm_trajectory):
    """A small DSM model of ``gmm_trajectory`` written to disk (about 10 s of training on one core)."""
    from dustsim.model import NetworkConfig, TrainConfig, train

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    train(
        gmm_trajectory,
        path,
        network=NetworkConfig(width=64, depth=2),
        training=TrainConfig(
            steps=1000, batch_size=512, warmup=100, seed=0, device="cpu", checkpoint_every=0, threads=1
        ),
    )
    return path


@pytest.fixture(scope="session")
def tiny_model(tiny_model_path):
    from dustsim.model import load_model

    return load_model(tiny_model_path, "cpu")
