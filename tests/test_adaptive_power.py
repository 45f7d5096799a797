"""The futility rule's cost by simulation: power close to the full run's, seeds saved on nulls."""

from __future__ import annotations

import math

import numpy as np

from pybench import stats
from pybench.judging import adaptive
from pybench.judging.verdict import Criteria, Paired

N, ALPHA, N_PERM = 30, 0.05, 500


def _rates(k: int, shift: float, reps: int, seed: int) -> tuple[float, float, float]:
    """(full-run FAIL rate, adaptive FAIL rate, mean share of seeds run)."""
    rng = np.random.default_rng(seed)
    slots = [(step, "min:loss") for step in range(k)]
    looks = adaptive.schedule(N, ALPHA)
    full = fails = spent = 0.0
    for _ in range(reps):
        base = 10.0 + rng.standard_normal((N, k))
        cur = 10.0 + rng.standard_normal((N, k))
        cur[:, 0] += shift * math.sqrt(2.0)  # in standard deviations of a paired difference
        full += not stats.compare(base, cur, slots, alpha=ALPHA, n_perm=N_PERM).passed
        paired = Paired(slots, list(range(N)), base, cur)
        for decision in adaptive.decisions(looks, paired, Criteria(ALPHA, n_perm=N_PERM)):
            if decision.stop:
                break
        fails += not decision.passed
        spent += decision.n / N
    return full / reps, fails / reps, spent / reps


def test_a_marginal_single_slot_regression_keeps_its_power():
    """0.5 SD on one slot: the full run detects it about 0.85 of the time."""
    full, adaptive_rate, _ = _rates(1, 0.5, reps=200, seed=1)
    assert 0.75 <= full <= 0.93
    assert full - adaptive_rate <= 0.05 + 0.03  # 0.05, and about one standard error


def test_a_null_single_slot_stops_early_and_keeps_its_false_alarms():
    full, adaptive_rate, spent = _rates(1, 0.0, reps=200, seed=2)
    assert spent <= 0.65
    assert adaptive_rate <= ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / 200)
