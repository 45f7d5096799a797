"""The HTML report's figures, drawn with matplotlib from a JSON report's benchmark entry.

Every figure is a grid of small panels, one per metric, so that metrics with
different units never share an axis:

- **curves**: the baseline's and this run's mean over steps with confidence bands
  (from the stored mean, std and seed count), flagged steps marked;
- **paired differences**: each seed's change at the chosen slots, as a relative
  goodness change in percent, so "worse" is on the left for every metric
  (``min:`` metrics are negated); heavy-tailed or multi-order-of-magnitude
  values get a symmetric-log axis, which the axis label says;
- **history**: the stored baseline mean at each commit that changed the
  baseline file, drawn only with 3 commits or more.

Names are data: they are shortened and never parsed as mathtext (``$…$`` stays
literal), so a long or strange metric name costs no more than a short one.
"""

from __future__ import annotations

import base64
import contextlib
import io
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from .sanitize import shorten

__all__ = ["MAX_PANELS", "curves", "differences", "drawing", "figure", "history"]

BASELINE = "#0072B2"  # Okabe–Ito: distinguishable with the common colour-vision deficiencies
CURRENT = "#E69F00"
FLAGGED = "#D55E00"
ADJUSTED = "#CC79A7"
NEUTRAL = "#555555"
MAX_PANELS = 6
"""At most this many metric panels per figure (flagged metrics first)."""
MAX_STEPS_PER_PANEL = 8
"""At most this many slots per paired-differences panel (flagged and worst first)."""
MAX_POINTS = 600
"""A longer curve is drawn from its envelope over this many runs of steps: a panel is at most
about 550 pixels wide, so a run is narrower than a pixel."""
MIN_HISTORY = 3
_DPI = 90
_LABEL = 32
_HEAVY = 50.0


class MissingMatplotlib(ImportError):
    """matplotlib cannot be imported."""


def figure(**keywords: Any) -> Any:
    """A new matplotlib figure drawn by Agg (raises :class:`MissingMatplotlib`).

    The figure is made without pyplot: no global figure list, no GUI back-end,
    nothing to close.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise MissingMatplotlib(str(exc)) from None
    fig = Figure(**keywords)
    FigureCanvasAgg(fig)
    return fig


@contextlib.contextmanager
def drawing() -> Iterator[None]:
    """Text is drawn as given (no mathtext, no TeX), and numbers near the float range's ends
    (a hand-edited report's) draw without matplotlib's overflow warnings on stderr."""
    import warnings

    import matplotlib
    import numpy as np

    with matplotlib.rc_context({"text.parse_math": False, "text.usetex": False}), \
            warnings.catch_warnings(), np.errstate(all="ignore"):  # fmt: skip
        warnings.simplefilter("ignore", RuntimeWarning)
        yield


def _plain_ticks(axis: Any, unit: str = "") -> None:
    """Tick labels as plain numbers (a log axis would otherwise ask for mathtext)."""
    from matplotlib.ticker import FuncFormatter

    axis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}{unit}"))


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=_DPI)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _direction(row: Mapping[str, Any]) -> str:
    return "lower is better" if row.get("direction") == "lower" else "higher is better"


def _t_quantile(level: float, df: int) -> float:
    from .._tdist import t_ppf

    return -t_ppf((1.0 - level) / 2.0, df) if df > 0 else math.nan


def _bands(rows: Sequence[Mapping[str, Any]], prefix: str, n: int, quantile: float
           ) -> tuple[Any, Any, Any]:  # fmt: skip
    """A side's mean at each row and its confidence band (the mean alone without a std)."""
    import numpy as np

    mean, std = (np.array([_float(row.get(f"{prefix}_{key}")) for row in rows])
                 for key in ("mean", "std"))  # fmt: skip
    half = quantile * std / math.sqrt(n) if n >= 2 else np.zeros_like(std)
    half[~np.isfinite(half)] = 0.0
    return mean, mean - half, mean + half


def _float(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else math.nan


def _grid(n: int, height: float) -> tuple[Any, list[Any]]:
    columns = 1 if n == 1 else 2
    rows = math.ceil(n / columns)
    fig = figure(figsize=(7.6 if columns == 2 else 7.0, height * rows))
    axes = fig.subplots(rows, columns, squeeze=False)
    flat = [ax for line in axes for ax in line]
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def _envelope(steps: Sequence[float], mean: Any, low: Any, high: Any
              ) -> tuple[tuple[Any, Any], tuple[Any, Any, Any]]:  # fmt: skip
    """The mean line ``(x, y)`` and the band ``(x, low, high)`` that draw a side over ``steps``.

    Up to ``2 * MAX_POINTS`` steps are drawn as they are. A longer curve is cut
    into ``MAX_POINTS`` runs of consecutive steps, each narrower than a pixel at
    the figure's size, and each run is drawn by its lowest and highest mean and
    the outer edges of its band: the same picture at a bounded cost. A run with
    no finite value stays a gap.
    """
    import numpy as np

    x = np.asarray(steps, dtype=float)
    mean, low, high = (np.asarray(column, dtype=float) for column in (mean, low, high))
    if len(x) <= 2 * MAX_POINTS:
        return (x, mean), (x, low, high)
    starts = np.linspace(0, len(x), MAX_POINTS, endpoint=False).astype(np.intp)
    ends = np.append(starts[1:], len(x)) - 1
    with np.errstate(invalid="ignore"):
        least, most = np.fmin.reduceat(mean, starts), np.fmax.reduceat(mean, starts)
        low, high = np.fmin.reduceat(low, starts), np.fmax.reduceat(high, starts)
    line_x = np.column_stack([x[starts], x[ends]]).ravel()
    line_y = np.column_stack([least, most]).ravel()
    middle = x[starts] / 2 + x[ends] / 2  # (no overflow, whatever the step numbers)
    return (line_x, line_y), (middle, low, high)


def curves(bench: Mapping[str, Any], metrics: Sequence[tuple[str, Sequence[Mapping[str, Any]]]],
           sides: tuple[str, str]) -> str:  # fmt: skip
    """One panel per metric: both sides' means over steps with their confidence bands."""
    import numpy as np

    alpha = (bench.get("settings") or {}).get("alpha") or 0.05
    n = int(bench.get("n_seeds") or 0)
    quantile = _t_quantile(1.0 - alpha, n - 1) if n > 1 else math.nan
    with drawing():
        fig, axes = _grid(len(metrics), 2.6)
        for ax, (metric, rows) in zip(axes, metrics, strict=True):
            steps = [row["step"] for row in rows]
            for prefix, colour, label in (("baseline", BASELINE, sides[0]),
                                          ("current", CURRENT, sides[1])):  # fmt: skip
                mean, low, high = _bands(rows, prefix, n, quantile)
                if np.isnan(mean).all():
                    continue
                line, band = _envelope(steps, mean, low, high)
                ax.plot(*line, color=colour, lw=1.8, label=label)
                ax.fill_between(*band, color=colour, alpha=0.25, lw=0)
            flagged = [r for r in rows if r.get("flagged") and r.get("current_mean") is not None]
            if flagged:
                ax.scatter([r["step"] for r in flagged], [r["current_mean"] for r in flagged],
                           marker="X", s=60, color=FLAGGED, zorder=5, label="flagged")  # fmt: skip
            means = [r.get(k) for r in rows for k in ("baseline_mean", "current_mean")]
            threshold = _symlog_threshold([m for m in means if isinstance(m, (int, float))])
            ylabel = _direction(rows[0])
            if threshold is not None:
                ax.set_yscale("symlog", linthresh=threshold)
                _plain_ticks(ax.yaxis)
                ylabel += " (symlog scale)"
            ax.set_title(shorten(metric, _LABEL), fontsize=9)
            ax.set_xlabel("step", fontsize=8)
            ax.set_ylabel(ylabel, fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7, loc="best")
        fig.tight_layout()
        return _png(fig)


def _relative(row: Mapping[str, Any]) -> list[float]:
    """Each seed's goodness change relative to the baseline mean, in percent."""
    base, cur = row.get("baseline_values") or [], row.get("current_values") or []
    mean = row.get("baseline_mean")
    if not isinstance(mean, (int, float)) or abs(mean) < 1e-9 or row.get("delta_reliable") is False:
        return []
    sign = -1.0 if row.get("direction") == "lower" else 1.0
    return [
        sign * (c - b) / abs(mean) * 100
        for b, c in zip(base, cur, strict=False)
        if isinstance(b, (int, float)) and isinstance(c, (int, float))
    ]


def _symlog_threshold(values: Sequence[float]) -> float | None:
    """A linear range for a symmetric-log axis when ``values`` span orders of magnitude."""
    magnitudes = sorted(abs(v) for v in values if v != 0 and math.isfinite(v))
    if len(magnitudes) < 2:
        return None
    typical = magnitudes[len(magnitudes) // 2]
    return typical if magnitudes[-1] > _HEAVY * typical else None


def _percent(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    return value * 100 if isinstance(value, (int, float)) else math.nan


def _difference_panel(ax: Any, metric: str, rows: Sequence[Mapping[str, Any]]) -> None:
    everything: list[float] = []
    points: dict[str, tuple[list[float], list[float]]] = {NEUTRAL: ([], []), FLAGGED: ([], [])}
    intervals: list[tuple[float, int, float, float]] = []  # mean, row, below, above
    for i, row in enumerate(rows):
        values = _relative(row)
        everything += values
        xs, ys = points[FLAGGED if row.get("flagged") else NEUTRAL]
        xs += values
        ys += [i + ((j * 0.6180339) % 1.0 - 0.5) * 0.4 for j in range(len(values))]
        mean, low, high = (_percent(row, k) for k in ("delta", "delta_low", "delta_high"))
        if math.isfinite(mean) and math.isfinite(low) and math.isfinite(high):
            intervals.append((mean, i, mean - low, high - mean))
    for colour, (xs, ys) in points.items():  # one artist per colour, however many seeds
        if xs:
            ax.scatter(xs, ys, s=10, color=colour, alpha=0.6, lw=0)
    if intervals:
        means, at, below, above = zip(*intervals, strict=True)
        ax.errorbar(means, at, xerr=[below, above], fmt="D", ms=5, color="black", capsize=4,
                    ls="none", zorder=5)  # fmt: skip
    ax.axvline(0.0, color="black", lw=0.8, ls="--")
    ax.set_yticks(range(len(rows)), [f"step {row['step']}" for row in rows], fontsize=7)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    threshold = _symlog_threshold(everything)
    scale = ""
    if threshold is not None:
        ax.set_xscale("symlog", linthresh=threshold)
        _plain_ticks(ax.xaxis, "%")
        ax.tick_params(axis="x", labelrotation=30)
        scale = ", symlog scale"
    ax.set_xlabel(f"Δ per seed, % of baseline mean (← worse · better →{scale})", fontsize=8)
    ax.set_title(shorten(metric, _LABEL), fontsize=9)
    ax.tick_params(axis="x", labelsize=7)
    ax.grid(axis="x", alpha=0.3)


def differences(metrics: Sequence[tuple[str, Sequence[Mapping[str, Any]]]]) -> str:
    """One panel per metric: each seed's relative goodness change at the chosen slots."""
    with drawing():
        heights = [0.9 + 0.32 * len(rows) for _, rows in metrics]
        fig = figure(figsize=(7.0, sum(heights) + 0.3))
        axes = fig.subplots(len(metrics), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
        for ax, (metric, rows) in zip((a for line in axes for a in line), metrics, strict=True):
            _difference_panel(ax, metric, rows)
        fig.tight_layout()
        return _png(fig)


def history(entry: Mapping[str, Any]) -> str | None:
    """One panel per metric: the stored mean at each commit; ``None`` under 3 commits."""
    commits = entry.get("commits") or []
    slots = (entry.get("slots") or [])[:MAX_PANELS]
    if len(commits) < MIN_HISTORY or not slots:
        return None
    labels = [shorten(str(c.get("commit", "")), 10) for c in commits]
    with drawing():
        fig, axes = _grid(len(slots), 2.4)
        for ax, slot in zip(axes, slots, strict=True):
            means = [m if isinstance(m, (int, float)) else math.nan for m in slot.get("means", [])]
            ax.plot(range(len(means)), means, marker="o", ms=3, color=BASELINE)
            ax.set_xticks(range(len(labels)), labels, rotation=40, fontsize=6, ha="right")
            ax.set_title(f"{shorten(str(slot.get('metric')), _LABEL)} @ step {slot.get('step')}",
                         fontsize=9)  # fmt: skip
            ax.set_ylabel("baseline mean", fontsize=8)
            ax.tick_params(axis="y", labelsize=7)
            ax.grid(alpha=0.3)
        fig.tight_layout()
        return _png(fig)
