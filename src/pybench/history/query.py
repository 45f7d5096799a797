"""Reading the history: per benchmark and slot, its series over commits and its change points.

A commit run several times shows its latest run (pybench reruns the same
seeds, so deterministic code repeats its numbers; counting each rerun as a
point would make a level look surer than it is). Commits are ordered by their
first recorded run; a run outside git, or on a dirty tree, is a point of its
own. Change points are searched in each slot's series of means
(:mod:`pybench.history.changes`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .changes import ChangePoint, change_points
from .stores import RunRow, SlotPoint, Store

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
    position: int = 0
    """The commit's place among every commit of the history (for a shared axis)."""

    @property
    def label(self) -> str:
        """The commit as people read it: short hash (``*`` when dirty), or the run's time."""
        if not self.run.commit_short:
            return self.run.started
        return self.run.commit_short + ("*" if self.run.dirty else "")


@dataclass(frozen=True)
class SlotHistory:
    """One slot's series over commits, oldest first, and the change points found in it."""

    step: int
    metric: str
    points: list[Point]
    changes: list[ChangePoint] = field(default_factory=list)

    @property
    def lower_is_better(self) -> bool:
        return self.metric.startswith("min:")

    def relative(self, change: ChangePoint) -> float:
        """The change's relative move in goodness (negative: worse)."""
        if change.before == 0:
            return math.copysign(math.inf, change.after) if change.after else 0.0
        moved = (change.after - change.before) / abs(change.before)
        return -moved if self.lower_is_better else moved


@dataclass(frozen=True)
class BenchHistory:
    name: str
    slots: list[SlotHistory]

    @property
    def latest_status(self) -> str | None:
        latest = max((s.points[-1] for s in self.slots if s.points), key=lambda p: p.run.id,
                     default=None)
        return latest.status if latest else None


def _commit_key(run: RunRow) -> tuple[Any, ...]:
    if run.commit_short is None or run.dirty:
        return ("run", run.id)
    return ("commit", run.commit or run.commit_short)


def _order(runs: Sequence[RunRow]) -> dict[int, int]:
    """Each run's commit position (commits in the order of their first run)."""
    positions: dict[tuple[Any, ...], int] = {}
    found = {}
    for run in runs:
        found[run.id] = positions.setdefault(_commit_key(run), len(positions))
    return found


def _series(
    points: Sequence[SlotPoint], runs: dict[int, RunRow], order: dict[int, int]
) -> dict[tuple[str, int, str], list[Point]]:
    """Per (bench, step, metric): the latest run's point at each commit, in commit order."""
    latest: dict[tuple[str, int, str], dict[int, tuple[SlotPoint, int]]] = {}
    for point in points:
        if point.run_id not in order:
            continue
        slot = latest.setdefault((point.bench, point.step, point.metric), {})
        position = order[point.run_id]
        seen = slot.get(position)
        slot[position] = (point, (seen[1] if seen else 0) + 1)
    return {
        key: [
            Point(runs[p.run_id], p.mean, p.low, p.high, p.status, p.flagged, count, position)
            for position, (p, count) in sorted(by_commit.items())
        ]
        for key, by_commit in latest.items()
    }


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
    change points; benchmarks and slots sorted."""
    runs = store.runs(branch=branch)
    order = _order(runs)
    if last is not None:
        keep = max(order.values(), default=-1) - last + 1
        order = {run: position for run, position in order.items() if position >= keep}
    since = min(order, default=0)
    by_id = {run.id: run for run in runs}
    series = _series(store.points(benches=benches, metric=metric, since_run=since), by_id, order)
    found: dict[str, list[SlotHistory]] = {}
    kwargs = {} if alpha is None else {"alpha": alpha}
    for (bench, step, name), points in sorted(series.items()):
        means = np.array([np.nan if p.mean is None else p.mean for p in points])
        changes = change_points(means, **kwargs)
        found.setdefault(bench, []).append(SlotHistory(step, name, points, changes))
    return [BenchHistory(name, slots) for name, slots in sorted(found.items())]


def _number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else value


def _slot_document(slot: SlotHistory) -> dict[str, Any]:
    runs = [
        {
            "commit": p.run.commit_short,
            "commit_full": p.run.commit,
            "dirty": p.run.dirty,
            "branch": p.run.branch,
            "time": p.run.started,
            "run": p.run.uid,
            "command": p.run.command,
            "mean": _number(p.mean),
            "low": _number(p.low),
            "high": _number(p.high),
            "status": p.status,
            "flagged": p.flagged,
            "runs_at_commit": p.runs,
            "machine": p.run.machine_id,
        }
        for p in slot.points
    ]
    changes = [
        {
            "commit": slot.points[c.index].run.commit_short,
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
    return {"step": slot.step, "metric": slot.metric, "better": direction, "runs": runs,
            "change_points": changes}


def document(
    histories: Sequence[BenchHistory], store: Store, machines: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The JSON form of ``pybench history --json``."""
    return {
        "history": store.name,
        "schema_version": store.version(),
        "benchmarks": [
            {"name": h.name, "status": h.latest_status,
             "slots": [_slot_document(s) for s in h.slots]}
            for h in histories
        ],
        "machines": machines if machines is not None else store.machines(),
    }
