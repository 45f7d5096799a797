"""The terminal report: the per-benchmark lines, the ``-v`` slot table, the summary, ``show``.

It renders :class:`pybench.session.Outcome` values and progress events; it
keeps no verdict state of its own. Output goes through rich consoles: statuses
are coloured on a terminal and plain text when piped; the progress bar is
transient and only drawn on a terminal, so piped output holds nothing but the
report itself.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import sys
from collections import Counter
from collections.abc import Sequence
from typing import IO, TYPE_CHECKING, cast

from rich.console import Console
from rich.markup import escape as _markup_escape

from ..engine.outcome import BenchFinished, BenchStarted, Event, Outcome, SeedDone, Status
from ..judging.verdict import BenchComparison
from ..stats import PLAN_MAX_SEEDS, SlotPlan
from ..storage.history import HistoryEntry
from ..storage.store import BaselineRecord
from . import numbers
from .sanitize import clean, shorten
from .text import (
    LEGEND,
    bench_rules_out,
    details,
    family_note,
    format_table,
    improvement,
    mean_std,
    plain_table,
    shape,
    status_word,
    summary_text,
)

if TYPE_CHECKING:  # the progress bar is imported when a terminal first shows one
    from rich.progress import Progress, TaskID

__all__ = [
    "PLAN_ASSUMPTION",
    "Reporter",
    "format_flips",
    "format_plan",
    "format_table",
    "shape",
    "summary_text",
    "tally",
]

RULE_WIDTH = 62
HISTORY_SLOTS = 4
"""``show --history`` shows this many slots per benchmark unless ``-v``."""
_SUBJECT_LIMIT = 40
_STYLES = {
    "PASS": "bold green",
    "FAIL": "bold red",
    "NEW": "bold cyan",
    "SAVED": "bold cyan",
    "ERROR": "bold magenta",
    "GONE": "bold yellow",
}


def escape(text: str, *, lines: bool = False) -> str:
    """``text`` for a rich console: control characters replaced (:func:`clean`), markup escaped."""
    return _markup_escape(clean(text, lines=lines))


def format_flips(result: BenchComparison) -> str | None:
    """``sign flips: 1024 (exact)`` or ``sign flips: 4096 (Monte-Carlo)``; None without stats."""
    if result.stats is None:
        return None
    kind = "exact" if result.stats.exact else "Monte-Carlo"
    return f"sign flips: {result.stats.n_perm} ({kind})"


def format_plan(rows: Sequence[SlotPlan], n_seeds: int, effect: float) -> list[str]:
    """The ``pybench plan`` table of one benchmark as plain lines."""
    titles = (
        "metric",
        "step",
        "baseline",
        "σ_d",
        f"detectable drop ({n_seeds} seeds)",
        f"seeds for -{effect * 100:g}%",
    )
    cells = []
    for row in rows:
        if not row.reliable:
            detectable = needed = "n/a (baseline mean ≈ 0)"
        else:
            detectable = f"-{row.detectable * 100:.1f}%"
            needed = (
                str(row.seeds_needed)
                if row.seeds_needed is not None
                else f"> {PLAN_MAX_SEEDS} (too noisy)"
            )
        cells.append(
            (
                shorten(row.metric),
                str(row.step),
                mean_std(row.baseline_mean, row.baseline_std),
                f"{row.sd_diff:.3g}",
                detectable,
                needed,
            )
        )
    return plain_table(titles, cells)


PLAN_ASSUMPTION = (
    "assumes a change re-randomises each seed's run, so paired differences behave like "
    "independent samples: σ_d ≈ √2·σ (σ: the baseline's spread); power of the one-sided "
    "paired t-test at the benchmark's alpha (normal approximation to the noncentral t)"
)


duration = numbers.seconds
"""``4.2s``, ``0.14s``, ``3.1ms`` (:func:`pybench.reports.numbers.seconds`)."""


def timing_line(outcome: Outcome) -> str:
    """``bench_x: 30 seeds in 4.2s (median 0.14s per seed)``: where a benchmark's time went."""
    timings = outcome.timings
    if not timings.per_seed:
        return f"{outcome.name}: {duration(timings.wall)}"
    n = len(timings.per_seed)
    reused = f", {outcome.reused} of them reused" if outcome.reused else ""
    return (
        f"{outcome.name}: {n} seeds in {duration(timings.wall)} "
        f"(median {duration(timings.median)} per seed{reused})"
    )


def _private_stream(to_stderr: bool) -> io.TextIOBase | None:
    """A stream on a duplicate of the terminal's descriptor (1, or 2), for the progress bar.

    While a seed runs its output is captured by pointing descriptors 1 and 2
    elsewhere; the progress bar keeps drawing on the terminal through its own one.
    """
    stream, fd = (sys.stderr, 2) if to_stderr else (sys.stdout, 1)
    try:
        if stream.fileno() != fd:
            return None
        return open(  # noqa: SIM115 - lives as long as the reporter
            os.dup(fd), "w", encoding=stream.encoding, errors="replace", buffering=1
        )
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return None


def tally(outcomes: Sequence[Outcome]) -> Counter[Status]:
    """How many outcomes ended in each status."""
    return Counter(o.status for o in outcomes)


class Reporter:
    """Writes pybench's report to stdout and its warnings and errors to stderr.

    Use it as the run stage's event callback: it draws the progress bar while
    a benchmark's seeds run and prints each benchmark's line when it finishes.
    With ``to_stderr`` the report goes to stderr too, leaving stdout to a
    machine-readable report (``--json -``). ``update_command`` is the command
    hints name (with the run's PATH and ``--baseline`` when not the defaults).
    """

    def __init__(
        self,
        *,
        verbose: bool = False,
        names: Sequence[str] = (),
        to_stderr: bool = False,
        update_command: str | None = "pybench update",
        deferred: bool = False,
    ) -> None:
        self.deferred = deferred
        """Print no benchmark's line as it finishes (the caller prints them after the run:
        ``--alpha-scope run`` judges the run as a whole)."""
        self.out = Console(highlight=False, soft_wrap=True, stderr=to_stderr)
        self._to_stderr = to_stderr
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.verbose = verbose
        self.update_command = update_command
        self.width = max((len(n) for n in names), default=0)
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._bar_stream: io.TextIOBase | None = None

    # -- per benchmark ------------------------------------------------------
    def _lead(self, name: str, status: str) -> str:
        dots = "." * max(3, 10 + self.width - len(name))
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
            if not self.deferred:
                self.outcome(event.outcome)

    def _start_bar(self, name: str, total: int) -> None:
        """A transient progress bar, on a terminal only."""
        self._stop_bar()
        if not self.out.is_terminal:
            return
        if self._bar_stream is None:
            self._bar_stream = _private_stream(self._to_stderr)
        console = self.out
        if self._bar_stream is not None:
            stream = cast(IO[str], self._bar_stream)
            console = Console(file=stream, highlight=False, soft_wrap=True)
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self._bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("seeds"),
            TimeRemainingColumn(),
            console=console,
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
        if self._bar_stream is not None:
            with contextlib.suppress(OSError):
                self._bar_stream.close()
            self._bar_stream = None

    def outcome(self, outcome: Outcome) -> None:
        """The line of one benchmark and its notes, warnings and cluster notes; with ``-v``
        its table or traceback and captured output, and its time.

        Version differences with Dask workers come first, as warnings on stderr.
        """
        for mismatch in outcome.version_mismatches:
            self.warn(f"{outcome.name}: {mismatch}")
        if outcome.reused:
            self.note(
                f"note: {outcome.name}: reused {outcome.reused} of {len(outcome.seeds)} seeds "
                "finished by an interrupted run (--resume)"
            )
        self._verdict(outcome)
        notes = outcome.cluster
        if notes is not None and notes.rescheduled:
            n = notes.rescheduled
            self.out.print(
                f"  note: {n} seed{'s' if n != 1 else ''} rescheduled after a Dask worker was lost"
            )
        if notes is not None and self.verbose:
            for line in notes.log:
                self.out.print(f"  dask: {escape(line)}")
        for warning in outcome.warnings:
            self.warn(warning)
        if self.verbose:  # on stderr: the report's lines on stdout stay as they are
            self.err.print(escape(timing_line(outcome)))

    def _error(self, outcome: Outcome) -> None:
        """Under an ERROR's line, with ``-v``: the traceback and what the seed printed."""
        error = outcome.error
        assert error is not None
        if not self.verbose:
            return
        if error.traceback:
            self.out.print(escape(error.traceback, lines=True))
        seed = f" (seed {error.seed})" if error.seed is not None else ""
        for stream, text in (("stdout", error.stdout), ("stderr", error.stderr)):
            if text:
                self.out.print(f"----- captured {stream}{seed} -----")
                self.out.print(escape(text.rstrip("\n"), lines=True))

    def _verdict(self, outcome: Outcome) -> None:
        name = outcome.name
        self.out.print(f"{self._lead(name, status_word(outcome))} {escape(details(outcome))}")
        if outcome.status is Status.ERROR:
            self._error(outcome)
            return
        result = outcome.comparison
        if result is None:  # NEW
            return
        alpha = outcome.settings.alpha
        update = self.update_command
        note = improvement(outcome, f"{update} --bench {name}" if update is not None else None)
        if note is not None:
            self.out.print(f"  {escape(note)}")
        if self.verbose:
            for line in format_table(result, alpha):
                self.out.print(escape(line))
            flips = format_flips(result)
            if flips:
                self.out.print(flips)
            bound = bench_rules_out(result)
            if bound:
                self.out.print(escape(bound))
            self.out.print(escape(LEGEND))

    def plan(
        self,
        name: str,
        n_seeds: int,
        alpha: float,
        effect: float,
        power: float,
        rows: Sequence[SlotPlan] | None,
    ) -> None:
        """One benchmark of ``pybench plan``: its header line and table (or why there is none)."""
        if rows is None:
            self.out.print(
                f"[bold]{escape(name)}[/]  no baseline to plan from: run `pybench` first"
            )
            return
        self.out.print(
            f"[bold]{escape(name)}[/]  {n_seeds} seeds, alpha={alpha:g}, power={power:g}, "
            f"target drop {effect * 100:g}%"
        )
        for line in format_plan(rows, n_seeds, effect):
            self.out.print(f"  {escape(line)}")

    def summary(
        self,
        outcomes: Sequence[Outcome],
        elapsed: float,
        *,
        update: bool = False,
        command: str | None = None,
    ) -> None:
        """The rule and the counts line (:func:`summary_text`; ``command`` wins over ``update``)."""
        text = summary_text(outcomes, command or ("update" if update else "run"))
        family = family_note(outcomes)
        self.out.print("─" * RULE_WIDTH)
        self.out.print(f"{escape(text)} in {elapsed:.1f}s" + (f"; {family}" if family else ""))

    def revisions(self, base: str, head: str) -> None:
        """The first line of ``pybench compare``: its two sides."""
        self.out.print(f"base {escape(base)} → head {escape(head)}")

    # -- messages -----------------------------------------------------------
    def warn(self, message: str) -> None:
        self.err.print(f"[yellow]warning:[/] {escape(message)}")

    def note(self, message: str) -> None:
        """A plain line on stderr (e.g. which baseline file a run uses)."""
        self.err.print(escape(message))

    # -- show ---------------------------------------------------------------
    def record(self, record: BaselineRecord) -> None:
        """One stored baseline: provenance, seeds and the mean of every slot."""
        state = {True: " (dirty)", False: "", None: ""}[record.git_dirty]
        commit = record.git_commit or "no commit"
        seeds = ", ".join(str(s) for s in record.seeds[:3]) + (", …" if record.n > 3 else "")
        self.out.print(
            f"[bold]{escape(record.bench)}[/]  {escape(commit)}{state}  "
            f"{escape(record.timestamp or 'no date')}  {record.n} seeds [{escape(seeds)}]"
        )
        rows = []
        for step, metric in record.slots():
            values = record.scores[step][metric]
            mean = math.fsum(values) / len(values)
            var = (
                math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)
                if len(values) > 1
                else math.nan
            )
            rows.append((shorten(metric), str(step), mean_std(mean, math.sqrt(var))))
        for line in plain_table(("metric", "step", "mean±std"), rows)[1:]:
            self.out.print(f"  {escape(line)}")

    def history(
        self, entries: Sequence[HistoryEntry], names: Sequence[str], *, verbose: bool = False
    ) -> None:
        """A table per benchmark: one row per commit that changed the baseline file.

        Columns: commit, date, seeds, the mean of each shown slot, the subject.
        Without ``verbose`` at most :data:`HISTORY_SLOTS` slots are shown (each
        metric's last step first) and the rest counted, so lines stay short.
        """
        for line in history_lines(entries, names, limit=None if verbose else HISTORY_SLOTS):
            self.out.print(escape(line))


def _history_slots(
    entries: Sequence[HistoryEntry], name: str, limit: int | None
) -> tuple[list[tuple[int, str]], int]:
    """The slots to show for ``name`` (each metric's last step first) and how many are left."""
    every: dict[tuple[int, str], None] = {}
    for entry in entries:
        record = (entry.records or {}).get(name)
        if record is not None:
            every.update(dict.fromkeys(record.slots()))
    slots = sorted(every)
    if limit is None or len(slots) <= limit:
        return slots, 0
    last = {metric: (step, metric) for step, metric in slots}
    chosen = list(dict.fromkeys([*last.values(), *reversed(slots)]))[:limit]
    return sorted(chosen), len(slots) - limit


def history_lines(
    entries: Sequence[HistoryEntry], names: Sequence[str], *, limit: int | None = HISTORY_SLOTS
) -> list[str]:
    """The plain lines of ``show --history`` (control characters are left to the caller)."""
    lines: list[str] = []
    unreadable = [e for e in entries if e.records is None]
    found = sorted({n for e in entries for n in (e.records or {})})
    for name in (n for n in found if not names or n in names):
        slots, hidden = _history_slots(entries, name, limit)
        titles = ("commit", "date", "seeds", *(f"{shorten(m, 24)}@{s}" for s, m in slots))
        rows = []
        for entry in entries:
            record = (entry.records or {}).get(name)
            if record is None:
                continue
            means = [
                numbers.value(math.fsum(record.scores[s][m]) / record.n)
                if s in record.scores and m in record.scores[s]
                else "—"
                for s, m in slots
            ]
            subject = shorten(entry.subject, _SUBJECT_LIMIT)
            rows.append((entry.commit, entry.date, str(record.n), *means, subject))
        more = f"  (+{hidden} more slots; -v shows all)" if hidden else ""
        lines.append(f"{shorten(name)}{more}")
        table = plain_table((*titles, "subject"), rows, right=("seeds", *titles[3:]))
        lines += [f"  {line}" for line in table]
    for entry in unreadable:
        lines.append(f"{entry.commit}  {entry.date}  unreadable: {entry.error or ''}")
    return lines
