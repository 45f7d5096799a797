"""Wall time of the ``pybench`` command line, and which heavy modules it imports.

Run from the repository root::

    uv run python perf/perf_cli.py

Times the venv's console script (``.venv/bin/pybench``): ``pybench --help``
(target < 0.3 s) and a PASS run of the synthetic example against a baseline in
a temporary file (target < 0.6 s), medians of 5. ``uv run`` timings are shown
for information only (they add uv's own start-up and lock check).

Python start-up is dominated by imports, and an import costs several times
more when there is no bytecode cache. Environments that set
``PYTHONDONTWRITEBYTECODE=1`` over a venv installed without ``.pyc`` files
recompile every module on every start, so each figure is measured twice:
"as is" (this process's environment) and "bytecode cached" (the same, with
``PYTHONDONTWRITEBYTECODE`` unset and ``PYTHONPYCACHEPREFIX`` pointing at a
temporary folder, warmed once; nothing is written into the venv or the repo).
The targets are judged on the cached figures (what an ordinary installation
sees) and reported for both.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYBENCH = ROOT / ".venv" / "bin" / "pybench"
PYTHON = ROOT / ".venv" / "bin" / "python"
EXAMPLE = "examples/synthetic/benchmarks/"
REPEATS = 5
HEAVY = ("scipy.stats", "scipy.special", "scipy", "numpy", "rich", "matplotlib", "distributed")

CHECK_MODULES = """
import sys
from pybench.cli import main
try:
    main(sys.argv[1:], standalone_mode=False)
except SystemExit:
    pass
heavy = {heavy!r}
print("LOADED", ",".join(m for m in heavy if m in sys.modules))
"""


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    return time.perf_counter() - start, proc


def _median(cmd: list[str], env: dict[str, str], expect: str | None = None) -> float:
    times = []
    for _ in range(REPEATS):
        elapsed, proc = _run(cmd, env)
        if proc.returncode != 0 or (expect is not None and expect not in proc.stdout):
            raise RuntimeError(
                f"{' '.join(cmd)} failed (exit {proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
            )
        times.append(elapsed)
    return statistics.median(times)


def _verdict(seconds: float, target: float) -> str:
    return f"target < {target:.1f} s   {'PASS' if seconds < target else 'MISS'}"


def _environments(tmp: Path) -> dict[str, dict[str, str]]:
    as_is = dict(os.environ)
    cached = dict(os.environ)
    cached.pop("PYTHONDONTWRITEBYTECODE", None)
    cached["PYTHONPYCACHEPREFIX"] = str(tmp / "pycache")
    return {"as is": as_is, "bytecode cached": cached}


def _loaded(args: list[str], env: dict[str, str]) -> list[str]:
    code = CHECK_MODULES.format(heavy=HEAVY)
    _, proc = _run([str(PYTHON), "-c", code, *args], env)
    for line in proc.stdout.splitlines():
        if line.startswith("LOADED"):
            return [m for m in line.split(" ", 1)[1].split(",") if m]
    raise RuntimeError(f"module check failed:\n{proc.stdout}\n{proc.stderr}")


def _import_profile(args: list[str], env: dict[str, str], top: int = 8) -> list[str]:
    """The slowest top-level imports (cumulative microseconds) under ``-X importtime``."""
    code = CHECK_MODULES.format(heavy=HEAVY)
    _, proc = _run([str(PYTHON), "-X", "importtime", "-c", code, *args], env)
    rows = []
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        if len(name) - len(name.lstrip()) == 1:  # direct imports only, not nested ones
            rows.append((int(cumulative), name.strip()))
    rows = [r for r in rows if r[0] > 0]
    rows.sort(reverse=True)
    return [f"{us / 1e3:7.1f} ms  {name}" for us, name in rows[:top]]


def main() -> int:
    if not PYBENCH.exists():
        print(f"{PYBENCH} is missing: running `uv sync`")
        subprocess.run(["uv", "sync"], cwd=ROOT, check=True)
    load = os.getloadavg()[0]
    cpus = os.cpu_count()
    print(f"pybench command line ({cpus} CPUs, load average {load:.1f}; medians of {REPEATS})")
    ok = True
    with tempfile.TemporaryDirectory(prefix="pybench-perf-") as tmp_name:
        tmp = Path(tmp_name)
        baseline = tmp / "baselines.jsonl"
        run_args = [EXAMPLE, "--baseline", str(baseline)]
        envs = _environments(tmp)

        _, first = _run([str(PYBENCH), *run_args], envs["bytecode cached"])  # also warms cache
        if first.returncode != 0 or "NEW" not in first.stdout:
            print(f"creating the baseline failed:\n{first.stdout}\n{first.stderr}")
            return 1
        print(f"baseline: {first.stdout.strip().splitlines()[0]}")
        _run([str(PYBENCH), "--help"], envs["bytecode cached"])  # warm the cache

        for label, env in envs.items():
            print(f"-- {label} --")
            help_s = _median([str(PYBENCH), "--help"], env, expect="Usage")
            run_s = _median([str(PYBENCH), *run_args], env, expect="PASS")
            print(f"  .venv/bin/pybench --help        {help_s:6.3f} s   {_verdict(help_s, 0.3)}")
            print(f"  .venv/bin/pybench <synthetic>   {run_s:6.3f} s   {_verdict(run_s, 0.6)}")
            if label == "bytecode cached":
                ok = help_s < 0.3 and run_s < 0.6
            uv = shutil.which("uv")
            if uv is None:
                print("  (uv not found: no uv run timings)")
                continue
            try:
                uv_help = _median([uv, "run", "pybench", "--help"], env, expect="Usage")
                uv_run = _median([uv, "run", "pybench", *run_args], env, expect="PASS")
            except RuntimeError as exc:
                print(f"  uv run failed: {exc}")
                continue
            print(f"  uv run pybench --help           {uv_help:6.3f} s   (information)")
            print(f"  uv run pybench <synthetic>      {uv_run:6.3f} s   (information)")

        cached = envs["bytecode cached"]
        print("-- heavy modules imported (in-process pybench.cli.main, standalone_mode=False) --")
        for label, args in (("pybench --help", ["--help"]), ("pybench <synthetic>", run_args)):
            loaded = _loaded(args, cached)
            stats_ok = "scipy.stats" not in loaded
            ok &= stats_ok
            print(
                f"  {label:22s} scipy.stats imported: {'no ' if stats_ok else 'YES'}  "
                f"{'PASS' if stats_ok else 'MISS'}   loaded: {', '.join(loaded) or '(none)'}"
            )
        print("-- slowest top-level imports of a run (python -X importtime, bytecode cached) --")
        for row in _import_profile(run_args, cached):
            print(f"  {row}")
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
