"""Seed throughput through the real CLI: serial versus ``--workers 2``, for two kinds of work.

Two benchmarks, each 24 seeds of a fixed amount of work calibrated on this
machine to take about 0.4 s per seed in a serial run (fixed work, not a timed
loop, so that workers competing for cores show up as a slower run):

- ``cpu``: pure-Python integer arithmetic, one core per process;
- ``blas``: repeated numpy matrix products of 320 × 320 matrices, which BLAS
  spreads over every core of the process it runs in.

Each configuration runs ``pybench`` as a fresh process (``python -m pybench``)
that *compares* against a baseline made beforehand by the same configuration
(comparing is what CI does; a new baseline would also run the determinism
check's extra seed). Every timing is the median of several runs. About ten
seconds of seeds per run keep the one-off cost of starting two workers (about
half a second: a fork server that imports pybench, then the workers) from
hiding the throughput. The figures:

- ``process``: the wall time of the whole ``pybench`` process;
- ``net``: the same minus the fixed cost of the CLI, measured as the wall time
  of a serial comparison whose seeds do no work (interpreter start-up, imports,
  discovery, git, comparing): the time spent running seeds, worker start-up included;
- ``throughput ratio``: serial ``net`` over ``--workers 2`` ``net``, i.e. seeds
  per second with two workers relative to serial.

Targets on a 2-core machine: ``cpu`` ratio >= 1.8; ``blas`` ratio >= 1.0 (two
workers must not be slower than one process whose BLAS already uses both
cores). For comparison the script also times ``blas`` with two workers whose
BLAS pools each take every core (the thread variables set to the core count by
hand, which pybench leaves alone): what ``--workers 2`` did before workers
limited their thread pools. Run it with::

    uv run python perf/perf_workers.py
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

N_SEEDS = 24
SEED_SECONDS = 0.4
REPEATS = 3
TARGETS = {"cpu": 1.8, "blas": 1.0}
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)

CPU = textwrap.dedent(
    """
    import os

    WORK = int(os.environ["PYBENCH_PERF_WORK"])


    def spin(seed: int, iterations: int) -> int:
        x = seed
        for _ in range(iterations):
            x = (x * 6364136223846793005 + 1442695040888963407) % 18446744073709551616
        return x


    def bench_cpu(seed, *, n_seeds=24):
        return {"value": spin(seed, WORK) / 2.0**64}
    """
)

BLAS = textwrap.dedent(
    """
    import os

    import numpy as np

    WORK = int(os.environ["PYBENCH_PERF_WORK"])
    SIZE = 320


    def products(seed: int, repeats: int) -> float:
        rng = np.random.default_rng(seed)
        a = rng.standard_normal((SIZE, SIZE)) / SIZE**0.5
        b = rng.standard_normal((SIZE, SIZE)) / SIZE**0.5
        for _ in range(repeats):
            b = np.tanh(a @ b)
        return float(b.sum())


    def bench_blas(seed, *, n_seeds=24):
        return {"value": products(seed, WORK)}
    """
)

SOURCES = {"cpu": CPU, "blas": BLAS}


def _load(source: str) -> dict[str, object]:
    namespace: dict[str, object] = {}
    os.environ["PYBENCH_PERF_WORK"] = "0"
    exec(compile(source, "<perf>", "exec"), namespace)
    return namespace


def calibrate(kind: str, seconds: float) -> int:
    """Units of work that take ``seconds`` here, in a process like a serial run's."""
    code = SOURCES[kind] + textwrap.dedent(
        f"""
        import time
        n = 2 if "{kind}" == "blas" else 20_000
        run = products if "{kind}" == "blas" else spin
        while True:
            started = time.perf_counter()
            run(1, n)
            took = time.perf_counter() - started
            if took > 0.2:
                print(int(n * {seconds} / took))
                break
            n *= 2
        """
    )
    env = _environ({}, 0)
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return int(proc.stdout.strip())


def machine_ceiling(work: int) -> float:
    """The speed-up two bare processes get here right now on ``cpu`` work: a bound for any
    back-end (about 2 on an idle 2-core machine; less when others use the cores)."""
    code = CPU + f"\nfor s in range({N_SEEDS // 2}): spin(s, {work})\n"
    cmd = [sys.executable, "-c", code]
    env = _environ({}, 0)
    started = time.perf_counter()
    for _ in range(2):
        subprocess.run(cmd, check=True, env=env)
    one_after_other = time.perf_counter() - started
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd, env=env) for _ in range(2)]
    for proc in procs:
        proc.wait()
    return one_after_other / (time.perf_counter() - started)


def _environ(env: dict[str, str], work: int) -> dict[str, str]:
    """This environment without thread variables or Dask, plus ``env``."""
    skip = {*THREAD_VARIABLES, "PYBENCH_DASK"}
    environ = {k: v for k, v in os.environ.items() if k not in skip}
    return {**environ, "PYBENCH_PERF_WORK": str(work), **env}


def run_cli(
    folder: Path, kind: str, work: int, baseline: Path, extra: list[str], env: dict[str, str]
) -> float:
    """One ``pybench`` process; its wall time."""
    environ = _environ(env, work)
    cmd = [sys.executable, "-m", "pybench", str(folder / f"bench_{kind}.py")]
    cmd += ["--baseline", str(baseline), "--seed", "1", "--yes", *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=environ, capture_output=True, text=True, timeout=600)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"pybench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall


def measure(folder: Path, kind: str) -> tuple[dict[str, float], float, bool, int]:
    """Median wall time of each configuration, the fixed cost, identical baselines, work."""
    cores = len(os.sched_getaffinity(0))
    clean: dict[str, str] = {}  # no thread variable set: pybench decides
    configs: dict[str, tuple[list[str], dict[str, str]]] = {
        "serial": ([], clean),
        "--workers 2": (["--workers", "2"], clean),
    }
    if kind == "blas":
        every_core = {name: str(cores) for name in THREAD_VARIABLES}
        configs["--workers 2, every pool on all cores (before)"] = (["--workers", "2"], every_core)
    work = calibrate(kind, SEED_SECONDS)
    records = {}
    for i, (name, (extra, env)) in enumerate(configs.items()):
        baseline = folder / f"{kind}-{i}.jsonl"
        run_cli(folder, kind, work, baseline, extra, env)
        record = json.loads(baseline.read_text())
        records[name] = json.dumps([record["seeds"], record["scores"]])
    empty = folder / f"{kind}-empty.jsonl"
    run_cli(folder, kind, 0, empty, [], clean)
    fixed: list[float] = []
    walls: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(REPEATS):
        fixed.append(run_cli(folder, kind, 0, empty, [], clean))
        for i, (name, (extra, env)) in enumerate(configs.items()):
            baseline = folder / f"{kind}-{i}.jsonl"
            walls[name].append(run_cli(folder, kind, work, baseline, extra, env))
    medians = {name: statistics.median(times) for name, times in walls.items()}
    identical = records["serial"] == records["--workers 2"]
    return medians, statistics.median(fixed), identical, work


def main() -> int:
    cores = len(os.sched_getaffinity(0))
    print(
        f"{N_SEEDS} seeds x ~{SEED_SECONDS} s of work (serial), {cores} cores, "
        f"median of {REPEATS} comparing runs of `python -m pybench` per configuration"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind, source in SOURCES.items():
            (folder / f"bench_{kind}.py").write_text(source)
        for kind in SOURCES:
            medians, fixed, identical, work = measure(folder, kind)
            print(f"\n{kind}: {work} units of work per seed; fixed cost of the CLI {fixed:.2f}s")
            print(f"  {'':50}{'process':>9}{'net':>8}")
            for name, wall in medians.items():
                print(f"  {name:50}{wall:8.2f}s{wall - fixed:7.2f}s")
            serial = medians["serial"] - fixed
            ratio = serial / (medians["--workers 2"] - fixed)
            target = TARGETS[kind]
            verdict = "PASS" if ratio >= target and identical else "FAIL"
            ok = ok and verdict == "PASS"
            extra = ""
            before = "--workers 2, every pool on all cores (before)"
            if before in medians:
                extra = f"; before thread limits {serial / (medians[before] - fixed):.2f}x"
            print(
                f"  {verdict}: {kind} throughput ratio (--workers 2 / serial) {ratio:.2f}x "
                f"(target >= {target}x){extra}; baselines identical: {identical}"
            )
            if kind == "cpu":
                ceiling = machine_ceiling(work)
                print(f"  ceiling: two bare processes run {ceiling:.2f}x faster at once")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
