"""Histories made up for the history's tests and perf script: runs over commits, in numbers."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from pybench.history.entries import ResultEntry, RunEntry

MACHINE = {
    "cpu": "Test CPU",
    "cpus": 8,
    "os": "Test OS",
    "python": "3.11.7",
    "packages": {"numpy": "2.0.0"},
}
"""A fixed fingerprint (``gpus`` added per run where wanted)."""


def commit(i: int) -> str:
    """A made-up 40-hex commit hash for commit number ``i``."""
    return hashlib.sha1(f"commit {i}".encode()).hexdigest()


def run_entry(
    i: int,
    results: Sequence[ResultEntry],
    *,
    machine: dict | None = None,
    branch: str = "main",
    dirty: bool = False,
    started: str | None = None,
) -> RunEntry:
    """Run number ``i`` at commit number ``i``."""
    sha = commit(i)
    return RunEntry(
        command="run",
        started=started or f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
        results=tuple(results),
        machine=machine or MACHINE,
        pybench_version="0.1.0",
        commit=sha,
        commit_short=sha[:7],
        branch=branch,
        dirty=dirty,
    )


def result(
    bench: str,
    slots: Sequence[tuple[int, str]],
    values: np.ndarray,
    *,
    status: str = "PASS",
    seeds: Sequence[int] | None = None,
) -> ResultEntry:
    """A benchmark's result: ``values`` is ``(n_seeds, K)``."""
    n = values.shape[0]
    return ResultEntry(
        bench=bench,
        status=status,
        slots=tuple(slots),
        values=values,
        baseline=values,
        seeds=tuple(seeds if seeds is not None else range(n)),
        meta_p=1.0,
        n_flagged=0,
        p=tuple(1.0 for _ in slots),
        flagged=tuple(False for _ in slots),
        effect=tuple(0.0 for _ in slots),
        settings={"n_seeds": n, "alpha": 0.05},
    )


def step_history(
    n_commits: int,
    *,
    step_at: int | None,
    size: float = 0.04,
    noise: float = 0.01,
    n_seeds: int = 10,
    benches: Sequence[str] = ("bench_a",),
    slots: Sequence[tuple[int, str]] = ((1, "accuracy"),),
    seed: int = 0,
    machine_at: int | None = None,
) -> list[RunEntry]:
    """Runs over ``n_commits`` commits whose means are 1 plus ``noise`` per commit, times
    ``1 - size`` from commit ``step_at`` on (a drop: worse for a higher-is-better metric, and
    FAIL there); a different GPU from ``machine_at`` on."""
    rng = np.random.default_rng(seed)
    runs = []
    for i in range(n_commits):
        level = 1.0 - (size if step_at is not None and i >= step_at else 0.0)
        results = []
        for bench in benches:
            means = level * (1 + noise * rng.standard_normal(len(slots)))
            values = means + 0.001 * rng.standard_normal((n_seeds, len(slots)))
            status = "FAIL" if step_at is not None and i == step_at else "PASS"
            results.append(result(bench, slots, values, status=status))
        machine = dict(MACHINE)
        if machine_at is not None and i >= machine_at:
            machine["gpus"] = ["NVIDIA H100"]
        runs.append(run_entry(i, results, machine=machine))
    return runs
