"""Planning: settings resolved once, seeds chosen, reachability checked before anything runs.

:func:`plan` makes the jobs of ``pybench run``/``update`` (one code source, the
working tree, judged against the stored baselines); :func:`plan_pairs` those of
``pybench compare`` (two code sources, paired seed for seed on fresh seeds).
Either way a :class:`Job` names its benchmark, its settings, its seeds and the
:class:`Side` of each code source it runs on; the run loop runs them all alike.
"""

from __future__ import annotations

import hashlib
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import stats
from ..core.benchmark import Benchmark
from ..core.errors import PybenchError
from ..core.seeds import SeedOutcome
from ..core.settings import Settings, resolve
from ..sources.code import WORKING_TREE, CodeSource, Pairing
from ..storage.journal import Journal, Resumable
from ..storage.store import BaselineFile, BaselineRecord
from .outcome import Failure

__all__ = ["Job", "Side", "UnreachableAlphaError", "plan", "plan_pairs", "sample_seeds"]


class UnreachableAlphaError(PybenchError):
    """A benchmark whose ``alpha`` can never be reached with its number of seeds."""


@dataclass(frozen=True)
class Side:
    """One code source's part of a job: the benchmark as that source defines it, and its journal."""

    bench: Benchmark
    source: CodeSource = WORKING_TREE
    journal_key: str | None = None
    """The name its seeds are journaled under (``None``: no journal)."""
    fingerprint: str | None = None
    """The code's fingerprint, written in the journal."""
    reused: tuple[SeedOutcome, ...] = ()
    """Seeds an interrupted run of the same code finished (``--resume``): not run again."""


@dataclass(frozen=True)
class Job:
    """One benchmark to run: its resolved settings, its seeds, its sides and its baseline."""

    bench: Benchmark
    settings: Settings
    seeds: tuple[int, ...]
    baseline: BaselineRecord | None
    """The stored record to compare with; ``None`` when there is none to compare with."""
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
    resume_note: str | None = None
    """``--resume``: why the benchmark's journal was not used (``None``: used, or none)."""
    sides: tuple[Side, ...] = ()
    """Where the seeds run: one side (a run, or a benchmark only HEAD has), or ``(base,
    head)`` paired seed for seed; empty means the working tree with no journal."""
    flip_alpha: float | None = None
    """The smallest level the verdict may be held to (``--alpha-scope run``): the sign-flip
    budget is sized for it; ``None``: the benchmark's ``alpha``."""

    @property
    def runs_on(self) -> tuple[Side, ...]:
        """The sides the seeds run on (the working tree when none is named)."""
        return self.sides or (Side(self.bench),)

    @property
    def paired(self) -> bool:
        """Two code sources judged one against the other (``pybench compare``)."""
        return len(self.sides) == 2

    @property
    def reused(self) -> tuple[SeedOutcome, ...]:
        """The seeds the (head) side takes from an interrupted run's journal."""
        return self.runs_on[-1].reused

    @property
    def makes_baseline(self) -> bool:
        """Whether the job, if it succeeds, saves a new baseline record."""
        return (
            self.baseline is None
            and self.refused is None
            and not self.paired
            and self.only_in is None
        )


def sample_seeds(n: int, *, base_seed: int | None, name: str) -> list[int]:
    """Draw ``n`` distinct seeds in ``[0, 2**32)`` for a new baseline of ``name``.

    With ``base_seed`` (``--seed``/``PYBENCH_SEED``) the draw is reproducible and
    differs between benchmarks; without it, it comes from fresh entropy.
    """
    import numpy as np

    if base_seed is None:
        rng = np.random.default_rng()
    else:
        rng = np.random.default_rng([base_seed, zlib.crc32(name.encode())])
    seeds: list[int] = []
    seen: set[int] = set()
    while len(seeds) < n:
        for value in rng.integers(0, 2**32, size=n - len(seeds), dtype=np.uint64).tolist():
            if value not in seen:
                seen.add(value)
                seeds.append(int(value))
    return seeds


def check_reachable(
    name: str,
    alpha: float,
    n: int,
    *,
    fresh: bool = False,
    update_command: str = "pybench update",
    n_slots: int = 0,
) -> None:
    """Refuse, before anything runs, an ``alpha`` that ``n`` seeds can never reach, or whose
    sign flips over ``n_slots`` slots (when known: a stored baseline) would take too long.

    Raises:
        UnreachableAlphaError: saying how many seeds are needed and how to get them.
    """
    if not stats.affordable(alpha):
        raise UnreachableAlphaError(
            f"{name}: alpha={alpha:g} would need {stats.n_permutations(alpha)} sign flips "
            f"(at least 20/alpha; pybench allows {stats.MAX_PERM}); use alpha >= "
            f"{stats.FLIPS_PER_ALPHA / stats.MAX_PERM:g}"
        )
    slow = stats.too_slow(name, alpha, n, n_slots) if n_slots else None
    if slow:
        raise UnreachableAlphaError(slow)
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


def _journaled(
    journal: Journal | None,
    bench: Benchmark,
    key: str,
    resume: bool,
    source: CodeSource = WORKING_TREE,
) -> tuple[str | None, Resumable | None]:
    """The fingerprint of ``bench``'s code, and with ``resume`` its journal under ``key``.

    A checked-out revision adds its commit: with ``--bench-from`` the benchmark file
    lies outside the checkout, so the file's folder alone does not say which code ran.
    """
    if journal is None:
        return None, None
    fingerprint = journal.fingerprint(bench)
    revision = source.revision
    if revision is not None and revision.is_checkout and revision.commit is not None:
        fingerprint = hashlib.sha256(f"{fingerprint}\0{revision.commit}".encode()).hexdigest()
    return fingerprint, journal.read(key, fingerprint) if resume else None


def _side(
    bench: Benchmark,
    source: CodeSource,
    key: str | None,
    fingerprint: str | None,
    found: Resumable | None,
    seeds: tuple[int, ...],
) -> Side:
    reused = found.outcomes if found is not None and found.seeds == seeds else ()
    return Side(bench, source, key if fingerprint is not None else None, fingerprint, reused)


def _resume_note(journal: Journal | None, side: Side, seeds: tuple[int, ...]) -> str | None:
    """``--resume``: why the benchmark's journal was not used (``None``: used, or none)."""
    if journal is None or side.fingerprint is None or side.reused:
        return None
    why = journal.unused(side.bench.name, side.fingerprint, seeds)
    if why is None:
        return None
    return f"{side.bench.name}: --resume did not use the journal: {why}; every seed runs"


def _seeds_for(
    settings: Settings,
    record: BaselineRecord | None,
    found: Resumable | None,
    base_seed: int | None,
    name: str,
) -> tuple[int, ...]:
    """The stored seeds; else those an interrupted run sampled (``--resume``); else fresh ones.

    ``--seed`` names the seeds itself: a journal is then reused only if it holds those.
    """
    if record is not None:
        return tuple(record.seeds)
    if found is not None and len(found.seeds) == settings.n_seeds and base_seed is None:
        return tuple(found.seeds)
    return tuple(sample_seeds(settings.n_seeds, base_seed=base_seed, name=name))


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
    """Resolve each benchmark's settings and choose its seeds (``pybench run`` and ``update``).

    A benchmark with a stored record (and not ``update``) reuses the record's
    seeds; any other gets ``n_seeds`` fresh ones (reproducible with ``base_seed``),
    or, with ``resume``, the seeds its interrupted run had sampled; unless
    ``strict``: then it is refused and will end as an ERROR without running.

    Args:
        benchmarks: the benchmarks to run.
        records: the stored baselines by benchmark name; a
            :class:`~pybench.storage.store.BaselineFile` also names the records that
            cannot be used: each of their benchmarks ends as an ERROR naming the line
            (unless ``update`` replaces it), the others run.
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
    unusable = records.unusable if isinstance(records, BaselineFile) else {}
    for bench in benchmarks:
        settings = resolve(bench.defaults, overrides)
        record = None if update else records.get(bench.name)
        if bench.name in unusable and not update:
            refused = Failure(
                f"its stored baseline cannot be used: {unusable[bench.name]}; or replace it with "
                f"`{update_command} --bench {bench.name}`"
            )
            jobs.append(Job(bench, settings, (), None, refused=refused))
            continue
        if record is None and strict and not update:
            refused = Failure(
                f"--strict: no stored baseline in {baseline_file}; make one with "
                f"`{update_command} --bench {bench.name}` and commit it"
            )
            jobs.append(Job(bench, settings, (), None, refused=refused))
            continue
        fingerprint, found = _journaled(journal, bench, bench.name, resume)
        seeds = _seeds_for(settings, record, found, base_seed, bench.name)
        k = len(record.slots()) if record is not None else 0
        check_reachable(bench.name, settings.alpha, len(seeds), update_command=update_command,
                        n_slots=k)  # fmt: skip
        side = _side(bench, WORKING_TREE, bench.name, fingerprint, found, seeds)
        jobs.append(
            Job(
                bench,
                settings,
                seeds,
                record,
                update,
                update_command=update_command,
                strict=strict,
                sides=(side,),
                resume_note=_resume_note(journal, side, seeds) if resume else None,
            )
        )
    return jobs


def plan_pairs(
    pairing: Pairing,
    sources: tuple[CodeSource, CodeSource],
    overrides: Mapping[str, Any],
    *,
    base_seed: int | None = None,
    journal: Journal | None = None,
    resume: bool = False,
) -> list[Job]:
    """The jobs of ``pybench compare``, in name order, for the benchmarks of both revisions.

    A benchmark both revisions have gets fresh seeds (settings from HEAD's
    version), or with ``resume`` those its interrupted comparison had sampled,
    and runs on both sources; one only HEAD has gets them too and runs on HEAD
    alone (``only_in="head"``); one only BASE has is not run (``only_in="base"``,
    no seeds, settings from BASE's version).

    Raises:
        UnreachableAlphaError: before anything runs, for a benchmark that will run.
    """
    base_source, head_source = sources
    jobs = []
    paired = [(base, head) for base, head in pairing.pairs]
    for base, head in [*paired, *[(None, head) for head in pairing.only_head]]:
        settings = resolve(head.defaults, overrides)
        benches = [(base, base_source, "base"), (head, head_source, "head")]
        found = {
            side: _journaled(journal, bench, f"{head.name}@{side}", resume, source)
            for bench, source, side in benches
            if bench is not None
        }
        first = found["base" if base is not None else "head"][1]
        seeds = _seeds_for(settings, None, first, base_seed, head.name)
        check_reachable(head.name, settings.alpha, len(seeds), fresh=True)
        sides = tuple(
            _side(bench, source, f"{head.name}@{side}", *found[side], seeds)
            for bench, source, side in benches
            if bench is not None
        )
        only_in = None if base is not None else "head"
        jobs.append(Job(head, settings, seeds, None, only_in=only_in, sides=sides))
    for bench in pairing.only_base:
        settings = resolve(bench.defaults, overrides)
        side = Side(bench, base_source)
        jobs.append(Job(bench, settings, (), None, only_in="base", sides=(side,)))
    return sorted(jobs, key=lambda job: job.bench.name)
