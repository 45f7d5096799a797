"""Comparison: judge a benchmark's current run against its baseline, seed for seed.

Slots whose current value is non-finite on some seed (while the baseline is
finite) are *diverged*: they make the benchmark FAIL on their own, and the
remaining slots are still tested with :func:`pybench.stats.compare`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..core.normalize import Slot
from ..relative import RTOL
from ..stats import Comparison, compare

__all__ = ["BenchComparison", "Criteria", "Divergence", "Paired", "compare_run"]


@dataclass(frozen=True, eq=False)
class Paired:
    """A run's values beside its baseline's: two ``(n_seeds, K)`` matrices, rows paired by seed."""

    slots: Sequence[Slot]
    """The ``(step, metric)`` of each column."""
    seeds: Sequence[int]
    """The seed of each row (named in divergence reports)."""
    baseline: np.ndarray
    """The baseline's values (finite)."""
    current: np.ndarray
    """The current run's values on the same seeds."""

    def head(self, n: int) -> Paired:
        """The first ``n`` seeds."""
        return Paired(self.slots, self.seeds[:n], self.baseline[:n], self.current[:n])


@dataclass(frozen=True)
class Criteria:
    """What a comparison holds a run to: the arguments of :func:`pybench.stats.compare`."""

    alpha: float
    """Significance level."""
    min_effect: float | None = None
    """The relative-effect gate, or ``None``."""
    n_perm: int | None = None
    """The sign-flip budget (``None``: grows with 1/alpha, see
    :func:`pybench.stats.n_permutations`)."""
    rtol: float = RTOL
    """The tie tolerance (:data:`pybench.relative.RTOL`)."""


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
    margin: float | None = None
    """``equivalence``: the largest relative drop the run must rule out in every slot."""

    @property
    def passed(self) -> bool:
        return not self.diverged and (self.stats is None or self.stats.passed) and self.equivalent

    @property
    def equivalent(self) -> bool:
        """Whether the run rules out every drop larger than :attr:`margin` (true without one)."""
        if self.margin is None:
            return True
        bound = self.stats.rules_out if self.stats is not None else None
        return bound is not None and bound.drop <= self.margin

    @property
    def n_flagged(self) -> int:
        return len(self.diverged) + (self.stats.n_flagged if self.stats else 0)

    @property
    def meta_p(self) -> float | None:
        return self.stats.meta_p if self.stats else None


def compare_run(paired: Paired, criteria: Criteria) -> BenchComparison:
    """Compare ``paired.current`` with ``paired.baseline`` on ``criteria``."""
    slots, seeds = paired.slots, paired.seeds
    # Column-major, as the statistics have always summed them (a copy only when not already so)
    baseline = np.asfortranarray(paired.baseline, dtype=float)
    current = np.asfortranarray(paired.current, dtype=float)
    bad = ~np.isfinite(current)
    diverged_cols = np.flatnonzero(bad.any(axis=0))
    diverged = [
        Divergence(
            step=slots[k][0],
            metric=slots[k][1],
            seeds=[int(seeds[i]) for i in np.flatnonzero(bad[:, k]).tolist()],
            n_seeds=len(seeds),
            baseline_mean=float(baseline[:, k].mean()),
            baseline_std=float(baseline[:, k].std(ddof=1)),
        )
        for k in diverged_cols.tolist()
    ]
    keep = np.flatnonzero(~bad.any(axis=0))
    n_slots = len(slots)
    if keep.size < n_slots:  # (otherwise the matrices are used as they are, not copied)
        baseline, current = baseline[:, keep], current[:, keep]
        slots = [slots[k] for k in keep.tolist()]
    stats = (
        compare(
            baseline,
            current,
            slots,
            alpha=criteria.alpha,
            min_effect=criteria.min_effect,
            n_perm=criteria.n_perm,
            rtol=criteria.rtol,
        )
        if keep.size
        else None
    )
    return BenchComparison(stats=stats, diverged=diverged, n_slots=n_slots)
