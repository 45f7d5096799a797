"""The history's schema, one for SQLite and PostgreSQL, versioned and migrated on first use.

Tables (every name starts with ``pybench_`` so a team's shared database can
hold them beside others):

- ``pybench_meta(key, value)``: ``schema_version`` and the like;
- ``pybench_machines(id, fingerprint)``: each machine fingerprint once (JSON),
  keyed by :func:`pybench.machine.machine_id`;
- ``pybench_layouts(id, slots)``: each list of a benchmark's ``[step, metric]``
  slots once (JSON), keyed by a hash of it;
- ``pybench_runs``: one row per recorded command (``run``, ``update``,
  ``compare``, ``pytest``): when, the commit (full and short), branch, dirty
  flag, BASE's commit for ``compare``, pybench's version, the machine and PATH;
- ``pybench_results``: one row per benchmark of a run: status, meta-p, the
  counts of flagged and of all slots, the settings (JSON), the seeds (uint32
  little-endian), the error message and warnings (JSON), and a summary of its
  slots for fast trend queries: the layout they follow, and each slot's mean,
  interval bounds (float64 little-endian arrays in layout order) and flag
  (int8: 1 flagged, 0 not, -1 no verdict);
- ``pybench_slots``: one row per slot of a result: step, metric, the mean of
  its per-seed values with a 95 % t interval, the slot's p-value, whether it
  was flagged, its relative effect, and the per-seed values themselves
  (``seed_values``, float64 little-endian; ``baseline_values`` holds the compared side: the
  stored baseline, or BASE for ``compare``).

Each entry of :data:`MIGRATIONS` moves the schema up one version; they run in
one transaction under a lock, so concurrent first uses create it once.
"""

from __future__ import annotations

__all__ = ["MIGRATIONS", "SCHEMA_VERSION", "TABLES"]

TABLES = (
    "pybench_slots",
    "pybench_results",
    "pybench_runs",
    "pybench_layouts",
    "pybench_machines",
    "pybench_meta",
)
"""Every table, children first (the order to drop them in)."""

META = "CREATE TABLE IF NOT EXISTS pybench_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"

# {id}: an auto-numbered 64-bit primary key; {blob}: a byte string; {real}: a double.
_V1 = (
    """CREATE TABLE pybench_machines (
        id TEXT PRIMARY KEY,
        fingerprint TEXT NOT NULL
    )""",
    """CREATE TABLE pybench_layouts (
        id TEXT PRIMARY KEY,
        slots TEXT NOT NULL
    )""",
    """CREATE TABLE pybench_runs (
        id {id},
        uid TEXT NOT NULL UNIQUE,
        command TEXT NOT NULL,
        started TEXT NOT NULL,
        recorded TEXT NOT NULL,
        elapsed {real},
        commit_sha TEXT,
        commit_short TEXT,
        branch TEXT,
        dirty INTEGER,
        base_commit TEXT,
        pybench_version TEXT NOT NULL,
        machine_id TEXT REFERENCES pybench_machines(id),
        path TEXT
    )""",
    """CREATE TABLE pybench_results (
        id {id},
        run_id BIGINT NOT NULL REFERENCES pybench_runs(id) ON DELETE CASCADE,
        bench TEXT NOT NULL,
        status TEXT NOT NULL,
        meta_p {real},
        n_flagged INTEGER,
        n_slots INTEGER NOT NULL,
        settings TEXT NOT NULL,
        seeds {blob},
        error TEXT,
        warnings TEXT NOT NULL,
        layout_id TEXT REFERENCES pybench_layouts(id),
        means {blob},
        lows {blob},
        highs {blob},
        flags {blob}
    )""",
    "CREATE INDEX pybench_results_bench ON pybench_results (bench, run_id)",
    "CREATE INDEX pybench_results_run ON pybench_results (run_id)",
    """CREATE TABLE pybench_slots (
        result_id BIGINT NOT NULL REFERENCES pybench_results(id) ON DELETE CASCADE,
        position INTEGER NOT NULL,
        step BIGINT NOT NULL,
        metric TEXT NOT NULL,
        mean {real},
        low {real},
        high {real},
        p {real},
        flagged INTEGER,
        effect {real},
        n_values INTEGER NOT NULL,
        seed_values {blob} NOT NULL,
        baseline_values {blob},
        PRIMARY KEY (result_id, position)
    )""",
)

MIGRATIONS: list[tuple[str, ...]] = [_V1]
"""``MIGRATIONS[i]`` takes the schema from version ``i`` to ``i + 1``."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The version this pybench writes and reads."""
