"""The run loop: every job, on one code source or two, through the same steps.

:func:`run` executes the jobs of :mod:`pybench.engine.plan` and returns one
:class:`~pybench.engine.outcome.Outcome` per benchmark. A job runs on one code
source (``pybench run``: the working tree, judged against the stored baseline
or saved as a new one) or on two paired seed for seed (``pybench compare``:
BASE takes the place of the stored baseline). The strategies are parameters of
this one loop, not copies of it:

- *full* or *staged*: with ``adaptive`` a comparison runs its seeds in stages
  and stops at the first look whose decision is clear (:mod:`pybench.judging.adaptive`);
- *one source* or *paired*: with two sources the seeds go in blocks of the
  number of workers, alternating between the sources, so drift in the machine's
  speed or load hits both alike.

Every job gets the same per-seed timeout, captured output, journal for
``--resume``, progress events and error texts. Neither prints: progress is
reported through a callback, and saving baselines is the caller's business
(the only files the loop writes are the journals of running benchmarks; a
benchmark's journal is removed only once its verdict stands and its new
baseline, if any, has been saved through the ``save`` callback). New baselines
are saved in batches, a benchmark reported finished only once its baseline is
saved (:class:`_Reports`).

While :func:`run` runs, Ctrl-C belongs to pybench (:mod:`pybench.execution.interrupts`):
a benchmark that swallows ``KeyboardInterrupt`` still ends the run, and the
seed it was running is never kept.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .. import stats
from ..core.benchmark import Benchmark
from ..core.errors import InternalError, PybenchError
from ..core.machine import baseline_warning
from ..core.provenance import GitState
from ..execution import interrupts
from ..execution.backends import Pool
from ..execution.evaluate import close_stream
from ..execution.machine import fingerprint
from ..execution.versions import VersionMismatch
from ..judging import adaptive
from ..judging.verdict import Criteria, Paired, compare_run
from ..sources.discover import CollectionError
from ..storage.journal import Journal, JournalWriter
from ..storage.store import BaselineRecord
from .collect import (
    BenchmarkError,
    Collector,
    RunResult,
    check_determinism,
    check_finite,
    slots_differ,
)
from .outcome import (
    AdaptiveTrace,
    BenchFinished,
    BenchStarted,
    Event,
    Failure,
    Outcome,
    SeedDone,
    Status,
    Timings,
)
from .plan import Job, Side

if TYPE_CHECKING:
    import numpy as np

__all__ = ["run"]

BASE_FINITE = "the base side must be finite to compare against"
HEAD_ALONE_FINITE = "it must be finite to be compared once both revisions have it"


class _SideRun:
    """One side of a running job: its back-end, its collector and its journal."""

    def __init__(self, job: Job, side: Side, pool: Pool, journal: Journal | None):
        settings = job.settings
        self.side = side
        self.seeds = job.seeds
        self.backend = pool.backend_for(
            side.bench,
            workers=settings.workers,
            gpus=settings.gpus,
            env=settings.env,
            timeout=settings.timeout,
            source_roots=side.source.source_roots if side.source.isolated else (),
        )
        expected = job.baseline.slots() if job.baseline is not None else None
        label = side.source.label
        self.collector = Collector(
            side.bench, job.seeds, expected=expected, label=label, reused=side.reused
        )
        self.writer: JournalWriter | None = None
        if journal is not None and side.journal_key is not None and side.fingerprint is not None:
            self.writer = journal.start(side.journal_key, side.fingerprint, job.seeds, side.reused)
        self.notes: Any = None

    def gather(self, indices: Sequence[int], tick: Callable[[], None]) -> None:
        """Run the seeds at ``indices`` that have no outcome yet; check and journal each."""
        todo = self.collector.todo(indices)
        if not todo:
            return
        stream = self.backend.map_seeds(self.side.bench, [self.seeds[i] for i in todo])
        try:
            for outcome in stream:
                outcome = dataclasses.replace(outcome, index=todo[outcome.index])
                self.collector.add(outcome)
                if self.writer is not None:
                    self.writer.append(outcome)
                tick()
        finally:
            close_stream(stream)
            self.notes = getattr(self.backend, "notes", None)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def _gather(job: Job, runs: Sequence[_SideRun], indices: range, tick: Callable[[], None]) -> None:
    """Run ``indices`` on every side: at once on one source, in alternating blocks on two."""
    settings = job.settings
    chunk = len(indices) or 1
    if len(runs) > 1:
        chunk = len(settings.gpus) if settings.gpus else settings.workers
    for start in range(0, len(indices), chunk):
        block = indices[start : start + chunk]
        for side in runs:
            side.gather(block, tick)
    if len(runs) == 2:
        _check_same_slots(job, runs[0].collector, runs[1].collector)


def _check_same_slots(job: Job, base: Collector, head: Collector) -> None:
    if base.first is None or head.first is None or base.first[1].same_slots(head.first[1]):
        return
    raise BenchmarkError(
        job.bench.name,
        f"{head.label} returns different slots from {base.label}"
        f" ({slots_differ(head.first[1], base.first[1])});"
        " both revisions must return the same steps and metrics to be compared",
    )


def _baseline_values(job: Job, runs: Sequence[_SideRun], result: RunResult) -> np.ndarray:
    """What the first ``len(result.seeds)`` seeds are judged against: BASE's run, or the record."""
    n = len(result.seeds)
    if job.paired:
        base = runs[0].collector.result(n)
        check_finite(job.bench.name, base, why=BASE_FINITE, label=runs[0].collector.label)
        return base.values
    assert job.baseline is not None
    return job.baseline.matrix(result.slots)[:n]


def _criteria(job: Job, n_perm: int | None = None) -> Criteria:
    settings = job.settings
    return Criteria(settings.alpha, settings.min_effect, n_perm, settings.rtol)


def _judge(job: Job, runs: Sequence[_SideRun], started: float) -> Outcome:
    """Every seed ran: the verdict against the baseline (or BASE)."""
    result = runs[-1].collector.result()
    baseline = _baseline_values(job, runs, result)
    n_perm = None if job.flip_alpha is None else stats.n_permutations(job.flip_alpha)
    comparison = compare_run(
        Paired(result.slots, job.seeds, baseline, result.values), _criteria(job, n_perm)
    )
    return Outcome.judged(
        job.bench,
        job.settings,
        result,
        baseline,
        comparison,
        wall=time.perf_counter() - started,
    )


def _staged(
    job: Job, runs: Sequence[_SideRun], tick: Callable[[], None], started: float
) -> Outcome:
    """An adaptive comparison: the seeds in stages, a decision after each stage."""
    import numpy as np

    looks = adaptive.schedule(len(job.seeds), job.settings.alpha)
    for index, look in enumerate(looks):
        _gather(job, runs, range(looks[index - 1].n if index else 0, look.n), tick)
        result = runs[-1].collector.result(look.n)
        baseline = _baseline_values(job, runs, result)
        paired = Paired(result.slots, job.seeds[: look.n], np.array(baseline), result.values)
        decision = adaptive.decide(looks, index, paired, _criteria(job))
        if decision.reason is not None:
            break
    trace = AdaptiveTrace(look.n, len(job.seeds), index + 1, decision.reason, decision.alpha)
    return Outcome.judged(
        job.bench,
        job.settings,
        result,
        baseline,
        decision.comparison,
        wall=time.perf_counter() - started,
        adaptive=trace,
    )


def _timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _new(job: Job, head: _SideRun, started: float, git: GitState | None) -> Outcome:
    """Every seed ran and there is nothing to compare with: a new baseline (or HEAD alone)."""
    result = head.collector.result()
    if job.only_in == "head":
        check_finite(job.bench.name, result, why=HEAD_ALONE_FINITE, label=head.collector.label)
        wall = time.perf_counter() - started
        return Outcome.new(job.bench, job.settings, result, record=None, wall=wall)
    check_finite(job.bench.name, result)
    record = BaselineRecord.from_matrix(
        job.bench.name,
        job.seeds,
        result.slots,
        result.values,
        timestamp=_timestamp(),
        git_commit=git.commit if git else None,
        git_dirty=git.dirty if git else None,
        machine=fingerprint(job.bench.path),
    )
    warning = None
    if job.settings.check_determinism:
        warning = check_determinism(job.bench, result, head.backend)
    outcome = Outcome.new(
        job.bench,
        job.settings,
        result,
        record=record,
        replaces=job.update,
        wall=time.perf_counter() - started,
    )
    return dataclasses.replace(outcome, warnings=(warning,) if warning else ())


def _execute(
    job: Job, runs: Sequence[_SideRun], tick: Callable[[], None], git: GitState | None
) -> Outcome:
    """Run the job's seeds on its sides, the strategy chosen by its settings; the outcome."""
    started = time.perf_counter()
    for side in runs:
        for _ in side.collector.reused:
            tick()
    compares = job.paired or job.baseline is not None
    if compares and job.settings.adaptive:
        return _staged(job, runs, tick, started)
    _gather(job, runs, range(len(job.seeds)), tick)
    return _judge(job, runs, started) if compares else _new(job, runs[-1], started, git)


def _failed(job: Job, exc: BenchmarkError, started: float) -> Outcome:
    message = str(exc)
    if exc.reset:
        message += f"; re-run `{job.update_command} --bench {job.bench.name}` to reset its baseline"
    failure = Failure(message, exc.seed, exc.detail, exc.stdout, exc.stderr)
    timings = Timings(time.perf_counter() - started)
    return Outcome.failed(job.bench, job.settings, job.seeds, failure, timings=timings)


def _version_error(job: Job, mismatches: tuple[VersionMismatch, ...]) -> Outcome:
    """``--strict``: the workers run other versions than this process; nothing runs."""
    more = f" (and {len(mismatches) - 1} more)" if len(mismatches) > 1 else ""
    message = (
        f"--strict: {mismatches[0]}{more}; run the workers from the same environment "
        "as pybench, or drop --strict to go on with a warning"
    )
    return Outcome.failed(
        job.bench, job.settings, job.seeds, Failure(message), version_mismatches=mismatches
    )


def _run_job(
    job: Job,
    pool: Pool,
    git: GitState | None,
    emit: Callable[[Event], None],
    journal: Journal | None,
) -> Outcome:
    """One job from start to outcome."""
    if job.refused is not None:
        return Outcome.failed(job.bench, job.settings, job.seeds, job.refused)
    if job.only_in == "base":
        return Outcome.gone(job.bench, job.settings)
    tick = _ticker(job.bench.name, len(job.seeds) * len(job.runs_on), emit)
    started = time.perf_counter()
    mismatches = tuple(pool.version_mismatches(job.bench))
    if mismatches and job.strict:
        return _version_error(job, mismatches)
    elsewhere = against_baseline(job)
    if elsewhere is not None and job.strict:
        return Outcome.failed(job.bench, job.settings, job.seeds, Failure(elsewhere))
    runs: list[_SideRun] = []
    try:  # a resumed seed that does not fit the others is this benchmark's error
        runs.extend(_SideRun(job, side, pool, journal) for side in job.runs_on)
        outcome = _execute(job, runs, tick, git)
    except BenchmarkError as exc:
        outcome = _failed(job, exc, started)
    finally:
        for side in runs:
            side.close()
    notes = tuple(note for note in (elsewhere, job.resume_note) if note)
    warnings = (*notes, *outcome.warnings)
    return dataclasses.replace(
        outcome,
        version_mismatches=mismatches,
        cluster=runs[-1].notes if runs else None,
        warnings=warnings,
    )


def against_baseline(job: Job) -> str | None:
    """The warning of a job whose baseline was made on another machine, or under
    ``--strict`` the message of its error (``None`` without a baseline, when the
    baseline names no machine, or when it was made on one like this)."""
    if job.baseline is None or job.paired:
        return None
    found = baseline_warning(job.bench.name, job.baseline.machine, fingerprint(job.bench.path))
    if found is None or not job.strict:
        return found
    return (
        f"--strict: {found}; re-run `{job.update_command} --bench {job.bench.name}` on this "
        "machine, or drop --strict to go on with a warning"
    )


def _saved(job: Job, outcome: Outcome, failure: PybenchError | None) -> Outcome:
    """The outcome once its new baseline's save is over: a save that failed makes the
    benchmark an ERROR."""
    if outcome.record is None or failure is None:
        return outcome
    kept = " (the seeds it ran are kept for `--resume`)" if job.sides else ""
    message = Failure(f"its new baseline could not be saved: {failure}{kept}")
    return dataclasses.replace(
        Outcome.failed(job.bench, job.settings, job.seeds, message, timings=outcome.timings),
        version_mismatches=outcome.version_mismatches,
        cluster=outcome.cluster,
    )


SAVE_RATIO = 4.0
"""New baselines are saved once the time since the last save is at least this many times
what that save took: saving then costs at most a quarter of the time spent running."""


class _Reports:
    """Finished outcomes on their way out: each NEW one waits until its baseline is saved.

    A new baseline is not written the moment its benchmark finishes but with the others
    waiting, in one write, as soon as the run has spent :data:`SAVE_RATIO` times as long
    since the last save as that save took (at once for the first save, and whenever
    saving is cheap next to the benchmarks), at the end of the run and when it is
    interrupted. Until then the benchmark's finished seeds stay in its journal, and it
    is not reported: its ``BenchFinished`` event, and those of the benchmarks after it
    (so that they keep their order), wait for the save. What is reported saved is saved.
    """

    def __init__(
        self,
        emit: Callable[[Event], None],
        journal: Journal | None,
        save: Callable[[Sequence[BaselineRecord]], None] | None,
    ):
        self.emit = emit
        self.journal = journal
        self.save = save
        self.outcomes: list[Outcome] = []
        self.waiting: list[tuple[Job, Outcome]] = []
        self.cost = 0.0
        self.since = time.perf_counter()

    def finished(self, job: Job, outcome: Outcome) -> None:
        """A job's outcome: reported now, or with the next save if it (or one before it)
        waits for one."""
        if self.save is not None and (outcome.record is not None or self.waiting):
            self.waiting.append((job, outcome))
            if time.perf_counter() - self.since >= SAVE_RATIO * self.cost:
                self.flush()
            return
        self._report(job, outcome)

    def flush(self) -> None:
        """Save every waiting baseline in one write, then report the waiting outcomes."""
        waiting, self.waiting = self.waiting, []
        records = [outcome.record for _, outcome in waiting if outcome.record is not None]
        failure: PybenchError | None = None
        started = time.perf_counter()
        if records and self.save is not None:
            try:
                self.save(records)
            except PybenchError as exc:
                failure = exc
        self.since = time.perf_counter()
        self.cost = self.since - started if failure is None else 0.0
        for job, outcome in waiting:
            self._report(job, _saved(job, outcome, failure))

    def _report(self, job: Job, outcome: Outcome) -> None:
        _forget(job, outcome, self.journal)
        self.outcomes.append(outcome)
        self.emit(BenchFinished(outcome))


def _forget(job: Job, outcome: Outcome, journal: Journal | None) -> None:
    """A verdict (its new baseline safely saved): nothing left to resume, the journal goes."""
    if journal is None or outcome.status is Status.ERROR:
        return
    for planned in job.runs_on:
        if planned.journal_key is not None:
            journal.remove(planned.journal_key, tidy=False)  # the folder goes at the end


def _not_collected(error: CollectionError) -> Outcome:
    """The ERROR outcome of a file that failed to import or a benchmark with a bad configuration."""

    def uncollected(seed: int) -> Any:
        raise BenchmarkError(error.label, error.message)

    bench = Benchmark(name=error.label, path=error.path, func=uncollected)
    failure = Failure(
        error.message, traceback=error.traceback, stdout=error.stdout, stderr=error.stderr
    )
    return Outcome.failed(bench, bench.defaults, (), failure)


def _ticker(name: str, total: int, on_event: Callable[[Event], None]) -> Callable[[], None]:
    """Announce a benchmark's ``total`` seed calls; the callback to call after each one."""
    on_event(BenchStarted(name, total))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        on_event(SeedDone(name, done, total))

    return tick


def run(
    jobs: Sequence[Job],
    *,
    pool: Pool,
    git: GitState | None = None,
    on_event: Callable[[Event], None] | None = None,
    journal: Journal | None = None,
    not_collected: Sequence[CollectionError] = (),
    confirm: Callable[[Job, Outcome], Outcome] | None = None,
    save: Callable[[Sequence[BaselineRecord]], None] | None = None,
) -> list[Outcome]:
    """Run every job in order and return their outcomes.

    Ctrl-C raises ``KeyboardInterrupt`` out of this function (never an outcome
    for the benchmark it stopped); outcomes already reported through
    ``on_event`` stand. A second Ctrl-C kills the workers and exits at once.

    Each outcome's benchmark names its file where it lies in the repository
    (:meth:`pybench.sources.code.CodeSource.in_repo`), not in a checkout of
    ``pybench compare``, which is removed when the command ends.

    Args:
        jobs: from :func:`pybench.engine.plan.plan` or :func:`pybench.engine.plan.plan_pairs`.
        pool: where seeds run (:func:`pybench.execution.backends.open_pool`).
        git: the working tree's state, recorded in new baselines.
        on_event: receives :class:`~pybench.engine.outcome.BenchStarted`,
            :class:`~pybench.engine.outcome.SeedDone` and
            :class:`~pybench.engine.outcome.BenchFinished` events as the run goes; a
            job counts ``n_seeds`` seed calls per side (a GONE job only finishes).
        journal: journal each finished seed there (for ``--resume``); a
            benchmark that reaches a verdict removes its journal.
        not_collected: what discovery could not collect; each becomes an ERROR
            outcome, reported first.
        confirm: re-judges each FAIL before it is reported (``--confirm``,
            :mod:`pybench.app.confirm`); its outcome takes the FAIL's place.
        save: stores new baseline records in one write, before their benchmarks are
            reported finished; finished benchmarks wait and are saved together
            (:class:`_Reports`: at most a quarter of the run spent saving, everything
            saved at the end and on Ctrl-C). A
            :class:`~pybench.core.errors.PybenchError` it raises (a read-only folder,
            a full disk) makes those benchmarks ERRORs and keeps their journals; the
            other benchmarks still run.

    Raises:
        InternalError: an exception escaped pybench's own code; it names the
            benchmark that was running.
    """
    emit = on_event or (lambda event: None)
    reports = _Reports(emit, journal, save)
    for error in not_collected:
        reports.outcomes.append(_not_collected(error))
        emit(BenchFinished(reports.outcomes[-1]))
    with interrupts.guard(on_force=pool.kill):
        try:
            for job in jobs:
                interrupts.check()
                try:
                    reports.finished(job, _finished(job, pool, git, emit, journal, confirm))
                except (KeyboardInterrupt, PybenchError):
                    raise
                except Exception as exc:  # pybench's own bug: name the benchmark it stopped
                    raise InternalError(job.bench.name, exc) from exc
        finally:  # the end of the run, Ctrl-C or an error: what finished is saved
            reports.flush()
            if journal is not None:
                journal.tidy()
    return reports.outcomes


def _finished(
    job: Job,
    pool: Pool,
    git: GitState | None,
    emit: Callable[[Event], None],
    journal: Journal | None,
    confirm: Callable[[Job, Outcome], Outcome] | None = None,
) -> Outcome:
    """Run ``job`` (a FAIL re-judged by ``confirm``); its new baseline is saved, and its
    journal dropped, by :class:`_Reports`."""
    outcome = _run_job(job, pool, git, emit, journal)
    if confirm is not None and outcome.status is Status.FAIL:
        outcome = confirm(job, outcome)
    path = job.runs_on[-1].source.in_repo(outcome.bench.path)
    if path != outcome.bench.path:
        outcome = dataclasses.replace(outcome, bench=dataclasses.replace(outcome.bench, path=path))
    return outcome
