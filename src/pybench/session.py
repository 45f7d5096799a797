"""The run stage: run each benchmark on its seeds and return one immutable outcome per benchmark.

:func:`plan` turns the discovered benchmarks, the stored records and the
command-line overrides into :class:`Job` values (settings resolved once, seeds
chosen, reachability checked before anything runs, seeds an interrupted run
finished found in the journal with ``resume``); :func:`run` executes them and
returns :class:`Outcome` values. Neither prints: progress is reported through a
callback, saving baselines is the caller's business (the only files the run
stage writes are the journals of running benchmarks), and every front end
(terminal, JSON, JUnit, Markdown, HTML, pytest) renders the same outcomes.

While :func:`run` runs, Ctrl-C belongs to pybench (:mod:`pybench.interrupts`):
a benchmark that swallows ``KeyboardInterrupt`` still ends the run, and the
seed it was running is never kept.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import interrupts, stats
from .compare import BenchComparison, compare_run
from .discover import Benchmark, CollectionError
from .errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, PybenchError
from .normalize import Slot
from .run import (
    BenchmarkError,
    RunResult,
    SeedOutcome,
    check_determinism,
    check_finite,
    run_benchmark,
    sample_seeds,
)
from .settings import Settings, resolve
from .store import BaselineRecord

if TYPE_CHECKING:
    import numpy as np

    from .backends import ClusterNotes, Pool
    from .journal import Journal
    from .revisions import Tree
    from .vcs import GitState
    from .versions import VersionMismatch

__all__ = [
    "BenchFinished",
    "BenchStarted",
    "Event",
    "Failure",
    "Job",
    "Outcome",
    "SeedDone",
    "Status",
    "Timings",
    "UnreachableAlphaError",
    "exit_code",
    "plan",
    "plan_fresh",
    "run",
    "run_revisions",
]


class Status(str, enum.Enum):
    """How a benchmark ended."""

    NEW = "NEW"
    """No baseline to compare with: the run becomes one (or replaces one, with ``update``)."""
    PASS = "PASS"
    FAIL = "FAIL"
    ERROR = "ERROR"
    """No verdict: the benchmark raised, returned a bad value, or its worker died."""


class UnreachableAlphaError(PybenchError):
    """A benchmark whose ``alpha`` can never be reached with its number of seeds."""


@dataclass(frozen=True)
class Failure:
    """Why a benchmark has no verdict: one line, the seed involved, the user's traceback.

    ``stdout`` and ``stderr`` hold what that seed printed, when it was captured.
    """

    message: str
    seed: int | None = None
    traceback: str = ""
    stdout: str = ""
    stderr: str = ""


@dataclass(frozen=True)
class Job:
    """One benchmark to run: its resolved settings, its seeds, and the baseline (if any)."""

    bench: Benchmark
    settings: Settings
    seeds: tuple[int, ...]
    baseline: BaselineRecord | None
    """The stored record to compare with; ``None`` when the run makes a new baseline."""
    update: bool = False
    """The new baseline replaces a stored one on purpose (``pybench update``)."""
    refused: Failure | None = None
    """Set when the job must end as an ERROR without running (``--strict``, no baseline)."""
    update_command: str = "pybench update"
    """The command that hints name to reset a baseline (this run's PATH and ``--baseline``)."""
    fingerprint: str | None = None
    """The code's fingerprint, written in the journal (``None``: no journal)."""
    reused: tuple[SeedOutcome, ...] = ()
    """Seeds an interrupted run of the same code finished (``--resume``): not run again."""

    @property
    def makes_baseline(self) -> bool:
        """Whether the job, if it succeeds, saves a new baseline record."""
        return self.baseline is None and self.refused is None


@dataclass(frozen=True)
class Timings:
    """Wall time of the whole benchmark and the time of each seed's call (seed order).

    ``median`` is the median of ``per_seed`` (0 when there is none). ``wall``
    includes the determinism check's extra seed, if one ran.
    """

    wall: float
    per_seed: tuple[float, ...] = ()
    median: float = 0.0

    @classmethod
    def of(cls, wall: float, per_seed: Sequence[float] = ()) -> Timings:
        """Timings with their median filled in."""
        median = statistics.median(per_seed) if per_seed else 0.0
        return cls(wall, tuple(per_seed), median)


@dataclass(frozen=True)
class Outcome:
    """The result of one benchmark in one run (numpy matrices are read-only)."""

    status: Status
    """NEW, PASS, FAIL or ERROR."""
    bench: Benchmark
    """The benchmark."""
    settings: Settings
    """The settings it ran under."""
    seeds: tuple[int, ...]
    """The seeds, in row order."""
    slots: tuple[Slot, ...] = ()
    """The ``(step, metric)`` of each column (empty for an ERROR)."""
    values: np.ndarray | None = None
    """The ``(n_seeds, K)`` values of this run (``None`` for an ERROR)."""
    baseline: np.ndarray | None = None
    """The baseline's ``(n_seeds, K)`` values on the same seeds and slots, when compared."""
    comparison: BenchComparison | None = None
    """The verdict's statistics, when there was a comparison."""
    error: Failure | None = None
    """Why there is no verdict, for an ERROR."""
    record: BaselineRecord | None = None
    """The baseline record to save, for a NEW."""
    replaces: bool = False
    """``record`` comes from ``pybench update`` (shown as SAVED)."""
    timings: Timings = Timings(0.0)
    """Wall and per-seed times."""
    version_mismatches: tuple[VersionMismatch, ...] = ()
    """Packages whose versions on a Dask worker differ from here, checked before
    the seeds ran (a warning, or an error under a strict mode)."""
    cluster: ClusterNotes | None = None
    """What the Dask cluster did while the seeds ran (``None`` off Dask)."""
    warnings: tuple[str, ...] = ()
    """Lines to show besides the verdict (a benchmark that is not a deterministic function
    of its seed)."""
    reused: int = 0
    """How many seeds were taken from an interrupted run's journal (``--resume``)."""

    @property
    def name(self) -> str:
        return self.bench.name


@dataclass(frozen=True)
class BenchStarted:
    """A benchmark's seeds are about to run."""

    name: str
    total: int


@dataclass(frozen=True)
class SeedDone:
    """One more seed of the running benchmark finished."""

    name: str
    done: int
    total: int


@dataclass(frozen=True)
class BenchFinished:
    """A benchmark ended; its outcome is final."""

    outcome: Outcome


Event = BenchStarted | SeedDone | BenchFinished
"""What :func:`run` reports while it works."""


def _check_reachable(
    name: str, alpha: float, n: int, *, fresh: bool = False, update_command: str = "pybench update"
) -> None:
    if not stats.affordable(alpha):
        raise UnreachableAlphaError(
            f"{name}: alpha={alpha:g} would need {stats.n_permutations(alpha)} sign flips "
            f"(at least 20/alpha; pybench allows {stats.MAX_PERM}); use alpha >= "
            f"{stats.FLIPS_PER_ALPHA / stats.MAX_PERM:g}"
        )
    if stats.reachable(alpha, n):
        return
    need = stats.min_seeds(alpha)
    smallest = stats.smallest_meta_p(n, stats.n_permutations(alpha))
    how = (
        f"--n-seeds {need} or n_seeds={need}"
        if fresh
        else f"n_seeds={need}, then `{update_command} --bench {name}`"
    )
    raise UnreachableAlphaError(
        f"{name}: alpha={alpha:g} can never be reached with {n} seeds "
        f"(the smallest meta-p is 1/2**{n} = {smallest:.3g}); use at least "
        f"{need} seeds ({how}) or a larger alpha"
    )


def _seeds_for(
    bench: Benchmark,
    settings: Settings,
    record: BaselineRecord | None,
    journaled: Sequence[int] | None,
    base_seed: int | None,
) -> tuple[int, ...]:
    """The stored seeds; else those an interrupted run sampled (``--resume``); else fresh ones.

    ``--seed`` names the seeds itself: a journal is then reused only if it holds those.
    """
    if record is not None:
        return tuple(record.seeds)
    if journaled is not None and len(journaled) == settings.n_seeds and base_seed is None:
        return tuple(journaled)
    return tuple(sample_seeds(settings.n_seeds, base_seed=base_seed, name=bench.name))


def plan(
    benchmarks: Sequence[Benchmark],
    records: Mapping[str, BaselineRecord],
    overrides: Mapping[str, Any],
    *,
    update: bool = False,
    base_seed: int | None = None,
    strict: bool = False,
    baseline_file: str = "the baseline file",
    update_command: str = "pybench update",
    journal: Journal | None = None,
    resume: bool = False,
) -> list[Job]:
    """Resolve each benchmark's settings and choose its seeds.

    A benchmark with a stored record (and not ``update``) reuses the record's
    seeds; any other gets ``n_seeds`` fresh ones (reproducible with ``base_seed``),
    or, with ``resume``, the seeds its interrupted run had sampled; unless
    ``strict``: then it is refused and will end as an ERROR without running.

    Args:
        benchmarks: the benchmarks to run.
        records: the stored baselines by benchmark name.
        overrides: command-line settings (``None`` values leave the keyword default).
        update: make new baselines even where one is stored.
        base_seed: ``--seed``, for reproducible sampling.
        strict: a benchmark without a stored record is an error (``--strict``).
        baseline_file: where the records were looked for (named in messages).
        update_command: the command hints name to make or reset a baseline.
        journal: where running benchmarks journal their seeds (each job gets
            its code fingerprint); ``None``: no journal.
        resume: reuse the seeds a journal holds for the same benchmark, seeds
            and code (``--resume``).

    Raises:
        UnreachableAlphaError: before anything runs, for a benchmark whose alpha
            can never be reached with its number of seeds.
    """
    jobs = []
    for bench in benchmarks:
        settings = resolve(bench.defaults, overrides)
        record = None if update else records.get(bench.name)
        if record is None and strict and not update:
            refused = Failure(
                f"--strict: no stored baseline in {baseline_file}; make one with "
                f"`{update_command} --bench {bench.name}` and commit it"
            )
            jobs.append(Job(bench, settings, (), None, refused=refused))
            continue
        fingerprint = journal.fingerprint(bench) if journal is not None else None
        found = None
        if resume and journal is not None and fingerprint is not None:
            found = journal.read(bench.name, fingerprint)
        seeds = _seeds_for(bench, settings, record, found.seeds if found else None, base_seed)
        _check_reachable(bench.name, settings.alpha, len(seeds), update_command=update_command)
        reused = found.outcomes if found is not None and found.seeds == seeds else ()
        jobs.append(
            Job(
                bench,
                settings,
                seeds,
                record,
                update,
                update_command=update_command,
                fingerprint=fingerprint,
                reused=reused,
            )
        )
    return jobs


def plan_fresh(
    benchmarks: Sequence[Benchmark],
    overrides: Mapping[str, Any],
    *,
    base_seed: int | None = None,
) -> list[Job]:
    """Jobs on fresh seeds with nothing stored to compare with (``pybench compare``).

    Each benchmark gets ``n_seeds`` fresh seeds (reproducible with ``base_seed``);
    its ``baseline`` is filled in by the run that produces it.

    Raises:
        UnreachableAlphaError: before anything runs, as for :func:`plan`.
    """
    jobs = []
    for bench in benchmarks:
        settings = resolve(bench.defaults, overrides)
        seeds = sample_seeds(settings.n_seeds, base_seed=base_seed, name=bench.name)
        _check_reachable(bench.name, settings.alpha, len(seeds), fresh=True)
        jobs.append(Job(bench, settings, tuple(seeds), None))
    return jobs


def _timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


def _judge(job: Job, result: RunResult, timings: Timings, git: GitState | None) -> Outcome:
    """The outcome of a benchmark whose seeds all ran."""
    common = {
        "bench": job.bench,
        "settings": job.settings,
        "seeds": job.seeds,
        "slots": tuple(result.slots),
        "values": _frozen(result.values),
        "timings": timings,
    }
    if job.baseline is None:
        check_finite(job.bench.name, result)
        record = BaselineRecord.from_matrix(
            job.bench.name,
            job.seeds,
            result.slots,
            result.values,
            timestamp=_timestamp(),
            git_commit=git.commit if git else None,
            git_dirty=git.dirty if git else None,
        )
        return Outcome(Status.NEW, record=record, replaces=job.update, **common)
    baseline = _frozen(job.baseline.matrix(result.slots))
    comparison = compare_run(
        result.slots,
        job.seeds,
        baseline,
        result.values,
        alpha=job.settings.alpha,
        min_effect=job.settings.min_effect,
    )
    status = Status.PASS if comparison.passed else Status.FAIL
    return Outcome(status, baseline=baseline, comparison=comparison, **common)


def _run_one(
    job: Job,
    pool: Pool,
    git: GitState | None,
    on_event: Callable[[Event], None],
    journal: Journal | None,
) -> Outcome:
    if job.refused is not None:
        return Outcome(Status.ERROR, job.bench, job.settings, job.seeds, error=job.refused)
    name, total = job.bench.name, len(job.seeds)
    on_event(BenchStarted(name, total))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        on_event(SeedDone(name, done, total))

    started = time.perf_counter()
    mismatches = tuple(pool.version_mismatches(job.bench))
    settings = job.settings
    backend = pool.backend_for(
        job.bench,
        workers=settings.workers,
        gpus=settings.gpus,
        env=settings.env,
        timeout=settings.timeout,
    )
    writer = None
    if journal is not None and job.fingerprint is not None:
        writer = journal.start(name, job.fingerprint, job.seeds, job.reused)
    cluster = None
    try:
        try:
            result = run_benchmark(
                job.bench,
                job.seeds,
                backend=backend,
                expected_slots=job.baseline.slots() if job.baseline is not None else None,
                on_seed_done=tick,
                update_command=job.update_command,
                reused=job.reused,
                on_outcome=writer.append if writer is not None else None,
            )
        finally:  # what the cluster did for the seeds, not for the determinism check
            cluster = getattr(backend, "notes", None)
        outcome = _judge(job, result, Timings.of(0.0, result.seed_times), git)
        warning = None
        if outcome.status is Status.NEW and settings.check_determinism:
            warning = check_determinism(job.bench, result, backend)
        timings = Timings.of(time.perf_counter() - started, result.seed_times)
        outcome = dataclasses.replace(
            outcome,
            timings=timings,
            warnings=(warning,) if warning else (),
            reused=result.reused,
        )
    except BenchmarkError as exc:
        failure = Failure(str(exc), exc.seed, exc.detail, exc.stdout, exc.stderr)
        outcome = Outcome(
            Status.ERROR,
            job.bench,
            job.settings,
            job.seeds,
            error=failure,
            timings=Timings.of(time.perf_counter() - started),
        )
    finally:
        backend.close()
        if writer is not None:
            writer.close()
    if journal is not None and outcome.status is not Status.ERROR:
        journal.remove(name)  # a verdict: nothing left to resume
    return dataclasses.replace(outcome, version_mismatches=mismatches, cluster=cluster)


def _not_collected(error: CollectionError) -> Outcome:
    """The ERROR outcome of a file that failed to import or a benchmark with a bad configuration."""

    def uncollected(seed: int) -> Any:
        raise BenchmarkError(error.label, error.message)

    bench = Benchmark(name=error.label, path=error.path, func=uncollected)
    failure = Failure(error.message, traceback=error.traceback)
    return Outcome(Status.ERROR, bench, bench.defaults, (), error=failure)


def run(
    jobs: Sequence[Job],
    *,
    pool: Pool,
    git: GitState | None = None,
    on_event: Callable[[Event], None] | None = None,
    journal: Journal | None = None,
    not_collected: Sequence[CollectionError] = (),
) -> list[Outcome]:
    """Run every job in order and return their outcomes.

    Ctrl-C raises ``KeyboardInterrupt`` out of this function (never an outcome
    for the benchmark it stopped); outcomes already reported through
    ``on_event`` stand. A second Ctrl-C kills the workers and exits at once.

    Args:
        jobs: from :func:`plan`.
        pool: where seeds run (:func:`pybench.backends.open_pool`).
        git: the working tree's state, recorded in new baselines.
        on_event: receives :class:`BenchStarted`, :class:`SeedDone` and
            :class:`BenchFinished` events as the run goes.
        journal: journal each finished seed there (for ``--resume``); a
            benchmark that reaches a verdict removes its journal.
        not_collected: what discovery could not collect; each becomes an ERROR
            outcome, reported first.
    """
    emit = on_event or (lambda event: None)
    outcomes = []
    for error in not_collected:
        outcomes.append(_not_collected(error))
        emit(BenchFinished(outcomes[-1]))
    with interrupts.guard(on_force=getattr(pool, "kill", None)):
        for job in jobs:
            interrupts.check()
            outcome = _run_one(job, pool, git, emit, journal)
            outcomes.append(outcome)
            emit(BenchFinished(outcome))
    return outcomes


def _run_revisions_one(
    job: Job, base: Benchmark, trees: tuple[Tree, Tree], on_event: Callable[[Event], None]
) -> Outcome:
    from .revisions import as_baseline, run_interleaved, side_backend

    base_tree, head_tree = trees
    name, total = job.bench.name, 2 * len(job.seeds)
    on_event(BenchStarted(name, total))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        on_event(SeedDone(name, done, total))

    started = time.perf_counter()
    workers, gpus, env = job.settings.workers, job.settings.gpus, job.settings.env
    try:
        with (
            side_backend(base_tree, workers=workers, gpus=gpus, env=env) as base_backend,
            side_backend(head_tree, workers=workers, gpus=gpus, env=env) as head_backend,
        ):
            base_result, head_result = run_interleaved(
                base,
                job.bench,
                job.seeds,
                base_backend=base_backend,
                head_backend=head_backend,
                chunk=len(gpus) if gpus else workers,
                labels=(f"base {base_tree.revision.label}", f"head {head_tree.revision.label}"),
                on_seed_done=tick,
            )
        record = as_baseline(name, base_result, base_tree.revision)
        timings = Timings.of(time.perf_counter() - started, head_result.seed_times)
        return _judge(dataclasses.replace(job, baseline=record), head_result, timings, None)
    except BenchmarkError as exc:
        return Outcome(
            Status.ERROR,
            job.bench,
            job.settings,
            job.seeds,
            error=Failure(str(exc), exc.seed, exc.detail),
            timings=Timings(time.perf_counter() - started),
        )


def run_revisions(
    jobs: Sequence[Job],
    base: Mapping[str, Benchmark],
    trees: tuple[Tree, Tree],
    *,
    on_event: Callable[[Event], None] | None = None,
) -> list[Outcome]:
    """Run every job on two revisions, seed by seed, and judge head against base.

    The base side's values take the place of a stored baseline: outcomes are
    PASS, FAIL or ERROR exactly as for :func:`run`, with ``baseline`` holding
    the base side's matrix. Both sides run in local worker processes that
    import their own tree's code (:func:`pybench.revisions.run_interleaved`).

    Args:
        jobs: from :func:`plan_fresh`, for the head side's benchmarks.
        base: the base side's benchmark of each job, by name.
        trees: the ``(base, head)`` checkouts (:func:`pybench.revisions.open_tree`).
        on_event: as for :func:`run`; each job counts ``2 * n_seeds`` seeds.
    """
    emit = on_event or (lambda event: None)
    outcomes = []
    for job in jobs:
        outcome = _run_revisions_one(job, base[job.bench.name], trees, emit)
        outcomes.append(outcome)
        emit(BenchFinished(outcome))
    return outcomes


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """2 if any benchmark ended in ERROR, else 1 if any FAILed, else 0."""
    statuses = {o.status for o in outcomes}
    if Status.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_REGRESSION if Status.FAIL in statuses else EXIT_OK
