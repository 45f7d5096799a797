"""Two git revisions: resolution, temporary worktrees, import isolation, interleaved runs."""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from pybench.core.benchmark import Benchmark
from pybench.core.errors import EXIT_ERROR
from pybench.core.provenance import Revision
from pybench.core.seeds import SeedFailure, SeedOutcome
from pybench.core.settings import Settings
from pybench.engine import loop
from pybench.engine.collect import BenchmarkError, RunResult, check_finite
from pybench.engine.outcome import Outcome, Status
from pybench.engine.plan import Job, Side, plan_pairs
from pybench.execution.backends import open_pool
from pybench.execution.evaluate import evaluate_seed
from pybench.sources.code import CodeSource, discover_tree, pair_benchmarks
from pybench.sources.code import open_tree as open_side
from pybench.sources.discover import DiscoveryError
from pybench.sources.revisions import RevisionError, resolve, resolve_pair, working_tree
from pybench.sources.shadow import shadow_imports, source_roots
from pybench.sources.worktrees import checkout, prune_stale
from tests.toyrepo import (
    BENCH,
    DECOY,
    NOOP,
    PACKAGE,
    ToyRepo,
    expected,
    git,
    worktrees,
)

REPO_SRC = Path(__file__).resolve().parent.parent / "src"
SEEDS = [3, 11, 250, 4096]


@pytest.fixture
def decoy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A different ``toypkg``, importable and imported in this (the parent) process."""
    folder = tmp_path / "decoy"
    (folder / "toypkg").mkdir(parents=True)
    (folder / "toypkg" / "__init__.py").write_text(DECOY)
    monkeypatch.syspath_prepend(str(folder))
    import toypkg  # type: ignore[import-not-found]

    assert toypkg.value(1) == 1000.0
    yield folder
    for name in [m for m in sys.modules if m.partition(".")[0] == "toypkg"]:
        del sys.modules[name]


def _gone(pid: int, timeout: float = 5.0) -> bool:
    """Has process ``pid`` exited (and been reaped) within ``timeout`` seconds?"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def user_state(root: Path) -> tuple[str, str, str]:
    """What must never change: status (with untracked files), refs, and what HEAD is."""
    return (
        git(root, "status", "--porcelain", "--untracked-files=all"),
        git(root, "for-each-ref"),
        git(root, "symbolic-ref", "HEAD"),
    )


# -- resolution -------------------------------------------------------------------
def test_resolve_branch_tag_commit_and_expression(toy_repo: ToyRepo) -> None:
    root = toy_repo.root
    assert resolve(root, "main").commit == toy_repo.regression
    assert resolve(root, "v1").commit == toy_repo.base
    assert resolve(root, "HEAD~2").commit == toy_repo.base
    short = toy_repo.noop[:9]
    noop = resolve(root, short)
    assert noop.commit == toy_repo.noop
    assert noop.label == noop.short
    assert resolve(root, "HEAD~1").label == f"HEAD~1 ({noop.short})"


@pytest.mark.parametrize("rev", ["nope", "HEAD~9", "--help", "", "v1:src"])
def test_unknown_revision_is_a_one_line_error(toy_repo: ToyRepo, temp_root: Path, rev: str) -> None:
    root = toy_repo.root
    before = user_state(root)
    with pytest.raises(RevisionError) as info:
        resolve_pair(root / "benchmarks", rev, None)
    message = str(info.value)
    assert message.startswith(f"unknown revision {rev!r}")
    assert "\n" not in message
    assert info.value.exit_code == EXIT_ERROR
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []
    assert user_state(root) == before


def test_not_a_git_repository(tmp_path: Path, temp_root: Path) -> None:
    folder = tmp_path / "plain" / "benchmarks"
    folder.mkdir(parents=True)
    with pytest.raises(RevisionError, match="not inside a git repository") as info:
        resolve_pair(folder, "main", None)
    assert info.value.exit_code == EXIT_ERROR
    assert list(temp_root.iterdir()) == []


def test_path_missing_in_a_revision(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    (root / "more").mkdir()
    (root / "more" / "bench_more.py").write_text(BENCH)  # untracked: only the working tree has it
    with pytest.raises(RevisionError, match=r"^more: no such file or folder in v1 \(") as info:
        resolve_pair(root / "more", "v1", None)
    assert "\n" not in str(info.value)
    (root / "benchmarks" / "bench_toy.py").unlink()
    with pytest.raises(RevisionError, match=r"^benchmarks/bench_toy.py: no such .* working tree"):
        resolve_pair(root / "benchmarks" / "bench_toy.py", "v1", None)
    assert list(temp_root.iterdir()) == []
    pair = resolve_pair(root / "benchmarks", "v1", None)
    assert (pair.repo, pair.path) == (root, Path("benchmarks"))
    assert (pair.base.commit, pair.head.is_checkout) == (toy_repo.base, False)


def test_working_tree_reports_dirty(toy_repo: ToyRepo) -> None:
    root = toy_repo.root
    clean = working_tree(root)
    assert (clean.dirty, clean.is_checkout, clean.commit) == (False, False, toy_repo.regression)
    assert clean.label == f"working tree ({clean.short})"
    (root / "src" / "toypkg" / "__init__.py").write_text(PACKAGE)
    dirty = working_tree(root)
    assert dirty.dirty is True
    assert dirty.label == f"working tree ({clean.short}, dirty)"


# -- worktrees --------------------------------------------------------------------
def test_checkout_creates_and_removes_a_worktree(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    (root / "untracked.txt").write_text("mine")
    (root / "src" / "toypkg" / "__init__.py").write_text(NOOP)  # a local edit
    before = user_state(root)
    base = resolve(root, "v1")
    with checkout(root, base) as tree:
        assert tree.parent.name.startswith(f"pybench-rev-{os.getpid()}-")
        assert tree.parent.parent == temp_root.resolve()
        assert str(tree) in worktrees(root)
        assert (tree / "src" / "toypkg" / "__init__.py").read_text() == PACKAGE
        assert git(tree, "rev-parse", "HEAD") == toy_repo.base
        assert not (tree / "untracked.txt").exists()
        (tree / "scratch.txt").write_text("written by a benchmark")  # removed with the tree
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []
    assert user_state(root) == before
    assert (root / "src" / "toypkg" / "__init__.py").read_text() == NOOP


def test_working_tree_is_used_in_place(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    with checkout(root, working_tree(root)) as tree:
        assert tree == root
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


@pytest.mark.parametrize("exc", [RuntimeError, KeyboardInterrupt])
def test_checkout_is_removed_after_an_exception(
    toy_repo: ToyRepo, temp_root: Path, exc: type[BaseException]
) -> None:
    root = toy_repo.root
    seen: list[Path] = []
    with pytest.raises(exc), checkout(root, resolve(root, "main")) as tree:
        seen.append(tree)
        assert tree.is_dir()
        raise exc()
    assert not seen[0].exists()
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


HOLDER_SCRIPT = """
import sys, time
from pathlib import Path
from pybench.sources import revisions, worktrees

worktrees._temp_root = lambda: Path(sys.argv[2])
repo = Path(sys.argv[1])
with worktrees.checkout(repo, revisions.resolve(repo, "v1")) as tree:
    print(tree, flush=True)
    time.sleep(120)
"""


def test_checkout_of_a_killed_process_is_pruned(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER_SCRIPT, str(root), str(temp_root)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_SRC)},
    )
    try:
        assert child.stdout is not None
        tree = Path(child.stdout.readline().strip())
        assert tree.is_dir()
        assert prune_stale(root) == []  # its owner is alive: left alone
        with checkout(root, resolve(root, "main")) as mine:
            assert prune_stale(root) == []  # nor is this process's own
            assert tree.is_dir() and mine.is_dir()
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        removed: list[Path] = []
        while not removed and time.monotonic() < deadline:  # even before the kill is reaped
            assert tree.is_dir() and str(tree) in worktrees(root)  # a kill leaves it behind
            removed = prune_stale(root)
        assert removed == [tree.parent]
        child.wait(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert not tree.parent.exists()
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


def test_stale_folders_without_a_worktree_are_removed(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = temp_root / f"pybench-rev-{dead.pid}-abc123"
    (stale / "half").mkdir(parents=True)
    other_host = temp_root / f"pybench-rev-{dead.pid}-def456"
    other_host.mkdir()
    (other_host / "owner").write_text(f"{dead.pid} some-other-machine\n")
    unrelated = temp_root / "pybench-revisions-notes"
    unrelated.mkdir()
    with checkout(root, resolve(root, "v1")):  # every checkout first prunes stale ones
        assert not stale.exists()
    assert other_host.exists() and unrelated.exists()


# -- importing a revision's code -------------------------------------------------------
def test_source_roots(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "benchmarks").mkdir()
    (tmp_path / "benchmarks" / "bench_a.py").write_text("")
    src_layout = [tmp_path / "benchmarks", tmp_path / "src", tmp_path]
    assert source_roots(tmp_path, Path("benchmarks")) == src_layout
    assert source_roots(tmp_path, Path("benchmarks/bench_a.py")) == src_layout
    (tmp_path / "src").rmdir()
    assert source_roots(tmp_path, Path("benchmarks")) == [tmp_path / "benchmarks", tmp_path]
    assert source_roots(tmp_path, Path(".")) == [tmp_path]
    # a project in a subfolder (its own .pybench/): that folder is the project's root
    sub = tmp_path / "examples" / "toy"
    (sub / ".pybench").mkdir(parents=True)
    (sub / "benchmarks").mkdir()
    assert source_roots(tmp_path, Path("examples/toy/benchmarks")) == [sub / "benchmarks", sub]
    # benchmark files from elsewhere (--bench-from): their folder first, the code from the tree
    other = tmp_path / "other" / "benchmarks"
    other.mkdir(parents=True)
    assert source_roots(tmp_path, Path("benchmarks"), other) == [other, tmp_path]


SHADOW_SCRIPT = """
import importlib.abc, importlib.util, sys
from pathlib import Path

decoy, tree = sys.argv[1], sys.argv[2]
sys.path.insert(0, decoy)
if sys.argv[3] == "hook":
    # An editable install's import hook placed first in sys.meta_path.
    class Hook(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name == "toypkg":
                return importlib.util.spec_from_file_location(
                    name, Path(decoy) / "toypkg" / "__init__.py"
                )
    sys.meta_path.insert(0, Hook())
import toypkg
import json as json_before
before = toypkg.value(5)

from pybench.sources.shadow import shadow_imports
undo = shadow_imports([tree])
import json
import toypkg
during = (toypkg.value(5), toypkg.__file__, json is json_before)
undo()
import toypkg
print(before, *during, toypkg.value(5))
"""


@pytest.mark.parametrize("how", ["sys.path", "hook"])
def test_shadow_imports_beats_an_imported_or_hooked_copy(
    toy_repo: ToyRepo, decoy: Path, how: str
) -> None:
    root = toy_repo.root
    (root / "src" / "json.py").write_text("raise ImportError('the standard library is kept')\n")
    out = subprocess.run(
        [sys.executable, "-c", SHADOW_SCRIPT, str(decoy), str(root / "src"), how],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_SRC)},
        check=True,
    ).stdout.split()
    assert out == [
        "1000.0",
        str(REGRESSION_VALUE),
        str(root / "src" / "toypkg" / "__init__.py"),
        "True",
        "1000.0",
    ]


REGRESSION_VALUE = expected(5) - 1.0


def test_shadow_imports_undo_forgets_what_it_imported(tmp_path: Path, decoy: Path) -> None:
    import toypkg

    src = tmp_path / "src"
    (src / "toypkg").mkdir(parents=True)
    (src / "toypkg" / "__init__.py").write_text("def value(seed):\n    return -1.0\n")
    (src / "nspkg").mkdir()  # a namespace package: no __init__.py
    (src / "nspkg" / "part.py").write_text("X = 1\n")
    path, meta_path = list(sys.path), list(sys.meta_path)
    undo = shadow_imports([src])
    try:
        import nspkg.part  # type: ignore[import-not-found]
        import toypkg as shadowed

        assert shadowed.value(1) == -1.0 and nspkg.part.X == 1
    finally:
        undo()
    assert sys.modules["toypkg"] is toypkg and toypkg.value(1) == 1000.0
    assert "nspkg" not in sys.modules and "nspkg.part" not in sys.modules
    assert sys.path == path and sys.meta_path == meta_path


def open_tree(root: Path, revision: Revision, path: Path, side: str = "head"):  # noqa: ANN201
    return open_side(root, revision, path, side)


def _run_pair(
    root: Path, base: Revision, head: Revision, seeds: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    """Both revisions through the run loop on ``seeds``: BASE's values, HEAD's values."""
    with (
        open_tree(root, base, Path("benchmarks"), "base") as base_tree,
        open_tree(root, head, Path("benchmarks"), "head") as head_tree,
    ):
        pairing = pair_benchmarks(discover_tree(base_tree), discover_tree(head_tree))
        ((base_bench, head_bench),) = pairing.pairs
        assert base_bench.func.__module__ != head_bench.func.__module__
        assert base_bench.path != head_bench.path
        # a handful of seeds: an alpha they can reach (the values are what is checked)
        [job] = plan_pairs(pairing, (base_tree, head_tree), {"alpha": 0.5})
        job = dataclasses.replace(job, seeds=tuple(seeds))
        with open_pool() as pool:
            [outcome] = loop.run([job], pool=pool)
    assert outcome.error is None, outcome.error
    assert outcome.slots == ((0, "min:cost"), (0, "value"))
    assert outcome.baseline is not None and outcome.values is not None
    return outcome.baseline, outcome.values


def test_each_side_imports_its_own_revision(
    toy_repo: ToyRepo, temp_root: Path, decoy: Path
) -> None:
    root = toy_repo.root
    want = np.array([[1.0 + s % 3, expected(s)] for s in SEEDS])
    base, noop = _run_pair(root, resolve(root, "v1"), resolve(root, "HEAD~1"), SEEDS)
    np.testing.assert_array_equal(base, want)
    np.testing.assert_array_equal(noop, want)
    base, regression = _run_pair(root, resolve(root, "v1"), resolve(root, "main"), SEEDS)
    np.testing.assert_array_equal(base, want)
    np.testing.assert_array_equal(regression, want - [0.0, 1.0])
    # The parent's own toypkg is still the decoy, and nothing is left behind.
    import toypkg

    assert toypkg.value(1) == 1000.0
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


def test_dirty_working_tree_is_the_head(toy_repo: ToyRepo, temp_root: Path, decoy: Path) -> None:
    root = toy_repo.root
    (root / "src" / "toypkg" / "__init__.py").write_text(PACKAGE.replace("/ 10.0", "/ 10.0 + 2.0"))
    pair = resolve_pair(root / "benchmarks", "v1", None)
    assert pair.head.dirty is True
    base, head = _run_pair(root, pair.base, pair.head, SEEDS[:2])
    np.testing.assert_array_equal(head, base + [0.0, 2.0])


def test_ctrl_c_mid_run_leaves_no_worktree_or_worker(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    pids: list[int] = []
    pools = []

    def interrupt(event: object) -> None:
        if type(event).__name__ == "SeedDone":
            pids.extend(pid for b in pools[0]._workers.values() for pid in b.pids)
            raise KeyboardInterrupt

    with (
        pytest.raises(KeyboardInterrupt),
        open_tree(root, resolve(root, "v1"), Path("benchmarks"), "base") as base_tree,
        open_tree(root, resolve(root, "main"), Path("benchmarks"), "head") as head_tree,
    ):
        pairing = pair_benchmarks(discover_tree(base_tree), discover_tree(head_tree))
        jobs = plan_pairs(pairing, (base_tree, head_tree), {})
        with open_pool() as pool:
            pools.append(pool)
            loop.run(jobs, pool=pool, on_event=interrupt)
    assert pids
    assert all(_gone(pid) for pid in pids)
    assert worktrees(root) == [str(root)]
    assert list(temp_root.iterdir()) == []


def test_discovery_errors_name_the_revision(toy_repo: ToyRepo, temp_root: Path) -> None:
    root = toy_repo.root
    (root / "benchmarks" / "bench_toy.py").write_text("def bench_toy(seed):\n    return (\n")
    git(root, "commit", "-q", "-am", "break the benchmark")
    with (
        open_tree(root, resolve(root, "main"), Path("benchmarks")) as tree,
        pytest.raises(DiscoveryError) as info,
    ):
        discover_tree(tree)
    message = str(info.value)
    assert message.startswith("in main (")
    assert "benchmarks/bench_toy.py: importing the file failed: SyntaxError" in message
    assert str(temp_root) not in message
    (root / "benchmarks" / "bench_toy.py").write_text("# nothing here yet\n")
    with open_tree(root, working_tree(root), Path("benchmarks")) as tree:
        assert discover_tree(tree) == []


# -- pairing and interleaving ------------------------------------------------------------
def _bench(name: str, path: str = "bench.py") -> Benchmark:
    return Benchmark(name=name, path=Path(path), func=lambda seed: 0.0)


def test_pair_benchmarks() -> None:
    base = [_bench("bench_a"), _bench("bench_gone"), _bench("bench_b")]
    head = [_bench("bench_b"), _bench("bench_a"), _bench("bench_new")]
    pairing = pair_benchmarks(base, head)
    assert [(b.name, h.name) for b, h in pairing.pairs] == [
        ("bench_a", "bench_a"),
        ("bench_b", "bench_b"),
    ]
    assert [b.name for b in pairing.only_base] == ["bench_gone"]
    assert [b.name for b in pairing.only_head] == ["bench_new"]
    chosen = pair_benchmarks(base, head, ["b", "bench_new"])
    assert [b.name for b, _ in chosen.pairs] == ["bench_b"]
    assert ([b.name for b in chosen.only_head], chosen.only_base) == (["bench_new"], [])
    with pytest.raises(DiscoveryError, match=r"--bench c: no such benchmark in either revision"):
        pair_benchmarks(base, head, ["c"])
    with pytest.raises(DiscoveryError, match="no bench_\\* functions found in either revision"):
        pair_benchmarks([], [])


class Recording:
    """A back-end that runs seeds in this process and logs ``(side, seed)`` as each starts."""

    def __init__(self, side: str, log: list[tuple[str, int]], func=None, fail_on=()):  # noqa: ANN001
        self.side, self.log, self.func, self.fail_on = side, log, func, set(fail_on)

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        for index, seed in enumerate(seeds):
            self.log.append((self.side, seed))
            if seed in self.fail_on:
                yield SeedOutcome(index, seed, failure=SeedFailure("raised ValueError: no", "tb"))
            else:
                yield evaluate_seed(self.func or bench.func, index, seed)

    def close(self) -> None:
        pass


class Handing:
    """A pool that hands out the given back-ends in order (base side first, then head)."""

    def __init__(self, *backends: Recording):
        self.backends = list(backends)

    def backend_for(self, bench: Benchmark, **settings: object) -> Recording:
        return self.backends.pop(0)

    def version_mismatches(self, bench: Benchmark) -> list[object]:
        return []

    def kill(self) -> None:
        pass


BASE = CodeSource(revision=Revision("v1", "a" * 40, "abc1234"), side="base")
HEAD = CodeSource(revision=Revision("main", "b" * 40, "def5678"), side="head")


def _value_bench(offset: float = 0.0) -> Benchmark:
    return Benchmark(name="bench_v", path=Path("v.py"), func=lambda seed: seed / 2 + offset)


def _interleave(
    base: Recording, head: Recording, seeds: Sequence[int], *, workers: int = 1, offset: float = 0
) -> tuple[Outcome, list[object]]:
    """One paired job through the run loop with these back-ends; its outcome and events."""
    job = Job(
        _value_bench(offset),
        Settings(n_seeds=len(seeds), workers=workers, alpha=0.5),  # reachable with few seeds
        tuple(seeds),
        None,
        sides=(Side(_value_bench(), BASE), Side(_value_bench(offset), HEAD)),
    )
    events: list[object] = []
    [outcome] = loop.run([job], pool=Handing(base, head), on_event=events.append)  # type: ignore[arg-type]
    return outcome, events


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_paired_jobs_alternate_the_sides(chunk: int) -> None:
    log: list[tuple[str, int]] = []
    seeds = [7, 1, 4, 9, 2]
    outcome, events = _interleave(
        Recording("base", log), Recording("head", log), seeds, workers=chunk, offset=1.0
    )
    want = []
    for start in range(0, len(seeds), chunk):
        block = seeds[start : start + chunk]
        want += [("base", s) for s in block] + [("head", s) for s in block]
    assert log == want
    assert sum(type(e).__name__ == "SeedDone" for e in events) == 2 * len(seeds)
    assert outcome.seeds == tuple(seeds) and outcome.status is Status.PASS  # head is higher
    assert outcome.baseline is not None and outcome.values is not None
    np.testing.assert_array_equal(outcome.baseline[:, 0], [s / 2 for s in seeds])
    np.testing.assert_array_equal(outcome.values[:, 0], [s / 2 + 1.0 for s in seeds])


def test_paired_rows_follow_seed_order() -> None:
    class Reversed(Recording):
        def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
            outcomes = list(super().map_seeds(bench, seeds))
            return iter(reversed(outcomes))

    log: list[tuple[str, int]] = []
    outcome, _ = _interleave(Reversed("base", log), Recording("head", log), [1, 2, 3, 4], workers=2)
    np.testing.assert_array_equal(outcome.baseline, outcome.values)


@pytest.mark.parametrize("side", ["base", "head"])
def test_a_failing_seed_names_the_side_and_stops(side: str) -> None:
    log: list[tuple[str, int]] = []
    backends = {s: Recording(s, log, fail_on=[4] if s == side else []) for s in ("base", "head")}
    outcome, _ = _interleave(backends["base"], backends["head"], [7, 4, 9])
    label = "base v1 (abc1234)" if side == "base" else "head main (def5678)"
    assert outcome.status is Status.ERROR and outcome.error is not None
    assert outcome.error.message == f"{label}: seed 4 raised ValueError: no"
    assert (outcome.error.seed, outcome.error.traceback) == (4, "tb")
    assert ("base", 9) not in log and ("head", 9) not in log


def test_sides_with_different_slots_are_an_error() -> None:
    log: list[tuple[str, int]] = []
    extra = Recording("head", log, func=lambda s: {"score": 1.0, "extra": 2.0})
    outcome, _ = _interleave(Recording("base", log), extra, [1, 2])
    assert outcome.error is not None
    assert outcome.error.message.startswith(
        "head main (def5678) returns different slots from base v1 (abc1234) (new "
    )
    fickle = Recording("base", log, func=lambda s: {"a": 1.0} if s == 1 else 2.0)
    outcome, _ = _interleave(fickle, Recording("head", log), [1, 2])
    assert outcome.error is not None
    assert outcome.error.message.startswith(
        "base v1 (abc1234): seed 2 returned different slots from seed 1"
    )


def test_a_base_side_that_is_not_finite_names_the_side() -> None:
    bad = RunResult(seeds=[5, 6], slots=[(0, "score")], values=np.array([[1.0], [np.nan]]))
    with pytest.raises(
        BenchmarkError,
        match=r"^base v1 \(aaaaaaa\): step 0 'score' is NaN on seed 6; the base side must",
    ):
        check_finite("bench_v", bad, why="the base side must be finite", label="base v1 (aaaaaaa)")
    log: list[tuple[str, int]] = []
    nan = Recording("base", log, func=lambda s: float("nan") if s == 2 else 1.0)
    outcome, _ = _interleave(nan, Recording("head", log), [1, 2])
    assert outcome.error is not None and outcome.error.message == (
        "base v1 (abc1234): step 0 'score' is NaN on seed 2; the base side must be finite to"
        " compare against"
    )
