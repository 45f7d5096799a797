"""What a comparison rules out: the simultaneous lower bound from the sign flips' max-T."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pybench import _signflip, stats
from pybench.relative import fieller, fieller_at
from pybench.reports.text import rules_out_text


def _brute_critical(diffs: np.ndarray, alpha: float) -> float:
    """The (⌊alpha 2**n⌋ + 1)-th largest max_k t of every flip of the centred columns."""
    n = diffs.shape[0]
    centred = diffs - diffs.mean(axis=0)
    idx = np.arange(2**n)
    signs = 1.0 - 2.0 * ((idx[:, None] >> np.arange(n)) & 1)
    sums = signs @ centred
    css = np.einsum("ij,ij->j", centred, centred)
    t = sums * math.sqrt(n - 1) / np.sqrt(n * css - sums * sums)
    return float(np.sort(t.max(axis=1))[::-1][math.floor(alpha * 2**n)])


@pytest.mark.parametrize("shift", [0.0, 40.0])
def test_critical_value_is_the_centred_max_t_quantile(shift: float) -> None:
    rng = np.random.default_rng(3)
    diffs = rng.standard_normal((11, 25))
    diffs[:, :4] += shift  # strongly shifted slots take the exact path for the p-values
    data = stats._prepare(diffs, np.ones(25), None)
    null = _signflip.sign_flip_null(
        data, t_crit=stats.t_critical(0.05, 11), n_perm=4096, bound_alpha=0.05
    )
    assert null.crit == pytest.approx(_brute_critical(data.diffs, 0.05), rel=1e-9)


def test_the_bound_leaves_every_other_statistic_alone() -> None:
    rng = np.random.default_rng(4)
    diffs = rng.standard_normal((30, 200)) - 0.1
    data = stats._prepare(diffs, np.ones(200), None)
    t_crit = stats.t_critical(0.05, 30)
    plain = _signflip.sign_flip_null(data, t_crit=t_crit, n_perm=2000)
    both = _signflip.sign_flip_null(data, t_crit=t_crit, n_perm=2000, bound_alpha=0.05)
    assert plain.meta_p == both.meta_p and plain.improvement_p == both.improvement_p
    assert np.array_equal(plain.p_adj, both.p_adj)
    assert math.isnan(plain.crit) and 2.0 < both.crit < 5.0


def test_fieller_at_the_t_quantile_is_fieller() -> None:
    rng = np.random.default_rng(5)
    base = 5.0 + rng.standard_normal((9, 6))
    diffs = rng.standard_normal((9, 6)) * 0.3
    expected = fieller(diffs, base, 0.1)
    got = fieller_at(diffs, base, stats.t_ppf(0.05, 8))
    for a, b in zip(expected, got, strict=True):
        assert np.array_equal(a, b)
    low, high, bounded = fieller_at(diffs, base, math.inf)
    assert np.all(np.isneginf(low)) and not bounded.any()


def _curves(rng: np.random.Generator, n: int, k: int, true_rel: np.ndarray) -> tuple:
    """Learning curves whose seeds wander together along the steps (correlated slots)."""
    mu = 1.0 + 0.5 * np.log1p(np.arange(k))

    def wander() -> np.ndarray:
        walk = np.cumsum(rng.standard_normal((n, k)) * 0.03, axis=1)
        return walk + rng.standard_normal((n, 1)) * 0.05

    shared = wander()
    base = mu + shared + rng.standard_normal((n, k)) * 0.02
    cur = mu * (1.0 + true_rel) + shared + 0.7 * wander() + rng.standard_normal((n, k)) * 0.02
    return base, cur


def test_the_bound_covers_every_slot_at_once_on_correlated_curves() -> None:
    n, k, reps = 20, 30, 400
    rng = np.random.default_rng(7)
    true_rel = np.where(np.arange(k) % 3 == 0, -0.01, 0.0)
    slots = [(step, "acc") for step in range(k)]
    covered = pointwise = bounded = 0
    for rep in range(reps):
        base, cur = _curves(rng, n, k, true_rel)
        result = stats.compare(base, cur, slots, n_perm=1000, rng=np.random.default_rng(rep))
        bound = result.rules_out
        assert bound is not None and bound.n_slots == k and bound.level == 0.95
        low, _, _ = fieller_at(cur - base, base, bound.crit)
        covered += bool(np.all(low <= true_rel))
        bounded += bound.drop >= 0.01  # the true largest drop is 1 %
        naive, _, _ = fieller_at(cur - base, base, -stats.t_critical(0.05, n))
        pointwise += bool(np.all(naive <= true_rel))
    # 1 - alpha within three Monte-Carlo standard errors; one slot at a time falls far short
    assert covered / reps >= 0.95 - 3 * math.sqrt(0.05 * 0.95 / reps)
    assert bounded >= covered
    assert pointwise / reps < 0.85


def test_the_bound_is_unbounded_where_the_baseline_mean_is_near_zero() -> None:
    rng = np.random.default_rng(8)
    base = rng.standard_normal((15, 4))
    base[:, 1:] += 10.0
    cur = base + rng.standard_normal((15, 4)) * 0.1
    bound = stats.compare(base, cur, [(s, "acc") for s in range(4)]).rules_out
    assert bound is not None and math.isinf(bound.drop) and bound.step == 0
    line = rules_out_text(bound.drop, bound.level, bound.n_slots, bound.step, bound.metric)
    assert line == (
        "rules out no drop (95%, all 4 slots): the baseline mean of acc @ step 0 is not "
        "distinguishable from zero"
    )


def test_the_line() -> None:
    assert rules_out_text(0.0123, 0.95, 300, 40, "acc") == (
        "rules out drops > 1.2% (95%, all 300 slots; set by acc @ step 40)"
    )
    assert rules_out_text(0.0123, 0.9, 1, 40, "acc") == "rules out drops > 1.2% (90%, the slot)"
    assert rules_out_text(-0.02, 0.95, 2, 1, "acc") == (
        "rules out any drop (95%, all 2 slots; every slot gained at least 2.0%)"
    )
    assert rules_out_text(-0.0, 0.95, 2, 1, "acc") == "rules out any drop (95%, all 2 slots)"


def test_plan_says_how_many_seeds_rule_out_a_margin() -> None:
    from pybench.judging import planning

    rng = np.random.default_rng(9)
    base = 1.0 + 0.05 * rng.standard_normal((20, 3))
    slots = [(s, "acc") for s in range(3)]
    loose = planning.margin_plan(base, slots, 0.05, 0.2, 0.8, replications=60)
    tight = planning.margin_plan(base, slots, 0.05, 0.03, 0.8, replications=60)
    # sd 5 %: the bound on 20 seeds is about crit * sqrt(2) * 5 % / sqrt(20), some 4 %
    assert loose["rate_margin"] == 1.0 and tight["rate_margin"] < 0.5
    assert loose["seeds_margin"] is not None and tight["seeds_margin"] is not None
    assert loose["seeds_margin"] < 20 < tight["seeds_margin"]
    plan = planning.plan("x", base, slots, alpha=0.05, effect=0.1, power=0.8, replications=40,
                         margin=0.2)  # fmt: skip
    assert '"seeds_margin"' in planning.to_json([plan]) and plan.margin == 0.2
    assert "(--equivalence 0.2)" in planning.describe(plan)
