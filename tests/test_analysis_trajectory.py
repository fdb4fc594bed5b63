"""Entropy trajectories of simulated runs: exact references, H-theorem, MI, files, CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import xarray as xr
from stats_helpers import Z, assert_within_se

import dustsim
from analysis import GaussianMixture, entropy_trajectory
from analysis.gmm import mixture_entropy
from analysis.thermo import h_theorem
from dustsim.cli import main
from dustsim.errors import ConfigError


@pytest.fixture(scope="module")
def vp_gmm():
    return dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "std": 0.1},
        n=100_000,
        process="vp",
        steps=200,
        record_every=40,
        seed=1,
        dtype="float64",
    )


@pytest.fixture(scope="module")
def vp_entropy(vp_gmm):
    return entropy_trajectory(vp_gmm, exact_samples=200_000, mi_max_particles=10_000)


def test_knn_entropy_follows_the_exact_mixture_entropy(vp_entropy):
    e = vp_entropy
    knn = e["entropy"].sel(estimator="knn")
    se = np.hypot(e["entropy_se"].sel(estimator="knn"), e["exact_entropy_se"])
    assert_within_se(knn.values, e["exact_entropy"].values, se.values, "kNN vs exact entropy along VP")
    assert np.all(np.abs(knn - e["exact_entropy"]) < 0.03)  # "within a few hundredths" at n = 1e5
    # the end is the stationary N(0, I): H = log(2 pi e)
    assert_within_se(float(e["exact_entropy"][-1]), math.log(2 * math.pi * math.e), float(e["exact_entropy_se"][-1]))


def test_kl_to_equilibrium_is_non_increasing_and_right(vp_gmm, vp_entropy):
    e = vp_entropy
    check = h_theorem(e)
    assert check.attrs["holds"] == 1 and check.attrs["guaranteed"] == 1
    # KL_0 exactly: -H(p_0) + E_p0[-log N(0, I)], both by Monte Carlo with the exact law
    mix = GaussianMixture.from_trajectory(vp_gmm)
    x, _ = mix.sample_labelled(400_000, seed=3)
    cross = 0.5 * np.sum(x**2, axis=1) + math.log(2 * math.pi)
    h = mixture_entropy(mix, 400_000, seed=4)
    exact = -h.value + cross.mean()
    se = math.hypot(float(e["kl_to_equilibrium_se"][0]), h.se, cross.std() / math.sqrt(len(cross)))
    assert_within_se(float(e["kl_to_equilibrium"][0]), exact, se, "KL(p_0 || N(0, I))")
    assert_within_se(float(e["kl_to_equilibrium"][-1]), 0.0, float(e["kl_to_equilibrium_se"][-1]), "KL at t = 1")


def test_mutual_information_vanishes_as_t_goes_to_1(vp_entropy):
    e = vp_entropy
    mi, mi_se = e["mutual_information"].values, e["mutual_information_se"].values
    assert mi[0] > 5 and mi[1] > 0.3  # t = 0: X_t = X_0, KSG saturates near psi(n) - psi(k)
    assert np.all(np.diff(mi) < Z * np.hypot(mi_se[1:], mi_se[:-1]))
    assert_within_se(mi[-1], 0.0, mi_se[-1], "KSG I(X_0; X_1)")
    lin = e["mutual_information_linear"].values
    assert lin[0] == math.inf and e["mutual_information_linear_se"].values[0] == 0.0  # exact, not estimated
    assert_within_se(lin[-1], 0.0, e["mutual_information_linear_se"].values[-1], "linear I(X_0; X_1)")
    # the two routes agree where the information is moderate
    assert abs(lin[1] - mi[1]) < Z * math.hypot(mi_se[1], e["mutual_information_linear_se"].values[1]) + 0.05


def test_provenance_units_and_meaning(vp_gmm, vp_entropy):
    e = vp_entropy
    for a in ("config", "seed", "process", "source", "direction"):
        assert e.attrs[a] == vp_gmm.attrs[a]
    lines = e.attrs["history"].splitlines()
    assert len(lines) == 2 and "entropy_trajectory" in lines[-1]
    assert e["entropy"].attrs["units"] == "nats" and "d*log(a)" in e["entropy"].attrs["note"]
    np.testing.assert_array_equal(e["step"], vp_gmm["step"])
    bits = entropy_trajectory(vp_gmm.isel(time=[0, -1]), units="bits", max_particles=5000, mutual_information=False)
    nats = entropy_trajectory(vp_gmm.isel(time=[0, -1]), max_particles=5000, mutual_information=False)
    np.testing.assert_allclose(bits["entropy"], nats["entropy"] / math.log(2), rtol=1e-12)
    np.testing.assert_allclose(bits["kl_to_equilibrium"], nats["kl_to_equilibrium"] / math.log(2), rtol=1e-12)


def test_entropy_of_a_wide_artifact_rises_then_falls_while_kl_falls():
    ds = dustsim.simulate(
        init="gmm",
        artifact={"k": 4, "std": 0.3, "radius": 4.0},
        n=20_000,
        process="vp",
        steps=200,
        record_every=20,
        seed=2,
        dtype="float64",
    )
    e = entropy_trajectory(ds, mutual_information=False, exact=False)
    h = e["entropy"].sel(estimator="knn").values
    se = e["entropy_se"].sel(estimator="knn").values
    top = int(np.argmax(h))
    assert 0 < top < len(h) - 1
    assert h[top] - h[0] > Z * math.hypot(se[top], se[0]) and h[top] - h[-1] > Z * math.hypot(se[top], se[-1])
    check = h_theorem(e)
    assert check.attrs["holds"] == 1 and check.attrs["entropy_monotone"] == 0


def test_coarse_grained_entropy_on_a_scale_dimension(vp_gmm):
    e = entropy_trajectory(
        vp_gmm,
        estimators=("knn", "binned", "gaussian"),
        scales=[0.05, 0.2, 0.8],
        max_particles=20_000,
        mutual_information=False,
        exact=False,
    )
    cg = e["coarse_grained_entropy"]
    assert cg.dims == ("time", "scale")
    # coarser cells lose information: the discrete entropy falls with the scale
    assert np.all(np.diff(cg.values, axis=1) < 0)
    # the Gaussian estimate bounds the entropy from above (up to noise)
    gap = e["entropy"].sel(estimator="gaussian") - e["entropy"].sel(estimator="knn")
    assert np.all(gap > -Z * e["entropy_se"].sel(estimator="knn"))


def test_point_source_start_is_reported(recwarn):
    ds = dustsim.simulate(
        init="point", n=5000, dim=2, process="vp", steps=100, record_every=50, seed=3, dtype="float64"
    )
    e = entropy_trajectory(ds)
    assert bool(e["degenerate"][0, 0]) and e["entropy"][0, 0] == -math.inf
    assert e["kl_to_equilibrium"][0] == math.inf
    assert np.all(np.isfinite(e["entropy"][1:]))


def test_zarr_trajectory_is_read_frame_by_frame(tmp_path, vp_gmm):
    path = tmp_path / "run.zarr"
    ds = dustsim.simulate(init="gmm", n=30_000, process="vp", steps=100, record_every=25, seed=4, output=path)
    opened = dustsim.open_trajectory(path)
    assert opened["position"].chunks is not None  # dask-backed: never loaded whole
    lazy = entropy_trajectory(opened, max_particles=10_000, mi_max_particles=2000)
    eager = entropy_trajectory(opened.load(), max_particles=10_000, mi_max_particles=2000)
    xr.testing.assert_identical(lazy.drop_attrs(), eager.drop_attrs())
    assert lazy.attrs["n_particles_used"] == 10_000
    del ds


def test_reverse_direction_and_realizations(vp_gmm):
    small = vp_gmm.isel(particle=slice(0, 5000))
    fwd = entropy_trajectory(small, exact=False)
    rev = small.isel(time=slice(None, None, -1)).assign_attrs(direction="reverse")
    back = entropy_trajectory(rev, exact=False)
    np.testing.assert_allclose(back["entropy"].values[::-1], fwd["entropy"].values, rtol=1e-12)
    # X_0 is the frame at the smallest time in both directions
    np.testing.assert_allclose(back["mutual_information"].values[::-1], fwd["mutual_information"].values, rtol=1e-12)
    assert "mutual_information_linear" not in back  # the forward kernel says nothing about a reverse run
    shuffled = small.assign(position=(small["position"].dims, small["position"].values[:, ::-1]))
    ens = xr.concat([small, shuffled], dim="realization")
    per = entropy_trajectory(ens, exact=False, mutual_information=False, max_particles=None)
    assert per["entropy"].dims == ("realization", "time", "estimator")
    np.testing.assert_allclose(per["entropy"][0], per["entropy"][1], rtol=1e-12)  # same points, reordered


def test_bad_requests_raise_config_errors(vp_gmm):
    with pytest.raises(ConfigError, match="estimator"):
        entropy_trajectory(vp_gmm, estimators=("nope",))
    with pytest.raises(ConfigError, match="position"):
        entropy_trajectory(xr.Dataset())
    with pytest.raises(ConfigError, match="max_particles"):
        entropy_trajectory(vp_gmm, max_particles=-1)
    ou = dustsim.simulate(init="gaussian", n=500, process="brownian", steps=10, record_every=5, seed=1)
    with pytest.raises(ConfigError, match="Gaussian-mixture"):
        entropy_trajectory(ou, exact=True)
    assert "kl_to_equilibrium" not in entropy_trajectory(ou, mutual_information=False)


def test_cli_entropy(tmp_path, capsys):
    traj = tmp_path / "run.nc"
    dustsim.save_dataset(dustsim.simulate(init="gmm", n=3000, process="vp", steps=50, record_every=25, seed=5), traj)
    out = tmp_path / "h.nc"
    code = main(
        [
            "entropy",
            str(traj),
            "-o",
            str(out),
            "--estimator",
            "knn,binned",
            "--k",
            "3",
            "--max-particles",
            "2000",
            "--scales",
            "0.1,0.2",
            "--units",
            "bits",
            "--seed",
            "7",
        ]
    )
    assert code == 0, capsys.readouterr().err
    e = dustsim.open_dataset(out)
    assert list(e["estimator"].values) == ["knn", "binned"] and e.attrs["k"] == 3
    assert e.attrs["units"] == "bits" and e.attrs["n_particles_used"] == 2000
    source_history = dustsim.open_dataset(traj).attrs["history"].splitlines()
    assert e.attrs["history"].splitlines()[:-1] == source_history  # one new line, the command
    assert main(["entropy", str(traj), "-o", str(out), "--estimator", "nope"]) == 2
    assert main(["entropy", str(tmp_path / "missing.nc"), "-o", str(out)]) == 2
    assert main(["entropy", str(traj), "-o", str(tmp_path / "h.txt")]) == 2


class Interrupt(Exception):
    pass


def test_interrupted_entropy_trajectory_resumes_from_its_checkpoint(tmp_path, monkeypatch, capsys):
    import analysis.trajectory as trajectory
    from dustsim.io import partial_path

    traj = tmp_path / "run.nc"
    dustsim.save_dataset(dustsim.simulate(init="gmm", n=2000, process="vp", steps=60, record_every=10, seed=5), traj)
    ds = dustsim.open_trajectory(traj)
    options = {"max_particles": 1500, "seed": 3}  # what the CLI call below asks for
    reference = entropy_trajectory(ds, **options)

    computed = []
    original = trajectory._frame_values

    def counting(ctx, raw, i):
        if i == 4 and not computed.count("resumed"):
            raise Interrupt
        computed.append(i)
        return original(ctx, raw, i)

    monkeypatch.setattr(trajectory, "_frame_values", counting)
    out = tmp_path / "h.nc"
    checkpoint = partial_path(out)
    with pytest.raises(Interrupt):
        entropy_trajectory(ds, **options, checkpoint=checkpoint)
    assert computed == [0, 1, 2, 3] and not out.exists()
    with pytest.raises(ConfigError, match="different analysis"):
        entropy_trajectory(ds, **{**options, "seed": 4}, checkpoint=checkpoint)
    computed[:] = ["resumed"]
    code = main(["entropy", str(traj), "-o", str(out), "--max-particles", "1500", "--seed", "3", "--resume"])
    assert code == 0, capsys.readouterr().err
    assert computed == ["resumed", 4, 5, 6], "finished frames must not be recomputed"
    assert not checkpoint.exists()
    resumed = dustsim.open_dataset(out)
    for name in ("entropy", "kl_to_equilibrium", "mutual_information"):
        np.testing.assert_array_equal(resumed[name].values, reference[name].values, err_msg=name)
    assert main(["entropy", str(traj), "-o", str(out), "--resume"]) == 0
    assert "already complete" in capsys.readouterr().out
