"""Plans by simulation: at the planned seeds the real verdict detects the drop as asked."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pybench import stats
from pybench.judging import planning


def _baseline(k: int, seed: int = 0, n: int = 30) -> np.ndarray:
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 1.0, (n, 1))
    return 1.0 + 0.05 * (0.7 * common + 0.3 * rng.normal(0.0, 1.0, (n, k)))


def _real_rate(base: np.ndarray, slots, n: int, effect: float, where: str, reps: int) -> float:
    """How often stats.compare (the full verdict) FAILs comparisons drawn like the plan's."""
    rng = np.random.default_rng(123)
    good = -base  # min:loss
    k = base.shape[1]
    drop = effect * np.abs(good.mean(axis=0))
    fails = 0
    for _ in range(reps):
        i, j = rng.integers(base.shape[0], size=n), rng.integers(base.shape[0], size=n)
        cur_good = good[j].copy()
        if where == "one":
            s = rng.integers(k)
            cur_good[:, s] -= drop[s]
        else:
            cur_good -= drop
        fails += not stats.compare(base[i], -cur_good, slots).passed
    return fails / reps


@pytest.mark.parametrize("where", ["one", "all"])
def test_the_planned_seeds_reach_the_requested_power(where):
    base = _baseline(3)
    slots = [(step, "min:loss") for step in range(3)]
    result = planning.plan(
        "b", base, slots, alpha=0.05, effect=0.02, power=0.8, replications=300
    )
    n = result.seeds_one_slot if where == "one" else result.seeds_all_slots
    assert n is not None
    rate = _real_rate(base, slots, n, 0.02, where, reps=300)
    assert abs(rate - 0.8) <= 0.05, (n, rate)


def test_one_slot_needs_more_seeds_than_every_slot_and_the_t_test_says():
    base = _baseline(10, seed=1)
    slots = [(step, "min:loss") for step in range(10)]
    result = planning.plan("b", base, slots, alpha=0.05, effect=0.02, power=0.8, replications=150)
    per_slot = [row.seeds_needed for row in stats.power_plan(
        base, slots, alpha=0.05, effect=0.02, power=0.8
    )]  # fmt: skip
    assert result.seeds_one_slot is not None and result.seeds_all_slots is not None
    assert result.seeds_one_slot > result.seeds_all_slots
    assert result.seeds_one_slot > np.median(per_slot)  # the one-slot t-test plan overstates


def test_the_json_record_has_the_documented_keys():
    base = _baseline(2, n=12)
    result = planning.plan(
        "bench_x", base, [(0, "acc"), (1, "acc")], alpha=0.05, effect=0.5, power=0.8,
        replications=50,
    )  # fmt: skip
    (record,) = json.loads(planning.to_json([result]))["benchmarks"]
    for key in ("name", "effect", "power", "seeds_one_slot", "seeds_all_slots"):
        assert key in record
    assert record["name"] == "bench_x" and record["effect"] == 0.5


def test_a_hopeless_drop_is_none():
    base = _baseline(2, n=10) * 0 + np.random.default_rng(4).normal(1.0, 1.0, (10, 2))
    result = planning.plan(
        "b", base, [(0, "acc"), (1, "acc")], alpha=0.05, effect=1e-4, power=0.8,
        max_seeds=40, replications=40,
    )  # fmt: skip
    assert result.seeds_one_slot is None and result.seeds_all_slots is None


BENCH = '''
import numpy as np

def bench_small(seed: int, *, n_seeds: int = 10) -> list[dict]:
    rng = np.random.default_rng(seed)
    return [{"step": s, "acc": float(0.8 + 0.02 * rng.standard_normal())} for s in (1, 2)]
'''


def test_plan_json_on_standard_output(project, cli):
    (project / "benchmarks" / "bench_small.py").write_text(BENCH)
    # fixed seeds: the plan simulates on the baseline's values, so its numbers follow the draw
    assert cli("benchmarks", "--seed", "1").exit_code == 0
    result = cli("plan", "benchmarks", "--json", "-", "--effect", "0.05")
    assert result.exit_code == 0, result.output
    (record,) = json.loads(result.stdout)["benchmarks"]  # nothing else on stdout
    assert record["name"] == "bench_small" and record["effect"] == 0.05
    assert record["power"] == 0.8
    assert isinstance(record["seeds_one_slot"], int) and isinstance(record["seeds_all_slots"], int)
    assert record["seeds_one_slot"] >= record["seeds_all_slots"], record
    table = cli("plan", "benchmarks", "--effect", "0.05")
    assert "verdict simulated on the baseline's seeds" in table.stdout
