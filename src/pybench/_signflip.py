"""The sign-flip engine: every flip's t statistics for every slot, one matrix product per batch.

Flipping the signs of whole seed rows leaves each column's sum of squares
``SS`` unchanged, so a flip's t statistic depends on its column sum ``S`` alone,
through ``u = S / sqrt(n * SS)`` (a number in ``[-1, 1]``):

    t = sqrt(n - 1) * u / sqrt((1 - u) * (1 + u)),

the same increasing function for every slot. With the columns of the
differences divided by ``sqrt(n * SS)`` beforehand, one matrix product gives
``u`` for a whole batch of sign vectors and every slot (flips × slots);
everything else is comparisons on that array:

* the severity (and its mirror, the improvement severity) adds
  ``t_crit - t`` over the entries below a per-slot threshold in ``u``: only
  those few entries are converted to ``t``;
* the step-down max-T counts come from one running minimum of ``u`` down the
  slots (ordered by the observed t, most significant last) and one comparison
  with per-slot bounds, because the order of ``u`` across slots is the order of
  ``t``;
* the simultaneous lower bound (:class:`_Bound`) centres each flip's column
  sums without another product, ``Sc = S - d̄ Σs``, and keeps the largest
  values of ``max_k t*`` (the flips of the centred differences, whose sums of
  squares are fixed too) to read its critical value off them.

Where ``u`` cannot carry the precision (``|u|`` near 1: a permuted column that is
nearly constant, a degenerate slot, a t in the hundreds), the whole flip is
computed the straightforward way instead (:func:`exact_flip_t`), which is what
every flip used to cost; such flips are rare except for the identity of a
strongly shifted slot. Every count agrees with that straightforward
computation up to the tie tolerance (:data:`TIE_RTOL`), which is many orders of
magnitude above the rounding of either.

Memory: a batch holds a few ``(K, P)`` arrays and the ``(P, n)`` signs, with
``P`` chosen from ``n`` and ``K`` (:func:`batch_rows`), so it stays bounded
however many seeds or slots there are.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

__all__ = [
    "CHUNK",
    "DEGENERATE_T",
    "TIE_RTOL",
    "Null",
    "Prepared",
    "batch_rows",
    "bound_critical",
    "column_chunks",
    "exact_flip_t",
    "is_exact",
    "severity_parts",
    "sign_batches",
    "sign_flip_null",
]

DEGENERATE_T = 1e9
"""The magnitude of a degenerate slot's t statistic."""

TIE_RTOL = 1e-10
"""Relative tolerance when counting permuted statistics ``>=`` the observed one.

The observed statistic is the identity's, computed by the same code as the
flips, so it always ties with itself. Other flips can be tied with it
mathematically (equal magnitudes, grid-valued data) and still land a hair below
it after a different order of rounding; counting those as tied is the
conservative choice. The tolerance applies to the finite part of a severity
(``max(1, finite part) * TIE_RTOL``) and to a slot's t (``max(1, |t|) * TIE_RTOL``),
never to the ``1e9`` of a degenerate slot.
"""

BATCH_BYTES = 24 * 2**20
"""Target working memory of one batch of flips (all its arrays together)."""

MAX_BATCH = 65536
"""At most this many flips per batch."""

FAST_LIMIT = 0.9999
"""Flips with some ``|u|`` above this (``|t|`` above ~``70 sqrt(n - 1)``) are computed exactly."""

_RECHECK_RATIO = 1e-2
"""In :func:`exact_flip_t`, recompute a permuted variance directly below this fraction of
its scale (the shortcut ``n SS - S**2`` cancels there)."""


def is_exact(n: int, n_perm: int) -> bool:
    """Whether ``n`` seeds are enumerated (all ``2**n`` sign vectors) under budget ``n_perm``."""
    return 2**n <= n_perm


@dataclass(frozen=True)
class Prepared:
    """A difference matrix ready for the null: its columns and per-column thresholds."""

    diffs: np.ndarray
    """``(n, K)`` differences (columns scaled by powers of two, which changes no statistic)."""
    sum_sq: np.ndarray
    """``(K,)`` column sums of squares."""
    var_floor: np.ndarray
    """``(K,)``: a permuted ``q = n SS - S**2`` below it is degenerate (a constant column)."""
    zero_sum: np.ndarray
    """``(K,)``: a degenerate column whose sum is within this of 0 has ``t = 0``."""
    gate: np.ndarray | None
    """``(K,)`` or ``None``: a slot is past the ``min_effect`` gate (down) when its sum is below
    ``-gate`` and (up) above ``gate``; ``inf`` never passes."""

    def take(self, order: np.ndarray) -> Prepared:
        """The same columns in ``order``."""
        return Prepared(
            self.diffs[:, order],
            self.sum_sq[order],
            self.var_floor[order],
            self.zero_sum[order],
            None if self.gate is None else self.gate[order],
        )


# -- the straightforward flip (the exact path, and the identity) -------------------------
def exact_flip_t(signs: np.ndarray, data: Prepared) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The t statistics and column sums of ``signs[p, :, None] * diffs`` for every row ``p``.

    With the permuted column sums ``S = signs @ diffs`` and the fixed sums of
    squares ``SS``, ``q = n * SS - S**2`` is ``n (n - 1)`` times the permuted
    variance and ``t = S * sqrt(n - 1) / sqrt(q)``. Entries where that shortcut
    cancels (a nearly constant permuted column) are recomputed directly.

    Returns:
        ``(t, S, degenerate)``: three ``(P, K)`` arrays; a degenerate entry's
        ``t`` is ``±1e9`` by the sign of its sum, or ``0`` when that sum is
        within ``zero_sum`` of 0.
    """
    diffs = data.diffs
    n = diffs.shape[0]
    total = signs @ diffs
    q = np.multiply(total, total)
    scale = n * data.sum_sq
    np.subtract(scale, q, out=q)
    shaky = np.nonzero(q < _RECHECK_RATIO * scale)
    if shaky[0].size:
        _recheck(signs, diffs, total, q, shaky)
    degenerate = q < data.var_floor
    np.sqrt(q, out=q)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.divide(total, q, out=q)
    np.multiply(t, math.sqrt(n - 1), out=t)
    if degenerate.any():
        p_idx, k_idx = np.nonzero(degenerate)
        sums = total[p_idx, k_idx]
        nonzero = np.abs(sums) > data.zero_sum[k_idx]
        t[p_idx, k_idx] = np.where(nonzero, np.sign(sums) * DEGENERATE_T, 0.0)
    return t, total, degenerate


def _recheck(
    signs: np.ndarray,
    diffs: np.ndarray,
    total: np.ndarray,
    q: np.ndarray,
    where: tuple[np.ndarray, ...],
) -> None:
    """Recompute ``total`` and ``q`` at ``where`` from the permuted columns themselves."""
    n = diffs.shape[0]
    p_idx, k_idx = where
    chunk = max(1, BATCH_BYTES // (16 * n))
    for lo in range(0, p_idx.size, chunk):
        p, k = p_idx[lo : lo + chunk], k_idx[lo : lo + chunk]
        x = signs[p] * diffs[:, k].T
        total[p, k] = n * x.mean(axis=1)
        q[p, k] = n * (n - 1) * x.var(axis=1, ddof=1)


def severity_parts(
    t: np.ndarray,
    total: np.ndarray,
    gate: np.ndarray | None,
    t_crit: float,
    *,
    mirror: bool,
) -> tuple[np.ndarray, np.ndarray]:
    """Per row of a ``(P, K)`` t array, the severity split into ``(m, f)``.

    ``T = m * (1e9 + t_crit) + f``: ``m`` counts the contributing degenerate
    slots (``t = -1e9``), ``f`` adds the other contributions ``max(0, t_crit - t)``;
    gated-out slots contribute 0. With ``mirror`` it is the severity of ``-D``.
    Keeping ``m`` apart means a degenerate slot's ``1e9`` never swamps the
    comparison of everything else.
    """
    contrib = np.add(t, t_crit) if mirror else np.subtract(t_crit, t)
    np.maximum(contrib, 0.0, out=contrib)
    if gate is not None:
        np.copyto(contrib, 0.0, where=total <= gate if mirror else total >= -gate)
    degenerate = t == (DEGENERATE_T if mirror else -DEGENERATE_T)
    np.logical_and(degenerate, contrib > 0.0, out=degenerate)
    m = np.count_nonzero(degenerate, axis=1).astype(np.int64)
    contrib[degenerate] = 0.0
    return m, contrib.sum(axis=1)


# -- sign vectors ----------------------------------------------------------------------------
def batch_rows(n: int, k: int) -> int:
    """Flips per batch: the batch's arrays (about ``24 K + 20 n`` bytes a flip) fit the budget."""
    return max(1, min(MAX_BATCH, BATCH_BYTES // (24 * k + 20 * n)))


def sign_batches(n: int, n_perm: int, rng: np.random.Generator, batch: int) -> Iterator[np.ndarray]:
    """Yield ``(P, n)`` float arrays of signs; all ``2**n`` vectors when ``2**n <= n_perm``.

    The enumeration starts with the identity (all ``+1``). Monte-Carlo signs are
    drawn as ``rng.random(n) < 0.5`` per permutation, in order, so the stream
    does not depend on the batch size.
    """
    if is_exact(n, n_perm):
        bits = np.arange(n, dtype=np.int64)
        for start in range(0, 2**n, batch):
            idx = np.arange(start, min(start + batch, 2**n), dtype=np.int64)
            yield 1.0 - 2.0 * ((idx[:, None] >> bits) & 1)
    else:
        for start in range(0, n_perm, batch):
            yield _signs_of(rng.random((min(batch, n_perm - start), n)))


def _signs_of(uniform: np.ndarray) -> np.ndarray:
    """``+1`` where ``uniform < 0.5``, else ``-1``, computed in place (no mask array).

    ``u - 0.5`` is exact for ``u`` in ``[0.25, 1)`` and negative below, so its sign
    is that of the comparison, and ``u == 0.5`` gives ``+0.0``: ``-1`` as before.
    """
    uniform -= 0.5
    np.copysign(1.0, uniform, out=uniform)
    return np.negative(uniform, out=uniform)


# -- the observed statistics -------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """The identity's statistics (columns in ascending order of its t) and the comparisons."""

    t: np.ndarray
    total: np.ndarray
    degenerate: np.ndarray
    severity: tuple[int, float]
    improvement: tuple[int, float]
    bound: np.ndarray
    """Per slot: ``t + TIE_RTOL * max(|t|, 1)``; a flip's running minimum at or below it counts."""

    @classmethod
    def of(cls, data: Prepared, t_crit: float) -> Observed:
        t, total, degenerate = exact_flip_t(np.ones((1, data.diffs.shape[0])), data)

        def parts(mirror: bool) -> tuple[int, float]:
            m, f = severity_parts(t, total, data.gate, t_crit, mirror=mirror)
            return int(m[0]), float(f[0])

        bound = t[0] + TIE_RTOL * np.maximum(np.abs(t[0]), 1.0)
        return cls(t[0], total[0], degenerate[0], parts(False), parts(True), bound)


def at_least(m: np.ndarray, f: np.ndarray, observed: tuple[int, float], big: float) -> np.ndarray:
    """Which rows' severity ``m * big + f`` is at least the observed one, ties included.

    The tolerance is relative to the observed finite part only.
    """
    m_obs, f_obs = observed
    gap = f - f_obs
    if m.any() or m_obs:
        gap += (m - m_obs) * big
    return gap >= -TIE_RTOL * max(f_obs, 1.0)


# -- the fast layout ----------------------------------------------------------------------------
BLOCK = 64
"""Slots per block in the step-down max-T count (:func:`_max_t_hits`)."""

CHUNK = 8192
"""Columns per chunk where a statistic needs a working copy of wide matrices (it bounds
that copy's memory; every column is computed on its own, so chunks change no result)."""


def column_chunks(k: int) -> Iterator[slice]:
    """The column slices of a ``K``-column matrix, :data:`CHUNK` at a time."""
    return (slice(start, start + CHUNK) for start in range(0, k, CHUNK))


def _u_of(t: np.ndarray | float, n: int) -> np.ndarray:
    """The ``u`` of a t statistic: ``t / sqrt(n - 1 + t**2)`` (``±1`` for infinite t)."""
    t = np.asarray(t, dtype=float)
    with np.errstate(over="ignore", invalid="ignore"):
        u = t / np.sqrt(n - 1.0 + t * t)
    return np.where(np.isinf(t), np.sign(t), u)


@dataclass(frozen=True)
class _Fast:
    """The columns for the product ``u = signs @ unit``, in descending order of the observed t.

    ``unit`` starts with ``pad`` columns (set to ``+inf`` after the product) so that
    the slots fill blocks of equal size; after them, column ``pad + j`` is
    column ``K - 1 - j`` of the ascending order divided by ``sqrt(n SS)``. A
    running minimum along a flip's row is then the step-down max-T's. Every
    per-column array below is padded the same way.
    """

    unit: np.ndarray
    """``(n, pad + K)``."""
    pad: int
    limit: np.ndarray
    """A flip with ``|u|`` above it in some slot is computed exactly."""
    fragile: np.ndarray
    """Columns checked for ``|u|`` above their limit on their own: those near the degenerate
    floor (limit below :data:`FAST_LIMIT`) and those whose improvement threshold is above it."""
    down: np.ndarray
    """An entry contributes to the severity when ``u`` is below it (never in a pad)."""
    up: np.ndarray
    """An entry contributes to the improvement severity when ``u`` is above it."""
    bound: np.ndarray
    """``(blocks, size)``: the max-T bounds in ``u`` (non-increasing)."""

    @classmethod
    def of(cls, data: Prepared, obs: Observed, t_crit: float) -> _Fast:
        n, k = data.diffs.shape
        blocks = -(-k // BLOCK)
        pad = blocks * -(-k // blocks) - k
        # The pads repeat the first column (so the first block's bounds span what they should).
        desc = np.concatenate([np.full(pad, k - 1), np.arange(k - 1, -1, -1)])
        norm = np.sqrt(n * data.sum_sq[desc])
        safe = np.where(norm > 0.0, norm, 1.0)
        unit = data.diffs[:, desc]
        np.divide(unit, safe, out=unit)
        unit[:, :pad] = 0.0
        # Keep every flip that could be degenerate (q = n SS (1 - u**2) below the
        # floor) out of the fast layout, with a factor of two to spare.
        with np.errstate(divide="ignore", invalid="ignore"):
            room = np.where(norm > 0.0, 2.0 * data.var_floor[desc] / (norm * norm), 0.0)
        limit = np.minimum(FAST_LIMIT, np.sqrt(np.clip(1.0 - room, 0.0, 1.0)))
        u_crit = float(_u_of(t_crit, n))
        down = np.full(desc.size, u_crit)
        up = np.full(desc.size, -u_crit)
        if data.gate is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                gate_u = np.where(norm > 0.0, data.gate[desc] / safe, np.inf)
            np.minimum(down, -gate_u, out=down)
            np.maximum(up, gate_u, out=up)
        down[:pad], up[:pad], limit[:pad] = -np.inf, np.inf, FAST_LIMIT
        bound = _u_of(obs.bound[desc], n).reshape(blocks, -1)
        fragile = np.flatnonzero((limit < FAST_LIMIT) | (up >= FAST_LIMIT))
        fragile = fragile[fragile >= pad]
        return cls(unit, pad, limit, fragile, down, up, bound)

    def product(self, signs: np.ndarray, out: np.ndarray) -> np.ndarray:
        """``signs @ unit`` into ``out``, pads set to ``+inf``."""
        np.matmul(signs, self.unit, out=out)
        out[:, : self.pad] = np.inf
        return out

    def slow_rows(self, u: np.ndarray, bmin: np.ndarray) -> np.ndarray:
        """Which flips (rows of ``u``) have a negative entry the fast layout cannot carry.

        Positive ones are found among the improvement candidates
        (:func:`_candidates`); columns where that does not hold are ``fragile``
        and checked here on both sides.
        """
        slow = bmin.min(axis=1) < -FAST_LIMIT
        if self.fragile.size:
            part = u[:, self.fragile]
            slow |= (np.abs(part) > self.limit[self.fragile]).any(axis=1)
        return slow


def _candidates(
    u: np.ndarray, fast: _Fast, slow: np.ndarray, *, mirror: bool
) -> tuple[np.ndarray, np.ndarray]:
    """The entries beyond the severity thresholds (and, with ``mirror``, the improvement ones).

    Marks in ``slow`` the flips with a positive entry above :data:`FAST_LIMIT`
    and drops their entries.

    Returns:
        ``(rows, values)`` of the entries of the other flips.
    """
    beyond = np.less(u, fast.down)
    if mirror:
        beyond |= np.greater(u, fast.up)
    idx = np.flatnonzero(beyond)
    x = u.ravel().take(idx)
    rows = idx // u.shape[1]
    if mirror:
        slow[rows[x > FAST_LIMIT]] = True
    if slow.any():
        keep = ~slow[rows]
        return rows[keep], x[keep]
    return rows, x


def _sparse_severities(
    u: np.ndarray, fast: _Fast, slow: np.ndarray, n: int, t_crit: float, *, mirror: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Per flip (row of ``u``), the finite severity and (with ``mirror``) improvement severity.

    Only the entries beyond the thresholds are converted to t. The severity's
    thresholds are negative and the improvement's positive, so an entry's sign
    says which one it is beyond, and either way it adds ``max(0, t_crit + |t|)``.
    """
    rows, x = _candidates(u, fast, slow, mirror=mirror)
    size = np.abs(x)
    contrib = np.multiply(size, size)
    np.subtract(1.0, contrib, out=contrib)
    np.sqrt(contrib, out=contrib)
    np.divide(size, contrib, out=contrib)
    contrib *= math.sqrt(n - 1.0)
    contrib += t_crit
    np.maximum(contrib, 0.0, out=contrib)
    count = u.shape[0]
    if mirror:
        rows += count * (x > 0.0)
    # (an empty bincount is an integer array)
    both = np.bincount(rows, weights=contrib, minlength=2 * count).astype(float, copy=False)
    return both[:count], both[count:]


def _max_t_hits(u: np.ndarray, bmin: np.ndarray, bound: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Per column of ``u``, the flips whose running minimum up to it is at or below its bound.

    By blocks: a flip whose minimum over the earlier blocks is already at or
    below a block's smallest bound hits every slot of the block; one whose
    minimum up to the block's end stays above its largest bound hits none; only
    the blocks in between are scanned. The counts are those of the full running
    minimum. ``keep`` says which rows to count (the others are computed exactly).
    """
    rows = u.shape[0]
    blocks, size = bound.shape
    prev = np.empty_like(bmin)
    prev[:, 0] = np.inf
    np.minimum.accumulate(bmin[:, :-1], axis=1, out=prev[:, 1:])
    every = prev <= bound[:, -1]
    every[~keep] = False
    hits = np.repeat(np.count_nonzero(every, axis=0), size)
    between = ~(every | (np.minimum(bmin, prev) > bound[:, 0]))
    between[~keep] = False
    r, b = np.nonzero(between)
    if r.size:
        run = np.minimum.accumulate(u.reshape(rows, blocks, size)[r, b], axis=1)
        np.minimum(run, prev[r, b][:, None], out=run)
        cols = b[:, None] * size + np.arange(size)
        hits += np.bincount(cols[run <= bound[b]], minlength=blocks * size)
    return hits


# -- one pass ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Null:
    """What one pass over the sign vectors yields (slot arrays in the input's column order)."""

    t: np.ndarray
    total: np.ndarray
    degenerate: np.ndarray
    severity: float
    meta_p: float
    improvement_severity: float
    improvement_p: float
    p_adj: np.ndarray
    n_perm: int
    exact: bool
    slow_flips: int
    """How many flips were computed the straightforward way (for the perf scripts)."""
    crit: float = math.nan
    """The simultaneous bound's critical t (:func:`bound_critical`); ``nan`` when not asked for."""


class _Bound:
    """The collector of the simultaneous bound: the largest ``max_k u*`` of the centred flips.

    A flip's centred column sum is ``Sc = S - d̄ Σs`` and the centred sum of
    squares ``CSS`` does not depend on the flip, so ``u* = Sc / sqrt(n CSS)`` is
    ``a u - b Σs`` with ``a = sqrt(SS / CSS)`` and ``b = d̄ / sqrt(n CSS)``, and
    the order of ``u*`` across slots is that of ``t*``. Constant columns
    (``CSS`` at the degenerate floor) have no spread to bound: ``a = b = 0``.
    Only the ``⌊alpha N⌋ + 1`` largest maxima are kept.
    """

    def __init__(self, data: Prepared, fast: _Fast, alpha: float, total: int) -> None:
        n, k = data.diffs.shape
        desc = np.arange(k - 1, -1, -1)
        mean = data.diffs.mean(axis=0)
        css = np.empty(k)
        for cols in column_chunks(k):  # the centred columns a chunk at a time
            centred = data.diffs[:, cols] - mean[cols]
            css[cols] = np.einsum("ij,ij->j", centred, centred)
        mean, css = mean[desc], css[desc]
        spread = n * css >= data.var_floor[desc]
        root = np.sqrt(np.where(spread, n * css, 1.0))
        self.a = np.where(spread, np.sqrt(n * data.sum_sq[desc]) / root, 0.0)
        self.b = np.where(spread, mean / root, 0.0)
        self.pad, self.n = fast.pad, n
        self.keep = min(total, math.floor(alpha * total) + 1)
        self.top = np.empty(0)

    def add(self, u: np.ndarray, signs: np.ndarray, scratch: np.ndarray) -> None:
        """Add a batch: ``u`` is the fast product of ``signs``, ``scratch`` as large as ``u``."""
        rows = u.shape[0]
        out = scratch[:, : self.a.size]
        np.multiply(u[:, self.pad :], self.a, out=out)
        out -= np.multiply.outer(signs.sum(axis=1), self.b)
        top = np.concatenate([self.top, out.max(axis=1) if rows else np.empty(0)])
        if top.size > self.keep:
            top = np.partition(top, top.size - self.keep)[top.size - self.keep :]
        self.top = top

    def critical(self) -> float:
        """The ``(⌊alpha N⌋ + 1)``-th largest ``max_k t*``: at most ``alpha N`` flips exceed it."""
        return bound_critical(float(self.top.min()) if self.top.size else 0.0, self.n)


def bound_critical(u: float, n: int) -> float:
    """The t of a ``u`` (``inf`` at ``u >= 1``), the inverse of ``t / sqrt(n - 1 + t**2)``."""
    if u >= 1.0:
        return math.inf
    return math.sqrt(n - 1.0) * u / math.sqrt((1.0 - u) * (1.0 + u))


class _Counts:
    """The collectors: severity and improvement hits, step-down max-T hits (ascending order)."""

    def __init__(
        self, k: int, obs: Observed, big: float, extras: bool, bound: _Bound | None = None
    ) -> None:
        self.obs, self.big, self.extras, self.bound = obs, big, extras, bound
        self.hits = self.hits_imp = self.count = self.slow = 0
        self.hits_adj = np.zeros(k, dtype=np.int64)

    def severities(
        self, m: np.ndarray, f: np.ndarray, m_imp: np.ndarray, f_imp: np.ndarray
    ) -> None:
        self.hits += int(np.count_nonzero(at_least(m, f, self.obs.severity, self.big)))
        if self.extras:
            self.hits_imp += int(
                np.count_nonzero(at_least(m_imp, f_imp, self.obs.improvement, self.big))
            )


def _fast_batch(
    signs: np.ndarray, data: Prepared, fast: _Fast, counts: _Counts, t_crit: float, work: list
) -> None:
    """Add one batch of flips to ``counts``: the fast layout, with its slow flips redone exactly."""
    rows, n = signs.shape
    if not work or work[0].shape[0] < rows:
        work[:] = [np.empty((rows, fast.unit.shape[1]))]
        if counts.bound is not None:
            work.append(np.empty_like(work[0]))
    u = fast.product(signs, work[0][:rows])
    if counts.bound is not None:
        counts.bound.add(u, signs, work[1][:rows])
    bmin = u.reshape(rows, fast.bound.shape[0], -1).min(axis=2)
    slow_mask = fast.slow_rows(u, bmin)
    f, f_imp = _sparse_severities(u, fast, slow_mask, n, t_crit, mirror=counts.extras)
    if not counts.extras:
        f_imp = f
    m = np.zeros(rows, dtype=np.int64)
    m_imp = m
    if counts.extras:
        hits = _max_t_hits(u, bmin, fast.bound, ~slow_mask)
        counts.hits_adj += hits[fast.pad :][::-1]
    slow = np.flatnonzero(slow_mask)
    if slow.size:
        parts = _slow_batch(signs[slow], data, counts, t_crit, (m, f, m_imp, f_imp), slow)
        m, f, m_imp, f_imp = parts
        counts.slow += slow.size
    counts.severities(m, f, m_imp, f_imp)
    counts.count += rows


def _slow_batch(
    signs: np.ndarray,
    data: Prepared,
    counts: _Counts,
    t_crit: float,
    parts: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    rows: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The straightforward computation of the flips ``signs`` (rows ``rows`` of the batch)."""
    t, total, _ = exact_flip_t(signs, data)
    m, f, m_imp, f_imp = (a.copy() for a in parts)
    m[rows], f[rows] = severity_parts(t, total, data.gate, t_crit, mirror=False)
    if counts.extras:
        m_imp[rows], f_imp[rows] = severity_parts(t, total, data.gate, t_crit, mirror=True)
        running = np.minimum.accumulate(t[:, ::-1], axis=1)[:, ::-1]
        counts.hits_adj += np.count_nonzero(running <= counts.obs.bound, axis=0)
    return m, f, m_imp, f_imp


def _p_value(hits: np.ndarray | int, count: int, exact: bool) -> np.ndarray:
    """``hits / 2**n`` when enumerated, ``(hits + 1) / (B + 1)`` by Monte-Carlo."""
    return np.asarray(hits / count if exact else (hits + 1) / (count + 1))


def sign_flip_null(
    data: Prepared,
    *,
    t_crit: float,
    n_perm: int,
    rng: np.random.Generator | None = None,
    extras: bool = True,
    bound_alpha: float | None = None,
) -> Null:
    """Severity, meta p-value and (with ``extras``) improvement and max-T p-values, one pass.

    The identity's statistics (computed the straightforward way) are the
    observed ones; the columns are put in ascending order of its t, so the
    step-down max-T's successive maxima of ``-t`` are one running minimum.
    With ``bound_alpha``, :attr:`Null.crit` is the critical value of the
    simultaneous ``1 - bound_alpha`` bound (:class:`_Bound`); the random stream
    and every other statistic are unchanged by it.
    """
    n, k = data.diffs.shape
    exact = is_exact(n, n_perm)
    rng = np.random.default_rng(0) if rng is None else rng
    big = DEGENERATE_T + t_crit
    order = np.argsort(exact_flip_t(np.ones((1, n)), data)[0][0], kind="stable")
    data = data.take(order)
    obs = Observed.of(data, t_crit)
    fast = _Fast.of(data, obs, t_crit)
    total = 2**n if exact else n_perm
    bound = None if bound_alpha is None else _Bound(data, fast, bound_alpha, total)
    counts = _Counts(k, obs, big, extras, bound)
    work: list = []
    # With nothing but the meta p-value wanted and no severity, it is 1 (no flip is drawn).
    if extras or bound is not None or obs.severity != (0, 0.0):
        for signs in sign_batches(n, n_perm, rng, batch_rows(n, k)):
            _fast_batch(signs, data, fast, counts, t_crit, work)

    def p_value(parts: tuple[int, float], hit_count: int) -> tuple[float, float]:
        m, f = parts
        severity = float(m * big + f) if m else float(f)
        return severity, 1.0 if severity <= 0.0 else float(_p_value(hit_count, counts.count, exact))

    severity, meta_p = p_value(obs.severity, counts.hits)
    improvement_severity = improvement_p = math.nan
    p_adj = np.full(k, math.nan)
    if extras:
        improvement_severity, improvement_p = p_value(obs.improvement, counts.hits_imp)
        stepwise = np.maximum.accumulate(_p_value(counts.hits_adj, counts.count, exact))
        p_adj[order] = np.minimum(stepwise, 1.0)
    t, total, degenerate = (np.empty_like(a) for a in (obs.t, obs.total, obs.degenerate))
    for out, values in zip((t, total, degenerate), (obs.t, obs.total, obs.degenerate), strict=True):
        out[order] = values
    return Null(
        t,
        total,
        degenerate,
        severity=severity,
        meta_p=meta_p,
        improvement_severity=improvement_severity,
        improvement_p=improvement_p,
        p_adj=p_adj,
        n_perm=2**n if exact else n_perm,
        exact=exact,
        slow_flips=counts.slow,
        crit=math.nan if bound is None else bound.critical(),
    )
