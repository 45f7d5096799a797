"""Comparing a run with its baseline: divergence handling around the statistics."""

from __future__ import annotations

import numpy as np

from pybench.judging.verdict import compare_run
from pybench.reports.terminal import format_table


def test_divergent_slot_fails_and_others_are_still_tested():
    rng = np.random.default_rng(1)
    slots = [(0, "acc"), (0, "min:loss"), (5, "acc")]
    seeds = list(range(12))
    base = rng.normal(1.0, 0.05, size=(12, 3))
    cur = base + rng.normal(0.0, 0.05, size=(12, 3))
    cur[:, 2] -= 0.5  # a real regression on (5, 'acc')
    cur[[3, 7], 1] = np.nan
    result = compare_run(slots, seeds, base, cur, alpha=0.05, min_effect=None)
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
    result = compare_run(slots, list(range(8)), base, cur, alpha=0.05, min_effect=None)
    assert result.stats is None and result.meta_p is None and not result.passed


def test_unchanged_run_passes_with_meta_p_one():
    slots = [(1, "min:loss"), (2, "min:loss")]
    base = np.random.default_rng(2).normal(size=(10, 2))
    result = compare_run(slots, list(range(10)), base, base.copy(), alpha=0.05, min_effect=None)
    assert result.passed and result.meta_p == 1.0 and result.n_flagged == 0


def test_table_marks_unreliable_effect():
    slots = [(0, "score")]
    base = np.zeros((10, 1))
    base[::2], base[1::2] = 1e-12, -1e-12  # a baseline mean indistinguishable from zero
    cur = base - np.linspace(0.1, 0.2, 10)[:, None]
    result = compare_run(slots, list(range(10)), base, cur, alpha=0.05, min_effect=None)
    header, row = format_table(result)
    cells = row.split()
    assert cells[4] == "n/a" and cells[6] == "✗"  # Δ unreliable, still flagged
    assert cells[-1] == "n/a"  # and so is its interval
