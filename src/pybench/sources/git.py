"""Git: one runner for every git command pybench runs, the state of a working tree, the code
a benchmark runs (for the journal), and the history of the baseline file."""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.provenance import GitState
from ..storage.history import HistoryEntry
from ..storage.store import StoreError, parse

__all__ = ["GitResult", "code_state", "git", "git_state", "history"]


@dataclass(frozen=True)
class GitResult:
    """What one git command did. ``error`` is set when git could not be run at all."""

    returncode: int
    stdout: str = ""
    stderr: str = ""
    error: str | None = None
    """Why git did not run (not installed, not startable, timed out); ``None`` if it ran."""

    @property
    def ok(self) -> bool:
        """Git ran and succeeded."""
        return self.error is None and self.returncode == 0

    @property
    def output(self) -> str | None:
        """``stdout`` when git succeeded, else ``None``."""
        return self.stdout if self.ok else None


def git(args: Sequence[str], cwd: Path, *, timeout: float | None = None) -> GitResult:
    """Run ``git ARGS`` in ``cwd``; never prompts, never raises (failures are in the result)."""
    try:
        proc = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
            timeout=timeout,
        )
    except FileNotFoundError:
        return GitResult(-1, error="git was not found on PATH")
    except subprocess.TimeoutExpired:
        return GitResult(-1, error=f"git {args[0] if args else ''} took over {timeout:g}s")
    except (OSError, subprocess.SubprocessError) as exc:
        return GitResult(-1, error=f"could not run git: {exc}")
    return GitResult(proc.returncode, proc.stdout, proc.stderr)


def _git(args: list[str], cwd: Path) -> str | None:
    """The output of a quick read-only git command; ``None`` if it failed."""
    return git(args, cwd, timeout=10).output


def _porcelain_paths(status: str) -> list[tuple[str, str]]:
    """``(code, path)`` pairs from ``git status --porcelain -z`` (renames give the new path)."""
    entries = status.split("\0")
    pairs = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        code, path = entry[:2], entry[3:]
        if code[0] in "RC":  # the source path follows as its own entry
            i += 1
        pairs.append((code, path))
    return pairs


def _is_pybench_file(path: str, baseline: str | None) -> bool:
    """The baseline file, its lock and temporary files, and anything under a ``.pybench/``."""
    if ".pybench" in Path(path).parts:
        return True
    if baseline is None:
        return False
    folder, _, name = baseline.rpartition("/")
    own = (name, f"{name}.lock")
    head, _, tail = path.rstrip("/").rpartition("/")
    temporary = tail.startswith(f".{name}.") and tail.endswith(".tmp")
    return head == folder and (tail in own or temporary)


def git_state(cwd: Path, ignore: Path | None = None) -> GitState:
    """Read the current commit and whether the working tree is dirty.

    Modified tracked files and untracked files that git does not ignore make
    the tree dirty: a baseline made with them reflects code that no commit
    holds. The baseline file itself (``ignore``), its lock and anything inside
    a ``.pybench/`` folder do not count.
    """
    commit = _git(["rev-parse", "--short", "HEAD"], cwd)
    if commit is None:
        return GitState(None, None)
    status = _git(["status", "--porcelain", "-z", "--untracked-files=normal"], cwd) or ""
    top = _git(["rev-parse", "--show-toplevel"], cwd)
    ignored = None
    if ignore is not None and top:
        try:
            ignored = ignore.resolve().relative_to(Path(top.strip()).resolve()).as_posix()
        except ValueError:
            ignored = None
    changed: list[str] = []
    untracked: list[str] = []
    for code, path in _porcelain_paths(status):
        if _is_pybench_file(path, ignored):
            continue
        (untracked if code == "??" else changed).append(path)
    return GitState(commit.strip(), bool(changed or untracked), tuple(changed), tuple(untracked))


def code_state(folder: Path, exclude: Sequence[Path] = ()) -> str | None:
    """The commit checked out at ``folder`` and ``git diff HEAD``: what the code is now.

    ``exclude`` leaves paths out of the diff (pybench's own files: the baseline
    and the journal, which change while benchmarks run). ``None`` outside git
    or before the first commit.
    """
    out = _git(["rev-parse", "--show-toplevel", "HEAD"], folder)
    lines = out.splitlines() if out is not None else []
    if len(lines) != 2:
        return None
    top, commit = lines
    root = Path(top)
    pathspec = ["."]
    for path in exclude:
        with contextlib.suppress(ValueError):  # outside the repository: not in the diff anyway
            pathspec.append(f":(exclude){path.resolve().relative_to(root.resolve()).as_posix()}")
    diff = _git(["diff", "HEAD", "--no-color", "--no-ext-diff", "--", *pathspec], root)
    return f"{commit.strip()}\n{diff or ''}"


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
