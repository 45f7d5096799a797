"""Student's t distribution (pybench._tdist) against scipy.special, tails and edges included."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pybench._tdist import t_cdf, t_ppf

T_DFS = [1, 2, 3, 4, 5, 7, 9, 14, 19, 29, 49, 99, 199, 999]
T_VALUES = np.array(
    [-1e9, -1e6, -1e3, -300, -50, -20, -10, -7, -5, -4, -3, -2.5, -2, -1.9, -1.8]
    + [-1.7, -1.5, -1.3, -1.2, -1, -0.7, -0.5, -0.1, -1e-3, -1e-6, 0.0, 1e-6, 1e-3, 0.5]
    + [1, 1.7, 2, 5, 50, 1e3, 1e9]
)


@pytest.mark.parametrize("df", T_DFS)
def test_t_cdf_matches_scipy(df):
    from scipy.special import stdtr

    ts = np.concatenate([T_VALUES, -np.abs(np.random.default_rng(df).standard_cauchy(300)) * 3])
    got = t_cdf(ts, df)
    want = stdtr(df, ts)
    if df == 1:  # scipy's Cauchy loses ~1e-10 near 0; the closed form is exact
        want = np.where(np.abs(ts) < 1e-3, 0.5 + np.arctan(ts) / np.pi, want)
    tiny = (want < 1e-300) & (got < 1e-300)
    np.testing.assert_allclose(got[~tiny], want[~tiny], rtol=1e-11, atol=0)
    assert got.shape == ts.shape


def test_t_cdf_edge_values():
    got = t_cdf(np.array([[-np.inf, np.inf], [np.nan, 0.0]]), 5)
    assert got.shape == (2, 2)
    assert got[0, 0] == 0.0 and got[0, 1] == 1.0 and np.isnan(got[1, 0]) and got[1, 1] == 0.5
    assert t_cdf(np.array([]), 5).shape == (0,)
    assert np.isnan(t_cdf(-1.0, 0)).all()


@pytest.mark.parametrize("df", [*T_DFS, 9999])
def test_t_ppf_matches_scipy(df):
    from scipy.special import stdtr, stdtrit

    for alpha in (1e-12, 1e-6, 1e-4, 1e-3, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.49):
        got = t_ppf(alpha, df)
        assert got == pytest.approx(float(stdtrit(df, alpha)), rel=1e-10), alpha
        assert t_ppf(1 - alpha, df) == -t_ppf(1 - (1 - alpha), df)
        assert float(stdtr(df, got)) == pytest.approx(alpha, rel=1e-9)
    assert t_ppf(0.5, df) == 0.0


def test_t_ppf_edge_values():
    assert t_ppf(0.0, 5) == -math.inf
    assert t_ppf(1.0, 5) == math.inf
    assert math.isnan(t_ppf(math.nan, 5))
    assert math.isnan(t_ppf(0.05, 0))
    assert t_ppf(1e-300, 3) == pytest.approx(-1.033110836044653e100, rel=1e-12)


@pytest.mark.parametrize("df", [1, 4, 29, 1000])
def test_cdf_of_huge_t_is_zero_or_one(df):
    """Regression test: t**2 overflowed for |t| >= 1.3e154 and the tails came out NaN."""
    t = np.array([-1.7e308, -1e200, -3.2e154, -1.3e154, 1.3e154, 3.2e154, 1e200, 1.7e308])
    with np.errstate(invalid="raise"):  # no NaN is made on the way (underflow is fine)
        got = t_cdf(t, df)
    tail = got[:4]
    if df == 1:  # Cauchy: P(T <= t) = 1/(pi |t|) far out, still representable
        assert tail[1:] == pytest.approx(1 / np.pi / np.abs(t[1:4]), rel=1e-12)
        assert 0.0 < tail[0] < 2e-309  # subnormal
    else:
        assert list(tail) == [0.0] * 4
    assert list(got[4:]) == [1.0] * 4
