"""One pool of workers per run, started early: a benchmark's imports are paid once per worker,
not per benchmark, and while pybench itself imports the benchmark files.

Three benchmark files, each importing the same slow module (``slowlib``, whose
import sleeps for IMPORT seconds, as a large library such as scikit-learn takes
to import) and spending a fixed amount of CPU work per seed. Each configuration
is a fresh ``python -m pybench`` process making new baselines (determinism
check off), and the figure is its wall time (the median of REPEATS runs, the
configurations interleaved):

- ``serial``: one process; the module is imported once;
- ``--workers 2``: two worker processes that serve all three benchmarks (this code);
  they start before pybench imports the benchmark files for discovery and import
  them meanwhile, so the slow import in the workers overlaps the one in pybench;
- ``--workers 2, a pool per benchmark``: the same run by pybench before it
  shared its workers (the commit ``BEFORE``, checked out from git into a
  temporary folder): every benchmark starts two workers that import the module again.

Two scenarios: ``work`` (1 s import, ~0.3 s of work per seed) where the target
is ``--workers 2`` >= 1.6x faster than serial (on 2 idle cores the ideal is about
1.75x: the import once, then the work on both cores); and ``import`` (3 s import,
~0.15 s per seed), where a pool per benchmark is slower than serial and one pool
for the run is not. Run it from the repository root::

    uv run python perf/perf_pool.py
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BEFORE = "91cff17"
"""The last commit whose back-ends started a pool per benchmark."""
REPEATS = 2
SEEDS = 10
TARGET = 1.6
SCENARIOS = {"work": (1.0, 0.3), "import": (3.0, 0.15)}
"""name -> (seconds the import takes, seconds of CPU work per seed)."""

SLOWLIB = """
import os
import time

with open(os.environ["PERF_IMPORTS"], "a") as log:
    log.write(f"{os.getpid()}\\n")
time.sleep(float(os.environ["PERF_IMPORT_S"]))


def spin(seed: int, iterations: int) -> int:
    x = seed
    for _ in range(iterations):
        x = (x * 6364136223846793005 + 1442695040888963407) % 18446744073709551616
    return x
"""

BENCH = """
import os

import slowlib

WORK = int(os.environ["PERF_WORK"])


def bench_{name}(seed, *, n_seeds={seeds}):
    return {{"value": slowlib.spin(seed, WORK) / 2.0**64}}
"""


def calibrate(seconds: float) -> int:
    """Iterations of ``spin`` that take ``seconds`` here."""
    namespace: dict[str, object] = {}
    exec("def spin" + SLOWLIB.split("def spin")[1], namespace)  # the work, not the import
    spin = namespace["spin"]
    n = 20_000
    while True:
        started = time.perf_counter()
        spin(1, n)  # type: ignore[operator]
        took = time.perf_counter() - started
        if took > 0.2:
            return int(n * seconds / took)
        n *= 2


def run(
    folder: Path, pythonpath: str | None, workers: int, env: dict[str, str]
) -> tuple[float, int]:
    """One ``pybench`` process making new baselines; its wall time, and how many times
    ``slowlib`` was imported."""
    baseline = folder / f"b-{time.monotonic_ns()}.jsonl"
    imports = folder / f"imports-{time.monotonic_ns()}.txt"
    cmd = [sys.executable, "-m", "pybench", str(folder / "benchmarks"), "--baseline", str(baseline)]
    cmd += ["--seed", "1", "--yes", "--no-check-determinism", "--workers", str(workers)]
    environ = {k: v for k, v in os.environ.items() if not k.startswith("PYBENCH_")}
    environ.update(env, PERF_IMPORTS=str(imports))
    # slowlib is a library on the path (as an installed one would be), not a benchmark file
    paths = [*([pythonpath] if pythonpath else []), str(folder / "lib")]
    environ["PYTHONPATH"] = os.pathsep.join(paths)
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=folder, env=environ, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        sys.exit(f"pybench failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")
    return wall, len(imports.read_text().splitlines())


def main() -> int:
    cores = len(os.sched_getaffinity(0))
    print(f"3 benchmarks x {SEEDS} seeds, {cores} cores, median of {REPEATS} runs each")
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        before = folder / "before"
        before.mkdir()
        archive = subprocess.run(
            ["git", "archive", BEFORE, "src"], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
        (folder / "benchmarks").mkdir()
        (folder / "lib").mkdir()
        (folder / "lib" / "slowlib.py").write_text(SLOWLIB)
        for name in ("a", "b", "c"):
            text = BENCH.format(name=name, seeds=SEEDS)
            (folder / "benchmarks" / f"bench_{name}.py").write_text(textwrap.dedent(text))
        for scenario, (import_s, seed_s) in SCENARIOS.items():
            env = {"PERF_IMPORT_S": str(import_s), "PERF_WORK": str(calibrate(seed_s))}
            configs = {
                "serial": (None, 1),
                "--workers 2 (one pool for the run)": (None, 2),
                "--workers 2, a pool per benchmark (before)": (str(before / "src"), 2),
            }
            walls: dict[str, list[float]] = {name: [] for name in configs}
            imported: dict[str, int] = {}
            for _ in range(REPEATS):
                for name, (path, workers) in configs.items():
                    wall, imported[name] = run(folder, path, workers, env)
                    walls[name].append(wall)
            median = {name: statistics.median(times) for name, times in walls.items()}
            serial = median["serial"]
            print(f"\n{scenario}: import {import_s:g} s, ~{seed_s:g} s of work per seed")
            for name, wall in median.items():
                print(
                    f"  {name:48}{wall:7.2f} s  {serial / wall:5.2f}x serial"
                    f"  ({imported[name]} imports of slowlib)"
                )
            ratio = serial / median["--workers 2 (one pool for the run)"]
            per_bench = serial / median["--workers 2, a pool per benchmark (before)"]
            if scenario == "work":
                passed = ratio >= TARGET
                ok = ok and passed
                verdict = "PASS" if passed else "FAIL"
                print(f"  {verdict}: one pool {ratio:.2f}x serial (target >= {TARGET}x)")
            else:
                print(
                    f"  a pool per benchmark {per_bench:.2f}x serial "
                    f"({'slower' if per_bench < 1 else 'not slower'} than serial); "
                    f"one pool {ratio:.2f}x"
                )
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"\nload average at the end: {load} (other work on the machine lowers every ratio)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
