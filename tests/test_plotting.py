"""Plot functions render real small datasets (Agg) with labelled, unit-bearing axes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import dustsim
from analysis import plotting


@pytest.fixture(scope="module")
def trajectory():
    return dustsim.simulate(init="text:AB", n=3000, process="vp", steps=100, record_every=10, seed=0)


def test_filmstrip_panels_and_labels(trajectory):
    fig = plotting.filmstrip(trajectory, n_frames=4)
    axes = fig.get_axes()
    assert len(axes) == 4
    assert all(ax.get_xlabel() == "x (reduced units)" for ax in axes)
    assert axes[0].get_ylabel() == "y (reduced units)"
    assert axes[0].get_title().startswith("t = 0.00")
    assert "dissolving" in fig._suptitle.get_text()
    plt.close(fig)


def test_pick_times_by_sigma_includes_the_ends(trajectory):
    times = plotting.pick_times(trajectory, 5)
    assert times[0] == 0.0 and times[-1] == 1.0 and len(times) <= 5 + 2
    assert np.all(np.diff(times) > 0)


def test_density_heatmaps(trajectory):
    fig = plotting.density_heatmaps(trajectory, n_frames=3, bins=40)
    images = [ax for ax in fig.get_axes() if ax.images]
    assert len(images) == 3
    assert "density" in fig.get_axes()[-1].get_ylabel()
    plt.close(fig)


def test_compare_clouds_and_animation(trajectory, tmp_path):
    x0 = trajectory.position.isel(time=0).values
    fig = plotting.compare_clouds(x0, {"noised": trajectory.position.isel(time=3).values})
    assert [ax.get_title() for ax in fig.get_axes()] == ["original", "noised"]
    plt.close(fig)
    path = plotting.animate(trajectory.isel(time=slice(0, 4)), tmp_path / "a.gif", max_points=500)
    assert path.stat().st_size > 1000 and path.read_bytes()[:3] == b"GIF"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]


def test_one_dimensional_trajectory_filmstrip():
    ds = dustsim.simulate(init="gmm", dim=1, n=2000, process="vp", steps=20, seed=0)
    fig = plotting.filmstrip(ds, n_frames=3)
    axes = fig.get_axes()
    assert all(ax.patches for ax in axes)  # histograms
    assert len({ax.get_xlim() for ax in axes}) == 1, "panels must share one window"
    assert axes[0].get_ylabel() == "density"
    plt.close(fig)


def test_filmstrip_of_an_offset_three_dimensional_cloud_shows_it_and_says_projection():
    ds = dustsim.simulate(init="gaussian", dim=3, n=2000, process="brownian", steps=10, t_end=0.01, seed=0)
    ds = ds.assign(position=ds.position + 50.0)  # far from the origin: the window must follow the data
    fig = plotting.filmstrip(ds, n_frames=2)
    lo, hi = fig.get_axes()[0].get_xlim()
    assert lo < 50.0 < hi and hi - lo < 20.0
    assert "projection of 3-D" in fig._suptitle.get_text()
    plt.close(fig)


def test_report_is_self_contained(trajectory, tmp_path):
    from analysis.report import Section, write_report

    fig = plotting.filmstrip(trajectory, n_frames=2)
    section = Section(
        "Forward",
        "Dust dissolving.\n\nSecond paragraph.",
        figures=[(fig, "filmstrip")],
        tables=[([{"time": 0.0, "entropy": -1.23456}], "numbers")],
        code=[("a = 1", "config")],
    )
    path = write_report(tmp_path / "report.html", "dustsim demo", [section], subtitle="test")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 1
    assert "<td>-1.235</td>" in text and "<pre>a = 1</pre>" in text
    assert "http" not in text.replace("http-equiv", "")  # no external resources


@pytest.fixture(scope="module")
def entropy(trajectory):
    from analysis import entropy_trajectory

    return entropy_trajectory(trajectory, estimators=("knn", "binned"), max_particles=2000)


def test_entropy_plot_structure(entropy):
    reverse = entropy.copy()
    reverse.attrs["direction"] = "reverse"
    fig = plotting.entropy_plot({"forward (t ↑)": entropy, "reverse (t ↓)": reverse}, estimators=["knn"])
    ax = fig.get_axes()[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["forward (t ↑)", "reverse (t ↓)"]
    assert len(ax.get_lines()) == 2 and len(ax.collections) == 2  # two curves, two SE bands
    assert ax.get_lines()[1].get_linestyle() == "--"  # reverse drawn dashed
    assert ax.get_xlabel() == "diffusion time t (reduced units)" and ax.get_ylabel() == "entropy H [nats]"
    plt.close(fig)


def test_information_panels_and_bounds(entropy):
    from analysis import thermo

    fig = plotting.information_panels(entropy, sohl_dickstein=thermo.sohl_dickstein_bounds(entropy))
    titles = [ax.get_title() for ax in fig.get_axes()]
    assert titles[:3] == ["entropy H", "KL to equilibrium D(p_t ‖ p_∞)", "mutual information I(X_0; X_t)"]
    assert titles[3] == "reverse-step entropy bounds"
    assert all("[nats]" in ax.get_ylabel() for ax in fig.get_axes())
    plt.close(fig)


def test_loss_and_density_plots():
    import xarray as xr

    log = xr.Dataset(
        {"loss": ("step", [2.0, 1.0, 0.5]), "lr": ("step", [1e-3, 1e-3, 5e-4])},
        coords={"step": [100, 200, 300]},
        attrs={"objective": "dsm"},
    )
    fig = plotting.loss_plot(log)
    assert fig.get_axes()[0].get_yscale() == "log" and len(fig.get_axes()) == 2
    plt.close(fig)
    density = dustsim.fokker_planck(init="gmm", dim=1, n=500, process="ou", steps=20, record_every=10, cells=50)
    fig = plotting.density_plot(density)
    assert len(fig.get_axes()[0].get_lines()) == 3
    plt.close(fig)


def test_dustsim_plot_recognises_each_kind(trajectory, entropy, tmp_path, capsys):
    from dustsim.cli import main

    traj_path = dustsim.save_dataset(trajectory, tmp_path / "t.nc")
    ent_path = dustsim.save_dataset(entropy, tmp_path / "h.nc")
    for source, kind, out in [(traj_path, "trajectory", "t.png"), (ent_path, "entropy", "h.svg")]:
        assert main(["plot", str(source), "-o", str(tmp_path / out)]) == 0
        assert f"{kind} figure" in capsys.readouterr().out
        assert (tmp_path / out).stat().st_size > 1000
    assert main(["plot", str(ent_path), "-o", str(tmp_path / "h.gif")]) == 2
    assert "only trajectories can be animated" in capsys.readouterr().err
    assert main(["plot", str(ent_path), "--kind", "loss", "-o", str(tmp_path / "x.png")]) == 2
    assert main(["plot", str(ent_path), "-o", str(tmp_path / "x.jpg")]) == 2


def test_dustsim_plot_draws_likelihood_and_schedule_study_outputs(tmp_path, capsys):
    import xarray as xr

    from dustsim.cli import main

    values = np.random.default_rng(0).normal(-2.0, 0.5, 300)
    ll = xr.Dataset({"log_likelihood": ("point", values)}, coords={"point": np.arange(300)}, attrs={"model": "m.pt"})
    fig = plotting.likelihood_plot(ll)
    assert "mean" in fig.get_axes()[0].get_legend().get_texts()[0].get_text()
    plt.close(fig)
    path = dustsim.save_dataset(ll, tmp_path / "ll.nc")
    assert main(["plot", str(path), "-o", str(tmp_path / "ll.png")]) == 0
    assert "likelihood figure" in capsys.readouterr().out
    code = main(["schedules", "study", "--nfe", "5,10", "--n", "200", "--no-trained", "--schedule", "vp",
                 "--schedule", "fm", "--seed", "1", "-o", str(tmp_path / "st.nc")])  # fmt: skip
    assert code == 0, capsys.readouterr().err
    assert main(["plot", str(tmp_path / "st.nc"), "-o", str(tmp_path / "st.png")]) == 0
    assert "schedule-study figure" in capsys.readouterr().out and (tmp_path / "st.png").stat().st_size > 1000


def test_one_dimensional_animation_is_a_histogram(tmp_path, monkeypatch):
    import matplotlib.animation as manimation

    ds = dustsim.simulate(init="gmm", dim=1, n=1000, process="vp", steps=20, record_every=5, seed=0)
    seen = {}
    save = manimation.Animation.save

    def spy(self, *args, **kwargs):
        seen["axes"] = self._fig.get_axes()[0]
        return save(self, *args, **kwargs)

    monkeypatch.setattr(manimation.Animation, "save", spy)
    path = plotting.animate(ds, tmp_path / "line.gif")
    assert path.stat().st_size > 0
    ax = seen["axes"]
    assert ax.get_ylabel() == "density" and len(ax.patches) == 120
