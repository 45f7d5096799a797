"""Plain-text pieces every report shares: shapes, verdict lines, the per-slot rows, tables.

The terminal, JUnit, Markdown and HTML reports print the same numbers the same
way (:mod:`pybench.reports.numbers`) and the same verdict wording (:func:`verdict_text`);
only the layout around them differs. Nothing here needs rich.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rich.cells import cell_len

from ..core.normalize import Slot
from ..engine.outcome import Outcome, Status
from ..judging.verdict import BenchComparison
from . import numbers
from .numbers import FINE_ALPHA, interval, level, mean_std, percent
from .sanitize import clean, shorten

__all__ = [
    "FINE_ALPHA",
    "LEGEND",
    "Verdict",
    "details",
    "display_path",
    "early_stop",
    "format_p",
    "improvement",
    "level",
    "mean_std",
    "percent",
    "plain_table",
    "seed_list",
    "shape",
    "slot_rows",
    "status_word",
    "summary_text",
    "table_header",
    "verdict_text",
    "worst_index",
]

format_p = numbers.p_value
"""A p-value as every report prints it (:func:`pybench.reports.numbers.p_value`)."""

LEGEND = (
    "✗ p < alpha (p: the slot's own t-test) · ‼ p_adj < alpha (p_adj: sign flips, "
    "family-wise) · ↑ better"
)
"""The line under every per-slot table saying what its columns and marks mean."""


def shape(slots: Sequence[Slot]) -> str:
    """``1 metrics × 3 steps``; an irregular grid adds its slot count: ``(12 slots)``."""
    n_metrics = len({metric for _, metric in slots})
    n_steps = len({step for step, _ in slots})
    text = f"{n_metrics} metrics × {n_steps} steps"
    if n_metrics * n_steps != len(slots):
        text += f" ({len(slots)} slots)"
    return text


def seed_list(seeds: Sequence[int], limit: int = 3) -> str:
    """``12, 40, 77`` (``, …`` beyond ``limit``)."""
    return ", ".join(str(s) for s in seeds[:limit]) + (", …" if len(seeds) > limit else "")


def plain_table(
    titles: Sequence[str], rows: Iterable[Sequence[str]], right: Sequence[str] = ("step",)
) -> list[str]:
    """Columns two spaces apart, each as wide as its widest cell; lines right-trimmed.

    Columns whose title is in ``right`` are right-aligned. Widths count terminal
    cells, so ``Δ`` and ``✗`` line up like any letter.
    """
    table = [list(titles), *(list(cells) for cells in rows)]
    widths = [max(cell_len(row[i]) for row in table) for i in range(len(titles))]
    lines = []
    for row in table:
        cells = []
        for title, width, cell in zip(titles, widths, row, strict=True):
            pad = " " * (width - cell_len(cell))
            cells.append(pad + cell if title in right else cell + pad)
        lines.append("  ".join(cells).rstrip())
    return lines


def table_header(result: BenchComparison) -> tuple[str, ...]:
    """The titles of the per-slot table's columns (the interval's names its level)."""
    alpha = result.stats.alpha if result.stats else 0.05
    return ("metric", "step", "baseline", "current", "Δ", "p", "p_adj", f"Δ {level(alpha)} CI")


def slot_rows(
    result: BenchComparison, alpha: float | None = None, limit: int | None = None
) -> list[tuple[str, ...]]:
    """The per-slot table's cells, in slot order.

    Columns: metric (cleaned, long names shortened), step, baseline and current
    mean±std, Δ, p (``✗``: flagged by the slot's own test; ``↑``: significantly
    better), p_adj (``‼``: ``p_adj < alpha``), and the ``1 - alpha`` confidence
    interval of Δ. Diverged slots (non-finite current values) say so in place of
    numbers. ``alpha`` (default: the comparison's) decides how p-values are printed.
    With ``limit``, only that many rows are kept — diverged, then flagged (largest
    drop first), then the lowest t — still in slot order.
    """
    if alpha is None and result.stats is not None:
        alpha = result.stats.alpha
    rows: list[tuple[Slot, tuple[str, ...]]] = []
    slots = result.stats.slots if result.stats else []
    if limit is not None and len(slots) + len(result.diverged) > limit:
        keep = max(0, limit - len(result.diverged))
        slots = sorted(slots, key=lambda s: (not s.flagged, s.effect_size if s.flagged else 0.0,
                                             s.t_stat))[:keep]  # fmt: skip
    for slot in slots:
        reliable = slot.effect_reliable
        mark = " ✗" if slot.flagged else (" ↑" if slot.improved else "")
        cells = (
            shorten(slot.metric),
            str(slot.step),
            mean_std(slot.baseline_mean, slot.baseline_std),
            mean_std(slot.current_mean, slot.current_std),
            percent(slot.effect_size) if reliable else "n/a",
            format_p(slot.p_value, alpha) + mark,
            format_p(slot.p_adj, alpha) + (" ‼" if slot.flagged_adj else ""),
            interval(slot.delta_low, slot.delta_high) if reliable else "n/a",
        )
        rows.append(((slot.step, slot.metric), cells))
    for div in result.diverged[:limit]:
        cells = (
            shorten(div.metric),
            str(div.step),
            mean_std(div.baseline_mean, div.baseline_std),
            "non-finite",
            "—",
            "— ✗",
            "—",
            f"diverged on {len(div.seeds)}/{div.n_seeds} seeds ({seed_list(div.seeds)})",
        )
        rows.append(((div.step, div.metric), cells))
    rows.sort(key=lambda row: row[0])
    return [cells for _, cells in rows]


def rules_out_text(drop: float | None, level: float, n_slots: int, step: int, metric: str) -> str:
    """What a comparison rules out for every slot at once, as one line.

    ``rules out drops > 1.2% (95%, all 300 slots; set by acc @ step 40)``; a
    ``drop`` that is ``None`` or infinite rules out nothing (some baseline mean
    is not distinguishable from zero at that level).
    """
    shown = f"{level * 100:g}%"
    where = "the slot" if n_slots == 1 else f"all {n_slots} slots"
    slot = f"{shorten(metric)} @ step {step}"
    if drop is None or not math.isfinite(drop):
        return (f"rules out no drop ({shown}, {where}): the baseline mean of {slot} is not "
                "distinguishable from zero")  # fmt: skip
    if drop <= 0.0:
        gain = -drop * 100
        more = f"; every slot gained at least {gain:.1f}%" if gain >= 0.05 else ""
        return f"rules out any drop ({shown}, {where}{more})"
    size = f"{drop * 100:.2g}%" if drop < 0.001 else f"{drop * 100:.1f}%"
    limit = "" if n_slots == 1 else f"; set by {slot}"
    return f"rules out drops > {size} ({shown}, {where}{limit})"


def bench_rules_out(result: BenchComparison) -> str | None:
    """:func:`rules_out_text` of a comparison; ``None`` without statistics."""
    bound = result.stats.rules_out if result.stats is not None else None
    if bound is None:
        return None
    return rules_out_text(bound.drop, bound.level, bound.n_slots, bound.step, bound.metric)


def format_table(result: BenchComparison, alpha: float | None = None) -> list[str]:
    """The per-slot table as plain lines (:func:`table_header`, :func:`slot_rows`)."""
    return plain_table(table_header(result), slot_rows(result, alpha))


def worst_index(
    flagged: Sequence[bool], delta: Sequence[float | None], t: Sequence[float | None]
) -> int | None:
    """The worst slot: the largest relative drop among flagged slots, else the lowest t.

    A flagged slot without a reliable Δ ranks after those with one (by t).
    """
    chosen = [k for k, hit in enumerate(flagged) if hit]
    if chosen:
        with_delta = [k for k in chosen if delta[k] is not None]
        if with_delta:
            return min(with_delta, key=lambda k: delta[k])  # type: ignore[arg-type,return-value]
        return min(chosen, key=lambda k: _or_inf(t[k]))
    ranked = [k for k in range(len(t)) if t[k] is not None]
    return min(ranked, key=lambda k: _or_inf(t[k])) if ranked else None


def _or_inf(value: float | None) -> float:
    return math.inf if value is None or math.isnan(value) else value


def display_path(path: Path) -> str:
    """``path`` relative to the current directory when it lies below it, else absolute."""
    absolute = path if path.is_absolute() else Path.cwd() / path
    try:
        return absolute.resolve().relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return str(absolute.resolve())


def status_word(outcome: Outcome) -> str:
    """The word a benchmark's line shows: its status, or SAVED for a re-made baseline."""
    if outcome.status is Status.NEW and outcome.replaces:
        return "SAVED"
    return outcome.status.value


def early_stop(outcome: Outcome) -> str | None:
    """``stopped after 12/30 seeds at look 2 (futility)`` for an adaptive early stop, else None."""
    if not outcome.stopped_early:
        return None
    reason = getattr(outcome.stop_reason, "value", outcome.stop_reason)
    return (
        f"stopped after {outcome.seeds_run}/{outcome.seeds_stored} seeds at look "
        f"{outcome.stopped_at_look} ({reason})"
    )


@dataclass(frozen=True)
class Verdict:
    """What a benchmark's verdict line says, from an outcome or from a JSON report's entry."""

    status: str
    shape: str = ""
    message: str | None = None
    """An ERROR's one-line message; a NEW's or GONE's note."""
    n_flagged: int | None = None
    n_slots: int | None = None
    family_wise: int | None = None
    """Slots with ``‼``, when one of them has no ``✗`` (else not shown)."""
    meta_p: float | None = None
    alpha: float | None = None
    diverged: str | None = None
    """``step 100 'min:loss' non-finite on 2/30 seeds (3, 7) (+1 more slots)``."""
    stopped: tuple[int, int] | None = None
    """Seeds run and stored, for an adaptive comparison that stopped early."""
    note: str | None = None
    """``--confirm``: what the fresh seeds said (``(confirmed on 30 fresh seeds)``)."""
    family_p: float | None = None
    """``--alpha-scope run``: the benchmark's adjusted p-value in the run's family."""
    equivalence: str | None = None
    """``--equivalence``: why the run does not rule out the margin (:func:`equivalence_text`)."""


def verdict_text(verdict: Verdict) -> str:
    """What follows the status word on a benchmark's line.

    ``1 metrics × 3 steps 1/3 slots flagged meta-p=0.000`` for a verdict (plus
    ``, 6 family-wise`` when a slot is family-wise significant without its own
    ``✗``, the first diverged slot, and ``(stopped after 9/30 seeds)`` for an
    adaptive comparison that stopped early), ``1 metrics × 3 steps (baseline
    saved)`` for a new baseline, and the one-line message of an error.
    """
    if verdict.status == "ERROR":
        return clean(verdict.message or "")
    if verdict.status == "GONE":
        return f"({clean(verdict.message or '')})"
    if verdict.status == "NEW":
        return f"{verdict.shape} ({clean(verdict.message or '')})"
    flagged = f"{verdict.n_flagged}/{verdict.n_slots} slots flagged"
    if verdict.family_wise is not None:
        flagged += f", {verdict.family_wise} family-wise"
    parts = [verdict.shape, flagged]
    if verdict.meta_p is not None:
        parts.append(f"meta-p={format_p(verdict.meta_p, verdict.alpha)}")
    if verdict.family_p is not None:
        parts.append(f"run-adjusted p={format_p(verdict.family_p, verdict.alpha)}")
    if verdict.diverged:
        parts.append(f"diverged: {clean(verdict.diverged)}")
    if verdict.stopped is not None:
        parts.append(f"(stopped after {verdict.stopped[0]}/{verdict.stopped[1]} seeds)")
    if verdict.note:
        parts.append(clean(verdict.note))
    if verdict.equivalence:
        parts.append(f"({clean(verdict.equivalence)})")
    return " ".join(parts)


def diverged_text(step: int, metric: str, seeds: Sequence[int], n_seeds: int, more: int) -> str:
    """``step 100 'min:loss' non-finite on 2/30 seeds (3, 7) (+1 more slots)``."""
    extra = f" (+{more} more slots)" if more > 0 else ""
    return (
        f"step {step} {shorten(metric)!r} non-finite on "
        f"{len(seeds)}/{n_seeds} seeds ({seed_list(seeds)}){extra}"
    )


def _diverged(result: BenchComparison) -> str | None:
    if not result.diverged:
        return None
    first = result.diverged[0]
    return diverged_text(
        first.step, first.metric, first.seeds, first.n_seeds, len(result.diverged) - 1
    )


def family_wise(flagged: Iterable[bool], flagged_adj: Iterable[bool]) -> int | None:
    """How many slots carry ``‼``, when at least one of them lacks ``✗``; else ``None``."""
    count, beyond = 0, False
    for own, adj in zip(flagged, flagged_adj, strict=True):
        count += adj
        beyond = beyond or (adj and not own)
    return count if beyond else None


def verdict_of(outcome: Outcome) -> Verdict:
    """The :class:`Verdict` of one outcome."""
    status = outcome.status
    if status is Status.ERROR:
        assert outcome.error is not None
        return Verdict("ERROR", message=outcome.error.message)
    if status is Status.GONE:
        return Verdict("GONE", message=outcome.note or "")
    if status is Status.NEW:
        note = outcome.note or f"baseline {'updated' if outcome.replaces else 'saved'}"
        return Verdict("NEW", shape(outcome.slots), message=note)
    result = outcome.comparison
    assert result is not None
    slots = result.stats.slots if result.stats else []
    return Verdict(
        status.value,
        shape(outcome.slots),
        n_flagged=result.n_flagged,
        n_slots=result.n_slots,
        family_wise=family_wise((s.flagged for s in slots), (s.flagged_adj for s in slots)),
        meta_p=result.meta_p,
        alpha=outcome.settings.alpha,
        diverged=_diverged(result),
        stopped=(outcome.seeds_run or 0, outcome.seeds_stored or 0)
        if outcome.stopped_early
        else None,
        note=confirmation_note(outcome) if outcome.confirmation is not None else None,
        family_p=outcome.family.p_adj if outcome.family is not None else None,
        equivalence=_equivalence(result),
    )


def _equivalence(result: BenchComparison) -> str | None:
    bound = result.stats.rules_out if result.stats is not None else None
    if result.margin is None or bound is None:
        return None
    return equivalence_text(result.margin, bound.drop, bound.step, bound.metric)


def equivalence_text(margin: float, drop: float | None, step: int, metric: str) -> str | None:
    """``cannot rule out a drop of 1%: bound 1.8% at step 40 acc``; ``None`` when it does."""
    if drop is not None and math.isfinite(drop) and drop <= margin:
        return None
    head = f"cannot rule out a drop of {margin * 100:g}%"
    if drop is None or not math.isfinite(drop):
        return (f"{head}: the baseline mean of {shorten(metric)} @ step {step} is not "
                "distinguishable from zero")  # fmt: skip
    return f"{head}: bound {drop * 100:.1f}% at step {step} {shorten(metric)}"


def details(outcome: Outcome) -> str:
    """What follows the status word on a benchmark's line (:func:`verdict_text`)."""
    return verdict_text(verdict_of(outcome))


def confirmation_note(outcome: Outcome) -> str:
    """``(confirmed on 30 fresh seeds)`` or ``(not confirmed on 30 fresh seeds: meta-p=0.412)``."""
    confirmation = outcome.confirmation
    assert confirmation is not None
    n = confirmation.n_seeds
    if confirmation.confirmed:
        return f"(confirmed on {n} fresh seeds)"
    meta_p = confirmation.meta_p
    shown = "n/a" if meta_p is None else format_p(meta_p, outcome.settings.alpha)
    return f"(not confirmed on {n} fresh seeds: meta-p={shown})"


def improvement(outcome: Outcome, update: str | None) -> str | None:
    """The note under a PASS that is significantly better than its baseline, else ``None``.

    ``update`` is the command that re-baselines this benchmark (``None``: there is no
    baseline to raise, as in ``pybench compare``).
    """
    result = outcome.comparison
    stats = result.stats if result is not None else None
    if outcome.status is not Status.PASS or result is None or stats is None or not stats.improved:
        return None
    note = (
        f"improved: meta-p={format_p(stats.improvement_p, outcome.settings.alpha)}, "
        f"{stats.n_improved}/{result.n_slots} slots better"
    )
    return note if update is None else f"{note}; raise the bar with {update}"


def family_note(outcomes: Sequence[Outcome]) -> str | None:
    """``family-wise α=0.05 over 20 benchmarks`` when the run was judged as one family."""
    for outcome in outcomes:
        family = outcome.family
        if family is not None:
            plural = "" if family.size == 1 else "s"
            return f"family-wise α={family.alpha:g} over {family.size} benchmark{plural}"
    return None


def summary_text(outcomes: Sequence[Outcome], command: str = "run") -> str:
    """The counts of the summary line, without its time: ``0 failed, 2 passed, 1 new``.

    ``update`` counts updated baselines; ``compare`` counts the benchmarks only
    one revision has instead of new ones (``1 only in HEAD``, ``1 only in BASE``,
    each shown only when there are some). Errors are added when there are some.
    """
    counts = {status: 0 for status in Status}
    for outcome in outcomes:
        counts[outcome.status] += 1
    if command == "update":
        text = f"{counts[Status.NEW]} updated"
    elif command == "compare":
        text = f"{counts[Status.FAIL]} failed, {counts[Status.PASS]} passed"
        if counts[Status.NEW]:
            text += f", {counts[Status.NEW]} only in HEAD"
        if counts[Status.GONE]:
            text += f", {counts[Status.GONE]} only in BASE"
    else:
        text = (
            f"{counts[Status.FAIL]} failed, {counts[Status.PASS]} passed, {counts[Status.NEW]} new"
        )
    errors = counts[Status.ERROR]
    if errors:
        text += f", {errors} error" + ("s" if errors > 1 else "")
    return text
