"""Plain-text pieces every report shares: shapes, mean±std, p-values, the per-slot rows.

The terminal, JUnit and Markdown reports print the same numbers the same way;
only the layout around them differs.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from decimal import ROUND_FLOOR, Decimal
from pathlib import Path

from ..core.normalize import Slot
from ..engine.outcome import Outcome, Status
from ..judging.verdict import BenchComparison

__all__ = [
    "FINE_ALPHA",
    "details",
    "early_stop",
    "display_path",
    "format_p",
    "improvement",
    "level",
    "mean_std",
    "percent",
    "seed_list",
    "shape",
    "slot_rows",
    "status_word",
    "table_header",
]

FINE_ALPHA = 0.001
"""At or below this alpha, p-values are printed with three significant digits.

Three decimals cannot be read against such an alpha: a meta-p of 0.000244
would print as ``0.000``, and 0.000996 (a FAIL at alpha 0.001) as ``0.001``.
"""


def shape(slots: Sequence[Slot]) -> str:
    """``1 metrics × 3 steps``."""
    n_metrics = len({metric for _, metric in slots})
    n_steps = len({step for step, _ in slots})
    return f"{n_metrics} metrics × {n_steps} steps"


def mean_std(mean: float, std: float) -> str:
    """``0.13±0.06``; the mean alone when the std is not finite."""
    if not math.isfinite(std):
        return f"{mean:.2f}"
    return f"{mean:.2f}±{std:.2f}"


def format_p(value: float, alpha: float | None = None) -> str:
    """A p-value as every report prints it.

    Three decimals (``0.000``, ``1.000``), as the walkthrough shows; when
    ``alpha <= FINE_ALPHA``, three significant digits instead, rounded *down*
    so that a value below alpha never prints as alpha or above it
    (``0.000244``, ``0.000999``, ``2.44e-05``; an exact zero prints as ``0``).
    """
    if alpha is None or alpha > FINE_ALPHA or not math.isfinite(value):
        return f"{value:.3f}"
    if value == 0:
        return "0"
    exact = Decimal(repr(value))
    digits = exact.adjusted()  # the power of ten of the leading digit
    shown = exact.quantize(Decimal(1).scaleb(digits - 2), rounding=ROUND_FLOOR)
    if digits < -4:
        return f"{float(shown):.2e}"
    return f"{shown:f}"


def percent(value: float) -> str:
    """A relative change in percent: ``-155.3%``, ``+0.0%``."""
    return f"{value * 100:+.1f}%"


def level(alpha: float) -> str:
    """The confidence level of a ``1 - alpha`` interval: ``95%``."""
    return f"{(1.0 - alpha) * 100:g}%"


def seed_list(seeds: Sequence[int], limit: int = 3) -> str:
    """``12, 40, 77`` (``, …`` beyond ``limit``)."""
    return ", ".join(str(s) for s in seeds[:limit]) + (", …" if len(seeds) > limit else "")


def table_header(result: BenchComparison) -> tuple[str, ...]:
    """The titles of the per-slot table's columns (the interval's names its level)."""
    alpha = result.stats.alpha if result.stats else 0.05
    return ("metric", "step", "baseline", "current", "Δ", "p", "p_adj", f"Δ {level(alpha)} CI")


def slot_rows(result: BenchComparison, alpha: float | None = None) -> list[tuple[str, ...]]:
    """The per-slot table's cells, in slot order.

    Columns: metric, step, baseline and current mean±std, Δ, p (``✗``: flagged
    by the slot's own test), p_adj (``‼``: ``p_adj < alpha``), and the
    ``1 - alpha`` confidence interval of Δ. Diverged slots (non-finite current
    values) say so in place of numbers. ``alpha`` (default: the comparison's)
    decides how p-values are printed (:func:`format_p`).
    """
    if alpha is None and result.stats is not None:
        alpha = result.stats.alpha
    rows: list[tuple[Slot, tuple[str, ...]]] = []
    for slot in result.stats.slots if result.stats else []:
        reliable = slot.effect_reliable
        cells = (
            slot.metric,
            str(slot.step),
            mean_std(slot.baseline_mean, slot.baseline_std),
            mean_std(slot.current_mean, slot.current_std),
            percent(slot.effect_size) if reliable else "n/a",
            format_p(slot.p_value, alpha) + (" ✗" if slot.flagged else ""),
            format_p(slot.p_adj, alpha) + (" ‼" if slot.flagged_adj else ""),
            f"[{percent(slot.delta_low)}, {percent(slot.delta_high)}]" if reliable else "n/a",
        )
        rows.append(((slot.step, slot.metric), cells))
    for div in result.diverged:
        cells = (
            div.metric,
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


def details(outcome: Outcome) -> str:
    """What follows the status word on a benchmark's line.

    ``1 metrics × 3 steps 1/3 slots flagged meta-p=0.000`` for a verdict (plus
    the first diverged slot, and ``(stopped after 9/30 seeds)`` for an adaptive
    comparison that stopped early), ``1 metrics × 3 steps (baseline saved)`` for a new
    baseline, and the one-line message of an error.
    """
    if outcome.status is Status.ERROR:
        assert outcome.error is not None
        return outcome.error.message
    if outcome.status is Status.GONE:
        return f"({outcome.note or ''})"
    if outcome.status is Status.NEW:
        note = outcome.note or f"baseline {'updated' if outcome.replaces else 'saved'}"
        return f"{shape(outcome.slots)} ({note})"
    result = outcome.comparison
    assert result is not None
    parts = [shape(outcome.slots), f"{result.n_flagged}/{result.n_slots} slots flagged"]
    if result.meta_p is not None:
        parts.append(f"meta-p={format_p(result.meta_p, outcome.settings.alpha)}")
    if result.diverged:
        first = result.diverged[0]
        more = f" (+{len(result.diverged) - 1} more slots)" if len(result.diverged) > 1 else ""
        parts.append(
            f"diverged: step {first.step} {first.metric!r} non-finite on "
            f"{len(first.seeds)}/{first.n_seeds} seeds ({seed_list(first.seeds)}){more}"
        )
    if outcome.stopped_early:
        parts.append(f"(stopped after {outcome.seeds_run}/{outcome.seeds_stored} seeds)")
    if outcome.confirmation is not None:
        parts.append(confirmation_note(outcome))
    return " ".join(parts)


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
