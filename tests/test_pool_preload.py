"""Workers started before the run's imports: they import the benchmark files while this
process discovers them (:class:`pybench.execution.backends.EarlyWorkers`)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from pybench.execution import backends
from pybench.execution.backends import CallOptions, ProcessBackend
from pybench.sources.discover import discover, files_to_import
from tests.test_backends import _alive, _wait_for

HEADER = """
import multiprocessing
import os
import time
from pathlib import Path

LOG = Path(os.environ["PRELOAD_LOG"])
with LOG.open("a") as log:
    log.write(f"{{os.getpid()}} {tag}\\n")
IN_MAIN = multiprocessing.parent_process() is None  # not a worker


def _imports():
    return [line for line in LOG.read_text().splitlines() if line.endswith(" {tag}")]


if IN_MAIN:  # discovery here waits (20 s at most) for {wait} worker(s) to import this file too
    deadline = time.monotonic() + 20
    while len(_imports()) < 1 + {wait} and time.monotonic() < deadline:
        time.sleep(0.02)
    Path(os.environ["PRELOAD_SEEN"]).write_text(str(len(_imports()) - 1))
"""


def _source(tag: str, body: str, wait: int = 2) -> str:
    return HEADER.format(tag=tag, wait=wait) + body


@pytest.fixture
def log(project: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The file every import of a benchmark file appends ``PID TAG`` to."""
    monkeypatch.setenv("PRELOAD_LOG", str(project / "imports.log"))
    monkeypatch.setenv("PRELOAD_SEEN", str(project / "seen.txt"))
    (project / "imports.log").write_text("")
    return project / "imports.log"


def _imports(log: Path, tag: str) -> list[int]:
    """The processes that imported the file tagged ``tag``, in order."""
    return [int(line.split()[0]) for line in log.read_text().splitlines() if line.split()[1] == tag]


def _line(output: str, name: str) -> str:
    return next(line for line in output.splitlines() if line.startswith(name))


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process ids of every worker the back-ends start."""
    workers: list[int] = []
    original = ProcessBackend._start

    def start(self: ProcessBackend, *args: Any, **kwargs: Any) -> Any:
        worker = original(self, *args, **kwargs)
        workers.append(worker.process.pid)
        return worker

    monkeypatch.setattr(ProcessBackend, "_start", start)
    return workers


PIDS = """

def bench_a(seed, *, n_seeds=6, check_determinism=False):
    return {"pid": float(os.getpid())}


def bench_b(seed, *, n_seeds=6, check_determinism=False):
    return {"pid": float(os.getpid())}
"""


def test_workers_import_the_files_while_this_process_discovers_them(project, write_bench, cli, log):
    write_bench(_source("pids", PIDS), "bench_pids.py")
    result = cli("benchmarks", "--workers", "2", "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    # discovery here saw both workers' imports: they happened before any seed was sent
    assert (project / "seen.txt").read_text() == "2"
    # this process imported the file once, and each worker once: in whichever order the
    # imports happened to run, as they run at the same time
    imports = _imports(log, "pids")
    workers = [pid for pid in imports if pid != os.getpid()]
    assert imports.count(os.getpid()) == 1 and len(set(workers)) == len(workers) == 2
    records = [json.loads(line) for line in (project / "b.jsonl").read_text().splitlines()]
    ran = {pid for rec in records for pid in rec["scores"]["0"]["pid"]}
    assert ran <= {float(pid) for pid in workers}  # the preloaded workers ran every seed


def test_files_a_bench_filter_leaves_out_are_not_imported_by_workers(
    project, write_bench, cli, log
):
    body = "\n\ndef bench_{0}(seed, *, n_seeds=6, check_determinism=False):\n    return 1.0\n"
    write_bench(_source("one", body.format("one")), "bench_one.py")
    write_bench(_source("two", body.format("two"), wait=0), "bench_two.py")
    paths = files_to_import(project / "benchmarks", ["one"])
    assert paths == [(project / "benchmarks" / "bench_one.py").resolve()]
    result = cli("benchmarks", "--workers", "2", "--bench", "one", "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    assert (project / "seen.txt").read_text() == "2"  # preloaded by both workers
    assert len(_imports(log, "one")) == 3 and _imports(log, "two") == []


def test_a_failed_preload_is_the_benchmarks_error_with_what_it_printed(project, write_bench, log):
    body = """
print("hello from the import")
if not IN_MAIN:
    raise RuntimeError("only in workers")


def bench_x(seed):
    return 1.0


def bench_y(seed):
    return 1.0
"""
    path = write_bench(_source("broken", body, wait=1), "bench_broken.py").resolve()
    backend = ProcessBackend(workers=1)
    try:
        backend.start([path], capture=True)
        bench_x, bench_y = discover(path)  # waits for the worker's import to begin
        assert (project / "seen.txt").read_text() == "1"
        options = CallOptions(capture=True)
        first, second = list(backend.map_seeds(bench_x, [1, 2], options))
        [other] = list(backend.map_seeds(bench_y, [1], options))
    finally:
        backend.close()
    assert len(_imports(log, "broken")) == 2  # not imported again for a task
    for outcome in (first, second, other):
        assert outcome.failure is not None
        assert outcome.failure.message.startswith("could not be run in a worker: ")
        assert "importing the file failed: RuntimeError: only in workers" in outcome.failure.message
    # what the import printed is kept with the first failure of each benchmark, as without
    # a preload
    assert first.stdout == other.stdout == "hello from the import\n"
    assert second.stdout == ""


SLOW_IN_WORKERS = """

if not IN_MAIN:
    time.sleep(2.5)


def bench_z_slow(seed, *, n_seeds=6, check_determinism=False):
    return float(seed % 5)
"""

FAST = """

def bench_a_fast(seed, *, n_seeds=6, timeout=1, check_determinism=False):
    return float(seed % 7)
"""


def test_a_seed_waiting_behind_another_files_preload_keeps_its_timeout(
    project, write_bench, cli, log
):
    # Files are preloaded in path order, benchmarks run in name order: bench_a_fast's first
    # seeds are sent while both workers are still importing a_slow.py, which takes longer
    # than bench_a_fast's timeout. Those workers are replaced, not its seeds failed.
    write_bench(_source("slow", SLOW_IN_WORKERS, wait=1), "a_slow.py")
    write_bench(_source("fast", FAST, wait=0), "b_fast.py")
    result = cli("benchmarks", "--workers", "2", "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    assert "NEW" in _line(result.stdout, "bench_a_fast")
    assert "NEW" in _line(result.stdout, "bench_z_slow")
    records = [json.loads(line) for line in (project / "b.jsonl").read_text().splitlines()]
    assert len(records) == 2
    # a replaced worker's successor imports a_slow.py when bench_z_slow needs it
    assert len({pid for pid in _imports(log, "slow") if pid != os.getpid()}) >= 3


HANGS_IN_WORKERS = """

if not IN_MAIN:
    time.sleep(30)


def bench_hang(seed, *, n_seeds=6, timeout=1, check_determinism=False):
    return 1.0
"""


def test_a_preload_of_the_seeds_own_file_is_timed_like_its_import(project, write_bench, cli, log):
    write_bench(_source("hang", HANGS_IN_WORKERS, wait=1), "bench_hang.py")
    begun = time.monotonic()
    result = cli("benchmarks", "--workers", "2", "--baseline", "b.jsonl")
    assert time.monotonic() - begun < 15
    assert result.exit_code == 2
    assert (
        "did not start within the per-seed timeout of 1s: its worker process was still starting"
        " up or importing the benchmark file, and was killed"
    ) in _line(result.stdout, "bench_hang")


QUICK = """
def bench_q(seed, *, n_seeds=6, check_determinism=False):
    return float(seed % 3)
"""


def test_no_workers_start_for_commands_that_run_no_seeds(project, write_bench, cli, started):
    write_bench(QUICK, "bench_q.py")
    assert cli("benchmarks", "--baseline", "b.jsonl", "--seed", "1").exit_code == 0  # serial
    assert cli("benchmarks", "--workers", "1", "--baseline", "b.jsonl").exit_code == 0
    assert cli("show", "--baseline", "b.jsonl").exit_code == 0  # (plan has no --workers)
    assert cli("nowhere", "--workers", "2", "--baseline", "b.jsonl").exit_code == 2
    assert cli("benchmarks", "--workers", "2", "--bench", "nope").exit_code == 2
    assert started == []
    assert cli("benchmarks", "--workers", "2", "--baseline", "b.jsonl").exit_code == 0
    assert len(started) == 2


def test_workers_started_for_a_run_that_then_fails_are_stopped(
    project, write_bench, cli, started
):
    write_bench(QUICK, "bench_q.py")
    write_bench(QUICK, "bench_q_again.py")  # the same name twice: discovery fails
    result = cli("benchmarks", "--workers", "2", "--baseline", "b.jsonl")
    assert result.exit_code == 2 and "defined in both" in result.output
    assert len(started) == 2  # started before the imports here found the problem
    assert not any(_alive(pid) for pid in started)


def test_early_workers_start_only_when_the_run_options_decide_where_seeds_run(project):
    path = project / "benchmarks" / "bench_q.py"
    path.write_text(QUICK)
    with backends.early_workers() as early:
        assert not early.start([path], workers=None, gpus=None, capture=True)
        assert not early.start([path], workers=1, gpus=None, capture=True)
        assert not early.start([], workers=2, gpus=None, capture=True)
        assert early.start([path], workers=2, gpus=None, capture=True)
        [backend] = early.take().values()
    try:
        assert len(backend.pids) == 2
    finally:
        backend.close()


def test_a_preload_cut_short_by_a_task_leaves_sys_path_as_discovery_does(project, log):
    # b's import is slow in workers, so its seed is waiting when it ends: the worker then
    # stops preloading and never imports a, yet a's folder is on sys.path as it is here.
    folders = {}
    for name, body in (("a", ""), ("b", "\nif not IN_MAIN:\n    time.sleep(0.5)\n")):
        folders[name] = project / "benchmarks" / name
        folders[name].mkdir()
        code = f"\n\ndef bench_{name}(seed):\n    import sys\n\n"
        code += f"    return float({str(folders['a'])!r} in sys.path)\n"
        (folders[name] / f"bench_{name}.py").write_text(_source(name, body + code, wait=0))
    paths = [(folders[name] / f"bench_{name}.py").resolve() for name in ("b", "a")]
    backend = ProcessBackend(workers=1)
    try:
        backend.start(paths, capture=True)
        [bench_b] = discover(paths[0])
        [outcome] = list(backend.map_seeds(bench_b, [1]))
    finally:
        backend.close()
    assert outcome.values is not None, outcome.failure
    assert list(outcome.values.values()) == [1.0]
    assert len(_imports(log, "b")) == 2 and len(_imports(log, "a")) == 0  # here, the worker


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143)])
def test_a_signal_while_workers_preload_stops_them_and_the_run(
    project, write_bench, log, name, code
):
    body = "\n\nif not IN_MAIN:\n    time.sleep(60)\n\n\ndef bench_s(seed):\n    return 1.0\n"
    write_bench(_source("sleepy", body, wait=2), "bench_sleepy.py")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", "benchmarks", "--workers", "2", "--baseline", "b.jsonl"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:  # discovery is done once both workers are in their (minute long) import
        assert _wait_for(lambda: (project / "seen.txt").exists(), 30)
        workers = [pid for pid in _imports(log, "sleepy") if pid != proc.pid]
        sent = time.monotonic()
        proc.send_signal(getattr(signal, name))
        _, err = proc.communicate(timeout=20)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert time.monotonic() - sent < 10 and "Traceback" not in err
    assert len(workers) == 2 and _wait_for(lambda: not any(map(_alive, workers)), 5)
