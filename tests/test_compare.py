"""Comparing a run with its baseline: divergence handling around the statistics."""

from __future__ import annotations

import numpy as np
import pytest

from pybench import stats
from pybench.judging.verdict import Criteria, Paired, compare_run
from pybench.reports.terminal import format_table


def test_divergent_slot_fails_and_others_are_still_tested():
    rng = np.random.default_rng(1)
    slots = [(0, "acc"), (0, "min:loss"), (5, "acc")]
    seeds = list(range(12))
    base = rng.normal(1.0, 0.05, size=(12, 3))
    cur = base + rng.normal(0.0, 0.05, size=(12, 3))
    cur[:, 2] -= 0.5  # a real regression on (5, 'acc')
    cur[[3, 7], 1] = np.nan
    result = compare_run(Paired(slots, seeds, base, cur), Criteria(0.05))
    assert not result.passed
    [div] = result.diverged
    assert (div.step, div.metric, div.seeds, div.n_seeds) == (0, "min:loss", [3, 7], 12)
    assert [(s.step, s.metric) for s in result.stats.slots] == [(0, "acc"), (5, "acc")]
    assert result.stats.slots[1].flagged and result.n_flagged == 2 and result.n_slots == 3
    table = "\n".join(format_table(result))
    assert "nan" not in table.lower().replace("non-finite", "")
    assert "diverged on 2/12 seeds" in table


def test_all_slots_diverged_has_no_statistics():
    slots = [(0, "score")]
    base = np.linspace(0.5, 0.6, 8)[:, None]
    cur = np.full((8, 1), np.inf)
    result = compare_run(Paired(slots, list(range(8)), base, cur), Criteria(0.05))
    assert result.stats is None and result.meta_p is None and not result.passed


def test_unchanged_run_passes_with_meta_p_one():
    slots = [(1, "min:loss"), (2, "min:loss")]
    base = np.random.default_rng(2).normal(size=(10, 2))
    result = compare_run(Paired(slots, list(range(10)), base, base.copy()), Criteria(0.05))
    assert result.passed and result.meta_p == 1.0 and result.n_flagged == 0


def test_criteria_reach_the_statistics_as_stats_compare_takes_them():
    slots = [(1, "min:loss"), (2, "acc")]
    rng = np.random.default_rng(4)
    base = rng.normal(1.0, 0.1, size=(12, 2))
    cur = base + rng.normal(0.0, 0.1, size=(12, 2)) + [0.05, -0.05]
    for criteria in (Criteria(0.05), Criteria(0.1, min_effect=0.2, n_perm=100, rtol=0.05)):
        result = compare_run(Paired(slots, list(range(12)), base, cur), criteria).stats
        expected = stats.compare(
            base,
            cur,
            slots,
            alpha=criteria.alpha,
            min_effect=criteria.min_effect,
            n_perm=criteria.n_perm,
            rtol=criteria.rtol,
        )
        assert result is not None
        assert (result.alpha, result.n_perm, result.n_flagged, result.passed) == (
            expected.alpha,
            expected.n_perm,
            expected.n_flagged,
            expected.passed,
        )
        assert result.meta_p == pytest.approx(expected.meta_p)


def test_head_keeps_the_first_seeds_of_every_part():
    base = np.arange(12.0).reshape(6, 2)
    paired = Paired([(0, "a"), (1, "b")], [10, 11, 12, 13, 14, 15], base, base + 1.0)
    head = paired.head(4)
    assert head.slots == paired.slots and list(head.seeds) == [10, 11, 12, 13]
    assert np.array_equal(head.baseline, base[:4])
    assert np.array_equal(head.current, base[:4] + 1.0)


def test_table_marks_unreliable_effect():
    slots = [(0, "score")]
    base = np.zeros((10, 1))
    base[::2], base[1::2] = 1e-12, -1e-12  # a baseline mean indistinguishable from zero
    cur = base - np.linspace(0.1, 0.2, 10)[:, None]
    result = compare_run(Paired(slots, list(range(10)), base, cur), Criteria(0.05))
    header, row = format_table(result)
    cells = row.split()
    assert cells[4] == "n/a" and cells[6] == "✗"  # Δ unreliable, still flagged
    assert cells[-1] == "n/a"  # and so is its interval


def test_the_numbers_do_not_depend_on_how_the_matrices_are_laid_out():
    """A baseline read from its file is column-major, a run's values row-major; either way
    every number of the comparison is the same, to the last bit."""
    rng = np.random.default_rng(4)
    slots = [(step, "acc") for step in range(40)]
    base = rng.normal(1.0, 0.1, size=(30, 40))
    cur = base + rng.normal(-0.01, 0.07, size=(30, 40))
    results = [
        compare_run(Paired(slots, list(range(30)), b, c), Criteria(0.05))
        for b in (np.ascontiguousarray(base), np.asfortranarray(base))
        for c in (np.ascontiguousarray(cur), np.asfortranarray(cur))
    ]
    first = results[0].stats
    assert first is not None
    for other in results[1:]:
        assert other.stats is not None
        assert repr(other.stats) == repr(first)  # every field of every slot, as printed
