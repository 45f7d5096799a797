"""The history: every run recorded in a database, read back as trends with change points.

:func:`record_run` is what the command line and the pytest plugin call after a
run: it appends what was measured (per benchmark and slot the per-seed values,
status, meta-p, flags, settings) with the run's context (commit, branch, dirty
flag, time, pybench's version, the machine fingerprint) to the history store:

- by default a SQLite file, ``history.db`` beside the baseline file (so
  ``.pybench/history.db``), kept out of git like the lock file. It is made only
  in a folder that exists: a run that writes nothing else (``compare`` in a
  project without baselines, ``--strict`` without a baseline) creates no
  ``.pybench/`` folder just to record itself;
- or the store named by ``--history URL`` / ``PYBENCH_HISTORY``: a file path,
  ``sqlite:///path``, or ``postgresql://…`` (the ``postgres`` extra).

Recording never changes a verdict or touches a baseline: a failed write is a
warning on stderr.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..engine.outcome import Outcome
    from ..reports import RunInfo
    from .entries import RunEntry

__all__ = ["HISTORY_ENV", "HISTORY_NAME", "default_target", "record_run", "run_entry"]

HISTORY_ENV = "PYBENCH_HISTORY"
"""The environment variable naming the history store (as ``--history``)."""

HISTORY_NAME = "history.db"
"""The default SQLite file, beside the baseline file."""

_IGNORE_HEADER = "# pybench's"


def default_target(baseline: Path | None, path: Path) -> Path:
    """``history.db`` beside ``baseline`` (else beside the baseline file found from ``path``)."""
    from ..storage.store import find_baseline

    return (baseline or find_baseline(path)).parent / HISTORY_NAME


def _keep_out_of_git(db: Path) -> None:
    """Make sure a history file inside a ``.pybench/`` folder is ignored by git: the
    ``.gitignore`` an older pybench wrote gets the history's line (a new folder's lists it)."""
    from ..storage.store import BASELINE_DIR, HISTORY_IGNORED

    folder = db.parent
    if folder.name != BASELINE_DIR:
        return
    ignore = folder / ".gitignore"
    with contextlib.suppress(OSError):
        text = ignore.read_text(encoding="utf-8")
        if text.startswith(_IGNORE_HEADER) and HISTORY_IGNORED not in text.split("\n"):
            with open(ignore, "a", encoding="utf-8") as handle:
                handle.write(("" if text.endswith("\n") else "\n") + HISTORY_IGNORED + "\n")


def _git(args: list[str], cwd: Path) -> str | None:
    from ..sources.git import git

    out = git(args, cwd, timeout=30).output
    return out.strip() if out and out.strip() else None


def _git_context(folder: Path, info: RunInfo) -> dict[str, Any]:
    """Commit (full and short), branch and dirty flag of the run's code."""
    if info.compare and info.revisions is not None:
        base, head = info.revisions
        commit = head.commit or None
        dirty = bool(head.dirty) and not head.is_checkout
        context = {"commit": commit, "commit_short": head.short or None, "dirty": dirty}
        context["base_commit"] = base.commit or None
        context["branch"] = None if head.is_checkout else _branch(folder)
        return context
    state = info.git
    if state is None:
        from ..sources.git import git_state

        state = git_state(folder, ignore=info.baseline)
    commit = _git(["rev-parse", "HEAD"], folder) if state.commit else None
    return {
        "commit": commit,
        "commit_short": state.commit,
        "dirty": state.dirty,
        "branch": _branch(folder) if state.commit else None,
    }


def _branch(folder: Path) -> str | None:
    """The checked-out branch; on a detached HEAD, the one CI names (GitHub Actions)."""
    name = _git(["symbolic-ref", "--short", "-q", "HEAD"], folder)
    return name or os.environ.get("GITHUB_HEAD_REF") or os.environ.get("GITHUB_REF_NAME") or None


def run_entry(
    outcomes: Sequence[Outcome], info: RunInfo, *, command: str | None = None
) -> RunEntry:
    """What :func:`record_run` appends for ``outcomes``."""
    from .. import __version__
    from ..execution import machine
    from .entries import from_outcomes

    folder = info.path if info.path.is_dir() else info.path.parent
    prints = [machine.fingerprint(o.bench.path) for o in outcomes if o.bench.path.is_file()]
    return from_outcomes(
        outcomes,
        command=command or info.command,
        started=info.started,
        elapsed=info.elapsed,
        machine=machine.merged(prints),
        pybench_version=__version__,
        path=str(info.path),
        **_git_context(folder, info),
    )


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def record_run(
    outcomes: Sequence[Outcome],
    info: RunInfo,
    target: str | Path | None = None,
    *,
    command: str | None = None,
    warn: Callable[[str], None] = _warn,
) -> bool:
    """Append the run to the history at ``target`` (default: :func:`default_target`).

    Never raises (but on Ctrl-C): a failure is one warning through ``warn``,
    and the run's verdict and baselines are untouched. Whether it was recorded.
    """
    if not outcomes:
        return False
    from .stores import hide_password, open_store

    target = target or os.environ.get(HISTORY_ENV) or None
    where = hide_password(str(target)) if target else "the history"
    try:
        if target is None:
            target = default_target(info.baseline, info.path)
            if not target.parent.is_dir():
                return False  # nothing else was written: no folder made for the history
            _keep_out_of_git(target)
        where = hide_password(str(target))
        entry = run_entry(outcomes, info, command=command)
        store = open_store(target)
        where = store.name
        with store:
            store.append(entry)
    except Exception as exc:  # recording must never change the run's verdict
        reason = " ".join(str(exc).split()) or type(exc).__name__
        warn(f"the run was not recorded in {where} ({reason}); its verdict stands")
        return False
    return True
