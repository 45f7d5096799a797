"""Execution back-ends: where a benchmark's seeds run.

:func:`open_pool` is entered once per pybench run; its :meth:`Pool.backend_for`
hands out a :class:`pybench.run.Backend` for each benchmark:

- :class:`pybench.run.SerialBackend`: one seed after another in this process;
- :class:`ProcessBackend`: a pool of local worker processes, optionally one per
  GPU with ``CUDA_VISIBLE_DEVICES`` set to it;
- :class:`DaskBackend`: tasks on a Dask ``distributed`` cluster (optional extra).

Every back-end runs seeds through :func:`pybench.run.evaluate_seed`, so a
benchmark's values do not depend on where they were computed. A worker that
dies hard becomes a :class:`pybench.run.SeedFailure` for the seed it was
running, never a hang.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import multiprocessing
import os
import signal
import threading
import uuid
import weakref
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .discover import Benchmark, load_benchmark
from .errors import PybenchError
from .run import Backend, SeedFailure, SeedOutcome, SerialBackend, evaluate_seed

__all__ = [
    "BackendError",
    "DaskBackend",
    "DaskMissingError",
    "Pool",
    "ProcessBackend",
    "open_pool",
]

_STOP_GRACE_S = 2.0
"""How long a worker may take to exit after SIGTERM before it is killed."""


class BackendError(PybenchError):
    """A back-end that cannot be started as asked (bad ``--dask`` address, bad combination)."""


class DaskMissingError(BackendError):
    """``--dask`` was asked for but the optional ``distributed`` package is not installed."""


# -- local worker processes ---------------------------------------------------
def _worker_main(
    conn: Connection,
    path: str,
    name: str,
    environ: dict[str, str],
    gpu: int | None,
    sys_path: tuple[str, ...] = (),
) -> None:
    """The loop of one worker process: import the benchmark once, then run seeds on request.

    Receives ``(index, seed)`` tuples and answers each with a :class:`SeedOutcome`;
    ``None`` or a closed connection ends the loop.
    """
    # Ctrl-C on a terminal reaches the whole process group; the parent decides what stops.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A forkserver child inherits the server's environment, not the parent's current one.
    os.environ.clear()
    os.environ.update(environ)
    if gpu is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = str(gpu)
    if sys_path:
        from .revisions import shadow_imports

        shadow_imports([Path(p) for p in sys_path])
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
            outcome = evaluate_seed(func, index, seed)
        try:
            conn.send(outcome)
        except (EOFError, OSError):
            return


def _context() -> Any:
    """``forkserver`` if available (no inherited threads or locks, cheap starts), else ``spawn``."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        # Takes effect when the server starts: its children begin with numpy and pybench imported.
        ctx.set_forkserver_preload(["pybench.backends"])
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


_LIVE: weakref.WeakSet[ProcessBackend] = weakref.WeakSet()


@atexit.register
def _close_live_backends() -> None:
    # Runs before multiprocessing's own exit handler, which would wait for our
    # (non-daemonic) workers forever if a backend was never closed.
    for backend in list(_LIVE):
        backend.close()


class ProcessBackend:
    """Runs seeds in local worker processes, one seed per worker at a time.

    Each worker imports the benchmark file by path once and keeps it for every
    seed it runs. With ``gpus``, there is one worker per listed GPU and its
    ``CUDA_VISIBLE_DEVICES`` is set to that GPU before the file is imported.
    Workers are not daemonic, so a benchmark may start processes of its own
    (e.g. a data loader).

    Args:
        workers: the number of worker processes (ignored when ``gpus`` is given).
        gpus: one worker per entry, pinned to that GPU.
        sys_path: folders whose code the workers import first, ahead of anything
            installed (see :func:`pybench.revisions.shadow_imports`); used to run a
            benchmark against one git revision's sources.
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        gpus: Sequence[int] | None = None,
        sys_path: Sequence[str | os.PathLike[str]] = (),
    ):
        self._slots: list[int | None] = list(gpus) if gpus else [None] * max(1, workers)
        self._sys_path = tuple(str(p) for p in sys_path)
        self._workers: list[_Worker | None] = []
        _LIVE.add(self)

    def _start(self, bench: Benchmark, gpu: int | None) -> _Worker:
        ctx = _context()
        parent_conn, child_conn = ctx.Pipe(duplex=True)
        process = ctx.Process(
            target=_worker_main,
            args=(child_conn, str(bench.path), bench.name, dict(os.environ), gpu, self._sys_path),
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
        try:
            worker.conn.send(task)
        except OSError:
            return self._died(i)
        return None

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
                ready = set(wait(waitables))
                for i, w in busy.items():
                    if w.conn in ready:
                        try:
                            outcome = w.conn.recv()
                        except (EOFError, OSError):
                            ready_outcomes.append(self._died(i))
                            continue
                        w.task = None
                        # Hand the worker its next seed before the caller sees this one.
                        if pending:
                            dead = self._dispatch(bench, i, pending.popleft())
                            if dead is not None:
                                ready_outcomes.append(dead)
                        ready_outcomes.append(outcome)
                    elif w.process.sentinel in ready:
                        ready_outcomes.append(self._died(i))
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
        for worker in workers:
            self._stop(worker)
        for worker in workers:
            worker.process.join(_STOP_GRACE_S)
            if worker.process.exitcode is None:
                with contextlib.suppress(OSError, ValueError):
                    worker.process.kill()
                worker.process.join(_STOP_GRACE_S)
            with contextlib.suppress(ValueError):
                worker.process.close()

    @property
    def pids(self) -> list[int]:
        """The process ids of the live workers (for tests and diagnostics)."""
        return [w.process.pid for w in self._workers if w is not None and w.process.pid]


# -- Dask ---------------------------------------------------------------------
_DASK_CACHE: dict[tuple[str, str, str], Callable[[int], Any]] = {}
_DASK_LOCK = threading.Lock()


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha1(path.read_bytes()).hexdigest()
    except OSError:
        return ""


def _dask_run_seed(path: str, name: str, digest: str, index: int, seed: int) -> SeedOutcome:
    """One seed on a Dask worker: import the benchmark by path (once per file version)."""
    key = (path, name, digest)
    with _DASK_LOCK:
        func = _DASK_CACHE.get(key)
        if func is None:
            try:
                func = load_benchmark(Path(path), name)
            except PybenchError as exc:
                return SeedOutcome(
                    index,
                    seed,
                    failure=SeedFailure(
                        f"could not be run on a Dask worker ({exc}); the benchmark file must be"
                        " readable at the same path on every worker (a shared filesystem)"
                    ),
                )
            for old in [k for k in _DASK_CACHE if k[:2] == key[:2]]:
                del _DASK_CACHE[old]
            _DASK_CACHE[key] = func
    return evaluate_seed(func, index, seed)


def _import_distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise DaskMissingError(
            f"--dask needs the optional Dask dependency ({exc}); "
            "install it with: pip install 'pybench[dask]'"
        ) from None
    return distributed


class DaskBackend:
    """Runs each seed as a task on a Dask ``distributed`` cluster.

    Workers import the benchmark file by its absolute path, so the file must be
    on a filesystem they share with this process. A worker that dies while
    running a seed makes the scheduler retry it elsewhere; a seed that keeps
    killing workers (``KilledWorker``) becomes a :class:`SeedFailure`.
    """

    def __init__(self, client: Any):
        self._client = client

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        """Submit every seed, yield outcomes as they complete; closing early cancels the rest."""
        distributed = _import_distributed()
        from distributed.scheduler import KilledWorker

        digest = _file_digest(bench.path)
        run_id = uuid.uuid4().hex[:8]
        futures = {}
        try:
            for index, seed in enumerate(seeds):
                future = self._client.submit(
                    _dask_run_seed,
                    str(bench.path),
                    bench.name,
                    digest,
                    index,
                    seed,
                    pure=False,
                    key=f"pybench-{bench.name}-{run_id}-{index}",
                )
                futures[future] = (index, seed)
            for future in distributed.as_completed(list(futures)):
                index, seed = futures[future]
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
                yield outcome
        finally:
            outstanding = [f for f in futures if not f.done()]
            if outstanding:
                with contextlib.suppress(Exception):
                    self._client.cancel(outstanding)

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


@contextlib.contextmanager
def _dask_client(address: str) -> Iterator[Any]:
    n_local = _parse_local(address)
    distributed = _import_distributed()
    import logging

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
            client = distributed.Client(cluster)
        else:
            try:
                client = distributed.Client(address)
            except (OSError, TimeoutError, ValueError) as exc:
                raise BackendError(
                    f"--dask {address}: cannot connect to a Dask scheduler there ({exc}); "
                    "check the address (e.g. tcp://host:8786) or use --dask local:N"
                ) from None
        try:
            yield client
        finally:
            with contextlib.suppress(Exception):
                client.close()
    finally:
        if cluster is not None:
            with contextlib.suppress(Exception):
                cluster.close()


# -- the pool ------------------------------------------------------------------
class Pool:
    """Hands out the back-end each benchmark runs on."""

    def __init__(self, dask_client: Any = None):
        self._client = dask_client

    def backend_for(
        self, bench: Benchmark, *, workers: int, gpus: tuple[int, ...] | None
    ) -> Backend:
        """The back-end for ``bench``: Dask if connected, else GPU workers, processes or serial.

        Raises:
            BackendError: GPU pinning was asked for together with Dask.
        """
        if self._client is not None:
            if gpus:
                raise BackendError(
                    f"{bench.name}: GPU pinning (--gpus / gpus=) cannot be combined with --dask; "
                    "give each Dask worker its own GPU instead (e.g. dask-cuda)"
                )
            return DaskBackend(self._client)
        if gpus:
            return ProcessBackend(gpus=gpus)
        if workers > 1:
            return ProcessBackend(workers=workers)
        return SerialBackend()


@contextlib.contextmanager
def open_pool(*, dask: str | None = None) -> Iterator[Pool]:
    """The back-ends of one run.

    Args:
        dask: a Dask scheduler address (``tcp://host:8786``), or ``local:N`` to
            start a ``LocalCluster`` of N single-threaded worker processes for
            the run; ``None`` for local execution.

    Raises:
        DaskMissingError: ``dask`` was given but ``distributed`` is not installed.
        BackendError: the address is malformed or no scheduler answers there.
    """
    if not dask:
        yield Pool()
        return
    with _dask_client(dask) as client:
        yield Pool(client)
