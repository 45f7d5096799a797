"""Regenerate the outputs shown on docs/real-model.md by running pybench for real.

Usage, from the repository root::

    uv run python docs/real_model/lifecycle.py

(the project's default environment holds the digits example, matplotlib and
playwright; the screenshot needs Debian's ``chromium`` at /usr/bin/chromium).

It copies ``examples/digits/benchmarks`` into a fresh git repository in a
temporary folder and runs the real ``pybench`` command line there, step by step:
a baseline, a regression (``DIGITS_REGRESS=1``), the fix, an improvement
(``DIGITS_IMPROVE=1``) and ``pybench update``, then ``pybench show --history``.
Each step's command and output go to ``docs/_static/real-model/NN-name.txt``;
the regression run's HTML report is photographed in headless Chromium into
``docs/_static/real-model-report.png``. ``--seed`` fixes the sampled seeds, so a
rerun prints the same numbers; only timings, commit hashes and dates change.
Each step checks its exit code and the words the page relies on, so the script
fails rather than write outputs that contradict the page.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCHMARKS = ROOT / "examples" / "digits" / "benchmarks"
OUT = ROOT / "docs" / "_static" / "real-model"
SCREENSHOT = ROOT / "docs" / "_static" / "real-model-report.png"
CHROMIUM = Path("/usr/bin/chromium")
VIEWPORT = {"width": 1200, "height": 1000}
"""The browser window, in CSS pixels; the screenshot ends below the report's first plot."""

GIT_ENV = {
    "GIT_AUTHOR_NAME": "pybench docs",
    "GIT_AUTHOR_EMAIL": "docs@pybench.invalid",
    "GIT_COMMITTER_NAME": "pybench docs",
    "GIT_COMMITTER_EMAIL": "docs@pybench.invalid",
    "GIT_CONFIG_GLOBAL": os.devnull,  # the reader's git settings stay out of it
    "GIT_CONFIG_NOSYSTEM": "1",
}


@dataclass(frozen=True)
class Step:
    """One pybench command of the lifecycle and what its output must show."""

    name: str
    """File name under docs/_static/real-model/, without ``.txt``."""
    args: tuple[str, ...]
    """Arguments after ``pybench``."""
    env: dict[str, str] = field(default_factory=dict)
    """Toggles set for this command only (shown before it, as in a shell)."""
    exit_code: int = 0
    expect: tuple[str, ...] = ()
    """Text the output must contain (the page's prose describes it)."""
    commit: str | None = None
    """After the step, commit the baseline file with this subject."""


STEPS = (
    Step("01-baseline", ("--seed", "1"), expect=("NEW", "baseline saved"),
         commit="Save the digits baseline"),
    Step("02-regression", ("-v", "--html", "report.html"), {"DIGITS_REGRESS": "1"}, 1,
         expect=("FAIL", "metric", "p_adj", "Δ 95% CI", "‼")),
    Step("03-fixed", (), expect=("PASS", "0 failed, 1 passed")),
    Step("04-improvement", ("-v",), {"DIGITS_IMPROVE": "1"},
         expect=("PASS", "improved:", "pybench update --bench bench_digits")),
    Step("04-update", ("update", "--bench", "bench_digits", "--yes", "--seed", "2"),
         {"DIGITS_IMPROVE": "1"}, expect=("baseline updated",),
         commit="Widen the digits model to 128 hidden units; new baseline"),
    Step("05-history", ("show", "--history"),
         expect=("Save the digits baseline", "Widen the digits model")),
)  # fmt: skip


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", *args], cwd=repo, env={**os.environ, **GIT_ENV}, check=True, capture_output=True
    )


def _environment(toggles: dict[str, str]) -> dict[str, str]:
    """This process's environment without any toggle or PYBENCH_* setting, plus ``toggles``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DIGITS_", "PYBENCH_", "GITHUB_"))
    }
    # Unbuffered, so stderr's "baseline: …" line comes where a terminal shows it.
    return {**env, **GIT_ENV, "PYTHONUNBUFFERED": "1", **toggles}


def _run(repo: Path, step: Step) -> str:
    """Run one step in ``repo``: ``$ command`` and its output, with ``repo`` written ``.``."""
    command = [sys.executable, "-m", "pybench", *step.args]
    proc = subprocess.run(
        command,
        cwd=repo,
        env=_environment(step.env),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = proc.stdout
    for prefix in {str(repo.resolve()), str(repo)}:
        output = output.replace(prefix, ".")
    shown = " ".join([*(f"{k}={v}" for k, v in step.env.items()), "pybench", *step.args])
    text = f"$ {shown}\n{output.rstrip()}\n"
    problems = [f"no {word!r} in the output" for word in step.expect if word not in output]
    if proc.returncode != step.exit_code:
        problems.append(f"exit code {proc.returncode}, expected {step.exit_code}")
    if "\x1b[" in output:
        problems.append("terminal escape codes in the output")
    if problems:
        sys.exit(f"{step.name}: " + "; ".join(problems) + "\n" + text)
    return text


def _screenshot(page_path: Path, png: Path) -> None:
    """The top of the HTML report, down to its first plot, as headless Chromium draws it."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            box = page.locator("figure").first.bounding_box()
            if box is None:
                sys.exit(f"error: {page_path.name} has no plot to show")
            bottom = box["y"] + box["height"] + 6
            page.screenshot(
                path=str(png), clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom}
            )
        finally:
            browser.close()


def main() -> None:
    if not CHROMIUM.exists():
        sys.exit(f"error: {CHROMIUM} not found (install Debian's 'chromium' package)")
    started = time.perf_counter()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pybench-real-model-") as tmp:
        repo = Path(tmp)
        ignore = shutil.ignore_patterns("__pycache__")
        shutil.copytree(BENCHMARKS, repo / "benchmarks", ignore=ignore)
        # Generated reports stay out of git, so the baselines record a clean commit.
        (repo / ".gitignore").write_text("__pycache__/\nreport.html\n")
        # pybench keeps its baselines in the nearest .pybench/ above benchmarks/: this one.
        (repo / ".pybench").mkdir()
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-q", "-m", "Add the digits benchmark")
        for step in STEPS:
            step_started = time.perf_counter()
            (OUT / f"{step.name}.txt").write_text(_run(repo, step))
            if step.commit:
                _git(repo, "add", ".pybench")
                _git(repo, "commit", "-q", "-m", step.commit)
            print(f"{step.name}: {time.perf_counter() - step_started:.1f}s")
        if not (repo / ".pybench" / "baselines.jsonl").is_file():
            sys.exit("error: the baseline was not written inside the temporary repository")
        _screenshot(repo / "report.html", SCREENSHOT)
    print(f"wrote {OUT.relative_to(ROOT)}/ and {SCREENSHOT.relative_to(ROOT)}")
    print(f"total: {time.perf_counter() - started:.1f}s")


if __name__ == "__main__":
    main()
