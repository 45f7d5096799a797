"""Reading the history: per benchmark and slot, its series over commits and its change points.

A commit run several times shows its latest run (pybench reruns the same
seeds, so deterministic code repeats its numbers; counting each rerun as a
point would make a level look surer than it is). Commits are ordered by their
first recorded run; a run outside git, or on a dirty tree, is a point of its
own. Change points are searched in each slot's series of means
(:mod:`pybench.history.changes`).

The series are read from each result's slot summary (one row per benchmark
and run, arrays in the order of its layout), so a long history is a few
thousand rows and array operations, not a row per slot and run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .changes import ALPHA, ChangePoint, change_points
from .stores import RunRow, Store, Summary

__all__ = ["BenchHistory", "Point", "SlotHistory", "build", "document"]


@dataclass(frozen=True)
class Point:
    """A slot at one commit: the mean of its per-seed values with the interval, and the
    benchmark's status in that run."""

    run: RunRow
    mean: float | None
    low: float | None
    high: float | None
    status: str
    flagged: bool | None
    runs: int
    """How many runs recorded this slot at this commit (the latest is shown)."""
    position: int
    """The commit's place among every commit of the history (for a shared axis)."""

    @property
    def label(self) -> str:
        return label(self.run)


def label(run: RunRow) -> str:
    """A commit as people read it: short hash (``*`` when dirty), or the run's time."""
    if not run.commit_short:
        return run.started
    return run.commit_short + ("*" if run.dirty else "")


def _number(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class SlotHistory:
    """One slot's series over commits, oldest first, and the change points found in it."""

    step: int
    metric: str
    runs: list[RunRow]
    """The run shown at each commit."""
    positions: np.ndarray
    means: np.ndarray
    lows: np.ndarray
    highs: np.ndarray
    flags: np.ndarray
    """1 flagged, 0 not, -1 no verdict."""
    statuses: list[str]
    counts: np.ndarray
    changes: list[ChangePoint] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.runs)

    @property
    def lower_is_better(self) -> bool:
        return self.metric.startswith("min:")

    def point(self, i: int) -> Point:
        flag = int(self.flags[i])
        return Point(
            self.runs[i],
            _number(self.means[i]),
            _number(self.lows[i]),
            _number(self.highs[i]),
            self.statuses[i],
            None if flag < 0 else bool(flag),
            int(self.counts[i]),
            int(self.positions[i]),
        )

    @property
    def points(self) -> list[Point]:
        return [self.point(i) for i in range(len(self))]

    def relative(self, change: ChangePoint) -> float:
        """The change's relative move in goodness (negative: worse)."""
        if change.before == 0:
            return math.copysign(math.inf, change.after) if change.after else 0.0
        moved = (change.after - change.before) / abs(change.before)
        return -moved if self.lower_is_better else moved

    def moves(self) -> list[tuple[ChangePoint, float, str]]:
        """Each change point with its relative move and ``worse`` or ``better``."""
        return [
            (change, moved, "worse" if moved < 0 else "better")
            for change in self.changes
            for moved in (self.relative(change),)
        ]


@dataclass(frozen=True)
class BenchHistory:
    name: str
    slots: list[SlotHistory]

    @property
    def latest_status(self) -> str | None:
        latest = max(
            ((s.runs[-1].id, s.statuses[-1]) for s in self.slots if len(s)), default=None
        )
        return latest[1] if latest else None


def _order(runs: Sequence[RunRow]) -> dict[int, int]:
    """Each run's commit position (commits in the order of their first run)."""
    positions: dict[tuple[Any, ...], int] = {}
    found = {}
    for run in runs:
        key = ("run", run.id) if run.commit_short is None or run.dirty else ("commit", run.commit)
        if key[1] is None:
            key = ("short", run.commit_short)
        found[run.id] = positions.setdefault(key, len(positions))
    return found


@dataclass
class _Columns:
    """One slot's values gathered over a benchmark's results (possibly several layouts)."""

    run_ids: list[np.ndarray] = field(default_factory=list)
    arrays: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = field(
        default_factory=list
    )
    statuses: list[list[str]] = field(default_factory=list)


def _gather(
    summaries: Sequence[Summary], layouts: dict[str, list[tuple[int, str]]], metric: str | None
) -> dict[str, dict[tuple[int, str], _Columns]]:
    """Per benchmark and slot, its columns of means, lows, highs and flags over results."""
    groups: dict[tuple[str, str], list[Summary]] = {}
    for summary in summaries:
        groups.setdefault((summary.bench, summary.layout_id), []).append(summary)
    found: dict[str, dict[tuple[int, str], _Columns]] = {}
    for (bench, layout_id), rows in groups.items():
        slots = layouts.get(layout_id, [])
        k = len(slots)
        if not k:
            continue
        mats = [
            np.frombuffer(b"".join(getattr(r, name) for r in rows), dtype="<f8").reshape(-1, k)
            for name in ("means", "lows", "highs")
        ]
        flags = np.frombuffer(b"".join(r.flags for r in rows), dtype=np.int8).reshape(-1, k)
        run_ids = np.array([r.run_id for r in rows])
        statuses = [r.status for r in rows]
        by_slot = found.setdefault(bench, {})
        for j, slot in enumerate(slots):
            if metric is not None and slot[1] != metric:
                continue
            columns = by_slot.setdefault(slot, _Columns())
            columns.run_ids.append(run_ids)
            columns.arrays.append((mats[0][:, j], mats[1][:, j], mats[2][:, j], flags[:, j]))
            columns.statuses.append(statuses)
    return found


def _slot(
    slot: tuple[int, str],
    columns: _Columns,
    order: np.ndarray,
    runs: dict[int, RunRow],
    alpha: float | None,
) -> SlotHistory | None:
    """The slot's series: the latest run at each commit, in commit order, and its changes.

    ``order[run_id]`` is the run's commit position (-1: not shown)."""
    run_ids = np.concatenate(columns.run_ids)
    positions = order[run_ids]
    keep = positions >= 0
    if not keep.any():
        return None
    by = np.lexsort((run_ids, positions))
    by = by[keep[by]]
    sorted_positions = positions[by]
    last = np.r_[sorted_positions[1:] != sorted_positions[:-1], True]
    chosen = by[last]
    counts = np.diff(np.r_[-1, np.flatnonzero(last)])
    stacked = [np.concatenate([a[i] for a in columns.arrays]) for i in range(4)]
    statuses = [s for group in columns.statuses for s in group]
    means = stacked[0][chosen]
    return SlotHistory(
        step=slot[0],
        metric=slot[1],
        runs=[runs[rid] for rid in run_ids[chosen].tolist()],
        positions=positions[chosen],
        means=means,
        lows=stacked[1][chosen],
        highs=stacked[2][chosen],
        flags=stacked[3][chosen],
        statuses=[statuses[i] for i in chosen.tolist()],
        counts=counts,
        changes=change_points(means, alpha=ALPHA if alpha is None else alpha),
    )


def build(
    store: Store,
    *,
    benches: Sequence[str] = (),
    metric: str | None = None,
    last: int | None = None,
    branch: str | None = None,
    alpha: float | None = None,
) -> list[BenchHistory]:
    """Every benchmark's slots over the recorded commits (the ``last`` ones, when given), with
    change points; benchmarks sorted by name, their slots by metric, then step."""
    runs = store.runs(branch=branch)
    order = _order(runs)
    if last is not None:
        keep = max(order.values(), default=-1) - last + 1
        order = {run: position for run, position in order.items() if position >= keep}
    since = min(order, default=0)
    by_id = {run.id: run for run in runs}
    lookup = np.full(max(by_id, default=0) + 1, -1, dtype=np.int64)
    lookup[list(order)] = list(order.values())
    gathered = _gather(store.summaries(benches=benches, since_run=since), store.layouts(), metric)
    histories = []
    for bench in sorted(gathered):
        by_metric = sorted(gathered[bench].items(), key=lambda item: (item[0][1], item[0][0]))
        slots = [_slot(s, c, lookup, by_id, alpha) for s, c in by_metric]
        kept = [s for s in slots if s is not None]
        if kept:
            histories.append(BenchHistory(bench, kept))
    return histories


def _floats(values: np.ndarray) -> list[float | None]:
    return [v if math.isfinite(v) else None for v in values.tolist()]


def _slot_document(slot: SlotHistory) -> dict[str, Any]:
    flags = [None if f < 0 else bool(f) for f in slot.flags.tolist()]
    runs = [
        {
            "commit": run.commit_short,
            "time": run.started,
            "mean": mean,
            "low": low,
            "high": high,
            "status": status,
            "flagged": flag,
            "machine": run.machine_id,
            "run": run.uid,
            "runs_at_commit": count,
        }
        for run, mean, low, high, status, flag, count in zip(
            slot.runs,
            _floats(slot.means),
            _floats(slot.lows),
            _floats(slot.highs),
            slot.statuses,
            flags,
            slot.counts.tolist(),
            strict=True,
        )
    ]
    changes = [
        {
            "commit": slot.runs[c.index].commit_short,
            "index": c.index,
            "before": c.before,
            "after": c.after,
            "p": c.p,
            "change": _number(slot.relative(c)),
            "worse": slot.relative(c) < 0,
        }
        for c in slot.changes
    ]
    direction = "lower" if slot.lower_is_better else "higher"
    return {
        "step": slot.step,
        "metric": slot.metric,
        "better": direction,
        "runs": runs,
        "change_points": changes,
    }


def _runs_document(histories: Sequence[BenchHistory]) -> list[dict[str, Any]]:
    """Every run shown, once, with what the slots' entries leave out."""
    seen: dict[str, RunRow] = {}
    for bench in histories:
        for slot in bench.slots:
            for run in slot.runs:
                seen.setdefault(run.uid, run)
    return [
        {
            "run": run.uid,
            "command": run.command,
            "time": run.started,
            "commit": run.commit_short,
            "commit_full": run.commit,
            "branch": run.branch,
            "dirty": run.dirty,
            "machine": run.machine_id,
        }
        for run in sorted(seen.values(), key=lambda r: r.id)
    ]


def document(histories: Sequence[BenchHistory], store: Store) -> dict[str, Any]:
    """The JSON form of ``pybench history --json``."""
    return {
        "history": store.name,
        "schema_version": store.version(),
        "benchmarks": [
            {
                "name": h.name,
                "status": h.latest_status,
                "slots": [_slot_document(s) for s in h.slots],
            }
            for h in histories
        ],
        "runs": _runs_document(histories),
        "machines": store.machines(),
    }
