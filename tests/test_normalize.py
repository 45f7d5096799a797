"""Normalization of return values (SPEC §2) and ``evaluate_seed`` never raising for them."""

from __future__ import annotations

import math
from decimal import Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybench.core.normalize import ReturnValueError, normalize
from pybench.core.seeds import SeedFailure, SeedOutcome
from pybench.execution.evaluate import evaluate_seed

# -- the three shapes -----------------------------------------------------------


def test_a_number_is_metric_score_at_step_zero() -> None:
    assert normalize(0.91) == {(0, "score"): 0.91}
    assert normalize(-3) == {(0, "score"): -3.0}
    out = normalize(7)
    assert type(out[(0, "score")]) is float


def test_a_dict_is_several_metrics_at_step_zero() -> None:
    out = normalize({"accuracy": 0.91, "min:loss": 0.42, "max:reward": 3})
    assert out == {(0, "accuracy"): 0.91, (0, "min:loss"): 0.42, (0, "max:reward"): 3.0}
    assert all(type(v) is float for v in out.values())


def test_a_list_of_dicts_is_a_curve() -> None:
    out = normalize([{"step": 1, "min:loss": 0.9}, {"step": 10, "min:loss": 0.3}])
    assert out == {(1, "min:loss"): 0.9, (10, "min:loss"): 0.3}


def test_curve_steps_may_carry_different_metrics_and_any_order() -> None:
    out = normalize(
        [
            {"step": 100, "min:loss": 0.1, "accuracy": 0.95},
            {"step": -1, "min:loss": 2.0},
            {"step": 0, "min:loss": 1.0},
        ]
    )
    assert out == {
        (100, "min:loss"): 0.1,
        (100, "accuracy"): 0.95,
        (-1, "min:loss"): 2.0,
        (0, "min:loss"): 1.0,
    }
    assert all(type(step) is int and type(metric) is str for step, metric in out)


def test_non_finite_values_pass_through() -> None:
    out = normalize({"a": float("nan"), "b": float("inf"), "c": -math.inf})
    assert math.isnan(out[(0, "a")])
    assert out[(0, "b")] == math.inf
    assert out[(0, "c")] == -math.inf


@pytest.mark.parametrize(
    "value",
    [
        np.float64(0.25),
        np.float32(0.25),
        np.float16(0.25),
        np.int64(3),
        np.int32(-3),
        np.uint8(200),
        np.longdouble(0.5),
    ],
    ids=lambda v: type(v).__name__,
)
def test_numpy_scalars_are_numbers(value: Any) -> None:
    want = float(value)
    for raw, key in [
        (value, (0, "score")),
        ({"m": value}, (0, "m")),
        ([{"step": 2, "m": value}], (2, "m")),
    ]:
        out = normalize(raw)
        assert out == {key: want}
        assert type(out[key]) is float


@pytest.mark.parametrize("step", [np.int64(5), np.int32(5), np.uint16(5)])
def test_numpy_int_steps_become_python_ints(step: Any) -> None:
    out = normalize([{"step": step, "m": 1.0}])
    assert out == {(5, "m"): 1.0}
    assert type(next(iter(out))[0]) is int


def test_fraction_is_a_number() -> None:
    assert normalize(Fraction(1, 4)) == {(0, "score"): 0.25}


# -- malformed values ----------------------------------------------------------------

# (value, substrings the message must contain)
MALFORMED: list[tuple[str, Any, tuple[str, ...]]] = [
    ("bool", True, ("bool",)),
    ("np.bool_", np.True_, ("bool",)),
    ("string", "0.5", ("str",)),
    ("None", None, ("None",)),
    ("bytes", b"0.5", ("bytes",)),
    ("complex", 1 + 2j, ("complex",)),
    ("Decimal", Decimal("0.5"), ("Decimal",)),
    ("ndarray", np.array([0.1, 0.2]), ("ndarray",)),
    ("empty dict", {}, ("empty dict",)),
    ("empty list", [], ("empty list",)),
    ("dict with bool value", {"acc": True}, ("'acc'", "bool")),
    ("dict with np.bool_ value", {"acc": np.False_}, ("'acc'", "bool")),
    ("dict with str value", {"acc": "0.9"}, ("'acc'", "str")),
    ("dict with None value", {"acc": None}, ("'acc'", "None")),
    ("dict with list value", {"acc": [0.9]}, ("'acc'", "list")),
    ("dict with nested dict", {"acc": {"top1": 0.9}}, ("'acc'", "dict")),
    ("dict with non-string key", {1: 0.9}, ("1", "int")),
    ("dict with tuple key", {("a", 1): 0.9}, ("('a', 1)", "tuple")),
    ("dict with empty min: name", {"min:": 0.9}, ("'min:'", "empty")),
    ("dict with empty max: name", {"max:": 0.9}, ("'max:'", "empty")),
    ("dict with empty name", {"": 0.9}, ("''", "empty")),
    ("dict with only a step", {"step": 3}, ("no metrics",)),
    ("record is a number", [0.5], ("record 0",)),
    ("record is a list", [{"step": 1, "a": 1.0}, [2, 3.0]], ("record 1", "list")),
    ("record without step", [{"step": 1, "a": 1.0}, {"a": 2.0}], ("record 1", "'step'")),
    ("record with only a step", [{"step": 1}], ("record 0", "no metrics")),
    (
        "duplicate step",
        [{"step": 1, "a": 1.0}, {"step": 2, "a": 1.0}, {"step": 1, "b": 2.0}],
        ("record 2", "step 1", "twice"),
    ),
    (
        "duplicate numpy step",
        [{"step": 4, "a": 1.0}, {"step": np.int64(4), "a": 2.0}],
        ("record 1",),
    ),
    ("float step", [{"step": 1.0, "a": 1.0}], ("record 0", "'step'", "1.0", "float")),
    ("str step", [{"step": "1", "a": 1.0}], ("record 0", "'step'", "'1'", "str")),
    ("bool step", [{"step": True, "a": 1.0}], ("record 0", "'step'", "bool")),
    ("np.bool_ step", [{"step": np.True_, "a": 1.0}], ("record 0", "'step'", "bool")),
    ("None step", [{"step": None, "a": 1.0}], ("record 0", "'step'", "None")),
    ("float step in a dict", {"step": 2.5, "a": 1.0}, ("'step'", "float")),
    ("curve str value", [{"step": 0, "a": 1.0}, {"step": 5, "acc": "x"}], ("record 1", "'acc'")),
    ("curve None value", [{"step": 5, "acc": None}], ("record 0", "'acc'", "None")),
    ("curve list value", [{"step": 5, "acc": [1.0]}], ("record 0", "'acc'", "list")),
    ("curve nested dict", [{"step": 5, "acc": {"x": 1}}], ("record 0", "'acc'", "dict")),
    ("curve bool value", [{"step": 5, "acc": False}], ("record 0", "'acc'", "bool")),
    ("curve non-string key", [{"step": 5, 7: 1.0}], ("record 0", "7")),
    ("curve empty min: name", [{"step": 5, "min:": 1.0}], ("record 0", "'min:'")),
    ("overflowing int", {"acc": 10**400}, ("'acc'", "float")),
    ("overflowing int returned", 10**400, ("float",)),
    ("overflowing Fraction returned", Fraction(10**400, 3), ("float",)),
]


@pytest.mark.parametrize(
    ("value", "needles"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED]
)
def test_malformed_values_raise_a_message_naming_the_culprit(
    value: Any, needles: tuple[str, ...]
) -> None:
    with pytest.raises(ReturnValueError) as info:
        normalize(value)
    message = str(info.value)
    for needle in needles:
        assert needle in message, (needle, message)
    assert "\n" not in message


@pytest.mark.parametrize(
    "step",
    [np.zeros((2, 2)), np.arange(100), np.array([[1], [2]])],
    ids=["2x2", "arange100", "column"],
)
def test_array_step_message_is_one_line(step: Any) -> None:
    with pytest.raises(ReturnValueError) as info:
        normalize([{"step": step, "a": 1.0}])
    message = str(info.value)
    assert "record 0" in message
    assert "'step'" in message
    assert "\n" not in message, message


# -- evaluate_seed ------------------------------------------------------------------


def _check_outcome(outcome: SeedOutcome, value: Any) -> None:
    assert isinstance(outcome, SeedOutcome)
    assert (outcome.index, outcome.seed) == (0, 7)
    assert (outcome.values is None) != (outcome.failure is None)
    try:
        expected = normalize(value)
    except ReturnValueError as exc:
        expected_failure: str | None = str(exc)
    else:
        expected_failure = None
    if outcome.values is not None:
        assert expected_failure is None
        assert outcome.values
        for (step, metric), number in outcome.values.items():
            assert type(step) is int
            assert type(metric) is str
            assert type(number) is float
        assert outcome.values.keys() == expected.keys()
    else:
        failure = outcome.failure
        assert isinstance(failure, SeedFailure)
        assert failure.message == expected_failure
        assert failure.message.strip()
        assert "\n" not in failure.message, failure.message
        assert failure.traceback == ""


def test_evaluate_seed_passes_the_seed() -> None:
    seen: list[int] = []

    def bench(seed: int) -> float:
        seen.append(seed)
        return seed / 2

    outcome = evaluate_seed(bench, 3, 4242)
    assert seen == [4242]
    assert outcome == SeedOutcome(3, 4242, values={(0, "score"): 2121.0})


def test_evaluate_seed_reports_a_bad_return_value() -> None:
    outcome = evaluate_seed(lambda s: {"acc": "high"}, 0, 7)
    assert outcome.values is None
    assert outcome.failure is not None
    assert "'acc'" in outcome.failure.message


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("plain"),
        ValueError("first line\nsecond line"),
        KeyError("key"),
        SystemExit(3),
    ],
    ids=["plain", "multi-line", "KeyError", "SystemExit"],
)
def test_evaluate_seed_captures_user_exceptions_in_one_line(exc: BaseException) -> None:
    def bench(seed: int) -> float:
        raise exc

    outcome = evaluate_seed(bench, 0, 7)
    assert outcome.values is None
    assert outcome.failure is not None
    message = outcome.failure.message
    assert type(exc).__name__ in message
    assert "\n" not in message, message
    assert type(exc).__name__ in outcome.failure.traceback
    assert "bench" in outcome.failure.traceback  # the user's frame is shown


def test_evaluate_seed_message_keeps_the_exception_when_notes_are_added() -> None:
    def bench(seed: int) -> float:
        exc = ValueError("bad seed")
        exc.add_note("while computing the loss")
        raise exc

    outcome = evaluate_seed(bench, 0, 7)
    assert outcome.failure is not None
    assert "ValueError" in outcome.failure.message
    assert "bad seed" in outcome.failure.message
    assert "\n" not in outcome.failure.message


class _FloatSub(float):
    pass


class _Weird:
    def __repr__(self) -> str:
        return "<weird\nobject>"


ODD = [
    np.float64(0.5),
    np.float32(-1.5),
    np.int64(-2),
    np.uint64(2**64 - 1),
    np.bool_(True),
    np.array(0.5),
    np.array([1.0, 2.0]),
    np.zeros((3, 3)),
    np.arange(50),
    np.float64("nan"),
    1 + 2j,
    Decimal("1.5"),
    Fraction(1, 3),
    Fraction(10**400, 3),
    10**400,
    -(10**400),
    _FloatSub(2.5),
    b"bytes",
    bytearray(b"x"),
    {1, 2},
    frozenset({"a"}),
    (1.0, 2.0),
    object(),
    _Weird(),
    range(3),
    float("inf"),
    Ellipsis,
    print,
]


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


odd = st.sampled_from(ODD)
text = st.text(max_size=8) | st.sampled_from(["step", "min:", "max:", "min:loss", "", "a\nb"])
scalar = st.none() | st.booleans() | st.integers() | st.floats() | text | odd
json_like = st.recursive(
    scalar,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(text, inner, max_size=4)
        | st.dictionaries(
            st.integers() | st.booleans() | st.none() | odd.filter(_hashable), inner, max_size=2
        )
    ),
    max_leaves=12,
)
step_value = st.integers(-5, 5) | st.floats() | text | st.booleans() | st.none() | odd
metric_value = st.floats() | st.integers() | st.booleans() | st.none() | text | odd
record = st.dictionaries(text, metric_value, max_size=3).flatmap(
    lambda d: st.one_of(st.just(d), step_value.map(lambda s: {**d, "step": s}))
)
curve_like = st.lists(record, max_size=4)


@settings(max_examples=600, deadline=None, derandomize=True)
@given(json_like | curve_like | record)
def test_evaluate_seed_never_raises_for_any_return_value(value: Any) -> None:
    outcome = evaluate_seed(lambda s: value, 0, 7)
    _check_outcome(outcome, value)


@pytest.mark.parametrize("value", ODD, ids=lambda v: type(v).__name__)
def test_evaluate_seed_handles_odd_objects_everywhere(value: Any) -> None:
    containers = [value, {"m": value}, [{"step": 1, "m": value}], [{"step": value, "m": 1.0}]]
    if _hashable(value):
        containers.append({value: 1.0})
    for container in containers:
        _check_outcome(evaluate_seed(lambda s, c=container: c, 0, 7), container)
