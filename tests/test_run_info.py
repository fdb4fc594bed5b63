"""RunInfo: a run's recorded config, read once (dustsim.run_info)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import dustsim
from dustsim.config import ResolvedConfig, SimulationConfig, has_physics
from dustsim.errors import InputFileError
from dustsim.processes import make_process
from dustsim.run_info import RunInfo
from dustsim.simulation import prepare


def _run(**kw):
    return dustsim.simulate(n=40, steps=10, seed=3, **kw)


def test_linear_run_resolves_to_its_process_and_mixture():
    ds = _run(init="gmm:k=3", process="vp")
    run = RunInfo.from_dataset(ds)
    assert run.text == ds.attrs["config"] and not run.member
    assert not run.physical and run.physics is None
    expected = make_process("vp", **{k: v for k, v in run.tables["process"].items() if k != "name"})
    assert run.process == expected == run.base_process
    assert np.allclose(run.process.alpha(ds["time"].values), ds["alpha"].values)
    assert run.mixture is not None and run.mixture.n_components == 3 and run.mixture.dim == 2
    assert run.seed == 3 and run.dim == 2 and run.t_end == 1.0 and run.length_unit == "1"
    assert run.stationary_law is None
    assert run.config == SimulationConfig.from_toml(ds.attrs["config"])


def _box_run(kind, interaction=None, potential=None):
    extra = {"interaction": interaction} if interaction else {}
    if potential:
        extra["potential"] = [potential]
    return dustsim.simulate(
        init="uniform:half_width=1",
        n=30,
        dim=2,
        process="brownian",
        stepper="euler",
        steps=5,
        t_end=0.001,
        seed=1,
        boundary={"kind": kind, "box": [4.0, 4.0]},
        **extra,
    )


@pytest.mark.parametrize(
    ("kind", "interaction", "potential", "law"),
    [
        ("periodic", None, None, "uniform"),
        ("reflecting", None, None, "uniform"),
        ("periodic", {"name": "harmonic", "sigma": 0.5}, None, "uniform"),
        ("reflecting", {"name": "harmonic", "sigma": 0.5}, None, None),
        ("periodic", None, {"name": "harmonic", "k": 1.0}, None),
    ],
)
def test_physical_runs_resolve_their_system_box_and_stationary_law(kind, interaction, potential, law):
    ds = _box_run(kind, interaction, potential)
    run = RunInfo.from_dataset(ds)
    assert run.physical and run.process is None and run.base_process is not None
    assert run.physics is not None and run.physics.boundary.kinds == (kind, kind)
    assert run.box == run.physics.boundary and np.allclose(run.box.length, ds["box"].values)
    assert (run.physics.interaction is not None) == run.interacting == (interaction is not None)
    assert run.stationary_law == law


def test_recorded_dynamics_and_the_physics_rule_agree():
    """The one has_physics rule says the same as the dataset's dynamics for resolved configs."""
    for ds in (_run(init="moons", process="ou"), _box_run("periodic")):
        run = RunInfo.from_dataset(ds)
        assert has_physics(run.tables) == (ds.attrs.get("dynamics", "linear") != "linear") == run.physical


def test_prepare_writes_the_config_text_once_from_a_resolved_config():
    plan = prepare(SimulationConfig(init="gmm", n=20, steps=4, process="ve"))
    assert isinstance(plan.config, ResolvedConfig)
    assert all(getattr(plan.config, f) is not None for f in ("n", "dim", "steps", "t_end", "dt", "seed", "stepper"))
    assert plan.run.text == plan.config.to_toml()
    assert RunInfo.from_text(plan.run.text).tables == plan.run.tables  # the text says what the tables say
    again = prepare(RunInfo.from_text(plan.run.text).config)
    assert again.run.text == plan.run.text  # the recorded config resolves to itself


def test_sweep_members_resolve_to_their_own_config():
    texts = [SimulationConfig(init="gmm", n=5, seed=s, process="vp").to_toml() for s in (1, 2)]
    ds = xr.Dataset(coords={"member_config": ("realization", texts)}, attrs={"config": "steps = 3\n"})
    run = RunInfo.from_dataset(ds)
    assert run.member and run.text == texts[0] and run.seed == 1  # members that differ only in their seed
    other = SimulationConfig(init="moons", n=5, seed=1, process="vp").to_toml()
    mixed = ds.assign_coords(member_config=("realization", [texts[0], other]))
    with pytest.raises(InputFileError, match="differ in init"):
        RunInfo.from_dataset(mixed)
    assert RunInfo.from_dataset(mixed.isel(realization=1)).tables["init"] == "moons"


def test_a_dataset_without_a_usable_config():
    assert RunInfo.from_dataset(xr.Dataset()).process is None
    with pytest.raises(InputFileError, match="invalid TOML"):
        RunInfo.from_dataset(xr.Dataset(attrs={"config": "not = = toml"}))
    generated = RunInfo.from_tables({"process": {"name": "vp"}, "model": {"kind": "denoiser"}, "n": 4})
    assert generated.process == make_process("vp") and generated.config.n == 4  # foreign tables are kept apart


def test_resolved_config_is_a_config_with_every_field():
    names = {f.name for f in dataclasses.fields(SimulationConfig)}
    assert names == {f.name for f in dataclasses.fields(ResolvedConfig)}


def test_the_recorded_config_is_read_in_one_place():
    """Only dustsim.run_info parses a recorded config; TOML is read by dustsim.config.parse_toml alone.

    (Copying the text as provenance, ``attrs.get("config", "")``, is not parsing it.)
    """
    root = Path(dustsim.__file__).parent
    # who may call the TOML reader: the config itself, the recorded-config reader, sweep and model files
    readers = {"dustsim/config.py", "dustsim/run_info.py", "dustsim/sweep.py", "dustsim/model/config.py"}
    offenders = []
    for path in [*root.rglob("*.py"), *(root.parent / "analysis").rglob("*.py")]:
        name = path.relative_to(root.parent).as_posix()
        text = path.read_text()
        if name != "dustsim/run_info.py" and re.search(r"""attrs\["config"\]""", text):
            offenders.append(f"{name}: reads attrs['config']")
        if name not in readers and re.search(r"\b(parse_toml|from_toml)\(", text):
            offenders.append(f"{name}: parses a config")
        if name not in ("dustsim/config.py", "dustsim/spec.py") and "tomllib" in text:
            offenders.append(f"{name}: uses tomllib")
    assert offenders == []
