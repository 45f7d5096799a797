"""The history at scale: appending a large run, reading a long history, building its site.

Run from the repository root::

    uv run python perf/perf_history.py [--postgres URL] [--runs 1000] [--keep DIR]

It prints, for the SQLite store (and for PostgreSQL with ``--postgres`` or
``PYBENCH_TEST_POSTGRES``):

1. appending one run of 10 000 slots × 30 seeds (10 benchmarks × 1 000 slots),
   the values stored per seed (target: < 1 s);
2. ``pybench history`` on 1 000 runs × 100 slots (10 benchmarks × 2 metrics ×
   5 steps, 30 seeds each), the whole command in a fresh process and the query
   with change points in this one (target: < 1 s);
3. ``pybench site`` on that history, in a fresh process (target: < 60 s).

The history is made of numbers drawn here (1 % noise per commit, a 4 % drop
at commit 700 in one benchmark), appended through the store's own ``append``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from pybench.history.entries import RunEntry  # noqa: E402
from pybench.history.query import build  # noqa: E402
from pybench.history.stores import Store, open_store  # noqa: E402
from tests.historydata import result, run_entry  # noqa: E402

N_SEEDS = 30


def big_run(rng: np.random.Generator) -> RunEntry:
    """One run of 10 benchmarks × 1 000 slots × 30 seeds."""
    slots = [(step, f"metric{m}") for step in range(100) for m in range(10)]
    results = [
        result(f"bench_{b}", slots, 1 + 0.01 * rng.standard_normal((N_SEEDS, len(slots))))
        for b in range(10)
    ]
    return run_entry(0, results)


def long_history(rng: np.random.Generator, n_runs: int) -> list[RunEntry]:
    """``n_runs`` runs of 10 benchmarks × 100 slots (2 metrics × 5 steps... per benchmark 10)."""
    slots = [(step, metric) for metric in ("accuracy", "min:loss") for step in (1, 2, 3, 4, 5)]
    runs = []
    for i in range(n_runs):
        results = []
        for b in range(10):
            level = 0.96 if b == 0 and i >= 700 else 1.0
            means = level * (1 + 0.01 * rng.standard_normal(len(slots)))
            values = means + 0.002 * rng.standard_normal((N_SEEDS, len(slots)))
            results.append(result(f"bench_{b}", slots, values))
        started = f"2026-01-{1 + i // 1440:02d}T{i % 1440 // 60:02d}:{i % 60:02d}:00Z"
        runs.append(run_entry(i, results, started=started))
    return runs


def timed(label: str, func: object, target: float) -> float:
    started = time.perf_counter()
    func()  # type: ignore[operator]
    took = time.perf_counter() - started
    verdict = "ok" if took < target else "MISSED"
    print(f"  {label:<58} {took:7.3f} s  (target < {target:g} s: {verdict})")
    return took


def cli(*args: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pybench", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"pybench {' '.join(args)} failed:\n{done.stderr}")


def fresh_store(kind: str, folder: Path, url: str | None, name: str) -> tuple[Store, str]:
    if kind == "sqlite":
        target = str(folder / f"{name}.db")
        return open_store(target), target
    import psycopg

    assert url is not None
    base, _, _ = url.rpartition("/")
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS perf_{name}")
        admin.execute(f"CREATE DATABASE perf_{name}")
    target = f"{base}/perf_{name}"
    return open_store(target), target


def measure(kind: str, folder: Path, url: str | None, n_runs: int) -> None:
    print(f"{kind}:")
    rng = np.random.default_rng(0)
    store, _ = fresh_store(kind, folder, url, "append")
    run = big_run(rng)
    with store:
        store.append(run_entry(1, run.results[:1]))  # warm: schema made, machine known
        timed("append a run of 10 000 slots x 30 seeds", lambda: store.append(run), 1.0)
    store, target = fresh_store(kind, folder, url, "long")
    with store:
        started = time.perf_counter()
        for entry in long_history(rng, n_runs):
            store.append(entry)
        print(f"  (made {n_runs} runs x 100 slots in {time.perf_counter() - started:.1f} s)")
        histories: list = []
        timed(
            f"query {n_runs} runs x 100 slots with change points (in process)",
            lambda: histories.extend(build(store)),
            1.0,
        )
        found = [(h.name, s.metric, s.step, s.points[c.index].label) for h in histories
                 for s in h.slots for c in s.changes]
        print(f"  ({len(found)} change points; in bench_0: "
              f"{sum(1 for f in found if f[0] == 'bench_0')} of its 10 slots)")
    timed(f"pybench history on {n_runs} runs x 100 slots (fresh process)",
          lambda: cli("history", "--history", target), 1.0)
    timed(f"pybench history --json on {n_runs} runs (fresh process)",
          lambda: cli("history", "--history", target, "--json", str(folder / "h.json")), 1.0)
    timed(f"pybench site on {n_runs} runs x 100 slots (fresh process)",
          lambda: cli("site", str(folder / f"site-{kind}"), "--history", target), 60.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", default=os.environ.get("PYBENCH_TEST_POSTGRES"))
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--keep", type=Path, default=None, help="Keep the stores and sites here.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        measure("sqlite", folder, None, args.runs)
        if args.postgres:
            measure("postgresql", folder, args.postgres, args.runs)
        else:
            print("postgresql: skipped (no --postgres URL, no PYBENCH_TEST_POSTGRES)")


if __name__ == "__main__":
    main()
