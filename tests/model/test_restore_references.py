"""``dustsim restore``'s references: exact posterior mean and draw errors, independent-sample floor."""

from __future__ import annotations

import numpy as np
import pytest

from dustsim.cli import main
from dustsim.mixture import GaussianMixture
from dustsim.processes import make_process

Z = 4.5


@pytest.fixture(scope="module")
def law():
    return GaussianMixture(
        np.array([[0.8, 0.0], [-0.5, 0.5], [0.0, -0.7]]), np.array([0.1, 0.2, 0.05]), np.array([0.5, 0.3, 0.2])
    )


@pytest.mark.parametrize("t", [0.2, 0.5])
def test_exact_posterior_draw_has_twice_the_mmse(law, t):
    """E|draw - x0|^2 = 2 E|E[x0|xt] - x0|^2, and the draws follow the data's law (mean, variance)."""
    rng = np.random.default_rng(3)
    vp = make_process("vp")
    a, s = float(vp.alpha(t)), float(vp.sigma(t))
    n = 40_000
    x0 = law.sample(n, rng)
    xt = a * x0 + s * rng.standard_normal(x0.shape)
    mean_err = ((law.posterior_mean(xt, a, s) - x0) ** 2).sum(axis=1)
    draw = law.posterior_sample(xt, a, s, seed=rng)
    draw_err = ((draw - x0) ** 2).sum(axis=1)
    diff = draw_err - 2 * mean_err
    assert abs(diff.mean()) < Z * diff.std(ddof=1) / np.sqrt(n)
    # marginally, posterior draws of x_t ~ p_t are draws of p_0
    exact_mean = law.weights @ law.means
    exact_var = law.weights @ (law.means**2 + law.stds[:, None] ** 2) - exact_mean**2
    assert np.all(np.abs(draw.mean(axis=0) - exact_mean) < Z * np.sqrt(exact_var / n))
    se_var = np.sqrt(((draw - exact_mean) ** 2).var(axis=0, ddof=1) / n)
    assert np.all(np.abs(((draw - exact_mean) ** 2).mean(axis=0) - exact_var) < Z * se_var)


def test_restore_summary_reports_references(tmp_path, gmm_trajectory, tiny_model_path, capsys):
    import dustsim

    traj = tmp_path / "gmm.nc"
    dustsim.save_dataset(gmm_trajectory, traj)
    out = tmp_path / "r.nc"
    code = main(
        [
            "restore",
            str(tiny_model_path),
            str(traj),
            "--from-time",
            "0.3",
            "--steps",
            "40",
            "--seed",
            "1",
            "--device",
            "cpu",
            "-o",
            str(out),
        ]
    )
    stdout, err = capsys.readouterr()
    assert code == 0, err
    assert "exact posterior draw" in stdout and "exact posterior mean" in stdout
    assert "independent-sample floor" in stdout
    ds = dustsim.open_dataset(out)
    # no restoration (a function of x_t and fresh noise) beats the exact posterior mean in mean square
    diff = ds.restored_error.values**2 - ds.exact_posterior_mean_error.values**2
    assert diff.mean() > -Z * diff.std(ddof=1) / np.sqrt(diff.size)
    # the exact draw's error is sqrt(2) x the posterior mean's in rms
    d2 = ds.exact_posterior_draw_error.values**2 - 2 * ds.exact_posterior_mean_error.values**2
    assert abs(d2.mean()) < Z * d2.std(ddof=1) / np.sqrt(d2.size)
    floor, sd = ds.attrs["energy_distance_floor"], ds.attrs["energy_distance_floor_sd"]
    assert floor > 0 and sd > 0


def test_energy_distance_is_not_paired_with_own_original(tmp_path, gmm_trajectory, tiny_model_path):
    """Holding every particle restores the originals exactly: a paired distance would be 0, the
    unpaired one is an independent-sample distance, at the floor."""
    from dustsim.model import load_model, restore

    model = load_model(tiny_model_path, "cpu")
    n, d = gmm_trajectory.sizes["particle"], gmm_trajectory.sizes["spatial"]
    out = restore(model, gmm_trajectory, 0.3, {"steps": 5}, hold=np.ones((n, d), dtype=bool), seed=4)
    np.testing.assert_array_equal(out.restored_error.values, 0.0)
    ed, floor, sd = (
        out.attrs[k] for k in ("energy_distance_restored", "energy_distance_floor", "energy_distance_floor_sd")
    )
    assert ed > 0
    assert abs(ed - floor) < Z * sd
