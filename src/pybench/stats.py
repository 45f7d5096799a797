"""Statistics: paired per-slot t-tests, the severity statistic and its sign-flip null.

Everything here is a pure function of numpy arrays: no I/O, no terminal, no
environment. The definitions follow the specification exactly:

* per slot ``k`` the one-sided paired t statistic of the goodness differences,
  with degenerate (zero-variance) slots mapped to ``-1e9``, ``0`` or ``+1e9``;
* the severity ``T(D) = sum_k max(0, t_crit - t_k)`` over slots not gated out
  by ``min_effect``;
* the meta p-value of ``T`` under within-seed sign flips (one sign per seed
  row), by exact enumeration when ``2**n <= n_perm`` and by Monte-Carlo
  otherwise; the flip budget grows with ``1/alpha`` (:func:`n_permutations`),
  so the smallest attainable meta p-value is always well below ``alpha``.

Beyond the verdict, the same sign vectors give, in the same pass:

* a Westfall–Young step-down max-T adjusted p-value per slot (``p_adj``): the
  probability of marking any unchanged slot stays at most ``alpha`` however
  the slots are correlated;
* the improvement test: the severity and meta p-value of the mirrored
  differences ``-D``.

and each slot gets a two-sided paired-t confidence interval (:func:`paired_intervals`).
:func:`t_test_power`, :func:`detectable_effect`, :func:`seeds_needed` and
:func:`power_plan` answer the planning question (how many seeds, which drop).

The sign-flip null is vectorised: flipping the signs of whole rows leaves each
column's sum of squares unchanged, so for a batch of sign vectors ``S`` the
permuted means are ``S @ D / n`` and the permuted variances follow from the
fixed sums of squares. Entries where that shortcut loses precision (a permuted
column that is nearly constant) are recomputed directly. The observed
statistics are those of the identity sign vector computed by the same code,
so the identity always ties with itself.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ._signflip import (
    DEGENERATE_T,
    TIE_RTOL,
    Prepared,
    exact_flip_t,
    is_exact,
    severity_parts,
    sign_batches,
    sign_flip_null,
)
from ._tdist import t_cdf, t_ppf

_sign_batches = sign_batches
"""The engine's sign-vector batches (tests walk them)."""

__all__ = [
    "DEGENERATE_SD",
    "DEGENERATE_T",
    "FLIPS_PER_ALPHA",
    "MAX_PERM",
    "N_PERM",
    "PLAN_MAX_SEEDS",
    "Comparison",
    "SlotPlan",
    "SlotResult",
    "TIE_RTOL",
    "affordable",
    "compare",
    "compare_scores",
    "detectable_effect",
    "effect_denominators",
    "goodness_sign",
    "is_exact",
    "min_seeds",
    "n_permutations",
    "paired_intervals",
    "power_plan",
    "reachable",
    "seeds_needed",
    "slot_t_stats",
    "smallest_meta_p",
    "t_critical",
    "t_test_power",
]

N_PERM = 4096
"""The least sign-flip budget: exact enumeration when ``2**n`` is no more, else Monte-Carlo."""

FLIPS_PER_ALPHA = 20
"""The budget is at least ``FLIPS_PER_ALPHA / alpha`` flips (:func:`n_permutations`)."""

MAX_PERM = 100_000_000
"""The largest budget pybench accepts; a smaller ``alpha`` is refused (:func:`affordable`)."""

PLAN_MAX_SEEDS = 1000
""":func:`seeds_needed` looks no further than this many seeds."""

DEGENERATE_SD = 1e-12
"""A slot whose difference standard deviation is below this is degenerate."""

EFFECT_FLOOR = 1e-9
"""Smallest effect denominator; baselines below it make the effect unreliable."""

_SAFE_EXPONENT = 400
"""Columns with values beyond ``2**400`` are scaled by a power of two below it.

t statistics and relative effects do not change when a column is scaled, and
a power of two scales exactly; without it sums of squares of values near the
float maximum (1.8e308) overflow and the statistics become NaN.
"""


# -- budgets and reachability ------------------------------------------------------------
def n_permutations(alpha: float) -> int:
    """The sign-flip budget for ``alpha``: ``max(4096, ceil(20 / alpha))``.

    With ``2**n`` at most this many sign vectors all are enumerated (exact);
    otherwise this many are drawn, and the smallest Monte-Carlo p-value
    ``1 / (budget + 1)`` is below ``alpha / 20``.
    """
    return max(N_PERM, math.ceil(FLIPS_PER_ALPHA / alpha))


def smallest_meta_p(n: int, n_perm: int = N_PERM) -> float:
    """The smallest meta p-value of ``n`` seeds under budget ``n_perm``.

    ``1 / 2**n`` when enumerated, ``1 / (n_perm + 1)`` by Monte-Carlo.
    """
    return 1.0 / 2**n if is_exact(n, n_perm) else 1.0 / (n_perm + 1)


def reachable(alpha: float, n: int) -> bool:
    """Whether a meta p-value below ``alpha`` can occur with ``n`` seeds: ``2**n > 1/alpha``.

    On the Monte-Carlo path the budget :func:`n_permutations` makes the
    smallest p-value at most ``alpha / 20``, so only enumeration can be out of
    reach, and enumeration is used exactly when ``2**n <= budget``: with
    ``2**n <= 1/alpha`` that is always the case.
    """
    return 2**n > 1.0 / alpha


def affordable(alpha: float) -> bool:
    """Whether ``alpha``'s sign-flip budget is at most :data:`MAX_PERM` (``alpha >= 2e-7``)."""
    return n_permutations(alpha) <= MAX_PERM


def min_seeds(alpha: float) -> int:
    """Return the fewest seeds for which a sign-flip meta p-value can fall below ``alpha``.

    The smallest attainable meta p-value is ``1 / 2**n`` while the sign vectors
    are enumerated; ``n`` must satisfy ``2**n > 1 / alpha``.
    """
    n = max(2, math.floor(math.log2(1.0 / alpha)) + 1)
    # log2 rounds to an integer when 1/alpha is a hair below a power of two; settle
    # ``n`` against the exact criterion.
    while n > 2 and 2 ** (n - 1) > 1.0 / alpha:
        n -= 1
    while 2**n <= 1.0 / alpha:
        n += 1
    return n


@functools.lru_cache(maxsize=1024)
def t_critical(alpha: float, n: int) -> float:
    """Return the one-sided critical t value ``t.ppf(alpha, n - 1)`` (negative).

    Cached: a run asks for the same few ``(alpha, n)`` again and again (once per
    comparison, per look, per Monte-Carlo replication), and the quantile takes
    a root search.
    """
    return t_ppf(alpha, n - 1)


# -- per-slot statistics -------------------------------------------------------------------
def slot_t_stats(diffs: np.ndarray) -> np.ndarray:
    """Return the ``(K,)`` paired t statistics of an ``(n, K)`` difference matrix.

    Computed straightforwardly from the column means and standard deviations;
    :func:`compare` reports the identity's t from the sign-flip code instead
    (the same numbers up to rounding).
    """
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[0]
    mean, sd = diffs.mean(axis=0), diffs.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(n))
    return np.where(sd < DEGENERATE_SD, np.sign(mean) * DEGENERATE_T, t)


def paired_intervals(diffs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` paired-t confidence intervals of each column's mean.

    ``mean ± t_{1-alpha/2, n-1} * sd / sqrt(n)`` per column of an ``(n, K)``
    matrix; a constant column gets the zero-width interval at its value.

    Returns:
        ``(low, high)``, two ``(K,)`` arrays.
    """
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[0]
    scale = _column_scale(diffs)
    scaled = diffs * scale
    mean, sd = scaled.mean(axis=0), scaled.std(axis=0, ddof=1)
    half = -t_ppf(alpha / 2.0, n - 1) * sd / math.sqrt(n)
    with np.errstate(over="ignore"):
        return (mean - half) / scale, (mean + half) / scale


def effect_denominators(baseline_goodness: np.ndarray) -> np.ndarray:
    """``max(|mean baseline goodness|, 1e-9)`` per slot of an ``(n, K)`` matrix."""
    base = np.asarray(baseline_goodness, float)
    scale = _column_scale(base)
    with np.errstate(over="ignore"):
        return np.maximum(np.abs((base * scale).mean(axis=0)) / scale, EFFECT_FLOOR)


def goodness_sign(metric: str) -> float:
    """``-1`` for lower-is-better (``min:``) metrics, ``+1`` otherwise."""
    return -1.0 if metric.startswith("min:") else 1.0


def _column_scale(*matrices: np.ndarray) -> np.ndarray:
    """Per-column powers of two that bring every column's largest magnitude below ``2**400``.

    ``1`` for every ordinary column, so ordinary data are computed unscaled.
    """
    k = matrices[0].shape[1]
    big = np.zeros(k)
    for matrix in matrices:
        if matrix.shape[0]:
            big = np.maximum(big, np.abs(matrix).max(axis=0))
    scale = np.ones(k)
    huge = big > 2.0**_SAFE_EXPONENT
    if huge.any():
        _, exponent = np.frexp(big[huge])
        scale[huge] = np.ldexp(1.0, _SAFE_EXPONENT - exponent)
    return scale


# -- the sign-flip null ----------------------------------------------------------------------
def _prepare(
    diffs: np.ndarray, denom: np.ndarray, min_effect: float | None, scale: np.ndarray | None = None
) -> Prepared:
    """Scale ``diffs`` (unless ``scale`` says it already is) and precompute the thresholds.

    ``scale`` is the per-column factor ``diffs`` and ``denom`` were multiplied by.
    """
    diffs = np.asarray(diffs, dtype=float)
    denom = np.asarray(denom, dtype=float)
    if not (np.isfinite(diffs).all() and np.isfinite(denom).all()):
        raise ValueError("the differences and effect denominators must be finite")
    if scale is None:
        scale = _column_scale(diffs)
        diffs, denom = diffs * scale, denom * scale
    n = diffs.shape[0]
    sd_floor = DEGENERATE_SD * scale
    # A floor that underflows (columns scaled from near the float maximum) still
    # marks an exactly constant column degenerate.
    var_floor = np.maximum(n * (n - 1) * sd_floor**2, np.nextafter(0.0, 1.0))
    gate = None if min_effect is None else min_effect * n * denom
    sum_sq = np.einsum("ij,ij->j", diffs, diffs)
    return Prepared(diffs, sum_sq, var_floor, np.zeros(diffs.shape[1]), gate)


def _total(parts: tuple[int, float], big: float) -> float:
    m, f = parts
    return float(m * big + f) if m else float(f)


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

    ``sum_sq`` is accepted for compatibility and recomputed (it is fixed by ``diffs``).
    """
    del sum_sq
    data = _prepare(diffs, denom, min_effect)
    t, total, _ = exact_flip_t(signs, data)
    m, f = severity_parts(t, total, data.gate, t_crit, mirror=False)
    return m * (DEGENERATE_T + t_crit) + f


def _severity(
    diffs: np.ndarray,
    denom: np.ndarray,
    *,
    min_effect: float | None,
    t_crit: float,
) -> float:
    """Severity ``T(D) = sum_k max(0, t_crit - t_k)`` of a difference matrix.

    Computed by the sign-flip code on the identity, so it is the very number the
    flips are compared with.

    Args:
        diffs: ``(n, K)`` goodness differences (current minus baseline).
        denom: ``(K,)`` effect denominators (see :func:`effect_denominators`).
        min_effect: a slot contributes only when its relative change is below
            ``-min_effect`` (its sum below ``-min_effect * n * denom``); ``None``
            disables the gate.
        t_crit: the one-sided critical t value (negative).

    Returns:
        The severity, ``>= 0``.
    """
    data = _prepare(diffs, denom, min_effect)
    t, total, _ = exact_flip_t(np.ones((1, data.diffs.shape[0])), data)
    m, f = severity_parts(t, total, data.gate, t_crit, mirror=False)
    return _total((int(m[0]), float(f[0])), DEGENERATE_T + t_crit)


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
    ``#{T >= T(D)} / 2**n``; otherwise ``n_perm`` random sign vectors give
    ``(#{T >= T(D)} + 1) / (n_perm + 1)``. A permuted severity counts as tied
    when it has as many degenerate contributions and a finite part within
    ``TIE_RTOL`` (relative, at least 1) of the observed one.

    Args:
        diffs: ``(n, K)`` goodness differences.
        denom: ``(K,)`` effect denominators.
        observed: the severity of ``diffs`` itself (:func:`_severity`). Only
            ``observed <= 0`` is read (it gives exactly 1); the flips are
            compared with the identity's severity computed alongside them, which
            is ``observed`` in the same arithmetic.
        min_effect: the effect gate, or ``None``.
        t_crit: the one-sided critical t value.
        n_perm: the permutation budget.
        rng: generator for the Monte-Carlo path (unused when exact).

    Returns:
        The meta p-value in ``(0, 1]``: at least ``1 / 2**n`` when exact and
        ``1 / (n_perm + 1)`` otherwise; exactly ``1.0`` when ``observed <= 0``.
    """
    if observed <= 0.0:
        return 1.0
    data = _prepare(diffs, denom, min_effect)
    return sign_flip_null(data, t_crit=t_crit, n_perm=n_perm, rng=rng, extras=False).meta_p


# -- the comparison --------------------------------------------------------------------------
@dataclass(frozen=True)
class SlotResult:
    """The comparison of one ``(step, metric)`` slot."""

    step: int
    """The step."""
    metric: str
    """The metric's name."""
    baseline_mean: float
    """Mean of the raw baseline values."""
    baseline_std: float
    """Their standard deviation (ddof=1)."""
    current_mean: float
    """Mean of the raw current values."""
    current_std: float
    """Their standard deviation (ddof=1)."""
    effect_size: float
    """Relative goodness change ``mean difference / denominator`` (Δ)."""
    effect_reliable: bool
    """Whether the denominator (baseline mean goodness) is above 1e-9."""
    t_stat: float
    """The paired t statistic (degenerate: ``±1e9`` or ``0``)."""
    p_value: float
    """The one-sided (towards worse) Student-t p-value."""
    flagged: bool
    """``t < t_crit`` (and past the ``min_effect`` gate): the ``✗``."""
    p_adj: float
    """Westfall–Young step-down max-T adjusted sign-flip p-value of ``-t``; ``p_adj < alpha`` on
    any unchanged slot has probability at most ``alpha``."""
    flagged_adj: bool
    """``p_adj < alpha`` (and past the ``min_effect`` gate): the ``‼``."""
    ci_low: float
    """Lower end of the two-sided ``1 - alpha`` paired-t interval of the mean goodness
    difference."""
    ci_high: float
    """Its upper end."""
    delta_low: float
    """``ci_low`` relative to the effect denominator (like Δ)."""
    delta_high: float
    """``ci_high`` relative to the effect denominator."""
    improved: bool
    """The mirror of ``flagged``: ``t > -t_crit`` (and past the gate)."""


@dataclass(frozen=True)
class Comparison:
    """The verdict on one benchmark: per-slot rows, the sign-flip meta test and its mirror."""

    slots: list[SlotResult]
    """The per-slot rows, in column order."""
    n_flagged: int
    """Slots with ``✗``."""
    severity: float
    """``T(D)``."""
    meta_p: float
    """The sign-flip p-value of ``T(D)``."""
    alpha: float
    """The significance level."""
    t_crit: float
    """The one-sided critical t value."""
    passed: bool
    """``not meta_p < alpha``."""
    n_perm: int
    """Sign vectors used: ``2**n`` when exact, the Monte-Carlo budget otherwise."""
    exact: bool
    """Whether all ``2**n`` sign vectors were enumerated."""
    n_flagged_adj: int
    """Slots with ``‼`` (``p_adj < alpha``, past the gate)."""
    improvement_severity: float
    """``T(-D)``, the severity of the mirrored differences."""
    improvement_p: float
    """Its sign-flip p-value (same sign vectors)."""
    improved: bool
    """``improvement_p < alpha``: the benchmark got significantly better."""
    n_improved: int
    """Slots whose own test says better (``t > -t_crit``, past the gate)."""


Scores = Mapping[int, Mapping[str, Sequence[float]]]
"""``{step: {metric: [value per seed]}}``, the baseline file's shape."""


def compare(
    baseline: np.ndarray,
    current: np.ndarray,
    slots: Sequence[tuple[int, str]],
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int | None = None,
    rng: np.random.Generator | None = None,
) -> Comparison:
    """Compare paired per-seed scores and decide PASS or FAIL.

    Args:
        baseline: ``(n_seeds, K)`` raw metric values of the baseline, one row per seed.
        current: the same shape for the current run, rows aligned seed for seed.
        slots: the ``(step, metric)`` of each column; a metric named ``min:...``
            is lower-is-better, every other higher-is-better.
        alpha: significance level of each slot's test, of the verdict, of
            ``p_adj`` and of the improvement test; the intervals have level ``1 - alpha``.
        min_effect: a slot is flagged only if its relative goodness change is
            below ``-min_effect``; ``None`` disables the gate.
        n_perm: the sign-flip budget (default :func:`n_permutations` of ``alpha``).
        rng: generator for the Monte-Carlo null (default: seeded with 0, so a
            verdict is reproducible).

    Returns:
        A :class:`Comparison` whose slot rows follow the column order.

    Raises:
        ValueError: if the shapes differ, do not match ``slots``, fewer than
            two seeds are given, or a value is not finite.
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
    if not (np.isfinite(base).all() and np.isfinite(cur).all()):
        raise ValueError("the scores must be finite (divergence is handled by pybench.compare)")
    n_perm = n_permutations(alpha) if n_perm is None else n_perm

    sign = np.array([goodness_sign(metric) for _, metric in slots])
    base_good, cur_good = base * sign, cur * sign
    # Values near the float maximum: work on columns scaled by a power of two
    # (exact) so that differences and sums of squares cannot overflow.
    scale = _column_scale(base_good, cur_good)
    base_good, cur_good = base_good * scale, cur_good * scale
    diffs = cur_good - base_good
    base_mean_good = base_good.mean(axis=0)
    denom = np.maximum(np.abs(base_mean_good), EFFECT_FLOOR * scale)
    reliable = np.abs(base_mean_good) >= EFFECT_FLOOR * scale
    t_crit = t_critical(alpha, n)

    data = _prepare(diffs, denom, min_effect, scale=scale)
    null = sign_flip_null(data, t_crit=t_crit, n_perm=n_perm, rng=rng)
    t = null.t
    mean = diffs.mean(axis=0)
    p = np.where(null.degenerate, np.where(t < 0, 0.0, 1.0), t_cdf(t, n - 1))
    effect = mean / denom
    past_gate = np.ones(len(slots), bool) if data.gate is None else null.total < -data.gate
    past_gate_up = np.ones(len(slots), bool) if data.gate is None else null.total > data.gate
    flagged = (t < t_crit) & past_gate
    flagged_adj = (null.p_adj < alpha) & past_gate
    improved = (-t < t_crit) & past_gate_up
    ci_low, ci_high = paired_intervals(diffs, alpha)
    with np.errstate(over="ignore"):
        unscaled = [
            base_good.mean(axis=0) * sign / scale,
            base_good.std(axis=0, ddof=1) / scale,
            cur_good.mean(axis=0) * sign / scale,
            cur_good.std(axis=0, ddof=1) / scale,
            ci_low / scale,
            ci_high / scale,
        ]
    base_mean, base_std, cur_mean, cur_std, low, high = unscaled
    rows = _slot_rows(
        slots,
        baseline_mean=base_mean,
        baseline_std=base_std,
        current_mean=cur_mean,
        current_std=cur_std,
        effect_size=effect,
        effect_reliable=reliable,
        t_stat=t,
        p_value=p,
        flagged=flagged,
        p_adj=null.p_adj,
        flagged_adj=flagged_adj,
        ci_low=low,
        ci_high=high,
        delta_low=ci_low / denom,
        delta_high=ci_high / denom,
        improved=improved,
    )
    return Comparison(
        slots=rows,
        n_flagged=int(flagged.sum()),
        severity=null.severity,
        meta_p=null.meta_p,
        alpha=alpha,
        t_crit=t_crit,
        passed=not null.meta_p < alpha,
        n_perm=null.n_perm,
        exact=null.exact,
        n_flagged_adj=int(flagged_adj.sum()),
        improvement_severity=null.improvement_severity,
        improvement_p=null.improvement_p,
        improved=null.improvement_p < alpha,
        n_improved=int(improved.sum()),
    )


def _slot_rows(slots: Sequence[tuple[int, str]], **columns: np.ndarray) -> list[SlotResult]:
    """One :class:`SlotResult` per slot from per-slot arrays (Python numbers, not numpy's)."""
    names = list(columns)
    values = [np.asarray(columns[name]).tolist() for name in names]
    return [
        SlotResult(int(step), metric, **dict(zip(names, row, strict=True)))
        for (step, metric), row in zip(slots, zip(*values, strict=True), strict=True)
    ]


def compare_scores(
    baseline: Scores,
    current: Scores,
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int | None = None,
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


# -- planning: power of the per-slot test ---------------------------------------------------
_NORMAL = NormalDist()


def _t_upper(alpha: float, n: np.ndarray | int) -> np.ndarray:
    """One-sided critical values ``t_{1-alpha, n-1}`` (positive) for each ``n``."""
    ns = np.atleast_1d(np.asarray(n, dtype=np.int64))
    return np.array([-t_ppf(alpha, int(m) - 1) for m in ns])


def t_test_power(shift: np.ndarray | float, n: np.ndarray | int, alpha: float) -> np.ndarray:
    """Power of the one-sided paired t-test at ``alpha`` for a drop of ``shift`` deviations.

    ``shift`` is the true mean difference divided by the standard deviation of
    the differences (``delta / sigma_d``, positive for a drop); the t statistic
    then follows a noncentral t with ``n - 1`` degrees of freedom and
    noncentrality ``lambda = shift * sqrt(n)``. Its distribution function is
    taken from the classical normal approximation to the noncentral t
    (see Johnson, Kotz & Balakrishnan, *Continuous Univariate Distributions*,
    vol. 2, the chapter on the noncentral t):

    ``power = Phi((lambda - c (1 - 1/(4 nu))) / sqrt(1 + c**2 / (2 nu)))``,
    ``c = t_{1-alpha, nu}``, ``nu = n - 1``,

    which is within about 0.01 of the exact power from ``n = 5`` on
    (``tests/test_stats.py`` checks it against scipy's noncentral t).
    """
    shift_arr = np.asarray(shift, dtype=float)
    n_arr = np.asarray(n, dtype=np.int64)
    nu = n_arr - 1.0
    crit = _t_upper(alpha, n_arr).reshape(n_arr.shape)
    lam = shift_arr * np.sqrt(n_arr)
    z = (lam - crit * (1.0 - 1.0 / (4.0 * nu))) / np.sqrt(1.0 + crit**2 / (2.0 * nu))
    return np.vectorize(_NORMAL.cdf, otypes=[float])(z)


def detectable_effect(sd: np.ndarray | float, n: int, alpha: float, power: float) -> np.ndarray:
    """The smallest mean drop that ``n`` seeds detect with probability ``power``.

    Solves :func:`t_test_power` for the shift:
    ``lambda = c (1 - 1/(4 nu)) + z_power sqrt(1 + c**2 / (2 nu))``, and returns
    ``lambda * sd / sqrt(n)`` in the units of ``sd``, the standard deviation of
    the paired differences (divide by the effect denominator for a relative drop).
    """
    nu = n - 1.0
    crit = float(_t_upper(alpha, n)[0])
    lam = crit * (1.0 - 1.0 / (4.0 * nu)) + _NORMAL.inv_cdf(power) * math.sqrt(
        1.0 + crit**2 / (2.0 * nu)
    )
    return lam * np.asarray(sd, dtype=float) / math.sqrt(n)


def seeds_needed(
    shift: np.ndarray | float,
    alpha: float,
    power: float,
    *,
    max_seeds: int = PLAN_MAX_SEEDS,
) -> np.ndarray:
    """The fewest seeds that detect a drop of ``shift`` standard deviations with ``power``.

    The least ``n`` with :func:`t_test_power` at least ``power`` that is also
    :func:`reachable` at ``alpha``; ``0`` where even ``max_seeds`` seeds do not
    reach it (a slot too noisy for the drop). A zero-noise slot (infinite
    shift) needs only the reachable minimum.
    """
    shifts = np.atleast_1d(np.asarray(shift, dtype=float))
    ns = np.arange(max(2, min_seeds(alpha)), max_seeds + 1)
    if ns.size == 0:
        return np.zeros(shifts.shape, dtype=np.int64)
    nu = ns - 1.0
    crit = _t_upper(alpha, ns)
    # power >= target  <=>  lambda >= the noncentrality needed at that n
    need = crit * (1.0 - 1.0 / (4.0 * nu)) + _NORMAL.inv_cdf(power) * np.sqrt(
        1.0 + crit**2 / (2.0 * nu)
    )
    with np.errstate(invalid="ignore"):
        enough = shifts[:, None] * np.sqrt(ns)[None, :] >= need[None, :]
    first = np.argmax(enough, axis=1)
    found = enough[np.arange(shifts.size), first]
    out = np.where(found, ns[first], 0)
    return out.reshape(np.shape(shift)) if np.ndim(shift) else out


@dataclass(frozen=True)
class SlotPlan:
    """What one slot's baseline noise allows (:func:`power_plan`)."""

    step: int
    """The step."""
    metric: str
    """The metric's name."""
    baseline_mean: float
    """Mean of the raw baseline values."""
    baseline_std: float
    """Their standard deviation ``sigma`` (ddof=1)."""
    sd_diff: float
    """The assumed standard deviation of the paired differences, ``sqrt(2) sigma``."""
    reliable: bool
    """Whether the baseline mean goodness is above 1e-9 (relative effects make sense)."""
    detectable: float
    """The relative drop (positive, e.g. 0.031 for 3.1 %) that the current number of seeds
    detects with the requested power."""
    seeds_needed: int | None
    """Seeds needed to detect the requested relative drop; ``None`` when more than
    :data:`PLAN_MAX_SEEDS` would be needed (too noisy)."""


def power_plan(
    baseline: np.ndarray,
    slots: Sequence[tuple[int, str]],
    *,
    alpha: float,
    effect: float,
    power: float,
    max_seeds: int = PLAN_MAX_SEEDS,
) -> list[SlotPlan]:
    """Per slot, the drop the baseline's seeds detect and the seeds a given drop needs.

    Assumes a change re-randomises each seed's run: the paired differences then
    behave like differences of independent samples, with standard deviation
    ``sqrt(2)`` times the baseline's. (A change that keeps runs correlated with
    their baseline seed does better than this.)

    Args:
        baseline: ``(n_seeds, K)`` raw baseline values.
        slots: the ``(step, metric)`` of each column.
        alpha: the benchmark's significance level.
        effect: the relative drop to plan for (``0.02`` = 2 %).
        power: the wanted probability of detecting it (e.g. ``0.8``).
        max_seeds: look no further than this.
    """
    base = np.asarray(baseline, dtype=float)
    n = base.shape[0]
    if n < 2:
        raise ValueError("planning needs a baseline of at least two seeds")
    sign = np.array([goodness_sign(metric) for _, metric in slots])
    scale = _column_scale(base)
    good = base * sign * scale
    mean_good, sd = good.mean(axis=0), good.std(axis=0, ddof=1)
    denom = np.maximum(np.abs(mean_good), EFFECT_FLOOR * scale)
    sd_diff = math.sqrt(2.0) * sd
    detectable = detectable_effect(sd_diff, n, alpha, power) / denom
    with np.errstate(divide="ignore"):
        shift = np.where(sd_diff > 0, effect * denom / sd_diff, np.inf)
    needed = seeds_needed(shift, alpha, power, max_seeds=max_seeds)
    with np.errstate(over="ignore"):
        raw_mean, raw_sd, raw_sd_diff = mean_good * sign / scale, sd / scale, sd_diff / scale
    return [
        SlotPlan(
            step=int(step),
            metric=metric,
            baseline_mean=float(raw_mean[i]),
            baseline_std=float(raw_sd[i]),
            sd_diff=float(raw_sd_diff[i]),
            reliable=bool(abs(mean_good[i]) >= EFFECT_FLOOR * scale[i]),
            detectable=float(detectable[i]),
            seeds_needed=int(needed[i]) or None,
        )
        for i, (step, metric) in enumerate(slots)
    ]
