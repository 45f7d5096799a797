"""The HTML report: one self-contained page per run, rendered from the JSON report's document.

The page holds everything it shows: plots are PNG images inlined as ``data:``
URIs, the style sheet is inline, and there is no script at all; a Content
Security Policy forbids scripts and every remote fetch. Every value taken from
the document — names, messages, and numbers alike, since a crafted file may put
text where a number belongs — is escaped as text.

The page opens with an overview table (FAIL and ERROR first, each row linking
to its card); cards follow in the same order. Each card's verdict line has the
terminal's wording (:func:`pybench.reports.text.verdict_text`) and numbers follow
:mod:`pybench.reports.numbers`. Tables and plots are bounded: at most
:data:`MAX_ROWS` slot rows (flagged and worst first; the rest summarised) and
plots for the first :data:`MAX_PLOTTED` benchmarks; the page says what it left
out, and the JSON report holds all of it.

Plots need matplotlib (``pybench[html]``), imported only here.

A ``pybench compare`` document is shown the same way, with BASE in the place
of the baseline and HEAD in the place of the current run.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from ..core.errors import PybenchError
from . import html_plots, numbers
from .sanitize import clean, shorten
from .text import (
    LEGEND,
    Verdict,
    diverged_text,
    equivalence_text,
    family_wise,
    rules_out_text,
    shape,
    verdict_text,
    worst_index,
)

__all__ = ["MAX_PLOTTED", "MAX_ROWS", "HtmlError", "order", "render"]

MAX_ROWS = 40
"""Slot rows shown per benchmark; the others are summarised in one line."""
MAX_PLOTTED = 20
"""Benchmarks whose plots are drawn (in page order: failures first)."""
_ORDER = {"FAIL": 0, "ERROR": 1, "NEW": 2, "PASS": 3, "GONE": 4}
_STATUS_COLOURS = {
    "PASS": "#009E73", "FAIL": "#D55E00", "NEW": "#0072B2", "ERROR": "#CC79A7", "GONE": "#777",
}  # fmt: skip
_RUN_SIDES = ("baseline", "current")
_COMPARE_SIDES = ("base", "head")

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:0;word-break:break-all}
.meta{color:#555;margin:.2rem 0}
section.bench{border:1px solid #ddd;border-radius:6px;padding:1rem 1.2rem;margin:1.2rem 0}
.verdict{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-word;margin:.4rem 0 .8rem}
.status{font-weight:700;padding:0 .35rem;border-radius:3px;color:#fff;white-space:nowrap}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
th,td{padding:.2rem .55rem;border-bottom:1px solid #eee;text-align:right;vertical-align:top}
th{background:#f6f6f6}
th:first-child,td:first-child{text-align:left}td.name{text-align:left;word-break:break-all}
td.flag{color:#D55E00;font-weight:700;text-align:left}
tr.bad td{background:#fff4ef}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
figure{margin:.8rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}
.counts span{margin-right:1rem}
.note{color:#555;font-size:.88rem}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class HtmlError(PybenchError):
    """The HTML report cannot be made (matplotlib missing, or an unreadable JSON report)."""


def _esc(value: Any) -> str:
    return html.escape(clean(value, lines=True), quote=True)


def _num(value: Any) -> float | None:
    """A finite number from the document, else ``None`` (a crafted field is never trusted)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _int(value: Any) -> str:
    return _esc(value) if isinstance(value, int) and not isinstance(value, bool) else "—"


def _alpha(bench: Mapping[str, Any]) -> float | None:
    return _num((bench.get("settings") or {}).get("alpha"))


def order(benchmarks: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The page's order: FAIL, ERROR, NEW, PASS, GONE; by name within each."""
    return sorted(
        benchmarks, key=lambda b: (_ORDER.get(str(b.get("status")), 5), str(b.get("name")))
    )


def _anchor(bench: Mapping[str, Any], index: int) -> str:
    """The card's id: the benchmark's name when it is an identifier, else its position."""
    name = bench.get("name")
    return name if isinstance(name, str) and name.isidentifier() and name.isascii() else f"b{index}"


# -- verdicts and summaries ----------------------------------------------------------------
def _slots(bench: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [row for row in bench.get("slots") or [] if isinstance(row, Mapping)]


def _step(row: Mapping[str, Any]) -> int:
    step = row.get("step")
    return step if isinstance(step, int) else 0


def _verdict(bench: Mapping[str, Any]) -> Verdict:
    """The :class:`Verdict` of a JSON entry, for :func:`verdict_text` (the terminal's wording)."""
    status = str(bench.get("status"))
    slots = _slots(bench)
    grid = shape([(_step(row), str(row.get("metric"))) for row in slots]) if slots else ""
    if status == "ERROR":
        return Verdict(status, message=str((bench.get("error") or {}).get("message", "")))
    if status in ("NEW", "GONE"):
        note = bench.get("note") or ("baseline updated" if bench.get("replaced") else
                                     "baseline saved" if bench.get("saved") else "not saved")
        return Verdict(status, grid, message=str(note))  # fmt: skip
    diverged = [row for row in slots if row.get("diverged_seeds")]
    first = diverged[0] if diverged else None
    adaptive = bench.get("adaptive") or {}
    run, stored = adaptive.get("seeds_run"), adaptive.get("seeds_stored")
    stopped = (run, stored) if isinstance(run, int) and isinstance(stored, int) else None
    return Verdict(
        status,
        grid,
        equivalence=_equivalence(bench.get("rules_out")),
        n_flagged=bench.get("n_flagged"),
        n_slots=bench.get("n_slots"),
        family_wise=family_wise((bool(r.get("flagged")) for r in slots),
                                (bool(r.get("flagged_adj")) for r in slots)),  # fmt: skip
        meta_p=_num(bench.get("meta_p")),
        alpha=_alpha(bench),
        diverged=None if first is None else diverged_text(
            _step(first), str(first.get("metric")), list(first["diverged_seeds"]),
            bench.get("n_seeds") or 0, len(diverged) - 1),  # fmt: skip
        stopped=stopped if stopped and stopped[0] < stopped[1] else None,
        family_p=_num((bench.get("family") or {}).get("p_adj")),
    )


def _worst(bench: Mapping[str, Any]) -> Mapping[str, Any] | None:
    rows = [row for row in _slots(bench) if not row.get("diverged_seeds")]
    diverged = [row for row in _slots(bench) if row.get("diverged_seeds")]
    if diverged:
        return diverged[0]
    k = worst_index(
        [bool(r.get("flagged")) for r in rows],
        [_num(r.get("delta")) if r.get("delta_reliable") else None for r in rows],
        [_num(r.get("t")) for r in rows],
    )
    return None if k is None else rows[k]


def _delta_cell(row: Mapping[str, Any] | None) -> str:
    if row is None:
        return "—"
    if row.get("diverged_seeds"):
        return "diverged"
    if row.get("delta_reliable") is False or _num(row.get("delta")) is None:
        return "n/a"
    text = numbers.percent(_num(row.get("delta")))
    low, high = _num(row.get("delta_low")), _num(row.get("delta_high"))
    if low is not None and high is not None:
        text += " " + numbers.interval(low, high)
    return text


def _badge(status: Any) -> str:
    colour = _STATUS_COLOURS.get(str(status), "#555")
    return f'<span class="status" style="background:{colour}">{_esc(status)}</span>'


def _flagged_cell(bench: Mapping[str, Any]) -> str:
    if bench.get("status") not in ("PASS", "FAIL"):
        return "—"
    text = f"{_int(bench.get('n_flagged'))}/{_int(bench.get('n_slots'))}"
    verdict = _verdict(bench)
    if verdict.family_wise is not None:
        text += f" ({_int(verdict.family_wise)} family-wise)"
    return text


def _overview(benches: Sequence[Mapping[str, Any]]) -> str:
    """Every benchmark in page order: status, flagged slots, meta-p, worst slot, Δ, time."""
    head = "".join(
        f"<th>{title}</th>"
        for title in ("benchmark", "status", "slots flagged", "meta-p", "worst slot",
                      "Δ [CI]", "time")  # fmt: skip
    )
    body = []
    for i, bench in enumerate(benches):
        worst = _worst(bench) if bench.get("status") in ("PASS", "FAIL") else None
        where = "—" if worst is None else (
            f"{_esc(shorten(str(worst.get('metric'))))} @ step {_int(worst.get('step'))}")
        wall = _num((bench.get("time") or {}).get("wall"))
        cells = [
            f'<a href="#{_anchor(bench, i)}">{_esc(shorten(str(bench.get("name"))))}</a>',
            _badge(bench.get("status")),
            _flagged_cell(bench),
            _esc(numbers.p_value(_num(bench.get("meta_p")), _alpha(bench))),
            where,
            _esc(_delta_cell(worst)),
            "—" if wall is None else _esc(numbers.seconds(wall)),
        ]  # fmt: skip
        bad = ' class="bad"' if bench.get("status") in ("FAIL", "ERROR") else ""
        body.append(f"<tr{bad}>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return (
        '<table class="overview"><thead><tr>' + head + "</tr></thead><tbody>"
        + "".join(body) + "</tbody></table>"
    )  # fmt: skip


# -- one benchmark's card -----------------------------------------------------------------------
def _rank(row: Mapping[str, Any]) -> tuple[int, float, float]:
    """Slot order in the table: diverged, flagged (largest drop first), family-wise, by t."""
    delta = _num(row.get("delta"))
    t = _num(row.get("t"))
    group = 0 if row.get("diverged_seeds") else 1 if row.get("flagged") else (
        2 if row.get("flagged_adj") else 3)  # fmt: skip
    return group, delta if delta is not None else math.inf, t if t is not None else math.inf


def _ranked(bench: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The benchmark's slots, worst first (the table's order, and the plots' choice)."""
    return sorted(_slots(bench), key=_rank)


def _rest_note(rest: Sequence[Mapping[str, Any]]) -> str:
    if not rest:
        return ""
    deltas = [d for d in (_num(r.get("delta")) for r in rest) if d is not None]
    flagged = sum(bool(r.get("flagged")) for r in rest)
    spread = (
        f"; Δ from {numbers.percent(min(deltas))} to {numbers.percent(max(deltas))}"
        if deltas else ""
    )  # fmt: skip
    return (
        f'<p class="note">{len(rest)} more slots not shown ({flagged} of them flagged{spread}); '
        "every slot is in the JSON report (<code>--json</code>).</p>"
    )


def _slot_table(bench: Mapping[str, Any], sides: tuple[str, str],
                ranked: Sequence[Mapping[str, Any]]) -> str:  # fmt: skip
    if not ranked or bench.get("status") not in ("PASS", "FAIL"):
        return ""
    alpha = _alpha(bench)
    level = numbers.level(alpha or 0.05)
    titles = ("metric", "step", *sides, "Δ", f"Δ {level} CI", "p (t-test)",
              "p_adj (flips, family-wise)", "")  # fmt: skip
    shown, rest = ranked[:MAX_ROWS], ranked[MAX_ROWS:]
    body = []
    for row in shown:
        marks = " ".join(mark for mark, key in (("✗", "flagged"), ("‼", "flagged_adj"),
                                                ("↑", "improved")) if row.get(key))  # fmt: skip
        if row.get("diverged_seeds"):
            marks = f"✗ diverged on {len(row['diverged_seeds'])} seeds"
        reliable = row.get("delta_reliable") is not False
        cells = [
            shorten(str(row.get("metric"))),
            str(row.get("step")),
            numbers.mean_std(_num(row.get("baseline_mean")), _num(row.get("baseline_std"))),
            numbers.mean_std(_num(row.get("current_mean")), _num(row.get("current_std"))),
            numbers.percent(_num(row.get("delta"))) if reliable else "n/a",
            numbers.interval(_num(row.get("delta_low")), _num(row.get("delta_high")))
            if reliable else "n/a",
            numbers.p_value(_num(row.get("p")), alpha),
            numbers.p_value(_num(row.get("p_adj")), alpha),
        ]  # fmt: skip
        body.append(
            "<tr>" + "".join(f"<td>{_esc(c)}</td>" for c in cells)
            + f'<td class="flag">{_esc(marks)}</td></tr>'
        )  # fmt: skip
    head = "".join(f"<th>{_esc(t)}</th>" for t in titles)
    return (
        f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        + _rest_note(rest) + f'<p class="note">{_esc(LEGEND)}</p>'
    )  # fmt: skip


def _by_metric(rows: Sequence[Mapping[str, Any]]) -> dict[str, list[Mapping[str, Any]]]:
    grouped: dict[str, list[Mapping[str, Any]]] = {}
    for row in rows:
        if not row.get("diverged_seeds"):
            grouped.setdefault(str(row.get("metric")), []).append(row)
    return grouped


def _all_equal(panels: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> bool:
    """Whether every seed's value is unchanged in every slot drawn (nothing to draw)."""
    return all(
        row.get("baseline_values") == row.get("current_values")
        for _, rows in panels
        for row in rows
    )


def _figure(png: str, caption: str, label: str) -> str:
    return (
        f'<figure data-plot="{_esc(label)}"><img alt="{_esc(caption)}" '
        f'src="data:image/png;base64,{png}"><figcaption>{_esc(caption)}</figcaption></figure>'
    )


def _metric_order(grouped: Mapping[str, Sequence[Mapping[str, Any]]]) -> list[str]:
    """Metrics with flagged slots first, then the rest, by name; at most MAX_PANELS."""
    names = sorted(grouped, key=lambda m: (not any(r.get("flagged") for r in grouped[m]), m))
    return names[: html_plots.MAX_PANELS]


def _plots(bench: Mapping[str, Any], sides: tuple[str, str],
           ranked: Sequence[Mapping[str, Any]]) -> list[str]:  # fmt: skip
    compared = bench.get("status") in ("PASS", "FAIL")
    grouped = _by_metric(_slots(bench))
    figures = []
    curves = {m: sorted(rows, key=lambda r: r.get("step") or 0) for m, rows in grouped.items()
              if len(rows) > 1}  # fmt: skip
    if bench.get("status") == "ERROR":
        curves = {}
    if curves:
        chosen = [(m, curves[m]) for m in _metric_order(curves)]
        figures.append(_figure(
            html_plots.curves(bench, chosen, sides),
            f"Mean over steps per metric ({sides[0]} and {sides[1]}) with confidence bands of "
            "the mean; flagged steps marked.", "curves"))  # fmt: skip
    picked = _by_metric(ranked)
    panels = [
        (m, sorted(picked[m][: html_plots.MAX_STEPS_PER_PANEL], key=lambda r: r["step"]))
        for m in _metric_order(picked)
    ]
    if compared and panels and not _all_equal(panels):
        figures.append(_figure(
            html_plots.differences(panels),
            f"Each seed's relative change ({sides[1]} vs {sides[0]}, % of the {sides[0]} mean, "
            "oriented so that worse is left for every metric) at the flagged and worst slots; "
            "black: the mean change and its interval.", "differences"))  # fmt: skip
    history = bench.get("history")
    if isinstance(history, Mapping):
        png = html_plots.history(history)
        if png is not None:
            figures.append(_figure(png, "The stored baseline mean at each commit that changed "
                                   "the baseline file (oldest first).", "history"))  # fmt: skip
    return figures


def _made(bench: Mapping[str, Any]) -> str:
    made = bench.get("baseline_made")
    if not isinstance(made, Mapping) or bench.get("status") not in ("PASS", "FAIL"):
        return ""
    dirty = " (dirty)" if made.get("dirty") else ""
    return f" · baseline made at {_esc(made.get('commit') or 'no commit')}{dirty}, " + _esc(
        made.get("date") or "no date")  # fmt: skip



def _equivalence(bound: Any) -> str | None:
    """The JSON ``rules_out`` object's :func:`equivalence_text` (``None`` without a margin)."""
    if not isinstance(bound, Mapping) or _num(bound.get("margin")) is None:
        return None
    margin = _num(bound.get("margin")) or 0.0
    step = bound.get("step")
    return equivalence_text(
        margin, _num(bound.get("drop")), step if isinstance(step, int) else 0,
        str(bound.get("metric", "")),
    )  # fmt: skip


def _rules_out(bound: Mapping[str, Any]) -> str:
    """The JSON ``rules_out`` object as :func:`rules_out_text`'s line."""
    return rules_out_text(
        _num(bound.get("drop")),
        _num(bound.get("level")) or 0.0,
        int(bound.get("n_slots") or 0),
        int(bound.get("step") or 0),
        str(bound.get("metric", "")),
    )


def _section(bench: Mapping[str, Any], index: int, sides: tuple[str, str], plots: bool) -> str:
    status = bench.get("status")
    wall = _num((bench.get("time") or {}).get("wall"))
    meta = _esc(bench.get("file", ""))
    if status == "GONE":
        meta += " · not run"
    else:
        meta += f" · {_int(bench.get('n_seeds'))} seeds"
        meta += "" if wall is None else f" · {_esc(numbers.seconds(wall))}"
    parts = [
        f'<section class="bench" id="{_anchor(bench, index)}">',
        f"<h2>{_esc(shorten(str(bench.get('name')), 120))}</h2>",
        f'<p class="meta">{meta}{_made(bench)}</p>',
        f'<div class="verdict">{_badge(status)} {_esc(verdict_text(_verdict(bench)))}</div>',
    ]
    bound = bench.get("rules_out")
    if isinstance(bound, Mapping):
        parts.append(f'<p class="meta">{_esc(_rules_out(bound))}</p>')
    error = bench.get("error")
    if isinstance(error, Mapping):
        seed = error.get("seed")
        where = f" (seed {_int(seed)})" if seed is not None else ""
        text = error.get("traceback") or error.get("message") or ""
        parts.append(f"<p>Error{where}:</p><pre>{_esc(text)}</pre>")
    ranked = _ranked(bench)
    parts.append(_slot_table(bench, sides, ranked))
    if plots:
        parts.extend(_plots(bench, sides, ranked))
    parts.append("</section>")
    return "".join(parts)


def _provenance(document: Mapping[str, Any]) -> str:
    """The header's lines: what the run compared against, and the run's own commit."""
    git: Mapping[str, Any] = document["git"] if isinstance(document.get("git"), Mapping) else {}
    run = f"{_esc(git.get('commit') or 'no commit')}{' (dirty)' if git.get('dirty') else ''}"
    if document.get("command") == "compare":
        revisions = document.get("revisions") or {}
        labels = [(revisions.get(side) or {}).get("label") for side in ("base", "head")]
        if not all(labels):
            return '<p class="meta">compare</p>'
        return f'<p class="meta">base {_esc(labels[0])} → head {_esc(labels[1])}</p>'
    baseline: Mapping[str, Any] = (
        document["baseline"] if isinstance(document.get("baseline"), Mapping) else {}
    )
    made: dict[tuple[str, bool], str] = {}
    for bench in document.get("benchmarks") or []:
        entry = bench.get("baseline_made") if isinstance(bench, Mapping) else None
        if isinstance(entry, Mapping) and bench.get("status") in ("PASS", "FAIL"):
            key = (entry.get("commit") or "no commit", bool(entry.get("dirty")))
            made.setdefault(key, str(entry.get("date") or "no date")[:10])
    when = "; ".join(
        f"{_esc(commit)}{' (dirty)' if dirty else ''} on {_esc(date)}"
        for (commit, dirty), date in list(made.items())[:3]
    ) + (f"; and {len(made) - 3} more" if len(made) > 3 else "")
    line = f"Baseline <code>{_esc(baseline.get('path', ''))}</code>"
    line += f", made at commit {when}" if when else ""
    return f'<p class="meta">{line}.</p><p class="meta">This run: commit {run}.</p>'


def render(document: Mapping[str, Any]) -> str:
    """The page for a JSON report ``document`` (see :mod:`pybench.reports.json`).

    Raises:
        HtmlError: if matplotlib is missing or the document is not a pybench run report.
    """
    if not isinstance(document, Mapping) or not isinstance(document.get("benchmarks"), list):
        raise HtmlError("not a pybench JSON report (no 'benchmarks' list)")
    try:
        html_plots.figure()
    except html_plots.MissingMatplotlib as exc:
        from .preflight import install_command

        raise HtmlError(
            f"--html needs matplotlib ({exc}); install pybench's 'html' extra: "
            f"{install_command('html')}"
        ) from None
    benches = order([b for b in document["benchmarks"] if isinstance(b, Mapping)])
    counts: Mapping[str, Any] = (
        document["counts"] if isinstance(document.get("counts"), Mapping) else {}
    )
    error = document.get("error")
    sides = _COMPARE_SIDES if document.get("command") == "compare" else _RUN_SIDES
    skipped = max(0, len(benches) - MAX_PLOTTED)
    head = (
        "<h1>pybench report</h1>"
        f'<p class="meta">{_esc(document.get("path", ""))} · {_esc(document.get("started") or "")}'
        f" · pybench {_esc(document.get('pybench', ''))}</p>"
        + _provenance(document)
        + (f'<p class="note">error: {_esc(error)}</p>' if error else "")
        + '<p class="counts">'
        + "".join(f"<span>{_esc(k)}: {_int(v)}</span>" for k, v in counts.items())
        + "</p>"
        + (_overview(benches) if benches else "")
        + (f'<p class="note">Plots are drawn for the first {MAX_PLOTTED} benchmarks in this '
           f"order; {skipped} more have tables only.</p>" if skipped else "")
    )  # fmt: skip
    sections = "".join(
        _section(bench, i, sides, plots=i < MAX_PLOTTED) for i, bench in enumerate(benches)
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pybench report</title><style>{_CSS}</style></head>"
        f"<body>{head}{sections}</body></html>\n"
    )
