"""The ``dustsim`` command line: success path, exit codes, one-line errors, no debris."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import dustsim
from dustsim.cli import main


def run(*args, capsys):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_simulate_writes_and_summarises(tmp_path, capsys):
    out = tmp_path / "dust.nc"
    code, stdout, err = run(
        "simulate", "--init", "text:HI", "--n", "500", "--steps", "20", "--seed", "1", "-o", str(out), capsys=capsys
    )
    assert code == 0, err
    assert "500 particles" in stdout and "seed 1" in stdout
    ds = dustsim.open_trajectory(out)
    assert ds.sizes["time"] == 3
    assert "dustsim" in ds.attrs["history"]


def test_config_file_and_overrides(tmp_path, capsys):
    cfg = tmp_path / "run.toml"
    cfg.write_text('init = "moons"\nn = 300\nsteps = 30\nt_end = 3.0\nseed = 4\n[process]\nname = "ou"\nk = 3.0\n')
    out = tmp_path / "o.zarr"
    code, _, err = run("simulate", "--config", str(cfg), "--n", "200", "-P", "D=0.5", "-o", str(out), capsys=capsys)
    assert code == 0, err
    resolved = dustsim.SimulationConfig.from_toml(dustsim.open_trajectory(out).attrs["config"])
    assert resolved.n == 200 and resolved.process == "ou"
    assert resolved.process_params == {"k": 3.0, "D": 0.5, "centre": 0.0}


def test_dry_run_prints_resolved_config(capsys):
    code, out, _ = run("simulate", "--init", "gmm", "-A", "k=3", "--seed", "5", "--dry-run", capsys=capsys)
    assert code == 0
    cfg = dustsim.SimulationConfig.from_toml(out)
    assert cfg.seed == 5 and len(cfg.artifact["means"]) == 3 and cfg.steps == 1000


def points_file(tmp_path, name, content):
    path = tmp_path / name
    if name.endswith(".npy"):
        np.save(path, content)
    else:
        path.write_text(content)
    return path


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["--process", "warp"], 2, "unknown process 'warp'"),
        (["--process", "brownian", "-P", "D=-1"], 2, "D must be a positive number"),
        (["--dt", "-0.1"], 2, "dt must be a positive number"),
        (["--steps", "0"], 2, "steps must be"),
        (["--init", "nothing"], 2, "unknown artifact 'nothing'"),
        (["--stepper", "rk4"], 2, "Invalid value for '--stepper'"),
        (["--n", "many"], 2, "Invalid value for '--n'"),
        (["--init", "moons", "--dim", "3"], 2, "exists in 2-D"),
    ],
)
def test_bad_usage_exits_2_with_one_line(tmp_path, capsys, args, code, message):
    out = tmp_path / "o.nc"
    got, _, err = run("simulate", *args, "-o", str(out), capsys=capsys)
    assert got == code
    assert message in err
    assert "Traceback" not in err
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("nan.csv", "0.1,0.2\nnan,0.3\n", "non-finite value"),
        ("cube.npy", np.zeros((4, 2, 2)), "expected an N x d array"),
        ("wide.txt", "1 2 3\n4 5 6\n", "has 3 columns but dim is 2"),
        ("words.csv", "a,b\nc,d\n", "cannot read points file"),
        ("missing.npy", None, "points file not found"),
    ],
)
def test_bad_points_file_exits_2(tmp_path, capsys, name, content, message):
    path = points_file(tmp_path, name, content) if content is not None else tmp_path / name
    out = tmp_path / "o.nc"
    extra = ["--dim", "2"] if name == "wide.txt" else []
    code, _, err = run("simulate", "--init", f"points:{path}", *extra, "-o", str(out), capsys=capsys)
    assert code == 2 and message in err and err.count("\n") == 1
    assert not out.exists()


def test_points_file_is_used(tmp_path, capsys):
    cloud = np.random.default_rng(0).normal(size=(300, 3))
    path = points_file(tmp_path, "cloud.npy", cloud)
    out = tmp_path / "o.nc"
    code, _, err = run(
        "simulate", "--init", f"points:{path}", "--process", "ve", "--steps", "10", "-o", str(out), capsys=capsys
    )
    assert code == 0, err
    ds = dustsim.open_trajectory(out)
    np.testing.assert_allclose(ds.position.isel(time=0).values, cloud.astype(np.float32))


def test_unwritable_output_exits_1(tmp_path, capsys):
    code, _, err = run("simulate", "-o", str(tmp_path / "no" / "such" / "dir.nc"), capsys=capsys)
    assert code == 1 and "does not exist" in err and "Traceback" not in err


def test_output_never_replaces_a_directory_that_is_not_a_zarr_store(tmp_path, capsys):
    folder = tmp_path / "mine.zarr"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    code, _, err = run("simulate", "--n", "50", "--steps", "4", "-o", str(folder), capsys=capsys)
    assert code == 1 and "not a Zarr store" in err and "Traceback" not in err
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "precious"
    # a Zarr store dustsim wrote is replaced by a rerun
    store = tmp_path / "run.zarr"
    for seed in ("1", "2"):
        code, _, err = run("simulate", "--n", "50", "--steps", "4", "--seed", seed, "-o", str(store), capsys=capsys)
        assert code == 0, err
    assert int(dustsim.open_trajectory(store).attrs["seed"]) == 2


def test_a_file_where_the_zarr_store_goes_is_refused_before_the_run(tmp_path, capsys):
    target = tmp_path / "file.zarr"
    target.write_text("hi")
    code, _, err = run("simulate", "--n", "50", "--steps", "4", "-o", str(target), capsys=capsys)
    assert code == 1 and "is a file" in err and "Traceback" not in err
    assert target.read_text() == "hi" and not list(tmp_path.glob("file.zarr.partial"))


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_output_that_is_the_input_is_refused(tmp_path, capsys, suffix):
    traj = tmp_path / f"t{suffix}"
    assert run("simulate", "--n", "200", "--steps", "4", "-o", str(traj), capsys=capsys)[0] == 0
    before = dustsim.open_trajectory(traj).position.values.copy()
    code, _, err = run("entropy", str(traj), "-o", str(traj), capsys=capsys)
    assert code == 1 and "also this command's input" in err
    np.testing.assert_array_equal(dustsim.open_trajectory(traj).position.values, before)


def test_message_fixes_of_the_robustness_sweep(tmp_path, capsys, monkeypatch):
    traj = tmp_path / "t.nc"
    assert run("simulate", "--n", "100", "--steps", "4", "-o", str(traj), capsys=capsys)[0] == 0
    code, _, err = run("entropy", str(traj), "-o", str(tmp_path / "h.nc"), "--max-particles", "1", capsys=capsys)
    assert code == 2 and "must be 0 (all particles) or at least 2" in err
    code, _, err = run("simulate", "--init", "gmm", "--n", "4000000000", "--steps", "4", "-o", str(tmp_path / "b.nc"),
                       capsys=capsys)  # fmt: skip
    assert code == 2 and "counted as 1-D, the least" in err and "in 1-D" not in err
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)  # no ffmpeg
    code, _, err = run("plot", str(traj), "-o", str(tmp_path / "a.mp4"), capsys=capsys)
    assert code == 1 and "needs ffmpeg" in err and not (tmp_path / "a.mp4").exists()


def test_unknown_output_suffix_exits_2(tmp_path, capsys):
    code, _, err = run("simulate", "--steps", "5", "-o", str(tmp_path / "o.h5"), capsys=capsys)
    assert code == 2 and "suffix" in err


def test_traceback_flag_shows_the_traceback(tmp_path, capsys):
    code, _, err = run("--traceback", "simulate", "--process", "warp", "-o", str(tmp_path / "o.nc"), capsys=capsys)
    assert code == 2 and "Traceback" in err


def test_version_and_help():
    version = subprocess.run([sys.executable, "-m", "dustsim", "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and dustsim.__version__ in version.stdout
    helptext = subprocess.run([sys.executable, "-m", "dustsim", "simulate", "--help"], capture_output=True, text=True)
    assert helptext.returncode == 0 and "Examples" in helptext.stdout and "--record-every" in helptext.stdout
