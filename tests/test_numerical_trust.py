"""Numbers at the edges: rounding ties, scale invariance, the Δ interval, refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybench import relative, stats

N = 12


def _means(rng: np.random.Generator, n_seeds: int, n_steps: int, size: int = 50) -> list:
    """Per seed and step, a list of float terms to average."""
    return [[list(rng.normal(1.0, 0.3, size)) for _ in range(n_steps)] for _ in range(n_seeds)]


def _slots(n_steps: int, metric: str = "min:loss") -> list[tuple[int, str]]:
    return [(step, metric) for step in range(n_steps)]


# -- rounding noise is no change ----------------------------------------------------------
def test_a_rounding_edit_passes_with_nothing_flagged():
    """``sum(xs) * (1 / n)`` against ``sum(xs) / n``: differences of an ulp or two."""
    terms = _means(np.random.default_rng(0), N, 7)
    base = np.array([[sum(xs) * (1 / len(xs)) for xs in seed] for seed in terms])
    cur = np.array([[sum(xs) / len(xs) for xs in seed] for seed in terms])
    assert (base != cur).any()  # the edit does change some values
    result = stats.compare(base, cur, _slots(7))
    assert result.passed and result.n_flagged == 0 and result.meta_p == 1.0
    assert not result.improved and result.n_improved == 0


def test_a_reversed_summation_passes_with_nothing_flagged():
    terms = _means(np.random.default_rng(1), N, 8, size=200)
    base = np.array([[math.fsum(xs) * 0 + sum(xs) for xs in seed] for seed in terms])
    cur = np.array([[sum(reversed(xs)) for xs in seed] for seed in terms])
    assert (base != cur).any()
    result = stats.compare(base, cur, _slots(8, "acc"))
    assert result.passed and result.n_flagged == 0
    assert all(row.t_stat == 0.0 and row.p_value == 1.0 for row in result.slots)


def test_float32_rounding_needs_a_looser_rtol():
    rng = np.random.default_rng(2)
    terms = rng.normal(1.0, 0.3, (N, 5, 100)).astype(np.float32)
    base = terms.sum(axis=2, dtype=np.float32).astype(float)
    cur = terms[:, :, ::-1].sum(axis=2, dtype=np.float32).astype(float)
    loose = stats.compare(base, cur, _slots(5), rtol=1e-6)
    assert loose.n_flagged == 0 and loose.passed and loose.n_improved == 0


def test_a_constant_shift_on_every_seed_stays_a_real_change():
    rng = np.random.default_rng(3)
    base = rng.normal(1.0, 0.1, (N, 2))
    cur = base - 0.1  # float rounding makes the differences unequal in the last bits
    result = stats.compare(base, cur, _slots(2, "acc"))
    assert not result.passed and result.n_flagged == 2
    assert all(row.t_stat == -1e9 for row in result.slots)


def test_a_tiny_residual_that_gets_ten_times_worse_fails():
    """A numerical-error benchmark: a residual near 1e-13, ten times larger on every seed."""
    rng = np.random.default_rng(4)
    base = np.abs(rng.normal(1e-13, 2e-14, (N, 3)))
    cur = base * 10.0 * rng.uniform(0.9, 1.1, (N, 3))
    result = stats.compare(base, cur, _slots(3, "min:residual"))
    assert not result.passed and result.n_flagged == 3
    assert all(row.flagged and row.p_value < 1e-6 for row in result.slots)


# -- scale invariance ----------------------------------------------------------------------
def _drop_case(seed: int = 5) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    base = rng.normal(1.0, 0.05, (N, 4))
    cur = base * (1.0 - 0.1 * np.array([1.0, 0.0, 0.3, 0.0])) + rng.normal(0, 0.02, (N, 4))
    return base, cur


def _summary(result: stats.Comparison) -> tuple:
    return (
        result.meta_p,
        result.passed,
        result.severity,
        result.improvement_p,
        [
            (r.t_stat, r.p_value, r.p_adj, r.flagged, r.flagged_adj, r.improved, r.effect_size,
             r.delta_low, r.delta_high, r.effect_reliable)
            for r in result.slots
        ],
    )  # fmt: skip


@settings(max_examples=40, deadline=None, derandomize=True)
@given(power=st.integers(-60, 60), flip=st.booleans(), min_effect=st.sampled_from([None, 0.05]))
def test_every_statistic_is_unchanged_by_a_power_of_two(power, flip, min_effect):
    base, cur = _drop_case()
    plain = stats.compare(base, cur, _slots(4, "acc"), min_effect=min_effect)
    factor = -(2.0**power) if flip else 2.0**power
    metric = "min:acc" if flip else "acc"  # -1 with the direction flipped
    scaled = stats.compare(base * factor, cur * factor, _slots(4, metric), min_effect=min_effect)
    assert _summary(scaled) == _summary(plain)
    for a, b in zip(plain.slots, scaled.slots, strict=True):
        assert b.baseline_mean == a.baseline_mean * factor
        assert (b.ci_low, b.ci_high) == (a.ci_low * abs(factor), a.ci_high * abs(factor))


@pytest.mark.parametrize("scale", [1e-13, 1e-100, 1e-155, 1e100])
def test_a_ten_percent_drop_fails_at_any_scale(scale):
    base, cur = _drop_case()
    plain = stats.compare(base, cur, _slots(4, "acc"))
    tiny = stats.compare(base * scale, cur * scale, _slots(4, "acc"))
    assert not plain.passed and not tiny.passed
    assert tiny.meta_p == plain.meta_p and tiny.n_flagged == plain.n_flagged
    for a, b in zip(plain.slots, tiny.slots, strict=True):
        assert b.t_stat == pytest.approx(a.t_stat, rel=1e-9)
        assert b.effect_size == pytest.approx(a.effect_size, rel=1e-9)


@pytest.mark.parametrize("scale", [1e-310, 1e-318])
def test_subnormal_values_are_judged_like_any_others_without_a_warning(scale):
    import warnings

    base, cur = _drop_case()
    plain = stats.compare(base, cur, _slots(4, "acc"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tiny = stats.compare(base * scale, cur * scale, _slots(4, "acc"))
        rise = stats.compare(base * scale, base * (scale * 1.5), _slots(4, "acc"))
    assert not tiny.passed and tiny.n_flagged == plain.n_flagged
    assert rise.passed and rise.n_flagged == 0


# -- the relative change and min_effect ------------------------------------------------------
def _paired(rng, n, mean, sd, rho, delta):
    """Baseline ``b`` and current ``c = b + d``; ``corr(b, c) = rho``, true Δ = delta."""
    b = rng.normal(mean, sd, n)
    c = mean * (1 + delta) + rho * (b - mean) + math.sqrt(1 - rho**2) * sd * rng.standard_normal(n)
    return b, c


@pytest.mark.parametrize("n", [5, 10, 30])
def test_the_relative_change_interval_covers_the_truth(n):
    """Baseline mean 0.5, sd 1, paired correlation 0.99 (the naive interval covered ~0.5)."""
    rng = np.random.default_rng(n)
    reps, covered = 2000, 0
    base = np.empty((n, reps))
    cur = np.empty((n, reps))
    for j in range(reps):
        base[:, j], cur[:, j] = _paired(rng, n, 0.5, 1.0, 0.99, -0.1)
    low, high, _ = relative.fieller(cur - base, base, 0.05)
    covered = np.mean((low <= -0.1) & (high >= -0.1))
    assert covered >= 0.93


def test_a_zero_baseline_mean_makes_the_relative_change_unreliable():
    rng = np.random.default_rng(7)
    reps, n = 500, 10
    base = rng.normal(0.0, 1.0, (n, reps))
    cur = base + rng.normal(-0.1, 0.1, (n, reps))
    _, _, bounded = relative.fieller(cur - base, base, 0.05)
    assert bounded.mean() <= 0.07  # distinguishable from zero only by chance (5 %)


def test_the_min_effect_boundary_is_not_below_it():
    base = np.array([[1.0], [1.0], [1.0], [1.0], [1.0], [1.0]]) * np.linspace(1, 1.1, 6)[:, None]
    on_the_line = stats.compare(base, base * 0.98, [(0, "acc")], min_effect=0.02)
    assert on_the_line.slots[0].effect_size == pytest.approx(-0.02, rel=1e-12)
    assert not on_the_line.slots[0].flagged and on_the_line.passed
    beyond = stats.compare(base, base * 0.9799, [(0, "acc")], min_effect=0.02)
    assert beyond.slots[0].flagged and not beyond.passed


# -- refusals --------------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.0, 0.5000001, 0.7, 1.0, -0.1])
def test_alpha_outside_its_range_is_refused(alpha):
    base, cur = _drop_case()
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 0.5\]"):
        stats.compare(base, cur, _slots(4), alpha=alpha)


def test_alpha_half_is_accepted():
    base, cur = _drop_case()
    assert stats.compare(base, cur, _slots(4), alpha=0.5).alpha == 0.5


def test_a_comparison_that_can_never_fail_is_refused():
    base, cur = _drop_case()
    with pytest.raises(ValueError, match="never be reached with 4 seeds"):
        stats.compare(base[:4], cur[:4], _slots(4), alpha=0.05)
    with pytest.raises(ValueError, match="never be reached"):
        stats.compare(base, cur, _slots(4), alpha=0.001, n_perm=500)


@pytest.mark.parametrize("rtol", [-1e-12, 0.2, float("nan")])
def test_rtol_outside_its_range_is_refused(rtol):
    base, cur = _drop_case()
    with pytest.raises(ValueError, match="rtol must be between 0 and 0.1"):
        stats.compare(base, cur, _slots(4), rtol=rtol)


def test_a_fail_is_never_called_improved():
    rng = np.random.default_rng(8)
    base = rng.normal(1.0, 0.05, (N, 6))
    cur = base + rng.normal(0.0, 0.01, (N, 6))
    cur[:, :3] -= 0.3  # three slots much worse
    cur[:, 3:] += 0.3  # three much better
    result = stats.compare(base, cur, _slots(6, "acc"))
    assert not result.passed and result.improvement_p < result.alpha
    assert not result.improved and result.n_improved == 3  # slots may still be better


def test_slow_sign_flips_are_estimated_and_refused():
    assert stats.too_slow("b", 0.05, 30, 20_000) is None
    message = stats.too_slow("bench_x", 1e-6, 30, 20_000)
    assert message is not None and "bench_x" in message and "larger alpha" in message
    assert "\n" not in message
    assert stats.flip_seconds(30, 3, 1e-6) < stats.MAX_FLIP_SECONDS
