"""Policy both front ends share: guarding writes, the hints and messages they print.

Light on purpose (no numpy, no engine): the command line imports it before
parsing, and ``pybench --help`` stays fast. Messages name each front end's own
flags (``--yes`` or ``--pybench-yes``) through :class:`Flags`.
"""

from __future__ import annotations

import os
import shlex
import signal
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import EXIT_INTERRUPTED, PybenchError
from ..core.provenance import GitState
from ..core.settings import row
from ..execution import interrupts
from . import prompts

__all__ = [
    "CLI_FLAGS",
    "DEFAULT_PATH",
    "PYTEST_FLAGS",
    "Flags",
    "Interrupted",
    "UsageError",
    "absolute",
    "anchor_reports",
    "check_backends",
    "guard_write",
    "interrupted",
    "interrupted_word",
    "records_note",
    "update_command",
]

DEFAULT_PATH = "benchmarks"
"""Where ``pybench`` looks for benchmarks when no PATH is given."""


class UsageError(PybenchError):
    """A command line that cannot be run as given."""


class Interrupted(PybenchError):
    """Ctrl-C: the message says which baselines were saved before it."""

    exit_code = EXIT_INTERRUPTED


@dataclass(frozen=True)
class Flags:
    """How a front end spells the flags its messages name."""

    update: str
    yes: str
    gpus: str
    dask: str
    confirm: str


CLI_FLAGS = Flags(
    "pybench update", row("yes").flag, row("gpus").flag, row("dask").flag, row("confirm").flag
)
PYTEST_FLAGS = Flags(
    "--pybench-update",
    row("yes").pytest_flag,
    row("gpus").pytest_flag,
    row("dask").pytest_flag,
    row("confirm").pytest_flag,
)


def check_backends(dask: str | None, gpus: Any, flags: Flags, *, confirm: bool = False) -> None:
    """Refuse GPU pinning together with Dask, and a confirmation on Dask, before anything runs.

    A confirmation runs the baseline's commit from a checkout on this machine; Dask
    workers import the code installed where they run, so they would not run that commit.
    """
    if dask and gpus:
        raise UsageError(
            f"{flags.gpus} cannot be combined with {flags.dask}; give each Dask worker its own"
            " GPU instead"
        )
    if dask and confirm:
        raise UsageError(
            f"{flags.confirm} cannot be combined with {flags.dask}: a confirmation runs the"
            " baseline's commit from a checkout here; run it with local workers (--workers N)"
        )


def guard_write(
    state: GitState,
    yes: bool,
    overwriting: Sequence[str],
    *,
    flags: Flags,
    warn: Callable[[str], None],
) -> None:
    """Confirm overwrites and warn about a dirty tree before any baseline is written.

    On a terminal it asks; without one it refuses an overwrite that ``yes`` did not
    confirm, and goes on past a dirty tree with the warning. It never hangs.

    Raises:
        UsageError: the user said no, or there is no terminal to ask on.
    """
    interactive = prompts.interactive()
    if overwriting and not yes:
        names = ", ".join(overwriting)
        if not interactive:
            raise UsageError(
                f"{flags.update} would overwrite the stored baseline of {names}; "
                f"pass {flags.yes} to confirm (there is no terminal to ask on)"
            )
        if not prompts.confirm(f"Overwrite the stored baseline of {names}?"):
            raise UsageError("aborted; nothing was saved")
    if state.dirty:
        warn(prompts.dirty_warning(state))
        question = "Save baselines from a dirty tree anyway?"
        if interactive and not yes and not prompts.confirm(question):
            raise UsageError(
                f"aborted; nothing was saved (commit your changes, or pass {flags.yes})"
            )


def absolute(path: str | Path) -> Path:
    """``path`` made absolute against the current directory (links kept as they are).

    Every file pybench writes is named this way before any user code runs, so a
    benchmark that changes the current directory (Hydra does) cannot move them.
    """
    return Path(os.path.abspath(path))


def anchor_reports(options: dict[str, Any], keys: Sequence[str]) -> None:
    """Make the report paths among ``options[keys]`` absolute (``-``, stdout, stays)."""
    for key in keys:
        value = options.get(key)
        if value is not None and value != "-":
            options[key] = str(absolute(value))


def update_command(path: Path | None, baseline: Path | None, *, shown: str | None = None) -> str:
    """``pybench update`` with this run's PATH and ``--baseline`` when they are not the defaults.

    ``shown`` is how the baseline is written when it is given.
    """
    words = ["pybench", "update"]
    if path is not None and path != Path(DEFAULT_PATH):
        words.append(str(path))
    if baseline is not None:
        words += [row("baseline").flag, shown or str(baseline)]
    return shlex.join(words)


def records_note(shown: str, exists: bool, n_records: int) -> str:
    """``baseline: .pybench/baselines.jsonl (3 records)``: which file a run reads."""
    state = f"{n_records} record{'s' * (n_records != 1)}" if exists else "not created yet"
    return f"baseline: {shown} ({state})"


def interrupted(saved: Sequence[str], resumable: Sequence[str] = ()) -> Interrupted:
    """The error of a run stopped by Ctrl-C (or SIGTERM, SIGHUP): what was saved, what
    ``--resume`` can reuse; its exit code is 130 (143, 129)."""
    stopped = interrupted_word()
    if not saved:
        message = f"{stopped}: nothing was saved"
    else:
        message = (
            f"{stopped}: saved the baselines of {', '.join(saved)} (finished before the "
            "interrupt); nothing else was saved"
        )
    if resumable:
        message += f"; the seeds that {', '.join(resumable)} finished are kept for `--resume`"
    error = Interrupted(message)
    error.exit_code = interrupts.exit_code()
    return error


def interrupted_word() -> str:
    """``interrupted`` after Ctrl-C; ``interrupted by SIGTERM`` (or SIGHUP) after a signal."""
    code = interrupts.exit_code()
    if code == EXIT_INTERRUPTED:
        return "interrupted"
    try:
        return f"interrupted by {signal.Signals(code - 128).name}"
    except ValueError:
        return "interrupted"
