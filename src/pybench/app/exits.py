"""How a command ends: internal errors as one line (exit 3), and an exit no thread can block.

Both front-end concerns live here so that the command line needs one wrapper
around its command body (:func:`internal_error`, :func:`leave`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import traceback
from collections.abc import Callable, Sequence

from ..core.errors import EXIT_INTERNAL, InternalError
from ..core.tracebacks import one_line

__all__ = ["internal_error", "leave", "leftover_threads", "verbose_in"]


def verbose_in(argv: Sequence[str]) -> bool:
    """Whether a command line asks for ``-v`` (alone or among short flags) or ``--verbose``."""
    for arg in argv:
        if arg == "--":
            break
        if arg == "--verbose" or (
            arg.startswith("-") and not arg.startswith("--") and "v" in arg[1:]
        ):
            return True
    return False


def internal_error(exc: BaseException, *, verbose: bool, echo: Callable[[str], None]) -> int:
    """Report an exception that escaped pybench's own code; the exit code (3).

    One line names the benchmark that was running (when one was) and the cause;
    with ``verbose`` the traceback follows.
    """
    cause = exc.__cause__ if isinstance(exc, InternalError) and exc.__cause__ else exc
    where = f" while running {exc.bench}" if isinstance(exc, InternalError) else ""
    hint = "" if verbose else " (-v shows the traceback)"
    echo(
        f"error: internal error in pybench{where}: {one_line(cause)}; this is a bug in pybench,"
        f" please report it{hint}"
    )
    if verbose:
        try:
            text = "".join(traceback.format_exception(type(cause), cause, cause.__traceback__))
        except Exception:  # pragma: no cover - the formatting itself failed
            text = "(the traceback could not be formatted)\n"
        echo(text.rstrip())
    return EXIT_INTERNAL


def leftover_threads() -> list[threading.Thread]:
    """Threads that would keep the interpreter alive at exit (non-daemon, still running)."""
    main = threading.main_thread()
    return [t for t in threading.enumerate() if t is not main and not t.daemon and t.is_alive()]


def leave(code: int, *, hard: bool = True) -> None:
    """Exit with ``code``, even if user code left non-daemon threads running.

    A run ends when its benchmarks end: when such threads are left (and ``hard``,
    the process is the command itself, not a test calling it), the exit
    handlers run and the streams are flushed here, then the process ends at
    once instead of waiting for them. Otherwise a normal ``sys.exit``.
    """
    if not hard or not leftover_threads():
        sys.exit(code)
    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            with contextlib.suppress(Exception):  # a closed or broken stream: nothing to flush
                stream.flush()
        os._exit(code)
