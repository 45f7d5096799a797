"""Ctrl-C owned by pybench: a benchmark that swallows ``KeyboardInterrupt`` still stops the run.

Training loops often catch ``KeyboardInterrupt`` and return early as if they had
finished (scikit-learn's MLP, Lightning, Keras, loops around tqdm). Left alone,
that would turn Ctrl-C into a short seed whose value is stored. While
:func:`guard` is active, SIGINT only sets a flag, and raises
``KeyboardInterrupt`` if the program is inside an :func:`interruptible` region
(user code running, or pybench waiting for workers). When such a region ends
with the flag set, ``KeyboardInterrupt`` is raised again, so whatever the
interrupted code returned is discarded. Everywhere else pybench finishes what it
is doing (saving a record, writing the journal) and stops at the next region.

A second Ctrl-C ends the process at once with exit code 130, after killing the
worker processes.

SIGTERM (what CI sends when a job is cancelled) and SIGHUP (a closed terminal)
are handled the same way, so workers, worktrees and locks are cleaned up; the
exit code is then 128 + the signal's number (143, 129), as a shell reports it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any, TypeVar

from ..core.errors import EXIT_INTERRUPTED

__all__ = [
    "HANDLED",
    "check",
    "exit_code",
    "guard",
    "interruptible",
    "interruptibly",
    "requested",
    "terminating",
]

HANDLED: tuple[signal.Signals, ...] = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
"""The signals the guard turns into a clean stop."""

T = TypeVar("T")

_exit = os._exit
"""The real ``os._exit``, taken before a running seed can have it replaced."""

FORCED_MESSAGE = (
    "interrupted again: stopped at once; baselines saved before the first Ctrl-C are kept, "
    "nothing else was saved\n"
)


class _Guard:
    def __init__(self, on_force: Callable[[], None] | None):
        self.requested = False
        self.signum = int(signal.SIGINT)
        self.when = 0.0
        self.depth = 0
        self.on_force = on_force
        # Written to on a forced exit, which may come while a seed's output is captured.
        self.stderr = _dup(2)
        self.stdout = _dup(1)

    def handle(self, signum: int, frame: FrameType | None) -> None:
        if self.requested:
            if _echo(signum, self.signum, self.when):
                return  # the same signal twice at once (a launcher forwarding it): one stop
            self.force()
        self.requested = True
        self.signum = signum
        self.when = time.monotonic()
        if self.depth > 0:
            raise KeyboardInterrupt

    def force(self) -> None:
        if self.on_force is not None:
            with contextlib.suppress(Exception):
                self.on_force()
        with contextlib.suppress(OSError):
            if self.stdout >= 0 and os.isatty(self.stdout):
                os.write(self.stdout, b"\x1b[?25h\n")  # a progress bar may have hidden the cursor
        with contextlib.suppress(OSError):
            if self.stderr >= 0:
                os.write(self.stderr, FORCED_MESSAGE.encode())
        _exit(128 + self.signum if self.signum != signal.SIGINT else EXIT_INTERRUPTED)

    def close(self) -> None:
        for fd in (self.stderr, self.stdout):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)


def _dup(fd: int) -> int:
    try:
        return os.dup(fd)
    except OSError:
        return -1


_active: _Guard | None = None


@contextlib.contextmanager
def guard(on_force: Callable[[], None] | None = None) -> Iterator[None]:
    """Handle SIGINT, SIGTERM and SIGHUP as the module docstring says while the block runs.

    A no-op outside the main thread (where Python cannot handle signals) and
    when a guard is already active.

    Args:
        on_force: called on a second Ctrl-C before the process exits (kills workers).
    """
    global _active, _pending
    if _active is not None or threading.current_thread() is not threading.main_thread():
        yield
        return
    state = _Guard(on_force)
    if _pending is not None:  # a stop whose KeyboardInterrupt was lost before the run
        state.requested, state.signum, state.when = True, _pending, _last_when
        _pending = None
    previous: dict[int, Any] = {}
    try:
        for signum in HANDLED:
            previous[signum] = signal.signal(signum, state.handle)
    except (ValueError, OSError):  # e.g. not the main interpreter
        _restore(previous)
        state.close()
        yield
        return
    _active = state
    global _last_signal
    _last_signal = None
    try:
        yield
        check()  # a Ctrl-C that came while pybench was finishing the last benchmark
    finally:
        _active = None
        if state.requested:
            _last_signal = state.signum
        _restore(previous)
        state.close()


_last_signal: int | None = None


ECHO_SECONDS = 0.1
"""A second signal of the same kind within this long counts as the first one again: a
launcher (``uv run``, a shell) that forwards a signal its process group also received
delivers it twice, and a cancelled CI job must still clean up."""


def _echo(signum: int, first: int | None, when: float) -> bool:
    return signum == first and time.monotonic() - when < ECHO_SECONDS


_last_when = 0.0

_pending: int | None = None
"""A stop signal that came under :func:`terminating` before any :func:`guard`. The
``KeyboardInterrupt`` it raised can be lost: raised while an extension module is being
imported (numpy's random generators, say, the first time seeds are drawn), it may be
cleared by C code. :func:`guard` then begins stopped, so the run ends before its first
benchmark instead of running on as if no signal had come."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    global _last_signal, _last_when, _pending
    if _echo(signum, _last_signal, _last_when):
        return
    _last_signal = _pending = signum
    _last_when = time.monotonic()
    raise KeyboardInterrupt


@contextlib.contextmanager
def terminating() -> Iterator[None]:
    """For a whole command: SIGTERM and SIGHUP raise ``KeyboardInterrupt`` as Ctrl-C does.

    So the cleanup that follows Ctrl-C (workers stopped, worktrees and temporary
    folders removed, locks released) runs for them too, wherever the command is;
    :func:`guard` takes over while the benchmarks run. :func:`exit_code` then
    says which signal it was. Each of these signals (Ctrl-C too) is also noted, for
    a :func:`guard` to honour if its ``KeyboardInterrupt`` was lost. A no-op outside
    the main thread.
    """
    global _last_signal, _pending
    _last_signal = _pending = None
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous: dict[int, Any] = {}
    with contextlib.suppress(ValueError, OSError):
        for signum in HANDLED:  # Ctrl-C too, unless it is ignored (a background job)
            if signum != signal.SIGINT or signal.getsignal(signum) is signal.default_int_handler:
                previous[signum] = signal.signal(signum, _terminate)
    try:
        yield
    finally:
        _pending = None
        _restore(previous)


def _restore(previous: dict[int, Any]) -> None:
    for signum, handler in previous.items():
        with contextlib.suppress(ValueError, OSError, TypeError):
            signal.signal(signum, handler)


def exit_code() -> int:
    """The exit code for the stop the last guard handled: 130 for Ctrl-C, 143 for SIGTERM…"""
    signum = _active.signum if _active is not None and _active.requested else _last_signal
    if signum is None or signum == signal.SIGINT:
        return EXIT_INTERRUPTED
    return 128 + signum


def requested() -> bool:
    """Has Ctrl-C been pressed while the guard was active?"""
    return _active is not None and _active.requested


def check() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C was pressed under the guard."""
    if requested():
        raise KeyboardInterrupt


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A region where Ctrl-C raises ``KeyboardInterrupt`` at once (user code, waiting).

    If Ctrl-C came before or during the region, ``KeyboardInterrupt`` is raised
    when it ends, even if the code inside caught the first one and returned.
    """
    state = _active
    if state is None:
        yield
        return
    check()
    state.depth += 1
    try:
        yield
    finally:
        state.depth -= 1
    check()


def interruptibly(items: Iterator[T]) -> Iterator[T]:
    """Iterate ``items`` with each step in an :func:`interruptible` region."""
    while True:
        with interruptible():
            try:
                item = next(items)
            except StopIteration:
                return
        yield item
