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

from . import adaptive, interrupts, stats
from .compare import BenchComparison, compare_run
from .discover import Benchmark, CollectionError
from .errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION, PybenchError
from .normalize import Slot
from .run import (
    Backend,
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
    from .journal import Journal, JournalWriter
    from .revisions import Pairing, Tree
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
    "plan_revisions",
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
    GONE = "GONE"
    """``pybench compare`` only: the benchmark is in BASE but not in HEAD; nothing ran.

    Like NEW, it is neither a pass nor a failure: removing a benchmark is a
    change to review, not a regression, so it leaves the exit code alone.
    """


ONLY_IN_HEAD = "only in HEAD; nothing to compare"
"""The note of a ``pybench compare`` benchmark that HEAD added (NEW, never saved)."""
ONLY_IN_BASE = "only in BASE; nothing to compare"
"""The note of a ``pybench compare`` benchmark that HEAD removed (GONE, not run)."""


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
    strict: bool = False
    """``--strict``: a version mismatch on the Dask workers is an ERROR, not a warning."""
    only_in: str | None = None
    """``pybench compare``: ``"head"`` (run on HEAD alone) or ``"base"`` (not run) for a
    benchmark that one revision lacks; ``None`` for one both revisions have."""
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

    ``wall`` includes the determinism check's extra seed, if one ran.
    """

    wall: float
    per_seed: tuple[float, ...] = ()

    @property
    def median(self) -> float:
        """The median of ``per_seed`` (0 when there is none)."""
        return statistics.median(self.per_seed) if self.per_seed else 0.0


@dataclass(frozen=True)
class Outcome:
    """The result of one benchmark in one run (numpy matrices are read-only)."""

    status: Status
    """NEW, PASS, FAIL, ERROR, or GONE (``pybench compare`` only)."""
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
    note: str | None = None
    """Why a NEW or GONE outcome of ``pybench compare`` has nothing to compare
    (:data:`ONLY_IN_HEAD`, :data:`ONLY_IN_BASE`); ``None`` otherwise."""
    seeds_run: int | None = None
    """With ``adaptive``: how many of the stored seeds ran. ``seeds``, ``values``,
    ``baseline`` and ``comparison`` then cover those first ``seeds_run`` seeds only
    (``None`` without ``adaptive``)."""
    seeds_stored: int | None = None
    """With ``adaptive``: how many seeds the baseline stores."""
    stopped_at_look: int | None = None
    """With ``adaptive``: the look (1-based) whose decision ended the run."""
    stop_reason: adaptive.StopReason | None = None
    """With ``adaptive``: why the run stopped at that look."""
    look_alpha: float | None = None
    """With ``adaptive``: the share of ``alpha`` the meta p-value was held to at that
    look (``comparison`` keeps the statistics of the benchmark's ``alpha``; its
    ``passed`` is the look's verdict)."""
    warnings: tuple[str, ...] = ()
    """Lines to show besides the verdict (a benchmark that is not a deterministic function
    of its seed)."""
    reused: int = 0
    """How many seeds were taken from an interrupted run's journal (``--resume``)."""

    @property
    def name(self) -> str:
        return self.bench.name

    @property
    def stopped_early(self) -> bool:
        """An adaptive comparison reached its verdict before running every stored seed."""
        return self.seeds_run is not None and self.seeds_run < (self.seeds_stored or 0)


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
        k = len(record.slots()) if record else 0
        if slow := k and stats.too_slow(bench.name, settings.alpha, len(seeds), k):
            raise UnreachableAlphaError(slow)
        jobs.append(
            Job(
                bench,
                settings,
                seeds,
                record,
                update,
                update_command=update_command,
                strict=strict,
                fingerprint=fingerprint,
                reused=found.outcomes if found is not None and found.seeds == seeds else (),
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


def plan_revisions(
    pairing: Pairing, overrides: Mapping[str, Any], *, base_seed: int | None = None
) -> list[Job]:
    """The jobs of ``pybench compare``, in name order, for the benchmarks of both revisions.

    A benchmark both revisions have gets fresh seeds (:func:`plan_fresh`,
    settings from HEAD's version); one only HEAD has gets them too and runs on
    HEAD alone (``only_in="head"``); one only BASE has is not run
    (``only_in="base"``, no seeds, settings from BASE's version).

    Raises:
        UnreachableAlphaError: as for :func:`plan`, for a benchmark that will run.
    """
    heads = [head for _, head in pairing.pairs]
    jobs = plan_fresh([*heads, *pairing.only_head], overrides, base_seed=base_seed)
    added = {bench.name for bench in pairing.only_head}
    jobs = [dataclasses.replace(j, only_in="head") if j.bench.name in added else j for j in jobs]
    for bench in pairing.only_base:
        jobs.append(Job(bench, resolve(bench.defaults, overrides), (), None, only_in="base"))
    return sorted(jobs, key=lambda job: job.bench.name)


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
        rtol=job.settings.rtol,
    )
    status = Status.PASS if comparison.passed else Status.FAIL
    return Outcome(status, baseline=baseline, comparison=comparison, **common)


def _run_staged(
    job: Job,
    backend: Backend,
    tick: Callable[[], None],
    started: float,
    writer: JournalWriter | None,
) -> Outcome:
    """An adaptive comparison: the stored seeds in stages, a decision after each stage."""
    import numpy as np

    assert job.baseline is not None
    looks = adaptive.schedule(len(job.seeds), job.settings.alpha)
    stages: list[RunResult] = []
    for index, look in enumerate(looks):
        start = looks[index - 1].n if index else 0

        def journaled(outcome: SeedOutcome, start: int = start) -> None:
            if writer is not None:  # journal rows count from the first stored seed
                writer.append(dataclasses.replace(outcome, index=outcome.index + start))

        stage = run_benchmark(
            job.bench,
            job.seeds[start : look.n],
            backend=backend,
            expected_slots=job.baseline.slots(),
            on_seed_done=tick,
            update_command=job.update_command,
            reused=[
                dataclasses.replace(o, index=o.index - start)
                for o in job.reused
                if start <= o.index < look.n
            ],
            on_outcome=journaled,
        )
        stages.append(stage)
        values = _frozen(np.concatenate([s.values for s in stages]))
        baseline = _frozen(job.baseline.matrix(stage.slots)[: look.n])
        decision = adaptive.decide(
            looks,
            index,
            stage.slots,
            job.seeds[: look.n],
            baseline,
            values,
            alpha=job.settings.alpha,
            min_effect=job.settings.min_effect,
            rtol=job.settings.rtol,
        )
        if decision.reason is not None:
            break
    per_seed = tuple(t for s in stages for t in s.seed_times)
    return Outcome(
        Status.PASS if decision.passed else Status.FAIL,
        job.bench,
        job.settings,
        job.seeds[: look.n],
        slots=tuple(stage.slots),
        values=values,
        baseline=baseline,
        comparison=decision.comparison,
        timings=Timings(time.perf_counter() - started, tuple(per_seed)),
        reused=sum(s.reused for s in stages),
        seeds_run=look.n,
        seeds_stored=len(job.seeds),
        stopped_at_look=index + 1,
        stop_reason=decision.reason,
        look_alpha=decision.alpha,
    )


def _run_one(
    job: Job,
    pool: Pool,
    git: GitState | None,
    on_event: Callable[[Event], None],
    journal: Journal | None,
) -> Outcome:
    if job.refused is not None:
        return Outcome(Status.ERROR, job.bench, job.settings, job.seeds, error=job.refused)
    tick = _ticker(job.bench.name, len(job.seeds), on_event)
    started = time.perf_counter()
    mismatches = tuple(pool.version_mismatches(job.bench))
    if mismatches and job.strict:
        return _version_error(job, mismatches)
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
        writer = journal.start(job.bench.name, job.fingerprint, job.seeds, job.reused)
    cluster = None
    try:
        if job.baseline is not None and settings.adaptive:
            try:
                outcome = _run_staged(job, backend, tick, started, writer)
            finally:
                cluster = getattr(backend, "notes", None)
        else:
            outcome, cluster = _run_all(job, backend, tick, started, writer, git)
    except BenchmarkError as exc:
        outcome = _failed(job, exc, started)
        cluster = getattr(backend, "notes", None)
    finally:
        backend.close()
        if writer is not None:
            writer.close()
    if journal is not None and outcome.status is not Status.ERROR:
        journal.remove(job.bench.name)  # a verdict: nothing left to resume
    return dataclasses.replace(outcome, version_mismatches=mismatches, cluster=cluster)


def _run_all(
    job: Job,
    backend: Backend,
    tick: Callable[[], None],
    started: float,
    writer: JournalWriter | None,
    git: GitState | None,
) -> tuple[Outcome, ClusterNotes | None]:
    """Every seed, the verdict, and for a new baseline the determinism check; with the
    cluster's notes on the seeds' run (not on the check's)."""
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
    finally:
        cluster = getattr(backend, "notes", None)
    outcome = _judge(job, result, Timings(0.0, tuple(result.seed_times)), git)
    warning = None
    if outcome.status is Status.NEW and job.settings.check_determinism:
        warning = check_determinism(job.bench, result, backend)
    outcome = dataclasses.replace(
        outcome,
        timings=Timings(time.perf_counter() - started, tuple(result.seed_times)),
        warnings=(warning,) if warning else (),
        reused=result.reused,
    )
    return outcome, cluster


def _not_collected(error: CollectionError) -> Outcome:
    """The ERROR outcome of a file that failed to import or a benchmark with a bad configuration."""

    def uncollected(seed: int) -> Any:
        raise BenchmarkError(error.label, error.message)

    bench = Benchmark(name=error.label, path=error.path, func=uncollected)
    failure = Failure(error.message, traceback=error.traceback)
    return Outcome(Status.ERROR, bench, bench.defaults, (), error=failure)


def _version_error(job: Job, mismatches: tuple[VersionMismatch, ...]) -> Outcome:
    """``--strict``: the workers run other versions than this process; nothing runs."""
    more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
    message = (
        f"--strict: {mismatches[0]}{more}; run the workers from the same environment "
        "as pybench, or drop --strict to go on with a warning"
    )
    return Outcome(
        Status.ERROR,
        job.bench,
        job.settings,
        job.seeds,
        error=Failure(message),
        version_mismatches=mismatches,
    )


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


def _ticker(name: str, total: int, on_event: Callable[[Event], None]) -> Callable[[], None]:
    """Announce a benchmark's ``total`` seed calls; the callback to call after each one."""
    on_event(BenchStarted(name, total))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        on_event(SeedDone(name, done, total))

    return tick


def _failed(job: Job, exc: BenchmarkError, started: float) -> Outcome:
    return Outcome(
        Status.ERROR,
        job.bench,
        job.settings,
        job.seeds,
        error=Failure(str(exc), exc.seed, exc.detail, exc.stdout, exc.stderr),
        timings=Timings(time.perf_counter() - started),
    )


def _run_paired(
    job: Job, base: Benchmark, trees: tuple[Tree, Tree], on_event: Callable[[Event], None]
) -> Outcome:
    from .revisions import as_baseline, run_interleaved, side_backend

    base_tree, head_tree = trees
    tick = _ticker(job.bench.name, 2 * len(job.seeds), on_event)
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
        record = as_baseline(job.bench.name, base_result, base_tree.revision)
        timings = Timings(time.perf_counter() - started, tuple(head_result.seed_times))
        return _judge(dataclasses.replace(job, baseline=record), head_result, timings, None)
    except BenchmarkError as exc:
        return _failed(job, exc, started)


def _run_head_only(job: Job, head_tree: Tree, on_event: Callable[[Event], None]) -> Outcome:
    """A benchmark only HEAD has: run on HEAD alone, NEW with a note, nothing saved."""
    from .revisions import run_alone, side_backend

    tick = _ticker(job.bench.name, len(job.seeds), on_event)
    started = time.perf_counter()
    workers, gpus, env = job.settings.workers, job.settings.gpus, job.settings.env
    try:
        with side_backend(head_tree, workers=workers, gpus=gpus, env=env) as backend:
            result = run_alone(
                job.bench,
                job.seeds,
                backend=backend,
                label=f"head {head_tree.revision.label}",
                on_seed_done=tick,
            )
    except BenchmarkError as exc:
        return _failed(job, exc, started)
    return Outcome(
        Status.NEW,
        job.bench,
        job.settings,
        job.seeds,
        slots=tuple(result.slots),
        values=_frozen(result.values),
        timings=Timings(time.perf_counter() - started, tuple(result.seed_times)),
        note=ONLY_IN_HEAD,
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
    A job only HEAD has (``only_in="head"``) runs on HEAD alone and ends NEW
    (or ERROR), with :data:`ONLY_IN_HEAD` as its note and nothing to save; one
    only BASE has (``only_in="base"``) does not run and ends GONE.

    Each outcome's benchmark names its file where it lies in the repository
    (:meth:`pybench.revisions.Tree.in_repo`), not in the checkout, which is
    removed when the command ends.

    Args:
        jobs: from :func:`plan_revisions` (or :func:`plan_fresh`, for the head side's
            benchmarks).
        base: the base side's benchmark of each job both revisions have, by name.
        trees: the ``(base, head)`` checkouts (:func:`pybench.revisions.open_tree`).
        on_event: as for :func:`run`; a job both sides have counts ``2 * n_seeds``
            seeds, one HEAD alone has ``n_seeds``; a GONE job only finishes.
    """
    emit = on_event or (lambda event: None)
    base_tree, head_tree = trees
    outcomes = []
    for job in jobs:
        if job.only_in == "base":
            outcome = Outcome(Status.GONE, job.bench, job.settings, (), note=ONLY_IN_BASE)
            tree = base_tree
        elif job.only_in == "head":
            outcome, tree = _run_head_only(job, head_tree, emit), head_tree
        else:
            outcome, tree = _run_paired(job, base[job.bench.name], trees, emit), head_tree
        bench = dataclasses.replace(outcome.bench, path=tree.in_repo(outcome.bench.path))
        outcome = dataclasses.replace(outcome, bench=bench)
        outcomes.append(outcome)
        emit(BenchFinished(outcome))
    return outcomes


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """2 if any benchmark ended in ERROR, else 1 if any FAILed, else 0 (NEW and GONE pass)."""
    statuses = {o.status for o in outcomes}
    if Status.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_REGRESSION if Status.FAIL in statuses else EXIT_OK
