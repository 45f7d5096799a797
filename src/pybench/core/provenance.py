"""Where a run's code came from: the git state of a working tree, and a revision compared."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["GitState", "Revision"]


@dataclass(frozen=True)
class GitState:
    """The short commit hash and whether the working tree differs from it (``None``: no git).

    ``changed`` and ``untracked`` name the paths (relative to the repository
    root) that make the tree dirty.
    """

    commit: str | None
    dirty: bool | None
    changed: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()


@dataclass(frozen=True)
class Revision:
    """One side of a comparison: a commit to check out, or the working tree as it is."""

    name: str
    """The revision as the user wrote it (``main``, ``HEAD~3``, a hash), or ``"working tree"``."""
    commit: str | None
    """The full hash of the commit (the working tree: of ``HEAD``; ``None`` before any commit)."""
    short: str
    """The abbreviated hash (empty when ``commit`` is ``None``)."""
    is_checkout: bool = True
    """Checked out into a temporary worktree; ``False`` for the working tree, used in place."""
    dirty: bool | None = None
    """The working tree only: whether tracked files differ from ``HEAD`` (per ``git_state``)."""

    @property
    def label(self) -> str:
        """How the revision is named in messages: ``main (1a2b3c4)``, ``working tree (…)``."""
        if not self.is_checkout:
            details = [self.short] if self.short else []
            if self.dirty:
                details.append("dirty")
            return self.name + (f" ({', '.join(details)})" if details else "")
        if re.fullmatch(r"[0-9a-f]{4,40}", self.name) and (self.commit or "").startswith(self.name):
            return self.short
        return f"{self.name} ({self.short})"
