"""Doc plot: the two Part 2 data regimes (correlated null, localized spike).

Usage: ``uv run --group docs python docs/plots/regimes.py [OUT_DIR]``
(default ``docs/_static``); writes ``regimes.png`` there.
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
    rng = np.random.default_rng(1)
    kw = dict(amp=1.0, tau=30.0, floor=0.10, noise=0.05)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    for row in sample_loss_curves(rng, n_seeds=6, n_steps=80, seed_sigma=0.05, **kw):
        ax1.plot(row, lw=1, alpha=0.8)
    ax1.set(title="No-regression case: correlated steps", xlabel="step", ylabel="loss")
    base = sample_loss_curves(rng, n_seeds=1, n_steps=60, **kw)[0]
    cur = sample_loss_curves(rng, n_seeds=1, n_steps=60, **kw)[0]
    cur[-1] += 0.33
    ax2.plot(base, lw=1.5, label="baseline")
    ax2.plot(cur, lw=1.5, label="regressed")
    ax2.set(title="Local case: one regressed step", xlabel="step", ylabel="loss")
    ax2.legend()
    fig.tight_layout()
    return fig


def main(argv: list[str]) -> Path:
    out_dir = Path(argv[0]) if argv else DEFAULT_OUT
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "regimes.png"
    fig = make_figure()
    fig.savefig(path, dpi=150, metadata={"Software": None})
    plt.close(fig)
    return path


if __name__ == "__main__":
    print(main(sys.argv[1:]))
