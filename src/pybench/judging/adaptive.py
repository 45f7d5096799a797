"""Adaptive seeds: judge a comparison at a few looks and stop as soon as the verdict is clear.

With ``adaptive=True`` (``--adaptive``) a comparison runs its stored seeds in
their stored order, in stages, and looks at the data after each stage:

* **FAIL** at look ``j`` when the sign-flip meta p-value of the first ``n_j``
  seeds is below that look's share ``alpha_j`` of ``alpha``. The shares sum to
  ``alpha`` (Bonferroni spending), so the chance of a false FAIL at *any* look
  is at most ``alpha``.
* **PASS** at look ``j`` (futility) when even an optimistic projection of the
  remaining seeds (every slot along its trend, the worst one pushed further
  towards a regression) leaves the final meta p-value at or above the last
  look's share. Stopping to accept never adds a FAIL, so it cannot raise the false
  alarm rate; it only costs power, and the projection's optimism is calibrated
  to keep that cost small.
* Otherwise the next stage runs; the last look judges all seeds.

Everything here is a pure function of numpy arrays; :mod:`pybench.engine.loop`
runs the stages and calls :func:`decide` after each. The design and the reason
the false-alarm rate stays below ``alpha`` are on the "How it works" page.
"""

from __future__ import annotations

import dataclasses
import enum
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from .. import relative, stats
from ..core.normalize import Slot
from .verdict import BenchComparison, Criteria, Paired, compare_run

__all__ = [
    "INTERIM_DIVISOR",
    "MAX_LOOKS",
    "OPTIMISM",
    "Decision",
    "Look",
    "StopReason",
    "decide",
    "decisions",
    "projected_meta_p",
    "schedule",
]

MAX_LOOKS = 5
"""Looks at most, the last one on all seeds."""

INTERIM_DIVISOR = 50
"""Each look before the last may spend ``alpha / INTERIM_DIVISOR`` on a FAIL (small, so
that the last look keeps almost all of ``alpha``: 0.046 of 0.05)."""

OPTIMISM = 1.5
"""How far (in standard deviations of the prediction) the futility rule lets the
remaining seeds push the most regressed slot towards a regression before it
calls the run futile; larger is more cautious (fewer early PASSes, less power
lost). Calibrated with ``perf/perf_adaptive.py --sweep`` so that the marginal
regressions there lose at most about 0.05 of the full run's power."""


@dataclass(frozen=True)
class Look:
    """One look: after the first ``n`` stored seeds, FAIL if the meta p-value is below ``alpha``."""

    n: int
    """Seeds judged at this look (the first ``n`` in stored order)."""
    alpha: float
    """This look's share of the benchmark's alpha."""


class StopReason(str, enum.Enum):
    """Why an adaptive comparison stopped where it did."""

    REGRESSION = "regression"
    """FAIL: the meta p-value fell below the look's share of alpha."""
    DIVERGED = "diverged"
    """FAIL: a slot went non-finite."""
    FUTILITY = "futility"
    """PASS: even an optimistic projection of the remaining seeds would not FAIL."""
    LAST_LOOK = "last look"
    """PASS: every stored seed ran and the meta p-value stayed at or above the last share."""


def schedule(n_seeds: int, alpha: float) -> tuple[Look, ...]:
    """The looks of an adaptive comparison over ``n_seeds`` stored seeds at level ``alpha``.

    Each look before the last spends ``alpha / INTERIM_DIVISOR``; the first comes
    after the fewest seeds that can reach that share (the sign-flip p-value
    cannot fall below ``1 / 2**n``); the others are spread evenly up to
    ``n_seeds``, at most :data:`MAX_LOOKS` in all and at least two seeds apart.
    The last look gets the rest of ``alpha``. When no interim look fits (too
    few seeds, or a share whose sign-flip budget pybench would refuse), the
    schedule is the single look ``(n_seeds, alpha)``: the ordinary comparison.
    """
    interim = alpha / INTERIM_DIVISOR
    if not stats.affordable(interim):  # its sign-flip budget would be too large
        return (Look(n_seeds, alpha),)
    first = stats.min_seeds(interim)
    n_stages = min(MAX_LOOKS - 1, (n_seeds - first) // 2)
    if n_stages < 1:
        return (Look(n_seeds, alpha),)
    last_alpha = alpha - n_stages * interim
    if not stats.reachable(last_alpha, n_seeds):
        return (Look(n_seeds, alpha),)
    sizes = [first + round(i * (n_seeds - first) / n_stages) for i in range(n_stages)]
    return (*(Look(n, interim) for n in sizes), Look(n_seeds, last_alpha))


def _goodness(
    slots: Sequence[Slot], baseline: np.ndarray, current: np.ndarray, rtol: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Paired goodness differences (rounding ties zeroed), effect denominators and slot
    magnitudes, as :func:`stats.compare` forms them."""
    sign = np.array([stats.goodness_sign(metric) for _, metric in slots])
    base_good = np.asarray(baseline, float) * sign
    cur_good = np.asarray(current, float) * sign
    magnitude = relative.magnitudes(base_good, cur_good)
    diffs = relative.ties(cur_good - base_good, magnitude, rtol)
    return diffs, stats.effect_denominators(base_good, rtol), magnitude


def projected_meta_p(
    slots: Sequence[Slot],
    baseline: np.ndarray,
    current: np.ndarray,
    n_total: int,
    criteria: Criteria,
    *,
    optimism: float = OPTIMISM,
) -> float:
    """The meta p-value the full run would reach if the rest of the seeds went badly.

    After ``n`` of ``n_total`` seeds, slot ``k``'s t statistic ``t_k`` predicts
    the final one as ``sqrt(n_total / n) * t_k`` if the current estimated effect
    persists, with a predictive standard deviation of ``sqrt(n_total / n - 1)``
    (the remaining seeds' noise plus the uncertainty of the estimate). The
    projection follows every slot's trend and moves the most regressed one (the
    lowest ``t_k``) a further ``optimism`` such deviations towards a regression,
    shifts each column of the differences so that its t statistic
    becomes the projected one (same spread, new mean), and returns the meta
    p-value of that projected matrix: :func:`pybench.stats._severity` and
    :func:`pybench.stats._sign_flip_meta_p`, as for a verdict. Slots with no
    spread keep their values (an unchanged re-run, all zero, projects to
    nothing), and so do slots the ``min_effect`` gate leaves out.

    Args:
        slots: the ``(step, metric)`` of each column (finite values only).
        baseline: ``(n, K)`` baseline values of the seeds run so far.
        current: ``(n, K)`` current values on the same seeds.
        n_total: the number of stored seeds.
        criteria: the benchmark's criteria (its alpha sets ``t_crit``; a slot whose
            spread is below ``rtol`` times its magnitude does not move).
        optimism: how many predictive deviations each slot is moved.
    """
    alpha, min_effect, rtol = criteria.alpha, criteria.min_effect, criteria.rtol
    n_perm = stats.n_permutations(alpha) if criteria.n_perm is None else criteria.n_perm
    diffs, denom, magnitude = _goodness(slots, baseline, current, rtol)
    n = diffs.shape[0]
    mean, sd = diffs.mean(axis=0), diffs.std(axis=0, ddof=1)
    moving = sd > rtol * magnitude
    if min_effect is not None:
        moving &= mean / denom < -min_effect
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(moving, mean / (sd / math.sqrt(n)), 0.0)
    push = np.zeros(t.shape)
    if moving.any():  # only the most regressed slot is pushed; the others follow their trend
        push[np.argmin(np.where(moving, t, np.inf))] = optimism
    target = math.sqrt(n_total / n) * t - push * math.sqrt(max(n_total / n - 1.0, 0.0))
    projected = diffs + np.where(moving, target * sd / math.sqrt(n) - mean, 0.0)
    t_crit = stats.t_critical(alpha, n)
    scale = dict(magnitude=np.maximum(magnitude, np.abs(projected).max(axis=0)), rtol=rtol)
    severity = stats._severity(projected, denom, min_effect=min_effect, t_crit=t_crit, **scale)
    return stats._sign_flip_meta_p(
        projected,
        denom,
        severity,
        min_effect=min_effect,
        t_crit=t_crit,
        n_perm=n_perm,
        rng=np.random.default_rng(0),
        **scale,
    )


@dataclass(frozen=True)
class Decision:
    """What a look concluded."""

    look: int
    """The look's index in the schedule (0-based)."""
    n: int
    """Seeds judged."""
    reason: StopReason | None
    """Why the comparison stops here, or ``None`` to run the next stage."""
    comparison: BenchComparison
    """The comparison of the seeds judged, computed at the benchmark's alpha; its
    ``passed`` holds the meta p-value to this look's share instead (:attr:`alpha`)."""
    projected_meta_p: float | None = None
    """The futility rule's projection (``None`` when not computed)."""
    alpha: float = 0.0
    """The share of alpha the meta p-value was held to at this look."""

    @property
    def stop(self) -> bool:
        return self.reason is not None

    @property
    def passed(self) -> bool:
        return self.reason in (StopReason.FUTILITY, StopReason.LAST_LOOK)


def decide(
    looks: Sequence[Look],
    index: int,
    paired: Paired,
    criteria: Criteria,
    *,
    optimism: float = OPTIMISM,
) -> Decision:
    """Judge look ``index`` of ``looks`` on the first ``looks[index].n`` seeds.

    Args:
        looks: the schedule (:func:`schedule`).
        index: which look this is.
        paired: the seeds judged, their ``(n, K)`` baseline and current values
            (non-finite current values are divergences).
        criteria: the benchmark's criteria. Its alpha sets ``t_crit`` inside the
            severity (the meta p-value is held to the look's own share); a sign-flip
            budget of ``None`` is :func:`pybench.stats.n_permutations` of the look's
            alpha (studies may give a smaller one).
        optimism: the futility rule's caution (:func:`projected_meta_p`).

    Raises:
        ValueError: if the matrices do not hold ``looks[index].n`` rows.
    """
    look = looks[index]
    baseline = np.asarray(paired.baseline, dtype=float)
    current = np.asarray(paired.current, dtype=float)
    if baseline.shape[0] != look.n or current.shape != baseline.shape:
        raise ValueError(f"look {index + 1} judges {look.n} seeds, got {current.shape[0]} rows")
    if criteria.n_perm is None:
        criteria = dataclasses.replace(criteria, n_perm=stats.n_permutations(look.alpha))
    comparison = compare_run(paired, criteria)
    if comparison.stats is not None:
        # The statistics stay those of the benchmark's alpha (t_crit, intervals, the
        # improvement test); only the verdict is the look's.
        held = comparison.stats.meta_p < look.alpha
        comparison = dataclasses.replace(
            comparison, stats=dataclasses.replace(comparison.stats, passed=not held)
        )

    def stop(reason: StopReason | None, projected: float | None = None) -> Decision:
        return Decision(index, look.n, reason, comparison, projected, look.alpha)

    if comparison.diverged:
        return stop(StopReason.DIVERGED)
    if not comparison.passed:
        return stop(StopReason.REGRESSION)
    if index == len(looks) - 1:
        return stop(StopReason.LAST_LOOK)
    assert comparison.stats is not None  # no divergence, so every slot is finite
    projected = projected_meta_p(
        paired.slots, baseline, current, looks[-1].n, criteria, optimism=optimism
    )
    futile = projected >= looks[-1].alpha
    return stop(StopReason.FUTILITY if futile else None, projected)


def decisions(
    looks: Sequence[Look], paired: Paired, criteria: Criteria, *, optimism: float = OPTIMISM
) -> Iterator[Decision]:
    """:func:`decide` at each look in turn, on the leading rows of complete matrices.

    The run stage decides as stages arrive; this replays the same decisions on
    data that is already complete (studies of the design). It yields every
    look's decision, also after one that stops, until the caller stops asking:
    the adaptive verdict is the first decision that stops.
    """
    for index, look in enumerate(looks):
        yield decide(looks, index, paired.head(look.n), criteria, optimism=optimism)
