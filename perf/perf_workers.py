"""Wall time of a CPU-bound benchmark through the real CLI: serial versus ``--workers 2``.

The benchmark runs 12 seeds of a fixed amount of pure-Python work, calibrated on
this machine to take about 0.25 s per seed (fixed work, not a timed loop, so
that two workers competing for cores would show up as a slower run). Each
configuration runs ``pybench`` as a fresh process (``python -m pybench``) into a
fresh baseline file, and is timed three times; the medians are reported.

Three numbers per configuration:

- ``process``: the wall time of the whole ``pybench`` process;
- ``net``: the same minus the fixed cost of the CLI, measured as the wall time
  of a *serial* run whose seeds do no work (interpreter start-up, imports of
  numpy/scipy, discovery, git, writing the baseline): the time spent running
  the seeds, including starting the worker pool;
- ``reported``: the ``in X.Xs`` that pybench itself prints.

The acceptance figure is the ``net`` speed-up of ``--workers 2`` over serial,
which must be at least 1.6 on a 2-core machine. Run it with::

    uv run python perf/perf_workers.py
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

N_SEEDS = 12
SEED_SECONDS = 0.25
REPEATS = 5
TARGET = 1.6

BENCHMARK = textwrap.dedent(
    """
    import os

    ITERATIONS = int(os.environ["PYBENCH_PERF_ITERATIONS"])


    def spin(seed: int, iterations: int) -> int:
        x = seed
        for _ in range(iterations):
            x = (x * 6364136223846793005 + 1442695040888963407) % 18446744073709551616
        return x


    def bench_cpu(seed, *, n_seeds=12):
        return {"value": spin(seed, ITERATIONS) / 2.0**64}
    """
)


def calibrate(seconds: float) -> int:
    """Iterations of the benchmark's loop that take ``seconds`` on one core here."""
    namespace: dict[str, object] = {}
    source = BENCHMARK.replace('int(os.environ["PYBENCH_PERF_ITERATIONS"])', "0")
    exec(compile(source, "<perf>", "exec"), namespace)
    spin = namespace["spin"]
    n = 20_000
    while True:
        started = time.perf_counter()
        spin(1, n)  # type: ignore[operator]
        took = time.perf_counter() - started
        if took > 0.2:
            return int(n * seconds / took)
        n *= 2


def machine_ceiling(iterations: int) -> float:
    """The speed-up two plain processes get here right now: a bound for any back-end.

    Runs the seeds' work (half of it each) in two bare interpreters, one after
    the other and then at the same time; on an idle 2-core machine this is ~2.
    """
    half = N_SEEDS // 2
    code = BENCHMARK.replace('int(os.environ["PYBENCH_PERF_ITERATIONS"])', "0")
    code += f"\nfor s in range({half}): spin(s, {iterations})\n"
    cmd = [sys.executable, "-c", code]
    started = time.perf_counter()
    for _ in range(2):
        subprocess.run(cmd, check=True)
    one_after_other = time.perf_counter() - started
    started = time.perf_counter()
    procs = [subprocess.Popen(cmd) for _ in range(2)]
    for proc in procs:
        proc.wait()
    together = time.perf_counter() - started
    return one_after_other / together


def run_cli(folder: Path, iterations: int, extra: list[str]) -> tuple[float, float, Path]:
    """One ``pybench`` process; its wall time, its reported time, and its baseline file."""
    baseline = folder / f"b-{time.monotonic_ns()}.jsonl"
    env = {**os.environ, "PYBENCH_PERF_ITERATIONS": str(iterations)}
    env.pop("PYBENCH_DASK", None)
    cmd = [sys.executable, "-m", "pybench", str(folder / "bench_cpu.py")]
    cmd += ["--baseline", str(baseline), "--seed", "1", *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"pybench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    reported = re.search(r" in (\d+\.\d)s$", proc.stdout, re.M)
    assert reported is not None, proc.stdout
    return wall, float(reported.group(1)), baseline


def main() -> int:
    iterations = calibrate(SEED_SECONDS)
    configs = {"serial": [], "--workers 2": ["--workers", "2"]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "bench_cpu.py").write_text(BENCHMARK)
        run_cli(folder, 0, [])  # warm the file cache
        times: dict[str, dict[str, list[float]]] = {
            name: {"process": [], "reported": []} for name in configs
        }
        fixed: list[float] = []
        stored: dict[str, str] = {}
        for _ in range(REPEATS):
            fixed.append(run_cli(folder, 0, [])[0])
            for name, extra in configs.items():
                wall, reported, baseline = run_cli(folder, iterations, extra)
                times[name]["process"].append(wall)
                times[name]["reported"].append(reported)
                record = json.loads(baseline.read_text())
                stored[name] = json.dumps([record["seeds"], record["scores"]])

    def median(name: str, key: str) -> float:
        return statistics.median(times[name][key])

    startup = statistics.median(fixed)

    def net(name: str) -> float:
        return median(name, "process") - startup

    print(
        f"CPU-bound benchmark: {N_SEEDS} seeds x ~{SEED_SECONDS} s "
        f"({iterations} loop iterations each), {os.cpu_count()} CPUs, "
        f"median of {REPEATS} runs, `python -m pybench`"
    )
    print(f"fixed cost of the CLI (serial run of seeds doing no work): {startup:.2f}s")
    print(f"{'':14}{'process':>10}{'net':>8}{'reported':>10}")
    for name in configs:
        print(
            f"{name:14}{median(name, 'process'):9.2f}s{net(name):7.2f}s"
            f"{median(name, 'reported'):9.1f}s"
        )
    speedups = {
        "process": median("serial", "process") / median("--workers 2", "process"),
        "net": net("serial") / net("--workers 2"),
        "reported": median("serial", "reported") / median("--workers 2", "reported"),
    }
    print(
        "speed-up of --workers 2 over serial: "
        + ", ".join(f"{key} {value:.2f}x" for key, value in speedups.items())
    )
    ceiling = machine_ceiling(iterations)
    print(f"ceiling: two bare processes in parallel run {ceiling:.2f}x faster than in turn")
    identical = stored["serial"] == stored["--workers 2"]
    print(f"baselines identical: {identical}")
    ok = identical and speedups["net"] >= TARGET
    print(f"{'PASS' if ok else 'FAIL'}: net speed-up {speedups['net']:.2f}x (target {TARGET}x)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
