"""Evaluating seeds: call a benchmark on one seed, and the contract of every back-end.

Seeds are executed by a *backend* (:class:`SerialBackend` in this process, or
the parallel back-ends of :mod:`pybench.execution.backends`). Every backend calls
:func:`evaluate_seed`, which never raises for the user's mistakes: it returns a
:class:`~pybench.core.seeds.SeedOutcome` holding either the normalized values or a
:class:`~pybench.core.seeds.SeedFailure` that travels back from any worker.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, NoReturn, Protocol

from ..core.benchmark import Benchmark
from ..core.normalize import ReturnValueError, normalize
from ..core.seeds import SeedFailure, SeedOutcome
from ..core.tracebacks import one_line, user_traceback
from . import interrupts
from .capture import Captured
from .capture import capture as capture_output

__all__ = [
    "Backend",
    "RefusedExit",
    "SerialBackend",
    "close_stream",
    "environment",
    "evaluate_seed",
    "guarded_import",
]


@contextlib.contextmanager
def environment(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """Set the variables of ``env`` for the block (``None`` unsets one), then restore them.

    Only the named variables are touched; whatever else the block changes stays.
    """
    if not env:
        yield
        return
    saved = {name: os.environ.get(name) for name in env}
    try:
        _set_environ(env)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def evaluate_seed(
    func: Callable[[int], Any],
    index: int,
    seed: int,
    env: Mapping[str, str | None] | None = None,
    *,
    capture: bool = False,
    refuse_exit: bool = True,
) -> SeedOutcome:
    """Call ``func(seed)`` and normalize its return value, capturing every failure.

    Args:
        func: the benchmark function.
        index: the seed's row.
        seed: the seed.
        env: environment variables forwarded from where pybench was started,
            set just for this call and restored after it (``None`` values unset).
        capture: keep what the call writes to stdout and stderr on the outcome
            instead of letting it reach the terminal (:mod:`pybench.execution.capture`).
        refuse_exit: a call of ``os._exit`` in this process (by the seed or a thread
            it started) while the seed runs fails the seed instead of ending the
            process (``sys.exit`` always does). Off on Dask, where a worker that
            exits is the cluster's to replace.
    """
    failure: SeedFailure | None = None
    refused: contextlib.AbstractContextManager[list[int]] = (
        _exits_refused() if refuse_exit else contextlib.nullcontext([])
    )
    with capture_output(capture) as output, refused as exits:
        started = time.perf_counter()
        try:
            # Ctrl-C reaches the user's code, but what it returns after one is discarded.
            with environment(env), interrupts.interruptible():
                raw = func(seed)
        except (Exception, SystemExit) as exc:  # anything the user's code raises is reported
            failure = SeedFailure(f"raised {one_line(exc)}", user_traceback(exc))
        elapsed = time.perf_counter() - started
    if exits:
        failure = SeedFailure(
            f"called os._exit({exits[0]}), which would have ended pybench without a verdict;"
            " a seed must return its value"
        )
    values = None
    if failure is None:
        try:
            values = normalize(raw)
        except ReturnValueError as exc:
            failure = SeedFailure(str(exc))
    return SeedOutcome(
        index,
        seed,
        values=values,
        failure=failure,
        elapsed=elapsed,
        stdout=output.stdout,
        stderr=output.stderr,
    )


_REAL_EXIT = os._exit
_exit_lock = threading.Lock()
_exit_watchers: list[list[int]] = []


class RefusedExit(SystemExit):
    """``os._exit`` called where pybench refuses it (a seed, a benchmark file's import)."""

    shown_as = "SystemExit"

    def __str__(self) -> str:
        return f"called os._exit({self.code}), which would have ended pybench without a verdict"


def _refuse_exit(status: int) -> NoReturn:
    """``os._exit`` while a seed runs: in this process, end the calling thread instead."""
    if os.getpid() != _OWNER_PID[0]:  # a child forked by the benchmark exits as it means to
        _REAL_EXIT(status)
    with _exit_lock:
        for watcher in _exit_watchers:
            watcher.append(status)
    raise RefusedExit(status)


_OWNER_PID = [os.getpid()]


@contextlib.contextmanager
def _exits_refused() -> Iterator[list[int]]:
    """While the block runs, ``os._exit`` called in this process (by the seed or a thread it
    started) raises ``SystemExit`` in its caller; the codes it was called with are listed."""
    calls: list[int] = []
    with _exit_lock:
        _OWNER_PID[0] = os.getpid()
        _exit_watchers.append(calls)
        os._exit = _refuse_exit
    try:
        yield calls
    finally:
        with _exit_lock:
            _exit_watchers.remove(calls)
            if not _exit_watchers:
                os._exit = _REAL_EXIT


@contextlib.contextmanager
def guarded_import(capture: bool) -> Iterator[Captured]:
    """Around the import of a benchmark file in this process: what it prints is captured
    (when ``capture``) and ``os._exit`` is refused, so a file that calls it is a failed
    import, not pybench ending with no verdict."""
    with capture_output(capture) as printed, _exits_refused():
        yield printed


class Backend(Protocol):
    """Runs the seeds of one benchmark; see :class:`SerialBackend` for the contract."""

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        """Yield one outcome per seed as each finishes (in any order).

        Closing the iterator early cancels the seeds not yet started.
        """
        ...

    def close(self) -> None:
        """Release workers; outstanding seeds are cancelled."""
        ...


class SerialBackend:
    """Runs seeds one after another in this process.

    Args:
        capture: keep what each seed prints on its outcome (:mod:`pybench.execution.capture`).
    """

    def __init__(self, *, capture: bool = False):
        self.capture = capture

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        for index, seed in enumerate(seeds):
            yield evaluate_seed(bench.func, index, seed, capture=self.capture)

    def close(self) -> None:
        pass


def close_stream(stream: Iterator[Any]) -> None:
    """Close a generator of outcomes early (cancels its seeds not yet started)."""
    close = getattr(stream, "close", None)
    if close is not None:
        close()
