"""Doc plot: Part 2's rejection rates, every test in every case, as grouped bars.

The rates are computed here by running the study of ``examples/synthetic/main.py``
with its own settings (``run_study()``'s defaults: 200 replications per case,
generator seed 0), so the chart shows the very numbers of the tables in
``docs/synthetic.md``. The study takes a few seconds.

Usage: ``uv run --group docs python docs/plots/rejection_rates.py [OUT_DIR]``
(default ``docs/_static``); writes ``rejection_rates.png`` there.
"""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "_static"
STUDY = Path(__file__).resolve().parents[2] / "examples" / "synthetic" / "main.py"

# Okabe-Ito colours, distinguishable with the common colour-vision deficiencies;
# pybench's own test gets the strongest one. Hatches tell the bars apart in grey.
COLOURS = ("#E69F00", "#56B4E9", "#009E73", "#0072B2")
HATCHES = ("", "//", "..", "")


def load_study() -> ModuleType:
    """``examples/synthetic/main.py`` imported as a module."""
    spec = importlib.util.spec_from_file_location("synthetic_study", STUDY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def case_label(index: int, case: Any) -> str:
    """A short x-axis label for a study case, from its settings."""
    if case.null:
        return f"case {index}: no regression,\n{case.n_steps} correlated steps"
    where = f"last of {case.n_steps} steps" if case.last_step_only else "every step"
    return f"case {index}: +{case.shift:g} loss,\n{where}"


def draw_bars(ax: plt.Axes, rates: list[dict[str, float]], tests: tuple[str, ...], n: int) -> None:
    """Grouped bars, one group per case, with 95 % binomial intervals and the value on top."""
    width = 0.8 / len(tests)
    for j, (name, colour, hatch) in enumerate(zip(tests, COLOURS, HATCHES, strict=True)):
        x = np.arange(len(rates)) + (j - (len(tests) - 1) / 2) * width
        values = np.array([r[name] for r in rates])
        half = 1.96 * np.sqrt(values * (1.0 - values) / n)
        ax.bar(
            x,
            values,
            width,
            yerr=half,
            color=colour,
            hatch=hatch,
            edgecolor="white",
            error_kw={"lw": 0.8, "capsize": 2, "ecolor": "#333333"},
            label=name,
        )
        for xi, v, h in zip(x, values, half, strict=True):
            ax.text(xi, v + h + 0.015, f"{v:.3f}", ha="center", va="bottom", fontsize=7)


def make_figure() -> plt.Figure:
    study = load_study()
    results = study.run_study()
    n = study.REPLICATIONS
    cases = enumerate(zip(study.CASES, results, strict=True), start=1)
    labelled = [(case_label(i, case), case, rates) for i, (case, rates) in cases]
    null = [item for item in labelled if item[1].null]
    power = [item for item in labelled if not item[1].null]

    fig, (ax1, ax2) = plt.subplots(
        1,
        2,
        figsize=(9, 4),
        gridspec_kw={"width_ratios": [len(null), len(power)]},
        layout="constrained",
    )
    draw_bars(ax1, [r for _, _, r in null], study.TESTS, n)
    target = ax1.axhline(
        study.ALPHA, color="black", ls="--", lw=1, zorder=3, label=f"α = {study.ALPHA:g}"
    )
    top = max(r[name] for _, _, r in null for name in study.TESTS)
    ax1.set(
        title="False alarms (lower is better)",
        ylabel="false-positive rate",
        ylim=(0, math.ceil((top + 0.1) * 10) / 10),
        xticks=range(len(null)),
        xticklabels=[label for label, _, _ in null],
    )
    draw_bars(ax2, [r for _, _, r in power], study.TESTS, n)
    ax2.set(
        title="Regressions caught (higher is better)",
        ylabel="detection rate",
        ylim=(0, 1.12),
        xticks=range(len(power)),
        xticklabels=[label for label, _, _ in power],
    )
    for ax in (ax1, ax2):
        ax.spines[["top", "right"]].set_visible(False)
    bars, names = ax2.get_legend_handles_labels()
    fig.legend(
        [*bars, target],
        [*names, f"target false-positive rate α = {study.ALPHA:g}"],
        loc="outside lower center",
        ncols=3,
        fontsize=8,
        frameon=False,
    )
    return fig


def main(argv: list[str]) -> Path:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "rejection_rates.png"
    fig = make_figure()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main(sys.argv[1:]))
