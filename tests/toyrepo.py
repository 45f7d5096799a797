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
