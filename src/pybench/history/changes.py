"""Change points: where a slot's series of per-commit means shifted, and how surely.

The method is binary segmentation with a permutation test at every split, the
procedure of E-Divisive means (Matteson & James 2014) as Apache Otava and
MongoDB's CI use it, with the least-squares split statistic of a mean shift:

- for a series ``x`` of length ``n`` and a split ``k`` (``x[:k]`` | ``x[k:]``),
  the gain is ``G(k) = k (n - k) / n * (mean(x[:k]) - mean(x[k:]))**2``, the drop
  in the sum of squares when each side gets its own mean; the best split is
  the ``k`` that maximises it (the maximum-likelihood location of one shift in
  Gaussian noise, and what ``ruptures``' ``Binseg(model="l2")`` picks);
- its significance is a permutation test: shuffled copies of the series (no
  change by construction, same values) give the null distribution of
  ``max_k G(k)``, and ``p = (#{shuffled >= observed} + 1) / (permutations + 1)``.
  This is exact whatever the noise's distribution and scale, so a series with
  no change yields a false change point with probability at most ``alpha``;
- a significant split is kept and both sides are searched again, until no
  side holds a significant split or is too short to split.

Permutations stop early once the decision is settled (enough shuffles beat
the observed gain that ``p`` can no longer fall below ``alpha``), which keeps a
series without change cheap: a few dozen shuffles on average.

Values equal to within a relative ``1e-9`` of the series' scale count as equal,
so that a series of identical means (pybench reruns the same seeds, and
deterministic code repeats its numbers) shows no change from rounding noise.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np

__all__ = ["ALPHA", "MIN_SIZE", "ChangePoint", "change_points"]

ALPHA = 0.01
"""The significance level of each split's permutation test."""

MIN_SIZE = 2
"""The fewest points on each side of a change point."""

MAX_PERMUTATIONS = 299
"""Shuffles at most per split: enough for ``p`` to reach ``ALPHA`` with room to spare."""

_FIRST_BATCH = 10
_RTOL = 1e-9


@dataclass(frozen=True)
class ChangePoint:
    """A shift in a series: ``index`` is the first point of the new level."""

    index: int
    before: float
    """The mean of the segment that ends at ``index``."""
    after: float
    """The mean of the segment that starts at ``index``."""
    p: float
    """The permutation p-value of the split that found it."""


def _gains(series: np.ndarray, min_size: int) -> np.ndarray:
    """``G(k)`` for ``k = min_size .. n - min_size`` of each row of ``series`` (shape (B, n))."""
    n = series.shape[-1]
    sums = np.cumsum(series, axis=-1)
    total = sums[..., -1:]
    k = np.arange(min_size, n - min_size + 1, dtype=float)
    left = sums[..., min_size - 1 : n - min_size]
    diff = left / k - (total - left) / (n - k)
    return k * (n - k) / n * diff * diff


def _split_p(
    series: np.ndarray, observed: float, alpha: float, min_size: int, rng: np.random.Generator
) -> float:
    """The permutation p-value of ``observed`` (the series' best gain), stopping early
    once more shuffles could no longer bring it below ``alpha``."""
    limit = max(MAX_PERMUTATIONS, math.ceil(2 / alpha) - 1)
    enough = math.floor(alpha * (limit + 1))  # this many beaten shuffles: not significant
    beaten = done = 0
    tolerance = observed * 1e-12
    size = _FIRST_BATCH
    while done < limit:
        size = min(size, limit - done)
        shuffled = rng.permuted(np.broadcast_to(series, (size, series.size)), axis=1)
        best = _gains(shuffled, min_size).max(axis=1)
        beaten += int(np.count_nonzero(best >= observed - tolerance))
        done += size
        size *= 2
        if beaten >= enough:
            break
    return (beaten + 1) / (done + 1)


def _search(
    series: np.ndarray,
    start: int,
    alpha: float,
    min_size: int,
    rng: np.random.Generator,
    found: list[tuple[int, float]],
) -> None:
    """Binary segmentation of ``series`` (which starts at ``start`` in the whole series)."""
    n = series.size
    if n < 2 * min_size:
        return
    if np.ptp(series) <= _RTOL * max(float(np.abs(series).max()), 1e-300):
        return
    gains = _gains(series, min_size)
    best = int(np.argmax(gains))
    p = _split_p(series, float(gains[best]), alpha, min_size, rng)
    if p > alpha:
        return
    k = best + min_size
    found.append((start + k, p))
    _search(series[:k], start, alpha, min_size, rng, found)
    _search(series[k:], start + k, alpha, min_size, rng, found)


def change_points(
    values: np.ndarray,
    *,
    alpha: float = ALPHA,
    min_size: int = MIN_SIZE,
    rng: np.random.Generator | None = None,
) -> list[ChangePoint]:
    """The change points of ``values`` (one number per commit, oldest first), in order.

    Non-finite values are left out of the search (their positions keep their
    place in the indices). ``rng`` draws the shuffles; by default a generator
    seeded from the order of the values, so the same series always gives the
    same answer, and so does the series in other units (``a * x + b``, ``a > 0``).
    """
    values = np.asarray(values, dtype=float)
    kept = np.flatnonzero(np.isfinite(values))
    series = values[kept]
    if series.size < 2 * min_size:
        return []
    scale = float(np.abs(series).max()) or 1.0
    quantised = np.round(series / (scale * _RTOL)) * (scale * _RTOL)
    if rng is None:  # seeded by the order of the values: the same shuffles at any scale
        order = np.argsort(quantised, kind="stable").astype("<u4").tobytes()
        rng = np.random.default_rng(np.frombuffer(hashlib.sha256(order).digest(), np.uint32))
    found: list[tuple[int, float]] = []
    _search(quantised, 0, alpha, min_size, rng, found)
    found.sort()
    bounds = [0, *(k for k, _ in found), series.size]
    points = []
    for i, (k, p) in enumerate(found):
        before = float(series[bounds[i] : k].mean())
        after = float(series[k : bounds[i + 2]].mean())
        points.append(ChangePoint(int(kept[k]), before, after, p))
    return points
