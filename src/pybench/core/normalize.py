"""Normalization: turn a benchmark's return value into ``{(step, metric): value}``.

Three shapes are accepted::

    0.91                                           # one metric "score" at step 0
    {"accuracy": 0.91, "min:loss": 0.42}           # several metrics at step 0
    [{"step": 1, "min:loss": 0.9}, {"step": 10, "min:loss": 0.3}]   # a curve

Numbers are Python or numpy ints and floats; bools are refused. Non-finite
values pass through here: whether they are allowed depends on what the run is
for (a new baseline refuses them, a comparison reports a divergence).
"""

from __future__ import annotations

import numbers
import re
from array import array
from itertools import repeat
from operator import itemgetter
from typing import Any

from .errors import PybenchError
from .values import SlotValues

__all__ = ["ReturnValueError", "Slot", "normalize", "describe_slot"]

Slot = tuple[int, str]
"""One ``(step, metric)`` position."""

DEFAULT_METRIC = "score"
_SHAPES = "return a number, a dict of metrics, or a list of dicts with a 'step' key"


class ReturnValueError(PybenchError):
    """A benchmark returned a value that is not one of the three shapes."""


def describe_slot(slot: Slot) -> str:
    """``step 100 'min:loss'``: how a slot is named in messages."""
    return f"step {slot[0]} {slot[1]!r}"


def _kind(value: Any) -> str:
    if value is None:
        return "None"
    return type(value).__name__


def _show(value: Any) -> str:
    """``repr(value)`` on one line (a numpy array's repr spans several)."""
    return re.sub(r"\s*\n\s*", " ", repr(value))


def _is_number(value: Any) -> bool:
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        return False
    return isinstance(value, numbers.Real)


def _number(value: Any, where: str) -> float:
    if not _is_number(value):
        if isinstance(value, bool) or type(value).__name__ == "bool_":
            raise ReturnValueError(f"{where} is a bool; return a number (e.g. float(flag))")
        raise ReturnValueError(f"{where} is a {_kind(value)}, not a number")
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ReturnValueError(f"{where} cannot be read as a float ({exc})") from exc


def _metric_name(key: Any, where: str) -> str:
    if not isinstance(key, str):
        raise ReturnValueError(f"{where}: metric name {_show(key)} is a {_kind(key)}, not a string")
    bare = key[4:] if key.startswith(("min:", "max:")) else key
    if not bare:
        raise ReturnValueError(f"{where}: metric name {key!r} is empty")
    try:
        key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ReturnValueError(
            f"{where}: metric name {key!r} is not valid Unicode text (a lone surrogate at"
            f" position {exc.start}); name metrics with ordinary text"
        ) from None
    return key


def _record(record: Any, step: int, where: str, out: dict[Slot, float]) -> None:
    metrics = {k: v for k, v in record.items() if k != "step"}
    if not metrics:
        raise ReturnValueError(f"{where} has no metrics; add at least one metric to it")
    for key, value in metrics.items():
        name = _metric_name(key, where)
        out[(step, name)] = _number(value, f"{where} metric {name!r}")


def _step(value: Any, where: str) -> int:
    if (
        isinstance(value, bool)
        or type(value).__name__ == "bool_"
        or not isinstance(value, numbers.Integral)
    ):
        raise ReturnValueError(
            f"{where}: 'step' is {_show(value)} ({_kind(value)}); it must be an int"
        )
    step = int(value)
    if not -STEP_LIMIT <= step < STEP_LIMIT:
        raise ReturnValueError(
            f"{where}: 'step' is {_short(step)}; steps must lie in [-2**63, 2**63)"
        )
    return step


STEP_LIMIT = 2**63
"""Steps are 64-bit integers (what the baseline file and other tools can hold)."""


def _short(number: int) -> str:
    """An int too long to print whole (Python refuses past 4300 digits) as its size."""
    if number.bit_length() <= 256:
        return str(number)
    return f"an int of {number.bit_length()} bits"


def _step_dict(value: dict[Any, Any], out: dict[Slot, float]) -> None:
    """A curve given as ``{step: {metric: value}}``: each key must be an int step."""
    for key, record in value.items():
        if isinstance(key, bool) or not isinstance(key, numbers.Integral):
            raise ReturnValueError(
                f"{_show(key)} maps to a dict, which only a curve may hold, keyed by int step "
                f"(not {_kind(key)}): {{1: {{'min:loss': 0.9}}, 10: {{...}}}} or "
                "[{'step': 1, 'min:loss': 0.9}, ...]"
            )
        _record(record, int(key), f"step {int(key)}", out)


def normalize(value: Any) -> SlotValues:
    """Convert a benchmark's return value to ``{(step, metric): float}``, held as arrays
    (:class:`~pybench.core.values.SlotValues`).

    Raises:
        ReturnValueError: describing the offending part of the value; the
            caller adds the benchmark and seed.
    """
    fast = _plain_curve(value) if isinstance(value, list) and value else None
    return fast if fast is not None else SlotValues.from_mapping(_checked(value))


def _checked(value: Any) -> dict[Slot, float]:
    """``normalize``, slot by slot, with a message for the first thing wrong."""
    out: dict[Slot, float] = {}
    if isinstance(value, dict):
        if not value:
            raise ReturnValueError(f"returned an empty dict; {_SHAPES}")
        if "step" in value:
            _record(value, _step(value["step"], "the returned dict"), "the returned dict", out)
        elif all(isinstance(v, dict) for v in value.values()):
            _step_dict(value, out)  # {step: {metric: value}}, the baseline file's own shape
        else:
            _record(value, 0, "the returned dict", out)
        return out
    if isinstance(value, (list, tuple)):
        if not value:
            raise ReturnValueError(f"returned an empty {_kind(value)}; {_SHAPES}")
        steps: set[int] = set()
        for i, record in enumerate(value):
            where = f"record {i}"
            if not isinstance(record, dict):
                raise ReturnValueError(f"{where} is a {_kind(record)}; a curve is a list of dicts")
            if "step" not in record:
                raise ReturnValueError(
                    f"{where} has no 'step' key; add 'step': <int> to each record"
                )
            step = _step(record["step"], where)
            if step in steps:
                raise ReturnValueError(f"{where}: step {step} appears twice; steps must be unique")
            steps.add(step)
            _record(record, step, f"{where} (step {step})", out)
        return out
    if _is_number(value):
        out[(0, DEFAULT_METRIC)] = _number(value, "the returned value")
        return out
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise ReturnValueError(f"returned a bool; {_SHAPES}")
    raise ReturnValueError(f"returned a {_kind(value)}; {_SHAPES}")


_PLAIN = frozenset((float, int))


def _plain_curve(records: list[Any]) -> SlotValues | None:
    """A curve of plain records (``int`` steps in increasing order, ``str`` metric names,
    ``float`` or ``int`` values) read a record at a time, each metric name checked once;
    ``None`` for anything else, which :func:`_checked` then reads (and explains)."""
    steps: array[int] = array("q")
    metrics: list[str] = []
    values: array[float] = array("d")
    orders: dict[tuple[Any, ...], tuple[list[int], tuple[str, ...]]] = {}
    last = None
    try:
        for record in records:
            if type(record) is not dict or len(record) < 2:
                return None
            keys, row = list(record), list(record.values())
            at = keys.index("step")  # ValueError: no step
            step = row[at]
            if type(step) is not int or (last is not None and step <= last):
                return None
            last = step
            del keys[at], row[at]
            if not _PLAIN.issuperset(map(type, row)):
                return None
            names = tuple(keys)
            known = orders.get(names)
            if known is None:
                if not all(_plain_name(name) for name in names):
                    return None
                order = sorted(range(len(names)), key=names.__getitem__)
                known = orders[names] = (order, tuple(names[i] for i in order))
            order, sorted_names = known
            steps.extend(repeat(step, len(order)))
            metrics.extend(sorted_names)
            values.extend(itemgetter(*order)(row) if len(order) > 1 else row)
    except (ValueError, OverflowError, TypeError):
        return None
    return SlotValues(steps, tuple(metrics), values)


def _plain_name(name: Any) -> bool:
    try:
        return type(name) is str and _metric_name(name, "") == name
    except ReturnValueError:
        return False
