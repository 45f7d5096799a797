"""Plans by simulation: how many seeds the verdict pybench actually runs needs for a drop.

The per-slot plan (:func:`pybench.stats.power_plan`) answers for one slot's
t-test, but the verdict sums the severity over every slot, so a drop confined
to one slot is diluted by the noise of all the others. Here the verdict itself
is simulated on the baseline's own per-seed vectors (rows), which keeps every
correlation between slots:

* a simulated comparison of ``m`` seeds draws ``m`` baseline rows and ``m``
  current rows from the stored ones (with replacement, independently), so a
  seed's difference is ``G[j] - G[i]``: the current run is assumed to have the
  baseline's noise and a change is assumed to re-randomise each seed (the
  classical ``sqrt(2) sigma`` of paired differences, here without assuming
  normality). Runs that stay correlated with their baseline seed need fewer
  seeds; a current run noisier than the baseline needs more;
* the drop is ``effect`` times the slot's baseline mean goodness, either in one
  slot (a different reliable slot, at random, in each simulated comparison) or
  in every reliable slot;
* the verdict is the severity's sign-flip meta p-value below ``alpha``
  (:func:`pybench.stats._severity`, :func:`pybench.stats._sign_flip_meta_p`)
  with the benchmark's ``min_effect``, at a flip budget of at most
  :data:`SIM_FLIPS` (coarser p-values, which cost a little power, never level).

With a ``margin`` (``pybench plan --margin``) the same simulation, with no
drop at all, counts how often the comparison's simultaneous bound
(:attr:`pybench.stats.Comparison.rules_out`) rules out every drop larger than the
margin: the seeds an ``--equivalence`` gate needs to PASS an unchanged benchmark.

The seeds planned are the fewest whose simulated detection rate reaches the
requested power, found by a bisection over the number of seeds with the same
random draws at every candidate.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import relative, stats
from .._signflip import sign_flip_null
from .._tdist import t_ppf

__all__ = [
    "REPLICATIONS",
    "SIM_FLIPS",
    "VerdictPlan",
    "detection_rate",
    "margin_plan",
    "plan",
    "to_json",
]

REPLICATIONS = 400
"""Simulated comparisons per candidate number of seeds (standard error about 0.02)."""

SIM_FLIPS = 500
"""The most sign flips per simulated comparison (the real budget when smaller)."""

_DRAWN = 1000
"""Seeds drawn per replication whatever ``n`` (so that smaller ``n`` use a prefix)."""


@dataclass(frozen=True)
class VerdictPlan:
    """One benchmark's plan (the ``pybench plan --json`` record)."""

    name: str
    effect: float
    """The relative drop planned for (0.02 = 2 %)."""
    power: float
    """The wanted detection rate."""
    alpha: float
    min_effect: float | None
    n_seeds: int
    """Seeds of the stored baseline the simulation draws from."""
    seeds_one_slot: int | None
    """Seeds that detect the drop in one slot with the wanted power (``None``: more than
    :data:`pybench.stats.PLAN_MAX_SEEDS`, or no reliable slot)."""
    seeds_all_slots: int | None
    """Seeds that detect the drop in every slot with the wanted power."""
    power_one_slot: float
    """The simulated detection rate of a one-slot drop at ``n_seeds`` seeds."""
    power_all_slots: float
    """The same for a drop in every slot."""
    margin: float | None = None
    """``--margin``: the drop an ``--equivalence`` gate must rule out (``None``: not planned)."""
    seeds_margin: int | None = None
    """Seeds whose bound rules out drops above ``margin`` in every slot, on an unchanged
    benchmark, with the wanted probability (``None``: more than the most planned, or no
    margin)."""
    rate_margin: float | None = None
    """The simulated rate at which ``n_seeds`` seeds rule it out."""


@dataclass(frozen=True)
class _Model:
    """The baseline's goodness rows and what the simulation needs from them."""

    good: np.ndarray
    drop: np.ndarray
    """``(K,)``: the drop of each reliable slot (``effect * |mean|``); 0 elsewhere."""
    magnitude: np.ndarray
    alpha: float
    min_effect: float | None
    margin: float | None = None

    @classmethod
    def of(
        cls,
        baseline: np.ndarray,
        slots: Sequence[tuple[int, str]],
        *,
        alpha: float,
        effect: float,
        min_effect: float | None,
    ) -> _Model:
        base = np.asarray(baseline, dtype=float)
        sign = np.array([stats.goodness_sign(metric) for _, metric in slots])
        good = base * sign
        good = good * relative.normalise(good)
        n = good.shape[0]
        mean, sd = good.mean(axis=0), good.std(axis=0, ddof=1)
        reliable = np.abs(mean) * math.sqrt(n) > -t_ppf(alpha / 2.0, n - 1) * sd
        drop = np.where(reliable, effect * np.abs(mean), 0.0)
        return cls(good, drop, relative.magnitudes(good), alpha, min_effect)

    def rejects(self, diffs: np.ndarray, base: np.ndarray, rng: np.random.Generator) -> bool:
        """The verdict on one simulated comparison: FAIL (``True``) or PASS."""
        n = diffs.shape[0]
        denom = stats.effect_denominators(base)
        data = stats._prepare(diffs, denom, self.min_effect, magnitude=self.magnitude)
        budget = min(stats.n_permutations(self.alpha), SIM_FLIPS)
        t_crit = stats.t_critical(self.alpha, n)
        null = sign_flip_null(data, t_crit=t_crit, n_perm=budget, rng=rng, extras=False)
        return null.meta_p < self.alpha

    def rules_out(self, diffs: np.ndarray, base: np.ndarray, rng: np.random.Generator) -> bool:
        """Whether a simulated comparison's simultaneous bound rules out drops above the margin."""
        n, k = diffs.shape
        data = stats._prepare(diffs, np.ones(k), None, magnitude=self.magnitude)
        budget = min(stats.n_permutations(self.alpha), SIM_FLIPS)
        t_crit = stats.t_critical(self.alpha, n)
        null = sign_flip_null(
            data, t_crit=t_crit, n_perm=budget, rng=rng, extras=False, bound_alpha=self.alpha
        )
        low, _, _ = relative.fieller_at(diffs, base, null.crit)
        return bool(np.all(-low <= (self.margin or 0.0)))


def detection_rate(
    model: _Model, n: int, where: str, *, replications: int = REPLICATIONS, seed: int = 0
) -> float:
    """The simulated rate at which ``n`` seeds detect the drop ``where`` ("one" or "all").

    ``where="margin"`` is the rate at which an unchanged benchmark's bound rules
    out drops above ``model.margin`` in every slot.

    Replication ``r`` draws from its own generator (``seed``, ``r``), and the
    seeds of a smaller ``n`` are the first of a larger one's: the rates of
    different ``n`` share their randomness, which keeps the search steady.
    """
    rows = model.good.shape[0]
    candidates = np.flatnonzero(model.drop > 0)
    if candidates.size == 0:
        return 0.0
    hits = 0
    for r in range(replications):
        rng = np.random.default_rng([seed, r])
        k = candidates[rng.integers(candidates.size)]
        pairs = rng.integers(rows, size=(2, max(n, _DRAWN)))
        i, j = pairs[0, :n], pairs[1, :n]
        base = model.good[i]
        diffs = model.good[j] - base
        if where == "margin":
            hits += model.rules_out(diffs, base, rng)
            continue
        if where == "one":
            diffs[:, k] -= model.drop[k]
        else:
            diffs -= model.drop
        hits += model.rejects(diffs, base, rng)
    return hits / replications


def _fewest(
    model: _Model, where: str, power: float, max_seeds: int, replications: int
) -> int | None:
    """The fewest seeds whose detection rate reaches ``power`` (bisection), or ``None``."""

    def enough(n: int) -> bool:
        return detection_rate(model, n, where, replications=replications) >= power

    low = stats.min_seeds(model.alpha)
    high = max(low, min(max_seeds, _t_test_guess(model, power)))
    if enough(high):  # bracket from below, by steps of a quarter
        while high > low:
            step = max(1, high // 4)
            if not enough(max(low, high - step)):
                low = max(low, high - step) + 1
                break
            high = max(low, high - step)
    else:
        while not enough(high):
            if high >= max_seeds:
                return None
            low, high = high + 1, min(max_seeds, high + max(1, high // 2))
    while low < high:
        mid = (low + high) // 2
        if enough(mid):
            high = mid
        else:
            low = mid + 1
    return high


def _t_test_guess(model: _Model, power: float) -> int:
    """A starting point: the paired t-test's seeds for the median slot's drop (sqrt(2) sigma)."""
    sd = math.sqrt(2.0) * model.good.std(axis=0, ddof=1)
    reliable = model.drop > 0
    if not reliable.any():
        return stats.min_seeds(model.alpha)
    with np.errstate(divide="ignore"):
        shift = np.where(sd > 0, model.drop / sd, np.inf)[reliable]
    need = int(np.ravel(stats.seeds_needed(float(np.median(shift)), model.alpha, power))[0])
    return need or stats.PLAN_MAX_SEEDS


def plan(
    name: str,
    baseline: np.ndarray,
    slots: Sequence[tuple[int, str]],
    *,
    alpha: float,
    effect: float,
    power: float,
    min_effect: float | None = None,
    max_seeds: int = stats.PLAN_MAX_SEEDS,
    replications: int = REPLICATIONS,
    margin: float | None = None,
) -> VerdictPlan:
    """Plan one benchmark by simulating its verdict on its baseline's rows.

    Args:
        name: the benchmark.
        baseline: ``(n_seeds, K)`` raw baseline values (at least two seeds).
        slots: the ``(step, metric)`` of each column.
        alpha: the benchmark's significance level.
        effect: the relative drop to plan for (``0.02`` = 2 %).
        power: the wanted detection rate, in ``(0, 1)``.
        min_effect: the benchmark's ``min_effect`` (the simulated verdict applies it).
        max_seeds: look no further than this many seeds.
        replications: simulated comparisons per candidate number of seeds.
        margin: also plan an ``--equivalence`` gate of this margin (:func:`margin_plan`).
    """
    base = np.asarray(baseline, dtype=float)
    if base.ndim != 2 or base.shape[0] < 2:
        raise ValueError("planning needs a baseline of at least two seeds")
    model = _Model.of(base, slots, alpha=alpha, effect=effect, min_effect=min_effect)
    n = base.shape[0]
    now = n if stats.reachable(alpha, n) else stats.min_seeds(alpha)
    extra = {} if margin is None else margin_plan(base, slots, alpha, margin, power, max_seeds,
                                                  replications)  # fmt: skip
    return VerdictPlan(
        name=name,
        effect=effect,
        power=power,
        alpha=alpha,
        min_effect=min_effect,
        n_seeds=n,
        seeds_one_slot=_fewest(model, "one", power, max_seeds, replications),
        seeds_all_slots=_fewest(model, "all", power, max_seeds, replications),
        power_one_slot=detection_rate(model, now, "one", replications=replications),
        power_all_slots=detection_rate(model, now, "all", replications=replications),
        **extra,
    )


def margin_plan(
    base: np.ndarray,
    slots: Sequence[tuple[int, str]],
    alpha: float,
    margin: float,
    power: float,
    max_seeds: int = stats.PLAN_MAX_SEEDS,
    replications: int = REPLICATIONS,
) -> dict[str, Any]:
    """The :class:`VerdictPlan` fields of an ``--equivalence`` gate of ``margin``."""
    model = _Model.of(base, slots, alpha=alpha, effect=margin, min_effect=None)
    model = replace(model, margin=margin)
    n = base.shape[0]
    now = n if stats.reachable(alpha, n) else stats.min_seeds(alpha)
    return {
        "margin": margin,
        "seeds_margin": _fewest(model, "margin", power, max_seeds, replications),
        "rate_margin": detection_rate(model, now, "margin", replications=replications),
    }


def to_json(plans: Sequence[VerdictPlan]) -> str:
    """The ``pybench plan --json`` document: ``{"benchmarks": [one record per plan]}``."""
    return json.dumps({"benchmarks": [asdict(p) for p in plans]}, indent=2) + "\n"


def describe(result: VerdictPlan) -> str:
    """One line for the terminal: what the simulated verdict needs."""

    def seeds(value: int | None) -> str:
        return f"{value} seeds" if value else f"more than {stats.PLAN_MAX_SEEDS} seeds"

    text = (
        f"verdict simulated on the baseline's seeds: a {result.effect * 100:g}% drop in one slot "
        f"needs {seeds(result.seeds_one_slot)}, in every slot {seeds(result.seeds_all_slots)} "
        f"(power {result.power:g}; now {result.power_one_slot:.2f} and "
        f"{result.power_all_slots:.2f} with {result.n_seeds} seeds)"
    )
    if result.margin is None:
        return text
    return (
        f"{text}\n  ruling out drops above {result.margin * 100:g}% in every slot "
        f"(--equivalence {result.margin:g}) on an unchanged run needs "
        f"{seeds(result.seeds_margin)} (probability {result.power:g}; now "
        f"{result.rate_margin:.2f} with {result.n_seeds} seeds)"
    )


def plan_record(
    bench: Any, record: Any, *, effect: float, power: float, margin: float | None = None
) -> VerdictPlan:
    """:func:`plan` for a discovered benchmark and its stored baseline record."""
    defaults = bench.defaults
    return plan(
        bench.name,
        record.matrix(),
        record.slots(),
        alpha=defaults.alpha,
        effect=effect,
        power=power,
        min_effect=defaults.min_effect,
        margin=margin,
    )


def write_json(plans: Sequence[VerdictPlan], path: str) -> None:
    """Write :func:`to_json` to ``path`` (``-``: standard output)."""
    text = to_json(plans)
    if path == "-":
        sys.stdout.write(text)
    else:
        Path(path).write_text(text, encoding="utf-8")
