"""Outcomes: what one benchmark's run ended as, built in one place, rendered by every report.

An :class:`Outcome` is immutable (its numpy matrices are read-only). The
constructors :meth:`Outcome.judged`, :meth:`Outcome.new`, :meth:`Outcome.failed`
and :meth:`Outcome.gone` are the only ways the engine makes one; what belongs to
one mode only travels as a small optional value (:class:`AdaptiveTrace` for an
adaptive comparison, :class:`~pybench.execution.dask.ClusterNotes` on Dask).
"""

from __future__ import annotations

import dataclasses
import enum
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Generic, TypeVar, cast

from ..core.benchmark import Benchmark
from ..core.errors import EXIT_ERROR, EXIT_OK, EXIT_REGRESSION
from ..core.normalize import Slot
from ..core.settings import Settings
from ..execution.dask import ClusterNotes
from ..execution.versions import VersionMismatch
from ..judging.adaptive import StopReason
from ..judging.family import Family
from ..judging.verdict import BenchComparison
from ..storage.store import BaselineRecord
from .collect import RunResult

if TYPE_CHECKING:
    import numpy as np

T = TypeVar("T")

__all__ = [
    "ONLY_IN_BASE",
    "ONLY_IN_HEAD",
    "AdaptiveTrace",
    "BenchFinished",
    "BenchStarted",
    "Confirmation",
    "Event",
    "Failure",
    "Outcome",
    "SeedDone",
    "Status",
    "Timings",
    "exit_code",
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
class AdaptiveTrace:
    """How an adaptive comparison ended: after how many seeds, at which look, and why.

    The outcome's ``seeds``, ``values``, ``baseline`` and ``comparison`` then
    cover the first ``seeds_run`` seeds only.
    """

    seeds_run: int
    """How many of the seeds ran."""
    seeds_stored: int
    """How many seeds there were to run (those the baseline stores)."""
    stopped_at_look: int
    """The look (1-based) whose decision ended the run."""
    stop_reason: StopReason | None
    """Why the run stopped at that look (``None``: it judged every seed)."""
    look_alpha: float
    """The share of ``alpha`` the meta p-value was held to at that look (``comparison``
    keeps the statistics of the benchmark's ``alpha``; its ``passed`` is the look's verdict)."""


class _Traced(Generic[T]):
    """A field of the outcome's :class:`AdaptiveTrace`, read on the outcome (``None`` without)."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, outcome: Outcome | None, owner: type | None = None) -> T | None:
        trace = outcome.adaptive if outcome is not None else None
        return cast("T | None", getattr(trace, self.name)) if trace is not None else None


@dataclass(frozen=True)
class Confirmation:
    """``--confirm``: a FAIL judged again on fresh seeds, the baseline's commit against the
    working tree, paired and interleaved (:mod:`pybench.app.confirm`)."""

    status: Status
    """FAIL (confirmed: the benchmark FAILs) or PASS (not confirmed: it PASSes)."""
    n_seeds: int
    meta_p: float | None
    commit: str
    """The baseline's commit the fresh seeds ran against."""
    seeds: tuple[int, ...] = ()

    @property
    def confirmed(self) -> bool:
        return self.status is Status.FAIL


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
    adaptive: AdaptiveTrace | None = None
    """How an adaptive comparison ended (``None`` without ``adaptive``)."""
    warnings: tuple[str, ...] = ()
    """Lines to show besides the verdict (a benchmark that is not a deterministic function
    of its seed)."""
    reused: int = 0
    """How many seeds were taken from an interrupted run's journal (``--resume``)."""
    confirmation: Confirmation | None = None
    """``--confirm``: how a FAIL on the stored seeds fared on fresh ones (the comparison
    above stays the stored seeds' one); ``None`` when it was not re-judged."""
    family: Family | None = None
    """``--alpha-scope run``: the benchmark's adjusted p-value in the run's family (``None``
    under the default scope, and for a benchmark that did not take part)."""

    @property
    def name(self) -> str:
        return self.bench.name

    seeds_run = _Traced[int]()
    """With ``adaptive``: how many of the stored seeds ran (``None`` without)."""
    seeds_stored = _Traced[int]()
    """With ``adaptive``: how many seeds the baseline stores."""
    stopped_at_look = _Traced[int]()
    """With ``adaptive``: the look (1-based) whose decision ended the run."""
    stop_reason = _Traced[StopReason]()
    """With ``adaptive``: why the run stopped at that look."""
    look_alpha = _Traced[float]()
    """With ``adaptive``: the share of ``alpha`` held to at the last look."""

    @property
    def stopped_early(self) -> bool:
        """An adaptive comparison reached its verdict before running every stored seed."""
        return self.adaptive is not None and self.adaptive.seeds_run < self.adaptive.seeds_stored

    @classmethod
    def failed(
        cls,
        bench: Benchmark,
        settings: Settings,
        seeds: Sequence[int],
        error: Failure,
        *,
        timings: Timings = Timings(0.0),
        version_mismatches: tuple[VersionMismatch, ...] = (),
    ) -> Outcome:
        """An ERROR: no verdict, and why."""
        return cls(
            Status.ERROR,
            bench,
            settings,
            tuple(seeds),
            error=error,
            timings=timings,
            version_mismatches=version_mismatches,
        )

    @classmethod
    def gone(cls, bench: Benchmark, settings: Settings) -> Outcome:
        """A benchmark only BASE has (``pybench compare``): GONE, nothing ran."""
        return cls(Status.GONE, bench, settings, (), note=ONLY_IN_BASE)

    @classmethod
    def new(
        cls,
        bench: Benchmark,
        settings: Settings,
        result: RunResult,
        *,
        record: BaselineRecord | None,
        replaces: bool = False,
        wall: float = 0.0,
    ) -> Outcome:
        """A NEW: values with nothing to compare them with; ``record`` is the baseline to save
        (``None`` for a benchmark only HEAD has in ``pybench compare``)."""
        return cls(
            Status.NEW,
            bench,
            settings,
            tuple(result.seeds),
            slots=tuple(result.slots),
            values=_frozen(result.values),
            record=record,
            replaces=replaces,
            timings=Timings(wall, result.seed_times),
            note=ONLY_IN_HEAD if record is None else None,
            reused=result.reused,
        )

    @classmethod
    def judged(
        cls,
        bench: Benchmark,
        settings: Settings,
        result: RunResult,
        baseline: np.ndarray,
        comparison: BenchComparison,
        *,
        wall: float = 0.0,
        adaptive: AdaptiveTrace | None = None,
    ) -> Outcome:
        """A PASS or FAIL: the run's values judged against the baseline's on the same seeds.

        With ``settings.equivalence`` it is a PASS only if the run also rules out
        every larger drop (:attr:`BenchComparison.equivalent`).
        """
        comparison = dataclasses.replace(comparison, margin=settings.equivalence)
        return cls(
            Status.PASS if comparison.passed else Status.FAIL,
            bench,
            settings,
            tuple(result.seeds),
            slots=tuple(result.slots),
            values=_frozen(result.values),
            baseline=_frozen(baseline),
            comparison=comparison,
            timings=Timings(wall, result.seed_times),
            adaptive=adaptive,
            reused=result.reused,
        )


def _frozen(values: np.ndarray) -> np.ndarray:
    values.flags.writeable = False
    return values


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
"""What the run loop reports while it works."""


def exit_code(outcomes: Sequence[Outcome]) -> int:
    """2 if any benchmark ended in ERROR, else 1 if any FAILed, else 0 (NEW and GONE pass)."""
    statuses = {o.status for o in outcomes}
    if Status.ERROR in statuses:
        return EXIT_ERROR
    return EXIT_REGRESSION if Status.FAIL in statuses else EXIT_OK
