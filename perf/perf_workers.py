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
check's extra seed). Every timing is the median of several runs, the
configurations interleaved so that other load on the machine hits them alike.
Starting two workers costs about half a second once per benchmark (a fork
server that imports pybench, then the workers); it is measured and shown
apart. The figures:

- ``process``: the wall time of the whole ``pybench`` process;
- ``net``: the same minus the wall time of the same configuration on seeds
  that do no work (interpreter start-up, imports, discovery, git, comparing,
  and for workers starting them): the time spent running the seeds;
- ``throughput ratio``: serial ``net`` over ``--workers 2`` ``net``, i.e. seeds
  per second with two workers relative to serial: the median over the repeats
  of the ratio of two runs made back to back (each repeat's ratio is shown in
  brackets); the ratio with the start-up of the workers counted in is printed
  beside it.

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
from dataclasses import dataclass
from pathlib import Path

from pybench.execution.backends import THREAD_VARIABLES

N_SEEDS = 24
SEED_SECONDS = 0.4
REPEATS = 3
TARGETS = {"cpu": 1.8, "blas": 1.0}
BEFORE = "--workers 2, every pool on all cores (before)"
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


@dataclass
class Figures:
    """Median wall times of one benchmark kind, and what the runs stored."""

    work: int
    walls: dict[str, float]
    """Each configuration's median process wall time."""
    fixed: dict[str, float]
    """The same configurations with seeds that do no work: the CLI's fixed cost,
    and for workers the cost of starting them as well."""
    identical: bool
    ratios: list[float]
    """Serial net over ``--workers 2`` net, per repeat (the two measured back to back)."""


def measure(folder: Path, kind: str) -> Figures:
    """Time every configuration of ``kind``, with work and without, interleaved."""
    cores = len(os.sched_getaffinity(0))
    clean: dict[str, str] = {}  # no thread variable set: pybench decides
    configs: dict[str, tuple[list[str], dict[str, str]]] = {
        "serial": ([], clean),
        "--workers 2": (["--workers", "2"], clean),
    }
    if kind == "blas":
        every_core = {name: str(cores) for name in THREAD_VARIABLES}
        configs[BEFORE] = (["--workers", "2"], every_core)
    work = calibrate(kind, SEED_SECONDS)
    records = {}
    for i, (name, (extra, env)) in enumerate(configs.items()):
        baseline = folder / f"{kind}-{i}.jsonl"
        run_cli(folder, kind, work, baseline, extra, env)
        run_cli(folder, kind, 0, folder / f"{kind}-{i}-empty.jsonl", extra, env)
        record = json.loads(baseline.read_text())
        records[name] = json.dumps([record["seeds"], record["scores"]])
    walls: dict[str, list[float]] = {name: [] for name in configs}
    fixed: dict[str, list[float]] = {name: [] for name in configs}
    for _ in range(REPEATS):
        for i, (name, (extra, env)) in enumerate(configs.items()):
            empty = folder / f"{kind}-{i}-empty.jsonl"
            fixed[name].append(run_cli(folder, kind, 0, empty, extra, env))
            baseline = folder / f"{kind}-{i}.jsonl"
            walls[name].append(run_cli(folder, kind, work, baseline, extra, env))
    net = {name: [w - f for w, f in zip(walls[name], fixed[name], strict=True)] for name in walls}
    return Figures(
        work,
        {name: statistics.median(times) for name, times in walls.items()},
        {name: statistics.median(times) for name, times in fixed.items()},
        records["serial"] == records["--workers 2"],
        [s / w for s, w in zip(net["serial"], net["--workers 2"], strict=True)],
    )


def report(kind: str, figures: Figures) -> bool:
    """Print one kind's figures; whether it meets its target."""
    walls, fixed = figures.walls, figures.fixed
    print(
        f"\n{kind}: {figures.work} units of work per seed; fixed cost of the CLI "
        f"{fixed['serial']:.2f}s, starting two workers adds "
        f"{fixed['--workers 2'] - fixed['serial']:.2f}s"
    )
    print(f"  {'':50}{'process':>9}{'net':>8}")
    net = {name: walls[name] - fixed[name] for name in walls}
    for name, wall in walls.items():
        print(f"  {name:50}{wall:8.2f}s{net[name]:7.2f}s")
    ratio = statistics.median(figures.ratios)
    end_to_end = (walls["serial"] - fixed["serial"]) / (walls["--workers 2"] - fixed["serial"])
    target = TARGETS[kind]
    ok = ratio >= target and figures.identical
    before = f"; before thread limits {net['serial'] / net[BEFORE]:.2f}x" if BEFORE in net else ""
    spread = ", ".join(f"{r:.2f}" for r in figures.ratios)
    print(
        f"  {'PASS' if ok else 'FAIL'}: {kind} throughput ratio (--workers 2 / serial) "
        f"{ratio:.2f}x [{spread}] (target >= {target}x); with the start-up of the workers "
        f"{end_to_end:.2f}x{before}; baselines identical: {figures.identical}"
    )
    return ok


def main() -> int:
    cores = len(os.sched_getaffinity(0))
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"{N_SEEDS} seeds x ~{SEED_SECONDS} s of work (serial), {cores} cores (load average"
        f" {load}), median of {REPEATS} comparing runs of `python -m pybench` per configuration"
    )
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for kind, source in SOURCES.items():
            (folder / f"bench_{kind}.py").write_text(source)
        for kind in SOURCES:
            figures = measure(folder, kind)
            ok = report(kind, figures) and ok
            if kind == "cpu":
                ceiling = machine_ceiling(figures.work)
                print(f"  ceiling: two bare processes run {ceiling:.2f}x faster at once")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} (other work on the machine lowers every ratio)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
