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

from ._tdist import t_cdf, t_ppf

__all__ = [
    "DEGENERATE_SD",
    "DEGENERATE_T",
    "N_PERM",
    "Comparison",
    "SlotResult",
    "compare",
    "compare_scores",
    "effect_denominators",
    "goodness_sign",
    "min_seeds",
    "reachable",
    "slot_t_stats",
    "smallest_meta_p",
    "t_critical",
]

N_PERM = 4096
"""Default sign-flip budget: exact enumeration when ``2**n`` is no more, else Monte-Carlo."""

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


def t_critical(alpha: float, n: int) -> float:
    """Return the one-sided critical t value ``t.ppf(alpha, n - 1)`` (negative)."""
    return t_ppf(alpha, n - 1)


def smallest_meta_p(n: int) -> float:
    """The smallest meta p-value the sign-flip test can return with ``n`` seeds: ``1 / 2**n``."""
    return 1.0 / 2**n


def reachable(alpha: float, n: int) -> bool:
    """Whether a meta p-value below ``alpha`` can occur with ``n`` seeds: ``2**n > 1/alpha``."""
    return 2**n > 1.0 / alpha


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
    n_perm: int = N_PERM,
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
"""``{step: {metric: [value per seed]}}``, the baseline file's shape."""


def compare(
    baseline: np.ndarray,
    current: np.ndarray,
    slots: Sequence[tuple[int, str]],
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int = N_PERM,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare paired per-seed scores and decide PASS or FAIL.

    Args:
        baseline: ``(n_seeds, K)`` raw metric values of the baseline, one row per seed.
        current: the same shape for the current run, rows aligned seed for seed.
        slots: the ``(step, metric)`` of each column; a metric named ``min:...``
            is lower-is-better, every other higher-is-better.
        alpha: significance level of each slot's test and of the verdict.
        min_effect: a slot is flagged only if its relative goodness change is
            below ``-min_effect``; ``None`` disables the gate.
        n_perm: the sign-flip permutation budget.
        rng: generator for the Monte-Carlo null (default: seeded with 0, so a
            verdict is reproducible).

    Returns:
        A :class:`Comparison` whose slot rows follow the column order.

    Raises:
        ValueError: if the shapes differ, do not match ``slots``, or fewer than
            two seeds are given.
    """
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if base.ndim != 2 or base.shape != cur.shape:
        raise ValueError("baseline and current scores have different shapes")
    if base.shape[1] != len(slots):
        raise ValueError("the score matrices do not have one column per slot")
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
        diffs.std(axis=0, ddof=1) < DEGENERATE_SD, np.where(mean < 0, 0.0, 1.0), t_cdf(t, n - 1)
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
            step=int(step),
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


def compare_scores(
    baseline: Scores,
    current: Scores,
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int = N_PERM,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """:func:`compare` for scores in the baseline file's ``{step: {metric: [values]}}`` shape.

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
    return compare(base, cur, slots, alpha=alpha, min_effect=min_effect, n_perm=n_perm, rng=rng)


def _slot_matrix(scores: Scores, slots: list[tuple[int, str]]) -> np.ndarray:
    return np.array([scores[step][metric] for step, metric in slots], dtype=float).T
