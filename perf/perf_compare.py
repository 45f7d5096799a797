"""Overhead of checking a revision out for ``pybench compare``, on this repository.

Run from the repository root::

    uv run python perf/perf_compare.py

Times :func:`pybench.sources.revisions.checkout` of ``HEAD`` (``git worktree add
--detach`` into a temporary folder, with the stale-checkout scan that precedes
it) and its clean-up (``git worktree remove --force``, removing the folder),
separately and together, medians of 7 after one warm-up. Target: checkout
plus clean-up under 1 s.

For information, it also times the whole set-up of one side as ``pybench
compare`` does it: checkout, discovery of the synthetic example's benchmarks
with that tree's sources first, one seed in a fresh worker process, clean-up.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from pathlib import Path

from pybench.sources import revisions
from pybench.sources.discover import select

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path("examples/synthetic/benchmarks")
REPEATS = 7
TARGET_S = 1.0


def _checkout_times(revision: revisions.Revision) -> tuple[float, float]:
    started = time.perf_counter()
    with revisions.checkout(ROOT, revision) as tree:
        created = time.perf_counter()
        assert (tree / "pyproject.toml").is_file()
    ended = time.perf_counter()
    assert not tree.exists()
    return created - started, ended - created


def _side_time(revision: revisions.Revision) -> float:
    started = time.perf_counter()
    with revisions.open_tree(ROOT, revision, BENCHMARKS) as tree:
        (bench,) = select(revisions.discover_tree(tree), ("synthetic",))
        with revisions.side_backend(tree) as backend:
            (outcome,) = backend.map_seeds(bench, [1])
            assert outcome.values is not None
    return time.perf_counter() - started


def main() -> int:
    revision = revisions.resolve(ROOT, "HEAD")
    print(f"repository: {ROOT} at {revision.label}")
    files = len(revisions._git(["ls-files"], ROOT).stdout.splitlines())
    print(f"tracked files checked out: {files}")
    _checkout_times(revision)  # warm the file-system caches
    creates, removes, totals = [], [], []
    for _ in range(REPEATS):
        create, remove = _checkout_times(revision)
        creates.append(create)
        removes.append(remove)
        totals.append(create + remove)
    total = statistics.median(totals)
    print(f"  worktree add (incl. stale scan)   {statistics.median(creates):6.3f} s")
    print(f"  worktree remove + folder          {statistics.median(removes):6.3f} s")
    verdict = "PASS" if total < TARGET_S else "MISS"
    print(
        f"  checkout + clean-up               {total:6.3f} s   target < {TARGET_S:.1f} s {verdict}"
    )

    sides = [_side_time(revision) for _ in range(3)]
    print(
        f"  one side set up (checkout, discovery, a worker, one seed, clean-up) "
        f"{statistics.median(sides):6.3f} s   (information)"
    )
    mine = list(revisions._temp_root().glob(f"{revisions.PREFIX}{os.getpid()}-*"))
    print(f"  checkouts left behind by this run: {len(mine)}")
    return 0 if total < TARGET_S and not mine else 1


if __name__ == "__main__":
    sys.exit(main())
