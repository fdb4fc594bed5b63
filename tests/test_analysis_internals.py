"""Analysis internals: entropy_trajectory's options object, per-frame record and checkpoint format; Estimate."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dustsim
from analysis import entropy_trajectory
from analysis.checkpoint import FORMAT, KEY_FILE, FrameCheckpoint
from analysis.entropy_options import EntropyOptions
from analysis.result import Estimate
from analysis.trajectory import FrameResult
from dustsim.errors import ConfigError


@pytest.fixture(scope="module")
def small_run():
    return dustsim.simulate(init="gmm", n=400, process="vp", steps=20, record_every=10, seed=2)


def test_options_are_validated_once_and_normalised():
    opts = EntropyOptions.from_keywords(estimators=["knn", "binned"], scales=[1, 2.5], k=3)
    assert opts.estimators == ("knn", "binned") and opts.scales == (1.0, 2.5)
    assert opts == EntropyOptions(estimators=("knn", "binned"), scales=(1.0, 2.5), k=3)
    assert json.loads(json.dumps(opts.key()))["estimators"] == ["knn", "binned"]
    for bad, match in [
        ({"units": "hartree"}, "units"),
        ({"max_particles": True}, "max_particles"),
        ({"mi_max_particles": 1}, "mi_max_particles"),
        ({"exact_samples": None}, "exact_samples"),
        ({"estimators": ("nope",)}, "unknown estimator"),
        ({"estimators": ()}, "unknown estimator"),
        ({"estimators": "knn"}, "sequence of names"),
        ({"mi_estimator": "mine"}, "mutual-information"),
        ({"scales": (0.0,)}, "scales"),
        ({"scales": (math.inf,)}, "scales"),
        ({"backend": "faiss"}, "backend"),
    ]:
        with pytest.raises(ConfigError, match=match):
            EntropyOptions(**bad)
    with pytest.raises(AttributeError):
        opts.k = 5  # type: ignore[misc]  # frozen: the checkpoint key cannot drift


finite = st.floats(allow_nan=True, allow_infinity=True, width=64)


@settings(max_examples=30, deadline=None)
@given(n_est=st.integers(1, 5), n_sc=st.integers(0, 3), data=st.data())
def test_frame_record_round_trips_exactly(n_est, n_sc, data):
    arr = lambda n: np.array(data.draw(st.lists(finite, min_size=n, max_size=n)), dtype=np.float64)  # noqa: E731
    result = FrameResult(
        entropy=arr(n_est),
        entropy_se=arr(n_est),
        n_ties=np.array(data.draw(st.lists(st.integers(0, 2**40), min_size=n_est, max_size=n_est)), dtype=np.int64),
        degenerate=np.array(data.draw(st.lists(st.booleans(), min_size=n_est, max_size=n_est))),
        kl=data.draw(finite),
        kl_se=data.draw(finite),
        mi=data.draw(finite),
        mi_se=data.draw(finite),
        exact=data.draw(finite),
        exact_se=data.draw(finite),
        cg=arr(n_sc),
        cg_se=arr(n_sc),
    )
    back = FrameResult.from_record(result.to_record())
    assert back is not None
    for name in ("entropy", "entropy_se", "n_ties", "degenerate", "cg", "cg_se"):
        a, b = getattr(result, name), getattr(back, name)
        assert a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b, equal_nan=True), name
    for name in ("kl", "kl_se", "mi", "mi_se", "exact", "exact_se"):
        assert np.array_equal(getattr(result, name), getattr(back, name), equal_nan=True), name
    assert FrameResult.from_record(np.arange(5.0)) is None  # a flat vector (format 1) is not a record


def test_resume_reads_saved_records_and_gives_identical_numbers(small_run, tmp_path, monkeypatch):
    import analysis.trajectory as trajectory

    options = {"estimators": ("knn", "binned"), "max_particles": 300, "seed": 1, "scales": (0.5,)}
    first = entropy_trajectory(small_run, checkpoint=tmp_path / "ck", **options)
    files = sorted((tmp_path / "ck").glob("r*-f*.npy"))
    assert len(files) == small_run.sizes["time"]
    record = np.load(files[0], allow_pickle=False)
    assert record.dtype.names is not None and "entropy" in record.dtype.names  # named fields, no layout

    def must_not_run(*args):
        raise AssertionError("a checkpointed frame was recomputed")

    monkeypatch.setattr(trajectory, "_frame_values", must_not_run)
    again = entropy_trajectory(small_run, checkpoint=tmp_path / "ck", **options)
    for name in first.data_vars:
        assert again[name].dtype == first[name].dtype
        np.testing.assert_array_equal(again[name].values, first[name].values, err_msg=name)


def test_a_checkpoint_of_the_old_flat_format_is_refused_not_misread(small_run, tmp_path):
    ck = tmp_path / "ck"
    ck.mkdir()
    # what format 1 wrote: a key without "format" and one flat float vector per frame
    (ck / KEY_FILE).write_text(json.dumps({"analysis": "entropy_trajectory", "options": {}, "seed": 0}))
    np.save(ck / "r00000-f000000.npy", np.zeros(16))
    with pytest.raises(ConfigError, match=f"format 1 .*reads format {FORMAT}"):
        entropy_trajectory(small_run, max_particles=300, checkpoint=ck)


def test_a_stray_flat_frame_file_in_a_current_checkpoint_is_refused(small_run, tmp_path):
    ck = tmp_path / "ck"
    entropy_trajectory(small_run, max_particles=300, mutual_information=False, checkpoint=ck)
    np.save(ck / "r00000-f000001.npy", np.zeros(16))  # not a record
    with pytest.raises(ConfigError, match="cannot read"):
        entropy_trajectory(small_run, max_particles=300, mutual_information=False, checkpoint=ck)


def test_checkpoint_refuses_records_with_python_objects(tmp_path):
    saved = FrameCheckpoint(tmp_path / "ck", {"analysis": "x"})
    with pytest.raises(TypeError):
        saved.save(0, 0, np.array([object()]))
    saved.save(0, 0, np.zeros((), dtype=[("a", "f8", (2,))]))
    loaded = saved.load(0, 0)
    assert loaded is not None and loaded.dtype.names == ("a",)
    assert saved.load(0, 1) is None


def test_estimate_takes_only_value_and_se_by_position():
    est = Estimate(1.5, 0.1, units="bits", estimator="knn", n=10, dim=2)
    assert (est.value, est.se, est.units, est.n, est.dim) == (1.5, 0.1, "bits", 10, 2)
    assert tuple(est) == (1.5, 0.1)
    with pytest.raises(TypeError):
        Estimate(1.5, 0.1, "bits")  # type: ignore[misc]  # the rest is keyword-only
