"""Revisions: find the repository and resolve the two revisions ``pybench compare`` runs.

:func:`resolve_pair` finds the repository, the benchmarks' path inside it and
the two :class:`~pybench.core.provenance.Revision` objects, and checks the path
exists in both, before anything is created. Checking a revision out is
:mod:`pybench.sources.worktrees`; importing its code, :mod:`pybench.sources.shadow`;
the two sides as code sources, :mod:`pybench.sources.code`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.errors import PybenchError
from ..core.provenance import Revision
from .git import GitResult, git, git_state

__all__ = [
    "RevisionError",
    "RevisionPair",
    "WORKTREE",
    "bench_revision",
    "check_path",
    "find_repo",
    "relative_path",
    "resolve",
    "resolve_pair",
    "run_git",
    "working_tree",
]


class RevisionError(PybenchError):
    """A revision or repository that cannot be compared: no git, unknown revision, missing path."""


def run_git(args: Sequence[str], cwd: Path) -> GitResult:
    """Run git for a comparison: git missing or not startable is a :class:`RevisionError`."""
    result = git(args, cwd)
    if result.error is not None:
        raise RevisionError(f"{result.error}; comparing revisions needs git installed")
    return result


def find_repo(path: Path) -> Path:
    """The top folder of the git working tree holding ``path`` (or its nearest existing parent).

    Raises:
        RevisionError: git is missing or ``path`` is not inside a git repository.
    """
    folder = Path(os.path.abspath(path))
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    proc = run_git(["rev-parse", "--show-toplevel"], folder)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RevisionError(
            f"{path}: not inside a git repository; comparing revisions needs the project's git"
            " repository (run pybench from inside it, or pass --path into it)"
        )
    return Path(proc.stdout.strip())


def resolve(repo: Path, rev: str) -> Revision:
    """Resolve a branch, tag, commit or expression (``HEAD~3``) to the commit it names.

    Raises:
        RevisionError: the revision names no commit of ``repo``.
    """
    proc = None
    if rev.strip() and not rev.startswith("-"):
        proc = run_git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo)
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        raise RevisionError(
            f"unknown revision {rev!r}: not a branch, tag or commit of {repo}"
            " (see `git log --oneline` or `git branch -a`)"
        )
    commit = proc.stdout.strip()
    short = run_git(["rev-parse", "--short", commit], repo).stdout.strip() or commit[:7]
    return Revision(name=rev, commit=commit, short=short)


def working_tree(repo: Path) -> Revision:
    """The working tree of ``repo`` as it is, uncommitted changes included."""

    state = git_state(repo)
    commit = None
    if state.commit is not None:
        commit = run_git(["rev-parse", "HEAD"], repo).stdout.strip() or None
    return Revision(
        name="working tree",
        commit=commit,
        short=state.commit or "",
        is_checkout=False,
        dirty=state.dirty,
    )


def relative_path(repo: Path, path: Path) -> Path:
    """``path`` (absolute or relative to the current directory) relative to ``repo``.

    Raises:
        RevisionError: ``path`` lies outside the repository.
    """
    absolute = Path(os.path.abspath(path))
    for candidate in (absolute, absolute.resolve()):
        with contextlib.suppress(ValueError):
            return candidate.relative_to(repo.resolve())
        with contextlib.suppress(ValueError):
            return candidate.relative_to(repo)
    raise RevisionError(
        f"{path}: outside the git repository {repo}; the benchmarks must be part of the project"
    )


def check_path(repo: Path, revision: Revision, rel: Path) -> None:
    """Check that ``rel`` (relative to the repository root) exists in ``revision``.

    Raises:
        RevisionError: it does not.
    """
    if not revision.is_checkout:
        exists = (repo / rel).exists()
    elif rel == Path("."):
        exists = True
    else:
        spec = f"{revision.commit}:{rel.as_posix()}"
        exists = run_git(["cat-file", "-e", spec], repo).returncode == 0
    if not exists:
        raise RevisionError(
            f"{rel.as_posix()}: no such file or folder in {revision.label}; give the benchmarks'"
            " location as it is in both revisions (compare's --path, bisect's PATH), or run"
            " today's benchmarks on both with --bench-from worktree"
        )


@dataclass(frozen=True)
class RevisionPair:
    """Two revisions of one repository, and where the benchmarks are in it."""

    repo: Path
    path: Path
    """The benchmarks (a folder or one file), relative to the repository root."""
    base: Revision
    head: Revision
    bench: Revision | None = None
    """Where both sides take the benchmark files from (``--bench-from``); ``None``: each
    side from its own revision."""

    @property
    def bench_from(self) -> str:
        """``own`` (each side's files), ``worktree``, or the revision's name and short hash."""
        if self.bench is None:
            return "own"
        return "worktree" if not self.bench.is_checkout else self.bench.label


WORKTREE = "worktree"
"""``--bench-from worktree``: the benchmark files of the working tree as they are."""


def bench_revision(repo: Path, bench_from: str | None) -> Revision | None:
    """The revision ``--bench-from`` names (``worktree``: the working tree), or ``None``."""
    if bench_from is None:
        return None
    return working_tree(repo) if bench_from == WORKTREE else resolve(repo, bench_from)


def resolve_pair(
    path: Path, base: str, head: str | None, bench_from: str | None = None
) -> RevisionPair:
    """Resolve ``BASE [HEAD] --path PATH`` and check everything before anything is created.

    Args:
        path: the benchmarks, as given on the command line (relative to the current directory).
        base: the base revision.
        head: the head revision; ``None`` for the working tree as it is.
        bench_from: ``worktree`` or a revision whose benchmark files both sides run
            (``None``: each side its own).

    Raises:
        RevisionError: not a git repository, an unknown revision, or ``path``
            missing from a revision the benchmark files are taken from.
    """
    repo = find_repo(path)
    rel = relative_path(repo, path)
    base_rev = resolve(repo, base)
    head_rev = resolve(repo, head) if head is not None else working_tree(repo)
    bench = bench_revision(repo, bench_from)
    for revision in [bench] if bench is not None else [base_rev, head_rev]:
        check_path(repo, revision, rel)
    return RevisionPair(repo=repo, path=rel, base=base_rev, head=head_rev, bench=bench)
