"""The Markdown report (``--markdown PATH``, and appended to ``$GITHUB_STEP_SUMMARY``).

A GitHub-flavoured table with one row per benchmark (status, slots flagged,
meta-p, the worst slot and its Δ, time), then a collapsed ``<details>`` section
per FAIL with its per-slot table and per ERROR with its traceback. For
``pybench compare`` the header names the two revisions instead of a baseline
file, and a benchmark only one of them has says so in its status cell.

Names and messages from user code are data: in table cells every character
that Markdown or HTML would read as structure (``|``, ``<``, ``>``, ``&``,
backticks, backslashes, emphasis and link brackets) becomes a character
reference and a line break becomes ``<br>``, so rows and columns stay intact.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence

from ..engine.outcome import Outcome, Status
from . import RunInfo
from .sanitize import clean, shorten
from .text import (
    LEGEND,
    bench_rules_out,
    display_path,
    early_stop,
    format_p,
    percent,
    slot_rows,
    summary_text,
    table_header,
    worst_index,
)

__all__ = ["MAX_ROWS", "cell", "render"]

MAX_ROWS = 50
"""Slot rows per FAIL table (a job summary must stay small); the JSON report has them all."""

_NAMED = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}
_STRUCTURE = re.compile(r"[&<>|`\\*\[\]~]|_+|\r\n|\r|\n")
_STATUS = {
    "PASS": "✅ PASS",
    "FAIL": "❌ FAIL",
    "NEW": "🆕 NEW",
    "ERROR": "⚠️ ERROR",
    "GONE": "➖ GONE",
}


def _reference(match: re.Match[str]) -> str:
    text, where = match.group(), match.string
    if text[0] == "_":
        # a run of underscores inside a word (bench_x) can neither open nor close emphasis
        before = where[match.start() - 1] if match.start() > 0 else " "
        after = where[match.end()] if match.end() < len(where) else " "
        return text if before.isalnum() and after.isalnum() else "&#95;" * len(text)
    if text in ("\r\n", "\r", "\n"):
        return "<br>"
    return _NAMED.get(text) or f"&#{ord(text)};"


def cell(text: str) -> str:
    """``text`` as the content of one table cell: literal, on one line, no ``|`` (control
    characters are replaced in the whole document by :func:`render`)."""
    return _STRUCTURE.sub(_reference, text).strip()  # control characters: see render


def _inline_html(text: str) -> str:
    """``text`` inside an HTML element (a ``<summary>``), on one line."""
    return html.escape(clean(" ".join(text.splitlines())))


def _fence(text: str) -> str:
    """A fenced code block holding ``text`` verbatim (the fence outgrows its backticks)."""
    text = clean(text, lines=True)
    longest = max((len(run) for run in re.findall("`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _worst(outcome: Outcome) -> tuple[str, str]:
    """The worst slot (a diverged one, else the largest drop among flagged slots, else the
    lowest t) and its Δ, as cell text."""
    result = outcome.comparison
    if result is None:
        return "—", "—"
    if result.diverged:
        div = result.diverged[0]
        return f"{shorten(div.metric)} @ step {div.step}", "diverged"
    if result.stats is None or not result.stats.slots:
        return "—", "—"
    slots = result.stats.slots
    k = worst_index(
        [s.flagged for s in slots],
        [s.effect_size if s.effect_reliable else None for s in slots],
        [s.t_stat for s in slots],
    )
    if k is None:
        return "—", "—"
    slot = slots[k]
    delta = percent(slot.effect_size) if slot.effect_reliable else "n/a"
    return f"{shorten(slot.metric)} @ step {slot.step}", delta


def _summary_row(outcome: Outcome) -> str:
    result = outcome.comparison
    flagged = f"{result.n_flagged}/{result.n_slots}" if result else "—"
    meta_p = "—"
    if result is not None and result.meta_p is not None:
        meta_p = format_p(result.meta_p, outcome.settings.alpha)
    if outcome.family is not None:
        meta_p += f" (run-adjusted {format_p(outcome.family.p_adj, outcome.family.alpha)})"
    worst, delta = _worst(outcome)
    status = _STATUS[outcome.status.value]
    if outcome.status.value == "PASS" and result and result.stats and result.stats.improved:
        status += " (improved)"
    if outcome.note:
        status += f" ({cell(outcome.note)})"
    stopped = early_stop(outcome)
    if stopped is not None:
        status += f" ({cell(stopped)})"
    return _row(
        [
            cell(outcome.name),
            status,
            flagged,
            meta_p,
            cell(worst),
            cell(delta),
            f"{outcome.timings.wall:.2f}s",
        ]
    )


def _fail_details(outcome: Outcome) -> list[str]:
    result = outcome.comparison
    assert result is not None
    head = f"{result.n_flagged}/{result.n_slots} slots flagged"
    if result.meta_p is not None:
        head += f", meta-p={format_p(result.meta_p, outcome.settings.alpha)}"
    lines = [
        f"<details><summary><code>{_inline_html(outcome.name)}</code> FAIL: {head}</summary>",
        "",
        _row(_titles(table_header(result))),
        "|:--|--:|--:|--:|--:|:--|:--|:--|",
    ]
    rows = slot_rows(result, outcome.settings.alpha, limit=MAX_ROWS)
    lines += [_row([cell(c) for c in cells]) for cells in rows]
    if len(rows) < result.n_slots:
        lines += ["", f"{result.n_slots - len(rows)} more slots not shown (flagged and worst "
                  "first); every slot is in the JSON report (`--json`)."]  # fmt: skip
    return [*lines, "", cell(LEGEND), "", "</details>", ""]


def _titles(titles: Sequence[str]) -> list[str]:
    """The table's titles, with the two p-value columns named in full."""
    full = {"p": "p (t-test)", "p_adj": "p_adj (flips, family-wise)"}
    return [full.get(title, title) for title in titles]


def _error_details(outcome: Outcome) -> list[str]:
    error = outcome.error
    assert error is not None
    summary = f"<code>{_inline_html(outcome.name)}</code> ERROR: {_inline_html(error.message)}"
    body = error.traceback or error.message
    return [f"<details><summary>{summary}</summary>", "", _fence(body), "", "</details>", ""]


def _made_at(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """``made at commit 1af694a (2026-06-25)``: the commits the compared baselines were made at."""
    made: dict[tuple[str, bool], str] = {}
    for outcome in outcomes:
        entry = info.baselines.get(outcome.name)
        if entry is not None and outcome.comparison is not None:
            key = (entry.commit or "no commit", bool(entry.dirty))
            made.setdefault(key, (entry.date or "no date")[:10])
    shown = [
        f"<code>{_inline_html(commit)}</code>{' (dirty)' if dirty else ''} ({_inline_html(date)})"
        for (commit, dirty), date in list(made.items())[:3]
    ]
    if len(made) > 3:
        shown.append(f"{len(made) - 3} more")
    return f", made at commit {', '.join(shown)}" if shown else ""


def _where(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """What the run compared against (the baseline file and the commit it was made at, or
    BASE → HEAD), then the commit of this run."""
    if info.revisions is not None:
        base, head = (_inline_html(revision.label) for revision in info.revisions)
        return f"Base <code>{base}</code> → head <code>{head}</code>."
    if info.baseline is None:
        return f"Comparing two revisions of <code>{_inline_html(display_path(info.path))}</code>."
    where = f"Baseline <code>{_inline_html(display_path(info.baseline))}</code>"
    where += _made_at(outcomes, info) + "."
    if info.git is not None and info.git.commit is not None:
        dirty = " (dirty)" if info.git.dirty else ""
        where += f" This run: commit <code>{_inline_html(info.git.commit)}</code>{dirty}."
    return where


def _bounds(outcomes: Sequence[Outcome]) -> list[str]:
    """One line per compared benchmark: what it rules out for every slot at once."""
    lines = []
    for outcome in outcomes:
        bound = bench_rules_out(outcome.comparison) if outcome.comparison else None
        if bound:
            lines.append(f"- `{_inline_html(outcome.name)}` {cell(bound)}")
    return [*lines, ""] if lines else []


def render(outcomes: Sequence[Outcome], info: RunInfo) -> str:
    """The report as Markdown text, ending in a newline."""
    text = summary_text(outcomes, info.command)
    lines = [f"### pybench: {text} in {info.elapsed:.1f}s", "", _where(outcomes, info), ""]
    if info.error:
        lines += [f"**error:** {cell(info.error)}", ""]
    if outcomes:
        lines += [
            _row(["benchmark", "status", "slots flagged", "meta-p", "worst slot", "Δ", "time"]),
            "|:--|:--|--:|--:|:--|--:|--:|",
            *(_summary_row(outcome) for outcome in outcomes),
            "",
        ]
    lines += _bounds(outcomes)
    for outcome in outcomes:
        if outcome.status is Status.FAIL:
            lines += _fail_details(outcome)
        elif outcome.status is Status.ERROR:
            lines += _error_details(outcome)
    return clean("\n".join(lines).rstrip("\n"), lines=True) + "\n\n"
