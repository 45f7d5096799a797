"""The HTML report's figures: a long curve is drawn from its envelope, at a bounded cost."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pybench.reports import html_plots
from pybench.reports.html_plots import MAX_POINTS, _envelope


def _bands(mean: np.ndarray, half: float = 0.1) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    return mean, mean - half, mean + half


def test_a_short_curve_is_drawn_as_it_is() -> None:
    steps = list(range(2 * MAX_POINTS))
    mean = np.sin(np.arange(len(steps)) / 7.0)
    (x, y), (bx, low, high) = _envelope(steps, *_bands(mean))
    assert x.tolist() == steps and y.tolist() == mean.tolist() and bx.tolist() == steps
    assert np.allclose(low, mean - 0.1) and np.allclose(high, mean + 0.1)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2 * MAX_POINTS + 1, 20_000), seed=st.integers(0, 2**32 - 1))
def test_a_long_curve_keeps_every_extreme_within_a_bounded_number_of_points(n, seed) -> None:
    rng = np.random.default_rng(seed)
    steps = np.cumsum(rng.integers(1, 5, n)).tolist()  # uneven, increasing steps
    mean = rng.standard_normal(n).cumsum()
    spike = int(rng.integers(n))
    mean[spike] += 1e3  # a one-step spike must still be drawn
    (x, y), (bx, low, high) = _envelope(steps, *_bands(mean))
    assert len(x) == len(y) == 2 * MAX_POINTS and len(bx) == len(low) == len(high) == MAX_POINTS
    assert y.max() == mean.max() and y.min() == mean.min()
    assert high.max() == pytest.approx(mean.max() + 0.1)
    assert low.min() == pytest.approx(mean.min() - 0.1)
    assert np.all(np.diff(x) >= 0) and x[0] == steps[0] and x[-1] == steps[-1]
    # every step's mean lies inside its run's drawn range
    where = np.searchsorted(x[::2], steps, side="right") - 1
    assert np.all(y[::2][where] <= mean) and np.all(mean <= y[1::2][where])


def test_a_run_with_no_finite_mean_stays_a_gap() -> None:
    n = 10 * MAX_POINTS
    mean = np.linspace(0.0, 1.0, n)
    mean[: n // 2] = math.nan  # the first half has no value on this side
    (x, y), (_, low, high) = _envelope(list(range(n)), *_bands(mean))
    assert np.isnan(y[: MAX_POINTS - 2]).all() and np.isfinite(y[MAX_POINTS + 2 :]).all()
    assert np.isnan(low[: MAX_POINTS // 2 - 1]).all() and np.isfinite(high[-1])


def test_a_figure_is_drawn_without_pyplot() -> None:
    pytest.importorskip("matplotlib")
    import sys

    fig = html_plots.figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    assert html_plots._png(fig)  # a base64 PNG
    assert "matplotlib.pyplot" not in sys.modules or fig.canvas.manager is None


def test_numbers_at_the_ends_of_the_float_range_draw_without_warnings(capfd) -> None:
    pytest.importorskip("matplotlib")
    import warnings

    rows = [
        {"step": s, "direction": "higher", "flagged": s == 3,
         "baseline_mean": 1.7e308 if s in (3, 7) else 0.5, "baseline_std": 1.7e308,
         "current_mean": -1.7e308 if s == 3 else 0.5, "current_std": 5e-324}
        for s in range(10)
    ]  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning that escapes fails the test
        png = html_plots.curves({"settings": {"alpha": 0.05}, "n_seeds": 5}, [("acc", rows)],
                                ("baseline", "current"))  # fmt: skip
    assert png and capfd.readouterr().err == ""


def test_a_sides_band_is_its_mean_where_it_has_no_spread() -> None:
    rows = [{"baseline_mean": 1.0, "baseline_std": 0.5}, {"baseline_mean": 2.0},
            {"baseline_mean": None, "baseline_std": 1.0}, {"baseline_mean": 3.0,
            "baseline_std": math.inf}]  # fmt: skip
    mean, low, high = html_plots._bands(rows, "baseline", 4, 2.0)
    assert mean[[0, 1, 3]].tolist() == [1.0, 2.0, 3.0] and math.isnan(mean[2])
    assert low[0] == 0.5 and high[0] == 1.5  # 2 x 0.5 / sqrt(4)
    assert low[1] == high[1] == 2.0 and low[3] == high[3] == 3.0
    one_seed = html_plots._bands(rows, "baseline", 1, math.nan)
    assert np.array_equal(one_seed[1], one_seed[0], equal_nan=True)
