"""A real Dask cluster: scheduler and worker processes that cannot read the benchmarks.

The scheduler and two single-threaded workers run as separate processes, started
in their own folder outside pytest's temporary tree. Every worker process loads
a guard (``--preload``) whose audit hook refuses, and records, any attempt to
open or list a path under that tree, where every test's benchmarks live: a
seed that needed the client's files would fail, and the record would say so.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pybench.execution import backends, versions
from pybench.execution import dask as dask_backend
from pybench.sources.discover import discover

distributed = pytest.importorskip("distributed")

_GUARD = """
import os
import sys

_FORBIDDEN = os.environ["GUARD_FORBIDDEN"]
_LOG = os.environ["GUARD_LOG"]


def _guard(event, args):
    if event not in ("open", "os.listdir", "os.scandir") or not args:
        return
    target = args[0]
    if target is None or isinstance(target, int):
        return
    path = os.path.abspath(os.fsdecode(target))
    if path == _FORBIDDEN or path.startswith(_FORBIDDEN + os.sep):
        with open(_LOG, "a") as log:
            log.write(f"{os.getpid()} {event} {path}\\n")
        raise PermissionError(f"this Dask worker may not read {path}")


sys.addaudithook(_guard)
"""

_ENV_VARS = ("BENCH_PENALTY", "PYBENCH_TEST_PENALTY", "PYBENCH_TEST_RENDEZVOUS")


@dataclass
class Cluster:
    address: str
    home: Path
    guard_log: Path
    rendezvous: Path

    def client(self) -> Any:
        return distributed.Client(self.address, timeout=30)

    def reads_of_benchmarks(self) -> str:
        return self.guard_log.read_text() if self.guard_log.exists() else ""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Stop a process started in its own session, and whatever it started (a nanny's worker)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            break
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
        try:
            os.killpg(proc.pid, 0)  # the group outlives its leader while a member is left
        except ProcessLookupError:
            break
    proc.poll()


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    forbidden = tmp_path_factory.getbasetemp().resolve()
    home = Path(tempfile.mkdtemp(prefix="pybench-dask-")).resolve()
    assert not str(home).startswith(str(forbidden))
    (home / "guard.py").write_text(_GUARD)
    rendezvous = home / "rendezvous"
    rendezvous.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in _ENV_VARS}
    env.update(
        GUARD_FORBIDDEN=str(forbidden),
        GUARD_LOG=str(home / "guard.log"),
        DASK_DISTRIBUTED__SCHEDULER__ALLOWED_FAILURES="3",
        # a nanny forks its worker instead of spawning a fresh interpreter: quicker (re)starts
        DASK_DISTRIBUTED__WORKER__MULTIPROCESSING_METHOD="fork",
    )
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = [sys.executable, "-m", "dask"]
    commands = [
        [*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]]
        + ["--no-dashboard", "--idle-timeout", "300"],  # a safety net if pytest itself is killed
    ] + [
        [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"]
        + ["--host", "127.0.0.1", "--local-directory", str(home / f"worker{i}")]
        + ["--preload", str(home / "guard.py"), "--death-timeout", "60"]
        for i in range(2)
    ]
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i, command in enumerate(commands):
            with open(home / f"process{i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        command,
                        cwd=home,
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,  # one process group each: killed as a whole
                    )
                )
        cluster = Cluster(address, home, home / "guard.log", rendezvous)
        with _quiet(), cluster.client() as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster
    finally:
        for proc in reversed(procs):
            _stop(proc)
        shutil.rmtree(home, ignore_errors=True)


def _quiet() -> Any:
    """The test's own clients keep Dask's log lines to themselves too."""
    return dask_backend._held_back_dask_logs()


class _DaskTerminal(logging.Handler):
    """Records what reaches the handlers Dask writes to the terminal with."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR:
            self.lines.append(f"{record.name} - {record.levelname} - {record.getMessage()}")


@pytest.fixture
def on_cluster(
    cluster: Cluster, cli: Callable[..., Any], capfd: pytest.CaptureFixture[str]
) -> Iterator[Callable[..., Any]]:
    """Run the CLI against the cluster; then: nothing read the benchmarks, no Dask log line."""
    shutil.rmtree(cluster.rendezvous)
    cluster.rendezvous.mkdir()
    before = cluster.reads_of_benchmarks()
    terminal = _DaskTerminal()
    dask_loggers = [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger) and name.split(".")[0] == "distributed"
        and logger.handlers
    ]  # fmt: skip
    for logger in dask_loggers:
        logger.addHandler(terminal)
    outputs: list[str] = []

    def run(*args: str) -> Any:
        result = cli(*args, "--dask", cluster.address)
        outputs.append(result.output)
        return result

    try:
        yield run
    finally:
        for logger in dask_loggers:
            logger.removeHandler(terminal)
    assert cluster.reads_of_benchmarks() == before, "a worker read the client's benchmark folder"
    assert terminal.lines == []
    out, err = capfd.readouterr()
    assert not any("distributed." in text for text in [out, err, *outputs])


def _write(folder: Path, name: str, source: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(source))
    return path


def _line(result: Any, name: str) -> str:
    return next(line for line in result.stdout.splitlines() if line.startswith(name + " "))


def _records(path: Path) -> dict[str, Any]:
    return {
        rec["bench"]: rec
        for rec in (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    }


_NOISY = """
import os

import numpy as np


def bench_noisy(seed, *, n_seeds=8):
    rng = np.random.default_rng(seed)
    penalty = float(os.environ.get("BENCH_PENALTY", "0"))
    penalty += float(os.environ.get("PYBENCH_TEST_PENALTY", "0"))
    return {"accuracy": float(rng.normal(0.8, 0.01)) - penalty, "min:loss": float(rng.random())}
"""


# -- the guard itself ------------------------------------------------------------
def test_the_guard_stops_a_worker_reading_the_benchmark_folder(cluster, project):
    secret = _write(project / "benchmarks", "bench_secret.py", "X = 1\n")
    with _quiet(), cluster.client() as client:
        got = client.run(secret.read_text, on_error="return")
    assert got and all(isinstance(v, PermissionError) for v in got.values())
    assert str(secret) in cluster.reads_of_benchmarks()
    cluster.guard_log.unlink()


# -- shipping --------------------------------------------------------------------
def test_new_then_pass_without_a_shared_filesystem(project, cli, on_cluster):
    folder = project / "benchmarks"
    _write(folder, "bench_noisy.py", _NOISY)
    serial = cli(str(folder), "--seed", "4", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0, serial.output

    new = on_cluster(str(folder), "--seed", "4", "--baseline", "b.jsonl")
    assert new.exit_code == 0, new.output
    assert "NEW 2 metrics × 1 steps (baseline saved)" in _line(new, "bench_noisy")
    assert (
        _records(project / "b.jsonl")["bench_noisy"]["scores"]
        == _records(project / "serial.jsonl")["bench_noisy"]["scores"]
    )

    again = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert again.exit_code == 0, again.output
    assert "PASS 2 metrics × 1 steps 0/2 slots flagged meta-p=1.000" in _line(again, "bench_noisy")


def test_sibling_modules_travel_with_the_benchmark(project, cli, on_cluster):
    folder = project / "benchmarks"
    _write(
        folder,
        "bench_helped.py",
        """
        import shipped_helpers
        from shipped_tools.scale import factor

        def bench_helped(seed, *, n_seeds=6):
            return shipped_helpers.score(seed) * factor()
        """,
    )
    _write(
        folder,
        "shipped_helpers.py",
        """
        import shipped_tools

        def score(seed):
            return seed % 7 + shipped_tools.BASE
        """,
    )
    (folder / "shipped_tools").mkdir()
    _write(folder / "shipped_tools", "__init__.py", "BASE = 0.5\n")
    _write(folder / "shipped_tools", "scale.py", "def factor():\n    return 2.0\n")
    serial = cli(str(folder), "--seed", "9", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0, serial.output

    result = on_cluster(str(folder), "--seed", "9", "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    assert "NEW" in _line(result, "bench_helped")
    got = _records(project / "b.jsonl")["bench_helped"]
    assert got["scores"] == _records(project / "serial.jsonl")["bench_helped"]["scores"]
    assert len(set(got["scores"]["0"]["score"])) > 1

    # an edited helper reaches the long-lived workers at once
    _write(folder, "shipped_helpers.py", "def score(seed):\n    return seed % 7 + 10.0\n")
    edited = on_cluster(str(folder), "--seed", "9", "--baseline", "edited.jsonl")
    assert edited.exit_code == 0, edited.output
    record = _records(project / "edited.jsonl")["bench_helped"]
    assert record["scores"]["0"]["score"] == [(s % 7 + 10.0) * 2.0 for s in record["seeds"]]


def test_a_failing_seed_shows_the_shipped_source_in_its_traceback(project, on_cluster):
    folder = project / "benchmarks"
    _write(
        folder,
        "bench_broken.py",
        """
        def bench_broken(seed, *, n_seeds=5):
            raise ValueError(f"bad seed {seed}")  # the line the traceback shows
        """,
    )
    result = on_cluster(str(folder), "-v", "--baseline", "b.jsonl")
    assert result.exit_code == 2, result.output
    assert "raised ValueError: bad seed" in _line(result, "bench_broken")
    assert f'File "{folder / "bench_broken.py"}", line 3, in bench_broken' in result.output
    assert "# the line the traceback shows" in result.output


# -- the environment -------------------------------------------------------------
def test_env_forwards_a_toggle_and_without_it_the_workers_own_environment_counts(
    project, on_cluster, monkeypatch
):
    folder = project / "benchmarks"
    _write(folder, "bench_noisy.py", _NOISY)
    new = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert new.exit_code == 0, new.output

    monkeypatch.setenv("BENCH_PENALTY", "0.05")
    forwarded = on_cluster(str(folder), "--baseline", "b.jsonl", "--env", "BENCH_PENALTY")
    assert forwarded.exit_code == 1, forwarded.output
    assert "FAIL 2 metrics × 1 steps 1/2 slots flagged" in _line(forwarded, "bench_noisy")

    not_forwarded = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert not_forwarded.exit_code == 0, not_forwarded.output  # the workers have no penalty
    assert "PASS 2 metrics × 1 steps 0/2 slots flagged meta-p=1.000" in _line(
        not_forwarded, "bench_noisy"
    )

    # the benchmark can name it itself
    _write(
        folder, "bench_noisy.py", _NOISY.replace("n_seeds=8", "n_seeds=8, env=['BENCH_PENALTY']")
    )
    keyword = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert keyword.exit_code == 1, keyword.output

    # every PYBENCH_* variable travels unasked
    _write(folder, "bench_noisy.py", _NOISY)
    monkeypatch.delenv("BENCH_PENALTY")
    monkeypatch.setenv("PYBENCH_TEST_PENALTY", "0.05")
    prefixed = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert prefixed.exit_code == 1, prefixed.output

    # set for each call only: without it, the long-lived workers are as they were
    monkeypatch.delenv("PYBENCH_TEST_PENALTY")
    after = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert after.exit_code == 0, after.output


# -- versions --------------------------------------------------------------------
def test_versions_are_compared_with_each_worker_before_seeds_run(project, on_cluster, monkeypatch):
    folder = project / "benchmarks"
    _write(folder, "bench_noisy.py", "import click\n" + _NOISY)
    same = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert same.exit_code == 0 and "warning" not in same.output, same.output

    # different versions here only: the workers import their own, untouched versions module
    real = versions._version
    fake = {"click": "0.0.1", "numpy": "0.0.2"}
    monkeypatch.setattr(versions, "_version", lambda name: fake.get(name) or real(name))
    differ = on_cluster(str(folder), "--baseline", "b.jsonl")
    assert differ.exit_code == 0, differ.output  # a warning, not a verdict
    assert "PASS" in _line(differ, "bench_noisy")
    click, numpy = (importlib.metadata.version(name) for name in ("click", "numpy"))
    warnings = [line for line in differ.stderr.splitlines() if line.startswith("warning:")]
    pattern = r"warning: bench_noisy: (\w+) is ([\d.]+) here but ([\d.]+) on worker (tcp://\S+)$"
    found = [re.match(pattern, line).groups() for line in warnings]  # type: ignore[union-attr]
    assert [f[:3] for f in found] == [("numpy", "0.0.2", numpy)] * 2 + [
        ("click", "0.0.1", click)
    ] * 2
    assert len({f[3] for f in found}) == 2  # each worker named


# -- a worker lost mid-run -------------------------------------------------------
_STEADY = """
import os
import time
from pathlib import Path

import numpy as np


def bench_steady(seed, *, n_seeds=8):
    started = Path(os.environ["PYBENCH_TEST_RENDEZVOUS"]) / f"{seed}-{os.getpid()}"
    started.write_text("")
    time.sleep(0.4)
    rng = np.random.default_rng(seed)
    return [{"step": s, "min:loss": float(rng.normal(1.0 / s, 0.1))} for s in (1, 10)]
"""


def test_a_worker_killed_mid_seed_changes_nothing(project, cluster, on_cluster, monkeypatch):
    folder = project / "benchmarks"
    _write(folder, "bench_steady.py", _STEADY)
    monkeypatch.setenv("PYBENCH_TEST_RENDEZVOUS", str(cluster.rendezvous))
    calm = on_cluster(str(folder), "--seed", "21", "--baseline", "calm.jsonl")
    assert calm.exit_code == 0, calm.output
    for marker in cluster.rendezvous.iterdir():
        marker.unlink()

    killed: list[int] = []

    def kill_the_first_worker_to_start_a_seed() -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            markers = list(cluster.rendezvous.iterdir())
            if markers:
                pid = int(markers[0].name.split("-")[1])
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_the_first_worker_to_start_a_seed)
    killer.start()
    try:
        hit = on_cluster(str(folder), "--seed", "21", "--baseline", "killed.jsonl")
    finally:
        killer.join()
    assert killed, "no seed started"
    assert hit.exit_code == 0, hit.output
    assert "NEW" in _line(hit, "bench_steady")
    assert re.search(
        r"^  note: \d+ seeds? rescheduled after a Dask worker was lost$", hit.output, re.M
    )
    starts = [m.name for m in cluster.rendezvous.iterdir()]
    assert len(starts) > 8  # the killed seed ran again elsewhere
    assert (
        _records(project / "killed.jsonl")["bench_steady"]["scores"]
        == _records(project / "calm.jsonl")["bench_steady"]["scores"]
    )
    verdict = on_cluster(str(folder), "--baseline", "killed.jsonl")
    assert "PASS 1 metrics × 2 steps 0/2 slots flagged meta-p=1.000" in _line(
        verdict, "bench_steady"
    )
    with _quiet(), cluster.client() as client:
        client.wait_for_workers(2, timeout=60)  # the nanny restarted it, for the next tests


def test_the_backend_counts_rescheduled_seeds(project, cluster, monkeypatch):
    folder = project / "benchmarks"
    _write(folder, "bench_steady.py", _STEADY)
    shutil.rmtree(cluster.rendezvous)
    cluster.rendezvous.mkdir()
    monkeypatch.setenv("PYBENCH_TEST_RENDEZVOUS", str(cluster.rendezvous))
    bench = discover(folder)[0]
    with backends.open_pool(dask=cluster.address) as pool:
        backend = pool.backend_for(bench, workers=1, gpus=None)
        assert isinstance(backend, dask_backend.DaskBackend)
        outcomes = backend.map_seeds(bench, list(range(6)))
        first = next(outcomes)
        assert first.failure is None and backend.notes.rescheduled == 0
        # the worker that ran it is on its next seed (or has one queued): lose it
        ran = next(m for m in cluster.rendezvous.iterdir() if m.name.startswith(f"{first.seed}-"))
        os.kill(int(ran.name.split("-")[1]), signal.SIGKILL)
        rest = list(outcomes)
    assert sorted(o.seed for o in [first, *rest]) == list(range(6))
    assert all(o.failure is None for o in rest)
    assert backend.notes.rescheduled >= 1
    with _quiet(), cluster.client() as client:
        client.wait_for_workers(2, timeout=60)
