"""``pybench history`` on a terminal: per slot a compact trend with its change points marked.

::

    bench_synthetic
      min:loss  step 100   ▃▂▃▃▂│▆▇▆▆▇  0.331 [0.309, 0.353] FAIL  11 commits
        change at 3f2a1b2: 0.129 → 0.331 (-156.4 %, worse), p=0.001

Each character of the trend is one commit's mean (the last :data:`WIDTH` commits),
``│`` stands before the first commit of a new level. Names read from the store
are stripped of control characters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import click

from ..reports.sanitize import clean
from .query import BenchHistory, SlotHistory, label

__all__ = ["WIDTH", "render", "sparkline"]

WIDTH = 48
"""Commits shown in a trend."""

_BARS = "▁▂▃▄▅▆▇█"
_COLOURS = {"PASS": "green", "FAIL": "red", "NEW": "cyan", "ERROR": "magenta"}




def sparkline(values: Sequence[float | None], marks: Sequence[int] = ()) -> str:
    """One bar per value, scaled between the smallest and the largest (``·`` for a missing
    value); ``│`` before each index in ``marks``."""
    finite = [v for v in values if v is not None]
    low, high = (min(finite), max(finite)) if finite else (0.0, 0.0)
    span = high - low
    out = []
    for i, value in enumerate(values):
        if i in marks:
            out.append("│")
        if value is None:
            out.append("·")
        elif span <= 1e-12 * max(abs(high), abs(low), 1e-300):
            out.append(_BARS[len(_BARS) // 2 - 1])
        else:
            out.append(_BARS[min(len(_BARS) - 1, int((value - low) / span * len(_BARS)))])
    return "".join(out)


def _number(value: float | None) -> str:
    return "—" if value is None else f"{value:.4g}"


def _slot_lines(slot: SlotHistory, label_width: int, color: bool) -> list[str]:
    n = len(slot)
    offset = max(0, n - WIDTH)
    marks = [c.index - offset for c in slot.changes if c.index >= offset]
    shown = [None if not math.isfinite(v) else float(v) for v in slot.means[offset:].tolist()]
    trend = ("…" if offset else "") + sparkline(shown, marks)
    last = slot.point(n - 1)
    status = last.status
    if color:
        status = click.style(status, fg=_COLOURS.get(status), bold=True)
    name = f"{clean(slot.metric)}  step {slot.step}"
    lines = [
        f"  {name:<{label_width}}  {trend}  {_number(last.mean)} "
        f"[{_number(last.low)}, {_number(last.high)}] {status}  {n} commit{'s' * (n != 1)}"
    ]
    for change, moved, word in slot.moves():
        lines.append(
            f"    change at {clean(label(slot.runs[change.index]))}: {_number(change.before)} → "
            f"{_number(change.after)} ({moved * 100:+.1f} %, {word}), p={change.p:.3f}"
        )
    return lines


def render(histories: Sequence[BenchHistory], *, color: bool = False) -> list[str]:
    """The lines ``pybench history`` prints."""
    lines: list[str] = []
    for bench in histories:
        width = max(len(f"{clean(s.metric)}  step {s.step}") for s in bench.slots)
        lines.append(clean(bench.name))
        for slot in bench.slots:
            lines.extend(_slot_lines(slot, width, color))
    n_changes = sum(len(s.changes) for b in histories for s in b.slots)
    n_slots = sum(len(b.slots) for b in histories)
    lines.append(
        f"{len(histories)} benchmark{'s' * (len(histories) != 1)}, {n_slots} slot"
        f"{'s' * (n_slots != 1)}, {n_changes} change point{'s' * (n_changes != 1)}"
    )
    return lines
