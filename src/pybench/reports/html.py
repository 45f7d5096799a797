"""The HTML report: one self-contained page per run, rendered from the JSON report's document.

The page holds everything it shows: plots are PNG images inlined as ``data:``
URIs, the style sheet is inline, and there is no script at all; a Content
Security Policy forbids scripts and every remote fetch, so a report published
as a CI artifact cannot run anything, whatever the benchmark and metric names
or error messages hold (all of them are escaped as text).

Plots need matplotlib (``pybench[html]``), imported only here.

A ``pybench compare`` document is shown the same way, with BASE in the place
of the baseline and HEAD in the place of the current run: the header names
``base → head``, and tables and plots say "base" and "head".
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import PybenchError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["HtmlError", "history_series", "render"]

# Okabe–Ito: distinguishable with the common colour-vision deficiencies.
BASELINE = "#0072B2"
CURRENT = "#E69F00"
FLAGGED = "#D55E00"
ADJUSTED = "#CC79A7"
NEUTRAL = "#555555"
_STATUS_COLOURS = {"PASS": "#009E73", "FAIL": FLAGGED, "NEW": "#0072B2", "ERROR": "#CC79A7"}
_DPI = 90
_MAX_HISTORY_LINES = 8
_RUN_SIDES = ("baseline", "current")
_COMPARE_SIDES = ("base", "head")

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.2rem;margin:0}
.meta{color:#555;margin-top:0}
section.bench{border:1px solid #ddd;border-radius:6px;padding:1rem 1.2rem;margin:1.2rem 0}
.verdict{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:pre-wrap;
word-break:break-word;margin:.4rem 0 .8rem}
.status{font-weight:700;padding:0 .35rem;border-radius:3px;color:#fff}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{padding:.2rem .6rem;border-bottom:1px solid #eee;text-align:right}
th:first-child,td:first-child{text-align:left}
td.flag{color:#D55E00;font-weight:700}
pre{background:#f6f6f6;padding:.6rem;overflow-x:auto;white-space:pre-wrap;word-break:break-word}
figure{margin:.8rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}
.counts span{margin-right:1rem}
.note{color:#555;font-size:.9rem}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


class HtmlError(PybenchError):
    """The HTML report cannot be made (matplotlib missing, or an unreadable JSON report)."""


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise HtmlError(
            f"--html needs matplotlib ({exc}); install pybench's 'html' extra "
            "(e.g. uv pip install -e 'path/to/pybench[html]') or add matplotlib to the environment"
        ) from None
    return plt


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: float | None, spec: str = ".3g") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "—"
    return format(value, spec)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight")
    _pyplot().close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _figure(fig: Figure, caption: str, label: str) -> str:
    return (
        f'<figure data-plot="{_esc(label)}"><img alt="{_esc(caption)}" '
        f'src="data:image/png;base64,{_png(fig)}"><figcaption>{_esc(caption)}</figcaption></figure>'
    )


def _direction_word(direction: str) -> str:
    return "lower is better" if direction == "lower" else "higher is better"


def _t_quantile(level: float, df: int) -> float:
    """The two-sided ``level`` quantile of Student's t with ``df`` degrees of freedom."""
    from .._tdist import t_ppf

    return -t_ppf((1.0 - level) / 2.0, df) if df > 0 else math.nan


def _finite(values: Sequence[float | None] | None) -> list[float]:
    return [float(v) for v in values or [] if v is not None and math.isfinite(v)]


def _band(values: Sequence[float | None] | None, level: float) -> tuple[float, float, float]:
    """Mean and the ``level`` confidence interval of the mean of ``values``."""
    data = _finite(values)
    if not data:
        return math.nan, math.nan, math.nan
    n = len(data)
    mean = math.fsum(data) / n
    if n < 2:
        return mean, mean, mean
    sd = math.sqrt(math.fsum((v - mean) ** 2 for v in data) / (n - 1))
    half = _t_quantile(level, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


# -- plots -----------------------------------------------------------------------------
def _curve_plot(
    bench: Mapping[str, Any],
    metric: str,
    rows: list[dict[str, Any]],
    sides: tuple[str, str] = _RUN_SIDES,
) -> str:
    plt = _pyplot()
    alpha = bench["settings"].get("alpha") or 0.05
    level = 1.0 - alpha
    steps = [row["step"] for row in rows]
    fig, ax = plt.subplots(figsize=(7.0, 3.4))
    for key, colour, label in (
        ("baseline_values", BASELINE, sides[0]),
        ("current_values", CURRENT, sides[1]),
    ):
        if not any(row.get(key) for row in rows):
            continue
        bands = [_band(row.get(key), level) for row in rows]
        ax.plot(steps, [b[0] for b in bands], color=colour, lw=2, label=f"{label} mean")
        ax.fill_between(
            steps, [b[1] for b in bands], [b[2] for b in bands], color=colour, alpha=0.25, lw=0,
            label=f"{label} {level:.0%} CI",
        )  # fmt: skip
    flagged = [row for row in rows if row.get("flagged")]
    if flagged:
        ys = [_band(row.get("current_values"), level)[0] for row in flagged]
        ax.scatter(
            [row["step"] for row in flagged], ys, marker="X", s=90, color=FLAGGED, zorder=5,
            label="flagged (p < α)",
        )  # fmt: skip
    adjusted = [row for row in rows if row.get("p_adj") is not None and row["p_adj"] < alpha]
    if adjusted:
        ys = [_band(row.get("current_values"), level)[0] for row in adjusted]
        ax.scatter(
            [row["step"] for row in adjusted], ys, marker="o", s=220, facecolors="none",
            edgecolors=ADJUSTED, linewidths=2, zorder=6, label="family-wise (p_adj < α)",
        )  # fmt: skip
    direction = rows[0].get("direction", "higher")
    ax.set(xlabel="step", ylabel=f"{metric} ({_direction_word(direction)})")
    ax.set_title(f"{metric}: mean over {bench['n_seeds']} seeds", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    caption = (
        f"{metric} over steps: {sides[0]} and {sides[1]} mean with {level:.0%} confidence bands "
        "of the mean; flagged slots marked."
    )
    return _figure(fig, caption, f"curve:{metric}")


def _paired_plot(
    bench: Mapping[str, Any], row: dict[str, Any], sides: tuple[str, str] = _RUN_SIDES
) -> str:
    """Paired per-seed values (baseline → current) and the differences with their interval."""
    plt = _pyplot()
    alpha = bench["settings"].get("alpha") or 0.05
    base, cur = row.get("baseline_values") or [], row.get("current_values") or []
    pairs = [
        (b, c)
        for b, c in zip(base, cur, strict=False)
        if b is not None and c is not None and math.isfinite(b) and math.isfinite(c)
    ]
    fig, (left, right) = plt.subplots(1, 2, figsize=(7.6, 3.2))
    for b, c in pairs:
        left.plot([0, 1], [b, c], color=NEUTRAL, alpha=0.35, lw=1)
    left.scatter([0] * len(pairs), [b for b, _ in pairs], color=BASELINE, s=18, label=sides[0])
    left.scatter([1] * len(pairs), [c for _, c in pairs], color=CURRENT, s=18, label=sides[1])
    left.set_xticks([0, 1], list(sides))
    left.set_xlim(-0.4, 1.4)
    metric = row["metric"]
    left.set_ylabel(f"{metric} ({_direction_word(row.get('direction', 'higher'))})")
    left.set_title(f"step {row['step']}: per-seed pairs", fontsize=10)
    left.legend(fontsize=8)
    diffs = [c - b for b, c in pairs]
    mean, low, high = _band(diffs, 1.0 - alpha)
    if diffs:
        jitter = [((i * 0.6180339) % 1.0 - 0.5) * 0.3 for i in range(len(diffs))]
        right.scatter(diffs, jitter, color=NEUTRAL, s=16, alpha=0.7, label="seed")
        right.errorbar(
            [mean], [0.0], xerr=[[mean - low], [high - mean]], fmt="D", color=FLAGGED
            if row.get("flagged") else CURRENT, capsize=6, ms=7, label=f"mean, {1 - alpha:.0%} CI",
        )  # fmt: skip
    right.axvline(0.0, color="black", lw=1, ls="--")
    right.set_yticks([])
    right.set_xlabel(f"{sides[1]} − {sides[0]} ({metric})")
    right.set_title("paired differences", fontsize=10)
    right.legend(fontsize=8, loc="upper right")
    fig.tight_layout()
    caption = (
        f"{metric} at step {row['step']}: each seed's {sides[0]} and {sides[1]} value, and the "
        f"distribution of the paired differences with its {1 - alpha:.0%} interval."
    )
    return _figure(fig, caption, f"paired:{metric}@{row['step']}")


def _flagged_differences_plot(
    bench: Mapping[str, Any], rows: list[dict[str, Any]], sides: tuple[str, str] = _RUN_SIDES
) -> str:
    """Per-seed paired differences at the flagged steps of a curve."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 0.9 + 0.45 * len(rows)))
    labels = []
    for i, row in enumerate(rows):
        pairs = [
            c - b
            for b, c in zip(row.get("baseline_values") or [], row.get("current_values") or [],
                            strict=False)
            if b is not None and c is not None and math.isfinite(b) and math.isfinite(c)
        ]  # fmt: skip
        jitter = [i + ((j * 0.6180339) % 1.0 - 0.5) * 0.3 for j in range(len(pairs))]
        ax.scatter(pairs, jitter, s=14, color=FLAGGED, alpha=0.7)
        labels.append(f"{row['metric']} @ {row['step']}")
    ax.axvline(0.0, color="black", lw=1, ls="--")
    ax.set_yticks(range(len(rows)), labels)
    ax.set_xlabel(f"{sides[1]} − {sides[0]}, per seed (metric units)")
    ax.set_title("paired differences at the flagged steps", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    caption = (
        f"Each dot is one seed's {sides[1]} value minus its {sides[0]} value at a flagged slot."
    )
    return _figure(fig, caption, "flagged-differences")


def _history_plot(name: str, series: Mapping[str, list[tuple[str, float]]]) -> str:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7.0, 3.2))
    commits: list[str] = []
    for points in series.values():
        for commit, _ in points:
            if commit not in commits:
                commits.append(commit)
    position = {commit: i for i, commit in enumerate(commits)}
    palette = [BASELINE, CURRENT, "#009E73", ADJUSTED, "#56B4E9", FLAGGED, "#F0E442", "#000000"]
    for colour, (label, points) in zip(palette, series.items(), strict=False):
        ax.plot([position[c] for c, _ in points], [v for _, v in points], marker="o",
                color=colour, label=label)  # fmt: skip
    ax.set_xticks(range(len(commits)), commits, rotation=30, fontsize=8)
    ax.set(xlabel="commit that changed the baseline file (oldest → newest)",
           ylabel="baseline mean")  # fmt: skip
    ax.set_title(f"{name}: baseline history", fontsize=11)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    caption = "Each metric's stored baseline mean at every commit that changed the baseline file."
    return _figure(fig, caption, f"history:{name}")


# -- sections ----------------------------------------------------------------------------
def _verdict_line(bench: Mapping[str, Any]) -> str:
    status = bench["status"]
    colour = _STATUS_COLOURS.get(status, NEUTRAL)
    parts = [f'<span class="status" style="background:{colour}">{_esc(status)}</span>']
    slots = bench.get("slots") or []
    metrics = {row["metric"] for row in slots}
    steps = {row["step"] for row in slots}
    if slots:
        parts.append(f"{len(metrics)} metrics × {len(steps)} steps")
    if status in ("PASS", "FAIL"):
        parts.append(f"{bench.get('n_flagged')}/{bench.get('n_slots')} slots flagged")
        if bench.get("meta_p") is not None:
            parts.append(f"meta-p={_fmt(bench['meta_p'], '.3g')}")
    if bench.get("note"):
        parts.append(f"({_esc(bench['note'])})")
    elif status == "NEW" and bench.get("saved"):
        parts.append("(baseline updated)" if bench.get("replaced") else "(baseline saved)")
    if status == "ERROR" and bench.get("error"):
        parts.append(_esc(bench["error"].get("message", "")))
    adaptive = bench.get("adaptive") or {}
    run, stored = adaptive.get("seeds_run"), adaptive.get("seeds_stored")
    if run is not None and stored is not None and run < stored:
        parts.append(
            f"(stopped after {run}/{stored} seeds at look {_esc(adaptive.get('stopped_at_look'))}"
            f": {_esc(adaptive.get('stop_reason'))})"
        )
    return f'<div class="verdict">{" ".join(parts)}</div>'


def _slot_table(bench: Mapping[str, Any], sides: tuple[str, str] = _RUN_SIDES) -> str:
    slots = bench.get("slots") or []
    if not slots or bench["status"] not in ("PASS", "FAIL"):
        return ""
    head = "".join(f"<th>{h}</th>" for h in ("metric", "step", *sides, "Δ", "p", "p_adj", ""))
    body = []
    for row in slots:
        delta = "—" if row.get("delta") is None else f"{row['delta'] * 100:+.1f}%"
        if row.get("delta_low") is not None and row.get("delta_high") is not None:
            delta += f" [{row['delta_low'] * 100:.1f}, {row['delta_high'] * 100:.1f}]"
        mark = " ".join(
            symbol
            for symbol, key in (("✗", "flagged"), ("‼", "flagged_adj"), ("↑", "improved"))
            if row.get(key)
        )
        if row.get("diverged_seeds"):
            seeds = ", ".join(str(s) for s in row["diverged_seeds"][:5])
            mark = f"✗ diverged on {len(row['diverged_seeds'])} seeds ({seeds})"
        cells = [
            _esc(row["metric"]),
            _esc(row["step"]),
            f"{_fmt(row.get('baseline_mean'))} ± {_fmt(row.get('baseline_std'), '.2g')}",
            f"{_fmt(row.get('current_mean'))} ± {_fmt(row.get('current_std'), '.2g')}",
            _esc(delta),
            _fmt(row.get("p"), ".3g"),
            _fmt(row.get("p_adj"), ".3g"),
        ]
        body.append(
            "<tr>"
            + "".join(f"<td>{c}</td>" for c in cells)
            + f'<td class="flag">{_esc(mark)}</td></tr>'
        )
    legend = (
        '<p class="note">✗ p &lt; α (the slot\'s own test) · ‼ p_adj &lt; α (family-wise) · '
        "↑ significantly better · Δ: relative change (negative is worse) with its "
        "interval</p>"
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{legend}"


def _plots(bench: Mapping[str, Any], sides: tuple[str, str] = _RUN_SIDES) -> list[str]:
    slots = [row for row in bench.get("slots") or [] if not row.get("diverged_seeds")]
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for row in slots:
        by_metric.setdefault(row["metric"], []).append(row)
    figures = []
    flagged_curve_rows = []
    for metric, rows in by_metric.items():
        rows.sort(key=lambda row: row["step"])
        if len(rows) > 1:
            figures.append(_curve_plot(bench, metric, rows, sides))
            flagged_curve_rows += [row for row in rows if row.get("flagged")]
        elif bench["status"] in ("PASS", "FAIL"):
            figures.append(_paired_plot(bench, rows[0], sides))
    if flagged_curve_rows and bench["status"] in ("PASS", "FAIL"):
        figures.append(_flagged_differences_plot(bench, flagged_curve_rows[:12], sides))
    return figures


def history_series(
    entries: Sequence[Any], name: str, limit: int = _MAX_HISTORY_LINES
) -> dict[str, list[tuple[str, float]]]:
    """Each slot's baseline mean of benchmark ``name`` over ``entries`` (oldest first).

    Args:
        entries: :class:`pybench.vcs.HistoryEntry` values, newest first (as
            :func:`pybench.vcs.history` returns them).
        name: the benchmark.
        limit: at most this many slots (for curves, the last step of each metric first).
    """
    series: dict[str, list[tuple[str, float]]] = {}
    for entry in reversed(list(entries)):
        record = (entry.records or {}).get(name)
        if record is None:
            continue
        for step, metric in record.slots():
            values = record.scores[step][metric]
            series.setdefault(f"{metric} @ {step}", []).append(
                (entry.commit, math.fsum(values) / len(values))
            )
    if len(series) <= limit:
        return series
    last: dict[str, str] = {}
    for label in series:
        metric = label.rsplit(" @ ", 1)[0]
        last[metric] = label  # slots are sorted by step: the last label wins
    chosen = list(dict.fromkeys([*last.values(), *series]))[:limit]
    return {label: series[label] for label in chosen}


def _section(
    bench: Mapping[str, Any], history: Mapping[str, Any], sides: tuple[str, str] = _RUN_SIDES
) -> str:
    parts = [f'<section class="bench" id="{_esc(bench["name"])}">']
    parts.append(f"<h2>{_esc(bench['name'])}</h2>")
    parts.append(f'<p class="meta">{_esc(bench.get("file", ""))}')
    wall = (bench.get("time") or {}).get("wall")
    if bench["status"] == "GONE":
        parts.append(" · not run")
    else:
        parts.append(f" · {_esc(bench.get('n_seeds'))} seeds")
        parts.append(f" · {wall:.1f}s" if wall is not None else "")
    parts.append("</p>")
    parts.append(_verdict_line(bench))
    error = bench.get("error")
    if error:
        seed = "" if error.get("seed") is None else f" (seed {_esc(error['seed'])})"
        text = error.get("traceback") or error.get("message", "")
        parts.append(f"<p>Error{seed}:</p><pre>{_esc(text)}</pre>")
    diverged = [row for row in bench.get("slots") or [] if row.get("diverged_seeds")]
    for row in diverged:
        seeds = ", ".join(str(s) for s in row["diverged_seeds"])
        parts.append(
            f'<p class="note">Diverged: step {_esc(row["step"])} {_esc(row["metric"])} is NaN or '
            f"infinite on seeds {_esc(seeds)} (the {sides[0]} is finite there).</p>"
        )
    parts.append(_slot_table(bench, sides))
    parts.extend(_plots(bench, sides))
    series = history.get(bench["name"])
    if series:
        parts.append(_history_plot(bench["name"], series))
    parts.append("</section>")
    return "".join(parts)


def _against(document: Mapping[str, Any]) -> str:
    """What the run was compared with, escaped: the baseline file and commit, or BASE → HEAD."""
    if document.get("command") == "compare":
        revisions = document.get("revisions") or {}
        labels = [(revisions.get(side) or {}).get("label") for side in ("base", "head")]
        if not all(labels):
            return "compare"
        return f"base {_esc(labels[0])} → head {_esc(labels[1])}"
    git = document.get("git") or {}
    commit = git.get("commit") or "no commit"
    dirty = " (dirty)" if git.get("dirty") else ""
    baseline = (document.get("baseline") or {}).get("path", "")
    return f"baseline {_esc(baseline)} · {_esc(commit)}{dirty}"


def render(
    document: Mapping[str, Any],
    history: Mapping[str, Mapping[str, list[tuple[str, float]]]] | None = None,
) -> str:
    """The page for a JSON report ``document`` (see :mod:`pybench.reports.json`).

    Args:
        document: the JSON report, as written by ``--json`` or read back from a file.
        history: per benchmark, :func:`history_series` of the baseline file.

    Raises:
        HtmlError: if matplotlib is missing or the document is not a pybench run report.
    """
    if not isinstance(document, Mapping) or "benchmarks" not in document:
        raise HtmlError("not a pybench JSON report (no 'benchmarks' field)")
    history = history or {}
    counts = document.get("counts") or {}
    compare = document.get("command") == "compare"
    error = document.get("error")
    head = (
        f'<h1>pybench report</h1><p class="meta">{_esc(document.get("path", ""))} · '
        f"{_against(document)} · {_esc(document.get('started') or '')} · "
        f"pybench {_esc(document.get('pybench', ''))}</p>"
        + (f'<p class="note">error: {_esc(error)}</p>' if error else "")
        + '<p class="counts">'
        + "".join(f"<span>{_esc(k)}: {_esc(v)}</span>" for k, v in counts.items())
        + "</p>"
    )
    sides = _COMPARE_SIDES if compare else _RUN_SIDES
    sections = "".join(_section(bench, history, sides) for bench in document["benchmarks"])
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>pybench report</title><style>{_CSS}</style></head>"
        f"<body>{head}{sections}</body></html>\n"
    )
