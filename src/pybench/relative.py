"""Scale-free building blocks: slot magnitudes, rounding ties, the relative change and its interval.

Nothing here has an absolute threshold. Every slot is measured against its own
magnitude ``M`` (the largest ``|value|`` of the slot over the seeds of both
runs), so multiplying a benchmark's values by any power of two changes no
verdict, p-value, flag or interval, and multiplying them by ``-1`` with the
metric's direction flipped changes nothing either:

* :func:`normalise` scales each column by the power of two that brings ``M``
  into ``[0.5, 1)``; the statistics are computed on those columns (a power of
  two scales exactly, so this is bit for bit the same as scaling by hand, and
  nothing can overflow or underflow on the way);
* :func:`ties` sets a difference to zero when it is within ``rtol * M`` of zero:
  reordering floating-point operations (a few to tens of ulps) is no change;
* :func:`fieller` gives the interval of the relative change
  ``mean difference / |mean baseline|`` with the baseline's own uncertainty.
"""

from __future__ import annotations

import math

import numpy as np

from ._signflip import column_chunks
from ._tdist import t_ppf

__all__ = ["RTOL", "check_rtol", "fieller", "fieller_at", "magnitudes", "normalise", "ties"]

RTOL = 1e-12
"""Default ``rtol``: differences within ``1e-12`` of the slot's magnitude are ties.

Reordering a float64 sum moves it by a few to tens of ulps (``2.2e-16`` each)
of its terms; ``1e-12`` leaves a margin of about a hundred on that, while a
real change smaller than a millionth of a millionth of the slot's largest value
is not one anybody measures. Float32 code wants about ``1e-6``.
"""



def check_rtol(rtol: float) -> float:
    """``rtol`` as a float in ``[0, 0.1]``, else a :class:`ValueError` saying so."""
    value = float(rtol)
    if not 0.0 <= value <= 0.1 or math.isnan(value):
        raise ValueError(f"rtol must be between 0 and 0.1 (got {rtol!r}); the default is {RTOL:g}")
    return value


def magnitudes(*matrices: np.ndarray) -> np.ndarray:
    """Per column, the largest ``|value|`` over every row of every matrix (``0`` if none)."""
    k = matrices[0].shape[1]
    big = np.zeros(k)
    for matrix in matrices:
        if matrix.shape[0]:  # max |x| = max(max x, -min x): no copy of the matrix made
            np.maximum(big, matrix.max(axis=0), out=big)
            np.maximum(big, -matrix.min(axis=0), out=big)
    return big


def normalise(*matrices: np.ndarray) -> np.ndarray:
    """Per-column powers of two that bring each column's magnitude into ``[0.5, 1)``.

    ``1`` for an all-zero column; for a column of subnormal numbers (below ``2**-1022``),
    whose power of two would overflow, the largest normal one: ``2**1022``.
    """
    big = magnitudes(*matrices)
    _, exponent = np.frexp(big)
    return np.where(big > 0.0, np.ldexp(1.0, -np.maximum(exponent, -1022)), 1.0)


def ties(diffs: np.ndarray, magnitude: np.ndarray, rtol: float) -> np.ndarray:
    """``diffs`` with every entry within ``rtol * magnitude`` (of its column) of zero set to 0."""
    out = np.array(diffs, dtype=float)
    bound = rtol * magnitude
    out[(out <= bound) & (out >= -bound)] = 0.0
    return out


def fieller(
    diffs: np.ndarray, base: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fieller's ``1 - alpha`` interval for ``mean(diffs) / |mean(base)|``, per column.

    The relative change is a ratio of two means estimated from the same seeds;
    Fieller's interval is the set of ratios ``r`` that a two-sided paired t-test
    of ``d - r b`` does not reject:

        ``(d̄ - r b̄)² <= t² (s_dd - 2 r s_db + r² s_bb) / n``,  ``t = t_{1-alpha/2, n-1}``,

    with the sample variances and covariance of the per-seed ``d`` and ``b``. It
    is exact for normal seeds whatever their correlation. It is a bounded
    interval exactly when the baseline mean is distinguishable from zero
    (``|b̄| / (s_b / sqrt(n)) > t``); otherwise it is unbounded (the whole line,
    or the line minus an interval) and reported as ``(-inf, inf)``: the slot's
    relative change is then unreliable.

    Args:
        diffs: ``(n, K)`` goodness differences (current minus baseline).
        base: ``(n, K)`` baseline goodness, rows paired with ``diffs``.
        alpha: the interval has level ``1 - alpha``.

    Returns:
        ``(low, high, bounded)``: three ``(K,)`` arrays, in units of the
        baseline mean's magnitude (like Δ).
    """
    n = np.asarray(diffs).shape[0]
    return fieller_at(diffs, base, t_ppf(alpha / 2.0, n - 1))


def fieller_at(
    diffs: np.ndarray, base: np.ndarray, crit: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fieller's interval of :func:`fieller` with the critical value ``crit`` in place of ``t``.

    With a simultaneous critical value (the sign flips' max-T) the lower ends
    hold for every column at once. An infinite ``crit`` gives ``(-inf, inf)``.
    """
    d = np.asarray(diffs, dtype=float)
    b = np.asarray(base, dtype=float)
    n = d.shape[0]
    if math.isinf(crit):
        inf = np.full(d.shape[1], np.inf)
        return -inf, inf, np.zeros(d.shape[1], dtype=bool)
    t2 = crit**2 / n
    d_mean, b_mean = d.mean(axis=0), b.mean(axis=0)
    s_dd, s_bb, s_db = (np.empty(d.shape[1]) for _ in range(3))
    for cols in column_chunks(d.shape[1]):  # centred copies a chunk at a time
        dc, bc = d[:, cols] - d_mean[cols], b[:, cols] - b_mean[cols]
        s_dd[cols] = np.einsum("ij,ij->j", dc, dc) / (n - 1)
        s_bb[cols] = np.einsum("ij,ij->j", bc, bc) / (n - 1)
        s_db[cols] = np.einsum("ij,ij->j", dc, bc) / (n - 1)
    a = b_mean * b_mean - t2 * s_bb
    half_b = d_mean * b_mean - t2 * s_db
    c = d_mean * d_mean - t2 * s_dd
    bounded = a > 0.0
    safe = np.where(bounded, a, 1.0)
    root = np.sqrt(np.maximum(half_b * half_b - a * c, 0.0))
    low = np.where(bounded, (half_b - root) / safe, -np.inf)
    high = np.where(bounded, (half_b + root) / safe, np.inf)
    # The ratio is over b̄; the relative change is over |b̄|.
    negative = b_mean < 0.0
    low, high = np.where(negative, -high, low), np.where(negative, -low, high)
    return low, high, bounded
