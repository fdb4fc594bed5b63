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
    assert all(ax.patches for ax in fig.get_axes())  # histograms
    plt.close(fig)


def test_report_is_self_contained(trajectory, tmp_path):
    from analysis.report import Section, write_report

    fig = plotting.filmstrip(trajectory, n_frames=2)
    section = Section("Forward", "Dust dissolving.\n\nSecond paragraph.", figures=[(fig, "filmstrip")],
                      tables=[([{"time": 0.0, "entropy": -1.23456}], "numbers")], code=[("a = 1", "config")])
    path = write_report(tmp_path / "report.html", "dustsim demo", [section], subtitle="test")
    text = path.read_text()
    assert text.count("data:image/png;base64,") == 1
    assert "<td>-1.235</td>" in text and "<pre>a = 1</pre>" in text
    assert "http" not in text.replace("http-equiv", "")  # no external resources
