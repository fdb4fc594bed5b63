"""``dustsim train / sample / restore / likelihood``: success paths, exit codes, one-line errors, no debris."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import dustsim
from dustsim.cli import main
from dustsim.schema import SCHEMA_VERSION


def run(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def traj_file(tmp_path_factory, gmm_trajectory):
    path = tmp_path_factory.mktemp("cli") / "dust.nc"
    dustsim.save_dataset(gmm_trajectory, path)
    return path


def test_train_writes_model_and_log(tmp_path, traj_file, capsys):
    cfg = tmp_path / "train.toml"
    cfg.write_text('[network]\nkind = "mlp"\nwidth = 16\n\n[training]\nsteps = 30\nbatch_size = 64\nwarmup = 5\n')
    out = tmp_path / "m.pt"
    code, stdout, err = run(
        "train",
        traj_file,
        "-o",
        out,
        "--config",
        cfg,
        "--depth",
        1,
        "--seed",
        4,
        "--device",
        "cpu",
        "--no-progress",
        capsys=capsys,
    )
    assert code == 0, err
    assert "wrote" in stdout and "mlp 16x1" in stdout and "30 steps" in stdout and "seed 4" in stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.loss.nc", "m.pt", "train.toml"]
    # --resume on a finished model extends it
    code, stdout, err = run(
        "train",
        traj_file,
        "-o",
        out,
        "--config",
        cfg,
        "--depth",
        1,
        "--steps",
        40,
        "--device",
        "cpu",
        "--resume",
        capsys=capsys,
    )
    assert code == 0, err
    assert "40 steps" in stdout and "seed 4" in stdout


def test_sample_restore_likelihood(tmp_path, traj_file, tiny_model_path, capsys):
    gen = tmp_path / "gen.zarr"
    code, stdout, err = run(
        "sample",
        tiny_model_path,
        "--n",
        200,
        "--sampler",
        "heun",
        "--steps",
        10,
        "--seed",
        3,
        "--device",
        "cpu",
        "-o",
        gen,
        capsys=capsys,
    )
    assert code == 0, err
    assert "200 particles" in stdout and "heun" in stdout
    ds = dustsim.open_trajectory(gen)
    assert ds.attrs["direction"] == "reverse" and ds.attrs["seed"] == 3 and "dustsim" in ds.attrs["history"]
    rest = tmp_path / "rest.nc"
    code, stdout, err = run(
        "restore",
        tiny_model_path,
        traj_file,
        "--from-time",
        0.3,
        "--steps",
        20,
        "--hold-axis",
        "x",
        "--seed",
        1,
        "-o",
        rest,
        capsys=capsys,
    )
    assert code == 0, err
    assert "restored from t = 0.3" in stdout
    r = dustsim.open_trajectory(rest)
    assert r.attrs["direction"] == "restoration" and int(r.held.sum()) == r.sizes["particle"]
    pts = tmp_path / "pts.npy"
    np.save(pts, dustsim.open_trajectory(traj_file).position.isel(time=0).values[:100])
    ll = tmp_path / "ll.nc"
    code, stdout, err = run("likelihood", tiny_model_path, pts, "--bits", "--seed", 0, "-o", ll, capsys=capsys)
    assert code == 0, err
    assert "nats per point" in stdout and "bits/dim" in stdout and "exact divergence" in stdout
    res = dustsim.open_dataset(ll)
    assert res.sizes["point"] == 100 and np.all(np.isfinite(res.log_likelihood.values))
    assert res.attrs["schema_version"] == SCHEMA_VERSION and res.attrs["source"].startswith("dustsim ")


def test_errors_exit_with_one_line(tmp_path, traj_file, tiny_model_path, capsys):
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"garbage" * 20)
    pts3 = tmp_path / "p3.npy"
    np.save(pts3, np.zeros((5, 3)))
    cases = [
        (("sample", tmp_path / "none.pt", "--n", 5, "-o", tmp_path / "o.nc"), 2, "no such model file"),
        (("sample", junk, "--n", 5, "-o", tmp_path / "o.nc"), 2, "not a readable dustsim model checkpoint"),
        (
            ("sample", tiny_model_path, "--n", 5, "--sampler", "magic", "-o", tmp_path / "o.nc"),
            2,
            "unknown sampler 'magic'",
        ),
        (("sample", tiny_model_path, "--n", 5, "-o", tmp_path / "o.txt"), 2, "cannot tell the format"),
        (("likelihood", tiny_model_path, pts3), 2, "trained on 2-D data but the points file is 3-D"),
        (
            ("restore", tiny_model_path, traj_file, "--from-time", 0.33, "-o", tmp_path / "o.nc"),
            2,
            "no frame at t = 0.33",
        ),
        (
            (
                "restore",
                tiny_model_path,
                traj_file,
                "--from-time",
                0.3,
                "--hold-label",
                1,
                "--hold-axis",
                "q",
                "-o",
                tmp_path / "o.nc",
            ),
            2,
            "unknown axis 'q'",
        ),
        (("train", traj_file, "-o", tmp_path / "m.pt", "--steps", 2, "--lr", -1), 2, "lr must be"),
        (("train", tmp_path / "missing.nc", "-o", tmp_path / "m.pt"), 2, "no such file"),
        (("train", traj_file, "-o", tmp_path / "m.nc", "--steps", 2), 2, "name it .pt or .pth"),
        (("train", traj_file, "-o", traj_file, "--steps", 2), 2, "name it .pt or .pth"),
        (("restore", tiny_model_path, traj_file, "--from-time", 0.3, "-o", traj_file), 1, "this command's input"),
    ]
    if not torch.cuda.is_available():
        cases.append(
            (("sample", tiny_model_path, "--n", 5, "--device", "cuda", "-o", tmp_path / "o.nc"), 2, "no CUDA GPU")
        )
    for args, code, message in cases:
        got, _, err = run(*args, capsys=capsys)
        assert got == code, (args, err)
        assert message in err, (args, err)
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["junk.pt", "p3.npy"]


def test_train_one_member_of_an_ensemble_with_its_own_process(tmp_path, capsys):
    import xarray as xr

    from dustsim.model.checkpoint import load_model

    members = [
        dustsim.simulate(
            init="gmm", n=500, process="vp", process_params={"beta_max": b}, steps=40, record_every=20, seed=1
        )
        for b in (15.0, 20.0)
    ]
    store = xr.concat(members, dim="realization", coords="minimal", compat="override", combine_attrs="override")
    store = store.assign_coords(
        member=("realization", [0, 1]), member_config=("realization", [m.attrs["config"] for m in members])
    )
    path = tmp_path / "ensemble.zarr"
    dustsim.save_dataset(store, path)
    out = tmp_path / "m.pt"
    args = ("train", path, "-o", out, "--steps", 5, "--width", 8, "--depth", 1, "--device", "cpu")
    code, _, err = run(*args, capsys=capsys)
    assert code == 2 and "differ in process" in err and "--realization" in err
    code, _, err = run(*args, "--realization", 1, capsys=capsys)
    assert code == 0, err
    assert load_model(out, "cpu").process.params()["beta_max"] == 20.0
    code, _, err = run(*args, "--realization", 2, capsys=capsys)
    assert code == 2 and "has 2 realizations" in err
