"""Change points: calibrated on histories without change, found where a step is, and the
split the least-squares segmentation of ``ruptures`` finds."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybench.history.changes import ALPHA, ChangePoint, change_points

N_COMMITS = 30
REPLICATIONS = 400


def _null(rng: np.random.Generator) -> np.ndarray:
    """A 30-commit history with no change: 1 % fresh noise per commit."""
    return 1.0 + 0.01 * rng.standard_normal(N_COMMITS)


@pytest.mark.slow
def test_false_change_points_in_at_most_5_percent_of_null_histories():
    rng = np.random.default_rng(20260101)
    false = sum(bool(change_points(_null(rng))) for _ in range(REPLICATIONS))
    # each history's first split is an exact permutation test at ALPHA = 1 %
    assert false / REPLICATIONS <= 0.05
    assert false / REPLICATIONS <= ALPHA + 3 * np.sqrt(ALPHA * (1 - ALPHA) / REPLICATIONS)


@pytest.mark.slow
def test_a_4_percent_step_in_1_percent_noise_is_found_at_its_commit():
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(REPLICATIONS):
        at = int(rng.integers(3, N_COMMITS - 2))
        series = _null(rng)
        series[at:] *= 1.04
        found += any(abs(c.index - at) <= 1 for c in change_points(series))
    assert found / REPLICATIONS >= 0.90


def test_a_change_reports_both_levels_and_a_small_p():
    series = np.r_[np.full(10, 1.0), np.full(10, 0.9)] + 0.001 * np.sin(np.arange(20))
    [change] = change_points(series)
    assert change.index == 10
    assert change.before == pytest.approx(1.0, abs=0.002)
    assert change.after == pytest.approx(0.9, abs=0.002)
    assert change.p <= ALPHA


def test_two_steps_are_two_change_points():
    rng = np.random.default_rng(3)
    series = 1 + 0.005 * rng.standard_normal(40)
    series[12:] += 0.05
    series[28:] -= 0.10
    assert [c.index for c in change_points(series)] == [12, 28]


def test_identical_means_and_rounding_noise_are_no_change():
    assert change_points(np.full(20, 0.123)) == []
    wobble = 0.5 + np.r_[np.zeros(10), np.full(10, 1e-14)]
    assert change_points(wobble) == []


def test_too_short_or_missing_values():
    assert change_points(np.array([1.0, 2.0, 3.0])) == []
    series = np.r_[np.full(8, 1.0), np.full(8, 2.0)]
    series[3] = np.nan  # left out, but indices keep their place
    [change] = change_points(series)
    assert change.index == 8


def test_the_answer_is_deterministic_and_scale_free():
    rng = np.random.default_rng(11)
    series = 1 + 0.01 * rng.standard_normal(25)
    series[15:] += 0.02
    first = change_points(series)
    assert change_points(series) == first
    scaled = change_points(series * 1e6 - 3e6)
    assert [(c.index, c.p) for c in scaled] == [(c.index, c.p) for c in first]
    assert [c.before for c in scaled] == pytest.approx([c.before * 1e6 - 3e6 for c in first])


@settings(max_examples=25, deadline=None, derandomize=True)
@given(
    n=st.integers(16, 60),
    at=st.floats(0.3, 0.7),  # with 3 commits on a side, 299 shuffles can miss it
    size=st.floats(5, 10),
    seed=st.integers(0, 2**32 - 1),
)
def test_the_split_is_the_least_squares_one_ruptures_finds(n, at, size, seed):
    """The first change point is the best single split of the l2 cost (``ruptures``' Binseg),
    whenever that split is significant."""
    import ruptures

    rng = np.random.default_rng(seed)
    series = rng.standard_normal(n)
    series[int(at * n) :] += size
    [expected, _] = ruptures.Binseg(model="l2", min_size=2, jump=1).fit(series).predict(n_bkps=1)
    found = change_points(series)
    assert found, "a step of 5 to 10 standard deviations in 16+ commits is always significant"
    assert expected in [c.index for c in found]
    assert isinstance(found[0], ChangePoint)
