"""``pybench compare`` runs in the one run loop: timeouts, captured output, --adaptive, --resume."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.toyrepo import git

TRAIN = """
    import os
    import time
    from pathlib import Path

    SHIFT = 0.0

    def bench_train(seed, *, n_seeds=8):
        calls = Path(os.environ["CALLS"])
        calls.mkdir(exist_ok=True)
        n = len(list(calls.iterdir()))
        (calls / f"{n}-{seed}").touch()
        if os.environ.get("BLOCK_AT") == str(n):
            (calls.parent / "blocked").touch()
            time.sleep(60)  # the run is killed here
        print(f"hello from seed {seed}")
        time.sleep(float(os.environ.get("NAP", "0")))
        return [
            {"step": 1, "min:loss": 1.0 + (seed % 13) / 100},
            {"step": 2, "min:loss": 0.5 + (seed % 7) / 100 + SHIFT},
        ]
"""


@pytest.fixture
def repo(tmp_path: Path, temp_root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A git project: ``v1`` the benchmark as is, ``main`` a regression at step 2."""
    root = tmp_path / "repo"
    (root / "benchmarks").mkdir(parents=True)
    bench = root / "benchmarks" / "bench_train.py"
    bench.write_text(textwrap.dedent(TRAIN))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    git(root, "tag", "v1")
    bench.write_text(textwrap.dedent(TRAIN).replace("SHIFT = 0.0", "SHIFT = 0.05"))
    git(root, "commit", "-q", "-am", "regress")
    monkeypatch.chdir(root)
    for var in ("PYBENCH_SEED", "PYBENCH_DASK", "PYBENCH_STRICT"):
        monkeypatch.delenv(var, raising=False)
    return root


def _pybench(root: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pybench", *args],
        cwd=root,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CALLS": str(root.parent / "calls"), **env},
        timeout=120,
    )


def _calls(root: Path) -> list[int]:
    """The seeds the benchmark was called on (either side), in call order; clears the record."""
    folder = root.parent / "calls"
    if not folder.exists():
        return []
    entries = sorted(folder.iterdir(), key=lambda p: int(p.name.split("-")[0]))
    for entry in entries:
        entry.unlink()
    return [int(p.name.split("-")[1]) for p in entries]


def test_a_seed_past_its_timeout_is_an_error_within_seconds_and_output_is_captured(repo):
    started = time.monotonic()
    result = _pybench(repo, "compare", "v1", "--seed", "1", "--timeout", "0.5", NAP="1.5")
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("bench_train"))
    assert "ERROR" in line and "ran past the per-seed timeout of 0.5s" in line
    assert line.split("ERROR ")[1].startswith("base v1 (")
    assert took < 15  # the first seed is stopped, not all 16 run to the end
    assert "hello from seed" not in result.stdout + result.stderr  # captured, not let through
    assert "Traceback" not in result.stderr


def test_captured_output_is_shown_under_an_error_with_verbose(repo):
    bench = repo / "benchmarks" / "bench_train.py"
    source = bench.read_text().replace("    return [", "    raise ValueError('no')\n    return [")
    bench.write_text(source)
    result = _pybench(repo, "compare", "v1", "--seed", "1", "-v")
    assert result.returncode == 2
    assert "head working tree" in result.stdout and "raised ValueError: no" in result.stdout
    assert "hello from seed" in result.stdout  # the failing seed's output, under its error
    loose = _pybench(repo, "compare", "v1", "--seed", "1", "-s")
    assert "hello from seed" in loose.stdout  # -s lets it through


def test_adaptive_compare_stops_early_on_a_clear_regression(repo):
    result = _pybench(
        repo, "compare", "v1", "main", "--seed", "1", "--n-seeds", "30", "--adaptive",
        "--json", "run.json",
    )
    assert result.returncode == 1, result.stderr
    line = next(x for x in result.stdout.splitlines() if x.startswith("bench_train"))
    assert "FAIL" in line and "(stopped after 10/30 seeds)" in line
    assert len(_calls(repo)) == 2 * 10  # ten seeds on each side, not thirty
    [bench] = json.loads((repo / "run.json").read_text())["benchmarks"]
    assert bench["adaptive"]["seeds_run"] == 10 and bench["adaptive"]["stop_reason"] == "regression"


def _kill_when_blocked(root: Path, *args: str, env: dict[str, str]) -> None:
    """Run pybench as a process and SIGKILL it (and its workers) while a seed is blocked."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", *args],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "CALLS": str(root.parent / "calls"), **env},
        start_new_session=True,
    )
    blocked = root.parent / "blocked"
    deadline = time.monotonic() + 60
    while not blocked.exists() and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read() if proc.stderr else "")
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    blocked.unlink()


def test_resume_after_sigkill_reuses_the_seeds_both_sides_finished(repo):
    reference = _pybench(repo, "compare", "v1", "main", "--seed", "3", "-v")
    assert reference.returncode == 1, reference.stderr
    everything = _calls(repo)
    assert len(everything) == 16  # eight seeds, base then head, alternating

    _kill_when_blocked(repo, "compare", "v1", "main", "--seed", "3", env={"BLOCK_AT": "9"})
    assert _calls(repo) == everything[:10]  # nine calls finished, the tenth was running
    resumed = _pybench(repo, "compare", "v1", "main", "--seed", "3", "-v", "--resume")
    assert resumed.returncode == 1, resumed.stderr
    assert _calls(repo) == everything[9:]  # only what was unfinished ran again

    def verdict(output: str) -> list[str]:  # all but the times
        lines = output.splitlines()
        return [re.sub(r" in \d+\.\ds$", "", x) for x in lines if not x.startswith("bench_train:")]

    assert verdict(resumed.stdout) == verdict(reference.stdout)
    assert "reused 4 of 8 seeds" in resumed.stderr  # HEAD's finished seeds
    journal = Path(git(repo, "rev-parse", "--absolute-git-dir")) / "pybench" / "journal"
    assert not list(journal.glob("*.jsonl"))  # a verdict removes the journals
    assert not (repo / ".pybench").exists()  # compare writes nothing in the working tree
