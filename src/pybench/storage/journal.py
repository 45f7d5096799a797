"""The journal: the seeds a running benchmark has finished, kept on disk for ``--resume``.

While a benchmark runs, each seed that finishes is appended to
``journal/<bench>.jsonl`` beside the baseline file (one JSON line per seed, its
values the exact float64 bytes in base64 after a line listing the slots whenever
they change; flushed at once and synced to disk at least every quarter of a second), so an
interrupted, killed or crashed run leaves its finished seeds behind. The first
line names the benchmark, the seeds the run was for (those a new baseline
sampled too) and a fingerprint of the code: the SHA-256 of the benchmark file,
the git commit and the text of ``git diff HEAD``.

``pybench --resume`` reuses a journal only for the same benchmark, the same
seeds and the same code; any other journal is ignored and replaced, as every
run without ``--resume`` replaces it. A benchmark removes its journal once it
reaches a verdict and its new baseline, if any, is saved. Journals are read as
untrusted input: a torn last line (the process died while writing it), a line
that is malformed, too long or nested too deeply is ignored, never fatal, and a
journal that cannot be read at all is not resumed from.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import math
import os
import sys
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from ..core.benchmark import Benchmark
from ..core.seeds import SeedOutcome
from ..core.values import SlotValues, as_slot_values
from . import store

__all__ = ["FORMAT", "CodeState", "Journal", "JournalWriter", "Resumable"]

CodeState = Callable[[Path, Sequence[Path]], "str | None"]
"""What the code in a folder is now (``folder``, paths to leave out) -> text; ``None``
outside git. The journal reads it through :func:`pybench.sources.git.code_state`."""

FORMAT = 2
"""The ``journal`` field of a journal's first line (a journal of another format is not
resumed from: it says it was written by another version of pybench)."""

MAX_LINE_CHARS = 1 << 24
"""The longest journal line read (16 MiB); a longer one is ignored like a torn one."""

MAX_FILE_BYTES = 1 << 30
"""A larger journal (1 GiB) is not read: nothing is resumed from it."""

_SYNC_INTERVAL_S = 0.25
"""Lines are flushed at once (enough to survive the process being killed) and
fsynced at most this often (enough for a machine crash to lose only the last
fraction of a second), so that very fast seeds do not each pay for a disk sync."""


@dataclass(frozen=True)
class Resumable:
    """What a journal holds: the seeds it was for and the outcomes of those it finished."""

    seeds: tuple[int, ...]
    outcomes: tuple[SeedOutcome, ...]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _are_seeds(value: Any) -> bool:
    """Whether ``value`` could be a run's seeds: distinct ints in ``[0, 2**32)``, as a
    baseline stores them (a journal's seeds become a new baseline's)."""
    return (
        isinstance(value, list)
        and bool(value)
        and all(_is_int(s) and 0 <= s < 2**32 for s in value)
        and len(set(value)) == len(value)
    )


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _layout(obj: dict[str, Any]) -> tuple[array[int], tuple[str, ...]] | None:
    """The slots a layout line lists, if they are ``[int, str]`` pairs, sorted and distinct."""
    pairs = obj["slots"]
    if not isinstance(pairs, list) or not pairs:
        return None
    steps, metrics = array("q"), []
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2):
            return None
        step, metric = pair
        if not (_is_int(step) and isinstance(metric, str)):
            return None
        steps.append(step)  # OverflowError (an ArithmeticError) past 64 bits
        metrics.append(metric)
    slots = list(zip(steps, metrics, strict=True))
    if any(a >= b for a, b in zip(slots, slots[1:], strict=False)):
        return None
    return steps, tuple(metrics)


def _floats(text: Any, count: int) -> array[float] | None:
    """The ``count`` float64 values base64 ``text`` holds (little-endian), or ``None``."""
    if not isinstance(text, str):
        return None
    raw = base64.b64decode(text.encode("ascii"), validate=True)  # binascii.Error: ValueError
    if len(raw) != 8 * count:
        return None
    floats = array("d", raw)
    if sys.byteorder != "little":
        floats.byteswap()
    return floats


class _Reader:
    """Reads a journal's lines in order: slot layouts, and seeds that name one."""

    def __init__(self, seeds: Sequence[int]):
        self.seeds = seeds
        self.layouts: dict[int, tuple[array[int], tuple[str, ...]]] = {}

    def line(self, line: str) -> SeedOutcome | None:
        """The outcome on one line (a layout is kept); ``None`` for a layout, a torn, foreign
        or malformed line."""
        if len(line) > MAX_LINE_CHARS:
            return None
        try:
            obj = json.loads(line)
            if not isinstance(obj, dict):
                return None
            if "slots" in obj:
                number, layout = obj["layout"], _layout(obj)
                if _is_int(number) and layout is not None:
                    self.layouts.setdefault(number, layout)
                return None
            return self._seed(obj)
        except (ValueError, TypeError, KeyError, IndexError, ArithmeticError, RecursionError):
            return None  # RecursionError: nested too deeply; ArithmeticError: an int past 64 bits

    def _seed(self, obj: dict[str, Any]) -> SeedOutcome | None:
        index, seed, number, elapsed = obj["index"], obj["seed"], obj["layout"], obj["elapsed"]
        seeds = self.seeds
        if not (_is_int(index) and 0 <= index < len(seeds) and seeds[index] == seed):
            return None
        if not (_is_int(number) and number in self.layouts and _is_number(elapsed)):
            return None
        if not (math.isfinite(elapsed) and elapsed >= 0):  # the writer writes no other
            return None
        steps, metrics = self.layouts[number]
        floats = _floats(obj["values"], len(metrics))
        if floats is None:
            return None
        values = SlotValues(steps, metrics, floats)
        return SeedOutcome(index, seed, values=values, elapsed=float(elapsed))


class _Writer:
    """The text of a journal's lines: each seed's values as base64 float64 (exact, and far
    cheaper than printing every number), with a layout line listing the slots each time they
    change, which the seed lines after it name by number."""

    def __init__(self) -> None:
        self.last: SlotValues | None = None
        self.number = 0

    def lines(self, outcome: SeedOutcome) -> str:
        """The line of one finished seed, after a layout line if its slots are new."""
        values = as_slot_values(outcome.values or {})
        head = ""
        if self.last is None or not self.last.same_slots(values):
            self.number += 1
            self.last = values
            slots = [[step, metric] for step, metric in values]
            layout = {"layout": self.number, "slots": slots}
            head = json.dumps(layout, separators=(",", ":")) + "\n"
        floats = values.floats
        if sys.byteorder != "little":
            floats = array("d", floats)
            floats.byteswap()
        line = {
            "index": outcome.index,
            "seed": outcome.seed,
            "layout": self.number,
            "values": base64.b64encode(floats.tobytes()).decode("ascii"),
            "elapsed": outcome.elapsed if math.isfinite(outcome.elapsed) else 0.0,
        }
        return head + json.dumps(line, separators=(",", ":")) + "\n"


class JournalWriter:
    """Appends the outcomes of one benchmark's seeds as they finish.

    A journal that cannot be written (a read-only folder, a full disk) is
    given up silently: it only saves time on a later ``--resume``.
    """

    def __init__(
        self,
        path: Path,
        header: dict[str, Any],
        reused: Sequence[SeedOutcome],
        baseline: Path | None = None,
    ):
        self.path = path
        self._writer = _Writer()
        self._file: IO[str] | None = None
        self._synced = time.monotonic()
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            if baseline is not None:  # a new .pybench/ gets its .gitignore, journal/ in it
                store.prepare_folder(baseline)
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as file:
                file.write(json.dumps(header, separators=(",", ":")) + "\n")
                file.writelines(self._writer.lines(outcome) for outcome in reused)
                file.flush()
                if reused:  # seeds from before must outlive the file they replace
                    os.fsync(file.fileno())
            os.replace(tmp, path)  # a stale journal is replaced whole, never appended to
            self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        except OSError:
            with contextlib.suppress(OSError):
                tmp.unlink()
            self._file = None

    def append(self, outcome: SeedOutcome) -> None:
        """Journal one finished seed."""
        if self._file is None:
            return
        try:
            self._file.write(self._writer.lines(outcome))
            self._file.flush()
            if time.monotonic() - self._synced >= _SYNC_INTERVAL_S:
                os.fsync(self._file.fileno())
                self._synced = time.monotonic()
        except OSError:
            self.close()

    def close(self) -> None:
        """Sync and close the file (it stays on disk for ``--resume``)."""
        if self._file is None:
            return
        with contextlib.suppress(OSError):
            self._file.flush()
            os.fsync(self._file.fileno())
        with contextlib.suppress(OSError):
            self._file.close()
        self._file = None


def _read(path: Path) -> str | None:
    """The text of a journal; ``None`` if it is missing, unreadable or too large to be one."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            return None
        return path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _header_seeds(first: str, name: str, fingerprint: str) -> list[int] | None:
    """The seeds a journal's first line names, if it is this benchmark's for this code."""
    if len(first) > MAX_LINE_CHARS:
        return None
    try:
        header = json.loads(first)
        seeds = header["seeds"]
        ok = (
            header["journal"] == FORMAT
            and header["bench"] == name
            and header["fingerprint"] == fingerprint
            and _are_seeds(seeds)
        )
    except (ValueError, TypeError, KeyError, IndexError, RecursionError):
        return None
    return seeds if ok else None


class Journal:
    """The journals of one baseline file, in ``folder`` (``journal/`` beside it).

    Args:
        folder: where the journals live.
        exclude: paths left out of the code fingerprint's ``git diff`` (the
            baseline file, which runs rewrite); ``folder`` is always left out.
        baseline: the baseline file the journals belong to; its folder is
            created as the store creates it.
        code_state: reads the state of the code a benchmark runs (its git commit and
            diff); ``None``: the fingerprint holds the benchmark's file only.
    """

    def __init__(
        self,
        folder: Path,
        *,
        exclude: Sequence[Path] = (),
        baseline: Path | None = None,
        code_state: CodeState | None = None,
    ):
        self.folder = folder
        self.baseline = baseline
        self._exclude = [*exclude, folder]
        self._code: dict[Path, str | None] = {}
        self._code_state = code_state

    @classmethod
    def beside(cls, baseline: Path, *, code_state: CodeState | None = None) -> Journal:
        """The journals of ``baseline``: ``journal/`` in its ``.pybench`` folder, or, for a
        baseline file elsewhere, a ``<file name>.journal`` folder beside it."""
        if baseline.parent.name == ".pybench":
            folder = baseline.parent / "journal"
        else:
            folder = baseline.with_name(f"{baseline.name}.journal")
        return cls(folder, exclude=[baseline], baseline=baseline, code_state=code_state)

    def path(self, name: str) -> Path:
        """The journal file of benchmark ``name``."""
        return self.folder / f"{name}.jsonl"

    def fingerprint(self, bench: Benchmark) -> str:
        """What the benchmark's values depend on besides the seed: its file and the code."""
        digest = hashlib.sha256(bench.name.encode() + b"\0")
        with contextlib.suppress(OSError):
            digest.update(bench.path.read_bytes())
        folder = bench.path.parent
        if folder not in self._code:  # one git call per folder and run
            state = self._code_state
            self._code[folder] = state(folder, self._exclude) if state is not None else None
        digest.update(b"\0" + (self._code[folder] or "no git").encode())
        return digest.hexdigest()

    def read(self, name: str, fingerprint: str) -> Resumable | None:
        """The journal of ``name`` if it was written for code with this fingerprint."""
        text = _read(self.path(name))
        if text is None:
            return None
        first, _, rest = text.partition("\n")
        seeds = _header_seeds(first, name, fingerprint)
        if seeds is None:
            return None
        outcomes: dict[int, SeedOutcome] = {}
        reader = _Reader(seeds)
        for line in rest.split("\n"):
            entry = reader.line(line) if line.strip() else None
            if entry is not None:
                outcomes.setdefault(entry.index, entry)
        return Resumable(tuple(seeds), tuple(outcomes[i] for i in sorted(outcomes)))

    def unused(self, name: str, fingerprint: str, seeds: Sequence[int]) -> str | None:
        """Why ``--resume`` cannot use the journal of ``name`` (``None``: none, or usable)."""
        try:  # the first line only, and no more of it than a reader would take
            with open(self.path(name), encoding="utf-8", errors="replace") as file:
                first = file.readline(MAX_LINE_CHARS + 1).rstrip("\n")
        except OSError:
            return None
        try:
            if len(first) > MAX_LINE_CHARS:
                raise ValueError(first[:60])
            header = json.loads(first)
            if header["journal"] != FORMAT:
                return "it was written by another version of pybench"
            if header["bench"] != name:
                return f"it belongs to another benchmark ({str(header['bench'])[:60]!r})"
            if header["fingerprint"] != fingerprint:
                return "the code changed since it was written (benchmark file or git diff)"
            if not _are_seeds(header["seeds"]):
                return "it cannot be read"
            if header["seeds"] != [int(s) for s in seeds]:
                return "it was written for other seeds"
        except (ValueError, TypeError, KeyError, RecursionError):
            return "it cannot be read"
        return None

    def start(
        self,
        name: str,
        fingerprint: str,
        seeds: Sequence[int],
        reused: Sequence[SeedOutcome] = (),
    ) -> JournalWriter:
        """A fresh journal for ``name`` holding ``reused``, to which new seeds are appended."""
        header = {
            "journal": FORMAT,
            "bench": name,
            "fingerprint": fingerprint,
            "seeds": [int(s) for s in seeds],
        }
        return JournalWriter(self.path(name), header, reused, self.baseline)

    def finished(self, name: str) -> int:
        """How many finished seeds the journals of ``name`` hold (whatever code they were for):
        its own, and those of its sides in a comparison (``name@base``, ``name@head``)."""
        total = 0
        for path in [self.path(name), *self.folder.glob(f"{name}@*.jsonl")]:
            text = _read(path)
            if text is None:
                continue
            lines = text.split("\n")
            seeds = (line for line in lines[1:] if line.startswith('{"index"'))
            total += sum(1 for line in seeds if line.endswith("}"))
        return total

    def remove(self, name: str, *, tidy: bool = True) -> None:
        """Delete the journal of ``name`` (its benchmark reached a verdict); with ``tidy``,
        the folder too if no other journal is left (a run tidies once, at its end)."""
        with contextlib.suppress(OSError):
            self.path(name).unlink()
        if tidy:
            self.tidy()

    def tidy(self) -> None:
        """Remove the journal folder if no journal is left in it."""
        with contextlib.suppress(OSError):
            self.folder.rmdir()
