"""Comparison: judge a benchmark's current run against its stored baseline.

Slots whose current value is non-finite on some seed (while the baseline is
finite) are *diverged*: they make the benchmark FAIL on their own, and the
remaining slots are still tested with :func:`pybench.stats.compare`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .normalize import Slot
from .run import RunResult
from .stats import Comparison, compare
from .store import BaselineRecord

__all__ = ["BenchComparison", "Divergence", "compare_run", "N_PERM"]

N_PERM = 4096
"""Sign-flip permutations per benchmark (exact enumeration when ``2**n`` is no more)."""


@dataclass(frozen=True)
class Divergence:
    """A slot that is finite in the baseline and NaN/±inf in the current run."""

    step: int
    metric: str
    seeds: list[int]
    n_seeds: int
    baseline_mean: float
    baseline_std: float


@dataclass(frozen=True)
class BenchComparison:
    """The statistics of the finite slots plus any diverged slots."""

    stats: Comparison | None
    diverged: list[Divergence]
    n_slots: int

    @property
    def passed(self) -> bool:
        return not self.diverged and (self.stats is None or self.stats.passed)

    @property
    def n_flagged(self) -> int:
        return len(self.diverged) + (self.stats.n_flagged if self.stats else 0)

    @property
    def meta_p(self) -> float | None:
        return self.stats.meta_p if self.stats else None


def compare_run(
    record: BaselineRecord,
    result: RunResult,
    *,
    alpha: float,
    min_effect: float | None,
    n_perm: int = N_PERM,
) -> BenchComparison:
    """Compare ``result`` (run on ``record.seeds``) with ``record``.

    ``result.slots`` must equal ``record.slots()``; :func:`pybench.run.run_benchmark`
    with ``expected_slots`` guarantees it.
    """
    slots: list[Slot] = result.slots
    bad = ~np.isfinite(result.values)
    diverged: list[Divergence] = []
    baseline: dict[int, dict[str, list[float]]] = {}
    current: dict[int, dict[str, list[float]]] = {}
    for k, (step, metric) in enumerate(slots):
        base_values = record.scores[step][metric]
        if bad[:, k].any():
            arr = np.asarray(base_values, dtype=float)
            diverged.append(
                Divergence(
                    step=step,
                    metric=metric,
                    seeds=[result.seeds[i] for i in np.flatnonzero(bad[:, k])],
                    n_seeds=len(result.seeds),
                    baseline_mean=float(arr.mean()),
                    baseline_std=float(arr.std(ddof=1)),
                )
            )
            continue
        baseline.setdefault(step, {})[metric] = base_values
        current.setdefault(step, {})[metric] = result.values[:, k].tolist()
    stats = (
        compare(
            baseline,
            current,
            alpha=alpha,
            min_effect=min_effect,
            n_perm=n_perm,
        )
        if baseline
        else None
    )
    return BenchComparison(stats=stats, diverged=diverged, n_slots=len(slots))
