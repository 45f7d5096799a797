"""Golden outputs: every command of the CLI on the synthetic example, times and paths masked.

Runs ``python -m pybench`` in a temporary git repository holding a copy of
``examples/synthetic/benchmarks`` (fixed seeds, fixed commit dates, so that
commit hashes and numbers repeat), and writes one file per command to OUTDIR:
the command, its exit code, its stdout and stderr, and the files it wrote, with
times, dates and the temporary folder masked. Diff two such folders to see
what a change did to the output::

    uv run python tests/golden/capture.py /tmp/golden-before
    ...change...
    uv run python tests/golden/capture.py /tmp/golden-after
    diff -r /tmp/golden-before /tmp/golden-after
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "examples" / "synthetic" / "benchmarks" / "bench_synthetic.py"
DATE = "2026-01-02T03:04:05+00:00"
TIME_KEYS = re.compile(
    r"elapsed|wall|median|per_seed|seconds|time|date|started|finished|duration|timings"
)

COMMANDS: list[tuple[str, list[str], dict[str, str]]] = [
    ("help", ["--help"], {}),
    ("help-run", ["run", "--help"], {}),
    ("help-update", ["update", "--help"], {}),
    ("help-show", ["show", "--help"], {}),
    ("help-plan", ["plan", "--help"], {}),
    ("help-compare", ["compare", "--help"], {}),
    ("help-report", ["report", "--help"], {}),
    ("run-new", ["benchmarks", "--seed", "7"], {}),
    ("run-pass", ["benchmarks"], {}),
    ("run-pass-v", ["benchmarks", "-v"], {}),
    ("run-fail", ["benchmarks"], {"PYBENCH_SYNTHETIC_REGRESS": "local"}),
    ("run-fail-v", ["benchmarks", "-v"], {"PYBENCH_SYNTHETIC_REGRESS": "global"}),
    ("run-json", ["benchmarks", "--json", "-"], {"PYBENCH_SYNTHETIC_REGRESS": "local"}),
    (
        "run-files",
        ["run", "benchmarks", "--junit-xml", "out.xml", "--markdown", "out.md", "--json",
         "run.json"],
        {"PYBENCH_SYNTHETIC_REGRESS": "local"},
    ),
    ("run-adaptive", ["benchmarks", "--adaptive"], {"PYBENCH_SYNTHETIC_REGRESS": "local"}),
    ("run-strict", ["benchmarks", "--strict", "--bench", "synthetic"], {}),
    ("report", ["report", "run.json", "--html", "out.html"], {}),
    ("plan", ["plan", "benchmarks"], {}),
    ("show", ["show"], {}),
    ("update", ["update", "benchmarks", "--seed", "8", "--yes", "--n-seeds", "12"], {}),
    ("show-after-update", ["show"], {}),
    ("commit-update", [], {}),
    ("show-history", ["show", "--history"], {}),
    ("compare-pass", ["compare", "HEAD~1", "--seed", "3", "--n-seeds", "12"], {}),
    ("commit-regress", [], {}),
    ("compare-fail", ["compare", "HEAD~1", "HEAD", "--seed", "3", "-v"], {}),
    (
        "compare-files",
        ["compare", "HEAD~1", "--seed", "3", "--json", "cmp.json", "--markdown", "cmp.md",
         "--junit-xml", "cmp.xml"],
        {},
    ),
    ("error-bench", ["benchmarks", "--bench", "nope"], {}),
    ("error-path", ["nowhere"], {}),
    ("error-alpha", ["benchmarks", "--alpha", "2"], {}),
    ("error-compare-rev", ["compare", "nope"], {}),
]


def git(cwd: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_DATE": DATE, "GIT_COMMITTER_DATE": DATE}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def mask(text: str, tmp: Path) -> str:
    text = text.replace(str(tmp.resolve()), "<TMP>").replace(str(tmp), "<TMP>")
    text = re.sub(r"/tmp/pybench-rev-[^\s/\"']+", "<CHECKOUT>", text)
    text = re.sub(r"\d+(\.\d+)?(ms|s)\b", "<T>", text)
    text = re.sub(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)?", "<DATE>", text)
    text = re.sub(r"\b(?=[0-9a-f]*[a-f])[0-9a-f]{7,40}\b", "<HASH>", text)
    text = re.sub(r"data:image/png;base64,[A-Za-z0-9+/=]+", "<PNG>", text)
    text = re.sub(r'(hostname|timestamp)="[^"]*"', r'\1="<X>"', text)
    text = re.sub(r'(time|timestamp)="[^"]*"', r'\1="<X>"', text)
    return text


def mask_json(value: object) -> object:
    if isinstance(value, dict):
        return {
            k: ("<T>" if TIME_KEYS.search(k) else mask_json(v))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [mask_json(v) for v in value]
    return value


def written(tmp: Path) -> list[Path]:
    """The files a command may write: reports in the folder, the baseline file."""
    return sorted(p for p in [*tmp.glob("*.*"), *tmp.glob(".pybench/*.jsonl")] if p.is_file())


def show_text(text: str, tmp: Path) -> str:
    """``text`` masked; a JSON document with its times masked by key first."""
    with contextlib.suppress(ValueError):
        text = json.dumps(mask_json(json.loads(text)), indent=1, sort_keys=True)
    return mask(text, tmp)


def show_file(path: Path, tmp: Path) -> str:
    return show_text(path.read_text(), tmp)


def main() -> int:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        (tmp / "benchmarks").mkdir()
        shutil.copy(BENCH, tmp / "benchmarks" / BENCH.name)
        git(tmp, "init", "-q", "-b", "main")
        git(tmp, "config", "user.email", "golden@example.com")
        git(tmp, "config", "user.name", "golden")
        git(tmp, "add", ".")
        git(tmp, "commit", "-q", "-m", "benchmarks")
        env = {k: v for k, v in os.environ.items() if not k.startswith("PYBENCH_")}
        env.update(COLUMNS="100", TERM="dumb", NO_COLOR="1")
        for number, (label, args, extra) in enumerate(COMMANDS):
            if label == "commit-update":
                git(tmp, "add", ".")
                git(tmp, "commit", "-q", "-m", "baseline")
                continue
            if label == "commit-regress":
                path = tmp / "benchmarks" / BENCH.name
                text = path.read_text().replace("+= 0.20", "+= 0.20\n    losses[100] += 0.1")
                path.write_text(text)
                git(tmp, "commit", "-q", "-am", "regress")
                continue
            before = {p: p.stat().st_mtime for p in written(tmp)}
            proc = subprocess.run(
                [sys.executable, "-m", "pybench", *args],
                cwd=tmp,
                env={**env, **extra},
                capture_output=True,
                text=True,
                stdin=subprocess.DEVNULL,
                timeout=600,
            )
            parts = [
                f"$ {' '.join(f'{k}={v}' for k, v in extra.items())} pybench {' '.join(args)}",
                f"exit {proc.returncode}",
                "--- stdout",
                show_text(proc.stdout, tmp),
                "--- stderr",
                mask(proc.stderr, tmp),
            ]
            for path in written(tmp):
                if before.get(path) != path.stat().st_mtime:
                    parts += [f"--- file {path.relative_to(tmp)}", show_file(path, tmp)]
            (out / f"{number:02d}-{label}.txt").write_text("\n".join(parts))
            print(f"{label}: exit {proc.returncode}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
