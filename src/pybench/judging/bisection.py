"""Finding the first bad commit: binary search over an ordered list of commits.

Pure logic, no git and no running: the caller supplies ``judge(commit)``, which
compares one commit with the known-good one and says whether it regressed.
A commit is any value (a hash, or the caller's own record of it); messages name
it by ``str(commit)``.
Commits whose benchmark cannot be judged (an import error, a benchmark that
errors) are skipped, as ``git bisect skip`` does, by trying the untested commit
nearest to the middle of the range that is still open.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Generic, TypeVar

__all__ = ["Bisection", "Judgement", "Step", "bisect", "step_bound"]

C = TypeVar("C")
"""A commit, as the caller names it."""


class Judgement(Enum):
    """What one comparison of a commit with the good one found."""

    BAD = "bad"  # it regressed (FAIL)
    GOOD = "good"  # no regression (PASS)
    SKIP = "skip"  # it could not be judged (ERROR)


@dataclass(frozen=True)
class Step(Generic[C]):
    """One comparison: the commit's position in the list, the commit, and the judgement."""

    index: int
    commit: C
    judgement: Judgement


@dataclass(frozen=True)
class Bisection(Generic[C]):
    """Where the search ended: ``first_bad`` when it was found, else ``reason`` says why not."""

    first_bad: C | None
    steps: list[Step[C]] = field(default_factory=list)
    reason: str = ""
    candidates: list[C] = field(default_factory=list)
    """The commits left that could each be the first bad one, when it is not found."""


def step_bound(n_commits: int) -> int:
    """The most comparisons :func:`bisect` makes over ``n_commits`` commits after GOOD:
    one to confirm the last commit is bad, ``ceil(log2 N)`` to halve the range, and one
    more for a skipped commit."""
    return max(1, math.ceil(math.log2(max(n_commits, 1)))) + 2


def _pick(lo: int, hi: int, skipped: set[int]) -> int | None:
    """The untested index strictly between ``lo`` and ``hi`` nearest to their middle."""
    middle = (lo + hi) / 2
    open_ = [i for i in range(lo + 1, hi) if i not in skipped]
    return min(open_, key=lambda i: (abs(i - middle), i)) if open_ else None


def bisect(
    commits: Sequence[C],
    judge: Callable[[C], Judgement],
    max_steps: int | None = None,
) -> Bisection[C]:
    """Find the first commit of ``commits`` (oldest first, GOOD excluded, BAD last) that is bad.

    The last commit is judged first: when it is not bad there is nothing to find.
    Assumes one change: every commit after the first bad one is bad too.

    Args:
        commits: the commits after GOOD up to and including BAD, oldest first.
        judge: compares a commit with GOOD.
        max_steps: the most comparisons to make (default :func:`step_bound`).
    """
    if not commits:
        return Bisection(None, [], "there are no commits between GOOD and BAD")
    budget = step_bound(len(commits)) if max_steps is None else max_steps
    steps: list[Step[C]] = []

    def run(index: int) -> Judgement:
        judgement = judge(commits[index])
        steps.append(Step(index, commits[index], judgement))
        return judgement

    last = run(len(commits) - 1)
    if last is Judgement.SKIP:
        return Bisection(None, steps, f"BAD ({commits[-1]}) could not be judged")
    if last is Judgement.GOOD:
        return Bisection(None, steps, f"BAD ({commits[-1]}) does not regress relative to GOOD")
    lo, hi = -1, len(commits) - 1  # lo: last known good (-1 is GOOD itself), hi: first known bad
    skipped: set[int] = set()
    while True:
        index = _pick(lo, hi, skipped)
        if index is None:
            break
        if len(steps) >= budget:
            return Bisection(
                None, steps, f"stopped after {budget} comparisons", list(commits[lo + 1 : hi + 1])
            )
        judgement = run(index)
        if judgement is Judgement.BAD:
            hi = index
        elif judgement is Judgement.GOOD:
            lo = index
        else:
            skipped.add(index)
    between = [commits[i] for i in range(lo + 1, hi)]
    if between:  # every commit left between the last good and the first bad was skipped
        return Bisection(
            None,
            steps,
            f"{len(between)} commit(s) before {commits[hi]} could not be judged",
            [*between, commits[hi]],
        )
    return Bisection(commits[hi], steps)
