"""The history of runs, against both stores: SQLite always, PostgreSQL when a server is given.

The PostgreSQL parameter needs ``PYBENCH_TEST_POSTGRES`` (a server URL whose user may create
databases; ``.ci/run`` starts one on loopback); each test gets a database of its own.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import numpy as np
import pytest

from pybench.history import schema
from pybench.history.query import build
from pybench.history.stores import HistoryError, open_store
from tests.historydata import MACHINE, result, run_entry, step_history

POSTGRES = os.environ.get("PYBENCH_TEST_POSTGRES")
REPO = Path(__file__).resolve().parent.parent

BENCH = """
    import os

    def bench_model(seed, *, n_seeds=8):
        drop = 0.2 if os.environ.get("REGRESS") else 0.0
        return [{"step": s, "accuracy": 0.8 + ((seed * 7 + s) % 13) / 100 - drop} for s in (1, 2)]
"""


def _database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


@pytest.fixture(params=["sqlite", "postgres"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty history store: a SQLite file, or a new PostgreSQL database."""
    if request.param == "sqlite":
        yield str(tmp_path / "store" / "history.db")
        return
    if not POSTGRES:
        pytest.skip(
            "no PostgreSQL server: set PYBENCH_TEST_POSTGRES=postgresql://USER@HOST:PORT/DB "
            "(.ci/run starts one with .ci/postgres)"
        )
    import psycopg

    name = f"pybench_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name}")
    try:
        yield _database(POSTGRES, name)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def _pybench(*args: str, cwd: Path, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pybench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, "PYBENCH_HISTORY": "", **(env or {})},
        timeout=300,
    )


# -- the store ------------------------------------------------------------------------
def test_a_run_reads_back_whole(target):
    rng = np.random.default_rng(1)
    values = rng.normal(size=(5, 3))
    slots = [(1, "accuracy"), (2, "accuracy"), (2, "min:loss")]
    ok = result("bench_a", slots, values, seeds=[11, 12, 13, 14, 2**32 - 1])
    broken = result("bench_b", [], np.zeros((0, 0)))
    broken = type(broken)(bench="bench_b", status="ERROR", error="boom on seed 3")
    with open_store(target) as store:
        run_id = store.append(run_entry(0, [ok, broken]))
        [run] = store.runs()
        assert (run.id, run.command, run.branch, run.dirty) == (run_id, "run", "main", False)
        assert run.commit_short == run.commit[:7]
        stored = store.values(run_id, "bench_a")
        for k, slot in enumerate(slots):
            assert stored[slot] == values[:, k].tolist()  # full float precision
        assert store.machines() == {run.machine_id: MACHINE}
        assert store.benches() == ["bench_a", "bench_b"]
        [summary] = store.summaries()  # an ERROR has no slots to summarise
        assert summary.bench == "bench_a"
        means = np.frombuffer(summary.means, dtype="<f8")
        assert np.allclose(means, values.mean(axis=0))
        lows, highs = (np.frombuffer(b, dtype="<f8") for b in (summary.lows, summary.highs))
        assert np.all(lows < means) and np.all(means < highs)


def test_the_schema_is_created_once_and_migrated(target, monkeypatch):
    with open_store(target) as store:
        assert store.version() == schema.SCHEMA_VERSION == 1
    extra = ("CREATE TABLE pybench_extra (x INTEGER)",)
    monkeypatch.setattr(schema, "MIGRATIONS", [*schema.MIGRATIONS, extra])
    for _ in range(2):  # the second open finds version 2 and runs nothing
        with open_store(target) as store:
            assert store.version() == 2
            store.execute("SELECT x FROM pybench_extra").fetchall()
    monkeypatch.setattr(schema, "MIGRATIONS", schema.MIGRATIONS[:1])
    with pytest.raises(HistoryError, match="schema version 2 is newer than this pybench"):
        open_store(target)


def test_reading_a_missing_sqlite_history_is_an_error(tmp_path):
    with pytest.raises(HistoryError, match="no history yet"):
        open_store(tmp_path / "none.db", create=False)
    assert not (tmp_path / "none.db").exists()


def test_query_finds_the_step_and_keeps_the_latest_run_of_a_commit(target):
    runs = step_history(20, step_at=12, benches=("bench_a", "bench_b"), seed=3)
    with open_store(target) as store:
        for run in runs:
            store.append(run)
        rerun = run_entry(19, [result("bench_a", [(1, "accuracy")], np.full((3, 1), 5.0))])
        store.append(rerun)  # the same commit again: it replaces that commit's point
        histories = build(store)
        assert [h.name for h in histories] == ["bench_a", "bench_b"]
        slot = histories[0].slots[0]
        assert len(slot) == 20 and slot.means[-1] == 5.0 and slot.counts[-1] == 2
        assert [c.index for c in histories[1].slots[0].changes] == [12]
        assert histories[1].slots[0].statuses[12] == "FAIL"
        assert len(build(store, last=5)[1].slots[0]) == 5
        assert build(store, benches=["bench_b"], metric="nope") == []


# -- recording from the command line ----------------------------------------------------
def test_run_update_and_a_regression_are_recorded(target, project, write_bench, cli, monkeypatch):
    write_bench(BENCH)
    assert cli("benchmarks", "--seed", "1", "--history", target).exit_code == 0
    monkeypatch.setenv("REGRESS", "1")
    assert cli("benchmarks", "--history", target).exit_code == 1
    assert cli("update", "benchmarks", "--yes", "--history", target).exit_code == 0
    with open_store(target, create=False) as store:
        runs = store.runs()
        assert [r.command for r in runs] == ["run", "run", "update"]
        assert all(r.commit is None and r.machine_id for r in runs)  # outside git
        statuses = [s.status for s in sorted(store.summaries(), key=lambda s: s.run_id)]
        assert statuses == ["NEW", "FAIL", "NEW"]
        saved = json.loads((project / ".pybench" / "baselines.jsonl").read_text())
        first = store.values(runs[0].id, "bench_model")
        assert first[(1, "accuracy")] != saved["scores"]["1"]["accuracy"]  # update resampled
        second = store.values(runs[1].id, "bench_model")
        assert all(v < 0.8 for v in second[(2, "accuracy")])
    assert not (project / ".pybench" / "history.db").exists()  # --history went elsewhere


def test_the_default_history_is_beside_the_baseline_and_ignored_by_git(
    project, write_bench, cli, monkeypatch
):
    monkeypatch.delenv("PYBENCH_HISTORY", raising=False)
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / ".pybench").mkdir()
    # a .gitignore an older pybench wrote: the history's line is added to it
    older = "# pybench's lock file\nbaselines.jsonl.lock\n"
    (project / ".pybench" / ".gitignore").write_text(older)
    write_bench(BENCH)
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    assert (project / ".pybench" / "history.db").is_file()
    assert "history.db*" in (project / ".pybench" / ".gitignore").read_text().split("\n")
    status = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=all"],
        cwd=project, capture_output=True, text=True, check=True,
    ).stdout
    assert "history.db" not in status and ".pybench/baselines.jsonl" in status
    assert cli("benchmarks", "--no-history").exit_code == 0
    with open_store(project / ".pybench" / "history.db") as store:
        assert len(store.runs()) == 1


def test_the_environment_names_the_history(project, write_bench, cli, monkeypatch, tmp_path):
    write_bench(BENCH)
    monkeypatch.setenv("PYBENCH_HISTORY", f"sqlite:///{tmp_path}/env/history.db")
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    with open_store(tmp_path / "env" / "history.db") as store:
        assert len(store.runs()) == 1
    assert not (project / ".pybench" / "history.db").exists()


@pytest.mark.parametrize("where", ["a-file/history.db", "postgresql://nobody@127.0.0.1:1/none"])
def test_a_failed_write_is_a_warning_and_the_verdict_stands(
    where, project, write_bench, cli, monkeypatch
):
    (project / "a-file").write_text("not a folder")
    write_bench(BENCH)
    first = cli("benchmarks", "--seed", "1", "--history", where)
    assert first.exit_code == 0
    assert "warning: the run was not recorded in" in first.stderr
    assert "its verdict stands" in first.stderr and "Traceback" not in first.output
    assert (project / ".pybench" / "baselines.jsonl").is_file()  # the baseline is saved
    monkeypatch.setenv("REGRESS", "1")
    second = cli("benchmarks", "--history", where)
    assert second.exit_code == 1 and "FAIL" in second.stdout


def test_a_password_is_never_shown(project, write_bench, cli):
    write_bench(BENCH)
    result = cli("benchmarks", "--history", "postgresql://me:s3cret@127.0.0.1:1/none")
    assert "s3cret" not in result.output and "me:***@127.0.0.1:1" in result.stderr


def test_pytest_plugin_sessions_are_recorded(target, project, write_bench):
    write_bench(BENCH, name="bench_model.py")
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--pybench"]
    done = subprocess.run(
        [*command, "--pybench-history", target, "benchmarks"],
        cwd=project, capture_output=True, text=True, timeout=300,
        env={**os.environ, "PYBENCH_HISTORY": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    with open_store(target, create=False) as store:
        [run] = store.runs()
        assert run.command == "pytest"
        assert [s.status for s in store.summaries()] == ["NEW"]


# -- reading it back --------------------------------------------------------------------
def test_history_command_json_and_terminal(target, cli, project):
    with open_store(target) as store:
        for run in step_history(30, step_at=18, slots=((1, "accuracy"), (5, "min:loss")), seed=4):
            store.append(run)
    shown = cli("history", "--history", target)
    assert shown.exit_code == 0, shown.output
    lines = shown.stdout.splitlines()
    assert lines[0] == "bench_a" and lines[-1] == "1 benchmark, 2 slots, 2 change points"
    assert "│" in lines[1] and "change at" in lines[2] and "worse" in lines[2]
    assert "better" in lines[4]  # min:loss fell 4 %: lower is better
    got = cli("history", "--history", target, "--json", "-", "--metric", "accuracy")
    document = json.loads(got.stdout)
    [bench] = document["benchmarks"]
    [slot] = bench["slots"]
    assert (bench["name"], slot["step"], slot["metric"], slot["better"]) == (
        "bench_a", 1, "accuracy", "higher",
    )
    assert len(slot["runs"]) == 30
    assert set(slot["runs"][0]) >= {"commit", "time", "mean", "low", "high", "status", "machine"}
    [change] = slot["change_points"]
    assert abs(change["index"] - 18) <= 1 and change["worse"] and change["p"] <= 0.01
    assert change["commit"] == slot["runs"][change["index"]]["commit"]
    assert change["after"] < change["before"]
    assert len(document["runs"]) == 30 and document["schema_version"] == 1
    last = json.loads(cli("history", "--history", target, "--json", "-", "--last", "4").stdout)
    assert len(last["benchmarks"][0]["slots"][0]["runs"]) == 4


def test_history_command_errors(target, cli, project):
    missing = cli("history")
    assert missing.exit_code == 2 and "no history yet" in missing.stderr
    with open_store(target) as store:
        store.append(step_history(1, step_at=None)[0])
    unknown = cli("history", "--history", target, "--bench", "other")
    assert unknown.exit_code == 2
    assert "--bench bench_other: no recorded run (recorded benchmarks: bench_a)" in unknown.stderr


def test_names_from_the_store_cannot_reach_the_terminal(target, cli, project):
    evil = "bench_\x1b[31mred\nline"
    with open_store(target) as store:
        store.append(run_entry(0, [result(evil, [(1, "m\x07")], np.ones((2, 1)))]))
    shown = cli("history", "--history", target)
    assert "\x1b" not in shown.stdout and "\x07" not in shown.stdout
    assert "bench_␛[31mred␊line" in shown.stdout  # visible stand-ins, as in every report


# -- concurrency and crashes ------------------------------------------------------------
_WITH_TESTS = {**os.environ, "PYTHONPATH": str(REPO)}
"""Scripts below import the test helpers (``tests.historydata``)."""

WRITER = """
import sys
import numpy as np
from pybench.history.stores import open_store
from tests.historydata import result, run_entry

target, who = sys.argv[1], int(sys.argv[2])
store = open_store(target)
for i in range(10):
    values = np.full((4, 2), who * 100 + i, dtype=float)
    store.append(run_entry(who * 100 + i, [result(f"bench_{who}", [(1, "a"), (2, "a")], values)]))
store.close()
"""


def test_four_writers_at_once_lose_nothing(target, tmp_path):
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [
        subprocess.Popen([sys.executable, str(script), target, str(who)], env=_WITH_TESTS)
        for who in range(4)
    ]
    assert [p.wait(timeout=300) for p in procs] == [0, 0, 0, 0]
    with open_store(target) as store:
        runs = store.runs()
        assert len(runs) == 40 and len({r.uid for r in runs}) == 40
        for run in runs:
            [bench] = [s.bench for s in store.summaries() if s.run_id == run.id]
            who = int(bench.removeprefix("bench_"))
            i = int(store.values(run.id, bench)[(1, "a")][0]) - who * 100
            assert 0 <= i < 10
        assert len(store.summaries()) == 40


def test_four_pybench_processes_at_once_lose_nothing(target, project, write_bench):
    write_bench(BENCH)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pybench", "benchmarks", "--history", target,
             "--baseline", f"b{i}.jsonl", "--seed", str(i)],
            cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(4)
    ]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    assert not any("not recorded" in err for _, err in outputs)
    with open_store(target) as store:
        assert len(store.runs()) == 4 and len(store.summaries()) == 4


KILLED = """
import sys, time
import numpy as np
from pybench.history import stores
from tests.historydata import result, run_entry

target, ready = sys.argv[1], sys.argv[2]
store = stores.open_store(target)
for i in range(3):
    store.append(run_entry(i, [result("bench_a", [(1, "a")], np.ones((3, 1)))]))
inserted = store._insert_slots

def stall(rows):
    rows = list(rows)
    inserted(rows[: len(rows) // 2])  # half the slot rows written, the transaction open
    open(ready, "w").close()
    time.sleep(600)

store._insert_slots = stall
slots = [(s, "a") for s in range(200)]
store.append(run_entry(3, [result("bench_a", slots, np.ones((3, 200)))]))
"""


def test_a_killed_writer_leaves_the_store_readable(target, tmp_path):
    script, ready = tmp_path / "killed.py", tmp_path / "ready"
    script.write_text(KILLED)
    proc = subprocess.Popen([sys.executable, str(script), target, str(ready)], env=_WITH_TESTS)
    try:
        deadline = time.monotonic() + 120
        while not ready.exists():
            assert proc.poll() is None, "the writer ended before it stalled"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    with open_store(target) as store:  # the half-written run is gone, the rest is whole
        assert len(store.runs()) == 3 and len(store.summaries()) == 3
        assert store.execute("SELECT COUNT(*) FROM pybench_slots").fetchone()[0] == 3
        store.append(run_entry(4, [result("bench_a", [(1, "a")], np.ones((3, 1)))]))
        assert len(build(store)[0].slots[0]) == 4


def test_huge_values_summarise_without_a_numpy_warning():
    import warnings

    from pybench.history.entries import summarise

    values = np.array([[1e300, -1e300, 5.0], [-1e300, 1e300, 6.0], [1.7e308, 0.0, 7.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mean, low, high = summarise(values)
    assert np.all(np.isfinite(mean)) and np.isfinite(low[2]) and low[2] < 6.0 < high[2]
