"""Run-wide error control: Holm's step-down over a suite of benchmarks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from pybench import stats
from pybench.judging.family import flip_level, holm

SLOTS = [(0, "min:loss"), (1, "min:loss"), (2, "min:loss")]


def test_holm_matches_the_definition() -> None:
    p = [0.01, 0.04, 0.03, 0.005]
    # ascending 0.005, 0.01, 0.03, 0.04 -> 4*0.005, 3*0.01, 2*0.03, 1*0.04, running max
    assert np.allclose(holm(p), [0.03, 0.06, 0.06, 0.02])
    assert holm([]).size == 0


@given(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30))
def test_holm_is_at_least_p_and_at_most_bonferroni(p: list[float]) -> None:
    adjusted = holm(p)
    assert (adjusted >= np.asarray(p) - 1e-15).all()
    assert (adjusted <= np.minimum(1.0, len(p) * np.asarray(p)) + 1e-15).all()


def _suite(rng: np.random.Generator, regressed: int | None, scope_run: bool) -> list[float]:
    """Meta p-values of 20 benchmarks (10 seeds, 3 correlated slots each)."""
    n_perm = stats.n_permutations(flip_level(0.05, 20)) if scope_run else None
    p = []
    for b in range(20):
        base = 1.0 + rng.normal(0, 0.05, (10, 3)) + rng.normal(0, 0.05, (10, 1))
        cur = 1.0 + rng.normal(0, 0.05, (10, 3)) + rng.normal(0, 0.05, (10, 1))
        if b == regressed:
            cur[:, 2] += 0.25
        p.append(stats.compare(base, cur, SLOTS, n_perm=n_perm).meta_p)
    return p


def test_a_null_suite_fails_at_most_alpha_under_run_scope() -> None:
    rng = np.random.default_rng(25)
    reps = 150
    any_benchmark = any_run = 0
    for _ in range(reps):
        p = np.asarray(_suite(rng, None, scope_run=True))
        any_benchmark += bool((p < 0.05).any())
        any_run += bool((holm(p) < 0.05).any())
    # 1 - 0.95**20 = 0.64 per benchmark; at most 0.05 (+3 Monte-Carlo sd) for the run
    assert any_benchmark / reps > 0.45
    assert any_run / reps <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / reps)


def test_one_regressed_benchmark_among_twenty_is_still_caught() -> None:
    rng = np.random.default_rng(7)
    caught = 0
    for _ in range(20):
        p = np.asarray(_suite(rng, 3, scope_run=True))
        caught += bool(holm(p)[3] < 0.05)
    assert caught >= 18
