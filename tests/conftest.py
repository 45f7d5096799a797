"""Shared fixtures: write benchmark files into a temporary project and drive the CLI."""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from pybench.cli import main

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
