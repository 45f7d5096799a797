"""``--alpha-scope run`` applied to a run: budgets before it, Holm's step-down after it.

Both front ends call :func:`prepare` on the planned jobs and :func:`adjust` on
the outcomes; the statistics are in :mod:`pybench.judging.family`.

``--confirm`` composes by intersection: a FAIL on the stored seeds is re-judged
on fresh seeds at the benchmark's ``alpha`` as usual, and it stays a FAIL only
if that confirms it *and* its adjusted p-value is below the run's ``alpha``;
asking for more than Holm asks never raises the run's error rate.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from .. import stats
from ..engine.outcome import Outcome, Status
from ..engine.plan import Job
from ..judging.family import Family, flip_level, holm
from .policy import UsageError

__all__ = ["adjust", "family_alpha", "prepare", "takes_part"]


def takes_part(job: Job) -> bool:
    """Whether a planned job will be judged (it has a baseline, or two sides to pair)."""
    if job.refused is not None or job.only_in is not None:
        return False
    return job.paired or (job.baseline is not None and not job.update)


def family_alpha(jobs: Sequence[Job], given: float | None) -> float:
    """The run's level: ``--alpha`` when given, else the smallest ``alpha`` of the jobs."""
    if given is not None:
        return given
    return min((job.settings.alpha for job in jobs), default=0.05)


def prepare(jobs: Sequence[Job], alpha: float) -> list[Job]:
    """Size each judged job's sign-flip budget for ``alpha / m`` (``m``: the judged jobs).

    An adaptive job runs its looks at that share of ``alpha``.

    Raises:
        UsageError: an adaptive benchmark with too few seeds to reach its share.
    """
    planned = sum(takes_part(job) for job in jobs)
    level = flip_level(alpha, planned)
    out = []
    for job in jobs:
        if not takes_part(job):
            out.append(job)
        elif job.settings.adaptive:
            if not stats.reachable(level, len(job.seeds)):
                raise UsageError(
                    f"{job.bench.name}: --alpha-scope run holds this adaptive benchmark to "
                    f"alpha/{planned}={level:.3g}, out of reach with {len(job.seeds)} seeds; "
                    f"use at least {stats.min_seeds(level)} seeds or drop --adaptive"
                )
            settings = dataclasses.replace(job.settings, alpha=level)
            out.append(dataclasses.replace(job, settings=settings, flip_alpha=level))
        else:
            out.append(dataclasses.replace(job, flip_alpha=level))
    return out


def _p_value(outcome: Outcome) -> float:
    """A judged outcome's p-value: 0 with a diverged slot, else its meta p-value (1 if none)."""
    result = outcome.comparison
    assert result is not None
    if result.diverged:
        return 0.0
    return 1.0 if result.meta_p is None else result.meta_p


def adjust(outcomes: Sequence[Outcome], alpha: float, planned: int) -> list[Outcome]:
    """The outcomes with Holm's step-down applied over those judged (PASS or FAIL).

    A FAIL whose adjusted p-value is not below ``alpha`` becomes a PASS (unless
    ``--equivalence`` failed it); a PASS stays one. Adaptive outcomes keep their
    verdict (their looks ran at ``alpha / planned``) and the others share
    ``alpha (1 - adaptive / planned)``.
    """
    judged = [
        i
        for i, o in enumerate(outcomes)
        if o.status in (Status.PASS, Status.FAIL) and o.comparison is not None
    ]
    planned = max(planned, len(judged))
    staged = [i for i in judged if outcomes[i].adaptive is not None]
    rest = [i for i in judged if outcomes[i].adaptive is None]
    share = 1.0 - len(staged) / planned if planned else 1.0
    adjusted = holm([_p_value(outcomes[i]) for i in rest]) / share
    out = list(outcomes)
    for i, p_adj in zip(rest, adjusted, strict=True):
        family = Family(alpha, len(judged), min(1.0, float(p_adj)))
        failed = out[i].status is Status.FAIL and p_adj < alpha
        # (--equivalence: a drop the run cannot rule out is a FAIL whatever the family says)
        status = Status.FAIL if failed or not _equivalent(out[i]) else Status.PASS
        out[i] = dataclasses.replace(out[i], status=status, family=family)
    for i in staged:
        p_adj = min(1.0, planned * _p_value(out[i]))
        out[i] = dataclasses.replace(out[i], family=Family(alpha, len(judged), p_adj, True))
    return out


def _equivalent(outcome: Outcome) -> bool:
    return outcome.comparison is None or outcome.comparison.equivalent
