"""The baseline store: one JSON object per line, one line per benchmark, sorted by name.

Writes are atomic (a temporary file in the same folder, fsync, rename) and
made under an inter-process lock around read-modify-write, so a crash leaves
the old or the new file and concurrent runs keep each other's records. A file
that cannot be read is an error naming the file and line; it is never
overwritten. A :class:`Saver` writes one file several times in a run and keeps
its lines in between, reading it again only when another process changed it.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import PybenchError
from ..core.machine import validate as validate_machine

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "BASELINE_DIR",
    "BASELINE_NAME",
    "FORMAT_VERSION",
    "BaselineFile",
    "BaselineRecord",
    "Saver",
    "StoreError",
    "find_baseline",
    "project_home",
    "load",
    "lock_path",
    "parse",
    "parse_lenient",
    "prepare_folder",
    "read",
    "save",
    "write_target",
]

FORMAT_VERSION = 1
"""The ``format`` field written on every record."""

BASELINE_DIR = ".pybench"
"""The folder that marks where a project's baselines live."""

BASELINE_NAME = "baselines.jsonl"
"""The baseline file inside :data:`BASELINE_DIR`."""

HISTORY_IGNORED = "history.db*"
"""The ``.gitignore`` line that keeps the history of runs (SQLite and its WAL files) out of git."""

_CONFLICT_MARKER = re.compile(r"^(<{7}|={7}|>{7}|\|{7})(?: |$)")

_KNOWN = (
    "bench",
    "timestamp",
    "git_commit",
    "git_dirty",
    "seeds",
    "n",
    "scores",
    "format",
    "machine",
)

try:
    import fcntl
except ImportError:  # pragma: no cover - non-POSIX platforms
    fcntl = None  # type: ignore[assignment]


class StoreError(PybenchError):
    """A baseline file that cannot be read or written."""


@dataclass
class BaselineRecord:
    """The stored baseline of one benchmark.

    ``scores`` maps step -> metric -> one value per seed, aligned with ``seeds``.
    ``extra`` keeps fields this version does not know, so they survive a rewrite.
    """

    bench: str
    seeds: list[int]
    scores: dict[int, dict[str, list[float]]]
    timestamp: str | None = None
    git_commit: str | None = None
    git_dirty: bool | None = None
    machine: dict[str, Any] | None = None
    """The fingerprint of the machine the baseline was made on (:mod:`pybench.machine`);
    ``None`` in records written before pybench kept it."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.seeds)

    def slots(self) -> list[tuple[int, str]]:
        """The ``(step, metric)`` slots, sorted."""
        return sorted((step, metric) for step, metrics in self.scores.items() for metric in metrics)

    def matrix(self, slots: Sequence[tuple[int, str]] | None = None) -> np.ndarray:
        """The ``(n_seeds, K)`` values of ``slots`` (default: :meth:`slots`), rows in seed order."""
        import numpy as np

        chosen = self.slots() if slots is None else slots
        columns = [self.scores[step][metric] for step, metric in chosen]
        values: np.ndarray = np.array(columns, dtype=float).T.reshape(self.n, len(chosen))
        return values

    @classmethod
    def from_matrix(
        cls,
        bench: str,
        seeds: Sequence[int],
        slots: Sequence[tuple[int, str]],
        values: np.ndarray,
        **provenance: Any,
    ) -> BaselineRecord:
        """A record from ``(n_seeds, K)`` values whose columns are ``slots``.

        ``provenance`` holds ``timestamp``, ``git_commit``, ``git_dirty`` and ``machine``.
        """
        import numpy as np

        columns = np.asarray(values, dtype=float).T.tolist()  # one C pass, not slot by slot
        scores: dict[int, dict[str, list[float]]] = {}
        for (step, metric), column in zip(slots, columns, strict=True):
            scores.setdefault(step, {})[metric] = column
        return cls(bench=bench, seeds=[int(s) for s in seeds], scores=scores, **provenance)

    def to_json(self) -> str:
        obj: dict[str, Any] = {
            "bench": self.bench,
            "timestamp": self.timestamp,
            "git_commit": self.git_commit,
            "git_dirty": self.git_dirty,
            "seeds": self.seeds,
            "n": self.n,
            "scores": {
                str(step): {m: self.scores[step][m] for m in sorted(self.scores[step])}
                for step in sorted(self.scores)
            },
            "format": FORMAT_VERSION,
        }
        if self.machine is not None:
            obj["machine"] = self.machine
        for key, value in self.extra.items():
            obj.setdefault(key, value)
        return json.dumps(obj, allow_nan=False, separators=(", ", ": "))


_UNPRINTABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(text: str) -> str:
    """``text`` with control characters and lone surrogates written as escapes."""

    def escape(match: re.Match[str]) -> str:
        code = ord(match.group())
        return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"

    return _UNPRINTABLE.sub(escape, text)


def _fail(where: str, message: str) -> StoreError:
    return StoreError(
        f"{_escape(where)}: {_escape(message)}; fix or remove that line"
        " (pybench does not overwrite a file it cannot read)"
    )


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an int too large for a float
        return False


def _finite_floats(values: list[Any], where: str, what: str, metric: str) -> list[float]:
    """``values`` as floats, if every one is a finite number (all floats: one pass in C)."""
    if _FLOATS.issuperset(map(type, values)) and math.isfinite(sum(values)):
        return values
    if not all(_is_finite_number(v) for v in values):
        raise _fail(where, f"{what} {metric!r} holds a non-finite or non-numeric value")
    return [float(v) for v in values]


_FLOATS = frozenset((float,))


def _parse_record(obj: Any, where: str) -> BaselineRecord:
    if not isinstance(obj, dict):
        raise _fail(where, f"expected a JSON object, found {type(obj).__name__}")
    for key in ("bench", "seeds", "scores"):
        if key not in obj:
            raise _fail(where, f"field {key!r} is missing")
    bench, seeds, scores = obj["bench"], obj["seeds"], obj["scores"]
    if not isinstance(bench, str) or not bench:
        raise _fail(where, "field 'bench' must be a non-empty string")
    if (
        not isinstance(seeds, list)
        or not seeds
        or not all(_is_int(s) and 0 <= s < 2**32 for s in seeds)
    ):
        raise _fail(where, f"{bench}: field 'seeds' must be a non-empty list of ints in [0, 2**32)")
    if len(set(seeds)) != len(seeds):
        repeated = next(s for s in seeds if seeds.count(s) > 1)
        raise _fail(
            where,
            f"{bench}: seed {repeated} is listed more than once in 'seeds'"
            " (each seed must be one independent pair)",
        )
    if "n" in obj and obj["n"] != len(seeds):
        raise _fail(where, f"{bench}: field 'n' is {obj['n']!r} but there are {len(seeds)} seeds")
    if not isinstance(scores, dict) or not scores:
        raise _fail(where, f"{bench}: field 'scores' must be a non-empty object")
    parsed: dict[int, dict[str, list[float]]] = {}
    for step_key, metrics in scores.items():
        try:
            step = int(step_key)
        except ValueError:
            raise _fail(where, f"{bench}: step {step_key!r} is not an int") from None
        if not isinstance(metrics, dict) or not metrics:
            raise _fail(where, f"{bench}: step {step_key} must map metric names to value lists")
        if step in parsed:
            raise _fail(where, f"{bench}: step {step} appears twice in 'scores'")
        parsed[step] = {}
        for metric, values in metrics.items():
            if not isinstance(values, list) or len(values) != len(seeds):
                raise _fail(
                    where, f"{bench}: step {step_key} {metric!r} must list one value per seed"
                )
            what = f"{bench}: step {step_key}"
            parsed[step][metric] = _finite_floats(values, where, what, metric)
    for key, kind in (("timestamp", str), ("git_commit", str), ("git_dirty", bool)):
        if obj.get(key) is not None and not isinstance(obj[key], kind):
            raise _fail(where, f"{bench}: field {key!r} must be a {kind.__name__} or null")
    problem = validate_machine(obj["machine"]) if obj.get("machine") is not None else None
    if problem is not None:
        raise _fail(where, f"{bench}: field 'machine' {problem}")
    if "format" in obj and (not _is_int(obj["format"]) or obj["format"] > FORMAT_VERSION):
        raise _fail(
            where,
            f"{bench}: format {obj['format']!r} is newer than this pybench reads; upgrade pybench",
        )
    return BaselineRecord(
        bench=bench,
        seeds=list(seeds),
        scores=parsed,
        timestamp=obj.get("timestamp"),
        git_commit=obj.get("git_commit"),
        git_dirty=obj.get("git_dirty"),
        machine=obj.get("machine"),
        extra={k: v for k, v in obj.items() if k not in _KNOWN},
    )


def _reject_constant(token: str) -> float:
    raise ValueError(f"{token} is not valid JSON")


MAX_LINE_CHARS = 1 << 30
"""The longest line a baseline file may hold (1 GiB); a longer one cannot be read."""

_BENCH_FIELD = re.compile(r'"bench"\s*:\s*"((?:[^"\\]|\\.)*)"')


class BaselineFile(dict[str, BaselineRecord]):
    """The records of a baseline file by benchmark name, and the lines that could not be used.

    It is a ``dict[str, BaselineRecord]`` of the usable records. ``unusable`` maps
    a benchmark name to the one-line reason its record cannot be used (its
    benchmark is then an error of its own, the others still run); ``unnamed``
    lists the reasons for lines whose benchmark cannot even be told. ``raw``
    keeps the text of every unusable line, so that a save writes them back as
    they were, and ``lines`` the text of each usable record's line.
    """

    def __init__(self) -> None:
        super().__init__()
        self.unusable: dict[str, str] = {}
        self.unnamed: list[str] = []
        self.raw: dict[str, list[str]] = {}
        self.lines: dict[str, str] = {}

    def problems(self) -> list[str]:
        """Every reason, named ones first."""
        return [*self.unusable.values(), *self.unnamed]


def _bench_of(line: str) -> str | None:
    """The benchmark a line that cannot be parsed belongs to, when that can be told."""
    match = _BENCH_FIELD.search(line[:100_000])
    if match is None:
        return None
    try:
        name = json.loads(f'"{match.group(1)}"')
    except ValueError:
        return None
    return name if isinstance(name, str) and name else None


def _parse_line(line: str, where: str) -> BaselineRecord:
    if len(line) > MAX_LINE_CHARS:
        raise _fail(where, f"the line is longer than {MAX_LINE_CHARS} characters")
    try:
        obj = json.loads(line, parse_constant=_reject_constant)
    except RecursionError:
        raise _fail(where, "not valid JSON (nested too deeply)") from None
    except ValueError as exc:
        raise _fail(where, f"not valid JSON ({exc})") from None
    try:
        return _parse_record(obj, where)
    except RecursionError:  # pragma: no cover - json.loads refuses deeper nesting first
        raise _fail(where, "nested too deeply") from None


def _conflict_check(lines: list[str], name: str) -> None:
    conflict = next((i for i, line in enumerate(lines, 1) if _CONFLICT_MARKER.match(line)), None)
    if conflict is not None:
        raise StoreError(
            f"{name}:{conflict}: git merge-conflict marker; resolve the conflict (keep one line "
            "per benchmark, or take either side and re-run `pybench update` for the benchmarks "
            "it changed) — pybench does not overwrite a file it cannot read"
        )


def parse_lenient(text: str, name: str, *, keep_lines: bool = True) -> BaselineFile:
    """Parse a baseline file, keeping going past records that cannot be used.

    With ``keep_lines`` false, :attr:`BaselineFile.lines` is left empty (only a save,
    which reads the file again under its lock, writes lines back as they were).

    A record that cannot be used (a line that is not JSON, a ``NaN`` token,
    wrong types, repeated seeds, a second record of the same benchmark) makes
    only its own benchmark unusable. A merge-conflict marker still makes the
    whole file unreadable: which side is meant cannot be guessed.

    Raises:
        StoreError: on a merge-conflict marker.
    """
    result = BaselineFile()
    # split on "\n" only: str.splitlines() also breaks at U+2028, U+0085, U+001C...,
    # which JSON allows raw inside strings
    lines = text.split("\n")
    _conflict_check(lines, name)
    for lineno, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{name}:{lineno}"
        try:
            record = _parse_line(line, where)
        except StoreError as exc:
            bench = _bench_of(line)
            if bench is None:
                result.unnamed.append(str(exc))
                result.raw[f"\0line {lineno:012d}"] = [line]
            else:
                _set_aside(result, bench, str(exc), line)
            continue
        if record.bench in result or record.bench in result.unusable:
            reason = str(_fail(where, f"{record.bench} appears twice in the file"))
            _set_aside(result, record.bench, reason, line)
            continue
        result[record.bench] = record
        result.lines[record.bench] = line
    if not keep_lines:
        result.lines.clear()
    return result


def _set_aside(result: BaselineFile, bench: str, reason: str, line: str) -> None:
    """Mark ``bench`` unusable, keeping every line of it (a record read earlier included)."""
    result.unusable.setdefault(bench, reason)
    if bench in result:
        del result[bench]
        result.raw[bench] = [result.lines.pop(bench)]
    result.raw.setdefault(bench, []).append(line)


def parse(text: str, name: str) -> dict[str, BaselineRecord]:
    """Parse the contents of a baseline file; ``name`` is used in error messages.

    Raises:
        StoreError: naming the file and line of the first problem.
    """
    parsed = parse_lenient(text, name)
    problems = parsed.problems()
    if problems:
        raise StoreError(min(problems, key=_line_number_of))
    return dict(parsed)


def _line_number_of(message: str) -> int:
    match = re.match(r".*?:(\d+): ", message)
    return int(match.group(1)) if match else 0


def _read_text(path: Path) -> str | None:
    try:
        _check_regular(path)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise StoreError(f"{path}: cannot be read ({exc})") from None


def load(path: Path) -> dict[str, BaselineRecord]:
    """Read every record of the baseline file at ``path`` (none if it does not exist).

    Raises:
        StoreError: if the file cannot be read or any record cannot be parsed.
    """
    text = _read_text(path)
    return {} if text is None else parse(text, str(path))


def read(path: Path, *, keep_lines: bool = False) -> BaselineFile:
    """Read the baseline file at ``path``, keeping going past records that cannot be used.

    See :func:`parse_lenient` (``keep_lines`` too); a missing file reads as empty.

    Raises:
        StoreError: if the file itself cannot be read (not a regular file, not
            UTF-8, a merge conflict).
    """
    text = _read_text(path)
    if text is None:
        return BaselineFile()
    return parse_lenient(text, str(path), keep_lines=keep_lines)


def _check_regular(path: Path) -> None:
    """Refuse a baseline that exists but is not a regular file (after following links)."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise
    except OSError:
        return  # let the read or write itself report it
    if not stat.S_ISREG(mode):
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise StoreError(
            f"{path}: is {kind}; give --baseline a regular file (or a path that does not exist yet)"
        )


def project_home(path: Path) -> Path | None:
    """The project's root folder for ``path``: the nearest folder at or above it (its folder,
    if it is a file) holding a :data:`BASELINE_DIR` folder, else the root of the git
    repository ``path`` is in; ``None`` outside git when no folder has one.

    The walk stops at the repository's root: a ``.pybench/`` above it belongs to another
    project. This is where the baseline file lives and what benchmarks import from.
    """
    start = (Path.cwd() / path).resolve()
    if not start.is_dir():
        start = start.parent
    for folder in (start, *start.parents):
        if (folder / BASELINE_DIR).is_dir():
            return folder
        if (folder / ".git").exists():  # a folder, or a file in worktrees and submodules
            return folder
    return None


def find_baseline(path: Path) -> Path:
    """The default baseline file for benchmarks at ``path``, found the way git finds ``.git``.

    Starting at ``path`` (its folder, if it is a file) and walking up, the first
    folder holding a :data:`BASELINE_DIR` folder wins (:func:`project_home`). The walk
    stops at the root of the git repository ``path`` is in: a ``.pybench/`` above the
    repository belongs to another project. When no folder has one, the file goes to the
    root of that repository (outside git: the current directory), where
    :func:`save` will create it.

    The result is relative to the current directory when it lies below it.
    """
    cwd = Path.cwd()
    home = project_home(path)
    found = (home or cwd) / BASELINE_DIR / BASELINE_NAME
    try:
        return found.relative_to(cwd.resolve())
    except ValueError:
        return found


def lock_path(path: Path) -> Path:
    """The sidecar file locked while ``path`` is rewritten."""
    return path.with_name(path.name + ".lock")


def _make_folder(folder: Path, baseline: Path) -> None:
    """Create ``folder`` (and its parents); a new ``.pybench/`` gets a ``.gitignore``.

    The baselines are meant to be committed but the lock file is not, so that
    ``git add .pybench`` picks up the right files. A folder that already exists
    (and so any ``.gitignore`` a user wrote) is left alone, and so is a folder
    with another name (a custom ``--baseline``).
    """
    if folder.is_dir():
        return
    folder.mkdir(parents=True, exist_ok=True)
    if folder.name != BASELINE_DIR:
        return
    ignore = folder / ".gitignore"
    with contextlib.suppress(FileExistsError), open(ignore, "x", encoding="utf-8") as handle:
        handle.write(
            "# pybench's lock file, unfinished writes, the journals of interrupted runs and the"
            " history of runs; commit the baselines themselves\n"
            f"{lock_path(baseline).name}\n.{baseline.name}.*.tmp\njournal/\n{HISTORY_IGNORED}\n"
        )


def prepare_folder(baseline: Path) -> None:
    """Create the folder of ``baseline`` as :func:`save` does (a new ``.pybench/`` gets its
    ``.gitignore``), for files written beside the baseline before it (the journal)."""
    _make_folder(baseline.parent, baseline)


def _open_lock(lock: Path) -> int:
    """Open (creating) the lock file without following a symbolic link."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(lock, flags, 0o644)
    except OSError as exc:
        if os.path.islink(lock):
            raise StoreError(
                f"{lock}: the lock file is a symbolic link; remove it (pybench does not follow it)"
            ) from None
        raise StoreError(f"{lock}: cannot be opened ({exc.strerror or exc})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise StoreError(f"{lock}: the lock file is not a regular file; remove it")
    return fd


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Hold an exclusive inter-process lock on ``path``'s sidecar ``.lock`` file."""
    with os.fdopen(_open_lock(lock_path(path)), "a+b") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl is not None:
                fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        else:
            os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def save(path: Path, records: Iterable[BaselineRecord]) -> None:
    """Store ``records``, replacing those of the same benchmarks and keeping the rest.

    The file is re-read under the lock, so records written meanwhile by another
    pybench process are kept.

    Raises:
        StoreError: if the existing file cannot be parsed (it is left untouched)
            or the folder cannot be written.
    """
    Saver(path).save(records)


class Saver:
    """Saves records into one baseline file, several times in a run, without re-reading it.

    Each :meth:`save` is one locked, atomic write of the whole file (as :func:`save`).
    The lines of the file are kept from one save to the next: under the lock, the file
    is read and parsed again only if it is not the one this saver wrote last (another
    process replaced or changed it: its inode, size or modification time differ), so a
    run that saves many records pays for writing the file, not for re-checking it.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lines: dict[str, list[str]] | None = None
        self._written: tuple[int, int, int, int] | None = None

    def save(self, records: Iterable[BaselineRecord]) -> None:
        """Store ``records`` (see :func:`save`).

        Raises:
            StoreError: as :func:`save`.
        """
        records = list(records)
        if not records:
            return
        target = write_target(self.path)
        try:
            _make_folder(target.parent, target)
            with _locked(target):
                lines = self._current(target)
                for record in records:
                    lines[record.bench] = [record.to_json()]
                text = "".join(line + "\n" for name in sorted(lines) for line in lines[name])
                _write_atomic(target, text)
                self._lines, self._written = lines, _signature(target)
        except OSError as exc:
            self._lines = self._written = None
            raise StoreError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None

    def _current(self, target: Path) -> dict[str, list[str]]:
        """The file's lines by benchmark, read again unless it is the one written last."""
        if self._lines is not None and self._written is not None:  # noqa: SIM102
            if _signature(target) == self._written:
                return dict(self._lines)
        existing = read(target, keep_lines=True)
        # records this save does not replace keep their line as it was, and so do
        # lines it could not read
        lines = {name: [line] for name, line in existing.lines.items()}
        lines.update(existing.raw)
        return lines


def _signature(path: Path) -> tuple[int, int, int, int] | None:
    """What tells one version of a file from another: device, inode, size, mtime."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def write_target(path: Path) -> Path:
    """The file a save of ``path`` replaces: ``path`` itself, or where its symbolic links lead.

    A baseline shared through a link is updated where it lives (the link is
    kept); a path that exists but is not a regular file is refused.

    Raises:
        StoreError: if ``path`` is a folder, a device, a FIFO or a socket.
    """
    target = Path(os.path.realpath(path)) if os.path.islink(path) else path
    with contextlib.suppress(FileNotFoundError):
        _check_regular(target)
    return target
