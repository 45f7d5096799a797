"""``pybench bisect``: the first commit between GOOD and BAD at which a benchmark regresses.

Each step is one comparison, run like ``pybench compare``: the commit against
GOOD, paired seed for seed and interleaved, on the same seeds at every step, in
the one run loop. The search itself is :func:`pybench.judging.bisection.bisect`;
a commit whose benchmark cannot be judged (its code or benchmark file fails to
import, a seed raises, the benchmark is missing) is skipped, as ``git bisect
skip`` does. GOOD stays checked out for the whole search; every checkout is
removed when the search ends, on Ctrl-C and SIGTERM too.
"""

from __future__ import annotations

import contextlib
import random
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import PybenchError
from ..core.provenance import Revision
from ..engine.outcome import Event, Outcome, Status
from ..engine.plan import Job
from ..execution import interrupts
from ..execution.backends import Pool, open_pool
from ..judging.bisection import Bisection, Judgement, bisect, step_bound
from ..sources.code import CodeSource, open_tree
from ..sources.revisions import (
    RevisionError,
    bench_revision,
    check_path,
    find_repo,
    relative_path,
    resolve,
    run_git,
)
from .runs import bench_files, compare_revisions

__all__ = [
    "Commit",
    "Culprit",
    "CulpritSearch",
    "Step",
    "commits_between",
    "find_culprit",
    "prepare",
]


@dataclass(frozen=True)
class Commit:
    """A commit of the search: its revision and the first line of its message."""

    revision: Revision
    subject: str

    def __str__(self) -> str:
        return self.revision.short


@dataclass(frozen=True)
class Step:
    """One comparison of a commit with GOOD."""

    number: int
    """1-based, in the order the comparisons ran."""
    position: int
    """The commit's 1-based position after GOOD (BAD is the last)."""
    commit: Commit
    judgement: Judgement
    outcome: Outcome | None
    """The benchmark's outcome (``None`` when it could not even be discovered)."""
    reason: str = ""
    """Why a skipped commit could not be judged."""
    seconds: float = 0.0


@dataclass(frozen=True)
class CulpritSearch:
    """What ``pybench bisect`` was asked: the benchmark, the two ends and where the files are."""

    repo: Path
    path: Path
    """The benchmarks, relative to the repository root."""
    good: Revision
    bad: Revision
    commits: list[Commit]
    """The commits after GOOD up to BAD, oldest first (first parents only)."""
    bench: str
    files: Revision | None = None
    """``--bench-from``: where both sides take the benchmark files from."""

    @property
    def max_steps(self) -> int:
        return step_bound(len(self.commits))


@dataclass(frozen=True)
class Culprit:
    """Where the search ended."""

    search: CulpritSearch
    steps: list[Step] = field(default_factory=list)
    first_bad: Commit | None = None
    reason: str = ""
    """Why no first bad commit was found."""
    candidates: list[Commit] = field(default_factory=list)
    """The commits left that could each be the first bad one, when it is not found."""
    base_seed: int = 0


def commits_between(repo: Path, good: Revision, bad: Revision) -> list[Commit]:
    """The commits after ``good`` up to ``bad``, oldest first, following first parents.

    Raises:
        RevisionError: ``good`` is not an ancestor of ``bad``.
    """
    assert good.commit is not None and bad.commit is not None
    ancestor = run_git(["merge-base", "--is-ancestor", good.commit, bad.commit], repo)
    if ancestor.returncode != 0:
        raise RevisionError(
            f"GOOD {good.label} is not an ancestor of BAD {bad.label}; bisect needs an older"
            " good commit and a newer bad one on the same line of history"
        )
    span = f"{good.commit}..{bad.commit}"
    log = run_git(["log", "--first-parent", "--reverse", "--format=%H%x1f%h%x1f%s", span], repo)
    commits = []
    for line in log.stdout.splitlines():
        full, short, subject = (line.split("\x1f", 2) + ["", ""])[:3]
        subject = "".join(c for c in subject if c.isprintable())  # no terminal escapes
        commits.append(Commit(Revision(name=short, commit=full, short=short), subject))
    return commits


def prepare(path: Path, good: str, bad: str, bench: str, bench_from: str | None) -> CulpritSearch:
    """Resolve GOOD, BAD, PATH and ``--bench-from`` and list the commits, before anything runs.

    Raises:
        RevisionError: no git repository, an unknown revision, GOOD not before BAD, no
            commit between them, or PATH missing where the benchmark files come from.
    """
    repo = find_repo(path)
    rel = relative_path(repo, path)
    good_rev, bad_rev = resolve(repo, good), resolve(repo, bad)
    files = bench_revision(repo, bench_from)
    for revision in [files] if files is not None else [good_rev, bad_rev]:
        check_path(repo, revision, rel)
    commits = commits_between(repo, good_rev, bad_rev)
    if not commits:
        raise RevisionError(
            f"there are no commits after GOOD {good_rev.label} up to BAD {bad_rev.label}"
        )
    return CulpritSearch(repo, rel, good_rev, bad_rev, commits, bench, files)


_JUDGED = {Status.FAIL: Judgement.BAD, Status.PASS: Judgement.GOOD}


def _skip_reason(outcome: Outcome) -> str:
    if outcome.status is Status.ERROR and outcome.error is not None:
        return outcome.error.message
    if outcome.status is Status.NEW:
        return "the benchmark is not in GOOD (pass --bench-from worktree to run today's)"
    return "the benchmark is not in this commit (pass --bench-from worktree to run today's)"


OnJobs = Callable[[list[Job]], Callable[[Event], None]]
StepStart = Callable[[int, int, Commit], Callable[[Event], None]]
"""Told a step's number, its commit's position and the commit; returns the event callback."""


def _judge_commit(
    search: CulpritSearch,
    good: CodeSource,
    files: Path | None,
    run: Callable[[tuple[CodeSource, CodeSource], OnJobs], list[Outcome]],
    commit: Commit,
    on_event: Callable[[Event], None],
) -> tuple[Judgement, Outcome | None, str]:
    """Compare ``commit`` with GOOD; its judgement, the outcome and why it was skipped."""
    try:
        with open_tree(search.repo, commit.revision, search.path, "head", files) as head:
            outcomes = run((good, head), lambda jobs: on_event)
    except PybenchError as exc:  # the benchmark file does not import at this commit
        if isinstance(exc, RevisionError):
            raise
        return Judgement.SKIP, None, str(exc)
    outcome = outcomes[0]
    judgement = _JUDGED.get(outcome.status, Judgement.SKIP)
    return judgement, outcome, "" if judgement is not Judgement.SKIP else _skip_reason(outcome)


@contextlib.contextmanager
def _opened(
    search: CulpritSearch, capture: bool
) -> Iterator[tuple[Path | None, CodeSource, Pool]]:
    with (
        bench_files(search.repo, search.files) as files,
        open_tree(search.repo, search.good, search.path, "base", files) as good,
        open_pool(capture=capture) as pool,
    ):
        yield files, good, pool


def find_culprit(
    search: CulpritSearch,
    overrides: Mapping[str, Any],
    *,
    base_seed: int | None,
    on_step: StepStart,
    on_done: Callable[[Step], None] = lambda step: None,
    capture: bool = True,
) -> Culprit:
    """Run the search: at most :attr:`CulpritSearch.max_steps` comparisons with GOOD.

    Every step runs on the same seeds (from ``base_seed``, drawn once when ``None``).
    Ctrl-C, SIGTERM and SIGHUP raise ``KeyboardInterrupt`` once the checkouts are removed.
    """
    seed = base_seed if base_seed is not None else random.SystemRandom().randrange(2**31)
    positions = {c: i + 1 for i, c in enumerate(search.commits)}
    steps: list[Step] = []
    with _opened(search, capture) as (files, good, pool), interrupts.guard(on_force=pool.kill):

        def run(sources: Any, on_jobs: Any) -> list[Outcome]:
            return compare_revisions(
                sources,
                [search.bench],
                overrides,
                pool=pool,
                base_seed=seed,
                journal=None,
                resume=False,
                on_jobs=on_jobs,
            )

        def judge(commit: Commit) -> Judgement:
            interrupts.check()
            number = len(steps) + 1
            on_event = on_step(number, positions[commit], commit)
            started = time.perf_counter()
            judgement, outcome, reason = _judge_commit(search, good, files, run, commit, on_event)
            wall = time.perf_counter() - started
            step = Step(number, positions[commit], commit, judgement, outcome, reason, wall)
            steps.append(step)
            on_done(step)
            return judgement

        found: Bisection[Commit] = bisect(search.commits, judge)
    reason = found.reason
    if found.reason.startswith("BAD") and steps and steps[-1].reason:
        reason = f"{found.reason}: {steps[-1].reason}"
    return Culprit(search, steps, found.first_bad, reason, found.candidates, seed)


# -- what the front end prints and writes ------------------------------------------
def heading(search: CulpritSearch) -> str:
    """The first line: what is searched, between which commits, and the step bound."""
    files = f", benchmark files from {search.files.label}" if search.files is not None else ""
    return (
        f"bisect {search.bench}: good {search.good.label} → bad {search.bad.label},"
        f" {len(search.commits)} commits, at most {search.max_steps} comparisons{files}"
    )


def step_line(number: int, position: int, total: int, commit: Commit) -> str:
    """The line before a step's verdict: ``step 2: commit 4/8 1a2b3c4 subject``."""
    return f"step {number}: commit {position}/{total} {commit.revision.short} {commit.subject}"


def ending(culprit: Culprit) -> list[str]:
    """The last lines: the first bad commit, or why there is none and what is left."""
    if culprit.first_bad is not None:
        commit = culprit.first_bad
        return [f"first bad commit: {commit.revision.commit} {commit.subject}"]
    lines = [f"no first bad commit: {culprit.reason}"]
    lines += [f"  candidate: {c.revision.commit} {c.subject}" for c in culprit.candidates]
    return lines


def _commit(commit: Commit) -> dict[str, Any]:
    revision = commit.revision
    return {"commit": revision.commit, "short": revision.short, "subject": commit.subject}


def _ref(revision: Revision | None) -> dict[str, Any] | None:
    if revision is None:
        return None
    working = not revision.is_checkout
    return {"name": revision.name, "commit": revision.commit, "working_tree": working}


def _step(step: Step) -> dict[str, Any]:
    outcome = step.outcome
    meta_p = None
    if outcome is not None and outcome.comparison is not None:
        meta_p = outcome.comparison.meta_p
    return {
        "step": step.number,
        "position": step.position,
        **_commit(step.commit),
        "judgement": step.judgement.value,
        "status": outcome.status.value if outcome is not None else None,
        "meta_p": meta_p,
        "reason": step.reason or None,
        "seconds": round(step.seconds, 3),
    }


def document(culprit: Culprit, exit_code: int) -> dict[str, Any]:
    """The ``--json`` document of ``pybench bisect``."""
    search = culprit.search
    return {
        "command": "bisect",
        "bench": search.bench,
        "path": search.path.as_posix(),
        "good": _ref(search.good),
        "bad": _ref(search.bad),
        "bench_from": _ref(search.files),
        "commits": len(search.commits),
        "max_steps": search.max_steps,
        "base_seed": culprit.base_seed,
        "steps": [_step(step) for step in culprit.steps],
        "first_bad": _commit(culprit.first_bad) if culprit.first_bad is not None else None,
        "reason": culprit.reason or None,
        "candidates": [_commit(c) for c in culprit.candidates],
        "exit_code": exit_code,
    }
