"""Shared fixtures: write benchmark files into a temporary project and drive the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pybench import revisions
from pybench.cli import main
from tests.toyrepo import ToyRepo, build_toy_repo

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "examples" / "synthetic" / "benchmarks"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty project folder as the working directory, with a ``benchmarks/`` folder."""
    (tmp_path / "benchmarks").mkdir()
    monkeypatch.chdir(tmp_path)
    for var in (
        "PYBENCH_SEED",
        "PYBENCH_DASK",
        "PYBENCH_SYNTHETIC_REGRESS",
        "PYBENCH_SYNTHETIC_RESAMPLE",
    ):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


@pytest.fixture
def write_bench(project: Path) -> Callable[..., Path]:
    """Write ``source`` (dedented) to ``benchmarks/<name>`` and return its path."""

    def write(source: str, name: str = "bench_test.py") -> Path:
        path = project / "benchmarks" / name
        path.write_text(textwrap.dedent(source))
        return path

    return write


@pytest.fixture
def cli() -> Callable[..., Result]:
    """Invoke ``pybench`` in-process with the given arguments (stdin is not a terminal)."""

    def invoke(*args: str, input: str | None = None) -> Result:
        return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)

    return invoke


@pytest.fixture
def temp_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Checkouts of revisions go here instead of the system's temporary directory."""
    root = tmp_path / "tmp"
    root.mkdir()
    monkeypatch.setattr(revisions, "_temp_root", lambda: root)
    return root


@pytest.fixture
def toy_repo(tmp_path: Path, temp_root: Path) -> ToyRepo:
    """A src-layout git project with three commits: base (``v1``), a no-op, a regression."""
    return build_toy_repo(tmp_path / "toy")
