"""Doc plot: six curves from ``sample_loss_curves`` around the mean curve.

Usage: ``uv run --group docs python docs/plots/sample_curves.py [OUT_DIR]``
(default ``docs/_static``); writes ``sample_curves.png`` there.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from synthetic import sample_loss_curves  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "_static"


def make_figure() -> plt.Figure:
    rng = np.random.default_rng(0)
    curves = sample_loss_curves(
        rng, n_seeds=6, n_steps=100, amp=1.0, tau=30.0, floor=0.10, noise=0.05
    )
    steps = np.arange(100)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for row in curves:
        ax.plot(steps, row, lw=1, alpha=0.7)
    ax.plot(steps, 1.0 * np.exp(-steps / 30.0) + 0.10, "k--", lw=2, label="mean")
    ax.set(
        xlabel="step",
        ylabel="loss",
        title="sample_loss_curves: noisy exponential decay",
    )
    ax.legend()
    fig.tight_layout()
    return fig


def main(argv: list[str]) -> Path:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "sample_curves.png"
    fig = make_figure()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main(sys.argv[1:]))
