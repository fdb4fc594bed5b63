"""Artifacts: shapes, labels, scale, option parsing, and the exact mixture record."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dustsim.artifacts import ARTIFACTS, make_artifact, parse_spec
from dustsim.errors import ConfigError, InputFileError

TWO_D = ["gmm", "swiss-roll", "moons", "rings", "checkerboard", "gaussian", "uniform", "point", "text:DUST"]


@pytest.mark.parametrize("spec", TWO_D)
def test_every_artifact_fits_the_unit_box(spec):
    art = make_artifact(spec, 4000, seed=0)
    assert art.positions.shape == (4000, 2) and art.positions.dtype == np.float64
    assert np.all(np.isfinite(art.positions))
    if spec != "gaussian":
        assert np.abs(art.positions).max() < 1.3
    if art.labels is not None:
        assert art.labels.shape == (4000,) and art.labels.min() >= 0
    assert art.params["kind"] == parse_spec(spec)[0]


def test_same_seed_same_artifact():
    a = make_artifact("text:Hi there", 1000, seed=3)
    b = make_artifact("text:Hi there", 1000, seed=3)
    assert np.array_equal(a.positions, b.positions) and np.array_equal(a.labels, b.labels)
    assert a.labels.max() == len("Hithere") - 1


def test_text_leaves_the_holes_empty():
    art = make_artifact("text:O", 20_000, seed=1)
    r = np.linalg.norm(art.positions - art.positions.mean(0), axis=1)
    assert np.mean(r < 0.15) < 0.001  # the counter of the O


def test_gmm_records_its_exact_law_and_is_reproducible_from_it():
    art = make_artifact("gmm:k=3,std=0.2", 5000, seed=2, options={"scale": 2.0})
    assert np.allclose(np.linalg.norm(art.params["means"], axis=1), 1.6)
    assert art.params["stds"] == [0.4] * 3 and art.params["scale"] == 1.0
    again = make_artifact("gmm", 5000, seed=2, options=art.params)
    assert np.array_equal(art.positions, again.positions)


@settings(max_examples=20, deadline=None)
@given(dim=st.integers(1, 6), k=st.integers(1, 5))
def test_gmm_in_any_dimension(dim, k):
    art = make_artifact(f"gmm:k={k}", 200, dim, seed=0)
    assert art.positions.shape == (200, dim) and len(art.params["means"]) == k


def test_image_density_follows_intensity(tmp_path):
    import matplotlib.image as mpimg

    img = np.zeros((20, 40))
    img[:, 20:] = 1.0  # right half bright
    path = tmp_path / "half.png"
    mpimg.imsave(path, img, cmap="gray")
    art = make_artifact(f"image:{path}", 5000, seed=0)
    assert np.all(art.positions[:, 0] > -1e-9)
    dark = make_artifact(f"image:{path}", 5000, seed=0, options={"invert": True})
    assert np.all(dark.positions[:, 0] < 1e-9)


def test_points_resampling(tmp_path):
    path = tmp_path / "p.txt"
    np.savetxt(path, np.arange(20.0).reshape(10, 2))
    assert make_artifact(f"points:{path}").positions.shape == (10, 2)
    art = make_artifact(f"points:{path}", 25, seed=0)
    assert art.positions.shape == (25, 2) and art.params["resampled"]


@pytest.mark.parametrize(
    ("spec", "options", "error", "message"),
    [
        ("gmm:k=0", {}, ConfigError, "k must be >= 1"),
        ("gmm", {"wobble": 1}, ConfigError, "has no option 'wobble'"),
        ("text:", {}, ConfigError, "needs an argument"),
        ("image:/no/such.png", {}, InputFileError, "not found"),
        ("rings:count=x", {}, ConfigError, "must be an integer"),
        ("checkerboard:size", {}, ConfigError, "key=value"),
    ],
)
def test_bad_artifacts(spec, options, error, message):
    with pytest.raises(error, match=message):
        make_artifact(spec, 10, seed=0, options=options)


def test_registry_is_documented():
    import dustsim.artifacts as mod

    for kind in ARTIFACTS:
        assert kind in mod.__doc__


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("text:HI,scale=2", ("text", {"word": "HI", "scale": 2})),
        ("text:HELLO, WORLD", ("text", {"word": "HELLO, WORLD"})),  # a comma without key=value is text
        ("image:cat.png,invert=true", ("image", {"path": "cat.png", "invert": True})),
        ("points:cloud.csv, standardize=none", ("points", {"path": "cloud.csv", "standardize": "none"})),
    ],
)
def test_options_may_follow_the_argument_of_a_spec(spec, expected):
    assert parse_spec(spec) == expected


def test_spec_options_equal_separate_options_and_a_file_named_with_them_wins(tmp_path):
    a = make_artifact("text:HI,scale=2", n=500, seed=1).positions
    b = make_artifact("text:HI", n=500, seed=1, options={"scale": 2}).positions
    np.testing.assert_array_equal(a, b)
    odd = tmp_path / "a,b=1.npy"
    np.save(odd, np.random.default_rng(0).normal(size=(50, 2)))
    assert parse_spec(f"points:{odd}") == ("points", {"path": str(odd)})
