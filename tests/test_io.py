"""Trajectory files: netCDF and Zarr round trips, schema validation, atomic writes."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import dustsim
from dustsim.errors import ConfigError, InputFileError, OutputError
from dustsim.io import atomic_output, open_trajectory, save_dataset
from dustsim.schema import trajectory_config, trajectory_process, validate_trajectory


@pytest.fixture(scope="module")
def trajectory():
    return dustsim.simulate(init="text:AB", n=2000, process="vp", steps=40, seed=8)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_preserves_data_and_attrs(trajectory, tmp_path, suffix):
    path = save_dataset(trajectory, tmp_path / f"t{suffix}")
    back = open_trajectory(path).load()
    xr.testing.assert_identical(back.drop_encoding() if hasattr(back, "drop_encoding") else back, trajectory)
    assert back.attrs["config"] == trajectory.attrs["config"]
    assert back.position.dtype == np.float32
    assert back.time.dtype == np.float64, "time must not be decoded as a timedelta"


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_streamed_output_equals_in_memory(trajectory, tmp_path, suffix):
    cfg = dustsim.SimulationConfig.from_toml(trajectory.attrs["config"])
    streamed = dustsim.simulate(cfg, output=tmp_path / f"s{suffix}")
    assert np.array_equal(streamed.position.values, trajectory.position.values)
    np.testing.assert_array_equal(streamed.label.values, trajectory.label.values)
    assert streamed.attrs["config"] == trajectory.attrs["config"]


def test_schema_content(trajectory):
    ds = trajectory
    assert ds.position.dims == ("time", "particle", "spatial")
    assert list(ds.spatial.values) == ["x", "y"]
    assert ds.step.dtype == np.int64 and ds.step.dims == ("time",)
    assert ds.position.attrs["units"] == "1" and "long_name" in ds.position.attrs
    assert ds.attrs["direction"] == "forward" and ds.attrs["process"] == "vp" and ds.attrs["seed"] == 8
    assert ds.attrs["source"].startswith("dustsim ")
    cfg = trajectory_config(ds)
    assert cfg["process"]["name"] == "vp" and cfg["artifact"]["word"] == "AB"
    process = trajectory_process(ds)
    np.testing.assert_allclose(ds.alpha.values, process.alpha(ds.time.values))
    validate_trajectory(ds)


def test_validation_names_the_problem(trajectory):
    with pytest.raises(InputFileError, match="no 'position'"):
        validate_trajectory(trajectory.rename(position="x"))
    no_seed = trajectory.copy()
    del no_seed.attrs["seed"]
    with pytest.raises(InputFileError, match="missing attribute 'seed'"):
        validate_trajectory(no_seed)
    with pytest.raises(InputFileError, match="position has dims"):
        validate_trajectory(trajectory.transpose("particle", "time", "spatial"))


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.nc"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_output(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.nc"]


def test_unknown_suffix_and_unwritable_directory(trajectory, tmp_path):
    with pytest.raises(ConfigError, match="suffix"):
        save_dataset(trajectory, tmp_path / "t.csv")
    with pytest.raises(OutputError, match="does not exist"):
        save_dataset(trajectory, tmp_path / "missing" / "t.nc")
    with pytest.raises(InputFileError, match="no such file"):
        open_trajectory(tmp_path / "nothing.nc")
