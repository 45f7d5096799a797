"""The terminal report: the per-benchmark lines, the ``-v`` slot table, the summary, ``show``.

It renders :class:`pybench.session.Outcome` values and progress events; it
keeps no verdict state of its own. Output goes through rich consoles: statuses
are coloured on a terminal and plain text when piped; the progress bar is
transient and only drawn on a terminal, so piped output holds nothing but the
report itself.
"""

from __future__ import annotations

import io
import math
from collections import Counter
from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..compare import BenchComparison
from ..normalize import Slot
from ..session import BenchFinished, BenchStarted, Event, Outcome, SeedDone, Status
from ..store import BaselineRecord
from ..vcs import HistoryEntry

__all__ = ["Reporter", "format_table", "shape"]

RULE_WIDTH = 62
_STYLES = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "NEW": "bold cyan",
    "SAVED": "bold cyan",
    "ERROR": "bold magenta",
}


def shape(slots: Sequence[Slot]) -> str:
    """``1 metrics × 3 steps``."""
    n_metrics = len({metric for _, metric in slots})
    n_steps = len({step for step, _ in slots})
    return f"{n_metrics} metrics × {n_steps} steps"


def _mean_std(mean: float, std: float) -> str:
    if not math.isfinite(std):
        return f"{mean:.2f}"
    return f"{mean:.2f}±{std:.2f}"


def _table_rows(result: BenchComparison) -> list[tuple[Slot, tuple[str, ...]]]:
    rows: list[tuple[Slot, tuple[str, ...]]] = []
    for slot in result.stats.slots if result.stats else []:
        delta = f"{slot.effect_size * 100:+.1f}%" if slot.effect_reliable else "n/a"
        p = f"{slot.p_value:.3f}" + (" ✗" if slot.flagged else "")
        cells = (
            slot.metric,
            str(slot.step),
            _mean_std(slot.baseline_mean, slot.baseline_std),
            _mean_std(slot.current_mean, slot.current_std),
            delta,
            p,
        )
        rows.append(((slot.step, slot.metric), cells))
    for div in result.diverged:
        cells = (
            div.metric,
            str(div.step),
            _mean_std(div.baseline_mean, div.baseline_std),
            "non-finite",
            "—",
            f"— ✗ diverged on {len(div.seeds)}/{div.n_seeds} seeds",
        )
        rows.append(((div.step, div.metric), cells))
    rows.sort(key=lambda row: row[0])
    return rows


def format_table(result: BenchComparison) -> list[str]:
    """The per-slot table as plain lines: metric, step, baseline and current mean±std, Δ, p, ✗."""
    table = Table(box=None, show_edge=False, pad_edge=False, padding=(0, 1), header_style="")
    for title in ("metric", "step", "baseline", "current", "Δ", "p"):
        table.add_column(title, justify="right" if title == "step" else "left", no_wrap=True)
    for _, cells in _table_rows(result):
        table.add_row(*(escape(cell) for cell in cells))
    sink = Console(file=io.StringIO(), width=100_000, color_system=None, highlight=False)
    sink.print(table)
    text = sink.file.getvalue()  # type: ignore[attr-defined]
    return [line.rstrip() for line in text.splitlines() if line.strip()]


def tally(outcomes: Sequence[Outcome]) -> Counter[Status]:
    """How many outcomes ended in each status."""
    return Counter(o.status for o in outcomes)


class Reporter:
    """Writes pybench's report to stdout and its warnings and errors to stderr.

    Use it as the run stage's event callback: it draws the progress bar while
    a benchmark's seeds run and prints each benchmark's line when it finishes.
    """

    def __init__(self, *, verbose: bool = False, names: Sequence[str] = ()) -> None:
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbose = verbose
        self.width = max((len(n) for n in names), default=0)
        self._bar: Progress | None = None
        self._task: TaskID | None = None

    # -- per benchmark ------------------------------------------------------
    def _lead(self, name: str, status: str) -> str:
        dots = "." * (10 + self.width - len(name))
        return f"{escape(name)} {dots} [{_STYLES[status]}]{status}[/]"

    def __call__(self, event: Event) -> None:
        """Render one event of the run stage."""
        if isinstance(event, BenchStarted):
            self._start_bar(event.name, event.total)
        elif isinstance(event, SeedDone):
            if self._bar is not None and self._task is not None:
                self._bar.advance(self._task)
        elif isinstance(event, BenchFinished):
            self._stop_bar()
            self.outcome(event.outcome)

    def _start_bar(self, name: str, total: int) -> None:
        """A transient progress bar, on a terminal only."""
        self._stop_bar()
        if not self.out.is_terminal:
            return
        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("seeds"),
            TimeRemainingColumn(),
            console=self.out,
            transient=True,
        )
        self._bar.start()
        self._task = self._bar.add_task(name, total=total)

    def _stop_bar(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = self._task = None

    def close(self) -> None:
        """Remove a progress bar left by an interrupted run."""
        self._stop_bar()

    def outcome(self, outcome: Outcome) -> None:
        """The line of one benchmark (and its table or traceback with ``-v``)."""
        name = outcome.name
        if outcome.status is Status.ERROR:
            assert outcome.error is not None
            self.out.print(f"{self._lead(name, 'ERROR')} {escape(outcome.error.message)}")
            if self.verbose and outcome.error.traceback:
                self.out.print(escape(outcome.error.traceback))
            return
        if outcome.status is Status.NEW:
            status, note = ("SAVED", "updated") if outcome.replaces else ("NEW", "saved")
            self.out.print(f"{self._lead(name, status)} {shape(outcome.slots)} (baseline {note})")
            return
        result = outcome.comparison
        assert result is not None
        parts = [self._lead(name, outcome.status.value), shape(outcome.slots)]
        parts.append(f"{result.n_flagged}/{result.n_slots} slots flagged")
        if result.meta_p is not None:
            parts.append(f"meta-p={result.meta_p:.3f}")
        if result.diverged:
            first = result.diverged[0]
            more = f" (+{len(result.diverged) - 1} more slots)" if len(result.diverged) > 1 else ""
            parts.append(
                f"diverged: step {first.step} {escape(repr(first.metric))} non-finite on "
                f"{len(first.seeds)}/{first.n_seeds} seeds{more}"
            )
        self.out.print(" ".join(parts))
        if self.verbose and outcome.status is Status.FAIL:
            for line in format_table(result):
                self.out.print(escape(line))

    def summary(self, outcomes: Sequence[Outcome], elapsed: float, *, update: bool = False) -> None:
        """The rule and the counts line."""
        counts = tally(outcomes)
        if update:
            text = f"{counts[Status.NEW]} updated"
        else:
            text = (
                f"{counts[Status.FAIL]} failed, {counts[Status.PASS]} passed, "
                f"{counts[Status.NEW]} new"
            )
        errors = counts[Status.ERROR]
        if errors:
            text += f", {errors} error" + ("s" if errors > 1 else "")
        self.out.print("─" * RULE_WIDTH)
        self.out.print(f"{text} in {elapsed:.1f}s")

    def revisions(
        self, base: str, head: str, only_base: Sequence[str], only_head: Sequence[str]
    ) -> None:
        """The two sides of ``pybench compare``, and the benchmarks only one side has."""
        self.out.print(f"base {escape(base)} → head {escape(head)}")
        for name in only_base:
            self.warn(f"{name}: only in base {base}; not compared")
        for name in only_head:
            self.warn(f"{name}: only in head {head}; not compared")

    # -- messages -----------------------------------------------------------
    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    # -- show ---------------------------------------------------------------
    def record(self, record: BaselineRecord) -> None:
        """One stored baseline: provenance, seeds and the mean of every slot."""
        state = {True: " (dirty)", False: "", None: ""}[record.git_dirty]
        commit = record.git_commit or "no commit"
        seeds = ", ".join(str(s) for s in record.seeds[:3]) + (", …" if record.n > 3 else "")
        self.out.print(
            f"[bold]{escape(record.bench)}[/]  {escape(commit)}{state}  "
            f"{escape(record.timestamp or 'no date')}  {record.n} seeds [{seeds}]"
        )
        width = max(len(m) for _, m in record.slots())
        for step, metric in record.slots():
            values = record.scores[step][metric]
            mean = math.fsum(values) / len(values)
            var = (
                math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
                if len(values) > 1
                else math.nan
            )
            self.out.print(
                f"  {escape(metric.ljust(width))}  {step:>6}  {_mean_std(mean, math.sqrt(var))}"
            )

    def history(self, entries: Sequence[HistoryEntry], names: Sequence[str]) -> None:
        """One line per commit: date, commit, subject and each benchmark's slot means."""
        for entry in entries:
            head = f"{entry.commit}  {entry.date}  {escape(entry.subject)}"
            if entry.records is None:
                self.out.print(f"{head}  [red]unreadable[/]: {escape(entry.error or '')}")
                continue
            chosen = [r for n, r in sorted(entry.records.items()) if not names or n in names]
            summaries = []
            for record in chosen:
                means = " ".join(
                    f"{metric}@{step}={math.fsum(record.scores[step][metric]) / record.n:.4g}"
                    for step, metric in record.slots()
                )
                summaries.append(f"{record.bench}[n={record.n}] {means}")
            self.out.print(
                f"{head}  |  " + ("; ".join(escape(s) for s in summaries) or "(no records)")
            )
