"""Doc plot: the power of one slot's test against the number of seeds, for a few drops.

Usage: ``uv run --group docs python docs/plots/power.py [OUT_DIR]``
(default ``docs/_static``); writes ``power.png`` there.

Lines: :func:`pybench.stats.t_test_power` (what ``pybench plan`` uses). Dots:
the detection rate of the one-sided paired t-test in 4000 simulated runs, where
baseline and current are independent normal samples (a change re-randomises
the run), so the two can be compared by eye.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from pybench import stats  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "_static"
ALPHA = 0.05
SHIFTS = (0.25, 0.5, 0.75, 1.0)
"""Drops in units of the difference's standard deviation ``sigma_d``."""


def _simulated(shift: float, n: int, rng: np.random.Generator, reps: int = 4000) -> float:
    sigma = 1.0 / math.sqrt(2.0)  # so that sigma_d = 1
    base = rng.normal(0.0, sigma, (n, reps))
    cur = rng.normal(-shift, sigma, (n, reps))
    return float(np.mean(stats.slot_t_stats(cur - base) < stats.t_critical(ALPHA, n)))


def make_figure() -> plt.Figure:
    rng = np.random.default_rng(0)
    seeds = np.arange(5, 101)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for shift in SHIFTS:
        power = stats.t_test_power(shift, seeds, ALPHA)
        (line,) = ax.plot(seeds, power, lw=1.8, label=f"drop = {shift:g} σ_d")
        marks = [10, 20, 30, 50, 80]
        ax.plot(
            marks,
            [_simulated(shift, n, rng) for n in marks],
            "o",
            ms=4,
            color=line.get_color(),
        )
    ax.axhline(0.8, color="k", ls="--", lw=1)
    ax.set(
        xlabel="seeds",
        ylabel="power",
        ylim=(0, 1.02),
        title=f"One slot at alpha = {ALPHA:g}: formula (lines) and simulation (dots)",
    )
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def main(argv: list[str]) -> Path:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "power.png"
    fig = make_figure()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main(sys.argv[1:]))
