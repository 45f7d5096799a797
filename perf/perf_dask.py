"""The per-seed overhead of the Dask back-end, against ``--workers 2``.

A local cluster on loopback (``dask scheduler`` and two ``dask worker``
processes of one thread each, started by this script) runs a benchmark that
does no work: each seed returns its own value at once, so every second a seed
takes is pybench's and Dask's overhead (shipping the benchmark, submitting the
seed, gathering its result). The overhead per seed is the slope between two
runs of different length, which cancels everything paid once a run
(interpreter start-up, imports, connecting to the scheduler, starting local
workers, comparing)::

    per-seed overhead = (time(LONG seeds) - time(SHORT seeds)) / (LONG - SHORT)

Each run is a fresh ``python -m pybench`` process comparing against a
baseline made beforehand on the same seeds. Timings are medians of REPEATS
runs, the back-ends interleaved. Target: under 20 ms per seed on Dask.

    uv run python perf/perf_dask.py
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

SHORT, LONG = 20, 200
REPEATS = 3
TARGET_MS = 20.0
BENCH = "def bench_trivial(seed: int) -> float:\n    return (seed % 1000) / 1000.0\n"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def local_cluster(home: Path) -> Iterator[str]:
    """A scheduler and two one-thread workers on loopback, stopped on exit."""
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    dask = [sys.executable, "-m", "dask"]
    commands = [[*dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                 "--no-dashboard", "--idle-timeout", "600"]]
    commands += [
        [*dask, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard",
         "--host", "127.0.0.1", "--local-directory", str(home / f"worker{i}")]
        for i in range(2)
    ]
    procs = []
    try:
        for i, command in enumerate(commands):
            log = open(home / f"dask{i}.log", "wb")  # noqa: SIM115 - closed with the process
            procs.append(subprocess.Popen(command, cwd=home, stdout=log,
                                          stderr=subprocess.STDOUT, start_new_session=True))
        from distributed import Client

        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=60)
        yield address
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def _pybench(project: Path, *args: str) -> float:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYBENCH_")}
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "pybench", *args], cwd=project, env=env,
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"pybench {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def _project(root: Path, n_seeds: int) -> Path:
    project = root / f"seeds{n_seeds}"
    (project / "benchmarks").mkdir(parents=True)
    (project / "benchmarks" / "bench_trivial.py").write_text(BENCH)
    (project / ".pybench").mkdir()
    _pybench(project, "update", "benchmarks", "--yes", "--seed", "1", "--n-seeds", str(n_seeds),
             "--no-check-determinism")
    return project


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="pybench-perf-dask-"))
    try:
        projects = {n: _project(root, n) for n in (SHORT, LONG)}
        with local_cluster(root) as address:
            backends = {"--dask (2 workers, loopback)": ["--dask", address],
                        "--workers 2": ["--workers", "2"]}
            times: dict[tuple[str, int], list[float]] = {}
            for _ in range(REPEATS):
                for name, flags in backends.items():
                    for n, project in projects.items():
                        times.setdefault((name, n), []).append(
                            _pybench(project, "run", "benchmarks", *flags))
        print(f"per-seed overhead, slope between {SHORT} and {LONG} seeds "
              f"(medians of {REPEATS}, a benchmark that does no work):")
        for name in backends:
            short = statistics.median(times[(name, SHORT)])
            long = statistics.median(times[(name, LONG)])
            per_seed = (long - short) / (LONG - SHORT) * 1000
            print(f"  {name:<30} {SHORT} seeds {short:6.2f} s   {LONG} seeds {long:6.2f} s"
                  f"   per seed {per_seed:6.2f} ms")
        dask_ms = (statistics.median(times[("--dask (2 workers, loopback)", LONG)])
                   - statistics.median(times[("--dask (2 workers, loopback)", SHORT)])) / (
                       LONG - SHORT) * 1000
        verdict = "met" if dask_ms < TARGET_MS else "MISSED"
        print(f"target: Dask per-seed overhead < {TARGET_MS:.0f} ms: {verdict} ({dask_ms:.2f} ms)")
        print(f"load average while measuring: {os.getloadavg()[0]:.2f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
