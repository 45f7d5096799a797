"""The sign-flip engine's fast layout against the straightforward computation of every flip."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pybench import _signflip, stats

HYPOTHESIS = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)


def _results(base, cur, slots, **kwargs):
    c = stats.compare(base, cur, slots, **kwargs)
    return (
        c.meta_p,
        c.improvement_p,
        [s.p_adj for s in c.slots],
        [s.flagged for s in c.slots],
        c.severity,
        c.improvement_severity,
    )


@st.composite
def _case(draw):
    n = draw(st.sampled_from([5, 8, 11, 14, 40]))
    k = draw(st.integers(1, 140))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    base = rng.normal(1.0, 0.3, (n, k))
    shift = rng.normal(0.0, 0.2, k) * draw(st.sampled_from([0.0, 1.0, 5.0]))
    cur = base + rng.normal(0.0, 0.1, (n, k)) + shift
    kind = draw(st.sampled_from(["plain", "grid", "constant", "strong"]))
    if kind == "grid":
        base, cur = np.round(base * 4), np.round(cur * 4)
    elif kind == "constant":
        cur[:, : k // 2] = base[:, : k // 2] - 0.25
    elif kind == "strong":
        cur[:, : k // 3] -= 3.0
    min_effect = draw(st.sampled_from([None, 0.0, 0.05, 0.5]))
    alpha = draw(st.sampled_from([0.05, 0.2]))
    return base, cur, min_effect, alpha


@HYPOTHESIS
@given(_case())
def test_fast_layout_counts_what_the_straightforward_flips_count(case):
    """Every p-value is the same whether flips go through ``u`` or are computed one by one."""
    base, cur, min_effect, alpha = case
    slots = [(i, "score" if i % 2 else "min:loss") for i in range(base.shape[1])]
    kwargs = dict(alpha=alpha, min_effect=min_effect, n_perm=600)
    fast = _results(base, cur, slots, **kwargs)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_signflip, "FAST_LIMIT", -2.0)  # every flip the straightforward way
        slow = _results(base, cur, slots, **kwargs)
    assert fast[:4] == slow[:4]
    assert fast[4] == pytest.approx(slow[4], rel=1e-12)
    assert fast[5] == pytest.approx(slow[5], rel=1e-12)


def test_ordinary_data_stays_in_the_fast_layout():
    rng = np.random.default_rng(3)
    diffs = rng.standard_normal((30, 500))
    data = stats._prepare(diffs, np.ones(500), None)
    null = _signflip.sign_flip_null(data, t_crit=stats.t_critical(0.05, 30), n_perm=4096)
    assert null.slow_flips == 0


def test_a_strong_slot_sends_only_its_extreme_flips_the_slow_way():
    rng = np.random.default_rng(4)
    diffs = rng.standard_normal((10, 50))
    diffs[:, 0] = -5.0 + 0.01 * rng.standard_normal(10)  # t near -1500
    data = stats._prepare(diffs, np.ones(50), None)
    null = _signflip.sign_flip_null(data, t_crit=stats.t_critical(0.05, 10), n_perm=4096)
    assert 2 <= null.slow_flips <= 64  # the identity and its mirror, a few near them
    assert null.meta_p == 1 / 2**10


@pytest.mark.parametrize(("n", "k"), [(20_000, 3), (30, 20_000), (2_000, 200)])
def test_batches_are_bounded_by_seeds_and_slots(n, k):
    rows = _signflip.batch_rows(n, k)
    assert rows >= 1
    assert rows * (24 * k + 20 * n) <= max(_signflip.BATCH_BYTES, 24 * k + 20 * n)


def test_many_seeds_keep_a_small_footprint():
    """20 000 seeds: the null's working memory stays near the batch budget."""
    import tracemalloc

    rng = np.random.default_rng(5)
    n, k = 20_000, 3
    diffs = rng.standard_normal((n, k))
    data = stats._prepare(diffs, np.ones(k), None)
    tracemalloc.start()
    _signflip.sign_flip_null(data, t_crit=stats.t_critical(0.05, n), n_perm=4096)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 4 * _signflip.BATCH_BYTES


def test_monte_carlo_signs_are_the_comparison_with_one_half_at_every_edge() -> None:
    from pybench._signflip import _signs_of, sign_batches

    edges = np.array([0.0, 5e-324, 0.25, np.nextafter(0.5, 0), 0.5, np.nextafter(0.5, 1),
                      0.75, np.nextafter(1.0, 0)])  # fmt: skip
    uniform = np.concatenate([edges, np.random.default_rng(3).random(10_000)])
    want = np.where(uniform < 0.5, 1.0, -1.0)
    got = _signs_of(uniform.copy())
    assert np.array_equal(got, want) and not np.signbit(got[got > 0]).any()
    # the stream: the same draws in the same order, whatever the batch size
    n, n_perm = 40, 1_000
    for batch in (1, 7, 1_000):
        drawn = np.concatenate(list(sign_batches(n, n_perm, np.random.default_rng(9), batch)))
        reference = np.random.default_rng(9).random((n_perm, n)) < 0.5
        assert np.array_equal(drawn, np.where(reference, 1.0, -1.0))
