"""``dustsim quantum``: outputs, their schema, continuation by the classical simulator, one-line errors."""

from __future__ import annotations

import math

import numpy as np
import pytest

import dustsim
from analysis.quantum import quantum_entropy
from dustsim.cli import main
from dustsim.io import open_dataset
from dustsim.quantum.run import quantum_run, state_frames


def run(*args, capsys):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_quantum_writes_state_entropy_measurement_and_points(tmp_path, capsys):
    paths = {name: tmp_path / name for name in ("cat.nc", "entropy.nc", "measured.nc", "last.npy", "f.png")}
    code, out, err = run(
        "quantum",
        "--state",
        "cat:separation=4,width=0.5",
        "--points",
        "128",
        "--dephasing",
        "1",
        "--dt",
        "0.005",
        "--t-end",
        "0.5",
        "--record-every",
        "20",
        "--tolerance",
        "1e-3",
        "--seed",
        "3",
        "--entropy-out",
        str(paths["entropy.nc"]),
        "--measure",
        "500",
        "--measure-out",
        str(paths["measured.nc"]),
        "--points-out",
        str(paths["last.npy"]),
        "--figure",
        str(paths["f.png"]),
        "-o",
        str(paths["cat.nc"]),
        capsys=capsys,
    )
    assert code == 0, err
    assert "density-matrix on 128 points" in out
    state = open_dataset(paths["cat.nc"])
    assert state.attrs["kind"] == "quantum-state" and state.attrs["dephasing"] == 1.0
    rho = state_frames(state)
    assert rho.shape == (6, 128, 128)
    assert abs(np.trace(rho[-1]).real * state.attrs["dx"] - 1) < 1e-10
    entropy = open_dataset(paths["entropy.nc"])
    assert entropy["von_neumann"].values[0] < 1e-8 < entropy["von_neumann"].values[-1]
    measured = dustsim.open_trajectory(paths["measured.nc"])
    assert measured.position.shape == (6, 500, 1)
    assert measured.attrs["dynamics"] == "quantum-measurement"
    assert (tmp_path / "f-wigner.png").stat().st_size > 0
    code, out, err = run(
        "simulate",
        "--init",
        f"points:{paths['last.npy']}",
        "--dim",
        "1",
        "--process",
        "brownian",
        "--steps",
        "5",
        "--seed",
        "0",
        "-o",
        str(tmp_path / "continued.nc"),
        capsys=capsys,
    )
    assert code == 0, err
    continued = dustsim.open_trajectory(tmp_path / "continued.nc")
    np.testing.assert_allclose(continued.position.values[0], measured.position.values[-1], rtol=1e-6)


def test_round_trip_keeps_the_state_exactly(tmp_path):
    ds = quantum_run("gaussian:width=0.5,momentum=1", points=128, domain=(-8, 8), t_end=0.2, dt=0.05, progress=False)
    dustsim.save_dataset(ds, tmp_path / "s.nc")
    back = open_dataset(tmp_path / "s.nc")
    np.testing.assert_array_equal(state_frames(back), state_frames(ds))
    qe = quantum_entropy(back)
    assert np.all(np.abs(qe["purity"].values - 1) < 1e-10)
    assert abs(qe["coherence_length"].values[0] - 2 * 0.5) < 1e-8  # 2 sigma for a pure Gaussian packet
    assert abs(qe["shannon"].values[0] - 0.5 * math.log(2 * math.pi * math.e * 0.25)) < 1e-8


def test_two_dimensional_and_caldeira_leggett_runs(tmp_path, capsys):
    code, out, err = run(
        "quantum",
        "--dim",
        "2",
        "--points",
        "64",
        "--state",
        "gaussian:width=0.8",
        "--t-end",
        "0.2",
        "--dt",
        "0.05",
        "--entropy-out",
        str(tmp_path / "e2.nc"),
        "--measure",
        "3000",
        "--measure-out",
        str(tmp_path / "m2.nc"),
        "-o",
        str(tmp_path / "q2.nc"),
        capsys=capsys,
    )
    assert code == 0, err
    assert open_dataset(tmp_path / "q2.nc")["psi_real"].dims == ("time", "x", "y")
    measured = dustsim.open_trajectory(tmp_path / "m2.nc").position.values[0]
    assert measured.shape == (3000, 2)
    assert np.all(np.abs(measured.std(axis=0) - 0.8) < 4.5 * 0.8 / math.sqrt(2 * 3000))  # SE of an sd
    code, out, err = run(
        "quantum",
        "--state",
        "mixed:width=0.3,momentum_width=0.7",
        "--hbar",
        "0.1",
        "--gamma",
        "10",
        "--kT",
        "0.5",
        "--potential",
        "double-well",
        "--domain=-3,3",
        "--points",
        "192",
        "--dt",
        "0.01",
        "--t-end",
        "0.1",
        "--tolerance",
        "1e-3",
        "--entropy-out",
        str(tmp_path / "e.nc"),
        "-o",
        str(tmp_path / "cl.nc"),
        capsys=capsys,
    )
    assert code == 0, err
    assert "wigner on 192 points" in out
    purity = open_dataset(tmp_path / "e.nc")["purity"].values
    assert abs(purity[0] - 0.1 / (2 * 0.3 * 0.7)) < 1e-6


def test_states_from_files_are_validated(tmp_path, capsys):
    from dustsim.quantum import QuantumGrid, gaussian_packet, pure_density_matrix

    grid = QuantumGrid(96, -10.0, 10.0)
    rho = pure_density_matrix(gaussian_packet(grid, 1.0, 0.6))
    other = pure_density_matrix(gaussian_packet(grid))
    files = {
        "psi.npy": 3 * gaussian_packet(grid, 0.0, 0.7),
        "rho.npy": rho,
        "zero.npy": np.zeros(96),
        "skew.npy": rho + 0.01j * np.eye(96, k=1),
        "neg.npy": rho - 0.5 * other,
    }
    for name, array in files.items():
        np.save(tmp_path / name, array)
    common = ["--points", "96", "--t-end", "0.1", "--dt", "0.05"]
    for name in ("psi.npy", "rho.npy"):
        out = tmp_path / f"{name}.nc"
        code, _, err = run("quantum", "--state", f"file:{tmp_path / name}", *common, "-o", str(out), capsys=capsys)
        assert code == 0, err
    assert open_dataset(tmp_path / "rho.npy.nc").attrs["representation"] == "density-matrix"
    for name, message in (
        ("zero.npy", "not normalisable"),
        ("skew.npy", "not Hermitian"),
        ("neg.npy", "not positive semi-definite"),
        ("absent.npy", "not found"),
    ):
        code, _, err = run(
            "quantum", "--state", f"file:{tmp_path / name}", *common, "-o", str(tmp_path / "x.nc"), capsys=capsys
        )
        assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
        assert not (tmp_path / "x.nc").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--state", "gaussian:width=0.05"], "too coarse"),
        (["--state", "gaussian:centre=9.9"], "edge of the domain"),
        (["--potential", "harmonic:k=50", "--dt", "0.05"], "too large for the split-operator accuracy"),
        (["--state", "mixed:width=0.1,momentum_width=1"], "uncertainty relation"),
        (["--state", "cat:spread=2"], "has no option 'spread'"),
        (["--state", "schrodinger"], "unknown quantum state"),
        (["--gamma", "1"], "needs both gamma > 0 and kT > 0"),
        (["--dim", "2", "--dephasing", "1"], "pure states only"),
        (["--potential", "custom:math:sin"], "custom forces are not supported"),
        (["--measure", "10"], "go together"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_writes_nothing(tmp_path, capsys, args, message):
    out = tmp_path / "q.nc"
    code, _, err = run("quantum", *args, "-o", str(out), capsys=capsys)
    assert code == 2
    assert message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_dustsim_plot_draws_quantum_datasets(tmp_path, capsys):
    state, entropy = tmp_path / "q.nc", tmp_path / "e.nc"
    code, _, err = run(
        "quantum",
        "--state",
        "cat:separation=3,width=0.5",
        "--points",
        "96",
        "--t-end",
        "0.2",
        "--dt",
        "0.05",
        "--entropy-out",
        str(entropy),
        "-o",
        str(state),
        capsys=capsys,
    )
    assert code == 0, err
    for source, style in ((state, "default"), (state, "heatmap"), (entropy, "default")):
        figure = tmp_path / f"{source.stem}-{style}.png"
        code, out, err = run("plot", str(source), "-o", str(figure), "--style", style, capsys=capsys)
        assert code == 0, err
        assert "quantum-" in out and figure.stat().st_size > 0


def test_the_recorded_config_reproduces_the_run_exactly():
    import tomllib

    ds = quantum_run(
        "cat:separation=3,width=0.5",
        points=96,
        t_end=0.3,
        dt=0.01,
        record_every=10,
        dephasing=0.5,
        potential="harmonic:k=0.5",
        tolerance=1e-3,
        progress=False,
    )
    again = quantum_run(**tomllib.loads(ds.attrs["config"])["quantum"], progress=False)
    np.testing.assert_array_equal(state_frames(again), state_frames(ds))
