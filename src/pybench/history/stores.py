"""The history stores: SQLite (embedded, the default) and PostgreSQL (for teams), one interface.

Both speak the same SQL (:mod:`pybench.history.schema`) through Python's DB-API;
they differ in how they connect, lock the first use's migration, and bulk-load
slot rows. Every write is one transaction: a run is recorded whole or not at
all, so a writer killed halfway leaves the store as it was.

SQLite runs in WAL mode: readers never wait, writers queue on a busy timeout,
so concurrent pybench runs on one machine each get their run recorded.
PostgreSQL needs the ``postgres`` extra (psycopg 3), imported only here.
"""

from __future__ import annotations

import contextlib
import json
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..core.errors import PybenchError
from ..core.machine import machine_id
from . import schema
from .entries import RunEntry, layout, result_row, slot_rows

__all__ = [
    "HistoryError",
    "PostgresStore",
    "RunRow",
    "Summary",
    "SqliteStore",
    "Store",
    "open_store",
]

_BUSY_SECONDS = 120.0
_SLOT_COLUMNS = (
    "result_id",
    "position",
    "step",
    "metric",
    "mean",
    "low",
    "high",
    "p",
    "flagged",
    "effect",
    "n_values",
    "seed_values",
    "baseline_values",
)
_RESULT_COLUMNS = (
    "run_id",
    "bench",
    "status",
    "meta_p",
    "n_flagged",
    "n_slots",
    "settings",
    "seeds",
    "error",
    "warnings",
    "layout_id",
    "means",
    "lows",
    "highs",
    "flags",
)


class HistoryError(PybenchError):
    """A history store that cannot be opened, read or written."""


@dataclass(frozen=True)
class RunRow:
    """A recorded run, as :meth:`Store.runs` lists it."""

    id: int
    uid: str
    command: str
    started: str
    commit: str | None
    commit_short: str | None
    branch: str | None
    dirty: bool | None
    machine_id: str | None


@dataclass(frozen=True)
class Summary:
    """One benchmark in one run: its status and its slots' means, interval bounds (float64
    bytes) and flags (int8 bytes), in the order of its layout."""

    run_id: int
    bench: str
    status: str
    layout_id: str
    means: bytes
    lows: bytes
    highs: bytes
    flags: bytes


def _utc_now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Store:
    """A history store over a DB-API connection (see the subclasses)."""

    name: str
    """What messages call the store (its file, or its URL without a password)."""
    _types: dict[str, str]
    _param = "?"

    def __init__(self, connection: Any, name: str):
        self.connection = connection
        self.name = name

    # -- plumbing ------------------------------------------------------------
    def _sql(self, text: str) -> str:
        return text if self._param == "?" else text.replace("?", self._param)

    def execute(self, text: str, params: Sequence[Any] = ()) -> Any:
        cursor = self.connection.cursor()
        cursor.execute(self._sql(text), tuple(params))
        return cursor

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        raise NotImplementedError

    def _lock_schema(self) -> None:
        """Serialise first uses (inside the migration's transaction)."""

    def _insert_slots(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.connection.cursor().executemany(
            self._sql(
                f"INSERT INTO pybench_slots ({', '.join(_SLOT_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_SLOT_COLUMNS))})"
            ),
            rows,
        )

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- schema --------------------------------------------------------------
    def version(self) -> int:
        """The schema version the store holds (0: empty)."""
        row = self.execute("SELECT value FROM pybench_meta WHERE key = 'schema_version'").fetchone()
        return int(row[0]) if row else 0

    def version_if_any(self) -> int | None:
        """The schema version, or ``None`` when the store has no schema yet (read only)."""
        try:
            return self.version()
        except Exception:  # no pybench_meta table: the driver's own error type
            return None

    def migrate(self) -> None:
        """Create or upgrade the schema to this pybench's version, once, under a lock.

        Raises:
            HistoryError: the store was written by a newer pybench.
        """
        wanted = len(schema.MIGRATIONS)
        with self._transaction():
            self._lock_schema()
            self.execute(schema.META)
            found = self.version()
            if found > wanted:
                raise HistoryError(
                    f"{self.name}: history schema version {found} is newer than this pybench "
                    f"reads ({wanted}); upgrade pybench"
                )
            for version in range(found, wanted):
                for statement in schema.MIGRATIONS[version]:
                    self.execute(statement.format(**self._types))
            if found != wanted:
                self.execute("DELETE FROM pybench_meta WHERE key = 'schema_version'")
                self.execute(
                    "INSERT INTO pybench_meta (key, value) VALUES ('schema_version', ?)",
                    (str(wanted),),
                )

    # -- writing -------------------------------------------------------------
    def append(self, run: RunEntry) -> int:
        """Record ``run`` whole, in one transaction; its id."""
        machine = json.dumps(dict(run.machine), sort_keys=True)
        key = machine_id(run.machine)
        shapes = [layout(result) for result in run.results]
        layouts = dict(shape for shape in shapes if shape is not None)
        with self._transaction():
            self.execute(
                "INSERT INTO pybench_machines (id, fingerprint) VALUES (?, ?)"
                " ON CONFLICT (id) DO NOTHING",
                (key, machine),
            )
            for item in layouts.items():
                self.execute(
                    "INSERT INTO pybench_layouts (id, slots) VALUES (?, ?)"
                    " ON CONFLICT (id) DO NOTHING",
                    item,
                )
            run_id = self._insert_run(run, key)
            for result, shape in zip(run.results, shapes, strict=True):
                result_id = self._insert_returning(
                    f"INSERT INTO pybench_results ({', '.join(_RESULT_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(_RESULT_COLUMNS))})",
                    (run_id, *result_row(result, shape[0] if shape else None)),
                )
                self._insert_slots((result_id, *row) for row in slot_rows(result))
        return int(run_id)

    def _insert_returning(self, text: str, params: Sequence[Any]) -> int:
        """Insert one row; its id."""
        return int(self.execute(text + " RETURNING id", params).fetchone()[0])

    def _insert_run(self, run: RunEntry, machine: str) -> int:
        return int(
            self._insert_returning(
                "INSERT INTO pybench_runs (uid, command, started, recorded, elapsed, commit_sha,"
                " commit_short, branch, dirty, base_commit, pybench_version, machine_id, path)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run.uid,
                    run.command,
                    run.started,
                    _utc_now(),
                    run.elapsed,
                    run.commit,
                    run.commit_short,
                    run.branch,
                    None if run.dirty is None else int(run.dirty),
                    run.base_commit,
                    run.pybench_version,
                    machine,
                    run.path,
                ),
            )
        )

    # -- reading -------------------------------------------------------------
    def runs(self, *, branch: str | None = None) -> list[RunRow]:
        """Every recorded run, oldest first (on ``branch`` only, when given)."""
        where, params = ("WHERE branch = ?", (branch,)) if branch else ("", ())
        rows = self.execute(
            "SELECT id, uid, command, started, commit_sha, commit_short, branch, dirty,"
            f" machine_id FROM pybench_runs {where} ORDER BY started, id",
            params,
        ).fetchall()
        return [
            RunRow(r[0], r[1], r[2], r[3], r[4], r[5], r[6], None if r[7] is None else bool(r[7]),
                   r[8])
            for r in rows
        ]

    def machines(self) -> dict[str, dict[str, Any]]:
        """Every machine fingerprint, by id."""
        rows = self.execute("SELECT id, fingerprint FROM pybench_machines").fetchall()
        return {key: json.loads(text) for key, text in rows}

    def summaries(self, *, benches: Sequence[str] = (), since_run: int = 0) -> list[Summary]:
        """The slot summaries of every result with slots (of ``benches``; of runs whose id is
        at least ``since_run``)."""
        where = ["run_id >= ?", "layout_id IS NOT NULL"]
        params: list[Any] = [since_run]
        if benches:
            where.append(f"bench IN ({', '.join('?' * len(benches))})")
            params.extend(benches)
        rows = self.execute(
            "SELECT run_id, bench, status, layout_id, means, lows, highs, flags"
            f" FROM pybench_results WHERE {' AND '.join(where)}",
            params,
        ).fetchall()
        return [Summary(*r[:4], *(bytes(b) for b in r[4:])) for r in rows]

    def layouts(self) -> dict[str, list[tuple[int, str]]]:
        """Every slot layout, by id."""
        rows = self.execute("SELECT id, slots FROM pybench_layouts").fetchall()
        return {key: [(int(s), str(m)) for s, m in json.loads(text)] for key, text in rows}

    def benches(self) -> list[str]:
        """Every benchmark name recorded, sorted."""
        rows = self.execute("SELECT DISTINCT bench FROM pybench_results").fetchall()
        return sorted(r[0] for r in rows)

    def values(self, run_id: int, bench: str) -> dict[tuple[int, str], list[float]]:
        """The per-seed values of every slot of ``bench`` in run ``run_id``."""
        import numpy as np

        rows = self.execute(
            "SELECT s.step, s.metric, s.seed_values FROM pybench_slots s JOIN pybench_results r"
            " ON s.result_id = r.id WHERE r.run_id = ? AND r.bench = ? ORDER BY s.position",
            (run_id, bench),
        ).fetchall()
        return {(r[0], r[1]): np.frombuffer(bytes(r[2]), dtype="<f8").tolist() for r in rows}


class SqliteStore(Store):
    """A SQLite file in WAL mode."""

    _types = {"id": "INTEGER PRIMARY KEY", "blob": "BLOB", "real": "REAL"}

    def __init__(self, path: Path):
        try:
            connection = sqlite3.connect(
                str(path), timeout=_BUSY_SECONDS, isolation_level=None, check_same_thread=False
            )
            connection.execute(f"PRAGMA busy_timeout = {int(_BUSY_SECONDS * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA foreign_keys = ON")
        except sqlite3.Error as exc:
            raise HistoryError(f"{path}: cannot open the history ({exc})") from None
        super().__init__(connection, str(path))

    def _insert_returning(self, text: str, params: Sequence[Any]) -> int:
        return int(self.execute(text, params).lastrowid)  # RETURNING needs SQLite 3.35

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        self.connection.execute("BEGIN IMMEDIATE")  # take the write lock now: no upgrade deadlock
        try:
            yield
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                self.connection.execute("ROLLBACK")
            raise
        self.connection.execute("COMMIT")


class PostgresStore(Store):
    """A PostgreSQL database, through psycopg 3 (the ``postgres`` extra)."""

    _types = {
        "id": "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
        "blob": "BYTEA",
        "real": "DOUBLE PRECISION",
    }
    _param = "%s"

    def __init__(self, url: str):
        try:
            import psycopg
        except ImportError as exc:
            raise HistoryError(
                f"a PostgreSQL history needs psycopg 3 ({exc}); install pybench's 'postgres' "
                "extra (e.g. uv pip install 'pybench[postgres]')"
            ) from None
        name = hide_password(url)
        try:
            connection = psycopg.connect(url, autocommit=True, connect_timeout=30)
        except psycopg.Error as exc:
            reason = _first_line(exc)
            raise HistoryError(f"{name}: cannot connect to the history ({reason})") from None
        super().__init__(connection, name)

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[None]:
        with self.connection.transaction():
            yield

    def _lock_schema(self) -> None:
        self.execute("SELECT pg_advisory_xact_lock(7061796265)")  # any constant key: "pybe"

    def _insert_slots(self, rows: Iterable[tuple[Any, ...]]) -> None:
        cursor = self.connection.cursor()
        with cursor.copy(f"COPY pybench_slots ({', '.join(_SLOT_COLUMNS)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def hide_password(url: str) -> str:
    """``url`` with any password replaced by ``***`` (for messages)."""
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return "the PostgreSQL history"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def is_postgres(target: str) -> bool:
    """Whether a ``--history`` value names a PostgreSQL database."""
    return target.startswith(("postgresql://", "postgres://"))


def open_store(target: str | Path, *, create: bool = True) -> Store:
    """The store at ``target``: a ``postgresql://`` URL, a ``sqlite:///`` URL or a file path.

    The schema is created or migrated on first use. With ``create=False`` a
    SQLite file that does not exist is an error instead of a new store.

    Raises:
        HistoryError: the store cannot be opened, or was written by a newer pybench.
    """
    text = str(target)
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*)://", text)
    if scheme and not is_postgres(text) and not text.startswith("sqlite:///"):
        raise HistoryError(
            f"{hide_password(text)}: unknown history URL scheme {scheme.group(1)!r}; give a "
            "file path, sqlite:///PATH or postgresql://..."
        )
    if is_postgres(text):
        store: Store = PostgresStore(text)
    else:
        path = Path(text.removeprefix("sqlite:///") if text.startswith("sqlite:///") else text)
        if not create and not path.exists():
            raise HistoryError(f"{path}: no history yet; runs are recorded there by `pybench`")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = exc.strerror or exc
            raise HistoryError(f"{path}: cannot create its folder ({reason})") from None
        store = SqliteStore(path)
    try:
        if create or store.version_if_any() != len(schema.MIGRATIONS):
            store.migrate()
    except HistoryError:
        store.close()
        raise
    except Exception as exc:
        store.close()
        reason = _first_line(exc)
        raise HistoryError(f"{store.name}: cannot set up the history ({reason})") from None
    return store
