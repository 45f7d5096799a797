"""What each report adds to a run: time and peak memory, against the wide and the many.

Cases: one benchmark with 10 000, 20 000 and 100 000 slots (30 seeds, a few
slots regressed), and 200 benchmarks of 3 slots. For each, the time and the
peak Python memory (tracemalloc, numpy included) of rendering and writing the
JSON, JUnit XML, Markdown and HTML reports.

With ``--old REV`` (default: ``main``) the same measurements run in a
subprocess on that revision's sources (exported with ``git archive``), so old
and new are measured in one run on the same machine. Old cases known to take
minutes (100 000 slots, and the HTML at 20 000) are skipped unless ``--all``;
a measurement over 180 s is reported as ``>180``. Each measurement runs in its
own process, so set-up (building the outcomes, ~1 s per 10 000 slots of
statistics) is not timed.

    uv run python perf/perf_reports.py            # new and main
    uv run python perf/perf_reports.py --old none # new only
    uv run python perf/perf_reports.py --case "10k slots" --report html --old HEAD~1
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
SLOW_ON_OLD = {("100k slots", kind) for kind in REPORTS} | {("20k slots", "html")}
CASE_LIMIT = 180
"""Seconds one measurement may take (set-up included) before it is reported as over the limit."""


@functools.lru_cache(maxsize=1)
def _outcomes(n_bench: int, n_slots: int) -> tuple[list[Any], Any]:
    import numpy as np

    from pybench.core.benchmark import Benchmark
    from pybench.core.settings import Settings
    from pybench.engine.outcome import Outcome, Status
    from pybench.judging.verdict import Criteria, Paired, compare_run
    from pybench.reports import RunInfo

    rng = np.random.default_rng(0)
    n = 30
    steps = max(1, n_slots // 2)
    slots = [(s, m) for s in range(steps) for m in ("accuracy", "min:loss")][:n_slots]
    outcomes = []
    for b in range(n_bench):
        base = rng.normal(1.0, 0.1, size=(n, len(slots)))
        cur = base + rng.normal(0.0, 0.02, size=base.shape)
        cur[:, :: max(1, len(slots) // 5)] -= 0.2  # a few regressed slots
        result = compare_run(Paired(slots, list(range(n)), base, cur), Criteria(0.05))
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
        row = {"seconds": seconds, "peak_mb": peak / 2**20}
        if kind == "json":
            row["numbers"] = _number_floor(Path(tmp) / "report.json")
    return row


def _number_floor(path: Path) -> float:
    """Seconds the C encoder takes to write the report's numbers alone, as one flat list:
    the part of the JSON report no layout of the document can avoid."""
    numbers: list[float] = []

    def collect(value: Any) -> None:
        if isinstance(value, float):
            numbers.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                collect(item)
        elif isinstance(value, list):
            for item in value:
                collect(item)

    collect(json.loads(path.read_text()))
    started = time.perf_counter()
    json.dumps(numbers)
    return time.perf_counter() - started


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


def _run(src: Path, cases: list[tuple[str, str]]) -> dict[tuple[str, str], dict[str, Any]]:
    """Each case in its own process (so one slow case cannot hold up the others)."""
    env = {**os.environ, "PYTHONPATH": str(src), "MPLBACKEND": "Agg"}
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for case in cases:
        try:
            done = subprocess.run(
                [sys.executable, __file__, "--worker", json.dumps([case])],
                env=env, capture_output=True, text=True, check=False, timeout=CASE_LIMIT,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            rows[case] = {"over": True}
            continue
        if done.returncode != 0:
            print(done.stderr[-2000:], file=sys.stderr)
        for line in done.stdout.splitlines():
            if line.startswith("{"):
                row = json.loads(line)
                rows[(row["case"], row["report"])] = row
    return rows


def _cell(row: dict[str, Any] | None, missing: str) -> str:
    if row is None:
        return f"{missing:>8} {'':>8}"
    if row.get("over"):
        return f"{'>' + str(CASE_LIMIT):>8} {'':>8}"
    return f"{row['seconds']:8.2f} {row['peak_mb']:8.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--old", default="main", help="revision to compare with ('none': skip)")
    parser.add_argument("--all", action="store_true", help="also the old cases that take minutes")
    parser.add_argument("--case", action="append", choices=list(CASES),
                        help="only this case (repeatable; default: every case)")  # fmt: skip
    parser.add_argument("--report", action="append", choices=REPORTS,
                        help="only this report (repeatable; default: every report)")  # fmt: skip
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        _worker([tuple(c) for c in json.loads(args.worker)])
        return
    cases = [(case, kind) for case in args.case or CASES for kind in args.report or REPORTS]
    new = _run(REPO / "src", cases)
    old: dict[tuple[str, str], dict[str, Any]] = {}
    if args.old != "none":
        wanted = [c for c in cases if args.all or c not in SLOW_ON_OLD]
        old = _run(_old_tree(args.old), wanted)
    print(f"{'case':<15} {'report':<9} {'new s':>8} {'new MB':>8} {'old s':>8} {'old MB':>8} "
          f"{'speed-up':>9}")  # fmt: skip
    for case, kind in cases:
        n, o = new.get((case, kind)), old.get((case, kind))
        ns, os_ = _cell(n, "—"), _cell(o, "skipped")
        timed = n and o and "seconds" in n and "seconds" in o
        ratio = f"{o['seconds'] / n['seconds']:8.1f}×" if timed else ""
        print(f"{case:<15} {kind:<9} {ns} {os_} {ratio:>9}", flush=True)
    for (case, _), row in new.items():
        if "numbers" in row:
            print(f"{case}: of the JSON report's {row['seconds']:.2f} s, writing its numbers "
                  f"alone (one flat list, C encoder) takes {row['numbers']:.2f} s")  # fmt: skip


if __name__ == "__main__":
    main()
