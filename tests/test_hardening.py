"""Hardening: signals, exits of the interpreter, changed directories, failed saves, hangs.

Each scenario runs the real command in its own process (and real signals where
the scenario is one), because what is checked is what a CI job sees: the exit
code, stdout and stderr, the files left behind and the processes left running.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from pybench.core.errors import EXIT_INTERNAL
from tests.toyrepo import build_toy_repo, commit_package, git, worktrees

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals and sessions")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYBENCH_", "GITHUB_"))}
    return {**env, "PYBENCH_SEED": "7", **extra}


def _pybench(
    cwd: Path, *args: str, timeout: float = 60, **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pybench", *args],
        cwd=cwd,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _write(root: Path, source: str, name: str = "bench_h.py") -> Path:
    folder = root / "benchmarks"
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def _line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name))


def _session_processes(sid: int) -> list[str]:
    """The live processes of session ``sid`` (zombies waiting for a reaper left out)."""
    ps = subprocess.run(
        ["ps", "-e", "-o", "pid=,sid=,stat=,args="], capture_output=True, text=True, check=True
    )
    rows = [line.split(None, 3) for line in ps.stdout.splitlines()]
    return [" ".join(r) for r in rows if len(r) >= 3 and r[1] == str(sid) and "Z" not in r[2]]


def _none_left(sid: int, within: float = 10.0) -> list[str]:
    deadline = time.monotonic() + within
    while True:
        left = _session_processes(sid)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def _signal_when_marked(
    proc: subprocess.Popen[str], mark: Path, signum: int, timeout: float = 60
) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    while not mark.exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the benchmark never started"
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signum)
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise


def _start(cwd: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pybench", *args],
        cwd=cwd,
        env=_env(**env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own session: every process it leaves can be found
    )


# -- paths ---------------------------------------------------------------------------
CHDIR = """
    import os

    def bench_a(seed, *, n_seeds=6):
        os.chdir(os.environ["ELSEWHERE"])
        return (seed % 97) / 97.0
"""


def test_a_benchmark_that_changes_directory_moves_no_file(tmp_path: Path) -> None:
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    _write(project, CHDIR)
    result = _pybench(project, "--json", "r.json", "--markdown", "r.md", ELSEWHERE=str(elsewhere))
    assert result.returncode == 0, result.stderr
    record = json.loads((project / ".pybench" / "baselines.jsonl").read_text())
    assert record["bench"] == "bench_a"
    assert json.loads((project / "r.json").read_text())["benchmarks"][0]["status"] == "NEW"
    assert (project / "r.md").exists()
    assert list(elsewhere.iterdir()) == []  # nothing written where the benchmark went


# -- saving ---------------------------------------------------------------------------
COUNTING = """
    import os

    def bench_a(seed, *, n_seeds=6):
        with open(os.environ["CALLS"], "a") as calls:
            calls.write("a\\n")
        return (seed % 97) / 97.0

    def bench_b(seed, *, n_seeds=6):
        return (seed % 89) / 89.0
"""


def test_a_failed_save_is_an_error_and_keeps_the_journal(tmp_path: Path) -> None:
    _write(tmp_path, COUNTING)
    calls = tmp_path / "calls"
    lock = tmp_path / ".pybench" / "baselines.jsonl.lock"
    lock.mkdir(parents=True)  # the save cannot take its lock: it fails, the journal stays
    once = "--no-check-determinism"  # so that each seed is called once
    result = _pybench(tmp_path, "--json", "r.json", once, CALLS=str(calls))
    assert result.returncode == 2, result.stderr
    for name in ("bench_a", "bench_b"):  # every benchmark ran; each save failed on its own
        line = _line(result.stdout, name)
        assert "ERROR" in line and "could not be saved" in line and "lock" in line
    report = json.loads((tmp_path / "r.json").read_text())
    assert [b["status"] for b in report["benchmarks"]] == ["ERROR", "ERROR"]
    journal = tmp_path / ".pybench" / "journal"
    assert sorted(p.name for p in journal.iterdir()) == ["bench_a.jsonl", "bench_b.jsonl"]
    lock.rmdir()
    again = _pybench(tmp_path, "--resume", once, CALLS=str(calls))
    assert again.returncode == 0, again.stderr
    assert calls.read_text().count("a") == 6  # --resume ran no seed again
    assert not journal.exists()  # saved now: the journals are gone


def test_one_unusable_record_is_an_error_of_its_own(tmp_path: Path) -> None:
    _write(tmp_path, COUNTING)
    first = _pybench(tmp_path, CALLS=str(tmp_path / "calls"))
    assert first.returncode == 0, first.stderr
    baseline = tmp_path / ".pybench" / "baselines.jsonl"
    lines = baseline.read_text().splitlines()
    bad = lines[0][: lines[0].rindex("]")] + ", NaN]" + lines[0][lines[0].rindex("]") + 1 :]
    baseline.write_text(f"{bad}\n{lines[1]}\n")
    result = _pybench(tmp_path, CALLS=str(tmp_path / "calls"))
    assert result.returncode == 2
    line = _line(result.stdout, "bench_a")
    assert "ERROR" in line and "baselines.jsonl:1" in line and "NaN" in line
    assert "PASS" in _line(result.stdout, "bench_b")
    assert baseline.read_text().splitlines()[0] == bad  # kept as it was
    assert "Traceback" not in result.stderr


# -- exits of the interpreter, internal errors ---------------------------------------
EXITS = """
    import os
    import sys

    def bench_hard(seed, *, n_seeds=6):
        os._exit(0)

    def bench_soft(seed, *, n_seeds=6):
        sys.exit(0)

    def bench_ok(seed, *, n_seeds=6):
        return (seed % 97) / 97.0
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_seed_that_exits_the_interpreter_is_an_error(tmp_path: Path, workers: str) -> None:
    _write(tmp_path, EXITS)
    result = _pybench(tmp_path, "--strict", "--workers", workers)
    assert result.returncode == 2, result.stderr  # never 0 without a verdict
    result = _pybench(tmp_path, "--workers", workers)
    assert result.returncode == 2, result.stderr
    assert "ERROR" in _line(result.stdout, "bench_hard")
    assert "os._exit" in _line(result.stdout, "bench_hard")
    assert "ERROR" in _line(result.stdout, "bench_soft")
    assert "NEW" in _line(result.stdout, "bench_ok")  # the run went on after them


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_file_that_exits_the_interpreter_at_import_is_an_error(
    tmp_path: Path, workers: str
) -> None:
    """Discovery imports benchmark files in pybench's own process: an ``os._exit`` there
    must not end pybench with exit 0 and nothing said (a CI would read a pass)."""
    _write(tmp_path, "import os\nprint('leaving')\nos._exit(0)\n", name="bench_gone.py")
    _write(tmp_path, "def bench_ok(seed, *, n_seeds=6):\n    return seed / 7.0\n")
    result = _pybench(tmp_path, "--workers", workers)
    assert result.returncode == 2, (result.stdout, result.stderr)
    line = _line(result.stdout, "benchmarks/bench_gone.py")
    assert "ERROR" in line and "called os._exit(0)" in line and "(line 3)" in line
    assert "pybench.execution" not in line  # named as the SystemExit it stands for
    assert "NEW" in _line(result.stdout, "bench_ok")  # the run went on


HOSTILE = """
    class Unprintable(Exception):
        def __str__(self):
            raise RuntimeError("no message for you")

    def bench_unprintable(seed, *, n_seeds=6):
        raise Unprintable()

    def bench_surrogate_message(seed, *, n_seeds=6):
        raise ValueError("bad \\ud800 value")

    def bench_surrogate_metric(seed, *, n_seeds=6):
        return {"acc\\ud800": 1.0}

    def bench_huge_step(seed, *, n_seeds=6):
        return [{"step": 10**5000, "acc": 1.0}]
"""


def test_hostile_values_are_one_line_errors(tmp_path: Path) -> None:
    _write(tmp_path, HOSTILE)
    result = _pybench(tmp_path, "--json", "r.json", "--markdown", "r.md")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert "could not be read" in _line(result.stdout, "bench_unprintable")
    assert "\\ud800" in _line(result.stdout, "bench_surrogate_message")
    assert "lone surrogate" in _line(result.stdout, "bench_surrogate_metric")
    assert "2**63" in _line(result.stdout, "bench_huge_step")
    assert len(json.loads((tmp_path / "r.json").read_text())["benchmarks"]) == 4


def test_an_exception_in_pybench_is_exit_3_naming_the_benchmark(
    project: Path, write_bench, cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pybench.engine import loop

    def broken(*args: object, **kwargs: object) -> None:
        raise TypeError("a bug")

    write_bench("def bench_a(seed, *, n_seeds=6):\n    return 1.0\n")
    monkeypatch.setattr(loop, "_execute", broken)
    result = cli("benchmarks")
    assert result.exit_code == EXIT_INTERNAL
    lines = result.stderr.splitlines()
    assert lines[-1].startswith("error: internal error in pybench while running bench_a:")
    assert "TypeError: a bug" in lines[-1] and "Traceback" not in result.stderr
    verbose = cli("benchmarks", "-v")
    assert verbose.exit_code == EXIT_INTERNAL
    assert "Traceback" in verbose.stderr and "a bug" in verbose.stderr


# -- hangs -----------------------------------------------------------------------------
THREAD = """
    import threading
    import time

    def bench_a(seed, *, n_seeds=6):
        threading.Thread(target=time.sleep, args=(3600,)).start()  # never joined
        return (seed % 97) / 97.0
"""


def test_a_leftover_thread_does_not_keep_the_run_alive(tmp_path: Path) -> None:
    _write(tmp_path, THREAD)
    result = _pybench(tmp_path, "--json", "r.json", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "1 new" in result.stdout
    assert json.loads((tmp_path / "r.json").read_text())["benchmarks"][0]["status"] == "NEW"


IMPORT_HANG = """
    import multiprocessing
    import time

    if multiprocessing.parent_process() is not None:  # only in a worker process
        time.sleep(3600)

    def bench_a(seed, *, n_seeds=6):
        return 1.0
"""


def test_a_worker_whose_import_hangs_obeys_the_timeout(tmp_path: Path) -> None:
    _write(tmp_path, IMPORT_HANG)
    started = time.monotonic()
    result = _pybench(tmp_path, "--timeout", "1", timeout=60)
    assert result.returncode == 2, result.stderr
    line = _line(result.stdout, "bench_a")
    assert "ERROR" in line and "importing the benchmark file" in line
    assert time.monotonic() - started < 45


def test_dask_without_workers_fails_after_the_wait(tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    _write(tmp_path, "def bench_a(seed, *, n_seeds=6):\n    return 1.0\n")
    with distributed.LocalCluster(
        n_workers=0, processes=False, protocol="tcp", host="127.0.0.1", dashboard_address=":0"
    ) as cluster:
        address = cluster.scheduler_address
        result = _pybench(tmp_path, "--dask", address, "--dask-timeout", "1", timeout=60)
    assert result.returncode == 2, result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith(f"error: --dask {address}: the scheduler has no worker")
    assert "--dask-timeout" in last


# -- output at import time -----------------------------------------------------------
def test_output_printed_at_import_keeps_json_on_stdout_valid(tmp_path: Path) -> None:
    _write(
        tmp_path,
        """
        import sys
        print("banner from the benchmark file")
        print("more noise", file=sys.stderr)

        def bench_a(seed, *, n_seeds=6):
            return (seed % 97) / 97.0
        """,
    )
    for workers in ("1", "2"):
        result = _pybench(tmp_path, "--json", "-", "--workers", workers)
        assert result.returncode == 0, result.stderr
        assert json.loads(result.stdout)["benchmarks"][0]["name"] == "bench_a"
        assert "banner" not in result.stdout


# -- signals ---------------------------------------------------------------------------
SLOW = """
    import os
    import pathlib
    import subprocess
    import time

    def bench_a(seed, *, n_seeds=6):
        return (seed % 97) / 97.0

    def bench_b(seed, *, n_seeds=6, workers=2):
        subprocess.Popen(["sleep", "600"])  # what a seed starts goes with its worker
        pathlib.Path(os.environ["MARK"]).touch()
        time.sleep(600)
        return 1.0
"""


@pytest.mark.parametrize(("signum", "code"), [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
def test_a_signal_stops_the_run_cleanly(tmp_path: Path, signum: int, code: int) -> None:
    _write(tmp_path, SLOW)
    mark = tmp_path / "started"
    proc = _start(tmp_path, MARK=str(mark))
    _out, err = _signal_when_marked(proc, mark, signum)
    assert proc.returncode == code, err
    name = signal.Signals(signum).name
    assert f"interrupted by {name}: saved the baselines of bench_a" in err
    assert "Traceback" not in err
    assert _none_left(proc.pid) == []  # workers, what they started, forkserver, tracker
    records = (tmp_path / ".pybench" / "baselines.jsonl").read_text().splitlines()
    assert [json.loads(line)["bench"] for line in records] == ["bench_a"]  # truthful
    assert not (tmp_path / ".pybench" / "baselines.jsonl.lock").is_dir()


def test_sigterm_during_compare_removes_the_checkouts(tmp_path: Path) -> None:
    repo = build_toy_repo(tmp_path / "repo")
    slow = """import os, pathlib, time
import toypkg


def bench_toy(seed, *, n_seeds=6):
    pathlib.Path(os.environ["MARK"]).touch()
    time.sleep(600)
    return toypkg.value(seed)
"""
    (repo.root / "benchmarks" / "bench_toy.py").write_text(slow)
    commit_package(repo.root, (repo.root / "src" / "toypkg" / "__init__.py").read_text(), "slow")
    temp = tmp_path / "tmp"
    temp.mkdir()
    mark = tmp_path / "started"
    proc = _start(repo.root, "compare", "v1", MARK=str(mark), TMPDIR=str(temp))
    _out, err = _signal_when_marked(proc, mark, signal.SIGTERM)
    assert proc.returncode == 143, err
    assert "interrupted by SIGTERM" in err
    assert _none_left(proc.pid) == []
    assert worktrees(repo.root) == [str(repo.root)]
    assert list(temp.iterdir()) == []
    assert git(repo.root, "status", "--porcelain") == ""
