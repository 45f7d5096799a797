"""Overhead of checking a revision out for ``pybench compare``, on this repository.

Run from the repository root::

    uv run python perf/perf_compare.py

Times :func:`pybench.sources.worktrees.checkout` of ``HEAD`` (``git worktree add
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

from pybench.core.provenance import Revision
from pybench.execution.backends import open_pool
from pybench.sources import revisions, worktrees
from pybench.sources.code import discover_tree, open_tree
from pybench.sources.discover import select
from pybench.sources.git import git

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = Path("examples/synthetic/benchmarks")
REPEATS = 7
TARGET_S = 1.0


def _checkout_times(revision: Revision) -> tuple[float, float]:
    started = time.perf_counter()
    with worktrees.checkout(ROOT, revision) as tree:
        created = time.perf_counter()
        assert (tree / "pyproject.toml").is_file()
    ended = time.perf_counter()
    assert not tree.exists()
    return created - started, ended - created


def _side_time(revision: Revision) -> float:
    started = time.perf_counter()
    with open_tree(ROOT, revision, BENCHMARKS, "head") as tree:
        (bench,) = select(discover_tree(tree), ("synthetic",))
        with open_pool() as pool:
            backend = pool.backend_for(bench, workers=1, gpus=None, source_roots=tree.source_roots)
            (outcome,) = backend.map_seeds(bench, [1])
            assert outcome.values is not None
    return time.perf_counter() - started


def main() -> int:
    revision = revisions.resolve(ROOT, "HEAD")
    print(f"repository: {ROOT} at {revision.label}")
    files = len(git(["ls-files"], ROOT).stdout.splitlines())
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
    mine = list(worktrees._temp_root().glob(f"{worktrees.PREFIX}{os.getpid()}-*"))
    print(f"  checkouts left behind by this run: {len(mine)}")
    return 0 if total < TARGET_S and not mine else 1


if __name__ == "__main__":
    sys.exit(main())
