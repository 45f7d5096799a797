"""Reporting: the per-benchmark lines, the ``-v`` slot table, the summary, and ``show``.

Output goes through rich consoles: statuses are coloured on a terminal and
plain text when piped; the progress bar is transient and only drawn on a
terminal, so piped output holds nothing but the report itself.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.markup import escape

from .compare import BenchComparison
from .normalize import Slot
from .run import BenchmarkError
from .store import BaselineRecord
from .vcs import HistoryEntry

__all__ = ["Reporter", "Tally", "format_table"]

RULE_WIDTH = 62
_STYLES = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "NEW": "bold cyan",
    "SAVED": "bold cyan",
    "ERROR": "bold magenta",
}


@dataclass
class Tally:
    """How many benchmarks ended in each status."""

    failed: int = 0
    passed: int = 0
    new: int = 0
    updated: int = 0
    errors: int = 0


def _shape(slots: Sequence[Slot]) -> str:
    n_metrics = len({metric for _, metric in slots})
    n_steps = len({step for step, _ in slots})
    return f"{n_metrics} metrics × {n_steps} steps"


def _mean_std(mean: float, std: float) -> str:
    if not math.isfinite(std):
        return f"{mean:.2f}"
    return f"{mean:.2f}±{std:.2f}"


def format_table(result: BenchComparison) -> list[str]:
    """The per-slot table: metric, step, baseline and current mean±std, Δ, p, ✗."""
    rows: list[tuple[str, ...]] = []
    for slot in result.stats.slots if result.stats else []:
        delta = f"{slot.effect_size * 100:+.1f}%" if slot.effect_reliable else "n/a"
        rows.append(
            (
                (slot.step, slot.metric),
                slot.metric,
                str(slot.step),
                _mean_std(slot.baseline_mean, slot.baseline_std),
                _mean_std(slot.current_mean, slot.current_std),
                delta,
                f"{slot.p_value:.3f}",
                "✗" if slot.flagged else "",
            )
        )
    for div in result.diverged:
        rows.append(
            (
                (div.step, div.metric),
                div.metric,
                str(div.step),
                _mean_std(div.baseline_mean, div.baseline_std),
                "non-finite",
                "—",
                "—",
                f"✗ diverged on {len(div.seeds)}/{div.n_seeds} seeds",
            )
        )
    rows.sort(key=lambda row: row[0])
    header = ("metric", "step", "baseline", "current", "Δ", "p")
    body = [row[1:] for row in rows]
    widths = [max(len(r[i]) for r in [header, *body]) for i in range(len(header))]
    right = {1}

    def fmt(cells: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in right else cell.ljust(widths[i])
            for i, cell in enumerate(cells[: len(header)])
        ]
        line = "  ".join(parts).rstrip()
        mark = cells[len(header)] if len(cells) > len(header) else ""
        return f"{line} {mark}" if mark else line

    return [fmt(header), *(fmt(row) for row in body)]


class Reporter:
    """Writes pybench's report to stdout and its warnings and errors to stderr."""

    def __init__(self, *, verbose: bool = False, names: Sequence[str] = ()) -> None:
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbose = verbose
        self.width = max((len(n) for n in names), default=0)
        self.tally = Tally()

    # -- per benchmark ------------------------------------------------------
    def _lead(self, name: str, status: str) -> str:
        dots = "." * (10 + self.width - len(name))
        return f"{escape(name)} {dots} [{_STYLES[status]}]{status}[/]"

    @contextlib.contextmanager
    def progress(self, name: str, total: int) -> Iterator[Callable[[], None]]:
        """A transient progress bar on a terminal; yields the per-seed callback."""
        if not self.out.is_terminal:
            yield lambda: None
            return
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("seeds"),
            TimeRemainingColumn(),
            console=self.out,
            transient=True,
        ) as bar:
            task = bar.add_task(name, total=total)
            yield lambda: bar.advance(task)

    def new(self, name: str, slots: Sequence[Slot], *, updated: bool = False) -> None:
        """A baseline created (NEW) or overwritten by ``pybench update`` (SAVED)."""
        if updated:
            self.tally.updated += 1
            self.out.print(f"{self._lead(name, 'SAVED')} {_shape(slots)} (baseline updated)")
        else:
            self.tally.new += 1
            self.out.print(f"{self._lead(name, 'NEW')} {_shape(slots)} (baseline saved)")

    def compared(self, name: str, slots: Sequence[Slot], result: BenchComparison) -> None:
        status = "PASS" if result.passed else "FAIL"
        if result.passed:
            self.tally.passed += 1
        else:
            self.tally.failed += 1
        parts = [self._lead(name, status), _shape(slots)]
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
        if self.verbose and not result.passed:
            for line in format_table(result):
                self.out.print(escape(line))

    def error(self, name: str, exc: BenchmarkError) -> None:
        self.tally.errors += 1
        self.out.print(f"{self._lead(name, 'ERROR')} {escape(str(exc))}")
        if self.verbose and exc.detail:
            self.out.print(escape(exc.detail))

    def summary(self, elapsed: float, *, update: bool = False) -> None:
        t = self.tally
        text = (
            f"{t.updated} updated"
            if update
            else f"{t.failed} failed, {t.passed} passed, {t.new} new"
        )
        if t.errors:
            text += f", {t.errors} error" + ("s" if t.errors > 1 else "")
        self.out.print("─" * RULE_WIDTH)
        self.out.print(f"{text} in {elapsed:.1f}s")

    # -- messages -----------------------------------------------------------
    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def fail(self, message: str) -> None:
        self.err.print(f"[bold red]error:[/] {escape(message)}")

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
