"""The validation and spec layer (dustsim.spec) and the stream registry (dustsim.streams)."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dustsim import spec, streams
from dustsim.artifacts import make_artifact
from dustsim.config import SimulationConfig
from dustsim.errors import ConfigError
from dustsim.model.config import NetworkConfig, SamplerConfig, TrainConfig
from dustsim.physics.boundaries import make_boundary
from dustsim.physics.interactions import make_interaction
from dustsim.physics.interactions import parse_spec as interaction_spec
from dustsim.physics.potentials import make_potentials
from dustsim.physics.potentials import parse_spec as potential_spec
from dustsim.physics.schedules import make_schedule
from dustsim.physics.schedules import parse_spec as schedule_spec
from dustsim.processes import make_process

NOT_NUMBERS = [True, False, np.bool_(True), "1", None, [1.0], math.inf, -math.inf, math.nan]


@pytest.mark.parametrize("value", NOT_NUMBERS)
def test_number_rules_refuse_booleans_strings_and_non_finite(value):
    assert not spec.is_number(value)
    for check in (spec.finite_number, spec.positive_number, spec.nonnegative_number, spec.number_in):
        with pytest.raises(ConfigError, match=r"^where: opt must be .*, got "):
            check(value, "opt", "where")


@given(st.one_of(st.integers(-(10**6), 10**6), st.floats(allow_nan=False, allow_infinity=False)))
def test_number_rules_accept_finite_reals(x):
    assert spec.finite_number(x, "x") == float(x)
    assert spec.finite_number(np.float32(x) if abs(x) < 1e30 else x, "x") == pytest.approx(float(x), rel=1e-6)
    assert (x > 0) == _accepts(spec.positive_number, x)
    assert (x >= 0) == _accepts(spec.nonnegative_number, x)


def _accepts(check, value) -> bool:
    try:
        check(value, "x")
    except ConfigError:
        return False
    return True


def test_integer_rule():
    assert spec.integer(np.int64(3), "n", minimum=1) == 3
    for bad in (True, 2.0, "3"):
        with pytest.raises(ConfigError, match="n must be an integer"):
            spec.integer(bad, "n")
    with pytest.raises(ConfigError, match="n must be between 1 and 5, got 6"):
        spec.integer(6, "n", minimum=1, maximum=5)
    with pytest.raises(ConfigError, match=r"^\[training\] steps must be >= 1, got 0$"):
        spec.integer(0, "steps", "[training]", minimum=1)


def test_axis_numbers():
    assert spec.axis_numbers(2, "w", 3) == [2.0, 2.0, 2.0]
    assert spec.axis_numbers([1, 2], "w", 2, sign="positive") == [1.0, 2.0]
    with pytest.raises(ConfigError, match="w has 3 values but the system is 2-D"):
        spec.axis_numbers([1, 2, 3], "w", 2)
    with pytest.raises(ConfigError, match="w must be positive"):
        spec.axis_numbers([1, 0], "w", 2, sign="positive")
    with pytest.raises(ConfigError, match="w must be >= 0"):
        spec.axis_numbers([True, 1], "w", 2, sign="nonnegative")


_VALUES = st.one_of(
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False, width=64).filter(lambda v: v != 0 or math.copysign(1, v) > 0),
    st.lists(st.integers(-100, 100), min_size=1, max_size=4),
    st.booleans(),
)
_KEYS = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)


@given(st.from_regex(r"[a-z][a-z-]{0,9}", fullmatch=True), st.dictionaries(_KEYS, _VALUES, max_size=4))
def test_parse_spec_round_trips_toml_literals(name, options):
    def literal(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, list):
            return "[" + ",".join(str(i) for i in v) + "]"
        return repr(v)

    text = name + (":" + ",".join(f"{k}={literal(v)}" for k, v in options.items()) if options else "")
    assert spec.parse_spec(text, "thing") == {"name": name, **options}


def test_spec_parsers_share_one_syntax_and_one_error():
    """Every spec of dustsim reads ``name:key=value`` alike and refuses a bare word alike."""
    for parse, what in ((potential_spec, "potential"), (interaction_spec, "interaction"), (schedule_spec, "schedule")):
        assert parse("Foo:a=1,b=[1, 2],c=x") == {"name": "foo", "a": 1, "b": [1, 2], "c": "x"}
        with pytest.raises(ConfigError, match=f"^{what} option 'a' is not of the form key=value$"):
            parse("foo:a")
    with pytest.raises(ConfigError, match=r"^artifact option 'a' is not of the form key=value$"):
        make_artifact("gmm:a", 10, seed=0)
    assert potential_spec("custom:mod:fn") == {"name": "custom", "force": "mod:fn"}
    assert schedule_spec("python:mod:fn,of=kT") == {"name": "python", "function": "mod:fn", "of": "kT"}


@pytest.mark.parametrize(
    "build",
    [
        lambda v: make_process("vp", beta_max=v),
        lambda v: make_process("brownian", D=v),
        lambda v: make_potentials([{"name": "harmonic", "k": v}], 1),
        lambda v: make_interaction({"name": "wca", "sigma": v}),
        lambda v: make_schedule({"name": "linear", "start": v}, 1.0),
        lambda v: make_boundary({"kind": "periodic", "box": v}, 1),
        lambda v: make_artifact("gaussian", 10, 1, seed=0, options={"std": v}),
        lambda v: SimulationConfig(dt=v).validate(),
        lambda v: SimulationConfig(n=v).validate(),
        lambda v: TrainConfig(lr=v).validate(),
        lambda v: NetworkConfig(width=v).validate(),
        lambda v: SamplerConfig(snr=v).validate(),
    ],
)
def test_true_is_not_a_number_anywhere(build):
    """One rule for every option: ``True`` is refused with a one-line ConfigError."""
    with pytest.raises(ConfigError) as info:
        build(True)
    message = str(info.value)
    assert "\n" not in message and "must be" in message and "True" in message


# ----------------------------------------------------------------------- streams
def test_stream_ids_are_fixed_and_distinct():
    """Renumbering a stream would change every output drawn from it (see dustsim.streams)."""
    assert (streams.DYNAMICS_STREAM, streams.ARTIFACT_STREAM) == (0, 1)
    assert (streams.RESTORE_REFERENCE_STREAM, streams.EXACT_POSTERIOR_STREAM) == (7, 8)
    assert streams.MODEL_STREAMS == {
        "init": 0,
        "data": 1,
        "sampler": 2,
        "prior": 3,
        "probe": 4,
        "projection": 5,
        "restore": 6,
        "validation": 7,
        "validation-draws": 8,
    }
    numpy_ids = [streams.ARTIFACT_STREAM, streams.RESTORE_REFERENCE_STREAM, streams.EXACT_POSTERIOR_STREAM]
    assert len(set(numpy_ids)) == len(numpy_ids)
    assert len(set(streams.MODEL_STREAMS.values())) == len(streams.MODEL_STREAMS)


def test_stream_draws_differ_between_streams_and_repeat_within():
    a = streams.numpy_stream(5, streams.ARTIFACT_STREAM).random(4)
    assert np.array_equal(a, streams.artifact_rng(5).random(4))
    assert not np.array_equal(a, streams.numpy_stream(5, streams.EXACT_POSTERIOR_STREAM).random(4))
    seeds = {streams.stream_seed(5, name) for name in streams.MODEL_STREAMS}
    assert len(seeds) == len(streams.MODEL_STREAMS) and all(0 <= s < streams.MAX_SEED for s in seeds)
    assert 0 <= streams.fresh_seed() < streams.MAX_SEED
    members = streams.member_seeds(3, 5)
    assert members[:3] == streams.member_seeds(3, 3) and len(set(members)) == 5


def test_no_random_stream_is_defined_outside_the_registry():
    """Spawn keys, stream ids and fresh seeds of dustsim come from dustsim.streams only."""
    root = Path(streams.__file__).parent
    pattern = re.compile(
        r"spawn_key=\(\d|\)\.spawn\(|^\s*(DYNAMICS_STREAM|ARTIFACT_STREAM|MAX_STEPS_PER_CALL)\s*="
        r"|def fresh_seed"
    )
    offenders = [
        f"{path.relative_to(root)}:{i}"
        for path in root.rglob("*.py")
        if path.name not in ("streams.py", "stepping.py")
        for i, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert offenders == []
