"""Shared fixtures: write benchmark files into a temporary project and drive the CLI."""

from __future__ import annotations

import dataclasses
import math
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import settings

from pybench.cli import main
from pybench.core.benchmark import Benchmark
from pybench.core.provenance import GitState, Revision
from pybench.core.settings import Settings
from pybench.engine import loop
from pybench.engine import outcome as results
from pybench.engine import plan as planning
from pybench.engine.outcome import Outcome
from pybench.execution.backends import Pool
from pybench.reports import RunInfo
from pybench.sources import worktrees
from tests.toyrepo import ToyRepo, build_toy_repo

REPO = Path(__file__).resolve().parent.parent
SYNTHETIC = REPO / "examples" / "synthetic" / "benchmarks"

# No per-example deadline: on a loaded machine one example paused for a moment fails the test
# ("Unreliable test timings"), and the deadline also sets HealthCheck.too_slow's limit (5x the
# deadline, at least 1 s of drawing). Without it that limit is 30 s. A test's own @settings
# keep this unless they name a deadline themselves.
settings.register_profile("pybench", deadline=None)
settings.load_profile("pybench")


@pytest.fixture(autouse=True)
def _no_history_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``PYBENCH_HISTORY`` set where the tests run (a team's database) is never written to."""
    monkeypatch.delenv("PYBENCH_HISTORY", raising=False)


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
        "PYBENCH_STRICT",
        "GITHUB_STEP_SUMMARY",
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
    monkeypatch.setattr(worktrees, "_temp_root", lambda: root)
    return root


@pytest.fixture
def toy_repo(tmp_path: Path, temp_root: Path) -> ToyRepo:
    """A src-layout git project with three commits: base (``v1``), a no-op, a regression."""
    return build_toy_repo(tmp_path / "toy")


# -- outcomes for the report tests ---------------------------------------------
NASTY_METRIC = "acc|top<1> & `x` *y* [z]"
"""A metric name holding every character Markdown, HTML or XML could read as structure."""

NASTY_MESSAGE = "line one\nline | two <b> & ]]> `tick` \x1b[31mred\x00"
"""An exception message with newlines, pipes, markup, a CDATA end and XML-forbidden characters."""


@dataclass
class Zoo:
    """One outcome of each kind from a real run: PASS, FAIL, FAIL by divergence, ERROR, NEW."""

    outcomes: list[Outcome]
    info: RunInfo

    def by_name(self, name: str) -> Outcome:
        return next(o for o in self.outcomes if o.name == name)


@pytest.fixture
def zoo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Zoo:
    """Run five benchmarks twice through the session (baseline, then a changed run)."""
    monkeypatch.chdir(tmp_path)
    changed = {"on": False}

    def steady(seed: int) -> dict:
        return {NASTY_METRIC: 0.5 + (seed % 7) / 100}

    def regressing(seed: int) -> list[dict]:
        value = 0.5 + (seed % 7) / 100 - (0.2 + (seed % 3) / 100 if changed["on"] else 0.0)
        return [{"step": 1, NASTY_METRIC: value}, {"step": 2, "min:loss": 1.0 - value}]

    def diverging(seed: int) -> dict:
        value = 0.5 + (seed % 7) / 100
        return {"acc": math.nan if changed["on"] and seed % 2 else value, "speed": 1.0 + seed % 3}

    def raising(seed: int) -> float:
        if changed["on"]:
            raise ValueError(NASTY_MESSAGE)
        return 1.0 + seed % 5

    path = tmp_path / "benchmarks" / "sub" / "bench_zoo.py"

    def bench(name: str, func: Callable) -> Benchmark:
        return Benchmark(name, path, func, Settings(n_seeds=8))

    first = [
        bench("bench_pass", steady),
        bench("bench_fail", regressing),
        bench("bench_diverged", diverging),
        bench("bench_error", raising),
    ]
    made = loop.run(planning.plan(first, {}, {}, base_seed=1), pool=Pool())
    records = {o.name: o.record for o in made}
    changed["on"] = True
    second = [*first, bench("bench_new", steady)]
    outcomes = loop.run(planning.plan(second, records, {}, base_seed=2), pool=Pool())
    info = RunInfo(
        command="run",
        path=tmp_path / "benchmarks",
        baseline=tmp_path / ".pybench" / "baselines.jsonl",
        n_records=len(records),
        git=GitState("abc1234", True),
        started="2026-06-25T14:26:16Z",
        elapsed=1.5,
    )
    return Zoo(outcomes, info)


@pytest.fixture
def compare_zoo(zoo: Zoo) -> Zoo:
    """The zoo as ``pybench compare`` reports it: ``main`` against the dirty working tree,
    ``bench_new`` only in HEAD (NEW, nothing saved) and a ``bench_gone`` only in BASE."""
    bench = Benchmark("bench_gone", zoo.outcomes[0].bench.path, float, Settings(n_seeds=8))
    gone = Outcome(results.Status.GONE, bench, bench.defaults, (), note=results.ONLY_IN_BASE)
    new = dataclasses.replace(zoo.by_name("bench_new"), record=None, note=results.ONLY_IN_HEAD)
    outcomes = [new if o.name == "bench_new" else o for o in zoo.outcomes] + [gone]
    base = Revision("main", "a" * 40, "aaaaaaa")
    head = Revision("working tree", "b" * 40, "bbbbbbb", is_checkout=False, dirty=True)
    info = dataclasses.replace(
        zoo.info,
        command="compare",
        baseline=None,
        n_records=0,
        revisions=(base, head),
        git=GitState("bbbbbbb", True),
    )
    return Zoo(outcomes, info)
