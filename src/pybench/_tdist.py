"""Student's t distribution without scipy: the distribution function and the quantile.

Kept out of :mod:`pybench.stats` (which holds the tests themselves) and written
here rather than imported from ``scipy.special``: importing scipy.special (with
scipy 1.17 its array-API layer touches every numpy submodule, numpy.f2py and
numpy.testing included) costs about as much as the rest of a ``pybench`` run's
start-up.

Accuracy (checked against scipy in ``tests/test_tdist.py``): the distribution
function agrees with ``scipy.special.stdtr`` to 1e-11 relative, tails included,
for 1 to thousands of degrees of freedom; the quantile agrees with
``scipy.special.stdtrit`` to 1e-10 relative for probabilities in [1e-12, 0.5].
The distribution function is the regularized incomplete beta function by its
continued fraction (modified Lentz); the quantile is a safeguarded Newton
iteration on the log of the distribution function.
"""

from __future__ import annotations

import functools
import math

import numpy as np

__all__ = ["t_cdf", "t_ppf"]

_CF_TINY = 1e-300
_CF_EPS = 1e-15
_CF_MAXIT = 10_000
_LOG_SQRT_PI = 0.5 * math.log(math.pi)
_SCALAR_SIZE = 4
"""Continued fractions of at most this many values are evaluated one by one in plain floats."""


def _beta_cf(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Continued fraction of the regularized incomplete beta ``I_x(a, b)`` (modified Lentz).

    Converges quickly for ``x < (a + 1) / (a + b + 2)``; each element stops as
    soon as its own fraction has converged.
    """
    out = np.empty_like(x)
    if x.size <= _SCALAR_SIZE:
        for i, value in enumerate(x.tolist()):
            out[i] = _beta_cf_scalar(a, b, value)
        return out
    idx = np.arange(x.size)
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = 1.0 / np.where(np.abs(d) < _CF_TINY, _CF_TINY, d)
    h = d.copy()
    for m in range(1, _CF_MAXIT):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / np.where(np.abs(d) < _CF_TINY, _CF_TINY, d)
            c = 1.0 + aa / c
            c = np.where(np.abs(c) < _CF_TINY, _CF_TINY, c)
            delta = d * c
            h = h * delta
        done = np.abs(delta - 1.0) <= _CF_EPS
        if done.any():
            out[idx[done]] = h[done]
            keep = ~done
            idx, x, c, d, h = idx[keep], x[keep], c[keep], d[keep], h[keep]
            if idx.size == 0:
                break
    else:
        out[idx] = h
    return out


def _beta_cf_scalar(a: float, b: float, x: float) -> float:
    """:func:`_beta_cf` for one value, in plain floats (numpy's per-call cost dominates there)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    d = 1.0 / (_CF_TINY if abs(d) < _CF_TINY else d)
    h = d
    for m in range(1, _CF_MAXIT):
        m2 = 2 * m
        for aa in (
            m * (b - m) * x / ((qam + m2) * (a + m2)),
            -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)),
        ):
            d = 1.0 + aa * d
            d = 1.0 / (_CF_TINY if abs(d) < _CF_TINY else d)
            c = 1.0 + aa / c
            c = _CF_TINY if abs(c) < _CF_TINY else c
            delta = d * c
            h *= delta
        if abs(delta - 1.0) <= _CF_EPS:
            break
    return h


def _log_gamma_ratio(a: float) -> float:
    """``log(Gamma(a + 1/2) / Gamma(a))``, without cancelling two large lgammas."""
    if a < 20.0:
        return math.lgamma(a + 0.5) - math.lgamma(a)
    r = 1.0 / a
    r2 = r * r
    return 0.5 * math.log(a) - r / 8.0 + r * r2 * (1 / 192 - r2 * (1 / 640 - r2 * 17 / 14336))


def _t_tail(t: np.ndarray, df: float) -> np.ndarray:
    """``P(T <= -|t|)`` for a finite 1-d ``t``: ``I_x(df/2, 1/2) / 2``, ``x = df / (df + t^2)``."""
    a, b = 0.5 * df, 0.5
    with np.errstate(divide="ignore", over="ignore", invalid="ignore", under="ignore"):
        t2 = np.square(t)
        # Beyond 1e150, t**2 would overflow: work with r = sqrt(df) / |t| instead.
        huge = np.abs(t) > 1e150
        r = np.sqrt(df) / np.abs(t)
        r2 = np.square(r)
        x = np.where(huge, r2 / (1.0 + r2), df / (df + t2))
        y = np.where(huge, 1.0 / (1.0 + r2), t2 / (df + t2))  # 1 - x without cancellation
        log_ratio = np.where(huge, np.log1p(r2) - 2.0 * np.log(r), np.log1p(t2 / df))
        front = np.exp(_log_gamma_ratio(a) - _LOG_SQRT_PI - a * log_ratio + b * np.log(y))
    direct = x < (a + 1.0) / (a + b + 2.0)
    ibeta = np.empty_like(t2)
    if direct.any():
        ibeta[direct] = front[direct] * _beta_cf(a, b, x[direct]) / a
    if not direct.all():
        flip = ~direct
        ibeta[flip] = 1.0 - front[flip] * _beta_cf(b, a, y[flip]) / b
    return 0.5 * ibeta


def t_cdf(t: np.ndarray | float, df: float) -> np.ndarray:
    """Student's t distribution function with ``df`` degrees of freedom, elementwise."""
    t = np.asarray(t, dtype=float)
    flat = t.ravel()
    tail = np.full(flat.shape, np.nan)
    if df > 0:
        finite = np.isfinite(flat)
        tail[finite] = _t_tail(flat[finite], float(df))
        tail[np.isinf(flat)] = 0.0
    shaped: np.ndarray = tail.reshape(t.shape)
    return np.where(t < 0, shaped, 1.0 - shaped)


def _t_log_pdf(t: float, df: float) -> float:
    return (
        _log_gamma_ratio(0.5 * df)
        - 0.5 * math.log(df * math.pi)
        - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )


@functools.lru_cache(maxsize=512)
def t_ppf(alpha: float, df: float) -> float:
    """Student's t quantile: the ``t`` with ``P(T <= t) = alpha`` (remembered: a run asks for
    the same few quantiles once per benchmark)."""
    if math.isnan(alpha) or df <= 0:
        return math.nan
    if alpha <= 0.0 or alpha >= 1.0:
        return -math.inf if alpha <= 0.0 else math.inf
    if alpha > 0.5:
        return -t_ppf(1.0 - alpha, df)
    if alpha == 0.5:
        return 0.0
    if df == 1:
        return -1.0 / math.tan(math.pi * alpha)
    if df == 2:
        return (2.0 * alpha - 1.0) / math.sqrt(2.0 * alpha * (1.0 - alpha))
    # Start: the normal quantile (Abramowitz & Stegun 26.2.23) with a Cornish-Fisher
    # correction; then Newton's method on log P(T <= t), kept inside a bracket.
    w = math.sqrt(-2.0 * math.log(alpha))
    z = -(
        w
        - (2.515517 + w * (0.802853 + w * 0.010328))
        / (1.0 + w * (1.432788 + w * (0.189269 + w * 0.001308)))
    )
    t = min(z + (z**3 + z) / (4.0 * df), -1e-3)
    lo, hi = -math.inf, 0.0
    log_alpha = math.log(alpha)
    for _ in range(500):
        f = float(_t_tail(np.array([t]), df)[0])
        if f == alpha:
            return t
        if f > alpha:
            hi = t
        else:
            lo = t
        new = math.nan
        if f > 0.0:
            log_f = math.log(f)
            new = t - (log_f - log_alpha) * math.exp(log_f - _t_log_pdf(t, df))
        if not lo < new < hi:
            new = 2.0 * hi - 1.0 if lo == -math.inf else 0.5 * (lo + hi)
        if abs(new - t) <= 1e-15 * abs(t):
            return new
        t = new
    return t
