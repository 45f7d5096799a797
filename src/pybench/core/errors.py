"""The base error type and pybench's exit codes.

Each concrete error is defined beside the code that raises it; the CLI renders
every :class:`PybenchError` as one line and exits with its ``exit_code``.
"""

from __future__ import annotations

EXIT_OK = 0
"""No regression: every benchmark passed or was new."""

EXIT_REGRESSION = 1
"""At least one benchmark failed."""

EXIT_ERROR = 2
"""An error prevented a verdict (bad input, a broken benchmark, an unreadable file)."""

EXIT_INTERNAL = 3
"""pybench itself failed (a bug): one line naming the benchmark and the cause; ``-v``
shows the traceback. As pytest does for its internal errors."""

EXIT_INTERRUPTED = 130
"""Interrupted by Ctrl-C (SIGINT); SIGTERM and SIGHUP exit 143 and 129 (128 + the signal)."""


class InternalError(Exception):
    """An exception that escaped pybench's own code while a benchmark ran (a bug).

    Attributes:
        bench: the benchmark that was running.
    """

    def __init__(self, bench: str, cause: BaseException):
        from .tracebacks import one_line

        super().__init__(f"{bench}: {one_line(cause)}")
        self.bench = bench


class PybenchError(Exception):
    """An error a user can act on; its message is one line saying what, where and how to fix."""

    exit_code: int = EXIT_ERROR
