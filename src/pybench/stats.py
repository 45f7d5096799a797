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
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from statistics import NormalDist

import numpy as np

from ._signflip import (
    DEGENERATE_T,
    TIE_RTOL,
    Null,
    Prepared,
    column_chunks,
    exact_flip_t,
    is_exact,
    severity_parts,
    sign_batches,
    sign_flip_null,
)
from ._tdist import t_cdf, t_ppf
from .relative import (
    RTOL,
    check_rtol,
    fieller,
    fieller_at,
    magnitudes,
    normalise,
    ties,
)

_sign_batches = sign_batches
"""The engine's sign-vector batches (tests walk them)."""

__all__ = [
    "DEGENERATE_T",
    "FLIPS_PER_ALPHA",
    "MAX_FLIP_SECONDS",
    "MAX_PERM",
    "N_PERM",
    "RulesOut",
    "RTOL",
    "PLAN_MAX_SEEDS",
    "Comparison",
    "SlotPlan",
    "SlotResult",
    "TIE_RTOL",
    "affordable",
    "check_alpha",
    "flip_seconds",
    "too_slow",
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

MAX_FLIP_SECONDS = 60.0
"""An ``alpha`` whose sign flips would take longer than this (estimated) is refused."""

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
def slot_t_stats(diffs: np.ndarray, rtol: float = RTOL) -> np.ndarray:
    """Return the ``(K,)`` paired t statistics of an ``(n, K)`` difference matrix.

    Computed straightforwardly from the column means and standard deviations;
    :func:`compare` reports the identity's t from the sign-flip code instead
    (the same numbers up to rounding). A column whose standard deviation is
    below ``rtol`` times its largest ``|value|`` is degenerate: ``±1e9`` by the
    sign of its mean, ``0`` when that mean is within the same tolerance of 0.
    """
    diffs = np.asarray(diffs, dtype=float)
    n = diffs.shape[0]
    scaled = diffs * normalise(diffs)
    floor = rtol * magnitudes(scaled)
    mean, sd = scaled.mean(axis=0), scaled.std(axis=0, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = mean / (sd / math.sqrt(n))
    degenerate = np.where(np.abs(mean) > floor, np.sign(mean) * DEGENERATE_T, 0.0)
    return np.where(sd < np.maximum(floor, np.nextafter(0.0, 1.0)), degenerate, t)


def paired_intervals(diffs: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided ``1 - alpha`` paired-t confidence intervals of each column's mean.

    ``mean ± t_{1-alpha/2, n-1} * sd / sqrt(n)`` per column of an ``(n, K)``
    matrix; a constant column gets the zero-width interval at its value.

    Returns:
        ``(low, high)``, two ``(K,)`` arrays.
    """
    diffs = np.asarray(diffs, dtype=float)
    n, k = diffs.shape
    scale = normalise(diffs)
    mean, sd = np.empty(k), np.empty(k)
    for cols in column_chunks(k):  # the scaled copy a chunk at a time
        scaled = diffs[:, cols] * scale[cols]
        mean[cols], sd[cols] = scaled.mean(axis=0), scaled.std(axis=0, ddof=1)
    half = -t_ppf(alpha / 2.0, n - 1) * sd / math.sqrt(n)
    with np.errstate(over="ignore"):
        return (mean - half) / scale, (mean + half) / scale


def effect_denominators(baseline_goodness: np.ndarray, rtol: float = RTOL) -> np.ndarray:
    """``|mean baseline goodness|`` per slot of an ``(n, K)`` matrix, at least ``rtol`` times
    the slot's largest ``|value|`` (so a zero mean gives a huge, not an infinite, Δ).

    An all-zero slot gets ``1`` (its Δ is 0).
    """
    base = np.asarray(baseline_goodness, float)
    scale = normalise(base)
    good = base * scale
    return _denominators(good.mean(axis=0), magnitudes(good), rtol) / scale


def _denominators(mean: np.ndarray, magnitude: np.ndarray, rtol: float) -> np.ndarray:
    """``max(|mean|, rtol * magnitude)``, or ``1`` where that is 0 (normalised columns)."""
    denom = np.maximum(np.abs(mean), rtol * magnitude)
    return np.where(denom > 0.0, denom, 1.0)


def goodness_sign(metric: str) -> float:
    """``-1`` for lower-is-better (``min:``) metrics, ``+1`` otherwise."""
    return -1.0 if metric.startswith("min:") else 1.0


# -- the sign-flip null ----------------------------------------------------------------------
def _prepare(
    diffs: np.ndarray,
    denom: np.ndarray,
    min_effect: float | None,
    *,
    magnitude: np.ndarray | None = None,
    rtol: float = RTOL,
) -> Prepared:
    """Normalise ``diffs`` and ``denom`` and precompute the thresholds (the private API's path).

    ``magnitude`` is each slot's largest ``|value|`` in the units of ``diffs``
    (default: the largest ``|difference|``): it sets the degenerate floor.
    """
    diffs = np.asarray(diffs, dtype=float)
    denom = np.asarray(denom, dtype=float)
    if not (np.isfinite(diffs).all() and np.isfinite(denom).all()):
        raise ValueError("the differences and effect denominators must be finite")
    big = magnitudes(diffs) if magnitude is None else np.asarray(magnitude, dtype=float)
    scale = normalise(big[None, :])
    judged = np.ones(diffs.shape[1], dtype=bool)
    return _prepared(diffs * scale, denom * scale, big * scale, min_effect, judged, rtol)


def _prepared(
    diffs: np.ndarray,
    denom: np.ndarray,
    magnitude: np.ndarray,
    min_effect: float | None,
    judged: np.ndarray,
    rtol: float,
) -> Prepared:
    """The engine's view of normalised columns.

    * degenerate: a permuted standard deviation below ``rtol * magnitude``
      (``±1e9``, or ``0`` when the sum is within ``n * rtol * magnitude`` of 0);
    * the ``min_effect`` gate: a sum below ``-n (min_effect * denom + rtol * magnitude)``,
      so a change exactly on the boundary is not past it; never where the relative
      change cannot be judged (``judged`` false).
    """
    n = diffs.shape[0]
    floor = rtol * magnitude
    var_floor = np.maximum(n * (n - 1) * floor**2, np.nextafter(0.0, 1.0))
    gate = None
    if min_effect is not None:
        gate = np.where(judged, n * (min_effect * denom + floor), np.inf)
    sum_sq = np.einsum("ij,ij->j", diffs, diffs)
    return Prepared(diffs, sum_sq, var_floor, n * floor, gate)


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
    magnitude: np.ndarray | None = None,
    rtol: float = RTOL,
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
        magnitude: each slot's largest ``|value|`` (default: largest ``|difference|``);
            a slot whose spread is below ``rtol`` times it is degenerate.
        rtol: the relative tolerance (:data:`RTOL`).

    Returns:
        The severity, ``>= 0``.
    """
    data = _prepare(diffs, denom, min_effect, magnitude=magnitude, rtol=rtol)
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
    magnitude: np.ndarray | None = None,
    rtol: float = RTOL,
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
        magnitude: as for :func:`_severity`.
        rtol: as for :func:`_severity`.

    Returns:
        The meta p-value in ``(0, 1]``: at least ``1 / 2**n`` when exact and
        ``1 / (n_perm + 1)`` otherwise; exactly ``1.0`` when ``observed <= 0``.
    """
    if observed <= 0.0:
        return 1.0
    data = _prepare(diffs, denom, min_effect, magnitude=magnitude, rtol=rtol)
    return sign_flip_null(data, t_crit=t_crit, n_perm=n_perm, rng=rng, extras=False).meta_p


# -- the comparison --------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
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
    """Whether the baseline mean is distinguishable from zero (Fieller's interval of Δ is
    bounded); otherwise Δ and its interval mean little."""
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
    """Lower end of Fieller's ``1 - alpha`` interval of Δ (the baseline mean's uncertainty
    included); ``-inf`` when unbounded."""
    delta_high: float
    """Its upper end; ``inf`` when unbounded."""
    improved: bool
    """The mirror of ``flagged``: ``t > -t_crit`` (and past the gate)."""
    judged: bool = True
    """Whether ``min_effect`` could judge the slot: false when it is set and the relative
    change is unreliable (then the slot is never flagged)."""


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
    """``improvement_p < alpha`` and the verdict passed: the benchmark got significantly
    better (a FAIL is never called improved, even when some slots got better)."""
    n_improved: int
    """Slots whose own test says better (``t > -t_crit``, past the gate)."""
    rules_out: RulesOut | None = None
    """What the run rules out for every slot at once (``None`` where not computed)."""


@dataclass(frozen=True)
class RulesOut:
    """The largest drop a comparison rules out, at level ``1 - alpha``, for every slot at once.

    Every slot's relative goodness change is above ``-drop`` simultaneously:
    the lower ends of Fieller's intervals with the sign flips' max-T critical
    value (of the centred differences) in place of the t quantile.
    """

    drop: float
    """The bound, as a fraction of the baseline mean (``0.012``: drops above 1.2 % are ruled
    out); negative when every slot improved by at least that much; ``inf`` when some slot's
    baseline mean is not distinguishable from zero at this level (nothing is ruled out)."""
    level: float
    """``1 - alpha``."""
    n_slots: int
    """How many slots the bound covers."""
    step: int
    """The slot that sets the bound (the first unbounded one, if any)."""
    metric: str
    """Its metric."""
    crit: float
    """The max-T critical value used in place of the t quantile."""


Scores = Mapping[int, Mapping[str, Sequence[float]]]
"""``{step: {metric: [value per seed]}}``, the baseline file's shape."""


def _checked_budget(alpha: float, n: int, n_perm: int | None) -> int:
    """The sign-flip budget, once ``alpha`` is known to be in range and reachable.

    Raises:
        ValueError: ``alpha`` outside (0, 0.5], or a comparison that could never FAIL.
    """
    check_alpha(alpha)
    n_perm = n_permutations(alpha) if n_perm is None else n_perm
    if not smallest_meta_p(n, n_perm) < alpha:
        raise ValueError(
            f"alpha={alpha:g} can never be reached with {n} seeds and {n_perm} sign flips "
            f"(the smallest meta p-value is {smallest_meta_p(n, n_perm):.3g}); "
            f"use at least {min_seeds(alpha)} seeds or a larger alpha"
        )
    return n_perm


def compare(
    baseline: np.ndarray,
    current: np.ndarray,
    slots: Sequence[tuple[int, str]],
    *,
    alpha: float = 0.05,
    min_effect: float | None = None,
    n_perm: int | None = None,
    rng: np.random.Generator | None = None,
    rtol: float = RTOL,
) -> Comparison:
    """Compare paired per-seed scores and decide PASS or FAIL.

    Args:
        baseline: ``(n_seeds, K)`` raw metric values of the baseline, one row per seed.
        current: the same shape for the current run, rows aligned seed for seed.
        slots: the ``(step, metric)`` of each column; a metric named ``min:...``
            is lower-is-better, every other higher-is-better.
        alpha: significance level of each slot's test, of the verdict, of
            ``p_adj`` and of the improvement test, in ``(0, 0.5]``; the intervals
            have level ``1 - alpha``.
        min_effect: a slot is flagged only if its relative goodness change is
            below ``-min_effect``; ``None`` disables the gate. A slot whose
            relative change is unreliable cannot pass the gate.
        n_perm: the sign-flip budget (default :func:`n_permutations` of ``alpha``).
        rng: generator for the Monte-Carlo null (default: seeded with 0, so a
            verdict is reproducible).
        rtol: differences within ``rtol`` times the slot's largest ``|value|``
            are ties (no change); see :data:`pybench.relative.RTOL`.

    Returns:
        A :class:`Comparison` whose slot rows follow the column order.

    Raises:
        ValueError: if the shapes differ, do not match ``slots``, fewer than
            two seeds are given, a value is not finite, ``alpha`` or ``rtol``
            is out of range, or the comparison could never FAIL (too few seeds
            for ``alpha``, or a flip budget too small).
    """
    base, cur = _checked(baseline, current, slots)
    n = base.shape[0]
    rtol = check_rtol(rtol)
    n_perm = _checked_budget(alpha, n, n_perm)
    cols = _Columns.of(base, cur, slots, rtol)
    low_rel, high_rel, reliable = fieller(cols.diffs, cols.base_good, alpha)
    denom = _denominators(cols.base_good.mean(axis=0), cols.magnitude, rtol)
    t_crit = t_critical(alpha, n)
    data = _prepared(cols.diffs, denom, cols.magnitude, min_effect, reliable, rtol)
    null = sign_flip_null(data, t_crit=t_crit, n_perm=n_perm, rng=rng, bound_alpha=alpha)
    t = null.t
    p = np.where(null.degenerate, np.where(t < 0, 0.0, 1.0), t_cdf(t, n - 1))
    everywhere = np.ones(len(slots), bool)
    past_gate = everywhere if data.gate is None else null.total < -data.gate
    past_gate_up = everywhere if data.gate is None else null.total > data.gate
    flagged = (t < t_crit) & past_gate
    flagged_adj = (null.p_adj < alpha) & past_gate
    improved = (-t < t_crit) & past_gate_up
    ci_low, ci_high = paired_intervals(cols.diffs, alpha)
    rows = _slot_rows(
        slots,
        **cols.raw(),
        effect_size=cols.diffs.mean(axis=0) / denom,
        effect_reliable=reliable,
        t_stat=t,
        p_value=p,
        flagged=flagged,
        p_adj=null.p_adj,
        flagged_adj=flagged_adj,
        ci_low=cols.unscale(ci_low),
        ci_high=cols.unscale(ci_high),
        delta_low=low_rel,
        delta_high=high_rel,
        improved=improved,
        judged=reliable | (min_effect is None),
    )
    verdict = _verdict(rows, null, alpha, t_crit, (flagged, flagged_adj, improved))
    bound = rules_out(cols.diffs, cols.base_good, slots, alpha, null.crit)
    return replace(verdict, rules_out=bound)


def rules_out(
    diffs: np.ndarray,
    base: np.ndarray,
    slots: Sequence[tuple[int, str]],
    alpha: float,
    crit: float,
) -> RulesOut:
    """The :class:`RulesOut` of goodness ``diffs`` over ``base`` at the critical value ``crit``."""
    low, _, _ = fieller_at(diffs, base, crit)
    drops = -np.asarray(low, dtype=float)
    worst = int(np.argmax(drops))
    step, metric = slots[worst]
    return RulesOut(float(drops[worst]), 1.0 - alpha, len(slots), int(step), metric, crit)


def _verdict(
    rows: list[SlotResult],
    null: Null,
    alpha: float,
    t_crit: float,
    marks: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> Comparison:
    """The :class:`Comparison` of judged ``rows``; ``marks`` are the ✗, ‼ and ↑ of each slot."""
    flagged, flagged_adj, improved = marks
    passed = not null.meta_p < alpha
    return Comparison(
        slots=rows,
        n_flagged=int(flagged.sum()),
        severity=null.severity,
        meta_p=null.meta_p,
        alpha=alpha,
        t_crit=t_crit,
        passed=passed,
        n_perm=null.n_perm,
        exact=null.exact,
        n_flagged_adj=int(flagged_adj.sum()),
        improvement_severity=null.improvement_severity,
        improvement_p=null.improvement_p,
        improved=passed and null.improvement_p < alpha,
        n_improved=int(improved.sum()),
    )


def _checked(
    baseline: np.ndarray, current: np.ndarray, slots: Sequence[tuple[int, str]]
) -> tuple[np.ndarray, np.ndarray]:
    base = np.asarray(baseline, dtype=float)
    cur = np.asarray(current, dtype=float)
    if base.ndim != 2 or base.shape != cur.shape:
        raise ValueError("baseline and current scores have different shapes")
    if base.shape[1] != len(slots):
        raise ValueError("the score matrices do not have one column per slot")
    if base.shape[0] < 2:
        raise ValueError("a comparison needs at least two seeds")
    if not (np.isfinite(base).all() and np.isfinite(cur).all()):
        raise ValueError("the scores must be finite (divergence is handled by pybench.compare)")
    return base, cur


@dataclass(frozen=True)
class _Columns:
    """Goodness columns normalised by powers of two, and the tied differences."""

    sign: np.ndarray
    scale: np.ndarray
    base_good: np.ndarray
    cur_stats: tuple[np.ndarray, np.ndarray]
    """The current goodness's column means and standard deviations (the matrix is not kept)."""
    magnitude: np.ndarray
    diffs: np.ndarray

    @classmethod
    def of(
        cls, base: np.ndarray, cur: np.ndarray, slots: Sequence[tuple[int, str]], rtol: float
    ) -> _Columns:
        sign = np.array([goodness_sign(metric) for _, metric in slots])
        base_good, cur_good = base * sign, cur * sign
        scale = normalise(base_good, cur_good)
        base_good *= scale  # (in place: wide matrices are not copied more than needed)
        cur_good *= scale
        magnitude = magnitudes(base_good, cur_good)
        cur_stats = (cur_good.mean(axis=0), cur_good.std(axis=0, ddof=1))
        diffs = ties(np.subtract(cur_good, base_good, out=cur_good), magnitude, rtol)
        return cls(sign, scale, base_good, cur_stats, magnitude, diffs)

    def unscale(self, values: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore"):
            return values / self.scale

    def raw(self) -> dict[str, np.ndarray]:
        """The raw means and standard deviations of both runs."""
        return {
            "baseline_mean": self.unscale(self.base_good.mean(axis=0) * self.sign),
            "baseline_std": self.unscale(self.base_good.std(axis=0, ddof=1)),
            "current_mean": self.unscale(self.cur_stats[0] * self.sign),
            "current_std": self.unscale(self.cur_stats[1]),
        }


def check_alpha(alpha: float) -> float:
    """``alpha`` if it is in ``(0, 0.5]``, else a :class:`ValueError` saying so.

    Above 0.5 a slot could be flagged worse and better at once (``t_crit > 0``).
    """
    if not 0.0 < alpha <= 0.5:
        raise ValueError(f"alpha must be in (0, 0.5], got {alpha!r}")
    return alpha


def _slot_rows(slots: Sequence[tuple[int, str]], **columns: np.ndarray) -> list[SlotResult]:
    """One :class:`SlotResult` per slot from per-slot arrays (Python numbers, not numpy's)."""
    names = [f.name for f in fields(SlotResult)][2:]  # after step and metric
    values = [np.asarray(columns.pop(name)).tolist() for name in names if name in columns]
    if columns or len(values) != len(names):
        raise TypeError(f"slot columns do not match SlotResult's fields: {sorted(columns)}")
    steps = [int(step) for step, _ in slots]
    metrics = [metric for _, metric in slots]
    return list(itertools.starmap(SlotResult, zip(steps, metrics, *values, strict=True)))


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
    """Whether the baseline mean is distinguishable from zero (relative effects make sense)."""
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
    scale = normalise(base)
    good = base * sign * scale
    mean_good, sd = good.mean(axis=0), good.std(axis=0, ddof=1)
    denom = _denominators(mean_good, magnitudes(good), RTOL)
    reliable = np.abs(mean_good) * math.sqrt(n) > -t_ppf(alpha / 2.0, n - 1) * sd
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
            reliable=bool(reliable[i]),
            detectable=float(detectable[i]),
            seeds_needed=int(needed[i]) or None,
        )
        for i, (step, metric) in enumerate(slots)
    ]


# -- the cost of the sign flips ----------------------------------------------------------------
_SECONDS_PER_FLIP_SLOT = 1.5e-8
_SECONDS_PER_FLIP_SEED = 5e-8
"""Rough costs of one flip per slot and per seed (measured on a busy 2-core machine, rounded up)."""


def flip_seconds(n: int, k: int, alpha: float, n_perm: int | None = None) -> float:
    """About how long the sign flips of ``n`` seeds and ``k`` slots take at ``alpha``."""
    budget = n_permutations(alpha) if n_perm is None else n_perm
    flips = 2**n if is_exact(n, budget) else budget
    return flips * (k * _SECONDS_PER_FLIP_SLOT + n * _SECONDS_PER_FLIP_SEED)


def too_slow(name: str, alpha: float, n: int, k: int) -> str | None:
    """A one-line refusal when ``alpha``'s sign flips would take over :data:`MAX_FLIP_SECONDS`."""
    seconds = flip_seconds(n, k, alpha)
    if seconds <= MAX_FLIP_SECONDS:
        return None
    return (
        f"{name}: alpha={alpha:g} needs {n_permutations(alpha)} sign flips of {k} slots "
        f"(about {seconds:.0f} s per comparison); use a larger alpha (e.g. "
        f"{max(alpha * seconds / MAX_FLIP_SECONDS, 1e-6):.1g}) or fewer slots"
    )
