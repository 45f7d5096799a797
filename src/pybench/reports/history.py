"""The baseline file's git history, reduced to what a report shows and carried inside it.

:func:`series` turns :func:`pybench.vcs.history` entries into one benchmark's
plain-JSON history: the commits that changed the file (oldest first, at most
:data:`MAX_COMMITS`) and, for each metric's last step (at most
:data:`MAX_METRICS` metrics), the stored mean at each commit. The run writes it
into the JSON report, so rendering a saved report never needs git.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

__all__ = ["MAX_COMMITS", "MAX_METRICS", "series"]

MAX_COMMITS = 50
MAX_METRICS = 12


def _last_steps(entries: Sequence[Any], name: str) -> list[tuple[int, str]]:
    """Each metric's last step over ``entries`` (the newest record decides), at most MAX_METRICS."""
    last: dict[str, int] = {}
    for entry in entries:
        record = (entry.records or {}).get(name)
        if record is None:
            continue
        for step, metric in record.slots():
            last[metric] = max(step, last.get(metric, step))
    return sorted((step, metric) for metric, step in last.items())[:MAX_METRICS]


def _changes(entries: Sequence[Any], name: str) -> list[Any]:
    """The entries (oldest first) where benchmark ``name``'s record appeared or changed."""
    held, last = [], None
    for entry in reversed(list(entries)):
        record = (entry.records or {}).get(name)
        if record is None:
            continue
        key = (record.seeds, record.scores)
        if key != last:
            held.append(entry)
        last = key
    return held


def series(entries: Sequence[Any], name: str) -> dict[str, Any] | None:
    """Benchmark ``name``'s history from ``entries`` (newest first, as vcs gives them).

    Returns ``{"commits": [{"commit", "date", "subject", "n_seeds"}], "slots":
    [{"step", "metric", "means": [mean or null per commit]}]}``, oldest commit
    first; ``None`` when no commit holds the benchmark.
    """
    held = _changes(entries, name)[-MAX_COMMITS:]
    if not held:
        return None
    slots = _last_steps(held, name)
    commits: list[dict[str, Any]] = []
    columns: dict[tuple[int, str], list[float | None]] = {slot: [] for slot in slots}
    for entry in held:
        record = entry.records[name]
        commits.append(
            {"commit": entry.commit, "date": entry.date, "subject": entry.subject}
            | {"n_seeds": record.n}
        )
        for step, metric in slots:
            values = record.scores.get(step, {}).get(metric)
            mean = math.fsum(values) / len(values) if values else math.nan
            columns[(step, metric)].append(mean if math.isfinite(mean) else None)
    return {
        "commits": commits,
        "slots": [{"step": s, "metric": m, "means": columns[(s, m)]} for s, m in slots],
    }
