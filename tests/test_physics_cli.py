"""Physical dust on the command line and in TOML configs: success paths, exit codes, the schema."""

from __future__ import annotations

import numpy as np
import pytest

import dustsim
from dustsim.cli import main
from dustsim.io import open_dataset
from dustsim.physics.fokker_planck import validate_density
from dustsim.schema import trajectory_config, trajectory_process, unwrapped_position


def run(*args, capsys):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_with_a_potential_in_a_periodic_box(tmp_path, capsys):
    out = tmp_path / "dw.nc"
    code, stdout, err = run(
        "simulate",
        "--init",
        "uniform",
        "--n",
        "2000",
        "--dim",
        "2",
        "--process",
        "brownian",
        "--potential",
        "double-well:barrier=[1,0]",
        "--potential",
        "constant:force=[0.5,0]",
        "--box",
        "3",
        "--dt",
        "1e-3",
        "--steps",
        "200",
        "--seed",
        "5",
        "-o",
        str(out),
        capsys=capsys,
    )
    assert code == 0, err
    assert "brownian+double-well+constant" in stdout and "euler" in stdout
    ds = dustsim.open_trajectory(out)
    assert ds.attrs["dynamics"] == "overdamped-langevin" and ds.attrs["boundary"] == "periodic"
    assert ds.image.dtype == np.int32 and ds.box.values.tolist() == [3.0, 3.0]
    assert ds.box_origin.values.tolist() == [-1.5, -1.5]
    assert "alpha" not in ds.coords and trajectory_process(ds) is None
    assert np.all(np.isfinite(unwrapped_position(ds).values))
    cfg = trajectory_config(ds)
    assert cfg["boundary"]["kind"] == "periodic" and [p["name"] for p in cfg["potential"]] == [
        "double-well",
        "constant",
    ]


def test_toml_tables_and_the_resolved_config_reproduce_the_run(tmp_path, capsys):
    toml = tmp_path / "run.toml"
    toml.write_text(
        'init = "uniform"\nn = 300\ndim = 2\nsteps = 40\ndt = 2e-3\nseed = 8\nkT = 1.5\n'
        "[artifact]\nhalf_width = 9.0\n"
        '[process]\nname = "brownian"\nD = 0.5\n'
        '[[potential]]\nname = "harmonic"\nk = [0.1, 0.0]\n'
        '[boundary]\nkind = ["reflecting", "periodic"]\nbox = [20.0, 20.0]\n'
        '[interaction]\nname = "morse"\nepsilon = 2.0\na = 2.0\nr0 = 1.0\ncap = 20.0\n'
        '[schedule]\nname = "exponential"\nof = "kT"\nstart = 1.0\nend = 0.5\n'
    )
    out = tmp_path / "run.zarr"
    code, _, err = run("simulate", "--config", str(toml), "-o", str(out), capsys=capsys)
    assert code == 0, err
    ds = dustsim.open_trajectory(out)
    again = dustsim.simulate(dustsim.SimulationConfig.from_toml(ds.attrs["config"]))
    assert np.array_equal(again.position.values, ds.position.values)
    assert np.array_equal(again.image.values, ds.image.values)
    cfg = trajectory_config(ds)
    assert cfg["interaction"]["name"] == "morse" and cfg["schedule"]["t1"] == pytest.approx(0.08)


def test_dry_run_shows_the_resolved_physics(capsys):
    code, out, err = run(
        "simulate",
        "--init",
        "gaussian",
        "--dim",
        "1",
        "--potential",
        "cosine:wavelength=0.5",
        "--boundary",
        "reflecting",
        "--box",
        "8",
        "--label-diffusion",
        "1",
        "--kT",
        "2",
        "--dry-run",
        capsys=capsys,
    )
    assert code == 0, err
    cfg = dustsim.SimulationConfig.from_toml(out)
    assert cfg.stepper == "euler" and cfg.kT == 2.0 and cfg.step_guard == 0.2
    assert cfg.potential[0]["wavelength"] == [0.5] and cfg.boundary["kind"] == "reflecting"


def test_fokker_planck_command_writes_a_density(tmp_path, capsys):
    out = tmp_path / "fp.nc"
    code, stdout, err = run(
        "fokker-planck",
        "--init",
        "uniform",
        "--dim",
        "1",
        "--process",
        "brownian",
        "--potential",
        "double-well:barrier=2",
        "--t-end",
        "2",
        "--steps",
        "20",
        "--cells",
        "200",
        "-o",
        str(out),
        capsys=capsys,
    )
    assert code == 0, err
    assert "density on 200 cells" in stdout and "mass 1" in stdout
    ds = open_dataset(out)
    validate_density(ds)
    assert ds.sizes["time"] == 3


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--potential", "volcano"], "unknown potential 'volcano'"),
        (["--potential", "harmonic:stiffness=2"], "has no parameter 'stiffness'"),
        (["--potential", "double-well:width=-1"], "width must be positive"),
        (["--boundary", "periodic"], "needs a box"),
        (["--boundary", "sticky", "--box", "3"], "unknown boundary 'sticky'"),
        (["--box", "ten"], "--box must be a length"),
        (["--box", "3", "--interaction", "lj:cutoff=2"], "exceeds half the periodic box"),
        (["--box", "30", "--interaction", "glue"], "unknown interaction 'glue'"),
        (["--potential", "harmonic", "--stepper", "exact"], "use --stepper euler"),
        (["--potential", "custom:nowhere_module:f"], "cannot import module 'nowhere_module'"),
        (["--schedule", "linear:of=T"], "of must be 'D' or 'kT'"),
        (["--label-diffusion", "1,2,3", "--potential", "harmonic"], "labels"),
        (["--kT", "-1", "--potential", "harmonic"], "kT must be a positive number"),
    ],
)
def test_bad_physics_exits_2_with_one_line(tmp_path, capsys, args, message):
    out = tmp_path / "o.nc"
    code, _, err = run(
        "simulate", "--init", "uniform", "--n", "100", "--steps", "5", *args, "-o", str(out), capsys=capsys
    )
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_unstable_step_exits_1_with_one_line(tmp_path, capsys):
    out = tmp_path / "o.nc"
    code, _, err = run(
        "simulate",
        "--init",
        "uniform",
        "-A",
        "half_width=4",
        "--n",
        "400",
        "--box",
        "10",
        "--interaction",
        "lj",
        "--dt",
        "0.01",
        "--steps",
        "20",
        "-o",
        str(out),
        capsys=capsys,
    )
    assert code == 1
    assert "Euler-Maruyama step" in err and "smaller dt" in err and err.count("\n") == 1
    assert not out.exists()


def test_fokker_planck_refuses_interactions(tmp_path, capsys):
    code, _, err = run(
        "fokker-planck",
        "--init",
        "uniform",
        "--dim",
        "1",
        "--box",
        "10",
        "-o",
        str(tmp_path / "fp.nc"),
        "--config",
        str(_write(tmp_path)),
        capsys=capsys,
    )
    assert code == 2 and "non-interacting" in err


def _write(tmp_path):
    path = tmp_path / "inter.toml"
    path.write_text('[interaction]\nname = "wca"\n')
    return path


def test_linear_runs_keep_their_config_and_process():
    ds = dustsim.simulate(
        init="gmm", n=500, process="ou", steps=10, t_end=6.0, seed=3, boundary={"kind": "free"}, label_diffusion=[1.0]
    )  # trivial physics: still linear
    cfg = trajectory_config(ds)
    assert not any(key in cfg for key in ("potential", "boundary", "interaction", "schedule", "kT", "label_diffusion"))
    assert cfg["stepper"] == "exact" and "dynamics" not in ds.attrs
    assert trajectory_process(ds) is not None and "alpha" in ds.coords
