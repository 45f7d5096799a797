"""What one run adds to the history: a :class:`RunEntry` holding a :class:`ResultEntry` per
benchmark, built from the run stage's outcomes (:func:`from_outcomes`), and the rows a store
writes for them."""

from __future__ import annotations

import dataclasses
import itertools
import json
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._tdist import t_ppf

if TYPE_CHECKING:
    from ..engine.outcome import Outcome

__all__ = ["ResultEntry", "RunEntry", "from_outcomes", "slot_rows", "summarise"]

LEVEL = 0.95
"""The confidence level of each run's interval around a slot's mean."""


@dataclass(frozen=True)
class ResultEntry:
    """One benchmark of a run: its verdict and its per-seed values of every slot."""

    bench: str
    status: str
    slots: tuple[tuple[int, str], ...] = ()
    values: np.ndarray | None = None
    """``(n_seeds, K)``, columns in ``slots`` order (``None`` for an ERROR)."""
    baseline: np.ndarray | None = None
    """The compared side on the same seeds and slots, when there was a comparison."""
    seeds: tuple[int, ...] = ()
    meta_p: float | None = None
    n_flagged: int | None = None
    p: tuple[float | None, ...] | None = None
    flagged: tuple[bool, ...] | None = None
    effect: tuple[float | None, ...] | None = None
    settings: Mapping[str, Any] = field(default_factory=dict)
    error: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunEntry:
    """One recorded command and the benchmarks it ran."""

    command: str
    started: str
    results: tuple[ResultEntry, ...]
    machine: Mapping[str, Any]
    pybench_version: str
    elapsed: float | None = None
    commit: str | None = None
    commit_short: str | None = None
    branch: str | None = None
    dirty: bool | None = None
    base_commit: str | None = None
    path: str | None = None
    uid: str = field(default_factory=lambda: uuid.uuid4().hex)


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def summarise(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each column's mean and the 95 % t interval around it (NaN where a value is not finite;
    the mean itself for a single seed)."""
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    with np.errstate(invalid="ignore", over="ignore"):  # values near 1e308: an open interval
        mean = values.mean(axis=0)
        if n < 2:
            return mean, mean.copy(), mean.copy()
        half = -t_ppf((1 - LEVEL) / 2, n - 1) * values.std(axis=0, ddof=1) / np.sqrt(n)
    return mean, mean - half, mean + half


def _plain(value: Any) -> Any:
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _column(values: Any, count: int) -> list[float | None]:
    """Python floats, ``None`` where a value is missing or not finite (or all ``None``)."""
    if values is None:
        return [None] * count
    array = np.asarray(values, dtype=float)  # a None in a tuple becomes NaN
    column = array.astype(object)
    column[~np.isfinite(array)] = None
    return list(column.tolist())


def _blobs(matrix: np.ndarray) -> list[bytes]:
    """Each column of ``(n, K)`` ``matrix`` as little-endian float64 bytes."""
    raw = np.ascontiguousarray(np.asarray(matrix, dtype="<f8").T).tobytes()
    width = 8 * matrix.shape[0]
    return [raw[i : i + width] for i in range(0, len(raw), width)]


def slot_rows(result: ResultEntry) -> Iterator[tuple[Any, ...]]:
    """``(position, step, metric, mean, low, high, p, flagged, effect, n_values, seed_values,
    baseline_values)`` for each slot of ``result`` (none for an ERROR), built column by column."""
    if result.values is None or not result.slots:
        return iter(())
    count = len(result.slots)
    mean, low, high = summarise(result.values)
    flagged: list[int | None] = [None] * count
    if result.flagged is not None:
        flagged = np.asarray(result.flagged, dtype=np.int64).tolist()
    base = _blobs(result.baseline) if result.baseline is not None else [None] * count
    return zip(
        range(count),
        (int(step) for step, _ in result.slots),
        (metric for _, metric in result.slots),
        *(_column(a, count) for a in (mean, low, high, result.p)),
        flagged,
        _column(result.effect, count),
        itertools.repeat(np.asarray(result.values).shape[0], count),
        _blobs(result.values),
        base,
        strict=True,
    )


def layout(result: ResultEntry) -> tuple[str, str] | None:
    """The ``(id, JSON)`` of the result's slot layout (``None`` without slots)."""
    if not result.slots:
        return None
    import hashlib

    text = json.dumps([[int(step), metric] for step, metric in result.slots])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16], text


def summary(result: ResultEntry) -> tuple[bytes | None, ...]:
    """The result's per-slot means, lows, highs (float64) and flags (int8), as bytes."""
    if result.values is None or not result.slots:
        return (None, None, None, None)
    arrays = summarise(result.values)
    flags = np.full(len(result.slots), -1, dtype=np.int8)
    if result.flagged is not None:
        flags[:] = np.asarray(result.flagged, dtype=np.int8)
    return (*(np.asarray(a, dtype="<f8").tobytes() for a in arrays), flags.tobytes())


def result_row(result: ResultEntry, layout_id: str | None) -> tuple[Any, ...]:
    """``(bench, status, meta_p, n_flagged, n_slots, settings, seeds, error, warnings,
    layout_id, means, lows, highs, flags)``; ``layout_id`` from :func:`layout`."""
    return (
        result.bench,
        result.status,
        _finite(result.meta_p),
        result.n_flagged,
        len(result.slots),
        json.dumps(_plain(dict(result.settings)), sort_keys=True),
        np.asarray(result.seeds, dtype="<u4").tobytes(),
        result.error,
        json.dumps(list(result.warnings)),
        layout_id,
        *summary(result),
    )


def _verdicts(outcome: Outcome) -> dict[str, Any]:
    """Per slot p-value, flag and effect, and the run's meta-p and flagged count."""
    comparison = outcome.comparison
    if comparison is None:
        return {}
    by_slot: dict[tuple[int, str], tuple[float | None, bool, float | None]] = {}
    if comparison.stats is not None:
        for row in comparison.stats.slots:
            by_slot[(row.step, row.metric)] = (row.p_value, row.flagged, row.effect_size)
    for gone in comparison.diverged:
        by_slot[(gone.step, gone.metric)] = (None, True, None)
    rows = [by_slot.get((step, metric), (None, False, None)) for step, metric in outcome.slots]
    return {
        "meta_p": comparison.meta_p,
        "n_flagged": comparison.n_flagged,
        "p": tuple(r[0] for r in rows),
        "flagged": tuple(r[1] for r in rows),
        "effect": tuple(r[2] for r in rows),
    }


def result_from_outcome(outcome: Outcome) -> ResultEntry:
    """The entry of one benchmark's outcome."""
    return ResultEntry(
        bench=outcome.name,
        status=outcome.status.value,
        slots=tuple((int(s), str(m)) for s, m in outcome.slots),
        values=outcome.values,
        baseline=outcome.baseline,
        seeds=tuple(outcome.seeds),
        settings=dataclasses.asdict(outcome.settings),
        error=outcome.error.message if outcome.error is not None else None,
        warnings=tuple(outcome.warnings),
        **_verdicts(outcome),
    )


def from_outcomes(outcomes: Sequence[Outcome], **context: Any) -> RunEntry:
    """The entry of a run: ``context`` holds :class:`RunEntry`'s other fields."""
    results = tuple(result_from_outcome(o) for o in outcomes if o.status.value != "GONE")
    return RunEntry(results=results, **context)
