"""Code sources: where a benchmark's code comes from.

A :class:`CodeSource` is the working tree as it is (``pybench run``) or a git
revision checked out in a temporary worktree (each side of ``pybench
compare``), with the folders its code is imported from. The engine runs every
job against one source, or against two paired seed for seed.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..core.benchmark import Benchmark, bench_name
from ..core.provenance import Revision
from .discover import DiscoveryError, NothingFoundError, discover
from .shadow import shadow_imports, source_roots
from .worktrees import checkout

__all__ = [
    "WORKING_TREE",
    "CodeSource",
    "Pairing",
    "discover_tree",
    "open_tree",
    "pair_benchmarks",
]


@dataclass(frozen=True)
class CodeSource:
    """Where a benchmark's code comes from.

    The working tree of ``pybench run`` (:data:`WORKING_TREE`: imported in this
    process as discovery imports it), or one side of ``pybench compare``: a
    revision checked out at ``root``, whose seeds always run in worker
    processes that import the code under ``source_roots`` first, so the two
    revisions' modules never meet in one interpreter.
    """

    revision: Revision | None = None
    """The revision (``None``: the working tree of a run)."""
    side: str | None = None
    """``"base"`` or ``"head"`` for a side of a comparison."""
    root: Path | None = None
    """The checkout's root folder (``None`` for the working tree of a run)."""
    path: Path | None = None
    """The benchmarks (folder or file) inside ``root``."""
    source_roots: tuple[Path, ...] = ()
    """Folders whose code the workers import ahead of any installed copy."""
    repo: Path | None = None
    """The repository the checkout was made from."""
    files_root: Path | None = None
    """The root of the tree the benchmark files come from, when not ``root``
    (``--bench-from``: the working tree, or a checkout of another revision)."""

    @property
    def isolated(self) -> bool:
        """Whether seeds must run in worker processes importing this source's code."""
        return self.revision is not None

    @property
    def label(self) -> str | None:
        """How errors name the side (``base main (1a2b3c4)``); ``None`` for a run."""
        if self.revision is None:
            return None
        return f"{self.side} {self.revision.label}" if self.side else self.revision.label

    def in_repo(self, path: Path) -> Path:
        """Where ``path``, a file of this source, lies in the repository's own working tree.

        A checkout is removed when the command ends, so reports name a
        benchmark's file by this path (``benchmarks/bench_x.py`` in the project),
        whether or not the working tree still has it.
        """
        if self.repo is None or self.root is None:
            return path
        try:
            return self.repo / path.relative_to(self.files_root or self.root)
        except ValueError:
            return path


WORKING_TREE = CodeSource()
"""The code of ``pybench run``: the files as they are, imported where pybench runs."""


@contextlib.contextmanager
def open_tree(
    repo: Path, revision: Revision, path: Path, side: str, files: Path | None = None
) -> Iterator[CodeSource]:
    """:func:`checkout` ``revision``: one side of a comparison (``path``: relative).

    With ``files`` (the root of another tree: ``--bench-from``) the benchmark files are
    ``files / path``, run against this revision's code.
    """
    with checkout(repo, revision) as root:
        bench = files / path if files is not None else None
        yield CodeSource(
            revision=revision,
            side=side,
            root=root,
            path=bench if bench is not None else root / path,
            source_roots=tuple(source_roots(root, path, bench)),
            repo=repo,
            files_root=files,
        )


def discover_tree(tree: CodeSource) -> list[Benchmark]:
    """Discover the benchmarks of ``tree``, importing its code (not an installed copy).

    An empty benchmarks folder gives an empty list (every benchmark of the other
    side is then reported as present on one side only).

    Raises:
        DiscoveryError: a benchmark file of that tree fails to import, or its
            configuration is invalid; the message names the revision.
    """
    assert tree.path is not None and tree.root is not None and tree.revision is not None
    root = tree.files_root or tree.root

    def shown(path: Path) -> str:
        with contextlib.suppress(ValueError):
            return str(path.relative_to(root))
        return str(path)

    restore = shadow_imports(tree.source_roots)
    try:
        return discover(tree.path, shown=shown)
    except NothingFoundError:
        return []
    except DiscoveryError as exc:
        raise DiscoveryError(f"in {tree.revision.label}: {exc}") from exc
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
