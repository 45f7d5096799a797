"""pybench at scale: this tree against an older commit, side by side in one run.

Each case is a small project written to a temporary folder; each measurement is a
fresh ``python -m pybench`` process (its own ``PYTHONPATH`` pointing at the
``src/`` of the tree measured) timed from start to exit, with its peak resident
memory (``ru_maxrss`` of that process, read by ``os.wait4``). The two trees run
the same commands on copies of the same project, interleaved, medians of
``--repeats`` runs. Cases:

- ``10k``: 20 metrics x 500 steps x 30 seeds, baseline created, then compared;
- ``100k``: 100 metrics x 1 000 steps x 30 seeds, baseline created, then compared;
- ``40x2k``: 40 curve benchmarks of 10 metrics x 200 steps x 30 seeds, baselines created;
- ``2000seeds``: one scalar benchmark on 2 000 seeds, baseline created, then compared;
- ``200bench``: 200 scalar benchmarks of 30 seeds, baselines created, then compared;
- ``engine``: the statistics engine alone at n = 30 and K = 3 ... 20 000, in this
  process, the older tree's ``stats`` imported beside it (``perf/perf_stats.py``'s
  section [6]).

The older tree is a ``git worktree`` of ``--old`` (default: the commit before the
scale work) made in a temporary folder and removed at the end::

    uv run python perf/perf_scale.py                 # every case
    uv run python perf/perf_scale.py --case 100k --repeats 1

Bytecode is cached as it is for an installed package (``PYTHONDONTWRITEBYTECODE``
is dropped and a warm-up run on each tree imports everything first), so the figures
are not the compiling of pybench's own modules. The compare figures here are the
run against a stored baseline (``pybench`` run a second time); the statistics
engine is the same code on both sides unless the older commit predates a change
to it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OLD = "91cff17"
"""The last commit before the work on scale (one engine, the matrix-product sign flips)."""

CURVE = """
import numpy as np

NAMES = [f"m{{i}}" for i in range({metrics})]


def {name}(seed, *, n_seeds={seeds}):
    rng = np.random.default_rng(seed)
    table = rng.normal(1.0, 0.1, size=({steps}, {metrics})).tolist()
    return [{{"step": step, **dict(zip(NAMES, row))}} for step, row in enumerate(table)]
"""

SCALAR = """
def {name}(seed, *, n_seeds={seeds}):
    return ((seed * 2654435761) % 1000) / 1000.0
"""


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    files: Callable[[], dict[str, str]]
    compare: bool = True


def _curves(count: int, metrics: int, steps: int, seeds: int = 30) -> dict[str, str]:
    names = [f"bench_c{i:03d}" for i in range(count)]
    return {
        f"bench_{name}.py": textwrap.dedent(
            CURVE.format(name=name, metrics=metrics, steps=steps, seeds=seeds)
        )
        for name in names
    }


def _scalars(count: int, seeds: int) -> dict[str, str]:
    text = "".join(SCALAR.format(name=f"bench_s{i:03d}", seeds=seeds) for i in range(count))
    return {"bench_scalars.py": text}


CASES = [
    Case("10k", "20 metrics x 500 steps x 30 seeds", lambda: _curves(1, 20, 500)),
    Case("100k", "100 metrics x 1000 steps x 30 seeds", lambda: _curves(1, 100, 1000)),
    Case("40x2k", "40 benchmarks x 10 metrics x 200 steps", lambda: _curves(40, 10, 200), False),
    Case("2000seeds", "1 scalar benchmark x 2000 seeds", lambda: _scalars(1, 2000)),
    Case("200bench", "200 scalar benchmarks x 30 seeds", lambda: _scalars(200, 30)),
]


def _project(folder: Path, files: dict[str, str]) -> None:
    bench = folder / "benchmarks"
    bench.mkdir(parents=True)
    for name, text in files.items():
        (bench / name).write_text(text, encoding="utf-8")


def _measure(src: Path, project: Path, *args: str) -> tuple[float, float, int]:
    """Seconds, peak MB and exit status of ``python -m pybench ARGS`` run in ``project``."""
    env = {**os.environ, "PYTHONPATH": str(src), "NO_COLOR": "1", "COLUMNS": "100"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: imports read cached bytecode
    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "pybench", *args],
        cwd=project,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode not in (0, 1):
        print(f"    ({src.parent.name}: exit {proc.returncode}: {err.decode()[-300:]})")
    return elapsed, usage.ru_maxrss / 1024, proc.returncode


def _run_case(case: Case, trees: dict[str, Path], repeats: int, work: Path) -> None:
    print(f"\n{case.name}: {case.what}")
    steps = ["create", "compare"] if case.compare else ["create"]
    results: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for attempt in range(repeats):
        for label, src in trees.items():
            project = work / f"{case.name}-{label}-{attempt}"
            _project(project, case.files())
            for step in steps:
                seconds, mb, _ = _measure(src, project, "benchmarks", "--seed", "1")
                results.setdefault((label, step), []).append((seconds, mb))
            shutil.rmtree(project)
    for step in steps:
        old = results[("old", step)]
        new = results[("new", step)]
        t_old = statistics.median(t for t, _ in old)
        t_new = statistics.median(t for t, _ in new)
        m_old = max(m for _, m in old)
        m_new = max(m for _, m in new)
        print(
            f"  {step:8s} old {t_old:7.2f} s {m_old:6.0f} MB | new {t_new:7.2f} s {m_new:6.0f} MB"
            f" | {t_old / t_new:5.2f}x faster, memory {m_new / m_old:4.2f}x"
        )


def _engine(old: str, work: Path) -> None:
    """The statistics engine alone, old and new, from ``perf_stats``."""
    sys.path.insert(0, str(ROOT / "perf"))
    import perf_stats

    print()
    (work / "engine").mkdir()
    perf_stats.engine_against_old(perf_stats._import_old(old, work / "engine"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--old", default=OLD, help=f"the commit to compare with [{OLD}]")
    parser.add_argument("--case", action="append", choices=[*(c.name for c in CASES), "engine"])
    parser.add_argument("--repeats", type=int, default=1)
    args = parser.parse_args()
    chosen = [c for c in CASES if not args.case or c.name in args.case]
    engine = not args.case or "engine" in args.case
    work = Path(tempfile.mkdtemp(prefix="pybench-scale-"))
    old_tree = work / "old"
    subprocess.run(
        ["git", "worktree", "add", "--detach", "-q", str(old_tree), args.old],
        cwd=ROOT,
        check=True,
    )
    try:
        trees = {"old": old_tree / "src", "new": ROOT / "src"}
        print(f"old: {args.old}   new: {ROOT} (working tree)   python {sys.version.split()[0]}")
        print(f"medians of {args.repeats} run(s); peak = max resident memory of the process")
        for label, src in trees.items():  # compile and cache every module imported
            project = work / f"warm-{label}"
            _project(project, _scalars(1, 10))
            for _ in range(2):
                _measure(src, project, "benchmarks", "--seed", "1")
        for case in chosen:
            _run_case(case, trees, args.repeats, work)
        if engine:
            _engine(args.old, work)
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)], cwd=ROOT)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
