"""Reliability of the command line: pre-flight checks, interruption at any moment, real data.

Regression tests of issue 16: every bad input fails in one line before anything is
written; a run killed at any point (``DUSTSIM_FAULT``, :mod:`dustsim.faults`) resumes to a
bitwise-identical result without redoing finished work and leaves no stray file.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import dustsim
from dustsim.artifacts import to_recorded_units
from dustsim.cli import main
from dustsim.errors import InputFileError
from dustsim.faults import KILLED_EXIT_CODE

ROOT = Path(dustsim.__file__).resolve().parents[1]
SIM = ["simulate", "--init", "gmm", "--n", "500", "--steps", "40", "--record-every", "10", "--seed", "3"]


def run(*args, capsys):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def run_process(*args, fault=None, cwd=None):
    """The CLI in a fresh process (a fault point ends it as SIGKILL would)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    env.pop("DUSTSIM_FAULT", None)
    if fault:
        env["DUSTSIM_FAULT"] = fault
    return subprocess.run(
        [sys.executable, "-m", "dustsim", *map(str, args)], capture_output=True, text=True, env=env, cwd=cwd
    )


def listing(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir())


def one_line_error(code, err, expected_code, *fragments):
    assert code == expected_code, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err


# ------------------------------------------------------------------ the five cases
def test_huge_steps_named_before_allocating(tmp_path, capsys):
    code, _, err = run(
        "simulate", "--init", "gmm", "--n", "100", "--steps", "1000000000000000", "-o", tmp_path / "a.nc", capsys=capsys
    )
    one_line_error(code, err, 2, "steps = 1000000000000000", "--steps")
    assert listing(tmp_path) == []


def test_output_larger_than_the_disk_is_refused(tmp_path, capsys):
    code, _, err = run(
        "simulate",
        "--init",
        "gmm",
        "--n",
        "1000000",
        "--steps",
        "100000000",
        "--record-every",
        "1",
        "-o",
        tmp_path / "a.zarr",
        capsys=capsys,
    )
    one_line_error(code, err, 2, "--record-every", "free there")
    assert listing(tmp_path) == []


def test_sweep_bad_grid_value_leaves_nothing(tmp_path, capsys):
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'init = "gmm"\nn = 200\nsteps = 20\nprocess = "vp"\n[sweep]\n[sweep.grid]\n"process.beta_max" = [10.0, "abc"]\n'
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    code, _, err = run("sweep", spec, "-o", out_dir / "s.zarr", capsys=capsys)
    one_line_error(code, err, 2, "abc")
    assert listing(out_dir) == []


def test_demo_checks_the_device_before_the_first_stage(tmp_path, capsys):
    pytest.importorskip("torch")
    out = tmp_path / "demo"
    code, _, err = run("demo", "--quick", "--device", "nosuchdev", "-o", out, capsys=capsys)
    one_line_error(code, err, 2, "nosuchdev")
    assert not out.exists()


def test_stale_temporaries_of_a_killed_run_are_removed(tmp_path, capsys):
    out = tmp_path / "big.nc"
    dead = tmp_path / ".big.nc.tmp-999999999-deadbeef"  # no such process
    old_style = tmp_path / ".big.nc.tmp-1a2b3c4d"  # written by an older version
    for stale in (dead, old_style):
        stale.write_bytes(b"half a file")
    live = tmp_path / f".big.nc.tmp-{os.getppid()}-cafe0000"  # a writer that still runs: left alone
    live.write_bytes(b"in progress")
    code, _, err = run(*SIM, "-o", out, capsys=capsys)
    assert code == 0, err
    assert listing(tmp_path) == sorted(["big.nc", live.name])


# ------------------------------------------------------------- interruption
@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """Uninterrupted runs of SIM, netCDF and Zarr."""
    where = tmp_path_factory.mktemp("reference")
    out = {}
    for suffix in ("nc", "zarr"):
        path = where / f"ref.{suffix}"
        assert main([*SIM, "-o", str(path)]) == 0
        out[suffix] = dustsim.open_trajectory(path)
    return out


@pytest.mark.parametrize(
    ("suffix", "fault", "resimulates"),
    [
        ("nc", "frame@3", True),
        ("nc", "write:complete", False),
        ("nc", "write:renamed", False),
        ("zarr", "frame@2", True),
        ("zarr", "finish:renamed", False),
    ],
)
def test_kill_then_resume_is_bitwise_identical_and_clean(tmp_path, reference, suffix, fault, resimulates):
    out = tmp_path / f"big.{suffix}"
    killed = run_process(*SIM, "-o", out, fault=fault)
    assert killed.returncode == KILLED_EXIT_CODE, killed.stderr
    # a resume of a run killed while finishing must not simulate a single frame again:
    # the fault point "frame" would end it
    resumed = run_process(*SIM, "-o", out, "--resume", fault=None if resimulates else "frame")
    assert resumed.returncode == 0, resumed.stderr
    assert listing(tmp_path) == [out.name]
    ds = dustsim.open_trajectory(out)
    np.testing.assert_array_equal(ds.position.values, reference[suffix].position.values)
    assert ds.attrs["config"] == reference[suffix].attrs["config"]
    if suffix == "zarr":
        assert not (out / ".dustsim-progress.json").exists()


def test_resume_of_a_finished_run_refuses_another_seed(tmp_path, capsys):
    out = tmp_path / "done.nc"
    assert run(*SIM, "-o", out, capsys=capsys)[0] == 0
    before = out.read_bytes()
    code, _, err = run(*SIM[:-1], "4", "-o", out, "--resume", capsys=capsys)
    one_line_error(code, err, 2, "seed", "finished run")
    assert out.read_bytes() == before


# ------------------------------------------------------------------- messages
@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        ("1,2\n3,4\n5,x\n", ("line 3, column 2", "'x'")),
        ("1,2\n3,4\n5\n", ("line 3 has 1 values",)),
        ("x,y\n1,2\n3,4,5\n", ("line 3 has 3 values", "line 2 has 2")),
        ("x,y\n1,2,3\n", ("line 2 has 3 values", "header has 2")),
    ],
)
def test_points_file_errors_name_the_line(tmp_path, capsys, content, fragments):
    path = tmp_path / "p.csv"
    path.write_text(content)
    code, _, err = run("simulate", "--init", f"points:{path}", "-o", tmp_path / "o.nc", capsys=capsys)
    one_line_error(code, err, 2, *fragments)
    assert "usecols" not in err
    assert listing(tmp_path) == ["p.csv"]


def test_output_under_a_regular_file(tmp_path, capsys):
    (tmp_path / "f").write_text("")
    code, _, err = run(*SIM, "-o", tmp_path / "f" / "x.nc", capsys=capsys)
    one_line_error(code, err, 1, "is a file, not a directory")


def test_truncated_netcdf_is_called_truncated(tmp_path, reference, capsys):
    whole = tmp_path / "whole.nc"
    dustsim.save_dataset(reference["nc"], whole)
    cut = tmp_path / "cut.nc"
    cut.write_bytes(whole.read_bytes()[:3000])
    code, _, err = run("entropy", cut, "-o", tmp_path / "e.nc", capsys=capsys)
    one_line_error(code, err, 2, "corrupt or truncated")


# ------------------------------------------------------------------ real data
def test_points_with_header_lonlat_duplicates_are_explained(tmp_path, capsys):
    rng = np.random.default_rng(0)
    lon, lat = rng.uniform(-120, -70, 300), rng.uniform(25, 49, 300)
    rows = np.column_stack([lon, lat])
    rows = np.vstack([rows, rows[:7]])  # seven duplicates
    path = tmp_path / "airports.csv"
    path.write_text("lon,lat\n" + "\n".join(f"{a:.4f},{b:.4f}" for a, b in rows) + "\n")
    out = tmp_path / "a.nc"
    code, _, err = run("simulate", "--init", f"points:{path}", "--steps", "20", "--seed", "1", "-o", out, capsys=capsys)
    assert code == 0, err
    assert "note: points: columns 'lon', 'lat' read as longitude/latitude" in err
    assert "7 duplicate points" in err and "standardised" in err
    x0 = dustsim.open_trajectory(out).position.isel(time=0).values.astype(np.float64)
    # one factor for both axes (a map keeps its shape): the aspect ratio of the projected cloud is kept
    projected = np.column_stack([rows[:, 0] * np.cos(np.radians(rows[:, 1].mean())), rows[:, 1]])
    np.testing.assert_allclose(
        x0.std(axis=0) / x0.std(axis=0)[1], projected.std(axis=0) / projected.std(axis=0)[1], rtol=1e-5
    )
    assert abs(x0.mean(axis=0)).max() < 1e-5 and abs(x0.std(axis=0).max() - 1) < 1e-5


def test_lonlat_with_other_columns_is_refused_not_read_as_plane_coordinates(tmp_path, capsys):
    rng = np.random.default_rng(3)
    rows = np.column_stack([rng.uniform(-10, 10, 50), rng.uniform(40, 60, 50), rng.normal(size=50)])
    path = tmp_path / "stations.csv"
    path.write_text("lon,lat,value\n" + "\n".join(",".join(f"{v:.4f}" for v in r) for r in rows) + "\n")
    code, _, err = run("simulate", "--init", f"points:{path}", "--steps", "5", "-o", tmp_path / "s.nc", capsys=capsys)
    one_line_error(code, err, 2, "projection=none")
    assert not (tmp_path / "s.nc").exists()
    # with projection=none every column is a coordinate
    kept = make_points(path, projection="none", standardize="none")
    np.testing.assert_allclose(kept, rows, atol=1e-4)


def test_resampled_points_are_noted_and_their_tied_frame_is_flagged(tmp_path, capsys):
    path = tmp_path / "few.npy"
    np.save(path, np.random.default_rng(4).normal(size=(300, 2)))
    out = tmp_path / "r.nc"
    args = ("simulate", "--init", f"points:{path}", "--n", "1200", "--steps", "10", "--seed", "1", "-o", out)
    code, _, err = run(*args, capsys=capsys)
    assert code == 0 and "drawn with replacement" in err, err
    code, _, err = run("entropy", out, "-o", tmp_path / "h.nc", capsys=capsys)
    assert code == 0 and "1 frame(s) (t = 0) have points with at least k = 4 exact duplicates" in err, err
    assert int(dustsim.open_dataset(tmp_path / "h.nc").n_ties.isel(time=0).max()) > 0
    # all 300 points once: no resampling, no note
    code, _, err = run(*args[:3], "--steps", "10", "-o", tmp_path / "all.nc", capsys=capsys)
    assert code == 0 and "replacement" not in err


def test_a_flat_first_frame_is_noted_without_numerical_warnings(tmp_path, capsys):
    flat = np.column_stack([np.random.default_rng(5).normal(size=400), np.ones(400)])  # a line: no 2-D density
    path = tmp_path / "line.npy"
    np.save(path, flat)
    out = tmp_path / "line.nc"
    code, _, err = run("simulate", "--init", f"points:{path}", "-A", "standardize=none", "--steps", "10", "-o", out,
                       capsys=capsys)  # fmt: skip
    assert code == 0, err
    code, _, err = run("entropy", out, "-o", tmp_path / "h.nc", capsys=capsys)
    assert code == 0 and "(t = 0) have no density" in err and "warning" not in err, err
    h = dustsim.open_dataset(tmp_path / "h.nc")
    assert h.degenerate.isel(time=0).all() and h.mutual_information_linear_se.isel(time=0) == 0


def test_a_blank_image_names_the_reading_it_tried(tmp_path, capsys):
    import matplotlib.image as mpimg

    path = tmp_path / "white.png"
    mpimg.imsave(path, np.ones((20, 20)), cmap="gray", vmin=0, vmax=1)
    code, _, err = run("simulate", "--init", f"image:{path}", "--steps", "4", "-o", tmp_path / "w.nc", capsys=capsys)
    assert code == 2 and "Traceback" not in err, err  # after the note on the light background
    assert "blank when read with dark pixels as dust (invert = true); try invert=false" in err.splitlines()[-1]


def test_new_points_for_a_lonlat_model_must_be_lon_lat():
    table = {"kind": "points", "projection": "equirectangular", "reference_latitude": 60.0}
    latlon = np.array([[60.0, 10.0], [61.0, 12.0]])
    x, log_jacobian, done = to_recorded_units(latlon, ["lat", "lon"], table)
    np.testing.assert_allclose(x, [[5.0, 60.0], [6.0, 61.0]])  # columns found by name, lon scaled by cos 60
    assert log_jacobian == pytest.approx(np.log(0.5)) and "projected" in done
    with pytest.raises(InputFileError, match="give the two columns lon, lat"):
        to_recorded_units(np.ones((2, 3)), ["x", "y", "z"], table)
    with pytest.raises(InputFileError, match="3 columns"):
        to_recorded_units(np.ones((2, 3)), None, table)
    with pytest.raises(InputFileError, match="give the two columns"):
        to_recorded_units(np.ones((2, 2)), ["x", "y"], table)


def test_points_with_wildly_different_axes_are_standardised_and_resume(tmp_path, capsys):
    rng = np.random.default_rng(1)
    data = np.column_stack([rng.normal(0, 1e-3, 400), rng.normal(5e3, 2e3, 400)])
    path = tmp_path / "p.npy"
    np.save(path, data)
    out = tmp_path / "p.nc"
    args = ("simulate", "--init", f"points:{path}", "--steps", "40", "--record-every", "10", "--seed", "2", "-o", out)
    killed = run_process(*args, fault="frame@2")
    assert killed.returncode == KILLED_EXIT_CODE, killed.stderr
    code, _, err = run(*args, "--resume", capsys=capsys)
    assert code == 0, err
    x0 = dustsim.open_trajectory(out).position.isel(time=0).values.astype(np.float64)
    np.testing.assert_allclose(x0.std(axis=0), 1.0, rtol=1e-4)
    kept = make_points(path, standardize="none")
    np.testing.assert_array_equal(kept, data)


def make_points(path, **options):
    return dustsim.make_artifact(f"points:{path}", options=options).positions


def test_image_dark_shape_on_light_background(tmp_path, capsys):
    import matplotlib.image as mpimg

    img = np.ones((60, 90, 3))
    img[20:40, 10:30] = 0.0  # a black square on white
    path = tmp_path / "square.jpg"
    mpimg.imsave(path, img)
    out = tmp_path / "sq.nc"
    code, _, err = run(
        "simulate", "--init", f"image:{path}", "--n", "2000", "--steps", "10", "--seed", "1", "-o", out, capsys=capsys
    )
    assert code == 0, err
    assert "note: image:" in err and "light background" in err
    x0 = dustsim.open_trajectory(out).position.isel(time=0).values
    scale = 2.0 / 90
    inside = (np.abs(x0[:, 0] - (20 - 45) * scale) < 11 * scale) & (np.abs(x0[:, 1] - (30 - 30) * scale) < 11 * scale)
    assert inside.mean() > 0.97


# -------------------------------------------------------------------- dry runs
def test_dry_runs_write_nothing(tmp_path, reference, capsys):
    traj = tmp_path / "t.nc"
    dustsim.save_dataset(reference["nc"], traj)
    spec = tmp_path / "spec.toml"
    spec.write_text(
        'init = "gmm"\nn = 200\nsteps = 20\n[sweep]\nreplicas = 2\n[sweep.grid]\n"process.beta_max" = [10.0, 20.0]\n'
    )
    before = listing(tmp_path)
    cases = [
        (("simulate", *SIM[1:], "-o", tmp_path / "s.nc", "--dry-run"), "frames of 500 particles"),
        (("entropy", traj, "-o", tmp_path / "e.nc", "--dry-run"), "5 frames"),
        (("sweep", spec, "-o", tmp_path / "w.zarr", "--dry-run"), "2 parameter set(s) x 2 replica(s) = 4"),
        (("demo", "--quick", "--device", "cpu", "-o", tmp_path / "demo", "--dry-run"), "plan of dustsim demo"),
    ]
    for args, fragment in cases:
        code, out, err = run(*args, capsys=capsys)
        assert code == 0, err
        assert fragment in out, out
    assert listing(tmp_path) == before
    # a dry run checks what the run would check
    spec.write_text(spec.read_text().replace("20.0]", '"x"]'))
    code, _, err = run("sweep", spec, "-o", tmp_path / "w.zarr", "--dry-run", capsys=capsys)
    one_line_error(code, err, 2, "'x'")


# ------------------------------------------------------------------------ plots
def test_plots_say_what_they_cut_and_share_one_colour_scale(reference):
    import matplotlib

    matplotlib.use("Agg")
    from analysis import plotting

    ds = dustsim.simulate(init="gmm", n=2000, process="vp", steps=200, record_every=5, seed=1)
    times = plotting.pick_times(ds, 6)
    # equal steps of information: most panels where the shape still shows, not on noise
    assert times[0] == 0 and times[-1] == 1 and np.median(times) < 0.3
    fig = plotting.density_heatmaps(ds)
    images = [ax.images[0] for ax in fig.axes if ax.images]
    assert len({id(im.norm) for im in images}) == 1
    top = max(float(np.nanmax(im.get_array())) for im in images)
    assert images[0].norm.vmax >= top  # the sharp t = 0 frame is inside the colour bar
    strip = plotting.filmstrip(ds, n_frames=3)
    notes = [t.get_text() for ax in strip.axes for t in ax.texts]
    assert any("outside" in note for note in notes)  # the 0.1 % quantile window cuts a few: it says so
