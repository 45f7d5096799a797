"""Execution back-ends: where a benchmark's seeds run, with one pool of workers per run.

:func:`open_pool` is entered once per pybench run; its :meth:`Pool.backend_for`
hands out a :class:`~pybench.execution.evaluate.Backend` for each benchmark:

- :class:`~pybench.execution.evaluate.SerialBackend`: one seed after another in this process;
- :class:`ProcessBackend`: local worker processes, optionally one per GPU with
  ``CUDA_VISIBLE_DEVICES`` set to it, the back-end of any benchmark with a
  per-seed ``timeout`` (a seed past it is stopped by killing its worker), and of
  each side of ``pybench compare`` (workers that import that side's code first);
- :class:`~pybench.execution.dask.DaskBackend`: tasks on a Dask cluster.

The pool keeps its worker processes for the whole run: every benchmark that
asks for the same workers (count or GPUs, and code source) reuses them, so a
benchmark's imports are paid once per worker, not once per benchmark. Each task
carries its benchmark, its forwarded variables and whether to capture output;
the timeout is enforced per seed by the parent. A worker that dies hard
becomes a :class:`~pybench.core.seeds.SeedFailure` for the seed it was running,
never a hang.

A run may start its workers before this process imports the benchmark files
(:class:`EarlyWorkers`, handed to :func:`open_pool`): each worker then imports
those files while discovery here imports them too, so that its first seed finds
them imported (:meth:`ProcessBackend.start`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from ..core.benchmark import Benchmark
from ..core.errors import PybenchError
from ..core.seeds import SeedFailure, SeedOutcome
from ..core.settings import env_name_problem
from ..sources.discover import add_import_roots, function_in, load_module
from ..sources.shadow import shadow_imports
from . import interrupts
from .bundle import Bundle, pack
from .capture import capture as capture_output
from .dask import BackendError, DaskBackend, HeldBackLog, dask_client
from .evaluate import Backend, SerialBackend, evaluate_seed
from .versions import VersionMismatch

if TYPE_CHECKING:  # multiprocessing is imported when a run first starts workers
    from multiprocessing.connection import Connection

__all__ = [
    "THREAD_VARIABLES",
    "CallOptions",
    "EarlyWorkers",
    "Pool",
    "ProcessBackend",
    "early_workers",
    "forwarded_env",
    "kill_workers",
    "open_pool",
    "threads_per_worker",
]

_STOP_GRACE_S = 2.0
"""How long a worker may take to exit after SIGTERM before it is killed."""

_WAIT_SLICE_S = 0.25
"""The longest one wait for the workers lasts before it is begun again. A Ctrl-C that the
kernel hands to another thread of this process (a BLAS library's, as it may when the main
thread cannot take it at that moment, after a stop and continue say) only marks the signal
and does not end the wait; it is acted on when the wait returns, so within this long
instead of when a seed finishes."""


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
class _Preloading:
    """A worker's note that it began importing a benchmark file ahead of its tasks
    (``path``), or that it stopped doing so (``None``: it takes tasks now)."""

    path: str | None


@dataclass(frozen=True)
class CallOptions:
    """How one benchmark's seeds are called in a worker (per benchmark, not per worker)."""

    env: Mapping[str, str | None] = field(default_factory=dict)
    """Forwarded variables (see :func:`forwarded_env`), set around each seed's call."""
    timeout: float | None = None
    """Seconds a seed may run, counted from when its worker starts it (and, on their own,
    seconds a worker may take to start and import the benchmark)."""
    capture: bool = False
    """Keep what each seed prints on its outcome."""


@dataclass(frozen=True)
class _Task:
    """One seed for a worker: the benchmark (imported once per worker), the call's options."""

    path: str
    name: str
    index: int
    seed: int
    env: dict[str, str | None]
    capture: bool


@dataclass(frozen=True)
class _WorkerOptions:
    """How a worker sets itself up when it starts (see :class:`ProcessBackend`)."""

    threads: int | None = None
    gpu: int | None = None
    sys_path: tuple[str, ...] = ()
    preload: tuple[str, ...] = ()
    """Benchmark files to import before the first task, while no task waits."""
    capture: bool = True
    """Capture what the preloaded imports print (kept with a failed import)."""


def _set_up_worker(environ: dict[str, str], options: _WorkerOptions) -> None:
    # Ctrl-C on a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A process group of its own: stopping the worker stops what its seeds started too.
    with contextlib.suppress(AttributeError, OSError):
        os.setpgid(0, 0)
    # A forkserver child inherits the server's environment, not the parent's current one.
    os.environ.clear()
    os.environ.update(environ)
    if options.gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(options.gpu)
    if options.threads is not None:
        _limit_threads(options.threads)
    if options.sys_path:
        shadow_imports([Path(p) for p in options.sys_path])


@dataclass(frozen=True)
class _File:
    """A benchmark file as a worker imported it: the module, or why it failed, and what
    the import printed."""

    module: ModuleType | None
    error: str = ""
    stdout: str = ""
    stderr: str = ""


def _import_file(path: str, capture: bool) -> _File:
    """Import the benchmark file at ``path``; what it prints is captured like a seed's output."""
    with capture_output(capture) as printed:
        try:
            module: ModuleType | None = load_module(Path(path))
            error = ""
        except PybenchError as exc:
            module, error = None, str(exc)
    return _File(module, error, printed.stdout, printed.stderr)


@dataclass
class _Loaded:
    """A worker's imported benchmark files by path (each imported once, preloaded or on
    first use, a failed import kept too) and its benchmarks by ``(path, name)``."""

    files: dict[str, _File] = field(default_factory=dict)
    benchmarks: dict[tuple[str, str], Callable[[int], Any] | str] = field(default_factory=dict)


def _load(task: _Task, loaded: _Loaded) -> Callable[[int], Any] | SeedOutcome:
    """The task's benchmark, from its file imported on first use (or preloaded).

    What the import printed is captured like a seed's output and kept with a
    failure: the first seed of each benchmark of a file that fails carries it.
    """
    key = (task.path, task.name)
    printed = ("", "")
    if key not in loaded.benchmarks:
        file = loaded.files.get(task.path)
        if file is None:
            file = loaded.files[task.path] = _import_file(task.path, task.capture)
        printed = (file.stdout, file.stderr)
        if file.module is None:
            loaded.benchmarks[key] = file.error
        else:
            try:
                loaded.benchmarks[key] = function_in(file.module, Path(task.path), task.name)
            except PybenchError as exc:
                loaded.benchmarks[key] = str(exc)
    func = loaded.benchmarks[key]
    if isinstance(func, str):
        failure = SeedFailure(f"could not be run in a worker: {func}")
        out, err = printed
        return SeedOutcome(task.index, task.seed, failure=failure, stdout=out, stderr=err)
    return func


def _preload(conn: Connection, options: _WorkerOptions, loaded: _Loaded) -> None:
    """Import the files of ``options.preload`` one after another until a task arrives.

    Each import is announced with a :class:`_Preloading` note (the parent times a task
    waiting behind another file's import apart from its own); a final
    ``_Preloading(None)`` says the worker takes tasks now. Files left over are
    imported when a task first needs them.
    """
    if not options.preload:
        return
    for path in options.preload:  # sys.path as discovery leaves it, whatever is imported here
        add_import_roots(Path(path))
    for path in options.preload:
        if conn.poll():  # a task (or the end) is waiting: it goes first
            break
        conn.send(_Preloading(path))
        if path not in loaded.files:
            loaded.files[path] = _import_file(path, options.capture)
    conn.send(_Preloading(None))


def _worker_main(conn: Connection, environ: dict[str, str], options: _WorkerOptions) -> None:
    """The loop of one worker process: run seeds on request, each benchmark file imported once.

    First imports the files of ``options.preload`` until a task arrives (:func:`_preload`).
    Then receives :class:`_Task` values; imports the task's benchmark if needed, then
    answers with a :class:`_Started` note and the seed's :class:`SeedOutcome`
    (the parent times the import and the seed each against the timeout);
    ``None`` or a closed connection ends the loop. ``environ`` is the whole
    environment the worker starts with; a task's ``env`` the forwarded variables
    set around its call.
    """
    _set_up_worker(environ, options)
    loaded = _Loaded()
    try:
        _preload(conn, options, loaded)
    except (EOFError, OSError):
        return
    while True:
        try:
            task = conn.recv()
            if task is None:
                return
            func = _load(task, loaded)
            conn.send(_Started(task.index))
            if isinstance(func, SeedOutcome):
                conn.send(func)
                continue
            conn.send(evaluate_seed(func, task.index, task.seed, task.env, capture=task.capture))
        except (EOFError, OSError):
            return


def _context() -> Any:
    """``forkserver`` if available (no inherited threads or locks, cheap starts), else ``spawn``."""
    import multiprocessing

    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Takes effect when the server starts: its children begin with numpy and pybench imported.
        ctx.set_forkserver_preload([__name__])
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


def _signal_group(process: Any, signum: int) -> None:
    """Send ``signum`` to a worker's process group (what its seeds started), then to it."""
    pid = process.pid
    if pid:
        with contextlib.suppress(OSError):
            os.killpg(pid, signum)  # the worker leads its own group (see _set_up_worker)
    with contextlib.suppress(OSError, ValueError):
        if process.exitcode is None:
            os.kill(pid, signum)


@dataclass
class _Worker:
    process: Any  # multiprocessing.process.BaseProcess
    conn: Connection
    gpu: int | None
    task: _Task | None = None
    started: float | None = None
    """When the worker began its task (``time.monotonic``); ``None`` before it says so."""
    sent: float | None = None
    """When the task was sent: until it starts, the worker is starting up or importing
    (restarted by each :class:`_Preloading` note)."""
    preloading: str | None = None
    """The file the worker is importing ahead of its tasks, as last heard."""
    warming: bool = False
    """Started with files to preload, and not yet heard to be done with them."""


def _note_preload(worker: _Worker, path: str | None, now: float) -> None:
    """A :class:`_Preloading` note: a waiting task's start-up clock restarts, so it
    is timed on its own file's import, never on another's."""
    if worker.task is not None and worker.started is None:
        worker.sent = now
    worker.preloading = path
    if path is None:
        worker.warming = False


def _behind(worker: _Worker) -> bool:
    """Whether the worker's task waits behind the preload of a file it did not ask for."""
    task = worker.task
    return (
        task is not None
        and worker.started is None
        and worker.preloading is not None
        and worker.preloading != task.path
    )


def _still_warming(worker: _Worker) -> bool:
    """Whether an idle worker is still preloading (its notes read so far say so)."""
    with contextlib.suppress(EOFError, OSError):
        while worker.warming and worker.conn.poll():
            message = worker.conn.recv()
            if isinstance(message, _Preloading):
                _note_preload(worker, message.path, time.monotonic())
    return worker.warming


def _clock(worker: _Worker) -> float | None:
    """When the timeout of the worker's current phase began: its seed's start, else (start-up
    and import) when the task was sent; each phase gets the whole timeout."""
    return worker.started if worker.started is not None else worker.sent


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

    Each worker imports a benchmark file by path the first time it runs one of
    its seeds (or ahead of them, see :meth:`start`) and keeps it for every later
    seed, of this benchmark and of any other benchmark the run hands the same
    workers. With ``gpus``, there is one worker per listed GPU and its
    ``CUDA_VISIBLE_DEVICES`` is set to that GPU before anything is imported.
    Workers are not daemonic, so a benchmark may start processes of its own
    (e.g. a data loader).

    Each worker limits its native thread pools to ``cores // workers`` threads
    (:func:`threads_per_worker`) unless the user set the variables that size them.

    Args:
        workers: the number of worker processes (ignored when ``gpus`` is given).
        gpus: one worker per entry, pinned to that GPU.
        sys_path: folders whose code the workers import first, ahead of anything
            installed (see :func:`pybench.sources.shadow.shadow_imports`); used to run a
            benchmark against one git revision's sources.
        env: forwarded variables (see :func:`forwarded_env`), set around each
            seed's call and restored after it, as on a Dask worker.
        timeout: seconds a seed may run, counted from when its worker starts it;
            a seed past it is a failure and its worker is killed. A worker's
            start-up and its import of the benchmark file get as long again, counted
            from when the seed is sent: a hanging import is stopped the same way.
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
        self._defaults = CallOptions(dict(env or {}), timeout, capture)
        self._call = self._defaults
        self._workers: list[_Worker | None] = []
        self._stopping: list[_Worker] = []
        self._threads = threads_per_worker(len(self._slots))
        _LIVE.add(self)

    def _start(
        self, gpu: int | None, preload: tuple[str, ...] = (), capture: bool = True
    ) -> _Worker:
        ctx = _context()
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        options = _WorkerOptions(
            threads=self._threads,
            gpu=gpu,
            sys_path=self._sys_path,
            preload=preload,
            capture=capture,
        )
        process = ctx.Process(
            target=_worker_main,
            args=(child_conn, dict(os.environ), options),
            name="pybench-worker" + (f"-gpu{gpu}" if gpu is not None else ""),
        )
        process.start()
        child_conn.close()
        return _Worker(process, parent_conn, gpu, warming=bool(preload))

    def start(self, preload: Sequence[str | os.PathLike[str]], *, capture: bool = True) -> None:
        """Start every worker now, each importing the benchmark files ``preload`` before
        its first task (see :class:`_Preloading`), so the imports overlap what this
        process does meanwhile.

        A worker keeps what it imported for the tasks that need it. A task sent while
        its worker is still importing another file is timed from when that import ends;
        if it takes past the task's timeout (or the worker dies in it), the worker is
        replaced by a fresh one that imports only what its tasks need, and the task is
        sent again: a preload never costs a seed its timeout. A worker that cannot be
        started now is started on first use, as without a preload.
        """
        files = tuple(str(p) for p in preload)
        while len(self._workers) < len(self._slots):
            self._workers.append(None)
        for i, worker in enumerate(self._workers):
            if worker is None:
                with contextlib.suppress(OSError):  # e.g. out of processes: started on first use
                    self._workers[i] = self._start(self._slots[i], files, capture)

    def _prepare(self, n_seeds: int) -> None:
        wanted = min(len(self._slots), max(1, n_seeds))
        while len(self._workers) < wanted:
            self._workers.append(None)  # started on first use

    def _dispatch(self, i: int, task: _Task) -> SeedOutcome | None:
        """Send ``task`` to worker ``i``, starting it if needed; an outcome if it is dead."""
        worker = self._workers[i]
        if worker is None or not worker.process.is_alive():
            if worker is not None:
                self._stop(worker)
            try:
                worker = self._workers[i] = self._start(self._slots[i])
            except OSError as exc:  # e.g. out of processes or memory
                self._workers[i] = None
                failure = SeedFailure(f"could not start a worker process: {exc}")
                return SeedOutcome(task.index, task.seed, failure=failure)
        worker.task = task
        worker.started = None
        worker.sent = time.monotonic()
        try:
            worker.conn.send(task)
        except OSError:
            if worker.warming:  # it died preloading a file: not this task's doing
                self._stop(worker)
                self._workers[i] = None
                return self._dispatch(i, task)  # to a fresh worker, which preloads nothing
            return self._died(i)
        return None

    def _timed_out(self, i: int) -> SeedOutcome:
        """Kill worker ``i``, whose seed ran past the timeout; that seed's failure."""
        worker = self._kill(i)
        assert worker.task is not None
        timeout = self._call.timeout or 0.0
        if worker.started is None:
            message = (
                f"did not start within the per-seed timeout of {timeout:g}s: its worker process"
                " was still starting up or importing the benchmark file, and was killed; raise"
                " `timeout` (or --timeout) if the import needs longer"
            )
        else:
            message = (
                f"ran past the per-seed timeout of {timeout:g}s and was stopped (its worker"
                " process was killed); raise `timeout` (or --timeout) if a seed needs longer"
            )
        return SeedOutcome(
            worker.task.index, worker.task.seed, failure=SeedFailure(message), elapsed=timeout
        )

    def _next_deadline(self) -> float | None:
        """Seconds until the first running seed's timeout; ``None`` without one."""
        timeout = self._call.timeout
        clocks = [_clock(w) for w in self._workers if w is not None and w.task is not None]
        starts = [t for t in clocks if t is not None]
        if timeout is None or not starts:
            return None
        return max(0.0, min(starts) + timeout - time.monotonic())

    def _replace(self, i: int, pending: deque[_Task]) -> None:
        """Kill worker ``i``, stuck in (or killed by) the preload of a file its task did not
        ask for; its task goes back to the front of the queue, for a fresh worker."""
        worker = self._kill(i)
        assert worker.task is not None
        pending.appendleft(worker.task)

    def _kill(self, i: int) -> _Worker:
        """Kill worker ``i`` (and what its seed started) and forget it; the worker, for its
        task."""
        worker = self._workers[i]
        assert worker is not None
        _signal_group(worker.process, signal.SIGKILL)
        worker.process.join(_STOP_GRACE_S)
        self._stop(worker)
        self._workers[i] = None
        return worker

    def _lost(self, i: int, pending: deque[_Task]) -> list[SeedOutcome]:
        """Worker ``i`` died: its seed's failure, or its task sent again if it died while
        preloading another file."""
        worker = self._workers[i]
        if worker is not None and _behind(worker):
            self._replace(i, pending)
            return []
        return [self._died(i)]

    def _died(self, i: int) -> SeedOutcome:
        """Forget dead worker ``i``; the failure of the seed it was running."""
        worker = self._workers[i]
        assert worker is not None and worker.task is not None
        worker.process.join(_STOP_GRACE_S)
        exitcode = worker.process.exitcode
        self._stop(worker)
        self._workers[i] = None
        failure = SeedFailure(f"was running when its worker process {_death_reason(exitcode)}")
        return SeedOutcome(worker.task.index, worker.task.seed, failure=failure)

    def map_seeds(
        self, bench: Benchmark, seeds: Sequence[int], options: CallOptions | None = None
    ) -> Iterator[SeedOutcome]:
        """Yield one outcome per seed as each finishes; closing early stops the workers.

        ``options`` (default: the constructor's) say how this benchmark's seeds are called.
        """
        self._call = options or self._defaults
        env = dict(self._call.env)
        self._prepare(len(seeds))
        pending = deque(
            _Task(str(bench.path), bench.name, i, seed, env, self._call.capture)
            for i, seed in enumerate(seeds)
        )
        finished = False
        try:
            ready: list[SeedOutcome] = []
            while True:
                for i, worker in enumerate(self._workers):
                    if pending and (worker is None or worker.task is None):
                        ready += self._send(i, pending)
                yield from ready
                ready.clear()
                busy = {i: w for i, w in enumerate(self._workers) if w and w.task is not None}
                if not busy:
                    if not pending:
                        break
                    continue
                ready += self._receive(busy, pending)
            finished = True
        finally:
            if not finished:  # closed early, an error, or Ctrl-C: cancel what is running
                self.close()

    def _send(self, i: int, pending: deque[_Task]) -> list[SeedOutcome]:
        """Hand worker ``i`` the next task; the seed's failure if the worker cannot take it."""
        dead = self._dispatch(i, pending.popleft())
        return [] if dead is None else [dead]

    def _receive(self, busy: dict[int, _Worker], pending: deque[_Task]) -> list[SeedOutcome]:
        """Wait for the busy workers; the outcomes that came back (or their failures)."""
        waitables: list[Any] = []
        for w in busy.values():
            waitables += [w.conn, w.process.sentinel]
        from multiprocessing.connection import wait

        with interrupts.interruptible():  # Ctrl-C stops the wait at once
            deadline = self._next_deadline()
            wait_s = _WAIT_SLICE_S if deadline is None else min(deadline, _WAIT_SLICE_S)
            ready = set(wait(waitables, timeout=wait_s))
        now = time.monotonic()
        outcomes: list[SeedOutcome] = []
        timeout = self._call.timeout
        for i, w in busy.items():
            if w.conn in ready:
                try:
                    message = w.conn.recv()
                except (EOFError, OSError):
                    outcomes += self._lost(i, pending)
                    continue
                if isinstance(message, _Started):
                    w.started = now
                    continue
                if isinstance(message, _Preloading):
                    _note_preload(w, message.path, now)
                    continue
                w.task = w.started = w.sent = None
                if pending:  # hand the worker its next seed before the caller sees this one
                    outcomes += self._send(i, pending)
                outcomes.append(message)
            elif w.process.sentinel in ready:
                outcomes += self._lost(i, pending)
            elif timeout is not None and now - (_clock(w) or now) >= timeout:
                if _behind(w):
                    self._replace(i, pending)
                else:
                    outcomes.append(self._timed_out(i))
        return outcomes

    def _stop(self, worker: _Worker) -> None:
        process = worker.process
        with contextlib.suppress(OSError, ValueError):
            if process.is_alive():
                if worker.task is None and not _still_warming(worker):
                    worker.conn.send(None)
                else:  # a seed, or imports on our behalf: nothing to wait for
                    _signal_group(process, signal.SIGTERM)
            elif process.pid:  # a dead worker: what its seeds left running goes with it
                os.killpg(process.pid, signal.SIGKILL)
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
                _signal_group(worker.process, signal.SIGKILL)
                worker.process.join(_STOP_GRACE_S)
            else:  # what its seeds left running goes with it
                with contextlib.suppress(OSError, ValueError, TypeError):
                    os.killpg(worker.process.pid, signal.SIGKILL)
            with contextlib.suppress(ValueError):
                worker.process.close()
        self._stopping = []

    def kill(self) -> None:
        """SIGKILL every worker now, without waiting for it (a second Ctrl-C)."""
        for worker in [*self._workers, *self._stopping]:
            if worker is not None:
                _signal_group(worker.process, signal.SIGKILL)

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


# -- the pool ----------------------------------------------------------------
def _key(workers: int, gpus: tuple[int, ...] | None, roots: tuple[str, ...]) -> tuple[object, ...]:
    """Which of a run's workers serve a benchmark: the same count (or GPUs) and code."""
    return ("gpus", gpus, roots) if gpus else ("workers", workers, roots)


class EarlyWorkers:
    """Local workers started before this process imports the run's benchmark files.

    :meth:`start` starts them, each importing the files in the background
    (:meth:`ProcessBackend.start`), while this process discovers the benchmarks;
    :func:`open_pool` then hands them to the benchmarks that ask for those
    workers. Whatever the pool did not take is stopped when the block of
    :func:`early_workers` ends (an error before anything ran).
    """

    def __init__(self) -> None:
        self._backends: dict[tuple[object, ...], ProcessBackend] = {}

    def start(
        self,
        files: Sequence[Path],
        *,
        workers: int | None,
        gpus: tuple[int, ...] | None,
        capture: bool,
    ) -> bool:
        """Start the workers the run's own options call for, preloading ``files``.

        Only when those options alone decide where every benchmark runs (``workers``
        over 1, or ``gpus``: they override the benchmarks' keywords) and there are
        files; nothing is started otherwise. Whether workers were started.
        """
        if not files or not (gpus or (workers or 1) > 1):
            return False
        backend = ProcessBackend(workers=workers or 1, gpus=gpus)
        self._backends[_key(workers or 1, gpus, ())] = backend
        backend.start(files, capture=capture)
        return True

    def take(self) -> dict[tuple[object, ...], ProcessBackend]:
        """The started workers, now the caller's to close."""
        taken, self._backends = self._backends, {}
        return taken

    def close(self) -> None:
        """Stop the workers no pool took."""
        for backend in self.take().values():
            backend.close()


@contextlib.contextmanager
def early_workers() -> Iterator[EarlyWorkers]:
    """An :class:`EarlyWorkers` whose workers are stopped at the end unless a pool took them."""
    early = EarlyWorkers()
    try:
        yield early
    finally:
        early.close()


class _Bound:
    """One benchmark's view of a shared :class:`ProcessBackend`: its call options."""

    def __init__(self, backend: ProcessBackend, options: CallOptions):
        self.backend = backend
        self.options = options

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        return self.backend.map_seeds(bench, seeds, self.options)

    def close(self) -> None:
        """Nothing: the workers belong to the pool and serve the next benchmark too."""


class Pool:
    """Hands out the back-end each benchmark runs on, and keeps its workers for the whole run.

    Args:
        dask_client: a connected ``distributed.Client``, to run seeds on Dask.
        dask_log: the held-back log of the ``distributed`` loggers (see
            :class:`~pybench.execution.dask.ClusterNotes`).
        capture: capture each seed's output in local runs (``-s`` turns it off);
            seeds run on Dask write to the Dask workers' logs.
    """

    def __init__(
        self, dask_client: Any = None, dask_log: HeldBackLog | None = None, *, capture: bool = True
    ):
        self._client = dask_client
        self._log = dask_log
        self._bundles: dict[Path, Bundle] = {}
        self._workers: dict[tuple[object, ...], ProcessBackend] = {}
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
        source_roots: Sequence[Path] = (),
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
            source_roots: the code source's folders (one side of a comparison): its
                seeds run in workers that import that code first, never in this process.

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
        if not (gpus or workers > 1 or timeout is not None or source_roots):
            return SerialBackend(capture=self.capture)
        roots = tuple(str(p) for p in source_roots)
        key = _key(workers, gpus, roots)
        backend = self._workers.get(key)
        if backend is None:
            backend = self._workers[key] = ProcessBackend(
                workers=workers, gpus=gpus, sys_path=roots
            )
        return _Bound(backend, CallOptions(forwarded, timeout, self.capture))

    def kill(self) -> None:
        """Kill every local worker process at once (a second Ctrl-C)."""
        kill_workers()

    def close(self) -> None:
        """Stop every worker of the run."""
        for backend in self._workers.values():
            backend.close()
        self._workers.clear()

    def version_mismatches(self, bench: Benchmark) -> list[VersionMismatch]:
        """Where the workers' versions differ from here; always empty for local back-ends.

        Call it before the benchmark's seeds run; whether a mismatch is a warning
        or an error is the caller's choice.
        """
        if self._client is None:
            return []  # local workers run this very interpreter and environment
        return DaskBackend(self._client, bundle=self._bundle).version_mismatches(bench)


@contextlib.contextmanager
def open_pool(
    *,
    dask: str | None = None,
    dask_timeout: float | None = None,
    capture: bool = True,
    early: EarlyWorkers | None = None,
) -> Iterator[Pool]:
    """The back-ends of one run; every worker is stopped when the block ends.

    With Dask, the ``distributed`` loggers of this process are held below
    ERROR for the whole run (see :class:`~pybench.execution.dask.ClusterNotes`).

    Args:
        dask: a Dask scheduler address (``tcp://host:8786``), or ``local:N`` to
            start a ``LocalCluster`` of N single-threaded worker processes for
            the run; ``None`` for local execution.
        dask_timeout: seconds to wait for the scheduler to have a worker (default:
            ``PYBENCH_DASK_TIMEOUT``, else 60).
        capture: capture each seed's output (see :class:`Pool`).
        early: workers started before the benchmarks were imported here, which the
            pool takes over for the benchmarks that ask for them (local runs only).

    Raises:
        DaskMissingError: ``dask`` was given but ``distributed`` is not installed.
        BackendError: the address is malformed, no scheduler answers there, or
            no worker joined it within ``dask_timeout``.
    """
    if not dask:
        pool = Pool(capture=capture)
        if early is not None:
            pool._workers.update(early.take())
        try:
            yield pool
        finally:
            pool.close()
        return
    with dask_client(dask, dask_timeout) as (client, held):
        yield Pool(client, held, capture=capture)
