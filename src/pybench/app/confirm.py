"""``--confirm``: a FAIL is judged again on fresh seeds before it counts.

The stored seeds are fixed, so a change that merely reshuffles random streams
draws fresh noise on exactly those seeds, and at ``alpha`` one such change in
1/alpha fails. With ``--confirm`` a FAIL is re-judged: the commit the baseline
was made at is checked out in a temporary worktree and both it and the working
tree run the benchmark file of the working tree on ``n_seeds`` fresh seeds,
paired and interleaved as ``pybench compare`` runs them. The benchmark FAILs
only if that FAILs too; a false alarm then needs two independent tests to fail
(about ``alpha**2``), at the cost of two runs of ``n_seeds`` seeds per FAIL.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from ..core.provenance import Revision
from ..engine import loop
from ..engine.outcome import Confirmation, Failure, Outcome, Status
from ..engine.plan import Job, Side, check_reachable, sample_seeds
from ..execution.backends import Pool
from ..sources.code import open_tree
from ..sources.revisions import RevisionError, find_repo, relative_path, resolve, working_tree

__all__ = ["Confirmer", "not_in_clone"]


def not_in_clone(commit: str) -> str:
    """The one-line error for a baseline commit a shallow clone lacks."""
    return (
        f"--confirm: the baseline's commit {commit} is not in this clone; fetch the history"
        " (actions/checkout with fetch-depth: 0, or `git fetch --unshallow`) and run again"
    )


class Confirmer:
    """The run loop's ``confirm`` callback: re-judges each FAIL on fresh seeds."""

    def __init__(self, pool: Pool):
        self.pool = pool

    def __call__(self, job: Job, outcome: Outcome) -> Outcome:
        record = job.baseline
        if record is None or not record.git_commit:
            note = "--confirm: the baseline records no commit to re-run; the FAIL stands"
            return dataclasses.replace(outcome, warnings=(*outcome.warnings, note))
        bench = job.bench
        try:
            repo = find_repo(bench.path)
            revision = resolve(repo, record.git_commit)
        except RevisionError:
            failure = Failure(not_in_clone(record.git_commit))
            return Outcome.failed(bench, job.settings, job.seeds, failure)
        warnings = outcome.warnings
        if record.git_dirty:
            warnings += (
                f"--confirm: the baseline was made with uncommitted changes on {revision.short};"
                " the fresh seeds ran against the commit itself",
            )
        fresh = self._rerun(job, repo, revision)
        if fresh.status not in (Status.PASS, Status.FAIL):
            message = fresh.error.message if fresh.error is not None else fresh.status.value
            failure = Failure(f"--confirm: the fresh seeds could not be judged: {message}")
            return Outcome.failed(bench, job.settings, job.seeds, failure)
        meta_p = fresh.comparison.meta_p if fresh.comparison is not None else None
        confirmation = Confirmation(
            fresh.status, len(fresh.seeds), meta_p, revision.short, tuple(fresh.seeds)
        )
        return dataclasses.replace(
            outcome, status=fresh.status, confirmation=confirmation, warnings=warnings
        )

    def _rerun(self, job: Job, repo: Path, revision: Revision) -> Outcome:
        """The baseline's commit against the working tree, on ``n_seeds`` fresh seeds."""
        bench = job.bench
        rel = relative_path(repo, bench.path)
        n = job.settings.n_seeds
        check_reachable(bench.name, job.settings.alpha, n, fresh=True)
        seeds = tuple(sample_seeds(n, base_seed=None, name=bench.name))
        with (
            open_tree(repo, revision, rel, "base", repo) as base,
            open_tree(repo, working_tree(repo), rel, "head", repo) as head,
        ):
            sides = (Side(bench, base), Side(bench, head))
            paired = Job(bench, job.settings, seeds, None, sides=sides)
            [fresh] = loop.run([paired], pool=self.pool)
        return fresh
