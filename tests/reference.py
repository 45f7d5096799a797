"""Slow, straightforward oracles for :mod:`pybench.stats` (test-only).

Nothing here is vectorised over permutations: each sign vector is applied to
the difference matrix and the severity is recomputed from scratch with plain
numpy, exactly as SPEC §4 words it. The vectorised implementation in
``pybench.stats`` must agree with these loops; ``perf/perf_stats.py`` imports
this module (by path) to time the two against each other.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats as sps

from pybench.stats import TIE_RTOL

DEGENERATE_T = 1e9
RTOL = 1e-12


def _magnitude(diffs: np.ndarray, magnitude: np.ndarray | None) -> np.ndarray:
    """Each slot's largest ``|value|``: given, or the largest ``|difference|``."""
    return np.abs(diffs).max(axis=0) if magnitude is None else np.asarray(magnitude, float)


def t_stats_ref(
    diffs: np.ndarray, magnitude: np.ndarray | None = None, rtol: float = RTOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-slot ``(mean, sd, t)`` of an ``(n, K)`` matrix, degenerate rule included.

    Degenerate: ``sd`` below ``rtol`` times the slot's magnitude; ``t`` is then
    ``±1e9``, or ``0`` when ``|mean|`` is within the same tolerance of 0.
    """
    diffs = np.asarray(diffs, dtype=float)
    n, k = diffs.shape
    floor = rtol * _magnitude(diffs, magnitude)
    mean = diffs.mean(axis=0)
    sd = diffs.std(axis=0, ddof=1)
    t = np.empty(k)
    for j in range(k):
        if sd[j] < floor[j] or sd[j] == 0.0:
            t[j] = 0.0 if abs(mean[j]) <= floor[j] else math.copysign(DEGENERATE_T, mean[j])
        else:
            t[j] = mean[j] / (sd[j] / math.sqrt(n))
    return mean, sd, t


def severity_parts_ref(
    diffs: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
    magnitude: np.ndarray | None = None,
    judged: np.ndarray | None = None,
    rtol: float = RTOL,
) -> tuple[int, float]:
    """The severity split as ``(m, f)``: ``T = m * (1e9 + t_crit) + f``.

    ``m`` counts the degenerate slots that fall by a constant (``t = -1e9``) and
    pass the gate; ``f`` adds every other slot's ``max(0, t_crit - t)``. A slot
    passes the ``min_effect`` gate when it can be judged and its sum is below
    ``-n (min_effect * denom + rtol * magnitude)``.
    """
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[0]
    big = _magnitude(diffs, magnitude)
    _, _, t = t_stats_ref(diffs, big, rtol)
    m, f = 0, 0.0
    for j in range(t.size):
        if min_effect is not None and not (
            (judged is None or judged[j])
            and diffs[:, j].sum() < -n * (min_effect * denom[j] + rtol * big[j])
        ):
            continue
        if t[j] == -DEGENERATE_T:
            m += 1
        else:
            f += max(0.0, t_crit - t[j])
    return m, f


def severity_ref(
    diffs: np.ndarray, denom: np.ndarray, *, min_effect: float | None, t_crit: float, **kw
) -> float:
    """``T(D) = sum_k max(0, t_crit - t_k)`` over slots not gated out by ``min_effect``."""
    m, f = severity_parts_ref(diffs, denom, min_effect=min_effect, t_crit=t_crit, **kw)
    return m * (DEGENERATE_T + t_crit) + f


def sign_vectors_ref(n: int, n_perm: int, rng: np.random.Generator | None):
    """Yield the sign vectors of the null: all ``2**n`` or ``n_perm`` random ones."""
    if 2**n <= n_perm:
        for signs in itertools.product((1.0, -1.0), repeat=n):
            yield np.array(signs)
    else:
        assert rng is not None
        for _ in range(n_perm):
            yield np.where(rng.random(n) < 0.5, 1.0, -1.0)


def permuted_severities_ref(
    diffs: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
    n_perm: int,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """The severity of every sign-flipped matrix, one permutation at a time."""
    diffs = np.asarray(diffs, dtype=float)
    denom = np.asarray(denom, dtype=float)
    n = diffs.shape[0]
    big = _magnitude(diffs, None)
    return np.array(
        [
            severity_ref(
                s[:, None] * diffs, denom, min_effect=min_effect, t_crit=t_crit, magnitude=big
            )
            for s in sign_vectors_ref(n, n_perm, rng)
        ]
    )


def meta_p_ref(
    diffs: np.ndarray,
    denom: np.ndarray,
    observed: float,
    *,
    min_effect: float | None,
    t_crit: float,
    n_perm: int = 4096,
    rng: np.random.Generator | None = None,
    **kw,
) -> float:
    """Sign-flip meta p-value of the severity of ``diffs`` by a per-permutation loop.

    A flip counts when its severity is at least the observed one: more
    degenerate contributions, or as many and a finite part no more than
    ``TIE_RTOL * max(f_obs, 1)`` below the observed one. ``observed`` (the
    severity of ``diffs``) is not needed: the identity's split is recomputed
    here. No special case for a zero severity: every flip then counts.
    """
    del observed
    diffs = np.asarray(diffs, dtype=float)
    denom = np.asarray(denom, dtype=float)
    n = diffs.shape[0]
    kw.setdefault("magnitude", _magnitude(diffs, None))
    m_obs, f_obs = severity_parts_ref(diffs, denom, min_effect=min_effect, t_crit=t_crit, **kw)
    big = DEGENERATE_T + t_crit
    hits = 0
    total = 0
    for s in sign_vectors_ref(n, n_perm, rng):
        m, f = severity_parts_ref(
            s[:, None] * diffs, denom, min_effect=min_effect, t_crit=t_crit, **kw
        )
        hits += (m - m_obs) * big + (f - f_obs) >= -TIE_RTOL * max(f_obs, 1.0)
        total += 1
    if 2**n <= n_perm:
        return hits / total
    return (hits + 1) / (n_perm + 1)


def p_adj_ref(
    diffs: np.ndarray, *, n_perm: int = 4096, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Westfall-Young step-down max-T adjusted p-values of ``-t``, one permutation at a time.

    Slots are ordered by their observed ``-t``, largest first; for the ``j``-th
    the count is of flips whose largest ``-t`` among the slots from ``j`` on
    reaches the observed one (within ``TIE_RTOL * max(|t|, 1)``); the raw
    p-values are then made non-decreasing along that order.
    """
    diffs = np.asarray(diffs, dtype=float)
    n, k = diffs.shape
    big = _magnitude(diffs, None)
    stat = -t_stats_ref(diffs, big)[2]
    order = sorted(range(k), key=lambda j: -stat[j])
    counts = [0] * k
    total = 0
    for s in sign_vectors_ref(n, n_perm, rng):
        flipped = -t_stats_ref(s[:, None] * diffs, big)[2]
        for pos, j in enumerate(order):
            rest = max(flipped[i] for i in order[pos:])
            counts[pos] += rest >= stat[j] - TIE_RTOL * max(abs(stat[j]), 1.0)
        total += 1
    exact = 2**n <= n_perm
    raw = [c / total if exact else (c + 1) / (total + 1) for c in counts]
    adjusted = np.empty(k)
    running = 0.0
    for pos, j in enumerate(order):
        running = max(running, raw[pos])
        adjusted[j] = min(running, 1.0)
    return adjusted


def slot_sign_flip_p_ref(
    diffs: np.ndarray, *, n_perm: int = 4096, rng: np.random.Generator | None = None
) -> np.ndarray:
    """Each slot's own (unadjusted) sign-flip p-value of ``-t``."""
    diffs = np.asarray(diffs, dtype=float)
    n, k = diffs.shape
    big = _magnitude(diffs, None)
    stat = -t_stats_ref(diffs, big)[2]
    counts = np.zeros(k)
    total = 0
    for s in sign_vectors_ref(n, n_perm, rng):
        flipped = -t_stats_ref(s[:, None] * diffs, big)[2]
        counts += flipped >= stat - TIE_RTOL * np.maximum(np.abs(stat), 1.0)
        total += 1
    return counts / total if 2**n <= n_perm else (counts + 1) / (total + 1)


def compare_ref(
    baseline: Mapping[int, Mapping[str, Sequence[float]]],
    current: Mapping[int, Mapping[str, Sequence[float]]],
    *,
    alpha: float,
    min_effect: float | None,
) -> list[dict]:
    """Per-slot rows of SPEC §4 items 1-5, computed slot by slot with the stdlib.

    Rows are sorted by ``(step, metric)``; each has ``mean_diff``, ``t``,
    ``p``, ``effect``, ``reliable``, ``flagged`` and the four summary values.
    """
    rows = []
    for step in sorted(baseline):
        for metric in sorted(baseline[step]):
            b = [float(v) for v in baseline[step][metric]]
            c = [float(v) for v in current[step][metric]]
            n = len(b)
            sign = -1.0 if metric.startswith("min:") else 1.0
            big = max(abs(v) for v in b + c)
            d = [sign * (ci - bi) for bi, ci in zip(b, c, strict=True)]
            d = [0.0 if abs(v) <= RTOL * big else v for v in d]  # rounding ties
            mean = statistics.fmean(d)
            sd = statistics.stdev(d)
            if sd < RTOL * big or sd == 0.0:
                t = 0.0 if abs(mean) <= RTOL * big else math.copysign(DEGENERATE_T, mean)
                p = 0.0 if t < 0 else 1.0
            else:
                t = mean / (sd / math.sqrt(n))
                p = float(sps.t.cdf(t, n - 1))
            base_good = sign * statistics.fmean(b)
            denom = max(abs(base_good), RTOL * big) or 1.0
            effect = mean / denom
            # Fieller's interval is bounded: the baseline mean is distinguishable from 0.
            sd_b = statistics.stdev(b)
            reliable = abs(base_good) * math.sqrt(n) > float(sps.t.ppf(1 - alpha / 2, n - 1)) * sd_b
            t_crit = float(sps.t.ppf(alpha, n - 1))
            past = mean < -(min_effect * denom + RTOL * big) if min_effect is not None else True
            flagged = t < t_crit and (min_effect is None or (reliable and past))
            rows.append(
                {
                    "step": step,
                    "metric": metric,
                    "baseline_mean": statistics.fmean(b),
                    "baseline_std": statistics.stdev(b),
                    "current_mean": statistics.fmean(c),
                    "current_std": statistics.stdev(c),
                    "mean_diff": mean,
                    "t": t,
                    "p": p,
                    "effect": effect,
                    "reliable": reliable,
                    "flagged": flagged,
                }
            )
    return rows
