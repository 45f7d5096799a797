"""A small git repository for the revision tests: a src-layout package and its benchmark."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

PACKAGE = '''\
"""A toy package whose result the benchmark reports."""


def value(seed: int) -> float:
    return (seed % 97) / 10.0
'''
NOOP = PACKAGE.replace('"""A toy', '# Reworded comment only.\n"""A toy')
REGRESSION = PACKAGE.replace("return (seed % 97) / 10.0", "return (seed % 97) / 10.0 - 1.0")
BENCH = """\
import toypkg


def bench_toy(seed, *, n_seeds=6):
    return {"value": toypkg.value(seed), "min:cost": 1.0 + seed % 3}
"""
DECOY = "def value(seed):\n    return 1000.0\n"


def expected(seed: int) -> float:
    """What the base revision's ``toypkg.value`` returns."""
    return (seed % 97) / 10.0


def git(repo: Path, *args: str) -> str:
    """Run git in ``repo`` with no user or system configuration; its output, stripped."""
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_AUTHOR_NAME": "Test",
        "GIT_AUTHOR_EMAIL": "test@example.com",
        "GIT_COMMITTER_NAME": "Test",
        "GIT_COMMITTER_EMAIL": "test@example.com",
    }
    proc = subprocess.run(
        ["git", *args], cwd=repo, env=env, capture_output=True, text=True, check=True
    )
    return proc.stdout.strip()


def commit_package(repo: Path, source: str, message: str) -> str:
    """Commit ``source`` as ``toypkg``; the new commit's hash."""
    (repo / "src" / "toypkg" / "__init__.py").write_text(source)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


@dataclass(frozen=True)
class ToyRepo:
    """The repository and its commits (``main`` is at ``regression``, ``v1`` tags ``base``)."""

    root: Path
    base: str
    noop: str
    regression: str


def build_toy_repo(root: Path) -> ToyRepo:
    """Three commits: base, a no-op change, a regression inside the package."""
    (root / "src" / "toypkg").mkdir(parents=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "bench_toy.py").write_text(BENCH)
    git(root, "init", "-q", "-b", "main")
    base = commit_package(root, PACKAGE, "base")
    git(root, "tag", "v1")
    noop = commit_package(root, NOOP, "reword a comment")
    regression = commit_package(root, REGRESSION, "make it worse")
    return ToyRepo(root, base, noop, regression)


def worktrees(root: Path) -> list[str]:
    """The worktrees git knows for ``root``, the main one first."""
    return [
        line.removeprefix("worktree ")
        for line in git(root, "worktree", "list", "--porcelain").splitlines()
        if line.startswith("worktree ")
    ]


# -- a flat-layout project: the package at the repository's root, nothing installed --------
FLAT = '''\
"""A flat-layout package: its folder sits at the repository's root."""


def value(seed: int) -> float:
    return (seed % 97) / 10.0
'''
FLAT_BENCH = """\
import flatpkg


def bench_flat(seed, *, n_seeds=8):
    return {"value": flatpkg.value(seed)}
"""


def commit_flat(repo: Path, source: str, message: str) -> str:
    """Commit ``source`` as ``flatpkg/__init__.py``; the new commit's hash."""
    (repo / "flatpkg" / "__init__.py").write_text(source)
    git(repo, "add", "flatpkg")
    git(repo, "commit", "-q", "-m", message)
    return git(repo, "rev-parse", "HEAD")


def build_flat_repo(
    root: Path, n_commits: int = 9, bad_at: int | None = None, broken_at: int | None = None
) -> list[str]:
    """``n_commits`` commits of ``flatpkg`` (commit 1 tagged ``good``), each a reworded comment,
    except commit ``bad_at`` (1-based), which lowers every value for good, and commit
    ``broken_at``, whose package fails to import (fixed by the next commit). The benchmark
    ``benchmarks/bench_flat.py`` is written but never committed. The hashes, oldest first."""
    (root / "flatpkg").mkdir(parents=True)
    (root / "benchmarks").mkdir()
    (root / "benchmarks" / "bench_flat.py").write_text(FLAT_BENCH)
    git(root, "init", "-q", "-b", "main")
    hashes = []
    source = FLAT
    for number in range(1, n_commits + 1):
        if number == bad_at:
            source = source.replace("/ 10.0", "/ 10.0 - 1.0")
        text = f"# revision {number}\n{source}"
        if number == broken_at:
            text = "import flatpkg_missing_dependency\n" + text
        hashes.append(commit_flat(root, text, f"change {number}"))
        if number == 1:
            git(root, "tag", "good")
    return hashes
