"""Run-wide error control: Holm's step-down over the benchmarks of one run.

With ``--alpha-scope run`` the probability that *any* benchmark of the run
FAILs when none regressed is at most ``alpha``, whatever the dependence
between benchmarks. The benchmarks that take part are those judged (PASS or
FAIL); an ERROR or a NEW has no p-value and does not count.

* A benchmark judged on its stored seeds in one go enters Holm's step-down
  with its meta p-value (a diverged slot is a p-value of 0): sorted ascending,
  the ``j``-th smallest is held to ``alpha / (m - j + 1)``, and the adjusted
  p-value is ``max_{i <= j} min(1, (m - i + 1) p_(i))``; a benchmark FAILs when
  its adjusted p-value is below ``alpha``.
* An adaptive benchmark decides at its looks, so it has no single p-value to
  sort: it runs its looks at its Bonferroni share ``alpha / m_planned`` (the
  smallest level Holm could hold it to) and its verdict stands; the others
  share what is left, ``alpha (1 - m_adaptive / m_planned)``, by Holm. The
  union bound keeps the whole run at ``alpha``.

Everything here is a pure function of numbers; :mod:`pybench.app.family`
applies it to a run's outcomes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["SCOPES", "Family", "flip_level", "holm"]

SCOPES = ("benchmark", "run")
"""``benchmark``: each benchmark's false-alarm rate is ``alpha`` (the default);
``run``: the whole run's is."""


@dataclass(frozen=True)
class Family:
    """A benchmark's place in a run judged with ``--alpha-scope run``."""

    alpha: float
    """The family-wise level of the run."""
    size: int
    """How many benchmarks took part (judged PASS or FAIL)."""
    p_adj: float
    """This benchmark's adjusted p-value: it FAILs when it is below ``alpha``."""
    adaptive: bool = False
    """Judged at its looks with its Bonferroni share ``alpha / planned`` instead of Holm."""


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the input's order.

    ``p_adj[(j)] = max_{i <= j} min(1, (m - i + 1) p_(i))`` over the ascending
    order; rejecting where ``p_adj < alpha`` keeps the family-wise error rate at
    most ``alpha`` under any dependence.
    """
    p = np.asarray(p_values, dtype=float)
    m = p.size
    if m == 0:
        return p
    order = np.argsort(p, kind="stable")
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    adjusted = np.empty(m)
    adjusted[order] = np.maximum.accumulate(scaled)
    return adjusted


def flip_level(alpha: float, planned: int) -> float:
    """The smallest level a benchmark may be held to: ``alpha / planned`` (at least one).

    Its sign-flip budget is sized for this level, so that a meta p-value that
    small can be resolved.
    """
    return alpha / max(1, planned)
