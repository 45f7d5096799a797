"""Statistics: paired per-slot t-tests, the severity statistic and its sign-flip null.

Everything here is a pure function of numpy arrays: no I/O, no terminal, no
environment. The definitions follow the specification exactly:

* per slot ``k`` the one-sided paired t statistic of the goodness differences,
  with degenerate (zero-variance) slots mapped to ``-1e9``, ``0`` or ``+1e9``;
* the severity ``T(D) = sum_k max(0, t_crit - t_k)`` over slots not gated out
  by ``min_effect``;
* the meta p-value of ``T`` under within-seed sign flips (one sign per seed
  row), by exact enumeration when ``2**n <= n_perm`` and by Monte-Carlo
  otherwise.

The sign-flip null is vectorised: flipping the signs of whole rows leaves each
column's sum of squares unchanged, so for a batch of sign vectors ``S`` the
permuted means are ``S @ D / n`` and the permuted variances follow from the
fixed sums of squares. Entries where that shortcut loses precision (a permuted
column that is nearly constant) are recomputed directly.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEGENERATE_SD",
    "DEGENERATE_T",
    "Comparison",
    "SlotResult",
    "compare",
    "effect_denominators",
    "min_seeds",
    "slot_t_stats",
    "t_critical",
]

DEGENERATE_SD = 1e-12
"""A slot whose difference standard deviation is below this is degenerate."""

DEGENERATE_T = 1e9
"""The magnitude of a degenerate slot's t statistic."""

EFFECT_FLOOR = 1e-9
"""Smallest effect denominator; baselines below it make the effect unreliable."""

TIE_RTOL = 1e-10
"""Relative tolerance when counting permuted severities ``>=`` the observed one.

Float rounding can make a permutation that is mathematically tied with the
observed statistic (the identity, above all) land a hair below it; counting it
as tied is the conservative choice.
"""

_BATCH_BYTES = 4 * 2**20
"""Target size of one ``(P, K)`` float64 work array in the sign-flip null."""

_RECHECK_RATIO = 1e-2
"""Recompute a permuted variance directly when it is below this fraction of its scale.

The shortcut ``(SS - n m^2) / (n - 1)`` carries an absolute error of a few
``n * eps * SS``; above this ratio its relative error stays far below
``TIE_RTOL`` (so ties, the identity above all, are still counted), and below it
the entry is recomputed the straightforward way (rare: only nearly constant
permuted columns).
"""


# -- Student's t distribution -------------------------------------------------------
# Computed here rather than with scipy.special.stdtr/stdtrit: importing scipy.special
# (with scipy 1.17 its array-API layer touches every numpy submodule, numpy.f2py and
# numpy.testing included) costs about as much as the rest of a `pybench` run's start-up.
# The distribution function is the regularized incomplete beta function by its
# continued fraction, accurate to ~1e-13 relative (tails included) for up to
# thousands of degrees of freedom; tests/test_stats.py checks it against scipy.

_CF_TINY = 1e-300
_CF_EPS = 1e-15
_CF_MAXIT = 10_000
_LOG_SQRT_PI = 0.5 * math.log(math.pi)


def _beta_cf(a: float, b: float, x: np.ndarray) -> np.ndarray:
    """Continued fraction of the regularized incomplete beta ``I_x(a, b)`` (modified Lentz).

    Converges quickly for ``x < (a + 1) / (a + b + 2)``; each element stops as
    soon as its own fraction has converged.
    """
    out = np.empty_like(x)
    if x.size == 0:
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
    t2 = np.square(t)
    with np.errstate(divide="ignore", over="ignore"):
        x = df / (df + t2)
        y = t2 / (df + t2)  # 1 - x without cancellation
        front = np.exp(_log_gamma_ratio(a) - _LOG_SQRT_PI - a * np.log1p(t2 / df) + b * np.log(y))
    direct = x < (a + 1.0) / (a + b + 2.0)
    ibeta = np.empty_like(t2)
    if direct.any():
        ibeta[direct] = front[direct] * _beta_cf(a, b, x[direct]) / a
    if not direct.all():
        flip = ~direct
        ibeta[flip] = 1.0 - front[flip] * _beta_cf(b, a, y[flip]) / b
    return 0.5 * ibeta


def _t_cdf(t: np.ndarray | float, df: float) -> np.ndarray:
    """Student's t distribution function with ``df`` degrees of freedom, elementwise."""
    t = np.asarray(t, dtype=float)
    flat = t.ravel()
    tail = np.full(flat.shape, np.nan)
    if df > 0:
        finite = np.isfinite(flat)
        tail[finite] = _t_tail(flat[finite], float(df))
        tail[np.isinf(flat)] = 0.0
    tail = tail.reshape(t.shape)
    return np.where(t < 0, tail, 1.0 - tail)


def _t_log_pdf(t: float, df: float) -> float:
    return (
        _log_gamma_ratio(0.5 * df)
        - 0.5 * math.log(df * math.pi)
        - 0.5 * (df + 1.0) * math.log1p(t * t / df)
    )


def _t_ppf(alpha: float, df: float) -> float:
    """Student's t quantile: the ``t`` with ``P(T <= t) = alpha``."""
    if math.isnan(alpha) or df <= 0:
        return math.nan
    if alpha <= 0.0 or alpha >= 1.0:
        return -math.inf if alpha <= 0.0 else math.inf
    if alpha > 0.5:
        return -_t_ppf(1.0 - alpha, df)
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


def t_critical(alpha: float, n: int) -> float:
    """Return the one-sided critical t value ``t.ppf(alpha, n - 1)`` (negative)."""
    return _t_ppf(alpha, n - 1)


def min_seeds(alpha: float) -> int:
    """Return the fewest seeds for which a sign-flip meta p-value can fall below ``alpha``.

    The smallest attainable meta p-value is ``1 / 2**n``; ``n`` must satisfy
    ``2**n > 1 / alpha``.
    """
    n = max(2, math.floor(math.log2(1.0 / alpha)) + 1)
    # log2 rounds to an integer when 1/alpha is a hair below a power of two; settle
    # ``n`` against the exact criterion.
    while n > 2 and 2 ** (n - 1) > 1.0 / alpha:
        n -= 1
    while 2**n <= 1.0 / alpha:
        n += 1
    return n


def _t_from_moments(mean: np.ndarray, sd: np.ndarray, n: int) -> np.ndarray:
    """Per-slot t statistics from means and standard deviations (same shapes)."""
    degenerate = sd < DEGENERATE_SD
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(n))
    return np.where(degenerate, np.sign(mean) * DEGENERATE_T, t)


def slot_t_stats(diffs: np.ndarray) -> np.ndarray:
    """Return the ``(K,)`` paired t statistics of an ``(n, K)`` difference matrix."""
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[0]
    return _t_from_moments(diffs.mean(axis=0), diffs.std(axis=0, ddof=1), n)


def _contributions(
    t: np.ndarray,
    mean: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
) -> np.ndarray:
    """Per-slot severity contributions ``max(0, t_crit - t)``, gated by ``min_effect``."""
    contrib = np.maximum(0.0, t_crit - t)
    if min_effect is not None:
        contrib = np.where(mean / denom < -min_effect, contrib, 0.0)
    return contrib


def _severity(
    diffs: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
) -> float:
    """Severity ``T(D) = sum_k max(0, t_crit - t_k)`` of a difference matrix.

    Args:
        diffs: ``(n, K)`` goodness differences (current minus baseline).
        denom: ``(K,)`` effect denominators (see :func:`effect_denominators`).
        min_effect: a slot contributes only when its relative change is below
            ``-min_effect``; ``None`` disables the gate.
        t_crit: the one-sided critical t value (negative).

    Returns:
        The severity, ``>= 0``.
    """
    diffs = np.asarray(diffs, dtype=float)
    t = slot_t_stats(diffs)
    contrib = _contributions(
        t, diffs.mean(axis=0), np.asarray(denom, float), min_effect=min_effect, t_crit=t_crit
    )
    return float(contrib.sum())


def _sign_batches(n: int, n_perm: int, rng: np.random.Generator, batch: int):
    """Yield ``(P, n)`` float arrays of signs; all ``2**n`` vectors when ``2**n <= n_perm``.

    Monte-Carlo signs are drawn as ``rng.random(n) < 0.5`` per permutation, in
    order, so the stream does not depend on the batch size.
    """
    if 2**n <= n_perm:
        bits = np.arange(n, dtype=np.int64)
        for start in range(0, 2**n, batch):
            idx = np.arange(start, min(start + batch, 2**n), dtype=np.int64)
            yield 1.0 - 2.0 * ((idx[:, None] >> bits) & 1)
    else:
        for start in range(0, n_perm, batch):
            size = min(batch, n_perm - start)
            yield np.where(rng.random((size, n)) < 0.5, 1.0, -1.0)


def _permuted_severity(
    signs: np.ndarray,
    diffs: np.ndarray,
    sum_sq: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
) -> np.ndarray:
    """Severity of ``signs[p, :, None] * diffs`` for every row ``p`` of ``signs``.

    With the permuted column sums ``S = signs @ diffs`` and the fixed sums of
    squares ``SS``, ``q = n * SS - S**2`` is ``n (n - 1)`` times the permuted
    variance and ``t = S * sqrt(n - 1) / sqrt(q)``; the work stays in a few
    in-place passes over the ``(P, K)`` batch.
    """
    n = diffs.shape[0]
    total = signs @ diffs
    q = np.multiply(total, total)
    scale = n * sum_sq
    np.subtract(scale, q, out=q)
    # The shortcut cancels badly when a permuted column is (nearly) constant; redo
    # those few entries the straightforward way.
    shaky = np.nonzero(q < _RECHECK_RATIO * scale)
    if shaky[0].size:
        p_idx, k_idx = shaky
        for lo in range(0, p_idx.size, 4096):
            p, k = p_idx[lo : lo + 4096], k_idx[lo : lo + 4096]
            x = signs[p] * diffs[:, k].T
            total[p, k] = n * x.mean(axis=1)
            q[p, k] = n * (n - 1) * x.var(axis=1, ddof=1)
    degenerate = q < n * (n - 1) * DEGENERATE_SD**2
    np.sqrt(q, out=q)
    with np.errstate(divide="ignore", invalid="ignore"):
        contrib = np.divide(total, q, out=q)
    np.multiply(contrib, math.sqrt(n - 1), out=contrib)
    if degenerate.any():
        contrib[degenerate] = np.sign(total[degenerate]) * DEGENERATE_T
    np.subtract(t_crit, contrib, out=contrib)
    np.maximum(contrib, 0.0, out=contrib)
    if min_effect is not None:
        contrib[total >= -min_effect * n * denom] = 0.0
    return contrib.sum(axis=1)


def _sign_flip_meta_p(
    diffs: np.ndarray,
    denom: np.ndarray,
    observed: float,
    *,
    min_effect: float | None,
    t_crit: float,
    n_perm: int = 4096,
    rng: np.random.Generator | None = None,
) -> float:
    """Meta p-value of the observed severity under within-seed sign flips.

    Each seed's whole row of differences is flipped with one sign, which keeps
    every correlation between slots. With ``2**n <= n_perm`` all ``2**n`` sign
    vectors are enumerated (the identity among them) and the p-value is
    ``#{T >= observed} / 2**n``; otherwise ``n_perm`` random sign vectors give
    ``(#{T >= observed} + 1) / (n_perm + 1)``.

    Args:
        diffs: ``(n, K)`` goodness differences.
        denom: ``(K,)`` effect denominators.
        observed: the severity of ``diffs`` itself (:func:`_severity`).
        min_effect: the effect gate, or ``None``.
        t_crit: the one-sided critical t value.
        n_perm: the permutation budget.
        rng: generator for the Monte-Carlo path (unused when exact).

    Returns:
        The meta p-value in ``(0, 1]``; exactly ``1.0`` when ``observed == 0``.
    """
    if observed <= 0.0:
        return 1.0
    diffs = np.asarray(diffs, dtype=float)
    denom = np.asarray(denom, dtype=float)
    n, k = diffs.shape
    if rng is None:
        rng = np.random.default_rng(0)
    sum_sq = np.einsum("ij,ij->j", diffs, diffs)
    batch = max(1, min(65536, _BATCH_BYTES // (8 * max(k, 1))))
    threshold = observed - TIE_RTOL * abs(observed)
    hits = 0
    total = 0
    for signs in _sign_batches(n, n_perm, rng, batch):
        sev = _permuted_severity(signs, diffs, sum_sq, denom, min_effect=min_effect, t_crit=t_crit)
        hits += int(np.count_nonzero(sev >= threshold))
        total += signs.shape[0]
    if 2**n <= n_perm:
        return hits / total
    return (hits + 1) / (n_perm + 1)


def effect_denominators(baseline_goodness: np.ndarray) -> np.ndarray:
    """``max(|mean baseline goodness|, 1e-9)`` per slot of an ``(n, K)`` matrix."""
    return np.maximum(np.abs(np.asarray(baseline_goodness, float).mean(axis=0)), EFFECT_FLOOR)


def goodness_sign(metric: str) -> float:
    """``-1`` for lower-is-better (``min:``) metrics, ``+1`` otherwise."""
    return -1.0 if metric.startswith("min:") else 1.0


@dataclass(frozen=True)
class SlotResult:
    """The comparison of one ``(step, metric)`` slot."""

    step: int
    metric: str
    baseline_mean: float
    baseline_std: float
    current_mean: float
    current_std: float
    effect_size: float
    effect_reliable: bool
    t_stat: float
    p_value: float
    flagged: bool


@dataclass(frozen=True)
class Comparison:
    """The verdict on one benchmark: per-slot rows and the sign-flip meta test."""

    slots: list[SlotResult]
    n_flagged: int
    severity: float
    meta_p: float
    alpha: float
    t_crit: float
    passed: bool


Scores = Mapping[int, Mapping[str, Sequence[float]]]


def _slot_matrix(scores: Scores, slots: list[tuple[int, str]]) -> np.ndarray:
    return np.array([scores[step][metric] for step, metric in slots], dtype=float).T


def compare(
    baseline: Scores,
    current: Scores,
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int = 4096,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare paired per-seed scores and decide PASS or FAIL.

    Args:
        baseline: ``{step: {metric: [value per seed]}}`` of the baseline.
        current: the same shape for the current run, seeds aligned with
            ``baseline`` and the same slots.
        alpha: significance level of each slot's test and of the verdict.
        min_effect: a slot is flagged only if its relative goodness change is
            below ``-min_effect``; ``None`` disables the gate.
        n_perm: the sign-flip permutation budget.
        rng: generator for the Monte-Carlo null (default: seeded with 0, so a
            verdict is reproducible).

    Returns:
        A :class:`Comparison`.

    Raises:
        ValueError: if the slots or seed counts of the two score sets differ,
            or fewer than two seeds are given.
    """
    slots = sorted((int(step), metric) for step, metrics in baseline.items() for metric in metrics)
    current_slots = sorted(
        (int(step), metric) for step, metrics in current.items() for metric in metrics
    )
    if slots != current_slots:
        raise ValueError("baseline and current scores have different slots")
    base = _slot_matrix({int(s): m for s, m in baseline.items()}, slots)
    cur = _slot_matrix({int(s): m for s, m in current.items()}, slots)
    if base.shape != cur.shape:
        raise ValueError("baseline and current scores have different numbers of seeds")
    n = base.shape[0]
    if n < 2:
        raise ValueError("a comparison needs at least two seeds")

    sign = np.array([goodness_sign(metric) for _, metric in slots])
    base_good, cur_good = base * sign, cur * sign
    diffs = cur_good - base_good
    denom = effect_denominators(base_good)
    t_crit = t_critical(alpha, n)

    mean = diffs.mean(axis=0)
    t = slot_t_stats(diffs)
    p = np.where(
        diffs.std(axis=0, ddof=1) < DEGENERATE_SD, np.where(mean < 0, 0.0, 1.0), _t_cdf(t, n - 1)
    )
    effect = mean / denom
    flagged = t < t_crit
    if min_effect is not None:
        flagged &= effect < -min_effect
    severity = _severity(diffs, denom, min_effect=min_effect, t_crit=t_crit)
    meta_p = _sign_flip_meta_p(
        diffs, denom, severity, min_effect=min_effect, t_crit=t_crit, n_perm=n_perm, rng=rng
    )
    base_mean, cur_mean = base.mean(axis=0), cur.mean(axis=0)
    base_std, cur_std = base.std(axis=0, ddof=1), cur.std(axis=0, ddof=1)
    reliable = np.abs(base_good.mean(axis=0)) >= EFFECT_FLOOR
    rows = [
        SlotResult(
            step=step,
            metric=metric,
            baseline_mean=float(base_mean[i]),
            baseline_std=float(base_std[i]),
            current_mean=float(cur_mean[i]),
            current_std=float(cur_std[i]),
            effect_size=float(effect[i]),
            effect_reliable=bool(reliable[i]),
            t_stat=float(t[i]),
            p_value=float(p[i]),
            flagged=bool(flagged[i]),
        )
        for i, (step, metric) in enumerate(slots)
    ]
    return Comparison(
        slots=rows,
        n_flagged=int(flagged.sum()),
        severity=severity,
        meta_p=meta_p,
        alpha=alpha,
        t_crit=t_crit,
        passed=not meta_p < alpha,
    )
