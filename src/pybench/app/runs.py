"""The use cases both front ends share: the journal, the saving policy, a comparison.

The command line and the pytest plugin wire their options to these functions
(and to :mod:`pybench.app.policy`) and render what they return; neither plans,
runs or guards on its own.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ..core.provenance import Revision
from ..engine import loop
from ..engine.outcome import BenchFinished, BenchStarted, Event, Outcome
from ..engine.plan import Job, plan_pairs
from ..execution.backends import Pool
from ..execution.capture import capture
from ..sources.code import CodeSource, discover_tree, open_tree, pair_benchmarks
from ..sources.git import code_state, git
from ..sources.revisions import RevisionPair
from ..sources.worktrees import checkout
from ..storage import store
from ..storage.journal import Journal
from ..storage.store import BaselineRecord
from .policy import Interrupted, interrupted

__all__ = [
    "Saving",
    "compare_journal",
    "compare_revisions",
    "bench_files",
    "compared_sources",
    "journal_for",
]

def journal_for(baseline: Path) -> Journal:
    """The journals of ``baseline``, fingerprinting code by its git commit and diff."""
    return Journal.beside(baseline, code_state=code_state)


def compare_journal(repo: Path) -> Journal | None:
    """Where ``pybench compare`` journals its seeds: ``pybench/journal`` in the repository's
    git folder, never in the working tree (compare writes nothing there); ``None`` if there
    is no git folder to write in."""
    result = git(["rev-parse", "--git-common-dir"], repo)
    if not result.ok or not result.stdout.strip():
        return None
    folder = (repo / result.stdout.strip()).resolve() / "pybench" / "journal"
    return Journal(folder, code_state=code_state)


class Saving:
    """The run's event callback for the command line: remembers what is running and what was
    saved, and passes events on. :meth:`save` is the run loop's ``save``: it stores the new
    baselines of finished benchmarks (several at a time, see :class:`pybench.engine.loop`)
    before their journals go, each write one locked, atomic rewrite of the file
    (:class:`pybench.storage.store.Saver`, which keeps the file's lines between writes)."""

    def __init__(self, baseline: Path | None, on_event: Callable[[Event], None]):
        self.baseline = baseline
        self.on_event = on_event
        self.saved: list[str] = []
        self.running: str | None = None
        self._saver = store.Saver(baseline) if baseline is not None else None

    def save(self, records: Sequence[BaselineRecord]) -> None:
        """Store ``records`` in the baseline file, in one write.

        Raises:
            StoreError: the file cannot be written; the run makes those benchmarks ERRORs.
        """
        if self._saver is None:
            return
        self._saver.save(records)
        self.saved.extend(record.bench for record in records)

    def __call__(self, event: Event) -> None:
        if isinstance(event, BenchStarted):
            self.running = event.name
        elif isinstance(event, BenchFinished) and event.outcome.bench.name == self.running:
            self.running = None  # (one reported late, once its baseline is saved, is not)
        self.on_event(event)

    def interrupted(self, journal: Journal | None) -> Interrupted:
        """What Ctrl-C ended: the baselines saved before it, the seeds kept for ``--resume``."""
        running = [self.running] if self.running else []
        kept = [name for name in running if journal is not None and journal.finished(name)]
        return interrupted(self.saved, kept)


@contextlib.contextmanager
def bench_files(repo: Path, bench: Revision | None) -> Iterator[Path | None]:
    """The root of the tree ``--bench-from`` takes the benchmark files from (the working
    tree itself, or a checkout removed when the block ends); ``None`` without it."""
    if bench is None:
        yield None
        return
    with checkout(repo, bench) as root:
        yield root


@contextlib.contextmanager
def compared_sources(pair: RevisionPair) -> Iterator[tuple[CodeSource, CodeSource]]:
    """Both revisions checked out as code sources (removed when the block ends)."""
    with (
        bench_files(pair.repo, pair.bench) as files,
        open_tree(pair.repo, pair.base, pair.path, "base", files) as base,
        open_tree(pair.repo, pair.head, pair.path, "head", files) as head,
    ):
        yield base, head


def compare_revisions(
    sources: tuple[CodeSource, CodeSource],
    names: Sequence[str],
    overrides: Mapping[str, Any],
    *,
    pool: Pool,
    base_seed: int | None,
    journal: Journal | None,
    resume: bool,
    on_jobs: Callable[[list[Job]], Callable[[Event], None]],
) -> list[Outcome]:
    """``pybench compare``: discover both sides, pair them, plan, and run them in the one loop.

    ``on_jobs`` receives the planned jobs (before anything runs) and returns the
    event callback.
    """
    base, head = sources
    with capture(pool.capture):  # what the imports print is captured like a seed's output
        pairing = pair_benchmarks(discover_tree(base), discover_tree(head), names)
    jobs = plan_pairs(
        pairing, sources, overrides, base_seed=base_seed, journal=journal, resume=resume
    )
    on_event = on_jobs(jobs)
    return loop.run(jobs, pool=pool, on_event=on_event, journal=journal)
