"""Execution back-ends: where a benchmark's seeds run.

:func:`open_pool` is entered once per pybench run; its :meth:`Pool.backend_for`
hands out a :class:`pybench.execution.evaluate.Backend` for each benchmark:

- :class:`pybench.execution.evaluate.SerialBackend`: one seed after another in this process;
- :class:`ProcessBackend`: a pool of local worker processes, optionally one per
  GPU with ``CUDA_VISIBLE_DEVICES`` set to it, and the back-end of any benchmark
  with a per-seed ``timeout`` (a seed past it is stopped by killing its worker);
- :class:`DaskBackend`: tasks on a Dask ``distributed`` cluster (optional extra),
  which carry the benchmark's sources with them (:mod:`pybench.execution.bundle`).

Every back-end runs seeds through :func:`pybench.execution.evaluate.evaluate_seed`, so a
benchmark's values do not depend on where they were computed; a worker sets the
forwarded variables (:func:`forwarded_env`) around each call. A worker that
dies hard becomes a :class:`pybench.execution.evaluate.SeedFailure` for the seed it was
running, never a hang. :meth:`Pool.version_mismatches` compares a Dask
cluster's package versions with this process's before a benchmark runs.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import multiprocessing
import os
import signal
import time
import uuid
import warnings
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..core.errors import PybenchError
from ..core.settings import env_name_problem
from ..sources.discover import Benchmark, load_benchmark
from . import interrupts
from .bundle import Bundle, BundleError, pack
from .bundle import load as load_bundle
from .evaluate import Backend, SeedFailure, SeedOutcome, SerialBackend, evaluate_seed
from .versions import VersionMismatch, mismatches, package_versions

__all__ = [
    "THREAD_VARIABLES",
    "BackendError",
    "ClusterNotes",
    "DaskBackend",
    "DaskMissingError",
    "Pool",
    "ProcessBackend",
    "forwarded_env",
    "kill_workers",
    "open_pool",
    "threads_per_worker",
]

_STOP_GRACE_S = 2.0
"""How long a worker may take to exit after SIGTERM before it is killed."""


class BackendError(PybenchError):
    """A back-end that cannot be started as asked (bad ``--dask`` address, bad combination)."""


class DaskMissingError(BackendError):
    """``--dask`` was asked for but the optional ``distributed`` package is not installed."""


# -- native thread pools ----------------------------------------------------------
THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMEXPR_NUM_THREADS",
    "VECLIB_MAXIMUM_THREADS",
)
"""The variables that size native thread pools (OpenMP, which PyTorch's intra-op pool
also reads, and the BLAS libraries); each worker sets those the user has not."""

_BLAS_VARIABLES = frozenset(
    {"OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"}
)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def threads_per_worker(workers: int) -> int | None:
    """Native threads each of ``workers`` processes may use: ``max(1, cores // workers)``.

    ``None`` for a single worker, which keeps the libraries' own defaults (as a
    serial run does).
    """
    if workers <= 1:
        return None
    return max(1, _cores() // workers)


def _limit_threads(threads: int) -> None:
    """Size this worker's native thread pools, leaving alone what the user set.

    The variables are read by each library when it is loaded, so they cover
    everything the benchmark imports; ``threadpoolctl`` resizes the pools of
    libraries already loaded in this process.
    """
    user_set = {name for name in THREAD_VARIABLES if name in os.environ}
    for name in THREAD_VARIABLES:
        os.environ.setdefault(name, str(threads))
    apis = []
    if "OMP_NUM_THREADS" not in user_set:
        apis.append("openmp")
    if not user_set & _BLAS_VARIABLES:
        apis.append("blas")
    if not apis:
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a declared dependency; degrade to the variables
        return
    for api in apis:
        with contextlib.suppress(Exception):  # a library threadpoolctl cannot drive
            threadpool_limits(limits=threads, user_api=api)


# -- local worker processes ---------------------------------------------------
@dataclass(frozen=True)
class _Started:
    """A worker's note that it began the seed it was sent (starts the timeout's clock)."""

    index: int


@dataclass(frozen=True)
class _WorkerOptions:
    """How a worker sets itself up (see :class:`ProcessBackend`)."""

    capture: bool = False
    threads: int | None = None
    gpu: int | None = None
    sys_path: tuple[str, ...] = ()
    env: dict[str, str | None] | None = None


def _worker_main(
    conn: Connection, path: str, name: str, environ: dict[str, str], options: _WorkerOptions
) -> None:
    """The loop of one worker process: import the benchmark once, then run seeds on request.

    Receives ``(index, seed)`` tuples and answers each with a :class:`_Started`
    note and then a :class:`SeedOutcome`; ``None`` or a closed connection ends the loop.
    ``environ`` is the whole environment the worker starts with; ``options.env`` the
    forwarded variables set around each call.
    """
    # Ctrl-C on a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forkserver child inherits the server's environment, not the parent's current one.
    os.environ.clear()
    os.environ.update(environ)
    if options.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(options.gpu)
    if options.threads is not None:
        _limit_threads(options.threads)
    if options.sys_path:
        from ..sources.revisions import shadow_imports

        shadow_imports([Path(p) for p in options.sys_path])
    func: Callable[[int], Any] | None = None
    load_error = ""
    try:
        func = load_benchmark(Path(path), name)
    except PybenchError as exc:
        load_error = str(exc)
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        index, seed = task
        if func is None:
            outcome = SeedOutcome(
                index, seed, failure=SeedFailure(f"could not be run in a worker: {load_error}")
            )
        else:
            try:
                conn.send(_Started(index))
            except (EOFError, OSError):
                return
            outcome = evaluate_seed(func, index, seed, options.env, capture=options.capture)
        try:
            conn.send(outcome)
        except (EOFError, OSError):
            return


def _context() -> Any:
    """``forkserver`` if available (no inherited threads or locks, cheap starts), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Takes effect when the server starts: its children begin with numpy and pybench imported.
        ctx.set_forkserver_preload(["pybench.execution.backends"])
        return ctx
    return multiprocessing.get_context("spawn")


def _death_reason(exitcode: int | None) -> str:
    if exitcode is None:
        return "stopped answering"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = f"signal {-exitcode}"
        hint = {
            "SIGKILL": ": killed, often by the out-of-memory killer",
            "SIGSEGV": ": a segmentation fault in native code",
            "SIGBUS": ": a bus error in native code",
            "SIGABRT": ": aborted by native code",
        }.get(name, "")
        return f"died (exit code {exitcode}, {name}{hint})"
    return f"died (exit code {exitcode}: os._exit() or an exit from native code)"


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    gpu: int | None
    task: tuple[int, int] | None = None
    started: float | None = None
    """When the worker began its task (``time.monotonic``); ``None`` before it says so."""


_LIVE: weakref.WeakSet[ProcessBackend] = weakref.WeakSet()


@atexit.register
def _close_live_backends() -> None:
    # Runs before multiprocessing's own exit handler, which would wait for our
    # (non-daemonic) workers forever if a backend was never closed.
    for backend in list(_LIVE):
        backend.close()


def kill_workers() -> None:
    """SIGKILL every worker process of every open :class:`ProcessBackend`, without waiting.

    For a second Ctrl-C, which exits at once.
    """
    for backend in list(_LIVE):
        backend.kill()


class ProcessBackend:
    """Runs seeds in local worker processes, one seed per worker at a time.

    Each worker imports the benchmark file by path once and keeps it for every
    seed it runs. With ``gpus``, there is one worker per listed GPU and its
    ``CUDA_VISIBLE_DEVICES`` is set to that GPU before the file is imported.
    Workers are not daemonic, so a benchmark may start processes of its own
    (e.g. a data loader).

    Each worker limits its native thread pools to ``cores // workers`` threads
    (:func:`threads_per_worker`) unless the user set the variables that size them.

    Args:
        workers: the number of worker processes (ignored when ``gpus`` is given).
        gpus: one worker per entry, pinned to that GPU.
        sys_path: folders whose code the workers import first, ahead of anything
            installed (see :func:`pybench.sources.revisions.shadow_imports`); used to run a
            benchmark against one git revision's sources.
        env: forwarded variables (see :func:`forwarded_env`), set around each
            seed's call and restored after it, as on a Dask worker.
        timeout: seconds a seed may run, counted from when its worker starts it;
            a seed past it is a failure and its worker is killed.
        capture: keep what each seed prints on its outcome.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        gpus: Sequence[int] | None = None,
        sys_path: Sequence[str | os.PathLike[str]] = (),
        env: Mapping[str, str | None] | None = None,
        timeout: float | None = None,
        capture: bool = False,
    ):
        self._slots: list[int | None] = list(gpus) if gpus else [None] * max(1, workers)
        self._sys_path = tuple(str(p) for p in sys_path)
        self._env = dict(env or {})
        self._workers: list[_Worker | None] = []
        self._stopping: list[_Worker] = []
        self._timeout = timeout
        self._capture = capture
        self._threads = threads_per_worker(len(self._slots))
        _LIVE.add(self)

    def _start(self, bench: Benchmark, gpu: int | None) -> _Worker:
        ctx = _context()
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        options = _WorkerOptions(
            capture=self._capture,
            threads=self._threads,
            gpu=gpu,
            sys_path=self._sys_path,
            env=self._env,
        )
        process = ctx.Process(
            target=_worker_main,
            args=(child_conn, str(bench.path), bench.name, dict(os.environ), options),
            name=f"pybench-{bench.name}" + (f"-gpu{gpu}" if gpu is not None else ""),
        )
        process.start()
        child_conn.close()
        return _Worker(process, parent_conn, gpu)

    def _prepare(self, n_seeds: int) -> None:
        wanted = min(len(self._slots), max(1, n_seeds))
        while len(self._workers) < wanted:
            self._workers.append(None)  # started on first use

    def _dispatch(self, bench: Benchmark, i: int, task: tuple[int, int]) -> SeedOutcome | None:
        """Send ``task`` to worker ``i``, starting it if needed; an outcome if it is dead."""
        worker = self._workers[i]
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                self._stop(worker)
            try:
                worker = self._workers[i] = self._start(bench, self._slots[i])
            except OSError as exc:  # e.g. out of processes or memory
                self._workers[i] = None
                index, seed = task
                return SeedOutcome(
                    index, seed, failure=SeedFailure(f"could not start a worker process: {exc}")
                )
        worker.task = task
        worker.started = None
        try:
            worker.conn.send(task)
        except OSError:
            return self._died(i)
        return None

    def _timed_out(self, i: int) -> SeedOutcome:
        """Kill worker ``i``, whose seed ran past the timeout; that seed's failure."""
        worker = self._workers[i]
        assert worker is not None and worker.task is not None
        with contextlib.suppress(OSError, ValueError):
            worker.process.kill()
        worker.process.join(_STOP_GRACE_S)
        self._stop(worker)
        self._workers[i] = None
        index, seed = worker.task
        limit = f"{self._timeout:g}s"
        return SeedOutcome(
            index,
            seed,
            failure=SeedFailure(
                f"ran past the per-seed timeout of {limit} and was stopped (its worker process"
                f" was killed); raise `timeout` (or --timeout) if a seed needs longer"
            ),
            elapsed=self._timeout or 0.0,
        )

    def _next_deadline(self) -> float | None:
        """Seconds until the first running seed's timeout; ``None`` without one."""
        if self._timeout is None:
            return None
        starts = [w.started for w in self._workers if w is not None and w.started is not None]
        if not starts:
            return None
        return max(0.0, min(starts) + self._timeout - time.monotonic())

    def _died(self, i: int) -> SeedOutcome:
        """Forget dead worker ``i``; the failure of the seed it was running."""
        worker = self._workers[i]
        assert worker is not None and worker.task is not None
        worker.process.join(_STOP_GRACE_S)
        exitcode = worker.process.exitcode
        self._stop(worker)
        self._workers[i] = None
        index, seed = worker.task
        return SeedOutcome(
            index,
            seed,
            failure=SeedFailure(f"was running when its worker process {_death_reason(exitcode)}"),
        )

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        """Yield one outcome per seed as each finishes; closing early stops the workers."""
        self._prepare(len(seeds))
        pending = deque(enumerate(seeds))
        finished = False
        try:
            ready_outcomes: list[SeedOutcome] = []
            while True:
                for i, worker in enumerate(self._workers):
                    if pending and (worker is None or worker.task is None):
                        dead = self._dispatch(bench, i, pending.popleft())
                        if dead is not None:
                            ready_outcomes.append(dead)
                yield from ready_outcomes
                ready_outcomes.clear()
                busy = {
                    i: w
                    for i, w in enumerate(self._workers)
                    if w is not None and w.task is not None
                }
                if not busy:
                    if not pending:
                        break
                    continue
                waitables: list[Any] = []
                for w in busy.values():
                    waitables += [w.conn, w.process.sentinel]
                with interrupts.interruptible():  # Ctrl-C stops the wait at once
                    ready = set(wait(waitables, timeout=self._next_deadline()))
                now = time.monotonic()
                for i, w in busy.items():
                    if w.conn in ready:
                        try:
                            outcome = w.conn.recv()
                        except (EOFError, OSError):
                            ready_outcomes.append(self._died(i))
                            continue
                        if isinstance(outcome, _Started):
                            w.started = now
                            continue
                        w.task = w.started = None
                        # Hand the worker its next seed before the caller sees this one.
                        if pending:
                            dead = self._dispatch(bench, i, pending.popleft())
                            if dead is not None:
                                ready_outcomes.append(dead)
                        ready_outcomes.append(outcome)
                    elif w.process.sentinel in ready:
                        ready_outcomes.append(self._died(i))
                    elif (
                        self._timeout is not None
                        and w.started is not None
                        and now - w.started >= self._timeout
                    ):
                        ready_outcomes.append(self._timed_out(i))
            finished = True
        finally:
            if not finished:  # closed early, an error, or Ctrl-C: cancel what is running
                self.close()

    def _stop(self, worker: _Worker) -> None:
        process = worker.process
        with contextlib.suppress(OSError, ValueError):
            if process.is_alive():
                if worker.task is None:
                    worker.conn.send(None)
                else:
                    process.terminate()
        with contextlib.suppress(OSError):
            worker.conn.close()

    def close(self) -> None:
        """Stop every worker: idle ones exit, busy ones are terminated (then killed)."""
        workers = [w for w in self._workers if w is not None]
        self._workers = []
        self._stopping = workers  # still killable by kill() while they stop
        for worker in workers:
            self._stop(worker)
        deadline = time.monotonic() + _STOP_GRACE_S
        for worker in workers:
            worker.process.join(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if worker.process.exitcode is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()
                worker.process.join(_STOP_GRACE_S)
            with contextlib.suppress(ValueError):
                worker.process.close()
        self._stopping = []

    def kill(self) -> None:
        """SIGKILL every worker now, without waiting for it (a second Ctrl-C)."""
        for worker in [*self._workers, *self._stopping]:
            if worker is not None:
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()

    @property
    def pids(self) -> list[int]:
        """The process ids of the live workers (for tests and diagnostics)."""
        return [w.process.pid for w in self._workers if w is not None and w.process.pid]


# -- the forwarded environment ----------------------------------------------------
FORWARDED_PREFIX = "PYBENCH_"
"""Variables with this prefix travel with every seed without being named."""


def forwarded_env(
    names: Iterable[str] = (), environ: Mapping[str, str] | None = None
) -> dict[str, str | None]:
    """The variables each seed's call sees as they are here: ``names`` and every ``PYBENCH_*``.

    A named variable that is not set here maps to ``None``: it is unset for the
    call on the worker too.

    Raises:
        BackendError: a name that is not a variable name.
    """
    environ = os.environ if environ is None else environ
    env: dict[str, str | None] = {
        name: value for name, value in environ.items() if name.startswith(FORWARDED_PREFIX)
    }
    for name in names:
        problem = env_name_problem(name)
        if problem is not None:
            raise BackendError(f"--env {name!r}: {problem}")
        env[name] = environ.get(name)
    return dict(sorted(env.items()))


# -- Dask ---------------------------------------------------------------------
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
    return evaluate_seed(func, index, seed, env)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"--dask needs the optional Dask dependency ({exc}); "
            "install it with `uv pip install distributed` (what pybench's `dask` extra installs)"
        ) from None
    return distributed


class _HeldBackLog(logging.Filter):
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
def _held_back_dask_logs() -> Iterator[_HeldBackLog]:
    """Filter every logger of Dask (and its Tornado and Bokeh) in this process for the block."""
    held = _HeldBackLog()
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
        log: _HeldBackLog | None = None,
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
                try:
                    outcome = future.result()
                except KilledWorker as exc:
                    outcome = SeedOutcome(
                        index,
                        seed,
                        failure=SeedFailure(
                            f"killed every Dask worker that ran it ({exc.allowed_failures + 1}"
                            f" workers died, the last was {_worker_address(exc)}); check the"
                            " worker logs for running out of memory or a crash in native code"
                        ),
                    )
                except Exception as exc:  # the cluster's failure, reported as the seed's
                    outcome = SeedOutcome(
                        index,
                        seed,
                        failure=SeedFailure(
                            f"failed on the Dask cluster: {type(exc).__name__}: {exc}"
                        ),
                    )
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


@contextlib.contextmanager
def _dask_client(address: str) -> Iterator[tuple[Any, _HeldBackLog]]:
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
                yield client, held
            finally:
                with contextlib.suppress(Exception):
                    client.close()
        finally:
            if cluster is not None:
                with contextlib.suppress(Exception):
                    cluster.close()


# -- the pool ------------------------------------------------------------------
class Pool:
    """Hands out the back-end each benchmark runs on.

    Args:
        dask_client: a connected ``distributed.Client``, to run seeds on Dask.
        dask_log: the held-back log of the ``distributed`` loggers (see :class:`ClusterNotes`).
        capture: capture each seed's output in local runs (``-s`` turns it off);
            seeds run on Dask write to the Dask workers' logs.
    """

    def __init__(
        self, dask_client: Any = None, dask_log: _HeldBackLog | None = None, *, capture: bool = True
    ):
        self._client = dask_client
        self._log = dask_log
        self._bundles: dict[Path, Bundle] = {}
        self.capture = capture

    def _bundle(self, bench: Benchmark) -> Bundle:
        """The benchmark's shipped form, read once per run (the version check sees what runs)."""
        bundle = self._bundles.get(bench.path)
        if bundle is None:
            bundle = self._bundles[bench.path] = pack(bench.path)
        return bundle

    def backend_for(
        self,
        bench: Benchmark,
        *,
        workers: int,
        gpus: tuple[int, ...] | None,
        env: Sequence[str] = (),
        timeout: float | None = None,
    ) -> Backend:
        """The back-end for ``bench``: Dask if connected, else GPU workers, processes or serial.

        Args:
            bench: the benchmark.
            workers: local worker processes wanted.
            gpus: one local worker per GPU, if given.
            env: names of variables to forward besides every ``PYBENCH_*`` one
                (:func:`forwarded_env`): a worker sets them, as they are now, around
                each seed's call. A serial run already sees this environment.
            timeout: seconds a seed may run. It needs a process that can be killed,
                so even a single worker's seeds then run in a worker process. Dask
                does not enforce it.

        Raises:
            BackendError: GPU pinning was asked for together with Dask, or a
                name that is not a variable name.
        """
        forwarded = forwarded_env(env)
        if self._client is not None:
            if gpus:
                raise BackendError(
                    f"{bench.name}: GPU pinning (--gpus / gpus=) cannot be combined with --dask; "
                    "give each Dask worker its own GPU instead (e.g. dask-cuda)"
                )
            return DaskBackend(self._client, bundle=self._bundle, env=forwarded, log=self._log)
        if gpus:
            return ProcessBackend(gpus=gpus, env=forwarded, timeout=timeout, capture=self.capture)
        if workers > 1 or timeout is not None:
            return ProcessBackend(
                workers=workers, env=forwarded, timeout=timeout, capture=self.capture
            )
        return SerialBackend(capture=self.capture)

    def kill(self) -> None:
        """Kill every local worker process at once (a second Ctrl-C)."""
        kill_workers()

    def version_mismatches(self, bench: Benchmark) -> list[VersionMismatch]:
        """Where the workers' versions differ from here; always empty for local back-ends.

        Call it before the benchmark's seeds run; whether a mismatch is a warning
        or an error is the caller's choice.
        """
        if self._client is None:
            return []  # local workers run this very interpreter and environment
        return DaskBackend(self._client, bundle=self._bundle).version_mismatches(bench)


@contextlib.contextmanager
def open_pool(*, dask: str | None = None, capture: bool = True) -> Iterator[Pool]:
    """The back-ends of one run.

    With Dask, the ``distributed`` loggers of this process are held below
    ERROR for the whole run (see :class:`ClusterNotes`).

    Args:
        dask: a Dask scheduler address (``tcp://host:8786``), or ``local:N`` to
            start a ``LocalCluster`` of N single-threaded worker processes for
            the run; ``None`` for local execution.
        capture: capture each seed's output (see :class:`Pool`).

    Raises:
        DaskMissingError: ``dask`` was given but ``distributed`` is not installed.
        BackendError: the address is malformed or no scheduler answers there.
    """
    if not dask:
        yield Pool(capture=capture)
        return
    with _dask_client(dask) as (client, held):
        yield Pool(client, held, capture=capture)
