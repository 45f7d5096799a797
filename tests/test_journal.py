"""The journal of finished seeds and ``--resume``: torn lines, fingerprints, a killed run."""

from __future__ import annotations

import json
import math
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from pybench.core.benchmark import Benchmark
from pybench.core.seeds import SeedOutcome
from pybench.sources.git import code_state
from pybench.storage import store
from pybench.storage.journal import Journal


def _bench(path: Path, name: str = "bench_t") -> Benchmark:
    return Benchmark(name=name, path=path, func=lambda seed: 1.0)


def _outcome(index: int, seed: int, value: float) -> SeedOutcome:
    return SeedOutcome(
        index, seed, values={(1, "acc"): value, (2, "min:loss"): -value}, elapsed=0.5
    )


def test_round_trip_and_a_torn_last_line_is_ignored(tmp_path):
    bench_file = tmp_path / "bench_t.py"
    bench_file.write_text("def bench_t(seed): ...\n")
    journal = Journal(tmp_path / "journal")
    fingerprint = journal.fingerprint(_bench(bench_file))
    seeds = [11, 22, 33, 44]
    writer = journal.start("bench_t", fingerprint, seeds)
    for index, value in enumerate([0.1, 1 / 3, math.inf]):
        writer.append(_outcome(index, seeds[index], value))
    writer.close()
    with open(journal.path("bench_t"), "a") as file:
        file.write('{"index":3,"seed":44,"val')  # the process died mid-line
    found = journal.read("bench_t", fingerprint)
    assert found is not None and found.seeds == (11, 22, 33, 44)
    assert [o.seed for o in found.outcomes] == [11, 22, 33]
    assert found.outcomes[1].values == {(1, "acc"): 1 / 3, (2, "min:loss"): -1 / 3}  # exact
    assert found.outcomes[2].values[(1, "acc")] == math.inf
    assert found.outcomes[0] == _outcome(0, 11, 0.1) and found.outcomes[0].elapsed == 0.5

    # resuming rewrites the journal whole: the torn line is gone, new seeds append
    writer = journal.start("bench_t", fingerprint, seeds, found.outcomes)
    writer.append(_outcome(3, 44, 0.4))
    writer.close()
    lines = journal.path("bench_t").read_text().splitlines()
    assert len(lines) == 6 and all(json.loads(line) for line in lines)  # header, slots, 4 seeds
    assert journal.finished("bench_t") == 4
    assert [o.seed for o in journal.read("bench_t", fingerprint).outcomes] == seeds


def test_foreign_or_stale_journals_are_ignored(tmp_path):
    journal = Journal(tmp_path / "journal")
    assert journal.read("bench_t", "abc") is None  # none yet
    writer = journal.start("bench_t", "abc", [1, 2, 3])
    writer.append(_outcome(0, 1, 0.5))
    writer.append(_outcome(1, 99, 0.5))  # a seed that is not the journal's: skipped
    writer.close()
    assert journal.read("bench_t", "other code") is None
    assert [o.seed for o in journal.read("bench_t", "abc").outcomes] == [1]
    journal.path("bench_t").write_text("not json\n")
    assert journal.read("bench_t", "abc") is None
    journal.remove("bench_t")
    assert not journal.folder.exists()  # an empty journal folder is removed too


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def test_fingerprint_is_the_file_the_commit_and_the_diff(tmp_path):
    bench_file = tmp_path / "benchmarks" / "bench_t.py"
    bench_file.parent.mkdir()
    bench_file.write_text("from helper import X\n")
    (tmp_path / "helper.py").write_text("X = 1\n")
    baseline = tmp_path / ".pybench" / "baselines.jsonl"
    baseline.parent.mkdir()
    baseline.write_text("")
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", ".")
    _git(tmp_path, "commit", "-qm", "first")

    def fingerprint() -> str:
        return Journal.beside(baseline, code_state=code_state).fingerprint(_bench(bench_file))

    first = fingerprint()
    assert Journal.beside(baseline).folder == tmp_path / ".pybench" / "journal"
    baseline.write_text('{"bench": "other"}\n')  # pybench's own files do not count
    (tmp_path / ".pybench" / "journal").mkdir()
    (tmp_path / ".pybench" / "journal" / "bench_t.jsonl").write_text("{}\n")
    assert fingerprint() == first
    (tmp_path / "helper.py").write_text("X = 2\n")  # code the benchmark imports changed
    second = fingerprint()
    assert second != first
    _git(tmp_path, "commit", "-qam", "second")  # same code, another commit
    assert fingerprint() not in (first, second)
    bench_file.write_text("from helper import X  # edited\n")
    assert fingerprint() != first
    assert Journal.beside(tmp_path / "b.jsonl").folder == tmp_path / "b.jsonl.journal"


# -- --resume through the command line ---------------------------------------------
TRAIN = """
    import os
    import time
    from pathlib import Path

    def bench_train(seed, *, n_seeds=8):
        calls = Path("calls")
        calls.mkdir(exist_ok=True)
        n = len(list(calls.iterdir()))
        (calls / f"{n}-{seed}").touch()
        if os.environ.get("BLOCK_AT") == str(n):
            Path("blocked").touch()
            time.sleep(60)  # the run is killed here
        shift = float(os.environ.get("SHIFT", "0"))
        return [
            {"step": 1, "min:loss": 1.0 + (seed % 13) / 100},
            {"step": 2, "min:loss": 0.5 + (seed % 7) / 100 + shift},
        ]
"""


def _calls(project: Path) -> list[int]:
    """The seeds the benchmark was called on, in call order; clears the record."""
    folder = project / "calls"
    if not folder.exists():
        return []
    entries = sorted(folder.iterdir(), key=lambda p: int(p.name.split("-")[0]))
    for entry in entries:
        entry.unlink()
    return [int(p.name.split("-")[1]) for p in entries]


def _kill_when_blocked(project: Path, *args: str, env: dict[str, str]) -> None:
    """Run pybench as a process and SIGKILL it while the benchmark is blocked."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", *args],
        cwd=project,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **env},
    )
    deadline = time.monotonic() + 30
    while not (project / "blocked").exists() and time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(proc.stderr.read() if proc.stderr else "")
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    (project / "blocked").unlink()


def test_resume_after_sigkill_reuses_finished_seeds_and_gives_the_same_verdict(
    project, write_bench, cli, monkeypatch
):
    write_bench(TRAIN)
    assert cli("benchmarks", "--seed", "4").exit_code == 0
    seeds = store.load(project / ".pybench" / "baselines.jsonl")["bench_train"].seeds
    _calls(project)
    monkeypatch.setenv("SHIFT", "0.01")
    reference = cli("benchmarks", "-v")  # the uninterrupted comparison
    assert reference.exit_code == 1 and _calls(project) == seeds

    _kill_when_blocked(project, "benchmarks", env={"BLOCK_AT": "5"})
    assert _calls(project) == seeds[:6]  # five finished, the sixth was running
    resumed = cli("benchmarks", "-v", "--resume")
    assert _calls(project) == seeds[5:]  # only the unfinished seeds ran again

    def verdict(output: str) -> list[str]:  # all but the times
        lines = output.splitlines()
        return [re.sub(r" in \d+\.\ds$", "", x) for x in lines if not x.startswith("bench_train:")]

    assert verdict(resumed.stdout) == verdict(reference.stdout)
    assert "FAIL" in verdict(resumed.stdout)[0] and len(verdict(resumed.stdout)) >= 6
    assert resumed.exit_code == 1
    assert "note: bench_train: reused 5 of 8 seeds finished by an interrupted run" in resumed.stderr
    assert not (project / ".pybench" / "journal").exists()  # a verdict removes the journal

    # without --resume a journal is ignored and replaced
    _kill_when_blocked(project, "benchmarks", env={"BLOCK_AT": "2"})
    _calls(project)
    again = cli("benchmarks")
    assert _calls(project) == seeds and "reused" not in again.stderr


def test_resume_of_a_new_baseline_needs_no_seed(project, write_bench, cli):
    write_bench(TRAIN)
    _kill_when_blocked(project, "benchmarks", env={"BLOCK_AT": "3"})
    journal = project / ".pybench" / "journal" / "bench_train.jsonl"
    sampled = json.loads(journal.read_text().splitlines()[0])["seeds"]
    assert _calls(project) == sampled[:4]
    result = cli("benchmarks", "--resume")
    assert result.exit_code == 0 and "NEW" in result.stdout
    # the rest of the seeds, then the first again for the determinism check
    assert _calls(project) == [*sampled[3:], sampled[0]]
    record = store.load(project / ".pybench" / "baselines.jsonl")["bench_train"]
    assert record.seeds == sampled
    assert record.scores[2]["min:loss"] == [0.5 + (s % 7) / 100 for s in sampled]
    assert "meta-p=1.000" in cli("benchmarks").stdout  # identical to its own re-run


def test_a_new_pybench_folder_made_by_the_journal_keeps_it_out_of_git(tmp_path):
    baseline = tmp_path / ".pybench" / "baselines.jsonl"
    journal = Journal.beside(baseline)
    journal.start("bench_t", "abc", [1, 2]).close()  # the first file a first run writes
    ignore = (tmp_path / ".pybench" / ".gitignore").read_text().splitlines()
    assert "journal/" in ignore and "baselines.jsonl.lock" in ignore
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    store.save(baseline, [store.BaselineRecord("bench_t", [1, 2], {0: {"x": [1.0, 2.0]}})])
    subprocess.run(["git", "add", ".pybench"], cwd=tmp_path, check=True)
    staged = subprocess.run(
        ["git", "diff", "--cached", "--name-only"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    assert staged == [".pybench/.gitignore", ".pybench/baselines.jsonl"]
