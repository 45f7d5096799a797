"""The statistics of SPEC §4 against slow per-permutation oracles (tests/reference.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats as sps

from pybench import _signflip, relative, stats
from tests.reference import (
    compare_ref,
    meta_p_ref,
    p_adj_ref,
    permuted_severities_ref,
    severity_ref,
    slot_sign_flip_p_ref,
    t_stats_ref,
)

HYPOTHESIS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


# -- helpers -------------------------------------------------------------------------
def _degenerate_columns(n: int, rng: np.random.Generator) -> np.ndarray:
    """Columns that stress the degenerate rule and the variance shortcut."""
    a = rng.uniform(-3.0, 3.0, n)
    return np.column_stack(
        [
            np.zeros(n),  # all zero: t = 0 for every flip
            np.full(n, -0.25),  # constant, nonzero: t = -1e9 unflipped
            np.full(n, 0.1),  # constant, not exactly representable
            (a + 0.05) - a,  # a constant plus float rounding
            -((a + 0.3) - a),  # the same, negative
        ]
    )


def _random_diffs(
    n: int, k: int, seed: int, *, shift: float = -0.6, degenerate: bool = False
) -> np.ndarray:
    rng = np.random.default_rng(seed)
    diffs = rng.standard_normal((n, k)) + shift * rng.uniform(0.0, 1.0, k)
    if degenerate:
        diffs = np.column_stack([diffs, _degenerate_columns(n, rng)])
        diffs = diffs[:, rng.permutation(diffs.shape[1])]
    return diffs


def _both(diffs, denom, *, min_effect, alpha=0.05, n_perm=4096, seed=None):
    """``(vectorised, reference)`` meta p-values of ``diffs``."""
    n = diffs.shape[0]
    t_crit = stats.t_critical(alpha, n)
    observed = stats._severity(diffs, denom, min_effect=min_effect, t_crit=t_crit)
    kwargs = dict(min_effect=min_effect, t_crit=t_crit, n_perm=n_perm)
    fast = stats._sign_flip_meta_p(
        diffs, denom, observed, rng=None if seed is None else np.random.default_rng(seed), **kwargs
    )
    slow = meta_p_ref(
        diffs, denom, observed, rng=None if seed is None else np.random.default_rng(seed), **kwargs
    )
    return fast, slow


# -- (a) the exact path equals the per-permutation loop ------------------------------
@pytest.mark.parametrize("min_effect", [None, 0.05, 0.3])
@pytest.mark.parametrize("degenerate", [False, True])
@pytest.mark.parametrize(
    ("n", "k", "seed"), [(2, 1, 0), (3, 2, 1), (5, 4, 2), (8, 3, 3), (10, 6, 4)]
)
def test_exact_path_matches_reference(n, k, seed, degenerate, min_effect):
    diffs = _random_diffs(n, k, seed, degenerate=degenerate)
    denom = np.random.default_rng(seed + 100).uniform(0.2, 3.0, diffs.shape[1])
    fast, slow = _both(diffs, denom, min_effect=min_effect)
    assert abs(fast - slow) <= 1e-12
    assert 1 / 2**n <= fast <= 1.0


def test_exact_path_matches_reference_on_degenerate_only():
    """Every column degenerate: the identity's severity is ~1e9 and only it reaches it."""
    n = 7
    diffs = _degenerate_columns(n, np.random.default_rng(5))
    denom = np.ones(diffs.shape[1])
    for min_effect in (None, 0.2):
        fast, slow = _both(diffs, denom, min_effect=min_effect)
        assert fast == slow


@pytest.mark.parametrize("ratio", [30.0, 300.0, 1e3, 3e3, 1e4, 1e5, 1e7])
def test_identity_is_always_counted(ratio):
    """A sharp, low-noise regression: only the identity reaches T(D), so meta_p = 1/2**n.

    Regression test: the variance shortcut used to lose the identity to float
    cancellation for mean/sd ratios around 1e3 and return 0.
    """
    for seed in range(6):
        rng = np.random.default_rng(seed)
        n, k = 8 + seed % 3, 1 + seed % 3
        diffs = -rng.uniform(0.5, 2.0, k) + rng.standard_normal((n, k)) / ratio
        denom = np.ones(k)
        fast, slow = _both(diffs, denom, min_effect=None)
        assert fast == slow == 1 / 2**n


@st.composite
def _grid_case(draw):
    """Values on a coarse binary grid: exact sums, many ties and constant columns."""
    n = draw(st.integers(2, 10))
    k = draw(st.integers(1, 8))
    scale = 2.0 ** draw(st.integers(-4, 4))
    ints = draw(hnp.arrays(np.int64, (n, k), elements=st.integers(-6, 6)))
    denom = draw(hnp.arrays(np.float64, (k,), elements=st.sampled_from([0.25, 0.5, 1.0, 4.0])))
    min_effect = draw(st.sampled_from([None, 0.0, 0.25, 1.0]))
    return ints * scale, denom, min_effect


@HYPOTHESIS
@given(_grid_case())
def test_exact_path_matches_reference_grid(case):
    diffs, denom, min_effect = case
    fast, slow = _both(diffs, denom, min_effect=min_effect)
    assert abs(fast - slow) <= 1e-12


@st.composite
def _float_case(draw):
    """Arbitrary floats up to 100 in magnitude.

    Values below 1e-9 in magnitude are snapped to 0: the degenerate rule is
    absolute (sd < 1e-12), so a column of such specks is degenerate while the
    sign of its (cancelling) mean depends on the summation order, e.g. the
    mean of [1e-204, -1e-167, 0, 1e-167] comes out 0 or 2.5e-205 depending on
    order, which flips t between 0 and 1e9. That is float noise, not a bug.
    """
    n = draw(st.integers(2, 10))
    k = draw(st.integers(1, 8))
    elements = st.floats(-100.0, 100.0, allow_nan=False, allow_subnormal=False).map(
        lambda v: 0.0 if abs(v) < 1e-9 else v
    )
    diffs = draw(hnp.arrays(np.float64, (n, k), elements=elements))
    denom = draw(hnp.arrays(np.float64, (k,), elements=st.floats(1e-3, 1e3)))
    min_effect = draw(st.one_of(st.none(), st.floats(0.0, 2.0)))
    alpha = draw(st.sampled_from([0.01, 0.05, 0.2]))
    return diffs, denom, min_effect, alpha


@HYPOTHESIS
@given(_float_case())
def test_exact_path_matches_reference_floats(case):
    diffs, denom, min_effect, alpha = case
    fast, slow = _both(diffs, denom, min_effect=min_effect, alpha=alpha)
    assert abs(fast - slow) <= 1e-12


@HYPOTHESIS
@given(
    n=st.integers(2, 10),
    k=st.integers(1, 8),
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-3.0, 1.0),
    scale=st.sampled_from([1e-6, 1e-3, 1.0, 1e3]),
    degenerate=st.booleans(),
    min_effect=st.one_of(st.none(), st.floats(0.0, 1.0)),
)
def test_exact_path_matches_reference_noisy(n, k, seed, shift, scale, degenerate, min_effect):
    diffs = _random_diffs(n, k, seed, shift=shift, degenerate=degenerate) * scale
    denom = np.full(diffs.shape[1], scale)
    fast, slow = _both(diffs, denom, min_effect=min_effect)
    assert abs(fast - slow) <= 1e-12


# -- (b) the Monte-Carlo path ----------------------------------------------------------
@pytest.mark.parametrize("min_effect", [None, 0.1])
@pytest.mark.parametrize(("n", "k", "seed"), [(11, 2, 0), (12, 5, 1), (20, 3, 2)])
def test_monte_carlo_matches_reference_stream(n, k, seed, min_effect):
    diffs = _random_diffs(n, k, seed, shift=-0.4, degenerate=True)
    denom = np.ones(diffs.shape[1])
    fast, slow = _both(diffs, denom, min_effect=min_effect, n_perm=600, seed=seed)
    assert fast == slow
    assert 1 / 601 <= fast <= 1.0


def test_monte_carlo_agrees_with_exact():
    n, n_perm = 14, 4000
    checked = 0
    for seed in range(8):
        diffs = _random_diffs(n, 3, seed, shift=-0.8)
        denom = np.ones(3)
        t_crit = stats.t_critical(0.05, n)
        observed = stats._severity(diffs, denom, min_effect=None, t_crit=t_crit)
        kwargs = dict(min_effect=None, t_crit=t_crit)
        exact = stats._sign_flip_meta_p(diffs, denom, observed, n_perm=2**n, **kwargs)
        mc = stats._sign_flip_meta_p(
            diffs, denom, observed, n_perm=n_perm, rng=np.random.default_rng(seed), **kwargs
        )
        se = math.sqrt(exact * (1 - exact) / n_perm)
        assert abs(mc - exact) <= 4 * se + 1 / (n_perm + 1)
        checked += 0.005 < exact < 0.995
    assert checked >= 4  # the comparison is not vacuous


# -- (c) the severity ------------------------------------------------------------------
@pytest.mark.parametrize("min_effect", [None, 0.0, 0.2])
@pytest.mark.parametrize("seed", range(6))
def test_severity_matches_reference(seed, min_effect):
    n = 3 + seed * 3
    diffs = _random_diffs(n, 4 + seed, seed, degenerate=seed % 2 == 1)
    denom = np.random.default_rng(seed).uniform(0.1, 2.0, diffs.shape[1])
    t_crit = stats.t_critical(0.05, n)
    fast = stats._severity(diffs, denom, min_effect=min_effect, t_crit=t_crit)
    slow = severity_ref(diffs, denom, min_effect=min_effect, t_crit=t_crit)
    assert fast >= 0.0
    assert fast == pytest.approx(slow, rel=1e-12, abs=1e-12)


def test_slot_t_stats_matches_reference():
    diffs = _random_diffs(9, 4, 7, degenerate=True)
    np.testing.assert_allclose(stats.slot_t_stats(diffs), t_stats_ref(diffs)[2], rtol=1e-12)


@pytest.mark.parametrize("n_perm", [8, 4096])  # Monte-Carlo, exact
def test_zero_severity_gives_meta_p_one(n_perm):
    n = 6
    rng = np.random.default_rng(3)
    diffs = np.abs(rng.standard_normal((n, 3))) + 0.5  # improvements everywhere
    denom = np.ones(3)
    t_crit = stats.t_critical(0.05, n)
    observed = stats._severity(diffs, denom, min_effect=None, t_crit=t_crit)
    assert observed == 0.0
    kwargs = dict(min_effect=None, t_crit=t_crit, n_perm=n_perm)
    p = stats._sign_flip_meta_p(diffs, denom, observed, rng=np.random.default_rng(0), **kwargs)
    assert p == 1.0
    assert meta_p_ref(diffs, denom, observed, rng=np.random.default_rng(0), **kwargs) == 1.0


def test_gated_out_regression_gives_meta_p_one():
    diffs = -np.full((6, 2), 0.01) + np.random.default_rng(0).normal(0, 1e-3, (6, 2))
    denom = np.ones(2)
    t_crit = stats.t_critical(0.05, 6)
    observed = stats._severity(diffs, denom, min_effect=0.5, t_crit=t_crit)
    assert observed == 0.0
    assert stats._severity(diffs, denom, min_effect=None, t_crit=t_crit) > 0.0
    assert stats._sign_flip_meta_p(diffs, denom, observed, min_effect=0.5, t_crit=t_crit) == 1.0


# -- (d) one slot: the sign-flip test is the one-sided paired t-test --------------------
def test_single_slot_is_a_sign_flip_t_test():
    """With K = 1, meta_p = #{flips whose t <= t_obs} / 2**n whenever t_obs < t_crit."""
    n = 9
    checked = 0
    for seed in range(10):
        x = np.random.default_rng(seed).standard_normal(n) - 1.0
        diffs = x[:, None]
        t_crit = stats.t_critical(0.2, n)
        t_obs = t_stats_ref(diffs)[2][0]
        if t_obs >= t_crit:
            continue
        observed = stats._severity(diffs, np.ones(1), min_effect=None, t_crit=t_crit)
        p = stats._sign_flip_meta_p(diffs, np.ones(1), observed, min_effect=None, t_crit=t_crit)
        flipped_t = np.array(
            [
                t_stats_ref(np.array(signs)[:, None] * diffs)[2][0]
                for signs in itertools.product((1.0, -1.0), repeat=n)
            ]
        )
        # T >= T_obs - TIE_RTOL * max(T_obs, 1)  <=>  t <= t_obs + TIE_RTOL * max(T_obs, 1)
        tol = stats.TIE_RTOL * max(t_crit - t_obs, 1.0)
        assert p == np.mean(flipped_t <= t_obs + tol)
        checked += 1
    assert checked >= 5


def test_single_slot_meta_p_is_monotone_in_t():
    """For fixed |D| (hence a fixed null), meta_p is a non-decreasing function of t."""
    n = 8
    magnitudes = np.abs(np.random.default_rng(11).standard_normal(n)) + 0.1
    rng = np.random.default_rng(12)
    t_crit = 0.0  # T = max(0, -t): every negative t is in the rejection region
    points = []
    for _ in range(60):
        diffs = (magnitudes * np.where(rng.random(n) < 0.35, 1.0, -1.0))[:, None]
        t = stats.slot_t_stats(diffs)[0]
        observed = stats._severity(diffs, np.ones(1), min_effect=None, t_crit=t_crit)
        p = stats._sign_flip_meta_p(diffs, np.ones(1), observed, min_effect=None, t_crit=t_crit)
        if t < 0:
            points.append((t, p))
    points.sort()
    assert len(points) > 20
    ps = [p for _, p in points]
    assert all(a <= b for a, b in zip(ps, ps[1:], strict=False))


def _meta_p_vs_t_test(n: int, seeds: range) -> np.ndarray:
    """|meta_p - t.cdf(t)| for normal samples with t in the rejection region."""
    errors = []
    for seed in seeds:
        x = np.random.default_rng(seed).standard_normal(n)
        x = x - x.mean() - 1.8 * x.std(ddof=1) / math.sqrt(n)  # t = -1.8 exactly
        diffs = x[:, None]
        t = stats.slot_t_stats(diffs)[0]
        observed = stats._severity(diffs, np.ones(1), min_effect=None, t_crit=0.0)
        p = stats._sign_flip_meta_p(
            diffs, np.ones(1), observed, min_effect=None, t_crit=0.0, n_perm=2**n
        )
        errors.append(abs(p - sps.t.cdf(t, n - 1)))
    return np.array(errors)


def test_single_slot_approaches_paired_t_test():
    """The exact sign-flip p-value approaches the Student-t p-value as n grows.

    Normal samples rescaled to t = -1.8 (t-test p between 0.04 and 0.06). The
    fixed seeds make this deterministic; the margins are wide (observed mean
    errors ~0.015, ~0.004, ~0.001 and a worst case of ~0.008 at n = 16).
    """
    seeds = range(25)
    err6, err10, err16 = (_meta_p_vs_t_test(n, seeds) for n in (6, 10, 16))
    assert err16.max() < 0.02
    assert err16.mean() < 0.003
    assert err6.mean() > 1.5 * err10.mean() > 2.25 * err16.mean()


# -- (e) compare() -----------------------------------------------------------------------
BASELINE = {
    0: {"acc": [1.0, 2.0, 3.0], "min:loss": [1.0, 2.0, 3.0]},
    5: {"min:loss": [2.0, 2.0, 2.0], "acc": [0.5, 0.5, 0.5]},
}
CURRENT = {
    0: {"acc": [0.5, 1.0, 2.0], "min:loss": [1.5, 2.5, 3.5]},
    5: {"min:loss": [2.0, 2.0, 2.0], "acc": [0.75, 0.75, 0.75]},
}


def _row(comparison, step, metric):
    (row,) = [r for r in comparison.slots if (r.step, r.metric) == (step, metric)]
    return row


def test_compare_hand_computed():
    with pytest.raises(ValueError, match="never be reached with 3 seeds"):
        stats.compare_scores(BASELINE, CURRENT, alpha=0.05)
    result = stats.compare_scores(BASELINE, CURRENT, alpha=0.2)
    assert [(r.step, r.metric) for r in result.slots] == [
        (0, "acc"),
        (0, "min:loss"),
        (5, "acc"),
        (5, "min:loss"),
    ]
    t_crit = sps.t.ppf(0.2, 2)
    assert result.t_crit == pytest.approx(t_crit, rel=1e-12)

    # acc: differences -0.5, -1, -1 -> mean -5/6, sd sqrt(1/12), t = -5.
    acc = _row(result, 0, "acc")
    assert (acc.baseline_mean, acc.current_mean) == pytest.approx((2.0, 7 / 6))
    assert (acc.baseline_std, acc.current_std) == pytest.approx((1.0, math.sqrt(7 / 12)))
    assert acc.t_stat == pytest.approx(-5.0, rel=1e-12)
    assert acc.p_value == pytest.approx(sps.t.cdf(-5.0, 2), rel=1e-10)
    assert acc.effect_size == pytest.approx(-5 / 12)
    assert acc.effect_reliable and acc.flagged

    # min:loss up by exactly 0.5: goodness falls by 0.5 on every seed -> degenerate.
    loss = _row(result, 0, "min:loss")
    assert loss.t_stat == -1e9 and loss.p_value == 0.0 and loss.flagged
    assert loss.effect_size == pytest.approx(-0.25)  # -0.5 / |mean goodness -2|

    # Unchanged: degenerate at zero -> t 0, p 1. Improved by a constant: t +1e9, p 1.
    same = _row(result, 5, "min:loss")
    assert (same.t_stat, same.p_value, same.effect_size, same.flagged) == (0.0, 1.0, 0.0, False)
    better = _row(result, 5, "acc")
    assert (better.t_stat, better.p_value, better.flagged) == (1e9, 1.0, False)
    assert better.effect_size == pytest.approx(0.5)

    assert result.n_flagged == 2
    # Only the identity reaches the ~1e9 severity of the degenerate slot (flipping
    # every seed makes step 5's acc degenerate instead, but loses acc's 2.08): 1 / 2**3.
    assert result.severity == pytest.approx(1e9 + t_crit + (t_crit + 5.0))
    assert result.meta_p == 0.125
    assert result.passed is False  # 1/8 < 0.2
    assert result.passed == (not result.meta_p < result.alpha)


def test_compare_min_effect_gates_flags():
    result = stats.compare_scores(BASELINE, CURRENT, alpha=0.2, min_effect=0.3)
    assert _row(result, 0, "acc").flagged  # effect -5/12 < -0.3
    assert not _row(result, 0, "min:loss").flagged  # effect -0.25 is too small
    assert result.n_flagged == 1
    assert result.severity == pytest.approx(sps.t.ppf(0.2, 2) + 5.0)
    # The identity reaches it, and so does flipping every seed: step 5's acc then
    # falls by a constant 0.25 (effect -0.5, past the gate; t = -1e9). 2 / 2**3.
    assert result.meta_p == 0.25
    # The gate removes everything: severity 0, meta_p 1.
    gated = stats.compare_scores(BASELINE, CURRENT, alpha=0.2, min_effect=0.5)
    assert (gated.n_flagged, gated.severity, gated.meta_p, gated.passed) == (0, 0.0, 1.0, True)


def test_compare_fails_a_clear_regression():
    rng = np.random.default_rng(4)
    n = 8
    base = {1: {"score": list(rng.normal(10, 1, n)), "min:time": list(rng.normal(5, 0.1, n))}}
    cur = {
        1: {
            "score": [v - 2.0 + rng.normal(0, 0.1) for v in base[1]["score"]],
            "min:time": [v + 1.0 + rng.normal(0, 0.1) for v in base[1]["min:time"]],
        }
    }
    result = stats.compare_scores(base, cur, alpha=0.05)
    assert result.n_flagged == 2
    assert result.meta_p == 1 / 2**n
    assert result.passed is False
    # And the mirror image (an improvement) passes with meta_p exactly 1.
    mirror = stats.compare_scores(cur, base, alpha=0.05)
    assert (mirror.n_flagged, mirror.meta_p, mirror.passed) == (0, 1.0, True)


@pytest.mark.parametrize("min_effect", [None, 0.01])
@pytest.mark.parametrize("seed", range(4))
def test_compare_matches_naive_reference(seed, min_effect):
    rng = np.random.default_rng(seed)
    n = 12
    base, cur = {}, {}
    for step in (0, 10, 20):
        base[step], cur[step] = {}, {}
        for metric in ("acc", "min:loss", "zero"):
            b = rng.normal(0.0 if metric == "zero" else 1.0, 0.2, n)
            base[step][metric] = list(b)
            cur[step][metric] = list(b + rng.normal(-0.05, 0.1, n))
    result = stats.compare_scores(base, cur, alpha=0.1, min_effect=min_effect, n_perm=512)
    ref = compare_ref(base, cur, alpha=0.1, min_effect=min_effect)
    assert len(result.slots) == len(ref)
    for row, want in zip(result.slots, ref, strict=True):
        assert (row.step, row.metric) == (want["step"], want["metric"])
        for field in ("baseline_mean", "baseline_std", "current_mean", "current_std"):
            assert getattr(row, field) == pytest.approx(want[field], rel=1e-12)
        assert row.t_stat == pytest.approx(want["t"], rel=1e-9)
        assert row.p_value == pytest.approx(want["p"], rel=1e-9, abs=1e-15)
        assert row.effect_size == pytest.approx(want["effect"], rel=1e-9)
        assert row.effect_reliable == want["reliable"]
        assert row.flagged == want["flagged"]
    assert result.n_flagged == sum(r["flagged"] for r in ref)
    # meta_p: the default generator is seeded with 0, so the reference reproduces it.
    sign = np.array([-1.0 if m.startswith("min:") else 1.0 for _, m in _slots(base)])
    b = np.array([base[s][m] for s, m in _slots(base)]).T * sign
    c = np.array([cur[s][m] for s, m in _slots(base)]).T * sign
    denom = np.abs(b.mean(axis=0))
    big = np.maximum(np.abs(b).max(axis=0), np.abs(c).max(axis=0))
    judged = np.array([r["reliable"] for r in ref])
    kw = dict(magnitude=big, judged=judged)
    t_crit = stats.t_critical(0.1, n)
    observed = severity_ref(c - b, denom, min_effect=min_effect, t_crit=t_crit, **kw)
    assert result.severity == pytest.approx(observed, rel=1e-12)
    want_p = meta_p_ref(
        c - b,
        denom,
        result.severity,
        min_effect=min_effect,
        t_crit=t_crit,
        n_perm=512,
        rng=np.random.default_rng(0),
        **kw,
    )
    assert result.meta_p == want_p
    assert result.passed == (not result.meta_p < 0.1)


def _slots(scores):
    return sorted((s, m) for s, ms in scores.items() for m in ms)


def test_compare_unreliable_effect():
    cur = [-1.0, -2.0, -1.5, -1.0, -2.0]
    result = stats.compare_scores({0: {"x": [0.0] * 5}}, {0: {"x": cur}})
    row = result.slots[0]
    assert not row.effect_reliable
    assert row.effect_size == pytest.approx(-1.5 / (1e-12 * 2.0))  # floor: rtol * magnitude
    assert (row.delta_low, row.delta_high) == (-math.inf, math.inf)
    assert row.flagged and row.judged
    gated = stats.compare_scores({0: {"x": [0.0] * 5}}, {0: {"x": cur}}, min_effect=0.02)
    assert not gated.slots[0].flagged and not gated.slots[0].judged and gated.passed


def test_compare_rejects_mismatches():
    with pytest.raises(ValueError, match="slots"):
        stats.compare_scores({0: {"a": [1.0, 2.0]}}, {0: {"b": [1.0, 2.0]}})
    with pytest.raises(ValueError, match="seeds"):
        stats.compare_scores({0: {"a": [1.0, 2.0]}}, {0: {"a": [1.0, 2.0, 3.0]}})
    with pytest.raises(ValueError, match="two seeds"):
        stats.compare_scores({0: {"a": [1.0]}}, {0: {"a": [2.0]}})


# -- (f) min_seeds and t_critical -------------------------------------------------------
@pytest.mark.parametrize(
    ("alpha", "need"),
    [(0.9, 2), (0.5, 2), (0.25, 3), (0.2, 3), (0.1, 4), (0.0625, 5), (0.05, 5), (0.01, 7)],
)
def test_min_seeds_values(alpha, need):
    assert stats.min_seeds(alpha) == need


@settings(max_examples=300, deadline=None, derandomize=True)
@given(
    st.one_of(
        st.floats(1e-12, 0.999),
        st.integers(2, 40).map(lambda k: float(np.nextafter(2.0**-k, 1.0))),
        st.integers(2, 40).map(lambda k: float(np.nextafter(2.0**-k, 0.0))),
        st.integers(2, 40).map(lambda k: 2.0**-k),
    )
)
def test_min_seeds_is_the_smallest_reachable(alpha):
    """The CLI refuses iff ``2**n <= 1/alpha``; min_seeds is the least n it accepts."""
    n = stats.min_seeds(alpha)
    assert n >= 2
    assert not 2**n <= 1.0 / alpha
    assert n == 2 or 2 ** (n - 1) <= 1.0 / alpha


@pytest.mark.parametrize("alpha", [0.001, 0.05, 0.1, 0.3])
@pytest.mark.parametrize("n", [2, 3, 5, 30, 200])
def test_t_critical(alpha, n):
    t_crit = stats.t_critical(alpha, n)
    assert t_crit == pytest.approx(sps.t.ppf(alpha, n - 1), rel=1e-10)
    assert t_crit < 0
    assert sps.t.cdf(t_crit, n - 1) == pytest.approx(alpha, rel=1e-10)


# The t distribution is computed in pybench.stats without importing scipy (start-up
# time); scipy.special is the oracle here.


# -- (g) the batch size does not matter -------------------------------------------------
@pytest.mark.parametrize(
    ("n", "n_perm"),
    [(9, 4096), (13, 700)],  # exact, Monte-Carlo
)
@pytest.mark.parametrize("min_effect", [None, 0.1])
def test_batch_size_independence(monkeypatch, n, n_perm, min_effect):
    diffs = _random_diffs(n, 4, n, shift=-0.5, degenerate=True)
    denom = np.ones(diffs.shape[1])
    t_crit = stats.t_critical(0.05, n)
    observed = stats._severity(diffs, denom, min_effect=min_effect, t_crit=t_crit)

    def run():
        return stats._sign_flip_meta_p(
            diffs,
            denom,
            observed,
            min_effect=min_effect,
            t_crit=t_crit,
            n_perm=n_perm,
            rng=np.random.default_rng(42),
        )

    default = run()
    for rows in (1, 3, 50):
        monkeypatch.setattr(_signflip, "BATCH_BYTES", 20 * (diffs.shape[1] + n) * rows)
        assert run() == default
    want = meta_p_ref(
        diffs,
        denom,
        observed,
        min_effect=min_effect,
        t_crit=t_crit,
        n_perm=n_perm,
        rng=np.random.default_rng(42),
    )
    assert default == want


def test_batches_cover_every_sign_vector_once(monkeypatch):
    """The permuted severities, batch by batch, are the reference's in the same order."""
    n = 6
    diffs = _random_diffs(n, 3, 1, degenerate=True)
    denom = np.ones(diffs.shape[1])
    t_crit = stats.t_critical(0.05, n)
    sum_sq = np.einsum("ij,ij->j", diffs, diffs)
    for exact, n_perm in ((True, 64), (False, 50)):
        sev = np.concatenate(
            [
                stats._permuted_severity(s, diffs, sum_sq, denom, min_effect=None, t_crit=t_crit)
                for s in stats._sign_batches(n, n_perm, np.random.default_rng(1), 7)
            ]
        )
        ref = permuted_severities_ref(
            diffs,
            denom,
            min_effect=None,
            t_crit=t_crit,
            n_perm=n_perm,
            rng=np.random.default_rng(1),
        )
        if exact:  # enumeration orders differ; compare the multisets
            sev, ref = np.sort(sev), np.sort(ref)
        np.testing.assert_allclose(sev, ref, rtol=1e-10, atol=1e-9)


# -- (h) the flip budget grows with 1/alpha ---------------------------------------------
@pytest.mark.parametrize(
    ("alpha", "budget"), [(0.5, 4096), (0.05, 4096), (0.001, 20_000), (1e-4, 200_000)]
)
def test_budget_grows_with_one_over_alpha(alpha, budget):
    assert stats.n_permutations(alpha) == budget


@settings(max_examples=200, deadline=None, derandomize=True)
@given(alpha=st.floats(2e-7, 0.99), n=st.integers(2, 80))
def test_smallest_meta_p_is_below_alpha_whenever_reachable(alpha, n):
    budget = stats.n_permutations(alpha)
    smallest = stats.smallest_meta_p(n, budget)
    if stats.reachable(alpha, n):
        assert smallest < alpha
        if not stats.is_exact(n, budget):
            assert smallest <= alpha / stats.FLIPS_PER_ALPHA
    else:  # only enumeration can be out of reach, and it is refused before running
        assert stats.is_exact(n, budget) and smallest >= alpha


def _sharp_drop(n: int, k: int = 1, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Baseline around 1 and a current run 85 % lower, with noise."""
    rng = np.random.default_rng(seed)
    base = 1.0 + 0.05 * rng.standard_normal((n, k))
    return base, 0.15 + 0.05 * rng.standard_normal((n, k))


def test_tiny_alpha_can_fail_on_the_monte_carlo_path():
    """Regression test: with 20 seeds and alpha=1e-4, 4096 flips could never go below 1/4097."""
    base, cur = _sharp_drop(20)
    result = stats.compare(base, cur, [(0, "acc")], alpha=1e-4)
    assert (result.n_perm, result.exact) == (200_000, False)
    assert result.meta_p == 1 / 200_001 and not result.passed


def test_tiny_alpha_enumerates_when_that_is_within_budget():
    base, cur = _sharp_drop(14)
    result = stats.compare(base, cur, [(0, "acc")], alpha=1e-4)
    assert (result.n_perm, result.exact) == (2**14, True)
    assert result.meta_p == 1 / 2**14 and not result.passed


# -- (i) defects -------------------------------------------------------------------------
def test_exact_meta_p_is_never_below_one_over_two_to_the_n():
    """Regression test: the observed severity passed the gate, the identity flip did not (0.0)."""
    base = {1: {"acc": [0.479, 0.531, 0.522, 0.503, 0.474, 0.492, 0.5, 0.546, 0.463, 0.49]}}
    cur = {1: {"acc": [0.476, 0.518, 0.513, 0.491, 0.464, 0.479, 0.488, 0.538, 0.456, 0.477]}}
    for min_effect in (0.02, 0.0199, 0.0201, None):
        result = stats.compare_scores(base, cur, alpha=0.05, min_effect=min_effect)
        assert result.meta_p >= 1 / 2**10
        # one gate for the flag, the severity and every flip
        assert result.slots[0].flagged == (result.severity > 0)
        assert result.passed == (result.severity == 0)  # a sharp drop fails once it counts
    assert stats.compare_scores(base, cur, min_effect=0.0199).meta_p == 1 / 2**10


def _column_with_t(n: int, t: float, seed: int = 0) -> np.ndarray:
    x = np.random.default_rng(seed).standard_normal(n)
    x = (x - x.mean()) / x.std(ddof=1)
    return x + t / math.sqrt(n)


def test_degenerate_slots_do_not_blunt_the_tie_tolerance():
    """Regression test: a 1e9 contribution made the tolerance ~0.1 and counted a non-tie.

    Five seeds; one slot drops by exactly 0.4, one rises by exactly 0.1, one has
    t = t_crit - 0.05. Flipping every seed keeps one degenerate contribution but
    loses the 0.05: not a tie, so only the identity counts.
    """
    n = 5
    t_crit = stats.t_critical(0.05, n)
    diffs = np.column_stack([np.full(n, -0.4), np.full(n, 0.1), _column_with_t(n, t_crit - 0.05)])
    result = stats.compare(np.zeros((n, 3)), diffs, [(0, "a"), (0, "b"), (0, "c")], alpha=0.05)
    assert result.meta_p == 1 / 32 and not result.passed
    assert meta_p_ref(diffs, np.ones(3), result.severity, min_effect=None, t_crit=t_crit) == 1 / 32


@pytest.mark.parametrize("direction", [1.0, -1.0])
def test_values_near_the_float_maximum_give_no_nan(direction):
    """Regression test: differences of finite values overflowed and the severity was NaN."""
    n = 8
    spread = np.linspace(0.0, 1e306, n)
    base = (-1.7e308 + spread)[:, None] * direction
    cur = (1.7e308 - spread[::-1])[:, None] * direction
    slots = [(0, "score")]
    result = stats.compare(base, cur, slots, alpha=0.05)
    row = result.slots[0]
    numbers = [getattr(row, f) for f in SlotResult_numbers] + [
        result.severity,
        result.meta_p,
        result.improvement_severity,
        result.improvement_p,
    ]
    assert not any(math.isnan(v) for v in numbers)
    if direction > 0:  # a higher score: an improvement, not a failure
        assert result.passed and result.improved and row.t_stat > 0
    else:
        assert not result.passed and row.flagged and row.effect_size < 0
    assert row.baseline_mean == pytest.approx((base / 2.0**10).mean() * 2.0**10, rel=1e-12)
    assert row.current_mean == pytest.approx((cur / 2.0**10).mean() * 2.0**10, rel=1e-12)


SlotResult_numbers = (
    "baseline_mean", "baseline_std", "current_mean", "current_std", "effect_size", "t_stat",
    "p_value", "p_adj", "ci_low", "ci_high", "delta_low", "delta_high",
)  # fmt: skip


def test_scaled_columns_keep_the_statistics():
    """Scaling a column by a power of two (what overflow protection does) changes no statistic."""
    rng = np.random.default_rng(8)
    base = rng.normal(1.0, 0.1, (9, 2))
    cur = base + rng.normal(-0.05, 0.05, (9, 2))
    slots = [(0, "a"), (0, "b")]
    plain = stats.compare(base, cur, slots)
    huge = stats.compare(base * 2.0**1000, cur * 2.0**1000, slots)
    assert huge.meta_p == plain.meta_p and huge.improvement_p == plain.improvement_p
    for a, b in zip(plain.slots, huge.slots, strict=True):
        assert b.t_stat == pytest.approx(a.t_stat, rel=1e-12)
        assert b.p_adj == a.p_adj and b.flagged == a.flagged
        assert b.effect_size == pytest.approx(a.effect_size, rel=1e-12)
        assert b.ci_low == pytest.approx(a.ci_low * 2.0**1000, rel=1e-12)


def test_non_finite_scores_are_refused():
    with pytest.raises(ValueError, match="finite"):
        stats.compare(np.ones((3, 1)), np.array([[1.0], [np.nan], [1.0]]), [(0, "a")])


# -- (j) step-down max-T adjusted p-values -------------------------------------------------
def _p_adj(diffs: np.ndarray, *, n_perm: int = 4096, seed: int = 0) -> np.ndarray:
    slots = [(0, f"m{j}") for j in range(diffs.shape[1])]
    result = stats.compare(  # p_adj does not depend on alpha; 0.5 is reachable with 2 seeds
        np.zeros_like(diffs), diffs, slots, alpha=0.5, n_perm=n_perm,
        rng=np.random.default_rng(seed),
    )  # fmt: skip
    return np.array([row.p_adj for row in result.slots])


@pytest.mark.parametrize(("n", "k", "seed"), [(3, 2, 0), (6, 4, 1), (8, 5, 2), (9, 3, 3)])
@pytest.mark.parametrize("degenerate", [False, True])
def test_p_adj_matches_reference_exactly_when_enumerated(n, k, seed, degenerate):
    diffs = _random_diffs(n, k, seed, shift=-0.8, degenerate=degenerate)
    assert np.array_equal(_p_adj(diffs), p_adj_ref(diffs))


@HYPOTHESIS
@given(_grid_case())
def test_p_adj_matches_reference_on_tied_inputs(case):
    diffs, _, _ = case
    fast, slow = _p_adj(diffs), p_adj_ref(diffs)
    assert np.array_equal(fast, slow)
    assert np.all(fast >= 1 / 2 ** diffs.shape[0])


@pytest.mark.parametrize(("n", "k", "seed"), [(11, 3, 0), (13, 4, 1)])
def test_p_adj_matches_reference_stream_on_the_monte_carlo_path(n, k, seed):
    diffs = _random_diffs(n, k, seed, shift=-0.6, degenerate=True)
    fast = _p_adj(diffs, n_perm=300, seed=seed)
    slow = p_adj_ref(diffs, n_perm=300, rng=np.random.default_rng(seed))
    assert np.array_equal(fast, slow)
    assert np.all(fast >= 1 / 301)


@HYPOTHESIS
@given(
    n=st.integers(3, 9),
    k=st.integers(1, 6),
    seed=st.integers(0, 2**32 - 1),
    shift=st.floats(-2.0, 1.0),
    degenerate=st.booleans(),
)
def test_p_adj_bounds_and_step_down_order(n, k, seed, shift, degenerate):
    diffs = _random_diffs(n, k, seed, shift=shift, degenerate=degenerate)
    p_adj = _p_adj(diffs)
    # at least the slot's own sign-flip p-value of the same statistic
    assert np.all(p_adj >= slot_sign_flip_p_ref(diffs) - 1e-15)
    # non-decreasing in step-down order (most negative t first)
    t = t_stats_ref(diffs)[2]
    ordered = p_adj[np.argsort(t, kind="stable")]
    assert np.all(np.diff(ordered) >= 0)
    assert np.all((p_adj > 0) & (p_adj <= 1))


def test_p_adj_one_pass_gives_the_verdicts_meta_p():
    """The one pass computes the same meta-p as the verdict alone."""
    for seed, n_perm in ((0, 4096), (1, 500)):
        diffs = _random_diffs(12, 6, seed, shift=-0.5, degenerate=True)
        denom = np.ones(diffs.shape[1])
        t_crit = stats.t_critical(0.05, 12)
        slots = [(0, f"m{j}") for j in range(diffs.shape[1])]
        full = stats.compare(
            np.zeros_like(diffs), diffs, slots, n_perm=n_perm, rng=np.random.default_rng(seed)
        )
        observed = stats._severity(diffs, denom, min_effect=None, t_crit=t_crit)
        alone = stats._sign_flip_meta_p(
            diffs, denom, observed, min_effect=None, t_crit=t_crit, n_perm=n_perm,
            rng=np.random.default_rng(seed),
        )  # fmt: skip
        assert full.meta_p == alone and full.severity == observed


def _ar1(rng: np.random.Generator, n: int, k: int, rho: float) -> np.ndarray:
    """``n`` independent rows, each a stationary AR(1) series of ``k`` steps."""
    noise = rng.standard_normal((n, k))
    rows = np.empty((n, k))
    rows[:, 0] = noise[:, 0]
    for j in range(1, k):
        rows[:, j] = rho * rows[:, j - 1] + math.sqrt(1 - rho**2) * noise[:, j]
    return rows


@pytest.mark.slow
@pytest.mark.parametrize(("n", "n_perm"), [(10, None), (30, 1000)])
def test_p_adj_controls_the_family_wise_error(n, n_perm):
    """No change, 100 strongly correlated slots: P(any p_adj < alpha) <= alpha.

    300 repetitions: the bound alpha + 3 standard errors (0.088) holds for a
    calibrated method (observed ~0.04-0.06) and fails the unadjusted per-slot
    p-values by far (any p < alpha in ~75 % of the repetitions), which the test
    also checks so that it cannot pass vacuously.
    """
    alpha, k, reps = 0.05, 100, 300
    rng = np.random.default_rng(n)
    slots = [(step, "loss") for step in range(k)]
    any_adjusted = any_raw = 0
    for _ in range(reps):
        diffs = _ar1(rng, n, k, 0.9)
        result = stats.compare(np.zeros((n, k)), diffs, slots, alpha=alpha, n_perm=n_perm, rng=rng)
        any_adjusted += any(row.p_adj < alpha for row in result.slots)
        any_raw += any(row.p_value < alpha for row in result.slots)
    bound = alpha + 3 * math.sqrt(alpha * (1 - alpha) / reps)
    assert any_adjusted / reps <= bound
    assert any_raw / reps > 2 * bound


def test_p_adj_localises_a_single_regressed_slot():
    rng = np.random.default_rng(5)
    n, k = 20, 50
    diffs = _ar1(rng, n, k, 0.9) * 0.05
    diffs[:, 30] -= 0.08
    slots = [(step, "loss") for step in range(k)]
    result = stats.compare(np.zeros((n, k)), diffs, slots, alpha=0.05)
    marked = [row.step for row in result.slots if row.flagged_adj]
    assert marked == [30] and result.n_flagged_adj == 1 and result.slots[30].flagged


# -- (k) intervals ------------------------------------------------------------------------
def test_intervals_match_scipy():
    diffs = _random_diffs(7, 4, 3, degenerate=True)
    low, high = stats.paired_intervals(diffs, 0.1)
    for j in range(diffs.shape[1]):
        col = diffs[:, j]
        sem = col.std(ddof=1) / math.sqrt(7)
        want = sps.t.interval(0.9, 6, loc=col.mean(), scale=sem) if sem else (col.mean(),) * 2
        assert (low[j], high[j]) == pytest.approx(want, rel=1e-9, abs=1e-15)


@pytest.mark.parametrize(("n", "alpha"), [(5, 0.05), (12, 0.1), (30, 0.01)])
def test_interval_coverage(n, alpha):
    """Normal differences: the 1 - alpha interval covers the true mean 1 - alpha of the time."""
    reps = 20_000
    diffs = np.random.default_rng(n).normal(-0.3, 2.0, (n, reps))
    low, high = stats.paired_intervals(diffs, alpha)
    coverage = np.mean((low <= -0.3) & (high >= -0.3))
    assert abs(coverage - (1 - alpha)) <= 4 * math.sqrt(alpha * (1 - alpha) / reps)


def test_compare_reports_intervals_in_both_units():
    rng = np.random.default_rng(2)
    base = rng.normal(2.0, 0.1, (10, 2))
    cur = base + rng.normal(-0.1, 0.05, (10, 2))
    slots = [(0, "acc"), (0, "min:loss")]
    result = stats.compare(base, cur, slots, alpha=0.05)
    sign = np.array([1.0, -1.0])
    low, high = stats.paired_intervals((cur - base) * sign, 0.05)
    rel_low, rel_high, bounded = relative.fieller((cur - base) * sign, base * sign, 0.05)
    for j, row in enumerate(result.slots):
        assert (row.ci_low, row.ci_high) == pytest.approx((low[j], high[j]), rel=1e-12)
        assert bounded[j] and row.effect_reliable
        assert row.delta_low == pytest.approx(rel_low[j], rel=1e-9)
        assert row.delta_high == pytest.approx(rel_high[j], rel=1e-9)
        assert row.delta_low <= row.effect_size <= row.delta_high


# -- (l) improvements ----------------------------------------------------------------------
@pytest.mark.parametrize(("n", "n_perm"), [(9, None), (14, 700)])  # exact, Monte-Carlo
def test_improvement_is_the_mirrored_verdict(n, n_perm):
    rng = np.random.default_rng(n)
    base = rng.normal(1.0, 0.1, (n, 3))
    cur = base + rng.normal(0.0, 0.1, (n, 3))
    cur[:, 1] += 0.15
    slots = [(0, "a"), (1, "a"), (2, "min:b")]
    for min_effect in (None, 0.05):
        kwargs = dict(alpha=0.05, min_effect=min_effect, n_perm=n_perm)
        up = stats.compare(base, cur, slots, rng=np.random.default_rng(3), **kwargs)
        down = stats.compare(cur, base, slots, rng=np.random.default_rng(3), **kwargs)
        assert up.improvement_p == down.meta_p
        assert up.improvement_severity == down.severity
        assert up.improved == (not down.passed)
        assert [r.improved for r in up.slots] == [r.flagged for r in down.slots]
        assert up.n_improved == down.n_flagged
    assert up.improved and up.passed and up.slots[1].improved


def test_unchanged_run_is_neither_better_nor_worse():
    base = np.random.default_rng(1).normal(size=(10, 3))
    result = stats.compare(base, base.copy(), [(0, "a"), (1, "a"), (2, "a")])
    assert (result.meta_p, result.improvement_p, result.improved) == (1.0, 1.0, False)
    assert all(row.p_adj == 1.0 and not row.flagged_adj for row in result.slots)


# -- (m) planning ----------------------------------------------------------------------------
@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1])
@pytest.mark.parametrize("n", [5, 10, 30, 100])
def test_power_approximation_against_the_noncentral_t(alpha, n):
    shifts = np.array([0.1, 0.3, 0.6, 1.0, 1.5])
    crit = sps.t.ppf(1 - alpha, n - 1)
    exact = sps.nct.sf(crit, n - 1, shifts * math.sqrt(n))
    approx = stats.t_test_power(shifts, np.full(shifts.shape, n), alpha)
    assert np.max(np.abs(approx - exact)) < 0.012


def _detection_rate(n: int, shift: float, alpha: float, reps: int, seed: int) -> float:
    """How often the one-sided paired t-test at ``alpha`` flags ``reps`` simulated slots.

    Baseline and current are independent normal samples (a change re-randomises
    the run), the current one lower by ``shift * sqrt(2)`` baseline standard deviations.
    """
    rng = np.random.default_rng(seed)
    base = rng.standard_normal((n, reps))
    cur = rng.standard_normal((n, reps)) - shift * math.sqrt(2.0)
    t = stats.slot_t_stats(cur - base)
    return float(np.mean(t < stats.t_critical(alpha, n)))


@pytest.mark.parametrize(("effect", "alpha", "power"), [(0.02, 0.05, 0.8), (0.05, 0.01, 0.9)])
def test_planned_seeds_reach_the_power_by_simulation(effect, alpha, power):
    """At the planned n the simulated detection rate is the requested power, within a few points."""
    sigma, mean = 0.05, 1.0  # a 5 % noisy slot around 1
    base = np.random.default_rng(0).normal(mean, sigma, (40, 1))
    [row] = stats.power_plan(base, [(0, "acc")], alpha=alpha, effect=effect, power=power)
    shift = effect * abs(base.mean()) / (math.sqrt(2.0) * base.std(ddof=1))
    n = row.seeds_needed
    assert n is not None and n > 5
    reps = 6000
    at_n = _detection_rate(n, shift, alpha, reps, seed=1)
    below = _detection_rate(n - 1, shift, alpha, reps, seed=2)
    tol = 3 * math.sqrt(power * (1 - power) / reps) + 0.01
    assert at_n >= power - tol
    assert below <= power + tol  # n is the smallest that reaches it
    assert abs(at_n - power) <= 0.04  # n is not wastefully large


@pytest.mark.parametrize("n", [8, 20, 60])
def test_detectable_effect_is_detected_with_the_requested_power(n):
    alpha, power, sd = 0.05, 0.8, math.sqrt(2.0)
    drop = float(stats.detectable_effect(sd, n, alpha, power))
    rate = _detection_rate(n, drop / sd, alpha, reps=8000, seed=n)
    assert abs(rate - power) <= 3 * math.sqrt(power * (1 - power) / 8000) + 0.012


def test_seeds_needed_edges():
    # zero noise: the reachable minimum; hopeless noise: none within the limit
    assert stats.seeds_needed(np.inf, 0.05, 0.8) == stats.min_seeds(0.05)
    assert stats.seeds_needed(1e-3, 0.05, 0.8) == 0
    needed = stats.seeds_needed(np.array([0.2, 0.5, 1.0]), 0.05, 0.8)
    assert list(needed) == sorted(needed, reverse=True) and needed.min() >= 5


def test_power_plan_rows():
    base = np.column_stack(
        [np.linspace(0.9, 1.1, 20), np.full(20, 3.0), np.linspace(-1e-12, 1e-12, 20)]
    )
    slots = [(0, "acc"), (0, "min:time"), (5, "zero")]
    noisy, constant, zero = stats.power_plan(base, slots, alpha=0.05, effect=0.01, power=0.8)
    assert noisy.baseline_std == pytest.approx(np.std(base[:, 0], ddof=1))
    assert noisy.sd_diff == pytest.approx(math.sqrt(2) * noisy.baseline_std)
    want = float(stats.detectable_effect(noisy.sd_diff, 20, 0.05, 0.8))
    assert noisy.detectable == pytest.approx(want / 1.0)
    assert noisy.seeds_needed is None or noisy.seeds_needed > 20
    assert constant.detectable == 0.0 and constant.seeds_needed == stats.min_seeds(0.05)
    assert constant.baseline_mean == 3.0 and not zero.reliable
