"""Execution back-ends (SPEC §6): worker processes, one seed per GPU, Dask; failures and Ctrl-C."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result

from pybench.engine.collect import run_seeds
from pybench.execution import backends
from pybench.execution.backends import ProcessBackend
from pybench.execution.evaluate import SerialBackend
from pybench.sources.discover import discover

FIXTURES = Path(__file__).parent / "fixtures" / "parallel"


# -- helpers -------------------------------------------------------------------
@pytest.fixture
def bench_dir(project: Path) -> Callable[..., Path]:
    """Copy fixture files into the project's ``benchmarks/`` (markers land beside them)."""

    def copy(*names: str) -> Path:
        folder = project / "benchmarks"
        for name in names:
            shutil.copy(FIXTURES / name, folder / name)
        return folder

    return copy


def _records(path: Path) -> dict[str, dict[str, Any]]:
    """The baseline file's records by benchmark name, as raw JSON."""
    return {
        rec["bench"]: rec
        for rec in (json.loads(line) for line in path.read_text().splitlines() if line.strip())
    }


def _values_bits(record: dict[str, Any]) -> tuple[list[int], dict[str, dict[str, list[str]]]]:
    """Seeds and every stored value as exact hex strings."""
    return record["seeds"], {
        step: {metric: [float.hex(v) for v in values] for metric, values in metrics.items()}
        for step, metrics in record["scores"].items()
    }


def _line(result: Result | str, name: str) -> str:
    text = result if isinstance(result, str) else result.stdout
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def _alive(pid: int) -> bool:
    """Is ``pid`` a running (not zombie) process?"""
    if not Path("/proc/self/stat").exists():  # no procfs: zombies count as alive
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def _wait_for(predicate: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


# -- local worker processes ----------------------------------------------------
def test_workers_bit_identical_to_serial_and_in_seed_order(project, bench_dir, cli):
    folder = bench_dir("bench_det.py")
    serial = cli(str(folder), "--seed", "7", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0, serial.output
    parallel = cli(str(folder), "--seed", "7", "--baseline", "workers.jsonl", "--workers", "3")
    assert parallel.exit_code == 0, parallel.output
    assert "NEW 2 metrics × 3 steps (baseline saved)" in _line(parallel, "bench_det")
    want = _records(project / "serial.jsonl")["bench_det"]
    got = _records(project / "workers.jsonl")["bench_det"]
    assert _values_bits(got) == _values_bits(want)

    # and a parallel run compared with the serial baseline sees no change at all
    again = cli(str(folder), "--baseline", "serial.jsonl", "--workers", "2")
    assert again.exit_code == 0, again.output
    assert "PASS 2 metrics × 3 steps 0/6 slots flagged meta-p=1.000" in _line(again, "bench_det")


def test_workers_keyword_runs_seeds_in_other_processes(project, write_bench, cli):
    write_bench(
        """
        import os

        def bench_where(seed, *, n_seeds=6, workers=2):
            return float(os.getpid())
        """
    )
    result = cli("benchmarks", "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    pids = set(_records(project / "b.jsonl")["bench_where"]["scores"]["0"]["score"])
    assert float(os.getpid()) not in pids
    assert len(pids) == 2


def test_outcomes_stream_as_they_finish_and_rows_stay_in_seed_order(project, write_bench):
    path = write_bench(
        """
        import time

        def bench_order(seed):
            time.sleep(1.0 if seed == 100 else 0.01)
            return {"seed": float(seed)}
        """
    )
    bench = discover(path)[0]
    seeds = [100, 101, 102, 103, 104]
    backend = ProcessBackend(workers=2)
    try:
        finished: list[int] = []
        order = [o.seed for o in backend.map_seeds(bench, seeds)]
        assert sorted(order) == seeds
        assert order[-1] == 100  # the slow first seed arrives last: yielded as completed

        result = run_seeds(
            bench, seeds, backend=backend, on_outcome=lambda outcome: finished.append(1)
        )
    finally:
        backend.close()
    assert len(finished) == len(seeds)  # the progress bar ticks once per finished seed
    assert result.values[:, 0].tolist() == [float(s) for s in seeds]


def test_closing_early_cancels_outstanding_seeds_and_stops_workers(project, bench_dir):
    folder = bench_dir("bench_slow.py")
    bench = discover(folder)[0]
    backend = ProcessBackend(workers=2)
    outcomes = backend.map_seeds(bench, list(range(12)))
    first = next(outcomes)
    assert first.failure is None
    pids = backend.pids
    assert len(pids) == 2
    started = time.monotonic()
    outcomes.close()
    assert time.monotonic() - started < 3.0
    assert not any(_alive(pid) for pid in pids)
    assert len(list((folder / "started").iterdir())) <= 4  # most seeds never started
    backend.close()  # idempotent


def test_ctrl_c_handed_to_another_thread_still_ends_the_wait(project, bench_dir, monkeypatch):
    # The kernel may give a process's SIGINT to any of its threads (a BLAS pool's, after the
    # process was stopped and continued): the handler then only marks it, and the wait for a
    # 30 s seed must still end soon after, not when the seed does.
    import threading

    from pybench.execution import interrupts

    monkeypatch.setenv("PYBENCH_TEST_SLEEP", "30")
    folder = bench_dir("bench_slow.py")
    bench = discover(folder)[0]
    started = folder / "started"

    def ctrl_c_on_this_thread() -> None:
        _wait_for(lambda: started.exists() and any(started.iterdir()), 30)
        signal.pthread_kill(threading.get_ident(), signal.SIGINT)

    backend = ProcessBackend(workers=1)
    helper = threading.Thread(target=ctrl_c_on_this_thread, daemon=True)
    begun = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt), interrupts.guard(on_force=backend.kill):
            helper.start()
            list(backend.map_seeds(bench, [1]))
    finally:
        backend.close()
        helper.join(5)
    assert time.monotonic() - begun < 15


def test_worker_sees_environment_set_after_start_up(project, write_bench, monkeypatch):
    # The forkserver is shared across runs; workers must still see the current environment.
    path = write_bench(
        """
        import os

        def bench_env(seed):
            return float(os.environ["PYBENCH_TEST_VALUE"])
        """
    )
    bench = discover(path)[0]
    for value in ("1.5", "2.5"):
        monkeypatch.setenv("PYBENCH_TEST_VALUE", value)
        backend = ProcessBackend(workers=2)
        try:
            got = {o.values[(0, "score")] for o in backend.map_seeds(bench, [1, 2, 3])}
        finally:
            backend.close()
        assert got == {float(value)}


def test_sys_path_puts_given_sources_ahead_of_the_parents(project, write_bench, monkeypatch):
    # Two copies of a package: the parent imports one, the workers must import the other.
    for folder, value in (("theirs", 1.0), ("ours", 2.0)):
        (project / folder / "shadowed").mkdir(parents=True)
        (project / folder / "shadowed" / "__init__.py").write_text(f"VALUE = {value}\n")
    monkeypatch.syspath_prepend(str(project / "theirs"))
    import shadowed

    assert shadowed.VALUE == 1.0
    monkeypatch.delitem(sys.modules, "shadowed")
    path = write_bench(
        """
        import shadowed

        def bench_shadowed(seed):
            return shadowed.VALUE
        """
    )
    bench = discover(path)[0]
    backend = ProcessBackend(workers=2, sys_path=[project / "ours"])
    try:
        got = {o.values[(0, "score")] for o in backend.map_seeds(bench, [1, 2, 3])}
    finally:
        backend.close()
    assert got == {2.0}


def test_forwarded_variables_are_set_for_each_call_in_a_worker(project, write_bench, monkeypatch):
    # each seed moves PYBENCH_T_VALUE on; forwarded, every call starts from the client's value
    path = write_bench(
        """
        import os

        def bench_drift(seed, *, n_seeds=4):
            value = float(os.environ["PYBENCH_T_VALUE"])
            os.environ["PYBENCH_T_VALUE"] = str(value + 1)
            return value
        """
    )
    bench = discover(path)[0]
    monkeypatch.setenv("PYBENCH_T_VALUE", "1.5")
    got = {}
    for forwarded in (True, False):
        env = backends.forwarded_env() if forwarded else {}
        backend = ProcessBackend(workers=1, env=env)
        try:
            got[forwarded] = sorted(
                o.values[(0, "score")] for o in backend.map_seeds(bench, [1, 2, 3])
            )
        finally:
            backend.close()
    assert got == {True: [1.5, 1.5, 1.5], False: [1.5, 2.5, 3.5]}


def test_forwarded_env_takes_every_pybench_variable_and_the_named_ones():
    environ = {"PYBENCH_SEED": "3", "PYBENCH_X": "", "MODEL": "big", "HOME": "/root"}
    assert backends.forwarded_env(["MODEL", "NOT_SET"], environ) == {
        "MODEL": "big",
        "NOT_SET": None,  # unset here: unset for the call on the worker too
        "PYBENCH_SEED": "3",
        "PYBENCH_X": "",
    }
    assert backends.forwarded_env(environ=environ) == {"PYBENCH_SEED": "3", "PYBENCH_X": ""}
    for name, why in [("A=1", "not an assignment"), ("", "non-empty"), ("A B", "not a valid")]:
        with pytest.raises(backends.BackendError, match=f"--env '{name}': .*{why}"):
            backends.forwarded_env([name], environ)


# -- GPUs ------------------------------------------------------------------------
def test_gpus_pin_each_seed_to_one_listed_device_and_use_all(project, bench_dir, cli):
    folder = bench_dir("bench_gpu.py")
    before = os.environ.get("CUDA_VISIBLE_DEVICES")
    result = cli(str(folder), "--gpus", "3,5", "--baseline", "b.jsonl", "--seed", "1")
    assert result.exit_code == 0, result.output
    assert os.environ.get("CUDA_VISIBLE_DEVICES") == before  # the parent is untouched

    record = _records(project / "b.jsonl")["bench_gpu"]
    devices = record["scores"]["0"]["score"]
    assert len(devices) == 8 and set(devices) == {3.0, 5.0}  # every seed one device, both used

    seen = {}
    for seed in record["seeds"]:
        pid, device = (folder / "seen" / f"{seed}.txt").read_text().split()
        seen.setdefault(int(pid), set()).add(device)
    assert os.getpid() not in seen
    assert all(len(devices) == 1 for devices in seen.values())  # a worker keeps its GPU
    assert sorted(d for devs in seen.values() for d in devs) == ["3", "5"]  # one worker per GPU


def test_gpus_keyword(project, bench_dir, cli):
    folder = bench_dir("bench_gpu.py")
    source = (folder / "bench_gpu.py").read_text()
    (folder / "bench_gpu.py").write_text(source.replace("n_seeds=8", "n_seeds=6, gpus=[0, 1]"))
    result = cli(str(folder), "--baseline", "b.jsonl")
    assert result.exit_code == 0, result.output
    assert set(_records(project / "b.jsonl")["bench_gpu"]["scores"]["0"]["score"]) == {0.0, 1.0}


# -- failures --------------------------------------------------------------------
def test_dead_workers_are_clean_errors_and_other_benchmarks_still_run(project, bench_dir):
    folder = bench_dir("crashers.py")
    proc = subprocess.run(
        [sys.executable, "-m", "pybench", str(folder), "--workers", "2", "-v"]
        + ["--baseline", str(project / "b.jsonl"), "--seed", "3"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout
    assert proc.returncode == 2, proc.stdout + proc.stderr
    died = r"ERROR seed \d+ was running when its worker process died \(exit code "
    # os._exit in a seed is caught in the worker itself: the worker lives on
    assert re.search(r"ERROR seed \d+ called os\._exit\(3\)", _line(out, "bench_exit"))
    assert re.search(died + r"-9, SIGKILL: killed, often by the out-of-memory killer\)$",
                     _line(out, "bench_sigkill"))  # fmt: skip
    assert re.search(died + r"-11, SIGSEGV", _line(out, "bench_segfault"))
    assert re.search(r"ERROR seed \d+ raised ValueError: bad seed \d+", _line(out, "bench_raises"))
    assert "Traceback" in out and "crashers.py" in out  # -v shows the user's traceback
    assert "NEW 1 metrics × 1 steps (baseline saved)" in _line(out, "bench_ok")
    assert "pybench/" not in proc.stderr  # no traceback of pybench's own code
    assert list(_records(project / "b.jsonl")) == ["bench_ok"]


def test_ctrl_c_stops_workers_promptly_and_saves_only_finished(project, bench_dir):
    folder = bench_dir("bench_slow.py", "bench_det.py")
    env = {**os.environ, "PYBENCH_TEST_SLEEP": "30"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", str(folder), "--workers", "2"]
        + ["--baseline", str(project / "b.jsonl")],
        cwd=project,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a terminal's foreground job
    )
    try:
        started = folder / "started"
        assert _wait_for(lambda: started.exists() and len(list(started.iterdir())) >= 2, 60)
        pids = {int(p.read_text()) for p in started.iterdir()}
        t0 = time.monotonic()
        os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends: the whole process group
        out, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert time.monotonic() - t0 < 10
    assert proc.returncode == 130, out + err
    assert "interrupted: saved the baselines of bench_det " in err
    assert "nothing else was saved" in err and "bench_slow" not in err
    assert "Traceback" not in err
    assert _wait_for(lambda: not any(_alive(pid) for pid in pids), 5)
    # bench_det finished before the interrupt and keeps its whole record; bench_slow has none
    assert list(_records(project / "b.jsonl")) == ["bench_det"]


# -- Dask ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[str]:
    """A real two-process LocalCluster for the module; a seed may kill one worker and retry."""
    distributed = pytest.importorskip("distributed")
    import logging

    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
        silence_logs=logging.CRITICAL,
        scheduler_kwargs={"allowed_failures": 1},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def test_dask_bit_identical_to_serial(project, bench_dir, cli, dask_cluster):
    folder = bench_dir("bench_det.py")
    serial = cli(str(folder), "--seed", "11", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0, serial.output
    dask = cli(str(folder), "--seed", "11", "--baseline", "dask.jsonl", "--dask", dask_cluster)
    assert dask.exit_code == 0, dask.output
    want = _records(project / "serial.jsonl")["bench_det"]
    assert _values_bits(_records(project / "dask.jsonl")["bench_det"]) == _values_bits(want)


def test_dask_address_from_environment(project, bench_dir, cli, dask_cluster, monkeypatch):
    folder = bench_dir("bench_det.py")
    assert cli(str(folder), "--seed", "11", "--baseline", "serial.jsonl").exit_code == 0
    monkeypatch.setenv("PYBENCH_DASK", dask_cluster)
    again = cli(str(folder), "--baseline", "serial.jsonl")
    assert again.exit_code == 0, again.output
    assert "PASS 2 metrics × 3 steps 0/6 slots flagged meta-p=1.000" in _line(again, "bench_det")


def test_dask_worker_killed_mid_run_is_retried(project, bench_dir, cli, dask_cluster):
    folder = bench_dir("bench_flaky.py")
    dask = cli(str(folder), "--seed", "5", "--baseline", "dask.jsonl", "--dask", dask_cluster)
    assert dask.exit_code == 0, dask.output
    assert (folder / "died-once").exists()  # a worker really died during the run
    assert "NEW" in _line(dask, "bench_flaky")
    serial = cli(str(folder), "--seed", "5", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0, serial.output
    want = _records(project / "serial.jsonl")["bench_flaky"]
    assert _values_bits(_records(project / "dask.jsonl")["bench_flaky"]) == _values_bits(want)


def test_dask_seed_that_keeps_killing_workers_is_a_clean_error(
    project, write_bench, cli, dask_cluster
):
    write_bench(
        """
        import os
        from pathlib import Path

        def bench_doomed(seed, *, n_seeds=5):
            # the first seed to run is doomed: it kills every worker that runs it
            marker = Path(__file__).parent / "doomed-seed"
            try:
                fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
                os.write(fd, str(seed).encode())
                os.close(fd)
            except FileExistsError:
                pass
            if marker.read_text() == str(seed):
                os._exit(1)
            return 1.0
        """,
        "bench_doomed.py",
    )
    shutil.copy(FIXTURES / "crashers.py", project / "benchmarks" / "crashers.py")
    first = cli("benchmarks", "--bench", "ok", "--baseline", "b.jsonl")
    assert first.exit_code == 0, first.output
    saved = (project / "b.jsonl").read_bytes()

    result = cli("benchmarks", "--bench", "doomed", "--dask", dask_cluster, "--baseline", "b.jsonl")
    assert result.exit_code == 2, result.output
    # Dask blames the doomed seed, or an innocent one that was queued on the same workers
    assert re.search(
        r"ERROR seed \d+ killed every Dask worker that ran it \(2 workers died, the last "
        r"was tcp://[\d.:]+\); check the worker logs",
        _line(result, "bench_doomed"),
    )
    assert (project / "b.jsonl").read_bytes() == saved  # nothing lost, nothing half-written

    # the cluster recovers: the next run on it completes
    again = cli("benchmarks", "--bench", "ok", "--dask", dask_cluster, "--baseline", "b.jsonl")
    assert again.exit_code == 0, again.output
    assert "PASS" in _line(again, "bench_ok")


def test_dask_log_lines_below_error_are_held_back_for_the_details(project, bench_dir, dask_cluster):
    import logging

    class Seen(logging.Handler):  # stands for Dask's own stderr handlers
        def __init__(self) -> None:
            super().__init__()
            self.messages: list[str] = []

        def emit(self, record: logging.LogRecord) -> None:
            self.messages.append(record.getMessage())

    seen = Seen()
    client_log = logging.getLogger("distributed.client")
    client_log.addHandler(seen)
    bench = discover(bench_dir("bench_det.py"))[0]
    try:
        with backends.open_pool(dask=dask_cluster) as pool:
            backend = pool.backend_for(bench, workers=1, gpus=None)
            outcomes = backend.map_seeds(bench, [1, 2, 3])
            next(outcomes)
            # the line the report used to show between results
            client_log.warning("Couldn't gather %s keys, rescheduling %s", 1, ["k"])
            client_log.error("the scheduler is gone")  # errors still reach the terminal
            assert len(list(outcomes)) == 2
        client_log.warning("after the run")
    finally:
        client_log.removeHandler(seen)
    assert seen.messages == ["the scheduler is gone", "after the run"]
    assert backend.notes.log == (
        "distributed.client - WARNING - Couldn't gather 1 keys, rescheduling ['k']",
    )
    assert backend.notes.rescheduled == 0


def test_dask_local_cluster_started_for_the_run(project, bench_dir, cli):
    pytest.importorskip("distributed")
    folder = bench_dir("bench_det.py")
    serial = cli(str(folder), "--seed", "13", "--baseline", "serial.jsonl")
    assert serial.exit_code == 0
    local = cli(str(folder), "--seed", "13", "--baseline", "local.jsonl", "--dask", "local:1")
    assert local.exit_code == 0, local.output
    want = _records(project / "serial.jsonl")["bench_det"]
    assert _values_bits(_records(project / "local.jsonl")["bench_det"]) == _values_bits(want)


def test_dask_missing_is_a_clear_error(project, bench_dir, cli, monkeypatch):
    folder = bench_dir("bench_det.py")
    monkeypatch.setitem(sys.modules, "distributed", None)  # makes `import distributed` fail
    result = cli(str(folder), "--dask", "local:2", "--baseline", "b.jsonl")
    assert result.exit_code == 2
    assert "uv pip install distributed" in result.output
    assert "pip install 'pybench[dask]'" not in result.output  # not on PyPI under that name
    assert not (project / "b.jsonl").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dask", "local:zero"], "--dask local:zero: expected local:N"),
        (["--gpus", "0,1"], "cannot be combined with --dask"),
        (["--confirm"], "--confirm cannot be combined with --dask"),
    ],
)
def test_bad_dask_options(project, bench_dir, cli, dask_cluster, args, message):
    folder = bench_dir("bench_det.py")
    if "--gpus" in args or "--confirm" in args:
        args = [*args, "--dask", dask_cluster]
    result = cli(str(folder), *args, "--baseline", "b.jsonl")
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_unreachable_scheduler_is_a_clear_error(project, bench_dir, cli):
    pytest.importorskip("distributed")
    import dask

    folder = bench_dir("bench_det.py")
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        result = cli(str(folder), "--dask", "tcp://127.0.0.1:9", "--baseline", "b.jsonl")
    assert result.exit_code == 2
    assert "cannot connect to a Dask scheduler" in result.output


# -- which back-end ---------------------------------------------------------------
def test_pool_hands_out_the_asked_for_backend(project, bench_dir):
    bench = discover(bench_dir("bench_det.py"))[0]
    with backends.open_pool() as pool:
        assert isinstance(pool.backend_for(bench, workers=1, gpus=None), SerialBackend)
        three = pool.backend_for(bench, workers=3, gpus=None, timeout=2.0)
        again = pool.backend_for(bench, workers=3, gpus=None, env=["HOME"])
        gpu = pool.backend_for(bench, workers=1, gpus=(0,))
        timed = pool.backend_for(bench, workers=1, gpus=None, timeout=1.0)
        side = pool.backend_for(bench, workers=3, gpus=None, source_roots=[project])
    assert isinstance(three, backends._Bound) and isinstance(three.backend, ProcessBackend)
    assert again.backend is three.backend  # one set of workers per kind, for the whole run
    assert (three.options.timeout, again.options.timeout) == (2.0, None)
    assert "HOME" in again.options.env and "HOME" not in three.options.env
    assert len({id(b.backend) for b in (three, gpu, timed, side)}) == 4


def test_one_pool_serves_every_benchmark_of_a_run(project, write_bench):
    from pybench.engine import loop
    from pybench.engine.plan import plan

    source = """
        import os

        def bench_a(seed, *, n_seeds=6, workers=2, check_determinism=False):
            return {"pid": float(os.getpid())}

        def bench_b(seed, *, n_seeds=6, workers=2, check_determinism=False):
            return {"pid": float(os.getpid())}
    """
    found = discover(write_bench(source, "bench_pids.py"))
    with backends.open_pool() as pool:
        outcomes = loop.run(plan(found, {}, {}, base_seed=1), pool=pool)
    pids = [set(outcome.values[:, 0].tolist()) for outcome in outcomes]
    assert pids[0] == pids[1] and 1 <= len(pids[0]) <= 2  # the same two workers ran both
    assert float(os.getpid()) not in pids[0]


# -- native threads per worker ----------------------------------------------------
THREADS = """
    import os

    def bench_threads(seed):
        import numpy  # loads the BLAS library inside the worker
        from threadpoolctl import threadpool_info

        blas = [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]
        return {
            "omp": float(os.environ.get("OMP_NUM_THREADS", -1)),
            "mkl": float(os.environ.get("MKL_NUM_THREADS", -1)),
            "blas": float(max(blas, default=-1)),
        }
"""


def _thread_settings(bench, workers: int) -> dict[str, float]:
    backend = ProcessBackend(workers=workers)
    try:
        [outcome] = list(backend.map_seeds(bench, [1]))
    finally:
        backend.close()
    assert outcome.values is not None, outcome.failure
    return {metric: value for (_, metric), value in outcome.values.items()}


def test_workers_limit_native_threads_unless_the_user_set_them(project, write_bench, monkeypatch):
    bench = discover(write_bench(THREADS))[0]
    for name in backends.THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    cores = len(os.sched_getaffinity(0))
    share = float(max(1, cores // 2))
    assert backends.threads_per_worker(2) == share and backends.threads_per_worker(1) is None
    assert _thread_settings(bench, 2) == {"omp": share, "mkl": share, "blas": share}
    monkeypatch.setenv("OMP_NUM_THREADS", "3")  # the user's choice wins
    assert _thread_settings(bench, 2) == {"omp": 3.0, "mkl": share, "blas": share}
    monkeypatch.delenv("OMP_NUM_THREADS")
    single = _thread_settings(bench, 1)  # one worker: the libraries' own defaults, as serial
    assert single["omp"] == single["mkl"] == -1.0


def test_pools_loaded_before_the_limit_are_resized():
    # The forkserver may have loaded numpy (and its BLAS pool) before a worker is told its share.
    code = (
        "import numpy\n"
        "from threadpoolctl import threadpool_info\n"
        "from pybench.execution.backends import _limit_threads\n"
        "_limit_threads(1)\n"
        "print(max(p['num_threads'] for p in threadpool_info() if p['user_api'] == 'blas'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in backends.THREAD_VARIABLES}
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "1"
