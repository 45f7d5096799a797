"""Collecting seeds: check each seed's outcome as it arrives and gather one score matrix.

A :class:`Collector` takes the outcomes of one benchmark on one code source, in
any order and in as many batches as the run loop makes (stages of an adaptive
comparison, blocks of an interleaved one), and refuses the first one that
cannot be used: a seed that raised or returned a bad value, or slots that
differ from the other seeds' or from the baseline's. Its failures are
:class:`BenchmarkError` values whose fields say what happened; the message a
user reads is composed from them here, once.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..core.benchmark import Benchmark
from ..core.errors import PybenchError
from ..core.normalize import Slot, describe_slot
from ..core.seeds import SeedOutcome
from ..core.values import SlotValues, as_slot_values
from ..execution.evaluate import Backend, close_stream

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BASELINE_FINITE",
    "BenchmarkError",
    "Collector",
    "RunResult",
    "check_determinism",
    "check_finite",
    "run_seeds",
    "slots_differ",
]


class BenchmarkError(PybenchError):
    """A benchmark could not produce a verdict: it raised, returned a bad value, or died.

    Attributes:
        bench: the benchmark's name.
        seed: the seed involved, if any.
        detail: the user's traceback (shown with ``-v``), possibly empty.
        stdout: what that seed wrote to stdout, when captured.
        stderr: what that seed wrote to stderr, when captured.
        reset: the baseline's slots differ from the benchmark's: resetting the
            baseline (``pybench update``) is the fix.
    """

    def __init__(
        self,
        bench: str,
        message: str,
        *,
        seed: int | None = None,
        detail: str = "",
        stdout: str = "",
        stderr: str = "",
        reset: bool = False,
    ):
        super().__init__(message)
        self.bench = bench
        self.seed = seed
        self.detail = detail
        self.stdout = stdout
        self.stderr = stderr
        self.reset = reset


@dataclass(frozen=True)
class RunResult:
    """Per-seed values of every slot, rows in seed order, columns in ``slots`` order.

    ``seed_times`` holds the seconds each seed's call took, in seed order
    (empty when not measured); ``reused`` counts the seeds taken from an
    earlier run's journal instead of being run.
    """

    seeds: list[int]
    slots: list[Slot]
    values: np.ndarray
    seed_times: tuple[float, ...] = ()
    reused: int = 0

    def non_finite(self) -> dict[Slot, list[int]]:
        """The slots holding NaN or ±inf, with the seeds where they occur."""
        import numpy as np

        bad = ~np.isfinite(self.values)
        return {
            self.slots[k]: [self.seeds[i] for i in np.flatnonzero(bad[:, k])]
            for k in np.flatnonzero(bad.any(axis=0))
        }


def slots_differ(got: Iterable[Slot], want: Iterable[Slot]) -> str:
    """``missing step 1 'x'; new step 2 'y'``: how two sets of slots differ (three of each)."""
    got, want = set(got), set(want)
    missing, extra = sorted(want - got), sorted(got - want)
    parts = []
    if missing:
        parts.append("missing " + ", ".join(describe_slot(s) for s in missing[:3]))
    if extra:
        parts.append("new " + ", ".join(describe_slot(s) for s in extra[:3]))
    return "; ".join(parts)


_SHARED_FROM = 64
"""From this many slots, seeds with the same slots share one copy of their layout."""


class Collector:
    """The outcomes of one benchmark's seeds on one code source, checked as they arrive.

    Args:
        bench: the benchmark (as this source defines it).
        seeds: every seed of the run, in row order.
        expected: the baseline's slots, when there is a stored baseline.
        label: how messages name the source (``base main (1a2b3c4)``); ``None`` for a run.
        reused: outcomes of seeds an earlier run finished (``--resume``).
    """

    def __init__(
        self,
        bench: Benchmark,
        seeds: Sequence[int],
        *,
        expected: Sequence[Slot] | None = None,
        label: str | None = None,
        reused: Iterable[SeedOutcome] = (),
    ):
        self.bench = bench
        self.seeds = list(seeds)
        self.expected = set(expected) if expected is not None else None
        self.label = label
        self.first: tuple[int, SlotValues] | None = None
        self._expected = SlotValues.from_mapping(dict.fromkeys(self.expected or (), 0.0))
        self.rows: dict[int, SeedOutcome] = {}
        self.arrays: dict[int, SlotValues] = {}
        self.reused: set[int] = set()
        for outcome in reused:
            if 0 <= outcome.index < len(self.seeds) and self.seeds[outcome.index] == outcome.seed:
                try:
                    self.add(outcome)
                except BenchmarkError as exc:  # the journal itself is what does not fit
                    exc.args = (f"{exc}; it was reused from the journal of an interrupted run:"
                                " run without --resume to start over",)  # fmt: skip
                    raise
                self.reused.add(outcome.index)

    def error(
        self, message: str, outcome: SeedOutcome | None = None, *, reset: bool = False
    ) -> BenchmarkError:
        """A :class:`BenchmarkError` of this benchmark, its message naming the source; the
        seed, its traceback and its output taken from ``outcome``."""
        text = f"{self.label}: {message}" if self.label else message
        if outcome is None:
            return BenchmarkError(self.bench.name, text, reset=reset)
        failure = outcome.failure
        return BenchmarkError(
            self.bench.name,
            text,
            seed=outcome.seed,
            detail=failure.traceback if failure is not None else "",
            stdout=outcome.stdout if failure is not None else "",
            stderr=outcome.stderr if failure is not None else "",
            reset=reset,
        )

    def todo(self, indices: Iterable[int]) -> list[int]:
        """Which of ``indices`` have no outcome yet."""
        return [i for i in indices if i not in self.rows]

    def add(self, outcome: SeedOutcome) -> None:
        """Accept one seed's outcome (its ``index`` is its row).

        Raises:
            BenchmarkError: the seed failed, or returned other slots than the other
                seeds or the baseline.
        """
        if outcome.failure is not None:
            raise self.error(f"seed {outcome.seed} {outcome.failure.message}", outcome)
        got = as_slot_values(outcome.values or {})
        if self.expected is not None and not got.same_slots(self._expected):
            raise self.error(
                f"seed {outcome.seed} returned different slots from the baseline"
                f" ({slots_differ(got, self.expected)})",
                outcome,
                reset=True,
            )
        if self.first is None:
            self.first = (outcome.seed, got)
        elif not got.same_slots(self.first[1]):
            raise self.error(
                f"seed {outcome.seed} returned different slots from seed {self.first[0]}"
                f" ({slots_differ(got, self.first[1])}); every seed must return the same"
                " steps and metrics",
                outcome,
            )
        elif len(got) >= _SHARED_FROM:  # the same slots: a wide layout is kept once, not per seed
            first = self.first[1]
            got = SlotValues(first.steps, first.metrics, got.floats)
            outcome = dataclasses.replace(outcome, values=got)
        self.rows[outcome.index] = outcome
        self.arrays[outcome.index] = got

    @property
    def slots(self) -> list[Slot]:
        """The slots, sorted (the baseline's when there is one)."""
        if self.expected is not None:
            return self._expected.slots()
        return self.first[1].slots() if self.first is not None else []

    def result(self, n: int | None = None) -> RunResult:
        """The values of the first ``n`` seeds (all by default), which must all have arrived."""
        import numpy as np  # here, not at the top: worker processes import this module

        n = len(self.seeds) if n is None else n
        slots = self.slots
        rows = [self.rows[i] for i in range(n)]
        values = np.empty((n, len(slots)))
        for i in range(n):  # every row holds the slots in the same (sorted) order
            values[i] = np.frombuffer(self.arrays[i].floats, dtype=float)
        return RunResult(
            seeds=self.seeds[:n],
            slots=slots,
            values=values.reshape(n, len(slots)),
            seed_times=tuple(row.elapsed for row in rows),
            reused=sum(1 for i in range(n) if i in self.reused),
        )


BASELINE_FINITE = "a baseline must be finite, fix the benchmark and re-run"
"""Why a new baseline refuses NaN and ±inf (the end of :func:`check_finite`'s message)."""


def check_finite(
    bench: str, result: RunResult, *, why: str = BASELINE_FINITE, label: str | None = None
) -> None:
    """Refuse non-finite values in a run that something will be compared against.

    Args:
        bench: the benchmark's name.
        result: the run.
        why: what the values are for (ends the message).
        label: how the message names the code source, if at all.

    Raises:
        BenchmarkError: naming the slot and the seeds.
    """
    bad = result.non_finite()
    if not bad:
        return
    slot, seeds = next(iter(bad.items()))
    value = result.values[result.seeds.index(seeds[0]), result.slots.index(slot)]
    shown = ", ".join(str(s) for s in seeds[:3]) + (
        f" and {len(seeds) - 3} more" if len(seeds) > 3 else ""
    )
    more = f" (and {len(bad) - 1} more slots)" if len(bad) > 1 else ""
    noun = "seed" if len(seeds) == 1 else "seeds"
    message = f"{describe_slot(slot)} is {_fmt_nonfinite(value)} on {noun} {shown}{more}; {why}"
    raise BenchmarkError(bench, f"{label}: {message}" if label else message, seed=seeds[0])


def _fmt_nonfinite(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    return "+inf" if value > 0 else "-inf"


DETERMINISM_RTOL = 1e-9
"""Relative difference below which a re-run value counts as the same (float reductions
in threaded native code may differ in the last bits)."""


def _same(first: float, second: float) -> bool:
    if math.isnan(first) or math.isnan(second):
        return math.isnan(first) and math.isnan(second)
    return math.isclose(first, second, rel_tol=DETERMINISM_RTOL, abs_tol=1e-12)


def _differing(
    result: RunResult, values: SlotValues
) -> list[tuple[Slot, float, float | None]]:
    """The slots where the first seed of ``result`` and ``values`` differ (both values):
    compared as arrays when the slots are the same, slot by slot otherwise."""
    import numpy as np

    first = result.values[0]
    if values.slots() != result.slots:
        return [
            (slot, float(first[k]), values.get(slot))
            for k, slot in enumerate(result.slots)
            if slot not in values or not _same(float(first[k]), float(values[slot]))
        ]
    again = np.frombuffer(values.floats, dtype=float)
    with np.errstate(invalid="ignore", over="ignore"):
        tolerance = np.maximum(DETERMINISM_RTOL * np.maximum(abs(first), abs(again)), 1e-12)
        same = (first == again) | (abs(first - again) <= tolerance)
    same |= np.isnan(first) & np.isnan(again)
    return [
        (result.slots[k], float(first[k]), float(again[k])) for k in np.flatnonzero(~same)
    ]


def check_determinism(bench: Benchmark, result: RunResult, backend: Backend) -> str | None:
    """Run the first seed of ``result`` a second time; a warning if its values differ.

    Pairing a run with its baseline seed for seed only means something if the
    benchmark is a deterministic function of its seed. This costs one extra seed.

    Returns:
        ``None`` when every slot is the same, else one line naming the
        benchmark, the seed, the first slot that differs and both values.
    """
    seed = result.seeds[0]
    outcomes = backend.map_seeds(bench, [seed])
    try:
        again = list(outcomes)
    finally:
        close_stream(outcomes)
    advice = (
        f"pairing runs with the baseline seed for seed needs {bench.name}(seed) to be a "
        "deterministic function of its seed: derive every random generator from `seed` "
        "(or set check_determinism=False to skip this check)"
    )
    if not again or again[0].failure is not None:
        why = again[0].failure.message if again and again[0].failure else "gave no result"
        return f"{bench.name}: seed {seed} {why} when run a second time; {advice}"
    differing = _differing(result, as_slot_values(again[0].values or {}))
    if not differing:
        return None
    slot, first, second = differing[0]
    shown = "nothing" if second is None else repr(float(second))
    more = f" (and {len(differing) - 1} more slots)" if len(differing) > 1 else ""
    return (
        f"{bench.name}: seed {seed} gave {describe_slot(slot)} = {first!r}, then {shown} when "
        f"run a second time{more}; {advice}"
    )


OnOutcome = Callable[[SeedOutcome], None]
"""Called with each seed's outcome once it is accepted (the journal)."""


def run_seeds(
    bench: Benchmark,
    seeds: Sequence[int],
    *,
    backend: Backend,
    expected: Sequence[Slot] | None = None,
    on_outcome: OnOutcome | None = None,
) -> RunResult:
    """Run ``bench`` on every seed with ``backend`` and collect the values in seed order.

    The run loop does this in stages and blocks for each code source of a job;
    this is the one-shot form, for tools and tests.

    Raises:
        BenchmarkError: as :meth:`Collector.add`.
    """
    collector = Collector(bench, seeds, expected=expected)
    stream = backend.map_seeds(bench, list(seeds))
    try:
        for outcome in stream:
            collector.add(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    finally:
        close_stream(stream)
    return collector.result()
