"""Temporary git worktrees: check a revision out, and always remove it again.

:func:`checkout` puts a revision into a temporary ``git worktree`` and removes
it when the block ends (on an error and on Ctrl-C too); checkouts left by a
killed pybench are pruned at the next run (:func:`prune_stale`). The working
tree (``HEAD`` omitted) is used in place.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from ..core.provenance import Revision
from .revisions import RevisionError, run_git

__all__ = ["PREFIX", "checkout", "prune_stale"]

PREFIX = "pybench-rev-"
"""Start of the name of each temporary folder holding a checkout (``pybench-rev-<pid>-…``)."""

_OWNER = "owner"
"""File beside a checkout in its folder: ``<pid> <host>`` of the pybench that made it."""

_HOLDER = re.compile(re.escape(PREFIX) + r"(\d+)-[^/\\]+")


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].removeprefix("fatal: ") if lines else "no message"


def _temp_root() -> Path:
    """Where checkouts are made: the system's temporary directory (``TMPDIR``)."""
    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_stale(holder: Path) -> bool:
    """Is ``holder`` a checkout folder of a pybench process on this machine that is gone?"""
    match = _HOLDER.fullmatch(holder.name)
    if match is None:
        return False
    pid = int(match.group(1))
    try:
        owner = (holder / _OWNER).read_text().split()
    except OSError:
        owner = []
    if len(owner) >= 2 and owner[1] != socket.gethostname():
        return False  # a temporary folder shared with another machine: not ours to judge
    return pid != os.getpid() and not _pid_alive(pid)


def _listed_worktrees(repo: Path) -> list[Path]:
    proc = run_git(["worktree", "list", "--porcelain"], repo)
    if proc.returncode != 0:
        return []
    return [
        Path(line.removeprefix("worktree "))
        for line in proc.stdout.splitlines()
        if line.startswith("worktree ")
    ]


def _remove_worktree(repo: Path, holder: Path, tree: Path) -> None:
    """Remove the checkout ``tree`` and its folder ``holder``; prune its entry if git kept one."""
    run_git(["worktree", "remove", "--force", str(tree)], repo)
    shutil.rmtree(holder, ignore_errors=True)
    # `git worktree prune` forgets every worktree whose folder is missing, so it only
    # runs when ours is still registered (e.g. `remove` failed), not on every run.
    if tree in _listed_worktrees(repo):
        run_git(["worktree", "prune"], repo)


def prune_stale(repo: Path) -> list[Path]:
    """Remove the checkouts left by pybench processes that were killed (their pid is gone).

    Looks at the worktrees registered in ``repo`` and at the ``pybench-rev-*``
    folders in the temporary directory. Checkouts of live pybench processes,
    and of processes on other machines, are left alone.

    Returns:
        The checkout folders removed.
    """
    removed: list[Path] = []
    for tree in _listed_worktrees(repo):
        if _is_stale(tree.parent):
            _remove_worktree(repo, tree.parent, tree)
            removed.append(tree.parent)
    with contextlib.suppress(OSError):
        for holder in _temp_root().glob(PREFIX + "*"):
            if holder not in removed and holder.is_dir() and _is_stale(holder):
                shutil.rmtree(holder, ignore_errors=True)
                if not holder.exists():
                    removed.append(holder)
    return removed


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Let clean-up finish before a Ctrl-C that arrives during it is raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def checkout(repo: Path, revision: Revision) -> Iterator[Path]:
    """Check ``revision`` out into a temporary worktree; yield its root and remove it after.

    Uses ``git worktree add --detach`` (no branch is created or moved; the
    user's working tree, index and branches are not touched) into a folder
    ``<tmp>/pybench-rev-<pid>-<random>/<short hash>``, with git hooks disabled.
    The worktree is removed when the block ends, whether normally, by an
    exception or by Ctrl-C; checkouts left by a killed pybench are pruned
    first (:func:`prune_stale`). The working tree (``revision.is_checkout`` false)
    is yielded as it is.

    Raises:
        RevisionError: git could not create the worktree.
    """
    if not revision.is_checkout:
        yield repo
        return
    assert revision.commit is not None
    prune_stale(repo)
    holder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=_temp_root())).resolve()
    tree = holder / (revision.short or revision.commit[:12])
    try:
        (holder / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n")
        proc = run_git(
            [
                "-c",
                f"core.hooksPath={os.devnull}",
                "worktree",
                "add",
                "--detach",
                "--quiet",
                str(tree),
                revision.commit,
            ],
            repo,
        )
        if proc.returncode != 0:
            raise RevisionError(
                f"could not check out {revision.label} into {tree}: {_first_line(proc.stderr)}"
            )
        yield tree
    finally:
        with _interrupts_deferred():
            _remove_worktree(repo, holder, tree)
