"""``pybench site OUT_DIR``: the history as a static site that works offline from ``file://``.

``index.html`` lists every benchmark with its latest status, a trend thumbnail
and its change points; ``bench-*.html`` holds, per benchmark, a plot per metric
over commits (each step's mean with its 95 % interval, FAIL runs and change
points marked, machine changes shaded) and the table of change points.

Like the HTML report, the pages hold everything they show: plots are PNG
images inlined as ``data:`` URIs, the style sheet is inline, there is no
script, and a Content Security Policy forbids scripts and every remote fetch.
Every name read from the store is escaped. Plots need matplotlib (the ``html``
extra), imported only here.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..core.errors import PybenchError
from ..reports import html_plots
from .query import BenchHistory, SlotHistory, label
from .stores import RunRow

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["SiteError", "page_name", "write_site"]

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
MAX_STEPS = 6
"""Steps drawn per metric plot: the first, the last and evenly spaced ones between."""

_COLOURS = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00")
_FAIL = "#D55E00"
_STATUS = {"PASS": "#009E73", "FAIL": "#D55E00", "NEW": "#0072B2", "ERROR": "#CC79A7"}
_DPI = 90
_MAX_TICKS = 12

_CSS = """
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;
max-width:1100px;padding:0 1rem;color:#1a1a1a;background:#fff}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.15rem;margin:1.4rem 0 .3rem}
.meta{color:#555;margin-top:0}a{color:#0b5cad}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
th,td{padding:.25rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:middle}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.status{font-weight:700;padding:0 .35rem;border-radius:3px;color:#fff}
.worse{color:#D55E00;font-weight:600}.better{color:#009E73}
figure{margin:.8rem 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.85rem}img.thumb{border:0;display:block}
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.85rem}
"""


class SiteError(PybenchError):
    """The site cannot be written (matplotlib missing, or the folder is not writable)."""


def _figure(**keywords: Any) -> Figure:
    """A new matplotlib figure (raises :class:`SiteError` without matplotlib)."""
    try:
        return html_plots.figure(**keywords)
    except html_plots.MissingMatplotlib as exc:
        raise SiteError(
            f"pybench site needs matplotlib ({exc}); install pybench's 'html' extra "
            "(e.g. uv pip install 'pybench[html]') or add matplotlib to the environment"
        ) from None


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _png(fig: Figure, *, tight: bool = True) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI, bbox_inches="tight" if tight else None)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def page_name(bench: str) -> str:
    """The file of a benchmark's page: its name made safe, and a hash that keeps names apart."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", bench)[:80].lstrip(".") or "bench"
    return f"bench-{safe}-{hashlib.sha1(bench.encode('utf-8')).hexdigest()[:8]}.html"


def _count(n: int) -> str:
    return f"{n} benchmark{'s' * (n != 1)}"


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_esc(title)}</title><style>{_CSS}</style></head><body>{body}</body></html>\n"
    )


def _status(status: str | None) -> str:
    if not status:
        return "—"
    colour = _STATUS.get(status, "#555555")
    return f'<span class="status" style="background:{colour}">{_esc(status)}</span>'


def _chosen_steps(slots: Sequence[SlotHistory]) -> list[SlotHistory]:
    if len(slots) <= MAX_STEPS:
        return list(slots)
    picks = sorted({round(i * (len(slots) - 1) / (MAX_STEPS - 1)) for i in range(MAX_STEPS)})
    return [slots[i] for i in picks]


def _commit_axis(ax: Axes, labels: Sequence[str]) -> None:
    every = max(1, -(-len(labels) // _MAX_TICKS))
    ticks = list(range(0, len(labels), every))
    ax.set_xticks(ticks)
    ax.set_xticklabels([labels[i] for i in ticks], rotation=45, ha="right", fontsize=7)
    ax.set_xlim(-0.6, max(len(labels) - 0.4, 0.6))


def _machine_spans(ax: Axes, ids: Sequence[str | None]) -> bool:
    """Shade every other machine's stretch of commits; whether the machine ever changed."""
    start, shade, changed = 0, False, False
    for i in range(1, len(ids) + 1):
        if i == len(ids) or ids[i] != ids[start]:
            if shade:
                ax.axvspan(start - 0.5, i - 0.5, color="#999999", alpha=0.15, lw=0)
            changed = changed or i < len(ids)
            shade = not shade
            start = i
    return changed


def _draw_slot(ax: Axes, slot: SlotHistory, colour: str, label: str, xs: Sequence[int]) -> None:
    """One step's means (with the interval band), FAIL runs and change points at ``xs``."""
    mean = slot.means
    ax.fill_between(xs, slot.lows, slot.highs, color=colour, alpha=0.18, lw=0)
    ax.plot(xs, mean, color=colour, lw=1.4, marker="o", ms=2.5, label=label)
    fails = [
        i for i, status in enumerate(slot.statuses) if status == "FAIL" and np.isfinite(mean[i])
    ]
    if fails:
        ax.scatter([xs[i] for i in fails], [mean[i] for i in fails], marker="x", s=36,
                   color=_FAIL, zorder=3)
    for change in slot.changes:
        ax.axvline(xs[change.index] - 0.5, color=colour, ls="--", lw=1.1)


def _axis(slots: Sequence[SlotHistory]) -> tuple[dict[int, int], list[str], list[str | None]]:
    """The commits of a metric's slots: each commit position's x, label and machine."""
    first: dict[int, RunRow] = {}
    for slot in slots:
        for position, run in zip(slot.positions.tolist(), slot.runs, strict=True):
            first.setdefault(position, run)
    order = sorted(first)
    xs = {position: x for x, position in enumerate(order)}
    return xs, [label(first[p]) for p in order], [first[p].machine_id for p in order]


def _metric_plot(metric: str, slots: Sequence[SlotHistory]) -> str:
    fig = _figure(figsize=(9, 3.4))
    ax = fig.subplots()
    xs, labels, machines = _axis(slots)
    changed = _machine_spans(ax, machines)
    for i, slot in enumerate(_chosen_steps(slots)):
        where = [xs[p] for p in slot.positions.tolist()]
        _draw_slot(ax, slot, _COLOURS[i % len(_COLOURS)], f"step {slot.step}", where)
    _commit_axis(ax, labels)
    better = "lower is better" if metric.startswith("min:") else "higher is better"
    ax.set_ylabel(metric, fontsize=9)
    ax.set_title(f"{metric} over commits ({better})", fontsize=10)
    notes = ["× FAIL run", "-- change point"] + (["shading: machine changed"] if changed else [])
    ax.legend(fontsize=7, loc="best", title=" · ".join(notes), title_fontsize=7)
    ax.grid(alpha=0.25)
    return _png(fig)


def _thumbnail(slot: SlotHistory) -> str:
    fig = _figure(figsize=(2.6, 0.7))
    ax = fig.add_axes((0, 0, 1, 1))
    _draw_slot(ax, slot, _COLOURS[0], "", range(len(slot)))
    ax.set_axis_off()
    ax.set_xlim(-0.6, max(len(slot) - 0.4, 0.6))
    return _png(fig, tight=False)


def _img(data: str, alt: str, label: str, css: str = "") -> str:
    klass = f' class="{css}"' if css else ""
    return (
        f'<img{klass} data-plot="{_esc(label)}" alt="{_esc(alt)}" '
        f'src="data:image/png;base64,{data}">'
    )


def _change_rows(bench: BenchHistory) -> str:
    rows = []
    for slot in bench.slots:
        for change, moved, word in slot.moves():
            rows.append(
                f"<tr><td>{_esc(slot.metric)}</td><td class=num>{slot.step}</td>"
                f"<td><code>{_esc(label(slot.runs[change.index]))}</code></td>"
                f"<td class=num>{change.before:.4g} → {change.after:.4g}</td>"
                f'<td class="num {word}">{moved * 100:+.1f} % ({word})</td>'
                f"<td class=num>{change.p:.3f}</td></tr>"
            )
    if not rows:
        return "<p>No change point: every slot's series is one level.</p>"
    head = "<tr><th>metric</th><th>step</th><th>from commit</th><th>mean</th><th>change</th>"
    return f"<table>{head}<th>p</th></tr>{''.join(rows)}</table>"


def _machines_table(bench: BenchHistory, machines: Mapping[str, Any]) -> str:
    seen = list(dict.fromkeys(r.machine_id for s in bench.slots for r in s.runs))
    rows = []
    for key in seen:
        found = machines.get(key or "") or {}
        gpus = ", ".join(found.get("gpus") or []) or "none"
        packages = ", ".join(f"{k} {v}" for k, v in (found.get("packages") or {}).items())
        rows.append(
            f"<tr><td><code>{_esc(key)}</code></td><td>{_esc(found.get('cpu', '?'))} × "
            f"{_esc(found.get('cpus', '?'))}</td><td>{_esc(gpus)}</td>"
            f"<td>{_esc(found.get('os', '?'))}, Python {_esc(found.get('python', '?'))}</td>"
            f"<td>{_esc(packages)}</td></tr>"
        )
    head = "<tr><th>machine</th><th>CPU</th><th>GPU</th><th>system</th><th>packages</th></tr>"
    return f"<table>{head}{''.join(rows)}</table>"


def _bench_page(bench: BenchHistory, machines: Mapping[str, Any], source: str) -> str:
    by_metric: dict[str, list[SlotHistory]] = {}
    for slot in bench.slots:
        by_metric.setdefault(slot.metric, []).append(slot)
    figures = []
    for metric, slots in by_metric.items():
        shown = _chosen_steps(slots)
        caption = f"{metric}: mean over seeds with its 95 % interval, per commit"
        if len(shown) < len(slots):
            caption += f" (steps {', '.join(str(s.step) for s in shown)} of {len(slots)})"
        data = _metric_plot(metric, slots)
        figures.append(
            f"<figure>{_img(data, caption, 'metric:' + metric)}"
            f"<figcaption>{_esc(caption)}</figcaption></figure>"
        )
    body = (
        f'<p><a href="index.html">← all benchmarks</a></p><h1>{_esc(bench.name)}</h1>'
        f'<p class="meta">latest {_status(bench.latest_status)} · {_esc(source)}</p>'
        + "".join(figures)
        + "<h2>Change points</h2>"
        + _change_rows(bench)
        + "<h2>Machines</h2>"
        + _machines_table(bench, machines)
    )
    return _page(f"{bench.name} · pybench history", body)


def _headline(bench: BenchHistory) -> SlotHistory:
    """The slot a thumbnail shows: the last step of the first metric."""
    first = bench.slots[0].metric
    return [s for s in bench.slots if s.metric == first][-1]


def _index_row(bench: BenchHistory) -> str:
    slot = _headline(bench)
    thumb = _img(_thumbnail(slot), f"{bench.name}: {slot.metric} step {slot.step}",
                 "thumb:" + bench.name, "thumb")
    changes = [(s, c) for s in bench.slots for c in s.changes]
    worse = sum(1 for s, c in changes if s.relative(c) < 0)
    latest = [label(s.runs[-1]) for s in bench.slots if len(s)]
    note = f"{len(changes)} ({worse} worse)" if changes else "none"
    return (
        f'<tr><td><a href="{_esc(page_name(bench.name))}">{_esc(bench.name)}</a></td>'
        f"<td>{_status(bench.latest_status)}</td><td>{thumb}</td>"
        f"<td class=num>{max(len(s) for s in bench.slots)}</td>"
        f"<td class=num>{len(bench.slots)}</td><td class={'worse' if worse else 'num'}>"
        f"{_esc(note)}</td><td><code>{_esc(latest[-1] if latest else '')}</code></td></tr>"
    )


def write_site(
    out_dir: Path,
    histories: Sequence[BenchHistory],
    machines: Mapping[str, Any],
    *,
    source: str = "",
) -> Path:
    """Write the site into ``out_dir`` (created; files of the same names replaced); the index.

    Raises:
        SiteError: matplotlib is missing, or ``out_dir`` cannot be written.
    """
    _figure()
    with html_plots.drawing():  # names are data: drawn as given, never parsed as mathtext
        pages = {page_name(b.name): _bench_page(b, machines, source) for b in histories}
    head = (
        "<tr><th>benchmark</th><th>latest</th><th>trend</th><th>commits</th><th>slots</th>"
        "<th>change points</th><th>last commit</th></tr>"
    )
    body = (
        f'<h1>pybench history</h1><p class="meta">{_esc(source)} · {_count(len(histories))}'
        " · trends show the last step of each benchmark's first metric</p>"
        f"<table>{head}{''.join(_index_row(b) for b in histories)}</table>"
    )
    pages["index.html"] = _page("pybench history", body)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, text in pages.items():
            (out_dir / name).write_text(text, encoding="utf-8")
    except OSError as exc:
        raise SiteError(f"{out_dir}: cannot write the site ({exc.strerror or exc})") from None
    return out_dir / "index.html"
