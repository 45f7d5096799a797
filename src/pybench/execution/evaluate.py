"""Running: call a benchmark on its seeds and gather one ``(n_seeds, K)`` score matrix.

Seeds are executed by a *backend* (serial in this process, or the parallel
back-ends of :mod:`pybench.execution.backends`). Every backend calls
:func:`evaluate_seed`, which never raises for the user's mistakes: it returns a
:class:`SeedOutcome` holding either the normalized values or a
:class:`SeedFailure` that travels back from any worker.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import time
import traceback
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from ..core.errors import PybenchError
from ..core.normalize import ReturnValueError, Slot, describe_slot, normalize
from ..sources.discover import Benchmark
from . import interrupts
from .capture import capture as capture_output

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Backend",
    "BenchmarkError",
    "RunResult",
    "SeedFailure",
    "SeedOutcome",
    "SerialBackend",
    "check_determinism",
    "environment",
    "evaluate_seed",
    "run_benchmark",
    "sample_seeds",
]


@dataclass(frozen=True)
class SeedFailure:
    """Why a seed produced no values: one summary line and the user's traceback."""

    message: str
    traceback: str = ""


@dataclass(frozen=True)
class SeedOutcome:
    """The result of one seed: ``values`` or ``failure`` (exactly one is set)."""

    index: int
    seed: int
    values: dict[Slot, float] | None = None
    failure: SeedFailure | None = None
    elapsed: float = field(default=0.0, compare=False)
    """Seconds the benchmark function took on this seed (not part of equality)."""
    stdout: str = field(default="", compare=False)
    """What the seed wrote to stdout, when captured (the end of it, if long)."""
    stderr: str = field(default="", compare=False)
    """What the seed wrote to stderr (warnings included), when captured."""


class BenchmarkError(PybenchError):
    """A benchmark could not produce a verdict: it raised, returned a bad value, or died.

    Attributes:
        bench: the benchmark's name.
        seed: the seed involved, if any.
        detail: the user's traceback (shown with ``-v``), possibly empty.
        stdout: what that seed wrote to stdout, when captured.
        stderr: what that seed wrote to stderr, when captured.
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
    ):
        super().__init__(message)
        self.bench = bench
        self.seed = seed
        self.detail = detail
        self.stdout = stdout
        self.stderr = stderr


def _user_traceback(exc: BaseException) -> str:
    """Format ``exc`` without the frames of pybench itself."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_globals.get("__name__", "").startswith("pybench."):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb)).rstrip()


def _one_line(exc: BaseException) -> str:
    """``ValueError: first line of the message`` (notes and further lines left to the traceback)."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return name
    return f"{name}: {lines[0]}" + (" …" if len(lines) > 1 else "")


@contextlib.contextmanager
def environment(env: Mapping[str, str | None] | None) -> Iterator[None]:
    """Set the variables of ``env`` for the block (``None`` unsets one), then restore them.

    Only the named variables are touched; whatever else the block changes stays.
    """
    if not env:
        yield
        return
    saved = {name: os.environ.get(name) for name in env}
    try:
        _set_environ(env)
        yield
    finally:
        _set_environ(saved)


def _set_environ(values: Mapping[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def evaluate_seed(
    func: Callable[[int], Any],
    index: int,
    seed: int,
    env: Mapping[str, str | None] | None = None,
    *,
    capture: bool = False,
) -> SeedOutcome:
    """Call ``func(seed)`` and normalize its return value, capturing every failure.

    Args:
        func: the benchmark function.
        index: the seed's row.
        seed: the seed.
        env: environment variables forwarded from where pybench was started,
            set just for this call and restored after it (``None`` values unset).
        capture: keep what the call writes to stdout and stderr on the outcome
            instead of letting it reach the terminal (:mod:`pybench.execution.capture`).
    """
    failure: SeedFailure | None = None
    with capture_output(capture) as output:
        started = time.perf_counter()
        try:
            # Ctrl-C reaches the user's code, but what it returns after one is discarded.
            with environment(env), interrupts.interruptible():
                raw = func(seed)
        except (Exception, SystemExit) as exc:  # anything the user's code raises is reported
            failure = SeedFailure(f"raised {_one_line(exc)}", _user_traceback(exc))
        elapsed = time.perf_counter() - started
    common = {"elapsed": elapsed, "stdout": output.stdout, "stderr": output.stderr}
    if failure is not None:
        return SeedOutcome(index, seed, failure=failure, **common)
    try:
        values = normalize(raw)
    except ReturnValueError as exc:
        return SeedOutcome(index, seed, failure=SeedFailure(str(exc)), **common)
    return SeedOutcome(index, seed, values=values, **common)


class Backend(Protocol):
    """Runs the seeds of one benchmark; see :class:`SerialBackend` for the contract."""

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        """Yield one outcome per seed as each finishes (in any order).

        Closing the iterator early cancels the seeds not yet started.
        """
        ...

    def close(self) -> None:
        """Release workers; outstanding seeds are cancelled."""
        ...


class SerialBackend:
    """Runs seeds one after another in this process.

    Args:
        capture: keep what each seed prints on its outcome (:mod:`pybench.execution.capture`).
    """

    def __init__(self, *, capture: bool = False):
        self.capture = capture

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        for index, seed in enumerate(seeds):
            yield evaluate_seed(bench.func, index, seed, capture=self.capture)

    def close(self) -> None:
        pass


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
            slot: [self.seeds[i] for i in np.flatnonzero(bad[:, k])]
            for k, slot in enumerate(self.slots)
            if bad[:, k].any()
        }


def _slot_mismatch(bench: str, seed: int, got: set[Slot], want: set[Slot], against: str) -> str:
    missing, extra = sorted(want - got), sorted(got - want)
    parts = []
    if missing:
        parts.append("missing " + ", ".join(describe_slot(s) for s in missing[:3]))
    if extra:
        parts.append("new " + ", ".join(describe_slot(s) for s in extra[:3]))
    return f"seed {seed} returned different slots from {against} ({'; '.join(parts)})"


def run_benchmark(
    bench: Benchmark,
    seeds: Sequence[int],
    *,
    backend: Backend,
    expected_slots: Sequence[Slot] | None = None,
    on_seed_done: Callable[[], None] | None = None,
    update_command: str = "pybench update",
    reused: Sequence[SeedOutcome] = (),
    on_outcome: Callable[[SeedOutcome], None] | None = None,
) -> RunResult:
    """Run ``bench`` on ``seeds`` and return the values in seed order.

    After a Ctrl-C the seed that was running is discarded, even if it
    returned (:mod:`pybench.execution.interrupts`).

    Args:
        bench: the benchmark.
        seeds: the seeds, in the order their rows should appear.
        backend: what executes the seeds.
        expected_slots: the baseline's slots; a seed returning other slots
            stops the run with an error that says how to reset the baseline.
        on_seed_done: called once per finished seed (drives the progress bar).
        update_command: the command a reset hint names (with this run's PATH
            and ``--baseline`` when they are not the defaults).
        reused: outcomes of seeds an earlier run finished (``--resume``); those
            seeds are not run again.
        on_outcome: called with each seed's outcome once it is accepted (not for
            ``reused`` ones): the journal.

    Raises:
        BenchmarkError: a seed raised, returned a bad value, returned slots
            that differ from the other seeds or from the baseline, or its worker died.
    """
    want = set(expected_slots) if expected_slots is not None else None
    rows: list[dict[Slot, float] | None] = [None] * len(seeds)
    times = [0.0] * len(seeds)
    first: tuple[int, set[Slot]] | None = None
    done = {o.index: o for o in reused if 0 <= o.index < len(seeds) and seeds[o.index] == o.seed}
    todo = [i for i in range(len(seeds)) if i not in done]
    # A benchmark whose seeds are all reused starts no workers.
    outcomes = backend.map_seeds(bench, [seeds[i] for i in todo]) if todo else iter(())

    def stream() -> Iterator[tuple[SeedOutcome, bool]]:
        """Each outcome (indices into ``seeds``) and whether it was run now."""
        for outcome in done.values():
            yield outcome, False
        for outcome in outcomes:
            yield dataclasses.replace(outcome, index=todo[outcome.index]), True

    try:
        for outcome, ran in stream():
            if outcome.failure is not None:
                raise BenchmarkError(
                    bench.name,
                    f"seed {outcome.seed} {outcome.failure.message}",
                    seed=outcome.seed,
                    detail=outcome.failure.traceback,
                    stdout=outcome.stdout,
                    stderr=outcome.stderr,
                )
            assert outcome.values is not None
            got = set(outcome.values)
            if want is not None and got != want:
                raise BenchmarkError(
                    bench.name,
                    _slot_mismatch(bench.name, outcome.seed, got, want, "the baseline")
                    + f"; re-run `{update_command} --bench {bench.name}` to reset its baseline",
                    seed=outcome.seed,
                )
            if first is None:
                first = (outcome.seed, got)
            elif got != first[1]:
                raise BenchmarkError(
                    bench.name,
                    _slot_mismatch(bench.name, outcome.seed, got, first[1], f"seed {first[0]}")
                    + "; every seed must return the same steps and metrics",
                    seed=outcome.seed,
                )
            rows[outcome.index] = outcome.values
            times[outcome.index] = outcome.elapsed
            if on_outcome is not None and ran:
                on_outcome(outcome)
            if on_seed_done is not None:
                on_seed_done()
    finally:
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
    slots = sorted(expected_slots) if expected_slots is not None else sorted(first[1])  # type: ignore[index]
    import numpy as np  # here, not at the top: worker processes import this module

    values = np.array([[row[s] for s in slots] for row in rows], dtype=float)  # type: ignore[index]
    return RunResult(
        seeds=list(seeds),
        slots=slots,
        values=values.reshape(len(seeds), len(slots)),
        seed_times=tuple(times),
        reused=len(done),
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


def check_finite(bench: str, result: RunResult) -> None:
    """Refuse non-finite values in a run that would become a baseline.

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
    raise BenchmarkError(
        bench,
        f"{describe_slot(slot)} is {_fmt_nonfinite(value)} on {noun} {shown}{more};"
        " a baseline must be finite, fix the benchmark and re-run",
        seed=seeds[0],
    )


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
        close = getattr(outcomes, "close", None)
        if close is not None:
            close()
    advice = (
        f"pairing runs with the baseline seed for seed needs {bench.name}(seed) to be a "
        "deterministic function of its seed: derive every random generator from `seed` "
        "(or set check_determinism=False to skip this check)"
    )
    if not again or again[0].failure is not None:
        why = again[0].failure.message if again and again[0].failure else "gave no result"
        return f"{bench.name}: seed {seed} {why} when run a second time; {advice}"
    values = again[0].values or {}
    differing = [
        (slot, float(result.values[0, k]), values.get(slot))
        for k, slot in enumerate(result.slots)
        if slot not in values or not _same(float(result.values[0, k]), float(values[slot]))
    ]
    if not differing:
        return None
    slot, first, second = differing[0]
    shown = "nothing" if second is None else repr(float(second))
    more = f" (and {len(differing) - 1} more slots)" if len(differing) > 1 else ""
    return (
        f"{bench.name}: seed {seed} gave {describe_slot(slot)} = {first!r}, then {shown} when "
        f"run a second time{more}; {advice}"
    )
