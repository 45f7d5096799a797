"""Dask: run each seed as a task on a ``distributed`` cluster (the optional ``dask`` extra).

The benchmark file and the sibling modules it imports travel inside each task
(:mod:`pybench.execution.bundle`), so the workers need no shared filesystem.
``distributed`` is imported only when a Dask back-end is used.
"""

from __future__ import annotations

import contextlib
import logging
import os
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.benchmark import Benchmark
from ..core.errors import PybenchError
from ..core.seeds import SeedFailure, SeedOutcome
from ..core.settings import row
from . import interrupts
from .bundle import Bundle, BundleError, pack
from .bundle import load as load_bundle
from .evaluate import evaluate_seed
from .versions import VersionMismatch, mismatches, package_versions

__all__ = [
    "BackendError",
    "ClusterNotes",
    "DaskBackend",
    "DaskMissingError",
    "dask_client",
    "dask_timeout",
]


class BackendError(PybenchError):
    """A back-end that cannot be started as asked (bad ``--dask`` address, bad combination)."""


class DaskMissingError(BackendError):
    """``--dask`` was asked for but the optional ``distributed`` package is not installed."""


_DASK_LOGGERS = ("distributed", "tornado", "bokeh")
_MAX_LOG_LINES = 1000


def _dask_run_seed(
    bundle: Bundle, name: str, index: int, seed: int, env: dict[str, str | None]
) -> SeedOutcome:
    """One seed on a Dask worker: import the shipped benchmark (once per digest), then call it."""
    try:
        func = load_bundle(bundle, name, env)
    except PybenchError as exc:
        return SeedOutcome(
            index, seed, failure=SeedFailure(f"could not be imported on a Dask worker: {exc}")
        )
    return evaluate_seed(func, index, seed, env, refuse_exit=False)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"--dask needs the optional Dask dependency ({exc}); "
            "install it with `uv pip install distributed` (what pybench's `dask` extra installs)"
        ) from None
    return distributed


class HeldBackLog(logging.Filter):
    """Keeps Dask's log records below ERROR off the terminal; remembers them for the details."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        if len(self.lines) < _MAX_LOG_LINES:
            try:
                message = record.getMessage()
            except Exception:  # a malformed record is Dask's problem, not the run's
                message = str(record.msg)
            self.lines.append(f"{record.name} - {record.levelname} - {message}")
        return False


@contextlib.contextmanager
def _held_back_dask_logs() -> Iterator[HeldBackLog]:
    """Filter every logger of Dask (and its Tornado and Bokeh) in this process for the block."""
    held = HeldBackLog()
    loggers = [logging.getLogger(name) for name in _DASK_LOGGERS] + [
        logger
        for name, logger in list(logging.root.manager.loggerDict.items())
        if isinstance(logger, logging.Logger) and name.partition(".")[0] in _DASK_LOGGERS
    ]
    for logger in loggers:
        logger.addFilter(held)
    try:
        yield held
    finally:
        for logger in loggers:
            logger.removeFilter(held)


@dataclass(frozen=True)
class ClusterNotes:
    """What the Dask cluster did while one benchmark ran, for the benchmark's details."""

    rescheduled: int = 0
    """How many times one of its seeds was moved to another worker because the
    worker running it (or holding its result) was lost."""
    log: tuple[str, ...] = ()
    """Dask's log lines below ERROR from this process, held back from the terminal."""


class DaskBackend:
    """Runs each seed as a task on a Dask ``distributed`` cluster.

    The benchmark file and the sibling modules it imports travel inside each
    task (:mod:`pybench.execution.bundle`), so the workers need no shared filesystem;
    the forwarded variables are set around each seed's call. A worker that dies
    while running a seed makes the scheduler retry it elsewhere (counted in
    :attr:`notes`); a seed that keeps killing workers (``KilledWorker``)
    becomes a :class:`SeedFailure`.

    Args:
        client: a connected ``distributed.Client``.
        bundle: returns the shipped form of a benchmark (packs it by default).
        env: forwarded variables (see :func:`forwarded_env`).
        log: where Dask's held-back log lines are collected, if anywhere.
    """

    def __init__(
        self,
        client: Any,
        *,
        bundle: Callable[[Benchmark], Bundle] | None = None,
        env: Mapping[str, str | None] | None = None,
        log: HeldBackLog | None = None,
    ):
        self._client = client
        self._bundle = bundle or (lambda bench: pack(bench.path))
        self._env = dict(env or {})
        self._log = log
        self.notes = ClusterNotes()
        """What the cluster did during the latest :meth:`map_seeds` (final once it ends)."""

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        """Submit every seed, yield outcomes as they complete; closing early cancels the rest."""
        distributed = _import_distributed()
        from distributed.scheduler import KilledWorker

        self.notes = ClusterNotes()
        rescheduled = 0
        log_from = len(self._log.lines) if self._log is not None else 0
        try:
            bundle = self._bundle(bench)
        except BundleError as exc:
            if seeds:
                failure = SeedFailure(f"could not be shipped to the Dask workers: {exc}")
                yield SeedOutcome(0, seeds[0], failure=failure)
            return
        run_id = uuid.uuid4().hex[:8]
        pending: dict[str, Any] = {}
        where: dict[str, tuple[int, int]] = {}

        def on_event(event: Any) -> None:  # runs in the client's event loop thread
            nonlocal rescheduled
            msg = event[1] if isinstance(event, tuple) and len(event) == 2 else event
            if not isinstance(msg, dict) or msg.get("action") != "remove-worker":
                return
            moved = [*msg.get("processing-tasks", ()), *msg.get("lost-computed-tasks", ())]
            rescheduled += sum(1 for key in moved if key in pending)

        subscribed = False
        try:
            with contextlib.suppress(Exception):
                self._client.subscribe_topic("all", on_event)
                subscribed = True
            for index, seed in enumerate(seeds):
                key = f"pybench-{bench.name}-{run_id}-{index}"
                where[key] = (index, seed)
                pending[key] = self._client.submit(
                    _dask_run_seed,
                    bundle,
                    bench.name,
                    index,
                    seed,
                    self._env,
                    pure=False,
                    key=key,
                )
            completed = iter(distributed.as_completed(list(pending.values())))
            for future in interrupts.interruptibly(completed):
                index, seed = where[future.key]
                outcome = _result(future, index, seed, KilledWorker)
                # The value is here: a worker lost from now on must not recompute it.
                pending.pop(future.key, None)
                future.release()
                yield outcome
        finally:
            outstanding = list(pending.values())
            pending.clear()
            if outstanding:
                with contextlib.suppress(Exception):
                    self._client.cancel(outstanding)
            if subscribed:
                with contextlib.suppress(Exception):
                    self._client.unsubscribe_topic("all")
            log = self._log.lines[log_from:] if self._log is not None else []
            self.notes = ClusterNotes(rescheduled, tuple(log))

    def version_mismatches(self, bench: Benchmark) -> list[VersionMismatch]:
        """Packages whose versions on a worker differ from here (:mod:`pybench.execution.versions`).

        Checks Python, numpy, pybench and the installed packages the benchmark
        and its sibling modules import, on every worker connected now. A
        benchmark that cannot be shipped, or a cluster that does not answer, has
        none: running it reports the problem.
        """
        try:
            names = self._bundle(bench).imports
        except BundleError:
            return []
        here = package_versions(names)
        try:
            remote = self._client.run(package_versions, names, on_error="ignore")
        except Exception:  # e.g. the scheduler went away; the run itself will say so
            return []
        return mismatches(here, {str(w): v for w, v in remote.items() if isinstance(v, dict)})

    def close(self) -> None:
        """Nothing to release: the client and cluster belong to :func:`open_pool`."""


def _result(future: Any, index: int, seed: int, killed: type[Exception]) -> SeedOutcome:
    """The outcome a finished Dask future holds; the cluster's failure as the seed's."""
    try:
        outcome: SeedOutcome = future.result()
    except killed as exc:
        failure = SeedFailure(
            f"killed every Dask worker that ran it ({getattr(exc, 'allowed_failures', 0) + 1}"
            f" workers died, the last was {_worker_address(exc)}); check the"
            " worker logs for running out of memory or a crash in native code"
        )
        return SeedOutcome(index, seed, failure=failure)
    except Exception as exc:  # the cluster's failure, reported as the seed's
        failure = SeedFailure(f"failed on the Dask cluster: {type(exc).__name__}: {exc}")
        return SeedOutcome(index, seed, failure=failure)
    return outcome


def _worker_address(exc: Any) -> str:
    last = getattr(exc, "last_worker", None)
    return str(getattr(last, "address", last) or "unknown")


def _parse_local(address: str) -> int | None:
    """``local:N`` -> N; ``None`` for a scheduler address."""
    if not address.startswith("local:"):
        return None
    text = address.removeprefix("local:")
    if not text.isdigit() or int(text) < 1:
        raise BackendError(
            f"--dask {address}: expected local:N with N >= 1 worker processes, e.g. local:4"
        )
    return int(text)


def _connect(distributed: Any, address: str) -> Any:
    # pybench compares versions itself, per benchmark (Pool.version_mismatches).
    from distributed.versions import VersionMismatchWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", VersionMismatchWarning)
        try:
            return distributed.Client(address)
        except (OSError, TimeoutError, ValueError) as exc:
            raise BackendError(
                f"--dask {address}: cannot connect to a Dask scheduler there ({exc}); "
                "check the address (e.g. tcp://host:8786) or use --dask local:N"
            ) from None


def dask_timeout(given: float | None = None) -> float:
    """Seconds to wait for a worker: ``given``, else ``PYBENCH_DASK_TIMEOUT``, else the default
    of the ``dask_timeout`` row (:data:`pybench.core.settings.TABLE`)."""
    if given is not None:
        return given
    setting = row("dask_timeout")
    from_env = setting.from_env(os.environ)
    return float(from_env if from_env is not None else setting.default)


def _wait_for_workers(client: Any, address: str, timeout: float) -> None:
    """Wait until the scheduler has at least one worker, at most ``timeout`` seconds.

    Raises:
        BackendError: no worker joined in time (tasks would wait for one forever).
    """
    try:
        with interrupts.interruptible():
            client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise BackendError(
            f"--dask {address}: the scheduler has no worker (none joined within {timeout:g}s,"
            f" --dask-timeout); start one with `dask worker {address}`, or raise --dask-timeout"
            + (f" ({exc})" if str(exc) else "")
        ) from None


@contextlib.contextmanager
def dask_client(address: str, timeout: float | None = None) -> Iterator[tuple[Any, HeldBackLog]]:
    """A client of the scheduler at ``address`` (``local:N`` starts a local cluster) that has
    at least one worker, and the held-back log of Dask's loggers.

    Args:
        address: a scheduler address or ``local:N``.
        timeout: seconds to wait for a worker (:func:`dask_timeout`).

    Raises:
        BackendError: no scheduler answers there, or no worker joined in time.
    """
    n_local = _parse_local(address)
    distributed = _import_distributed()

    with _held_back_dask_logs() as held:
        cluster = None
        try:
            if n_local is not None:
                cluster = distributed.LocalCluster(
                    n_workers=n_local,
                    threads_per_worker=1,
                    processes=True,
                    dashboard_address=":0",  # any free port: never clash with another cluster
                    silence_logs=logging.ERROR,
                )
                client = _connect(distributed, cluster.scheduler_address)
            else:
                client = _connect(distributed, address)
            try:
                _wait_for_workers(client, address, dask_timeout(timeout))
                yield client, held
            finally:
                with contextlib.suppress(Exception):
                    client.close()
        finally:
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


