"""Regenerate the outputs shown on docs/history.md by running pybench for real.

Usage, from the repository root::

    uv run python docs/history_site/make.py

(the project's default environment holds matplotlib and playwright; the
screenshots need Debian's ``chromium`` at /usr/bin/chromium).

It makes a fresh git repository in a temporary folder with one benchmark,
``bench_train``, whose accuracy and loss depend on two constants of
``model.py``: a quality factor and a salt that stands for run-to-run
nondeterminism. Each of 24 commits changes them a little (1 % noise in the
quality, a new salt); commit 14 loses 4 % of the quality for good, and commit 16
accepts it with ``pybench update``. After each commit the real ``pybench``
command runs there and records into ``.pybench/history.db``. Then
``pybench history`` is written to ``docs/_static/history/history.txt``, and
``pybench site`` is photographed in headless Chromium into
``docs/_static/history-site-index.png`` and ``history-site-bench.png``.
Everything is seeded, so a rerun prints the same numbers; only commit hashes
change. The script checks that the drop is found at commit 14 (±1) before it
writes anything.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "_static" / "history"
SHOTS = ROOT / "docs" / "_static"
CHROMIUM = Path("/usr/bin/chromium")
N_COMMITS = 24
DROP_AT = 14
UPDATE_AT = 16

GIT_ENV = {
    "GIT_AUTHOR_NAME": "pybench docs",
    "GIT_AUTHOR_EMAIL": "docs@pybench.invalid",
    "GIT_COMMITTER_NAME": "pybench docs",
    "GIT_COMMITTER_EMAIL": "docs@pybench.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}

BENCH = '''\
import math

import numpy as np

import model


def bench_train(seed: int, *, n_seeds: int = 12) -> list[dict]:
    rng = np.random.default_rng([seed, model.SALT])
    out = []
    for step in (1, 5, 20):
        accuracy = model.QUALITY * (0.92 - 0.5 * math.exp(-step / 4)) + rng.normal(0, 0.004)
        loss = (1.3 - accuracy) * (1 + rng.normal(0, 0.01))
        out.append({"step": step, "accuracy": accuracy, "min:loss": loss})
    return out
'''


def _run(args: list[str], cwd: Path, ok: tuple[int, ...] = (0,)) -> str:
    env = {**os.environ, **GIT_ENV, "PYBENCH_HISTORY": "", "COLUMNS": "100"}
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env, check=False)
    if done.returncode not in ok:
        raise SystemExit(f"{' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def _pybench(cwd: Path, *args: str, ok: tuple[int, ...] = (0, 1)) -> str:
    return _run([sys.executable, "-m", "pybench", *args], cwd, ok)


def make_history(repo: Path) -> None:
    rng = np.random.default_rng(2026)
    (repo / "benchmarks").mkdir(parents=True)
    (repo / "benchmarks" / "bench_train.py").write_text(BENCH)
    _run(["git", "init", "-q", "-b", "main"], repo)
    for i in range(N_COMMITS):
        quality = (0.96 if i >= DROP_AT else 1.0) * (1 + 0.01 * rng.standard_normal())
        (repo / "benchmarks" / "model.py").write_text(f"QUALITY = {quality!r}\nSALT = {i}\n")
        _run(["git", "add", "-A"], repo)
        _run(["git", "commit", "-q", "-m", f"Change {i}"], repo)
        if i == 0:
            _pybench(repo, "benchmarks", "--seed", "1", ok=(0,))
        elif i == UPDATE_AT:
            _pybench(repo, "update", "benchmarks", "--yes", "--seed", "2", ok=(0,))
        else:
            _pybench(repo, "benchmarks")
        if i in (0, UPDATE_AT):
            _run(["git", "add", "-A"], repo)
            _run(["git", "commit", "-q", "-m", f"Baseline at change {i}"], repo)


def check(repo: Path) -> None:
    document = json.loads(_pybench(repo, "history", "--json", "-", ok=(0,)))
    [bench] = document["benchmarks"]
    for slot in bench["slots"]:
        if slot["step"] != 20:
            continue
        found = [c["index"] for c in slot["change_points"]]
        if not any(abs(i - DROP_AT) <= 1 for i in found):
            raise SystemExit(f"{slot['metric']} step 20: change points at {found}, not {DROP_AT}")


def screenshots(site: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 360})
            page.goto((site / "index.html").as_uri())
            page.screenshot(path=str(SHOTS / "history-site-index.png"))
            page.set_viewport_size({"width": 1000, "height": 860})
            page.click("td a")
            page.wait_for_load_state("load")
            page.screenshot(path=str(SHOTS / "history-site-bench.png"))
        finally:
            browser.close()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="pybench-history-docs-") as tmp:
        repo = Path(tmp) / "project"
        make_history(repo)
        check(repo)
        OUT.mkdir(parents=True, exist_ok=True)
        shown = _pybench(repo, "history", ok=(0,))
        (OUT / "history.txt").write_text("$ pybench history\n" + shown)
        _pybench(repo, "site", str(Path(tmp) / "site"), ok=(0,))
        screenshots(Path(tmp) / "site")
    print(f"wrote {OUT / 'history.txt'} and the site's screenshots in {SHOTS}")


if __name__ == "__main__":
    main()
