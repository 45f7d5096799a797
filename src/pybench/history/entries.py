"""What one run adds to the history: a :class:`RunEntry` holding a :class:`ResultEntry` per
benchmark, built from the run stage's outcomes (:func:`from_outcomes`), and the rows a store
writes for them."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Mapping, Sequence
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
    with np.errstate(invalid="ignore"):
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


def slot_rows(result: ResultEntry) -> list[tuple[Any, ...]]:
    """``(position, step, metric, mean, low, high, p, flagged, effect, n_values, seed_values,
    baseline_values)`` for each slot of ``result`` (none for an ERROR)."""
    if result.values is None or not result.slots:
        return []
    values = np.ascontiguousarray(np.asarray(result.values, dtype="<f8").T)
    base = None
    if result.baseline is not None:
        base = np.ascontiguousarray(np.asarray(result.baseline, dtype="<f8").T)
    mean, low, high = summarise(result.values)
    n = values.shape[1]
    rows = []
    for k, (step, metric) in enumerate(result.slots):
        rows.append(
            (
                k,
                int(step),
                metric,
                _finite(mean[k]),
                _finite(low[k]),
                _finite(high[k]),
                _finite(result.p[k]) if result.p is not None else None,
                int(result.flagged[k]) if result.flagged is not None else None,
                _finite(result.effect[k]) if result.effect is not None else None,
                n,
                values[k].tobytes(),
                base[k].tobytes() if base is not None else None,
            )
        )
    return rows


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


def result_row(result: ResultEntry) -> tuple[Any, ...]:
    """``(bench, status, meta_p, n_flagged, n_slots, settings, seeds, error, warnings,
    layout_id, means, lows, highs, flags)``."""
    shape = layout(result)
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
        shape[0] if shape else None,
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
