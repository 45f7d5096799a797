"""What each report adds to a run: time and peak memory, against the wide and the many.

Cases: one benchmark with 10 000, 20 000 and 100 000 slots (30 seeds, a few
slots regressed), and 200 benchmarks of 3 slots. For each, the time and the
peak Python memory (tracemalloc, numpy included) of rendering and writing the
JSON, JUnit XML, Markdown and HTML reports.

With ``--old REV`` (default: ``main``) the same measurements run in a
subprocess on that revision's sources (exported with ``git archive``), so old
and new are measured in one run on the same machine. Old cases known to take
minutes are skipped unless ``--all``.

    uv run python perf/perf_reports.py            # new and main
    uv run python perf/perf_reports.py --old none # new only
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
CASES = {  # name: (benchmarks, slots each)
    "10k slots": (1, 10_000),
    "20k slots": (1, 20_000),
    "100k slots": (1, 100_000),
    "200 benchmarks": (200, 3),
}
REPORTS = ("json", "junit", "markdown", "html")
SLOW_ON_OLD = {("100k slots", "json"), ("100k slots", "html"), ("20k slots", "html")}


@functools.lru_cache(maxsize=1)
def _outcomes(n_bench: int, n_slots: int) -> tuple[list[Any], Any]:
    import numpy as np

    from pybench.compare import compare_run
    from pybench.discover import Benchmark
    from pybench.reports import RunInfo
    from pybench.session import Outcome, Status
    from pybench.settings import Settings

    rng = np.random.default_rng(0)
    n = 30
    steps = max(1, n_slots // 2)
    slots = [(s, m) for s in range(steps) for m in ("accuracy", "min:loss")][:n_slots]
    outcomes = []
    for b in range(n_bench):
        base = rng.normal(1.0, 0.1, size=(n, len(slots)))
        cur = base + rng.normal(0.0, 0.02, size=base.shape)
        cur[:, :: max(1, len(slots) // 5)] -= 0.2  # a few regressed slots
        result = compare_run(slots, list(range(n)), base, cur, alpha=0.05, min_effect=None)
        status = Status.PASS if result.passed else Status.FAIL
        bench = Benchmark(f"bench_{b:03d}", REPO / "perf" / "bench_x.py", lambda s: 0.0,
                          Settings())  # fmt: skip
        outcomes.append(Outcome(status, bench, Settings(), tuple(range(n)), tuple(slots),
                                cur, base, result))  # fmt: skip
    info = RunInfo(command="run", path=REPO / "perf", baseline=REPO / "no-such-baseline.jsonl")
    return outcomes, info


def _write(kind: str, outcomes: list[Any], info: Any, folder: Path) -> None:
    from pybench import reports

    target = folder / f"report.{kind}"
    reports.write_all(outcomes, info, **{f"{kind}_path": target}, environ={})


def _measure(case: str, kind: str) -> dict[str, float]:
    outcomes, info = _outcomes(*CASES[case])
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        _write(kind, outcomes, info, Path(tmp))
        seconds = time.perf_counter() - started
        tracemalloc.start()
        _write(kind, outcomes, info, Path(tmp))
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return {"seconds": seconds, "peak_mb": peak / 2**20}


def _worker(cases: list[tuple[str, str]]) -> None:
    """Measure ``cases`` with whatever ``pybench`` is importable; print JSON lines."""
    for case, kind in cases:
        print(json.dumps({"case": case, "report": kind, **_measure(case, kind)}), flush=True)


def _old_tree(rev: str) -> Path:
    folder = Path(tempfile.mkdtemp(prefix="pybench-old-"))
    archive = subprocess.run(["git", "archive", rev, "src"], cwd=REPO, capture_output=True,
                             check=True).stdout  # fmt: skip
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder / "src"


def _run(src: Path, cases: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, float]]:
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    done = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(cases)],
        env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        print(done.stderr[-3000:], file=sys.stderr)
    rows = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return {(r["case"], r["report"]): r for r in rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="main", help="revision to compare with ('none': skip)")
    parser.add_argument("--all", action="store_true", help="also the old cases that take minutes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker([tuple(c) for c in json.loads(args.worker)])
        return
    cases = [(case, kind) for case in CASES for kind in REPORTS]
    new = _run(REPO / "src", cases)
    old: dict[tuple[str, str], dict[str, float]] = {}
    if args.old != "none":
        wanted = [c for c in cases if args.all or c not in SLOW_ON_OLD]
        old = _run(_old_tree(args.old), wanted)
    print(f"{'case':<15} {'report':<9} {'new s':>8} {'new MB':>8} {'old s':>8} {'old MB':>8} "
          f"{'speed-up':>9}")  # fmt: skip
    for case, kind in cases:
        n, o = new.get((case, kind)), old.get((case, kind))
        ns = f"{n['seconds']:8.2f} {n['peak_mb']:8.1f}" if n else f"{'—':>8} {'—':>8}"
        os_ = f"{o['seconds']:8.2f} {o['peak_mb']:8.1f}" if o else f"{'skipped':>8} {'':>8}"
        ratio = f"{o['seconds'] / n['seconds']:8.1f}×" if n and o else ""
        print(f"{case:<15} {kind:<9} {ns} {os_} {ratio:>9}")


if __name__ == "__main__":
    main()
