"""Doc plot: the two Part 2 data regimes (correlated null, localized spike).

The curves are drawn with the study's own settings (``CASES`` and ``CURVE`` of
``examples/synthetic/main.py``): case 1's 100 correlated steps and case 3's 200
steps with the spike on the last one.

Usage: ``uv run --group docs python docs/plots/regimes.py [OUT_DIR]``
(default ``docs/_static``); writes ``regimes.png`` there.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from synthetic import sample_loss_curves  # noqa: E402

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "_static"
STUDY = Path(__file__).resolve().parents[2] / "examples" / "synthetic" / "main.py"


def load_study() -> ModuleType:
    """``examples/synthetic/main.py`` imported as a module."""
    spec = importlib.util.spec_from_file_location("synthetic_study", STUDY)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def make_figure() -> plt.Figure:
    study = load_study()
    null, _, local = study.CASES
    rng = np.random.default_rng(1)
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    curves = sample_loss_curves(
        rng, n_seeds=6, n_steps=null.n_steps, seed_sigma=null.seed_sigma, **study.CURVE
    )
    for row in curves:
        ax1.plot(row, lw=1, alpha=0.8)
    ax1.set(title="Case 1: correlated steps, no regression", xlabel="step", ylabel="loss")
    base = sample_loss_curves(rng, n_seeds=1, n_steps=local.n_steps, **study.CURVE)[0]
    cur = sample_loss_curves(rng, n_seeds=1, n_steps=local.n_steps, **study.CURVE)[0]
    cur[-1] += local.shift
    last = local.n_steps - 1
    (base_line,) = ax2.plot(base, lw=1.2, label="baseline")
    (cur_line,) = ax2.plot(cur, lw=1.2, label="regressed")
    # Mark the one step that differs: at 200 steps its spike is one pixel wide.
    ax2.plot(last, base[last], "o", ms=5, color=base_line.get_color())
    ax2.plot(last, cur[last], "o", ms=5, color=cur_line.get_color())
    ax2.annotate(
        f"+{local.shift:g}",
        xy=(last, cur[last]),
        xytext=(-40, 12),
        textcoords="offset points",
        arrowprops={"arrowstyle": "->", "lw": 0.8},
    )
    ax2.set(title=f"Case 3: last of {local.n_steps} steps +{local.shift:g}", xlabel="step")
    ax2.set_ylabel("loss")
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
