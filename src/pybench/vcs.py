"""Git provenance: the commit a baseline was made at, and the history of the baseline file."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from .store import BaselineRecord, StoreError, parse

__all__ = ["GitState", "HistoryEntry", "git_state", "history"]


@dataclass(frozen=True)
class GitState:
    """The short commit hash and whether tracked files differ from it (``None``: no git)."""

    commit: str | None
    dirty: bool | None


@dataclass(frozen=True)
class HistoryEntry:
    """One commit that changed the baseline file, with the records it held."""

    commit: str
    date: str
    subject: str
    records: dict[str, BaselineRecord] | None
    error: str | None = None


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def git_state(cwd: Path, ignore: Path | None = None) -> GitState:
    """Read the current commit and whether the working tree is dirty.

    Untracked files and the baseline file itself (``ignore``) do not count.
    """
    commit = _git(["rev-parse", "--short", "HEAD"], cwd)
    if commit is None:
        return GitState(None, None)
    status = _git(["status", "--porcelain", "--untracked-files=no"], cwd) or ""
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    ignored = None
    if ignore is not None and top:
        try:
            ignored = str(ignore.resolve().relative_to(Path(top.strip()).resolve()))
        except ValueError:
            ignored = None
    dirty = any(line[3:].strip() != ignored for line in status.splitlines() if line.strip())
    return GitState(commit.strip(), dirty)


def history(path: Path) -> list[HistoryEntry] | None:
    """The commits that changed ``path``, newest first, with the file's records at each.

    Returns ``None`` when ``path`` is not inside a git repository.
    """
    folder = path.resolve().parent
    while not folder.exists():
        folder = folder.parent
    top = _git(["rev-parse", "--show-toplevel"], folder)
    if top is None:
        return None
    rel = path.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
    log = _git(["log", "--format=%h%x1f%cs%x1f%s", "--", rel], Path(top.strip()))
    if log is None:
        return None
    entries = []
    for line in log.splitlines():
        commit, date, subject = line.split("\x1f", 2)
        text = _git(["show", f"{commit}:{rel}"], Path(top.strip()))
        if text is None:  # the commit deleted the file
            entries.append(HistoryEntry(commit, date, subject, {}))
            continue
        try:
            entries.append(HistoryEntry(commit, date, subject, parse(text, f"{commit}:{rel}")))
        except StoreError as exc:
            entries.append(HistoryEntry(commit, date, subject, None, error=str(exc)))
    return entries
