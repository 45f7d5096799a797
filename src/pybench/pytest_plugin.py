"""The pytest plugin: ``pytest --pybench`` runs each benchmark as a test item.

Registered through the ``pytest11`` entry point and inactive unless ``--pybench``
is given: then every ``bench_*`` function of the ``bench_*.py`` files under the
given paths (default: the ``pybench_paths`` ini option, else ``benchmarks``)
becomes one item, run through the same stage as the ``pybench`` command
(:func:`pybench.engine.plan.plan` and :func:`pybench.engine.loop.run`), so its verdict
is the command's. New baselines are saved once, when the session ends.

Loading this module costs a pytest run nothing: it imports only pytest and the
standard library; pybench's stages (numpy, rich) are imported when
``--pybench`` is given.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import os
import sys
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .core.benchmark import Benchmark
    from .core.provenance import GitState
    from .engine.outcome import Outcome
    from .execution.backends import Pool
    from .storage.store import BaselineRecord

__all__ = ["BenchFile", "BenchItem", "PybenchWarning"]

BENCH_FILES = "bench_*.py"
"""The files the plugin collects benchmarks from."""

DEFAULT_PATHS = ("benchmarks",)
"""Where ``pytest --pybench`` looks when no path is given and ``pybench_paths`` is unset."""

_STASH: pytest.StashKey[_PybenchRun] = pytest.StashKey()


class PybenchWarning(UserWarning):
    """Something a benchmark's run noticed without failing it (a package version that
    differs on a Dask worker); pytest lists it in the warnings summary."""


# -- options: rendered from the settings table ------------------------------------
def _argparse_type(setting: Any) -> Callable[[str], Any]:
    """An argparse ``type`` that reads the option's text as its row says."""

    def parse(text: str) -> Any:
        try:
            return setting.accepts.parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return parse


def _add(group: Any, setting: Any) -> None:
    """Add the ``--pybench-*`` option of one row of the settings table."""
    kwargs: dict[str, Any] = {"dest": setting.pytest_dest, "help": setting.help}
    if setting.accepts.kind != "bool":
        action = "append" if setting.accepts.kind == "names" else "store"
        kwargs.update(type=_argparse_type(setting), metavar=setting.pytest_metavar, default=None)
        group.addoption(setting.pytest_flag, action=action, **kwargs)
    elif setting.negative:
        group.addoption(setting.pytest_flag, action="store_true", default=None, **kwargs)
        negative = {**kwargs, "help": f"Turn {setting.pytest_flag} off."}
        group.addoption(setting.pytest_negative, action="store_false", default=None, **negative)
    else:
        default = None if setting.keyword else False
        group.addoption(setting.pytest_flag, action="store_true", default=default, **kwargs)


def pytest_addoption(parser: pytest.Parser) -> None:
    from .core.settings import TABLE

    group = parser.getgroup("pybench", "pybench (seed-paired regression tests of noisy code)")
    group.addoption(
        "--pybench",
        action="store_true",
        help="Run the bench_* functions of bench_*.py files as tests, each judged against its "
        "stored baseline (paths default to the pybench_paths ini option, else benchmarks/).",
    )
    for setting in TABLE:
        if setting.pytest:
            _add(group, setting)
    parser.addini(
        "pybench_paths",
        type="paths",
        default=[],
        help="Where `pytest --pybench` looks for bench_*.py files when no path is given "
        "(default: benchmarks).",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "pybench: a pybench benchmark (collected with --pybench)")
    if not config.getoption("pybench"):
        from .core.settings import TABLE

        given = [
            setting.pytest_flag
            for setting in TABLE
            if setting.pytest and config.getoption(setting.pytest_dest) not in (None, False)
        ]
        if given:
            raise pytest.UsageError(f"{given[0]} only applies with --pybench; add --pybench")
        return
    run = _PybenchRun(config)
    config.stash[_STASH] = run
    config.pluginmanager.register(run, "pybench-run")


# -- collection -------------------------------------------------------------------
class BenchFile(pytest.File):
    """A ``bench_*.py`` file: imported the way ``pybench`` imports it (fresh, no bytecode)."""

    def collect(self) -> Iterator[BenchItem]:
        """One item per benchmark the file defines; an import failure shows the user's traceback."""
        from .core.errors import PybenchError
        from .core.tracebacks import user_traceback

        run = self.config.stash[_STASH]
        try:
            benchmarks = run.benchmarks_in(self.path)
        except PybenchError as exc:
            detail = user_traceback(exc.__cause__) if exc.__cause__ else ""
            raise self.CollectError(f"{exc}\n\n{detail}" if detail else str(exc)) from None
        for bench in benchmarks:
            yield BenchItem.from_parent(self, name=bench.name, bench=bench)


class _Crash:
    """Where and why an item failed, in the shape pytest's summaries read (``reprcrash``)."""

    def __init__(self, path: str, lineno: int, message: str):
        self.path = path
        self.lineno = lineno
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}:{self.lineno}: {self.message}"


class _BenchRepr:
    """A benchmark's failure text: pybench's own lines, not a traceback of pybench."""

    def __init__(self, lines: list[str], crash: _Crash):
        self.lines = lines
        self.reprcrash = crash

    def toterminal(self, tw: Any) -> None:
        for number, line in enumerate(self.lines):
            tw.line(line, red=number == 0, bold=number == 0)

    def __str__(self) -> str:
        return "\n".join(self.lines)


class _Verdict(Exception):
    """A benchmark that ended in FAIL or ERROR; :meth:`BenchItem.repr_failure` renders it."""

    def __init__(self, outcome: Outcome):
        super().__init__(outcome.status.value)
        self.outcome = outcome


class BenchItem(pytest.Item):
    """One benchmark, judged against its baseline when run."""

    def __init__(self, *, bench: Benchmark, **kwargs: Any):
        super().__init__(**kwargs)
        self.bench = bench
        """The benchmark."""
        self.outcome: Outcome | None = None
        """Its :class:`pybench.engine.outcome.Outcome` once it has run (for ``conftest.py``
        hooks such as ``pytest_runtest_makereport``)."""
        self.add_marker("pybench")
        for mark in getattr(bench.func, "pytestmark", []):  # @pytest.mark.* on the function
            self.add_marker(getattr(pytest.mark, mark.name).with_args(*mark.args, **mark.kwargs))

    def reportinfo(self) -> tuple[Path, int, str]:
        """The benchmark's file, the (0-based) line of its ``def``, and its name."""
        return self.path, self.bench.func.__code__.co_firstlineno - 1, self.name

    def runtest(self) -> None:
        """Run the benchmark; a FAIL or ERROR raises, a NEW is kept to be saved."""
        from .engine.outcome import Status
        from .reports.text import details, status_word

        run = self.config.stash[_STASH]
        outcome = self.outcome = run.judge(self.bench)
        self.user_properties.append(("pybench_status", outcome.status.value))
        if outcome.comparison is not None and outcome.comparison.meta_p is not None:
            self.user_properties.append(("pybench_meta_p", f"{outcome.comparison.meta_p:.6g}"))
        for mismatch in outcome.version_mismatches:
            warnings.warn(PybenchWarning(f"{self.name}: {mismatch}"), stacklevel=1)
        if outcome.cluster is not None and outcome.cluster.log:
            self.add_report_section("call", "dask log", "\n".join(outcome.cluster.log))
        if outcome.status in (Status.FAIL, Status.ERROR):
            raise _Verdict(outcome)
        notes = _notes(outcome, run.update_command(self.bench))
        lines = [f"{self.name} {status_word(outcome)} {details(outcome)}", *notes]
        if outcome.status is Status.NEW:
            run.keep(outcome)
            lines.append(
                f"{len(outcome.seeds)} seeds; written to {run.baseline_shown} at session end"
            )
        self.add_report_section("call", "pybench", "\n".join(lines))

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        """The benchmark's line and its slot table or traceback; pybench's errors in one line."""
        from .core.errors import PybenchError
        from .reports.terminal import format_flips, format_table
        from .reports.text import details

        exc = excinfo.value
        if isinstance(exc, _Verdict):
            outcome = exc.outcome
            head = f"{outcome.status.value} {details(outcome)}"
            if outcome.error is not None:
                more = outcome.error.traceback.splitlines()
            else:
                assert outcome.comparison is not None
                flips = format_flips(outcome.comparison)
                table = format_table(outcome.comparison, outcome.settings.alpha)
                more = [*table, *([flips] if flips else [])]
            brief = self.config.option.tbstyle in ("line", "no")
            lines = [head] if brief or not more else [head, "", *more]
            lines += _notes(outcome, self.config.stash[_STASH].update_command(self.bench))
        elif isinstance(exc, PybenchError):
            head = str(exc)
            lines = [head]
        else:  # a bug in pybench: show everything
            return super().repr_failure(excinfo, style)
        path, lineno, _ = self.reportinfo()
        return _BenchRepr(lines, _Crash(str(path), lineno + 1, head))


def _notes(outcome: Outcome, update: str) -> list[str]:
    """The lines the command prints under a benchmark's verdict: improvement, rescheduling."""
    from .reports.text import improvement

    notes = []
    note = improvement(outcome, f"{update} --bench {outcome.name}")
    if note is not None:
        notes.append(note)
    if outcome.cluster is not None and outcome.cluster.rescheduled:
        n = outcome.cluster.rescheduled
        notes.append(
            f"note: {n} seed{'s' if n != 1 else ''} rescheduled after a Dask worker was lost"
        )
    return notes


# -- the session ------------------------------------------------------------------
def _given_or_env(config: pytest.Config, name: str) -> Any:
    """The option's value, else its environment variable's (read as the command line reads it)."""
    from .core.settings import row

    setting = row(name)
    given = config.getoption(setting.pytest_dest)
    return given if given not in (None, False) else setting.from_env(os.environ)


def _display(path: Path) -> str:
    from .reports.text import display_path

    return display_path(path)


class _PybenchRun:
    """The state of one ``pytest --pybench`` session, registered as a plugin."""

    def __init__(self, config: pytest.Config):
        self.config = config
        from .app.policy import PYTEST_FLAGS, check_backends
        from .core.errors import PybenchError
        from .core.settings import KEYWORDS, row

        self.update: bool = config.getoption("pybench_update")
        self.yes: bool = config.getoption("pybench_yes")
        self.overrides = {key: config.getoption(row(key).pytest_dest) for key in KEYWORDS}
        if self.overrides["env"] is not None:  # appended option values come as a list
            self.overrides["env"] = tuple(self.overrides["env"])
        try:
            self.overrides["equivalence"] = _given_or_env(config, "equivalence")
            self.alpha_scope = _given_or_env(config, "alpha_scope") or "benchmark"
            self.base_seed = _given_or_env(config, "seed")
            self.dask: str | None = _given_or_env(config, "dask")
            self.strict: bool = bool(_given_or_env(config, "strict"))
            confirm = bool(config.getoption("pybench_confirm"))
            check_backends(self.dask, self.overrides["gpus"], PYTEST_FLAGS, confirm=confirm)
        except PybenchError as exc:
            raise pytest.UsageError(str(exc)) from None
        self.records: dict[str, BaselineRecord] | None = None
        self._load_error = ""
        self.git: GitState | None = None
        self.pending: dict[str, BaselineRecord] = {}
        self.outcomes: list[Outcome] = []
        self.benches: list[Benchmark] = []
        """The collected benchmarks (``--pybench-alpha-scope run`` judges them together)."""
        self.family: dict[str, Outcome] | None = None
        self.saved: list[str] = []
        self.save_error = ""
        self._names: dict[str, Path] = {}
        self._pool: Pool | None = None
        self._stack = contextlib.ExitStack()
        if config.args_source is not pytest.Config.ArgsSource.ARGS:
            config.args = self._default_paths()
            config.args_source = pytest.Config.ArgsSource.ARGS
        self.root = self._first_path()
        self.baseline_option: str | None = config.getoption("pybench_baseline")
        self.baseline = self._baseline()
        self.baseline_shown = _display(self.baseline)

    def _first_path(self) -> Path:
        """The folder of the first path pytest collects from (``pybench``'s PATH)."""
        first = self.config.invocation_params.dir / self.config.args[0].split("::")[0]
        return first if first.is_dir() else first.parent

    def _baseline(self) -> Path:
        """``--pybench-baseline``, or the file ``pybench`` would find from the first path."""
        from .storage.store import find_baseline

        if self.baseline_option:
            return self.config.invocation_params.dir / self.baseline_option
        return Path.cwd() / find_baseline(self.root)  # pytest has not changed directory yet

    def update_command(self, bench: Benchmark) -> str:
        """The ``pybench update`` command that hints name for ``bench``'s file and baseline."""
        from .app.policy import update_command

        baseline = Path(self.baseline_shown) if self.baseline_option else None
        return update_command(Path(_display(bench.path)), baseline)

    def _default_paths(self) -> list[str]:
        configured = self.config.getini("pybench_paths")
        where = self.config.invocation_params.dir
        paths = configured or [where / p for p in DEFAULT_PATHS]
        missing = [p for p in paths if not Path(p).exists()]
        if missing:
            origin = "pybench_paths" if configured else "the default benchmarks folder"
            raise pytest.UsageError(
                f"{missing[0]}: no such folder ({origin}); pass the folder holding your "
                "bench_*.py files (pytest --pybench PATH) or set pybench_paths in your pytest "
                "configuration"
            )
        return [str(p) for p in paths]

    # -- collection ---------------------------------------------------------------
    @pytest.hookimpl(wrapper=True)
    def pytest_collect_file(
        self, file_path: Path, parent: pytest.Collector
    ) -> Generator[None, list[pytest.Collector], list[pytest.Collector]]:
        collectors = yield
        if not fnmatch.fnmatch(file_path.name, BENCH_FILES):
            return collectors
        # A benchmark file named on the command line would also be imported as a test
        # module; pybench imports it its own way (fresh, no bytecode) instead.
        kept = [c for c in collectors if not isinstance(c, pytest.Module)]
        return [*kept, BenchFile.from_parent(parent, path=file_path)]

    def benchmarks_in(self, path: Path) -> list[Benchmark]:
        """The benchmarks of one file; a name already collected from another file is an error."""
        from .sources.discover import DiscoveryError, benchmarks_in

        found = benchmarks_in(path)
        for bench in found:
            other = self._names.setdefault(bench.name, bench.path)
            if other != bench.path:
                raise DiscoveryError(
                    f"{bench.name}: defined in both {other} and {bench.path}; rename one of them"
                    " (baselines are stored by name)"
                )
        return found

    def _load(self) -> dict[str, BaselineRecord]:
        """The stored records, read once (by the header, or before the first benchmark).

        Raises:
            pytest.UsageError: the file cannot be read.
        """
        from .core.errors import PybenchError
        from .storage.store import load

        if self.records is None and not self._load_error:
            try:
                self.records = load(self.baseline)
            except PybenchError as exc:
                self._load_error = str(exc)
        if self.records is None:
            raise pytest.UsageError(self._load_error)
        return self.records

    def pytest_report_header(self) -> str:
        """Which baseline file the session reads, as ``pybench`` prints it."""
        try:
            n = len(self._load())
        except pytest.UsageError:
            state = "unreadable"  # the error itself comes before the first benchmark runs
        else:
            exists = self.baseline.exists()
            state = f"{n} record{'s' * (n != 1)}" if exists else "not created yet"
        return f"pybench: baseline {self.baseline_shown} ({state})"

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Settle, before anything runs, what may be written; open the back-ends."""
        from .core.errors import PybenchError

        items = [item for item in session.items if isinstance(item, BenchItem)]
        if not items or self.config.option.collectonly:
            return
        self.benches = [item.bench for item in items]
        records = self._load()
        fresh = [
            i.name for i in items if self.update or (i.name not in records and not self.strict)
        ]
        if fresh:
            with self._real_stdin():
                self.git = self._guard_write([name for name in fresh if name in records])
        try:
            self._open_pool()
        except PybenchError as exc:  # a bad --pybench-dask address, a missing extra
            raise pytest.UsageError(str(exc)) from None

    @contextlib.contextmanager
    def _real_stdin(self) -> Iterator[None]:
        """Give the terminal's stdin back while asking, as pytest's debugger does."""
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if capture is None:
            yield
            return
        capture.suspend_global_capture(in_=True)
        try:
            yield
        finally:
            capture.resume_global_capture()
            capture.suspend_global_capture()

    def _guard_write(self, overwriting: list[str]) -> GitState:
        """Confirm overwrites and warn about a dirty tree, as ``pybench`` does."""
        from .app.policy import PYTEST_FLAGS, UsageError, guard_write
        from .sources.git import git_state

        state = git_state(self.root, ignore=self.baseline)

        def warn(message: str) -> None:
            self._write(f"pybench: warning: {message}", yellow=True)

        try:
            guard_write(state, self.yes, overwriting, flags=PYTEST_FLAGS, warn=warn)
        except UsageError as exc:
            raise pytest.UsageError(str(exc)) from None
        return state

    def _write(self, line: str, **markup: bool) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, **markup)
        else:
            print(line, file=sys.stderr)

    # -- running ------------------------------------------------------------------
    def judge(self, bench: Benchmark) -> Outcome:
        """Plan and run one benchmark through the run loop, as ``pybench`` would.

        Under ``--pybench-alpha-scope run`` the first call judges every collected
        benchmark as one family (Holm's step-down) and the others read its outcomes.
        """
        if self.alpha_scope != "run" or self.update or bench not in self.benches:
            outcome = self._judged([bench])[0]
        else:
            if self.family is None:
                self.family = {o.name: o for o in self._judged(self.benches)}
            outcome = self.family[bench.name]
        self.outcomes.append(outcome)
        return outcome

    def _judged(self, benches: list[Benchmark]) -> list[Outcome]:
        """Plan and run ``benches`` in the run loop (one family under ``alpha_scope`` run)."""
        from .app import family
        from .app.confirm import Confirmer
        from .engine import loop
        from .engine.plan import plan

        jobs = [
            job
            for bench in benches
            for job in plan(
                [bench],
                self._load(),
                self.overrides,
                update=self.update,
                base_seed=self.base_seed,
                strict=self.strict,
                baseline_file=self.baseline_shown,
                update_command=self.update_command(bench),
            )
        ]
        pool = self._open_pool()
        confirm = Confirmer(pool) if self.config.getoption("pybench_confirm") else None
        if self.alpha_scope != "run" or self.update:
            return list(loop.run(jobs, pool=pool, git=self.git, confirm=confirm))
        alpha = family.family_alpha(jobs, self.overrides["alpha"])
        jobs = family.prepare(jobs, alpha)
        planned = sum(family.takes_part(job) for job in jobs)
        outcomes = loop.run(jobs, pool=pool, git=self.git, confirm=confirm)
        return family.adjust(outcomes, alpha, planned)

    def _open_pool(self) -> Pool:
        """The session's one back-end pool, opened before the first benchmark runs."""
        from .execution.backends import open_pool

        if self._pool is None:
            self._pool = self._stack.enter_context(open_pool(dask=self.dask))
        return self._pool

    def keep(self, outcome: Outcome) -> None:
        """Hold a NEW outcome's record until the session ends."""
        assert outcome.record is not None
        self.pending[outcome.name] = outcome.record

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Close the back-ends and save every new baseline in one locked, atomic write."""
        from .core.errors import PybenchError
        from .storage.store import save

        self._stack.close()
        if not self.pending:
            self._record()
            return
        try:
            save(self.baseline, [self.pending[name] for name in sorted(self.pending)])
        except PybenchError as exc:
            self.save_error = str(exc)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            self.saved = sorted(self.pending)
        self._record()

    def _record(self) -> None:
        """Append the session's outcomes to the history (a failure is a warning)."""
        if self.config.getoption("pybench_no_history") or not self.outcomes:
            return
        from .history import record_run
        from .reports import RunInfo

        def warn(message: str) -> None:
            self._write(f"pybench: warning: {message}", yellow=True)

        info = RunInfo(command="pytest", path=self.root, baseline=self.baseline, git=self.git)
        record_run(self.outcomes, info, self.config.getoption("pybench_history"), warn=warn)

    def pytest_unconfigure(self) -> None:
        self._stack.close()

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        if self.saved:
            verb = "updated" if self.update else "saved"
            terminalreporter.write_line(
                f"pybench: {verb} the baselines of {', '.join(self.saved)} in {self.baseline_shown}"
            )
        if self.save_error:
            terminalreporter.write_line(f"pybench: error: {self.save_error}", red=True)

    def pytest_report_teststatus(self, report: pytest.TestReport) -> Any:
        """``NEW`` (or ``SAVED`` with ``--pybench-update``) for a passed benchmark in ``-v``."""
        if report.when != "call" or not report.passed:
            return None
        status = dict(report.user_properties).get("pybench_status")
        if status != "NEW":
            return None
        return "passed", ".", ("SAVED" if self.update else "NEW", {"cyan": True})
