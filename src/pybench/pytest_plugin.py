"""The pytest plugin: ``pytest --pybench`` runs each benchmark as a test item.

Registered through the ``pytest11`` entry point and inactive unless ``--pybench``
is given: then every ``bench_*`` function of the ``bench_*.py`` files under the
given paths (default: the ``pybench_paths`` ini option, else ``benchmarks``)
becomes one item, run through the same stage as the ``pybench`` command
(:func:`pybench.session.plan` and :func:`pybench.session.run`), so its verdict
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
import shlex
import sys
import warnings
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .backends import Pool
    from .discover import Benchmark
    from .session import Outcome
    from .store import BaselineRecord
    from .vcs import GitState

__all__ = ["BenchFile", "BenchItem", "PybenchWarning"]

BENCH_FILES = "bench_*.py"
"""The files the plugin collects benchmarks from."""

DEFAULT_PATHS = ("benchmarks",)
"""Where ``pytest --pybench`` looks when no path is given and ``pybench_paths`` is unset."""

_SETTING_FLAGS = {
    "n_seeds": "pybench_n_seeds",
    "alpha": "pybench_alpha",
    "min_effect": "pybench_min_effect",
    "workers": "pybench_workers",
    "gpus": "pybench_gpus",
    "env": "pybench_env",
    "adaptive": "pybench_adaptive",
    "timeout": "pybench_timeout",
    "check_determinism": "pybench_check_determinism",
    "rtol": "pybench_rtol",
}
"""Each overridable setting and the option (dest) that overrides it, as ``pybench``'s flags."""

_STASH: pytest.StashKey[_PybenchRun] = pytest.StashKey()


class PybenchWarning(UserWarning):
    """Something a benchmark's run noticed without failing it (a package version that
    differs on a Dask worker); pytest lists it in the warnings summary."""


# -- option values --------------------------------------------------------------
def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds > 0, got {text!r}")
    return value


def _int_at_least(low: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = low - 1
        if value < low:
            raise argparse.ArgumentTypeError(f"expected an int >= {low}, got {text!r}")
        return value

    return parse


def _alpha(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value <= 0.5:
        raise argparse.ArgumentTypeError(f"expected a number in (0, 0.5], got {text!r}")
    return value


def _rtol(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value <= 0.1:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 0.1], got {text!r}")
    return value


def _min_effect(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number >= 0 (e.g. 0.02), got {text!r}")
    return value


def _gpus(text: str) -> tuple[int, ...]:
    try:
        gpus = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        gpus = ()
    if not gpus or any(g < 0 for g in gpus):
        raise argparse.ArgumentTypeError(
            f"expected comma-separated GPU indices (e.g. 0,1), got {text!r}"
        )
    return gpus


def _env_name(text: str) -> str:
    from .settings import env_name_problem

    problem = env_name_problem(text)
    if problem is not None:
        raise argparse.ArgumentTypeError(f"{text!r} {problem}")
    return text


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("pybench", "pybench (seed-paired regression tests of noisy code)")
    group.addoption(
        "--pybench",
        action="store_true",
        help="Run the bench_* functions of bench_*.py files as tests, each judged against its "
        "stored baseline (paths default to the pybench_paths ini option, else benchmarks/).",
    )
    group.addoption(
        "--pybench-baseline",
        metavar="FILE",
        default=None,
        help="The baseline file (default: .pybench/baselines.jsonl in the nearest folder above "
        "the first path that has a .pybench/ folder, else at the root of its git repository, "
        "as `pybench` finds it).",
    )
    group.addoption(
        "--pybench-seed",
        type=_int_at_least(0),
        default=None,
        metavar="N",
        help="Make the sampling of new seeds reproducible [env: PYBENCH_SEED].",
    )
    group.addoption(
        "--pybench-alpha",
        type=_alpha,
        default=None,
        metavar="A",
        help="Significance level (overrides the 'alpha' keyword).",
    )
    group.addoption(
        "--pybench-min-effect",
        type=_min_effect,
        default=None,
        metavar="E",
        help="Only flag slots whose relative drop exceeds this, e.g. 0.02.",
    )
    group.addoption(
        "--pybench-rtol",
        type=_rtol,
        default=None,
        metavar="R",
        help="Differences within this fraction of a slot's largest value are ties "
        "(default 1e-12; overrides the 'rtol' keyword).",
    )
    group.addoption(
        "--pybench-n-seeds",
        type=_int_at_least(2),
        default=None,
        metavar="N",
        help="Seeds sampled for new baselines (overrides the 'n_seeds' keyword).",
    )
    group.addoption(
        "--pybench-workers",
        type=_int_at_least(1),
        default=None,
        metavar="N",
        help="Run seeds in N worker processes (overrides the 'workers' keyword).",
    )
    group.addoption(
        "--pybench-gpus",
        type=_gpus,
        default=None,
        metavar="0,1,...",
        help="One worker per listed GPU, each with its own CUDA_VISIBLE_DEVICES.",
    )
    group.addoption(
        "--pybench-dask",
        default=None,
        metavar="ADDRESS",
        help="Run seeds on a Dask scheduler at ADDRESS, or 'local:N' [env: PYBENCH_DASK].",
    )
    group.addoption(
        "--pybench-env",
        action="append",
        type=_env_name,
        default=None,
        metavar="NAME",
        help="Set this variable as it is here for each seed in a worker (repeatable; adds to "
        "the 'env' keyword; every PYBENCH_* variable is always forwarded).",
    )
    group.addoption(
        "--pybench-adaptive",
        action="store_true",
        default=None,
        help="Run the stored seeds in stages and stop once the verdict is clear "
        "(overrides the 'adaptive' keyword).",
    )
    group.addoption(
        "--pybench-timeout",
        type=_seconds,
        default=None,
        metavar="SECONDS",
        help="Stop a seed that runs longer; its benchmark is an ERROR (overrides 'timeout').",
    )
    group.addoption(
        "--pybench-check-determinism",
        dest="pybench_check_determinism",
        action="store_true",
        default=None,
        help="Run a new baseline's first seed twice and warn if it differs (the default).",
    )
    group.addoption(
        "--pybench-no-check-determinism",
        dest="pybench_check_determinism",
        action="store_false",
        default=None,
        help="Do not run a new baseline's first seed twice (overrides 'check_determinism').",
    )
    group.addoption(
        "--pybench-strict",
        action="store_true",
        help="A benchmark without a stored baseline fails instead of making one; nothing is "
        "saved [env: PYBENCH_STRICT=1].",
    )
    group.addoption(
        "--pybench-update",
        action="store_true",
        help="Re-run the selected benchmarks on fresh seeds and overwrite their baselines.",
    )
    group.addoption(
        "--pybench-yes", action="store_true", help="Answer yes to every pybench prompt."
    )
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
        given = [
            "--" + dest.replace("_", "-")
            for dest in (*_SETTING_FLAGS.values(), "pybench_baseline", "pybench_seed")
            if config.getoption(dest) is not None
        ]
        given += [
            "--" + dest.replace("_", "-")
            for dest in ("pybench_update", "pybench_yes", "pybench_dask", "pybench_strict")
            if config.getoption(dest)
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
        from .errors import PybenchError
        from .run import _user_traceback

        run = self.config.stash[_STASH]
        try:
            benchmarks = run.benchmarks_in(self.path)
        except PybenchError as exc:
            detail = _user_traceback(exc.__cause__) if exc.__cause__ else ""
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
        """Its :class:`pybench.session.Outcome` once it has run (for ``conftest.py``
        hooks such as ``pytest_runtest_makereport``)."""
        self.add_marker("pybench")
        for mark in getattr(bench.func, "pytestmark", []):  # @pytest.mark.* on the function
            self.add_marker(getattr(pytest.mark, mark.name).with_args(*mark.args, **mark.kwargs))

    def reportinfo(self) -> tuple[Path, int, str]:
        """The benchmark's file, the (0-based) line of its ``def``, and its name."""
        return self.path, self.bench.func.__code__.co_firstlineno - 1, self.name

    def runtest(self) -> None:
        """Run the benchmark; a FAIL or ERROR raises, a NEW is kept to be saved."""
        from .reports.text import details, status_word
        from .session import Status

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
        from .errors import PybenchError
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
def _display(path: Path) -> str:
    from .reports.text import display_path

    return display_path(path)


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "t", "yes", "y", "on"}


class _PybenchRun:
    """The state of one ``pytest --pybench`` session, registered as a plugin."""

    def __init__(self, config: pytest.Config):
        self.config = config
        self.update: bool = config.getoption("pybench_update")
        self.yes: bool = config.getoption("pybench_yes")
        self.overrides = {key: config.getoption(dest) for key, dest in _SETTING_FLAGS.items()}
        if self.overrides["env"] is not None:  # appended option values come as a list
            self.overrides["env"] = tuple(self.overrides["env"])
        self.base_seed = self._env_seed(config.getoption("pybench_seed"))
        self.dask: str | None = config.getoption("pybench_dask") or os.environ.get("PYBENCH_DASK")
        if self.dask and self.overrides["gpus"]:
            raise pytest.UsageError(
                "--pybench-gpus cannot be combined with --pybench-dask; give each Dask worker "
                "its own GPU instead"
            )
        self.strict: bool = config.getoption("pybench_strict") or _env_flag("PYBENCH_STRICT")
        self.records: dict[str, BaselineRecord] | None = None
        self._load_error = ""
        self.git: GitState | None = None
        self.pending: dict[str, BaselineRecord] = {}
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
        from .store import find_baseline

        if self.baseline_option:
            return self.config.invocation_params.dir / self.baseline_option
        return Path.cwd() / find_baseline(self.root)  # pytest has not changed directory yet

    def update_command(self, bench: Benchmark) -> str:
        """The ``pybench update`` command that hints name for ``bench``'s file and baseline."""
        words = ["pybench", "update", _display(bench.path)]
        if self.baseline_option:
            words += ["--baseline", self.baseline_shown]
        return shlex.join(words)

    @staticmethod
    def _env_seed(given: int | None) -> int | None:
        text = os.environ.get("PYBENCH_SEED")
        if given is not None or not text:
            return given
        try:
            return _int_at_least(0)(text)
        except argparse.ArgumentTypeError as exc:
            raise pytest.UsageError(f"PYBENCH_SEED: {exc}") from None

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
        from .discover import DiscoveryError, benchmarks_in

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
        from .errors import PybenchError
        from .store import load

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
        from .errors import PybenchError

        items = [item for item in session.items if isinstance(item, BenchItem)]
        if not items or self.config.option.collectonly:
            return
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
        from .prompts import confirm, dirty_warning, interactive
        from .vcs import git_state

        state = git_state(self.root, ignore=self.baseline)
        on_terminal = interactive()
        if overwriting and not self.yes:
            names = ", ".join(overwriting)
            if not on_terminal:
                raise pytest.UsageError(
                    f"--pybench-update would overwrite the stored baseline of {names}; "
                    "pass --pybench-yes to confirm (there is no terminal to ask on)"
                )
            if not confirm(f"Overwrite the stored baseline of {names}?"):
                raise pytest.UsageError("aborted; nothing was saved")
        if state.dirty:
            self._write(f"pybench: warning: {dirty_warning(state)}", yellow=True)
            if on_terminal and not self.yes and not confirm("Save baselines from a dirty tree?"):
                raise pytest.UsageError(
                    "aborted; nothing was saved (commit your changes, or pass --pybench-yes)"
                )
        return state

    def _write(self, line: str, **markup: bool) -> None:
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(line, **markup)
        else:
            print(line, file=sys.stderr)

    # -- running ------------------------------------------------------------------
    def judge(self, bench: Benchmark) -> Outcome:
        """Plan and run one benchmark through the run stage, as ``pybench`` would."""
        from . import session

        jobs = session.plan(
            [bench],
            self._load(),
            self.overrides,
            update=self.update,
            base_seed=self.base_seed,
            strict=self.strict,
            baseline_file=self.baseline_shown,
            update_command=self.update_command(bench),
        )
        [outcome] = session.run(jobs, pool=self._open_pool(), git=self.git)
        return outcome

    def _open_pool(self) -> Pool:
        """The session's one back-end pool, opened before the first benchmark runs."""
        from . import backends

        if self._pool is None:
            self._pool = self._stack.enter_context(backends.open_pool(dask=self.dask))
        return self._pool

    def keep(self, outcome: Outcome) -> None:
        """Hold a NEW outcome's record until the session ends."""
        assert outcome.record is not None
        self.pending[outcome.name] = outcome.record

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        """Close the back-ends and save every new baseline in one locked, atomic write."""
        from .errors import PybenchError
        from .store import save

        self._stack.close()
        if not self.pending:
            return
        try:
            save(self.baseline, [self.pending[name] for name in sorted(self.pending)])
        except PybenchError as exc:
            self.save_error = str(exc)
            if session.exitstatus == pytest.ExitCode.OK:
                session.exitstatus = pytest.ExitCode.TESTS_FAILED
        else:
            self.saved = sorted(self.pending)

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
