"""Revisions: run the same benchmarks on two git revisions of a project, seed for seed.

The pieces under ``pybench compare BASE [HEAD]``:

- :func:`resolve_pair` finds the repository, the benchmarks' path inside it and
  the two :class:`Revision` objects, and checks the path exists in both, before
  anything is created;
- :func:`checkout` puts a revision into a temporary ``git worktree`` and always
  removes it again (on an error, on Ctrl-C, and at the next run if the process
  was killed); ``HEAD`` omitted is the working tree as it is;
- :func:`source_roots` and :func:`shadow_imports` make a process import the
  project's code from one tree, ahead of any installed copy of it;
- :func:`discover_tree`, :func:`pair_benchmarks`, :func:`side_backend` and
  :func:`run_interleaved` discover each side, match benchmarks by name, and run
  seed ``i`` on the base side then on the head side, alternating.

Only pure-Python code under a tree's source roots is taken from that tree;
compiled extensions, dependencies and installed packages come from the current
environment (see the "Comparing two revisions" page of the docs).
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.machinery
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from ..core.errors import PybenchError
from ..core.normalize import Slot, describe_slot
from ..execution.evaluate import (
    Backend,
    BenchmarkError,
    RunResult,
    SeedOutcome,
    check_finite,
    run_benchmark,
)
from .discover import Benchmark, DiscoveryError, bench_name, discover

if TYPE_CHECKING:
    from ..execution.backends import ProcessBackend
    from ..storage.store import BaselineRecord

__all__ = [
    "Pairing",
    "Revision",
    "RevisionError",
    "RevisionPair",
    "Tree",
    "as_baseline",
    "checkout",
    "discover_tree",
    "open_tree",
    "pair_benchmarks",
    "prune_stale",
    "resolve",
    "resolve_pair",
    "run_alone",
    "run_interleaved",
    "shadow_imports",
    "side_backend",
    "source_roots",
    "working_tree",
]

PREFIX = "pybench-rev-"
"""Start of the name of each temporary folder holding a checkout (``pybench-rev-<pid>-…``)."""

_OWNER = "owner"
"""File beside a checkout in its folder: ``<pid> <host>`` of the pybench that made it."""

_HOLDER = re.compile(re.escape(PREFIX) + r"(\d+)-[^/\\]+")


class RevisionError(PybenchError):
    """A revision or repository that cannot be compared: no git, unknown revision, missing path."""


# -- git ------------------------------------------------------------------------
def _git(args: Sequence[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run git (read-only commands and ``git worktree`` only); never prompts."""
    try:
        return subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "GIT_TERMINAL_PROMPT": "0"},
        )
    except FileNotFoundError:
        raise RevisionError(
            "git was not found on PATH; comparing revisions needs git installed"
        ) from None
    except OSError as exc:
        raise RevisionError(f"could not run git: {exc}") from None


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0].removeprefix("fatal: ") if lines else "no message"


# -- revisions ----------------------------------------------------------------------
@dataclass(frozen=True)
class Revision:
    """One side of a comparison: a commit to check out, or the working tree as it is."""

    name: str
    """The revision as the user wrote it (``main``, ``HEAD~3``, a hash), or ``"working tree"``."""
    commit: str | None
    """The full hash of the commit (the working tree: of ``HEAD``; ``None`` before any commit)."""
    short: str
    """The abbreviated hash (empty when ``commit`` is ``None``)."""
    is_checkout: bool = True
    """Checked out into a temporary worktree; ``False`` for the working tree, used in place."""
    dirty: bool | None = None
    """The working tree only: whether tracked files differ from ``HEAD`` (per ``git_state``)."""

    @property
    def label(self) -> str:
        """How the revision is named in messages: ``main (1a2b3c4)``, ``working tree (…)``."""
        if not self.is_checkout:
            details = [self.short] if self.short else []
            if self.dirty:
                details.append("dirty")
            return self.name + (f" ({', '.join(details)})" if details else "")
        if re.fullmatch(r"[0-9a-f]{4,40}", self.name) and (self.commit or "").startswith(self.name):
            return self.short
        return f"{self.name} ({self.short})"


def find_repo(path: Path) -> Path:
    """The top folder of the git working tree holding ``path`` (or its nearest existing parent).

    Raises:
        RevisionError: git is missing or ``path`` is not inside a git repository.
    """
    folder = Path(os.path.abspath(path))
    while not folder.is_dir() and folder != folder.parent:
        folder = folder.parent
    proc = _git(["rev-parse", "--show-toplevel"], folder)
    if proc.returncode != 0 or not proc.stdout.strip():
        raise RevisionError(
            f"{path}: not inside a git repository; comparing revisions needs the project's git"
            " repository (run pybench from inside it, or pass --path into it)"
        )
    return Path(proc.stdout.strip())


def resolve(repo: Path, rev: str) -> Revision:
    """Resolve a branch, tag, commit or expression (``HEAD~3``) to the commit it names.

    Raises:
        RevisionError: the revision names no commit of ``repo``.
    """
    proc = None
    if rev.strip() and not rev.startswith("-"):
        proc = _git(["rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}"], repo)
    if proc is None or proc.returncode != 0 or not proc.stdout.strip():
        raise RevisionError(
            f"unknown revision {rev!r}: not a branch, tag or commit of {repo}"
            " (see `git log --oneline` or `git branch -a`)"
        )
    commit = proc.stdout.strip()
    short = _git(["rev-parse", "--short", commit], repo).stdout.strip() or commit[:7]
    return Revision(name=rev, commit=commit, short=short)


def working_tree(repo: Path) -> Revision:
    """The working tree of ``repo`` as it is, uncommitted changes included."""
    from .git import git_state

    state = git_state(repo)
    commit = None
    if state.commit is not None:
        commit = _git(["rev-parse", "HEAD"], repo).stdout.strip() or None
    return Revision(
        name="working tree",
        commit=commit,
        short=state.commit or "",
        is_checkout=False,
        dirty=state.dirty,
    )


def relative_path(repo: Path, path: Path) -> Path:
    """``path`` (absolute or relative to the current directory) relative to ``repo``.

    Raises:
        RevisionError: ``path`` lies outside the repository.
    """
    absolute = Path(os.path.abspath(path))
    for candidate in (absolute, absolute.resolve()):
        with contextlib.suppress(ValueError):
            return candidate.relative_to(repo.resolve())
        with contextlib.suppress(ValueError):
            return candidate.relative_to(repo)
    raise RevisionError(
        f"{path}: outside the git repository {repo}; the benchmarks must be part of the project"
    )


def check_path(repo: Path, revision: Revision, rel: Path) -> None:
    """Check that ``rel`` (relative to the repository root) exists in ``revision``.

    Raises:
        RevisionError: it does not.
    """
    if not revision.is_checkout:
        exists = (repo / rel).exists()
    elif rel == Path("."):
        exists = True
    else:
        spec = f"{revision.commit}:{rel.as_posix()}"
        exists = _git(["cat-file", "-e", spec], repo).returncode == 0
    if not exists:
        raise RevisionError(
            f"{rel.as_posix()}: no such file or folder in {revision.label}; pass --path with the"
            " benchmarks' location as it is in both revisions"
        )


@dataclass(frozen=True)
class RevisionPair:
    """Two revisions of one repository, and where the benchmarks are in it."""

    repo: Path
    path: Path
    """The benchmarks (a folder or one file), relative to the repository root."""
    base: Revision
    head: Revision


def resolve_pair(path: Path, base: str, head: str | None) -> RevisionPair:
    """Resolve ``BASE [HEAD] --path PATH`` and check everything before anything is created.

    Args:
        path: the benchmarks, as given on the command line (relative to the current directory).
        base: the base revision.
        head: the head revision; ``None`` for the working tree as it is.

    Raises:
        RevisionError: not a git repository, an unknown revision, or ``path``
            missing from either side.
    """
    repo = find_repo(path)
    rel = relative_path(repo, path)
    base_rev = resolve(repo, base)
    head_rev = resolve(repo, head) if head is not None else working_tree(repo)
    check_path(repo, base_rev, rel)
    check_path(repo, head_rev, rel)
    return RevisionPair(repo=repo, path=rel, base=base_rev, head=head_rev)


# -- temporary worktrees ------------------------------------------------------------
def _temp_root() -> Path:
    """Where checkouts are made: the system's temporary directory (``TMPDIR``)."""
    return Path(tempfile.gettempdir())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    except OSError:
        return True
    try:  # a killed process its parent has not reaped yet is a zombie: gone all the same
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _is_stale(holder: Path) -> bool:
    """Is ``holder`` a checkout folder of a pybench process on this machine that is gone?"""
    match = _HOLDER.fullmatch(holder.name)
    if match is None:
        return False
    pid = int(match.group(1))
    try:
        owner = (holder / _OWNER).read_text().split()
    except OSError:
        owner = []
    if len(owner) >= 2 and owner[1] != socket.gethostname():
        return False  # a temporary folder shared with another machine: not ours to judge
    return pid != os.getpid() and not _pid_alive(pid)


def _listed_worktrees(repo: Path) -> list[Path]:
    proc = _git(["worktree", "list", "--porcelain"], repo)
    if proc.returncode != 0:
        return []
    return [
        Path(line.removeprefix("worktree "))
        for line in proc.stdout.splitlines()
        if line.startswith("worktree ")
    ]


def _remove_worktree(repo: Path, holder: Path, tree: Path) -> None:
    """Remove the checkout ``tree`` and its folder ``holder``; prune its entry if git kept one."""
    _git(["worktree", "remove", "--force", str(tree)], repo)
    shutil.rmtree(holder, ignore_errors=True)
    # `git worktree prune` forgets every worktree whose folder is missing, so it only
    # runs when ours is still registered (e.g. `remove` failed), not on every run.
    if tree in _listed_worktrees(repo):
        _git(["worktree", "prune"], repo)


def prune_stale(repo: Path) -> list[Path]:
    """Remove the checkouts left by pybench processes that were killed (their pid is gone).

    Looks at the worktrees registered in ``repo`` and at the ``pybench-rev-*``
    folders in the temporary directory. Checkouts of live pybench processes,
    and of processes on other machines, are left alone.

    Returns:
        The checkout folders removed.
    """
    removed: list[Path] = []
    for tree in _listed_worktrees(repo):
        if _is_stale(tree.parent):
            _remove_worktree(repo, tree.parent, tree)
            removed.append(tree.parent)
    with contextlib.suppress(OSError):
        for holder in _temp_root().glob(PREFIX + "*"):
            if holder not in removed and holder.is_dir() and _is_stale(holder):
                shutil.rmtree(holder, ignore_errors=True)
                if not holder.exists():
                    removed.append(holder)
    return removed


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Let clean-up finish before a Ctrl-C that arrives during it is raised."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


@contextlib.contextmanager
def checkout(repo: Path, revision: Revision) -> Iterator[Path]:
    """Check ``revision`` out into a temporary worktree; yield its root and remove it after.

    Uses ``git worktree add --detach`` (no branch is created or moved; the
    user's working tree, index and branches are not touched) into a folder
    ``<tmp>/pybench-rev-<pid>-<random>/<short hash>``, with git hooks disabled.
    The worktree is removed when the block ends, whether normally, by an
    exception or by Ctrl-C; checkouts left by a killed pybench are pruned
    first (:func:`prune_stale`). The working tree (``revision.is_checkout`` false)
    is yielded as it is.

    Raises:
        RevisionError: git could not create the worktree.
    """
    if not revision.is_checkout:
        yield repo
        return
    assert revision.commit is not None
    prune_stale(repo)
    holder = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-", dir=_temp_root())).resolve()
    tree = holder / (revision.short or revision.commit[:12])
    try:
        (holder / _OWNER).write_text(f"{os.getpid()} {socket.gethostname()}\n")
        proc = _git(
            [
                "-c",
                f"core.hooksPath={os.devnull}",
                "worktree",
                "add",
                "--detach",
                "--quiet",
                str(tree),
                revision.commit,
            ],
            repo,
        )
        if proc.returncode != 0:
            raise RevisionError(
                f"could not check out {revision.label} into {tree}: {_first_line(proc.stderr)}"
            )
        yield tree
    finally:
        with _interrupts_deferred():
            _remove_worktree(repo, holder, tree)


# -- importing a tree's code ------------------------------------------------------------------
def source_roots(tree: Path, path: Path) -> list[Path]:
    """The folders a tree's code is imported from, in ``sys.path`` order.

    The benchmarks' folder (``path`` if it is a folder, else its parent) comes
    first, as it does when pybench imports a benchmark file; then ``src/`` for a
    project with a src layout, otherwise the tree's root.

    Args:
        tree: the root of a checkout (or of the working tree).
        path: the benchmarks, relative to ``tree`` (or absolute inside it).
    """
    target = tree / path
    bench_folder = target if target.is_dir() else target.parent
    code = tree / "src" if (tree / "src").is_dir() else tree
    roots = [bench_folder]
    if code != bench_folder:
        roots.append(code)
    return roots


def _protected_names() -> set[str]:
    """Modules a tree must never take over: the standard library and pybench itself."""
    names = set(sys.builtin_module_names) | {__name__.partition(".")[0]}
    names |= set(getattr(sys, "stdlib_module_names", ()))
    return names


def _top_level_names(roots: Sequence[str]) -> set[str]:
    """Names of the packages (folders with ``__init__.py``) and modules directly under ``roots``."""
    suffixes = tuple(importlib.machinery.all_suffixes())
    names: set[str] = set()
    for root in roots:
        try:
            entries = list(os.scandir(root))
        except OSError:
            continue
        for entry in entries:
            if entry.is_dir():
                if os.path.isfile(os.path.join(entry.path, "__init__.py")):
                    names.add(entry.name)
            elif entry.name.endswith(suffixes):
                names.add(entry.name.split(".", 1)[0])
    protected = _protected_names()
    return {n for n in names if n.isidentifier() and not n.startswith("__") and n not in protected}


class _SourceFinder:
    """A ``sys.meta_path`` finder, put first, that imports the given names from the given roots.

    It outranks the import hooks some editable installs place in
    ``sys.meta_path``; a name or submodule not found under the roots falls
    through to the usual finders.
    """

    def __init__(self, roots: list[str], names: set[str]):
        self.roots = roots
        self.names = names

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in self.names:
            return None
        search = self.roots if "." not in fullname else path
        if search is None:
            return None
        return importlib.machinery.PathFinder.find_spec(fullname, list(search), target)

    def invalidate_caches(self) -> None:
        pass


def _imported_from(module: ModuleType | None, roots: Sequence[str]) -> bool:
    """Does ``module`` (a namespace package too) live under one of ``roots``?

    pybench's own benchmark modules (``_pybench_*``) are kept, as discovery keeps them.
    """
    if module is None or getattr(module, "__name__", "").startswith("_pybench_"):
        return False
    where = [getattr(module, "__file__", None) or ""]
    with contextlib.suppress(TypeError):
        where += list(getattr(module, "__path__", None) or ())
    prefixes = tuple(os.path.join(root, "") for root in roots)
    return any(isinstance(w, str) and w.startswith(prefixes) for w in where)


def shadow_imports(roots: Sequence[Path | str]) -> Callable[[], None]:
    """Make this process import the code under ``roots`` ahead of any other copy of it.

    ``roots`` go first on ``sys.path``; every package or module directly under
    them is forgotten if already imported and is from now on imported from
    ``roots`` by a finder placed first in ``sys.meta_path`` (so it also wins over
    the import hooks of editable installs). The standard library and pybench
    itself are never taken over.

    Returns:
        A function that undoes all of it, forgetting every module imported from
        ``roots`` meanwhile (used around discovery in the parent process;
        worker processes never undo it).
    """
    root_strs = [os.fspath(r) for r in roots]
    names = _top_level_names(root_strs)
    saved_path = list(sys.path)
    before = set(sys.modules)
    saved_modules = {k: m for k, m in sys.modules.items() if k.partition(".")[0] in names}
    for key in saved_modules:
        del sys.modules[key]
    sys.path[:] = root_strs + [p for p in sys.path if p not in root_strs]
    finder = _SourceFinder(root_strs, names)
    sys.meta_path.insert(0, finder)  # type: ignore[arg-type]
    importlib.invalidate_caches()

    def restore() -> None:
        with contextlib.suppress(ValueError):
            sys.meta_path.remove(finder)  # type: ignore[arg-type]
        for key in [
            k
            for k, module in list(sys.modules.items())
            if k.partition(".")[0] in names
            or (k not in before and _imported_from(module, root_strs))
        ]:
            del sys.modules[key]
        sys.modules.update(saved_modules)
        sys.path[:] = saved_path
        importlib.invalidate_caches()

    return restore


# -- the two sides ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Tree:
    """One side, checked out: where its files are and where its code is imported from."""

    revision: Revision
    root: Path
    path: Path
    """The benchmarks (folder or file) inside ``root``."""
    source_roots: tuple[Path, ...]
    repo: Path | None = None
    """The repository the checkout was made from."""

    def in_repo(self, path: Path) -> Path:
        """Where ``path``, a file of this tree, lies in the repository's own working tree.

        A checkout is removed when the command ends, so reports name a
        benchmark's file by this path (``benchmarks/bench_x.py`` in the project),
        whether or not the working tree still has it.
        """
        if self.repo is None:
            return path
        try:
            return self.repo / path.relative_to(self.root)
        except ValueError:
            return path


@contextlib.contextmanager
def open_tree(repo: Path, revision: Revision, path: Path) -> Iterator[Tree]:
    """:func:`checkout` ``revision`` and describe it as a :class:`Tree` (``path``: relative)."""
    with checkout(repo, revision) as root:
        yield Tree(
            revision=revision,
            root=root,
            path=root / path,
            source_roots=tuple(source_roots(root, path)),
            repo=repo,
        )


def discover_tree(tree: Tree) -> list[Benchmark]:
    """Discover the benchmarks of ``tree``, importing its code (not an installed copy).

    An empty benchmarks folder gives an empty list (every benchmark of the other
    side is then reported as present on one side only).

    Raises:
        DiscoveryError: a benchmark file of that tree fails to import, or its
            configuration is invalid; the message names the revision.
    """
    restore = shadow_imports(tree.source_roots)
    try:
        return discover(tree.path)
    except DiscoveryError as exc:
        if str(exc) == f"{tree.path}: no bench_* functions found":
            return []
        message = str(exc).replace(str(tree.root) + os.sep, "")
        raise DiscoveryError(f"in {tree.revision.label}: {message}") from exc
    finally:
        restore()


@dataclass(frozen=True)
class Pairing:
    """The benchmarks of the two sides, matched by name."""

    pairs: list[tuple[Benchmark, Benchmark]]
    """``(base, head)`` for each benchmark present on both sides, by name."""
    only_base: list[Benchmark]
    """Benchmarks removed by the head revision (reported GONE, not run)."""
    only_head: list[Benchmark]
    """Benchmarks added by the head revision (run on HEAD alone, reported NEW)."""


def pair_benchmarks(
    base: Sequence[Benchmark], head: Sequence[Benchmark], names: Sequence[str] = ()
) -> Pairing:
    """Match the two sides' benchmarks by name, keeping those in ``names`` (all when empty).

    Raises:
        DiscoveryError: a name in ``names`` (``bench_x`` or ``x``) is on neither side, or no
            benchmark is found on either side.
    """
    by_base = {b.name: b for b in base}
    by_head = {b.name: b for b in head}
    known = sorted(set(by_base) | set(by_head))
    if not known:
        raise DiscoveryError("no bench_* functions found in either revision")
    chosen = set(known)
    if names:
        chosen = set()
        for name in names:
            key = name if name in known else bench_name(name)
            if key not in known:
                raise DiscoveryError(
                    f"--bench {name}: no such benchmark in either revision"
                    f" (found: {', '.join(known)})"
                )
            chosen.add(key)
    ordered = sorted(chosen)
    return Pairing(
        pairs=[(by_base[n], by_head[n]) for n in ordered if n in by_base and n in by_head],
        only_base=[by_base[n] for n in ordered if n not in by_head],
        only_head=[by_head[n] for n in ordered if n not in by_base],
    )


@contextlib.contextmanager
def side_backend(
    tree: Tree,
    *,
    workers: int = 1,
    gpus: Sequence[int] | None = None,
    env: Sequence[str] = (),
) -> Iterator[ProcessBackend]:
    """Worker processes that import ``tree``'s code first; stopped when the block ends.

    Each side always runs in worker processes (never in this one), so the two
    revisions' modules of the same name never meet in one interpreter. ``env``
    names variables forwarded around each call, as with ``pybench run``.
    """
    from ..execution.backends import ProcessBackend, forwarded_env

    backend = ProcessBackend(
        workers=workers, gpus=gpus, sys_path=tree.source_roots, env=forwarded_env(env)
    )
    try:
        yield backend
    finally:
        backend.close()


class _Replay:
    """A back-end that hands back outcomes already computed (to reuse ``run_benchmark``)."""

    def __init__(self, outcomes: list[SeedOutcome]):
        self._outcomes = outcomes

    def map_seeds(self, bench: Benchmark, seeds: Sequence[int]) -> Iterator[SeedOutcome]:
        return iter(self._outcomes)

    def close(self) -> None:
        pass


def _slots_differ(base: Sequence[Slot], head: Sequence[Slot]) -> str:
    missing = sorted(set(base) - set(head))
    added = sorted(set(head) - set(base))
    parts = []
    if missing:
        parts.append("missing " + ", ".join(describe_slot(s) for s in missing[:3]))
    if added:
        parts.append("new " + ", ".join(describe_slot(s) for s in added[:3]))
    return "; ".join(parts)


def run_interleaved(
    base: Benchmark,
    head: Benchmark,
    seeds: Sequence[int],
    *,
    base_backend: Backend,
    head_backend: Backend,
    chunk: int = 1,
    labels: tuple[str, str] = ("base", "head"),
    on_seed_done: Callable[[], None] | None = None,
) -> tuple[RunResult, RunResult]:
    """Run one benchmark on both sides on the same seeds, alternating between the sides.

    Seeds go in blocks of ``chunk`` (the number of workers of a side): block 1
    on base, block 1 on head, block 2 on base, … — with ``chunk=1`` seed 0 on
    base, seed 0 on head, seed 1 on base, and so on. Drift in the machine's
    speed or load therefore hits both sides alike.

    Args:
        base, head: the benchmark as each side defines it (same name).
        seeds: the seeds, in the order of the result rows.
        base_backend, head_backend: where each side runs (see :func:`side_backend`).
        chunk: seeds per block; set it to the number of workers of a side.
        labels: how each side is named in errors (e.g. ``base main (1a2b3c4)``).
        on_seed_done: called after every seed of either side (``2 * len(seeds)`` calls).

    Returns:
        ``(base_result, head_result)``, rows in ``seeds`` order, same slots.

    Raises:
        BenchmarkError: a seed raised, returned a bad value or died on one side
            (the message names the side and the seed; the other side's
            remaining seeds are not run), a side's seeds disagree on their
            slots, or the two sides return different slots.
    """
    if chunk < 1:
        raise ValueError("chunk must be >= 1")
    sides = ((base, base_backend), (head, head_backend))
    outcomes: tuple[list[SeedOutcome], list[SeedOutcome]] = ([], [])
    for start in range(0, len(seeds), chunk):
        block = list(seeds[start : start + chunk])
        for side, (bench, backend) in enumerate(sides):
            stream = backend.map_seeds(bench, block)
            try:
                for outcome in stream:
                    if outcome.failure is not None:
                        raise BenchmarkError(
                            bench.name,
                            f"{labels[side]}: seed {outcome.seed} {outcome.failure.message}",
                            seed=outcome.seed,
                            detail=outcome.failure.traceback,
                        )
                    outcomes[side].append(replace(outcome, index=start + outcome.index))
                    if on_seed_done is not None:
                        on_seed_done()
            finally:
                close = getattr(stream, "close", None)
                if close is not None:
                    close()
    results = []
    for side, (bench, _) in enumerate(sides):
        try:
            results.append(run_benchmark(bench, seeds, backend=_Replay(outcomes[side])))
        except BenchmarkError as exc:
            raise BenchmarkError(
                bench.name, f"{labels[side]}: {exc}", seed=exc.seed, detail=exc.detail
            ) from exc
    base_result, head_result = results
    if base_result.slots != head_result.slots:
        raise BenchmarkError(
            head.name,
            f"{labels[1]} returns different slots from {labels[0]}"
            f" ({_slots_differ(base_result.slots, head_result.slots)});"
            " both revisions must return the same steps and metrics to be compared",
        )
    return base_result, head_result


def run_alone(
    bench: Benchmark,
    seeds: Sequence[int],
    *,
    backend: Backend,
    label: str = "head",
    on_seed_done: Callable[[], None] | None = None,
) -> RunResult:
    """Run a benchmark that only one side has, on that side alone (nothing to compare with).

    Its values must be finite all the same: once both revisions have the
    benchmark, this run's side will be compared against.

    Raises:
        BenchmarkError: as :func:`pybench.execution.evaluate.run_benchmark`, or a value is not
            finite; the message starts with ``label`` (e.g. ``head main (1a2b3c4)``).
    """
    try:
        result = run_benchmark(bench, seeds, backend=backend, on_seed_done=on_seed_done)
        check_finite(bench.name, result)
    except BenchmarkError as exc:
        message = str(exc).replace(
            "a baseline must be finite, fix the benchmark and re-run",
            "it must be finite to be compared once both revisions have it",
        )
        raise BenchmarkError(
            bench.name, f"{label}: {message}", seed=exc.seed, detail=exc.detail
        ) from exc
    return result


def as_baseline(name: str, result: RunResult, revision: Revision) -> BaselineRecord:
    """The base side's run as a baseline record, for :func:`pybench.judging.verdict.compare_run`.

    Nothing is written: the record only lives for the comparison.

    Raises:
        BenchmarkError: the base side returned NaN or ±inf (nothing to compare against).
    """
    from ..storage.store import BaselineRecord

    try:
        check_finite(name, result)
    except BenchmarkError as exc:
        message = str(exc).replace(
            "a baseline must be finite, fix the benchmark and re-run",
            "the base side must be finite to compare against",
        )
        raise BenchmarkError(name, f"base {revision.label}: {message}", seed=exc.seed) from exc
    return BaselineRecord.from_matrix(
        name,
        result.seeds,
        result.slots,
        result.values,
        git_commit=revision.short or None,
        git_dirty=revision.dirty if not revision.is_checkout else False,
    )
