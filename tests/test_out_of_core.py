"""Out-of-core analysis: a sweep store analysed frame by frame on a dask cluster."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import dustsim
from analysis import entropy_trajectory
from analysis.ensemble import ensemble_summary
from dustsim.errors import ConfigError
from dustsim.sweep import SweepSpec, run_sweep

SPEC = """
init = "gmm"
n = 4000
process = "vp"
steps = 100
record_every = 25
dtype = "float64"
[sweep]
replicas = 3
seed = 3
[sweep.grid]
"process.beta_max" = [20.0]
"""


@pytest.fixture(scope="module")
def cluster():
    from dask.distributed import Client, LocalCluster

    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0", env={"NUMBA_NUM_THREADS": "1"}
        ) as lc,
        Client(lc) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def sweep_store(tmp_path_factory, cluster):
    out = tmp_path_factory.mktemp("ooc") / "sweep.zarr"
    run_sweep(SweepSpec.from_toml(SPEC), out, scheduler=cluster.scheduler.address)
    return out


def test_distributed_entropy_equals_in_memory(sweep_store, cluster):
    lazy = dustsim.open_trajectory(sweep_store)
    assert hasattr(lazy.position.data, "dask")
    options = {
        "estimators": ("knn", "binned"),
        "max_particles": 3000,
        "mi_max_particles": 1000,
        "seed": 5,
        "scales": [0.5],
    }
    distributed = entropy_trajectory(lazy, compute="auto", **options)  # dask: a client is active
    in_memory = entropy_trajectory(lazy.load(), compute="serial", **options)
    assert distributed.sizes["realization"] == 3
    for name in distributed.data_vars:
        np.testing.assert_array_equal(distributed[name].values, in_memory[name].values, err_msg=name)


def test_ensemble_summary_has_honest_intervals(sweep_store):
    ent = entropy_trajectory(
        dustsim.open_trajectory(sweep_store).load(), max_particles=2000, mutual_information=False, compute="serial"
    )
    summary = ensemble_summary(ent)
    assert "realization" not in summary.dims
    np.testing.assert_allclose(summary.entropy.values, ent.entropy.mean("realization").values)
    spread = ent.entropy.std("realization", ddof=1).values / np.sqrt(3)
    np.testing.assert_allclose(summary.entropy_sem.values, spread)
    assert np.all(summary.entropy_ci_low.values <= summary.entropy.values)
    assert np.all(summary.entropy_ci_high.values > summary.entropy.values)
    # t quantile with 2 degrees of freedom at 95%: 4.303
    width = (summary.entropy_ci_high - summary.entropy).values / summary.entropy_sem.values
    np.testing.assert_allclose(width, 4.302652729911275)
    with pytest.raises(ConfigError, match="no 'replica'"):
        ensemble_summary(ent, dim="replica")


def test_serial_and_dask_paths_agree_without_a_cluster():
    ds = dustsim.simulate(init="gmm", n=2000, process="vp", steps=40, record_every=20, seed=1)
    chunked = ds.chunk({"time": 1})
    a = entropy_trajectory(chunked, compute="dask", max_particles=None)
    b = entropy_trajectory(ds, compute="serial", max_particles=None)
    np.testing.assert_array_equal(a.entropy.values, b.entropy.values)
    with pytest.raises(ConfigError, match="compute must be"):
        entropy_trajectory(ds, compute="gpu")


def test_cli_entropy_of_a_sweep_on_a_local_cluster(sweep_store, tmp_path, capsys):
    from dustsim.cli import main

    out = tmp_path / "h.nc"
    code = main(["entropy", str(sweep_store), "-o", str(out), "--workers", "2", "--max-particles", "2000", "--no-mi"])
    assert code == 0, capsys.readouterr().err
    result = xr.open_dataset(out)
    assert result.entropy.dims == ("realization", "time", "estimator")
    reference = entropy_trajectory(
        dustsim.open_trajectory(sweep_store).load(), max_particles=2000, mutual_information=False, compute="serial"
    )
    np.testing.assert_array_equal(result.entropy.values, reference.entropy.values)


def test_a_sweeps_entropy_keeps_its_members_and_plots_one_line_each(tmp_path, cluster):
    import matplotlib

    matplotlib.use("Agg")
    from analysis import plotting

    spec = SPEC.replace("replicas = 3", "replicas = 2").replace("[20.0]", "[16.0, 20.0]").replace("n = 4000", "n = 800")
    out = tmp_path / "two.zarr"
    run_sweep(SweepSpec.from_toml(spec), out, scheduler=cluster.scheduler.address)
    ent = entropy_trajectory(
        dustsim.open_trajectory(out), max_particles=800, mutual_information=False, compute="serial"
    )
    assert ent.attrs["swept"] == "process.beta_max"
    for name in ("member", "replica", "seed", "process_beta_max"):
        assert ent[name].dims == ("realization",)
    assert sorted(set(ent.process_beta_max.values.tolist())) == [16.0, 20.0]
    per_member = ent.groupby("member").map(ensemble_summary)
    assert per_member.sizes["member"] == 2
    fig = plotting.entropy_plot(ent)
    labels = [line.get_label() for line in fig.get_axes()[0].get_lines()]
    assert len(labels) == 2 and any("= 16" in s for s in labels) and any("= 20" in s for s in labels)
    # the swept coordinates survive a netCDF round trip
    path = dustsim.save_dataset(ent, tmp_path / "ent.nc")
    assert "member_config" in xr.open_dataset(path).coords


def test_distributed_frames_land_in_the_checkpoint_and_are_not_recomputed(sweep_store, cluster, tmp_path, monkeypatch):
    import analysis.trajectory as trajectory

    lazy = dustsim.open_trajectory(sweep_store)
    options = {"max_particles": 1000, "mi_max_particles": 500, "seed": 2}
    first = entropy_trajectory(lazy, compute="dask", checkpoint=tmp_path / "ck", **options)
    assert len(list((tmp_path / "ck").glob("r*-f*.npy"))) == 3 * lazy.sizes["time"]

    def must_not_run(*args):
        raise AssertionError("a checkpointed frame was recomputed")

    monkeypatch.setattr(trajectory, "_frame_values", must_not_run)
    again = entropy_trajectory(lazy, compute="serial", checkpoint=tmp_path / "ck", **options)
    for name in first.data_vars:
        np.testing.assert_array_equal(again[name].values, first[name].values, err_msg=name)


def test_each_sweep_member_is_analysed_with_its_own_config(tmp_path, cluster):
    """A swept artifact width changes the exact entropy of that member's frames, not the base's."""
    spec = SPEC.replace('"process.beta_max" = [20.0]', '"artifact.std" = [0.05, 0.3]').replace(
        "replicas = 3", "replicas = 1"
    )
    out = tmp_path / "widths.zarr"
    run_sweep(SweepSpec.from_toml(spec), out, scheduler=cluster.scheduler.address)
    ds = dustsim.open_trajectory(out)
    ent = entropy_trajectory(ds, max_particles=4000, mutual_information=False, exact_samples=50_000, compute="serial")
    width = ent["artifact_std"].values
    exact0 = ent["exact_entropy"].isel(time=0).values
    knn0 = ent["entropy"].sel(estimator="knn").isel(time=0).values
    se = np.hypot(
        ent["entropy_se"].sel(estimator="knn").isel(time=0).values, ent["exact_entropy_se"].isel(time=0).values
    )
    assert exact0[np.argmax(width)] > exact0[np.argmin(width)] + 1.0  # each member has its own mixture
    assert np.all(np.abs(knn0 - exact0) < 4.5 * se), (knn0, exact0, se)
    with pytest.raises(dustsim.errors.InputFileError, match="differ in artifact"):
        dustsim.GaussianMixture.from_trajectory(ds)
    assert dustsim.GaussianMixture.from_trajectory(ds.isel(realization=1)) is not None
