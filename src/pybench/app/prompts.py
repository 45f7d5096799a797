"""Asking before writing: whether there is a terminal to ask on, the question, the dirty warning.

Shared by the command line and the pytest plugin, so both refuse, ask and warn
in the same words.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..core.provenance import GitState

__all__ = ["confirm", "dirty_warning", "interactive"]


def interactive() -> bool:
    """Whether stdin and stdout are a terminal (a person can answer a question)."""
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def confirm(question: str) -> bool:
    """Ask ``question`` (default no); Ctrl-C or end of input answers no."""
    import click

    try:
        return click.confirm(question, default=False)
    except click.Abort:
        return False


def dirty_warning(state: GitState) -> str:
    """The warning for a baseline saved from a dirty tree, naming a few of the files."""
    named = [*state.changed, *(f"{path} (untracked)" for path in state.untracked)]
    shown = ", ".join(named[:3]) + (f" and {len(named) - 3} more" if len(named) > 3 else "")
    return (
        f"the git working tree has uncommitted changes ({shown}); the baseline will record "
        f"commit {state.commit} as dirty (commit first for a reproducible baseline)"
    )
