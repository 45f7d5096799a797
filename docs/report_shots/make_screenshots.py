"""Make the HTML report screenshots of docs/ci.md (headless Chromium, a minute or two).

Two projects in temporary git repositories, run with the real ``pybench`` CLI:

- **scikit-learn**: three benchmarks on scikit-learn's digits; the MLP's learning
  rate drops tenfold (FAIL), a logistic regression and a decision tree are
  unchanged (PASS). Their baselines were updated twice more, so the history
  panel has three commits.
- **heavy-tailed**: a loss curve whose per-seed values are log-normal with a
  heavy right tail (as a small autograd model's early losses are), regressed at
  the last steps.

    uv run python docs/report_shots/make_screenshots.py

writes ``docs/_static/report-sklearn.png`` and ``docs/_static/report-heavy-tailed.png``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
STATIC = HERE.parent / "_static"

SKLEARN = '''
import os

import numpy as np
from digits import load_data, train_curve
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.tree import DecisionTreeClassifier


def _split(seed):
    x, y = load_data()
    return train_test_split(x, y, test_size=0.3, stratify=y, random_state=seed)


def bench_mlp(seed, *, n_seeds=12):
    rate = 5e-4 if os.environ.get("SLOW_MLP") else 5e-3
    return train_curve(seed, checkpoints=(1, 3, 6), hidden=32, learning_rate=rate)


def bench_logreg(seed, *, n_seeds=12):
    x_train, x_test, y_train, y_test = _split(seed)
    model = LogisticRegression(C=float(os.environ.get("LOGREG_C", "1.0")), max_iter=200)
    model.fit(x_train, y_train)
    return {"accuracy": float(model.score(x_test, y_test))}


def bench_tree(seed, *, n_seeds=12):
    x_train, x_test, y_train, y_test = _split(seed)
    depth = int(os.environ.get("TREE_DEPTH", "8"))
    model = DecisionTreeClassifier(max_depth=depth, random_state=seed).fit(x_train, y_train)
    return {"accuracy": float(model.score(x_test, y_test))}
'''

HEAVY = '''
import os

import numpy as np


def bench_heavy_loss(seed, *, n_seeds=30):
    rng = np.random.default_rng(seed)
    bump = 1.6 if os.environ.get("REGRESS") else 1.0
    out = []
    for step in range(1, 11):
        loss = 2.0 / step * float(np.exp(rng.standard_t(2) * 1.5))
        if step >= 8:
            loss *= bump
        out.append({"step": step, "min:loss": loss})
    return out
'''


def _run(cwd: Path, *args: str, env: dict[str, str] | None = None, check: bool = True) -> None:
    full = {**os.environ, "COLUMNS": "120", **(env or {})}
    result = subprocess.run(args, cwd=cwd, env=full, capture_output=True, text=True)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")


def _git(cwd: Path, *args: str) -> None:
    _run(cwd, "git", "-c", "user.name=pybench", "-c", "user.email=pb@example.org", *args)


def _project(root: Path, source: str) -> Path:
    (root / "benchmarks").mkdir(parents=True)
    (root / "benchmarks" / "bench_example.py").write_text(textwrap.dedent(source))
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "Add the benchmarks")
    return root


def _baseline(root: Path, message: str, *args: str, env: dict[str, str] | None = None) -> None:
    _run(root, "pybench", *args, "--seed", "1", "--yes", env=env)
    _git(root, "add", ".pybench/baselines.jsonl")
    _git(root, "commit", "-qm", message)


def _shoot(html: Path, png: Path, height: int) -> None:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1180, "height": height})
        page.goto(html.as_uri())
        page.wait_for_load_state("load")
        page.screenshot(path=str(png), full_page=False)
        browser.close()


def sklearn_report(root: Path) -> Path:
    _project(root, SKLEARN)
    _baseline(root, "Save the baselines")
    _baseline(root, "Regularise the logistic regression a little", "update", "--bench", "logreg",
              "--bench", "tree", env={"LOGREG_C": "0.8", "TREE_DEPTH": "9"})  # fmt: skip
    _baseline(root, "Back to the default regularisation", "update", "--bench", "logreg",
              "--bench", "tree")  # fmt: skip
    _run(root, "pybench", "--html", "report.html", "--json", "run.json",
         env={"SLOW_MLP": "1"}, check=False)  # fmt: skip
    return root / "report.html"


def heavy_report(root: Path) -> Path:
    _project(root, HEAVY)
    _baseline(root, "Save the baseline")
    _run(root, "pybench", "--html", "report.html", env={"REGRESS": "1"}, check=False)
    return root / "report.html"


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pybench-shots-") as tmp:
        page = sklearn_report(Path(tmp) / "sklearn")
        _shoot(page, STATIC / "report-sklearn.png", 2100)
        page = heavy_report(Path(tmp) / "heavy")
        _shoot(page, STATIC / "report-heavy-tailed.png", 1500)
    print(f"wrote {STATIC / 'report-sklearn.png'} and {STATIC / 'report-heavy-tailed.png'}")


if __name__ == "__main__":
    main()
