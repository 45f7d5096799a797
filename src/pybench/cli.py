"""The command line: parse options, wire the stages, map errors to exit codes.

Heavy modules (numpy, rich) are imported inside the commands so that
``pybench --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import functools
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__
from .app.policy import DEFAULT_PATH, Interrupted, UsageError
from .core.errors import EXIT_ERROR, EXIT_OK, PybenchError
from .core.settings import KEYWORDS, row
from .history import cli as history_cli

if TYPE_CHECKING:
    from .engine.outcome import Outcome
    from .engine.plan import Job
    from .execution.backends import EarlyWorkers
    from .reports import RunInfo
    from .reports.terminal import Reporter
    from .sources.revisions import RevisionPair
    from .storage.journal import Journal


class _DefaultGroup(click.Group):
    """A group whose default command is ``run``: ``pybench [PATH]`` means ``pybench run [PATH]``."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Like click's, but every error is one ``error: ...`` line with its exit code.

        This is the one place where pybench's errors, click's usage errors and
        Ctrl-C become messages and exit codes; commands return their exit code.
        """
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
        from .app.exits import internal_error, leave, verbose_in
        from .app.policy import interrupted_word
        from .execution import interrupts

        given = kwargs.get("args") or (args[0] if args else None)
        argv = sys.argv[1:] if given is None else given
        with interrupts.terminating():  # SIGTERM and SIGHUP clean up as Ctrl-C does
            try:
                code = super().main(*args, standalone_mode=False, **kwargs)  # type: ignore[call-overload]
                code = code if isinstance(code, int) else EXIT_OK
            except click.ClickException as exc:
                hint = ""
                if isinstance(exc, click.UsageError) and exc.ctx is not None:
                    hint = f" (see `{exc.ctx.command_path} --help`)"
                click.echo(f"error: {exc.format_message()}{hint}", err=True)
                code = exc.exit_code
            except Interrupted as exc:
                click.echo(str(exc), err=True)
                code = exc.exit_code
            except PybenchError as exc:
                click.echo(f"error: {exc}", err=True)
                code = exc.exit_code
            except click.exceptions.Abort:  # click turns Ctrl-C into Abort (after a newline)
                click.echo(f"{interrupted_word()}: nothing was saved", err=True)
                code = interrupts.exit_code()
            except Exception as exc:  # pybench's own bug: one line, exit 3
                echo = lambda text: click.echo(text, err=True)  # noqa: E731
                code = internal_error(exc, verbose=verbose_in(list(argv)), echo=echo)
        leave(code, hard=given is None)  # a run ends when its benchmarks end, threads or not

    def format_options(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The group's options and commands, then the options of ``run`` (the default command)."""
        super().format_options(ctx, formatter)
        run = self.commands.get("run")
        if run is None:
            return
        rows = [
            record
            for param in run.get_params(ctx)
            if isinstance(param, click.Option)
            and "--help" not in param.opts
            and (record := param.get_help_record(ctx)) is not None
        ]
        with formatter.section("Run options (pybench [PATH] is short for pybench run [PATH])"):
            formatter.write_dl(rows)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["run", *args]
        return super().parse_args(ctx, args)


# -- options: rendered from the settings table ----------------------------------
def _click_type(name: str) -> Any:
    accepts = row(name).accepts
    if accepts.kind == "int":
        return click.IntRange(None if accepts.low is None else int(accepts.low))
    if accepts.kind == "float":  # whole bounds as ints: the help shows [x>=0], not [x>=0.0]
        low, high = (
            int(v) if v is not None and float(v).is_integer() else v
            for v in (accepts.low, accepts.high)
        )
        return click.FloatRange(low, high, min_open=accepts.low_open, max_open=accepts.high_open)
    if accepts.kind == "choice":
        return click.Choice(list(accepts.choices))
    if accepts.kind == "path":
        return click.Path(dir_okay=False, path_type=Path)
    return None


def _parsed(name: str) -> Callable[[click.Context, click.Parameter, Any], Any]:
    """A click callback reading the option's text as its row says (``--gpus``, ``--env``)."""

    def callback(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
        if value is None:
            return None
        texts = value if isinstance(value, tuple) else (value,)
        try:
            parsed = tuple(row(name).accepts.parse(text) for text in texts)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        return parsed if isinstance(value, tuple) else parsed[0]

    return callback


def _option(name: str, **extra: Any) -> Callable[[Any], Any]:
    """The click option of ``name``'s row in :data:`pybench.core.settings.TABLE`."""
    setting = row(name)
    flag = f"{setting.flag}/{setting.negative}" if setting.negative else setting.flag
    decls = [*([setting.short] if setting.short else []), flag, name]
    kwargs: dict[str, Any] = {"help": setting.help, "envvar": setting.env}
    kind = setting.accepts.kind
    if kind == "bool":
        kwargs["default"] = None if setting.keyword else setting.default
        if not setting.negative:
            kwargs["is_flag"] = True
    else:
        kwargs.update(type=_click_type(name), default=setting.default, metavar=setting.metavar)
    if kind in ("gpus", "names"):
        kwargs["callback"] = _parsed(name)
    if kind == "names" or name == "benches":
        kwargs["multiple"] = True
    if kind == "choice":
        kwargs["show_default"] = True
    return click.option(*decls, **{**kwargs, **extra})


_REPORTS = ["json_path", "junit_path", "markdown_path", "html_path"]
_WHERE = ["seed", "workers", "gpus", "dask", "env"]
"""How seeds are drawn and where they run."""
_CAPTURE = ["capture", "no_capture"]
_HISTORY = ["history", "no_history"]
_RUN_OPTIONS = [
    "benches",
    "baseline",
    "yes",
    *_WHERE,
    "dask_timeout",
    "timeout",
    "resume",
    "check_determinism",
    *_CAPTURE,
    "verbose",
    *_REPORTS,
    *_HISTORY,
]
"""The options shared by the commands that run benchmarks against the baseline file."""

_LOCAL = [name for name in _WHERE if name != "dask"]
"""Where seeds run when each revision runs in local workers importing its checkout."""
_COMPARE_OPTIONS = [
    "benches",
    "verbose",
    "alpha",
    "min_effect",
    "equivalence",
    "rtol",
    "n_seeds",
    *_LOCAL,
    *_REPORTS,
    "timeout",
    "resume",
    "adaptive",
    *_CAPTURE,
    *_HISTORY,
]
"""The options of ``pybench compare`` (its own run: no baseline file, no prompts)."""


def _apply(names: Sequence[str]) -> Callable[[Any], Any]:
    """A decorator applying the options of ``names`` to a command, in the order given."""

    def decorate(func: Any) -> Any:
        for name in reversed(names):
            func = _option(name)(func)
        return func

    return decorate


_bench_from = click.option(
    "--bench-from",
    metavar="worktree|REV",
    help="Run the benchmark files of the working tree (worktree) or of REV on both sides,"
    " each against its own code [default: each revision's own files].",
)
_path_argument = click.argument(
    "path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path)
)


# -- the pipeline ------------------------------------------------------------
def _run_jobs(
    planned: _Planned, options: dict[str, Any], reporter: Reporter, info: RunInfo
) -> list[Outcome]:
    """Run the jobs, saving each new baseline as its benchmark finishes."""
    from .app.confirm import Confirmer
    from .app.runs import Saving
    from .engine import loop
    from .execution.backends import open_pool

    on_event = Saving(info.baseline, reporter)
    journal = planned.journal
    try:
        with open_pool(
            dask=options["dask"],
            dask_timeout=options["dask_timeout"],
            capture=_capture(options),
            early=planned.early,
        ) as pool:
            return loop.run(
                planned.jobs,
                pool=pool,
                git=info.git,
                on_event=on_event,
                journal=journal,
                not_collected=planned.not_collected,
                confirm=Confirmer(pool) if options.get("confirm") else None,
                save=on_event.save,
            )
    except KeyboardInterrupt:
        raise on_event.interrupted(journal) from None
    finally:
        reporter.close()


def _capture(options: dict[str, Any]) -> bool:
    return bool(options["capture"] == "fd" and not options["no_capture"])


def _update_command(options: dict[str, Any]) -> str:
    from .app.policy import update_command

    return update_command(options["path"], options["baseline"])


@dataclasses.dataclass(frozen=True)
class _Planned:
    """What :func:`_plan` found: the jobs, what could not be collected, the journal."""

    jobs: list[Job]
    not_collected: list[Any]
    journal: Journal
    early: EarlyWorkers | None = None
    """Workers started before the imports (:class:`~pybench.execution.backends.EarlyWorkers`)."""


def _plan(
    options: dict[str, Any],
    records: dict[str, Any],
    info: RunInfo,
    update: bool,
    early: EarlyWorkers,
) -> _Planned:
    """The jobs of the benchmarks chosen under PATH, with this run's hints and strictness."""
    from .app.policy import CLI_FLAGS, absolute, check_backends
    from .app.runs import journal_for
    from .engine.plan import plan
    from .execution.evaluate import guarded_import
    from .reports.text import display_path
    from .sources.discover import collect, files_to_import

    overrides = {key: options.get(key) for key in SETTING_OPTIONS}
    check_backends(
        options["dask"], overrides["gpus"], CLI_FLAGS, confirm=bool(options.get("confirm"))
    )
    root = absolute(options["path"])
    if not options["dask"]:  # workers import the files while this process does (below)
        files = files_to_import(root, options["benches"])
        where = {"workers": overrides["workers"], "gpus": overrides["gpus"]}
        early.start(files, **where, capture=_capture(options))
    # import output is captured too, and an os._exit() in an import is refused
    quiet = functools.partial(guarded_import, _capture(options))
    found = collect(root, options["benches"], shown=display_path, quiet=quiet)
    assert info.baseline is not None
    journal = journal_for(info.baseline)
    jobs = plan(
        found.benchmarks,
        records,
        overrides,
        update=update,
        base_seed=options["seed"],
        strict=info.strict,
        baseline_file=display_path(info.baseline),
        update_command=_update_command(options),
        journal=journal,
        resume=options["resume"],
    )
    return _Planned(jobs, list(found.errors), journal, early)


def _session(
    options: dict[str, Any], info: RunInfo, update: bool, early: EarlyWorkers
) -> tuple[list[Outcome], RunInfo]:
    """Load the baseline → plan → guard writes → run → terminal report."""
    from .app.policy import CLI_FLAGS, absolute, guard_write, records_note
    from .reports import baseline_fields
    from .reports.terminal import Reporter
    from .reports.text import display_path
    from .sources.git import git_state
    from .storage import store

    started = time.perf_counter()  # the time reported includes discovery and imports
    baseline = info.baseline
    assert baseline is not None
    folder = absolute(_folder(info.path))  # where git is asked, whatever the imports do
    # a record that cannot be used is an ERROR of its own (named as the user sees the file)
    records = store.read(Path(display_path(baseline)))
    info = dataclasses.replace(info, **baseline_fields(records))
    planned = _plan(options, records, info, update, early)
    family = _family(options, planned, update)
    jobs = planned.jobs
    reporter = Reporter(
        verbose=options["verbose"],
        names=[job.bench.name for job in jobs],
        to_stderr="-" in (options[key] for key in REPORT_OPTIONS),
        update_command=_update_command(options),
        deferred=family is not None,
    )
    reporter.note(records_note(display_path(baseline), baseline.exists(), len(records)))
    for problem in records.unnamed:  # lines that name no benchmark: kept as they are
        reporter.warn(problem)
    fresh = [job.bench.name for job in jobs if job.makes_baseline]
    if fresh or _wants_reports(options):
        info = dataclasses.replace(info, git=git_state(folder, ignore=baseline))
    if fresh:
        assert info.git is not None
        overwriting = [n for n in fresh if n in records]
        guard_write(info.git, options["yes"], overwriting, flags=CLI_FLAGS, warn=reporter.warn)
    outcomes = _run_jobs(planned, options, reporter, info)
    if family is not None:
        outcomes = _adjusted(outcomes, family, reporter)
    elapsed = time.perf_counter() - started
    reporter.summary(outcomes, elapsed, update=update)
    return outcomes, dataclasses.replace(info, elapsed=elapsed)


def _family(options: dict[str, Any], planned: _Planned, update: bool) -> tuple[float, int] | None:
    """``--alpha-scope run``: size the jobs' budgets; the run's alpha and judged jobs."""
    if options.get("alpha_scope") != "run" or update:
        return None
    from .app import family

    alpha = family.family_alpha(planned.jobs, options.get("alpha"))
    planned.jobs[:] = family.prepare(planned.jobs, alpha)
    return alpha, sum(family.takes_part(job) for job in planned.jobs)


def _adjusted(
    outcomes: list[Outcome], family: tuple[float, int], reporter: Any
) -> list[Outcome]:
    """Holm's step-down over the run's verdicts, then every benchmark's line."""
    from .app.family import adjust

    outcomes = adjust(outcomes, *family)
    for outcome in outcomes:
        reporter.outcome(outcome)
    return outcomes


def _folder(path: Path) -> Path:
    """``path`` if it is a folder, else the folder holding it."""
    return path if path.is_dir() else path.parent


def _wants_reports(options: dict[str, Any]) -> bool:
    """Whether any machine-readable report will be written (they record the git state)."""
    from .reports import STEP_SUMMARY_ENV

    given = any(options[key] is not None for key in REPORT_OPTIONS)
    return given or bool(os.environ.get(STEP_SUMMARY_ENV))


_T = TypeVar("_T")


def _reporting_errors(options: dict[str, Any], info: RunInfo, stage: Callable[[], _T]) -> _T:
    """Run ``stage``; an error that stops it is written to the reports (``error`` set), then
    raised as usual. Ctrl-C writes nothing."""
    from .app.policy import anchor_reports
    from .reports import preflight, write_all

    # checked as the user wrote them, then made absolute before any user code can change
    # the directory
    preflight({key: options[key] for key in REPORT_OPTIONS}, baseline=info.baseline)
    anchor_reports(options, REPORT_OPTIONS)
    try:
        return stage()
    except Interrupted:
        raise
    except PybenchError as exc:
        reports = {key: options[key] for key in REPORT_OPTIONS}
        write_all([], dataclasses.replace(info, error=str(exc)), **reports)
        raise


def _finish(options: dict[str, Any], outcomes: Sequence[Outcome], info: RunInfo) -> int:
    """Write the machine-readable reports; the exit code."""
    from .engine.outcome import exit_code
    from .reports import write_all

    history_cli.record(options, outcomes, info)
    write_all(outcomes, info, **{key: options[key] for key in REPORT_OPTIONS})
    return exit_code(outcomes)


def _execute(options: dict[str, Any], *, update: bool = False) -> int:
    """Run the session, then write the machine-readable reports; return the exit code.

    An error that stops the run before any verdict is still written to the
    reports (a document with ``error`` set), then reported as usual.
    """
    from .app.policy import absolute
    from .execution.backends import early_workers
    from .reports import RunInfo
    from .storage import store

    info = RunInfo(
        command="update" if update else "run",
        path=options["path"],
        baseline=absolute(options["baseline"] or store.find_baseline(options["path"])),
        strict=bool(options.get("strict")),
    )
    with early_workers() as early:  # stopped here if the run ends before the pool took them
        outcomes, info = _reporting_errors(
            options, info, lambda: _session(options, info, update, early)
        )
    return _finish(options, outcomes, info)


def _resolve_revisions(options: dict[str, Any]) -> RevisionPair:
    """Resolve BASE, HEAD, ``--path`` and ``--bench-from``."""
    from .sources.revisions import resolve_pair

    return resolve_pair(options["path"], options["base"], options["head"], options["bench_from"])


def _compare(options: dict[str, Any]) -> int:
    """Resolve both revisions → run them (:func:`_compare_session`) → reports → exit code.

    As for a run, an error that stops the command before any verdict is still
    written to the reports.
    """
    from .core.provenance import GitState
    from .reports import RunInfo

    info = RunInfo(command="compare", path=options["path"], baseline=None)
    pair = _reporting_errors(options, info, lambda: _resolve_revisions(options))
    head = pair.head
    info = dataclasses.replace(
        info,
        revisions=(pair.base, head),
        bench_from=pair.bench,
        git=GitState(head.short or None, bool(head.dirty) and not head.is_checkout),
    )
    outcomes, info = _reporting_errors(options, info, lambda: _compare_session(options, pair, info))
    return _finish(options, outcomes, info)


def _compare_session(
    options: dict[str, Any], pair: RevisionPair, info: RunInfo
) -> tuple[list[Outcome], RunInfo]:
    """Check out both revisions → discover → plan → run in the one loop → terminal report."""
    from .app.runs import Saving, compare_journal, compare_revisions, compared_sources
    from .execution.backends import open_pool
    from .reports.terminal import Reporter

    overrides = {key: options.get(key) for key in SETTING_OPTIONS}
    to_stderr = "-" in (options[key] for key in REPORT_OPTIONS)
    reporter = Reporter(verbose=options["verbose"], to_stderr=to_stderr, update_command=None)
    journal = compare_journal(pair.repo)
    started = time.perf_counter()

    def on_jobs(jobs: list[Job]) -> Reporter:
        """A reporter that knows the benchmarks' names, before anything runs."""
        nonlocal reporter, started
        names = [job.bench.name for job in jobs]
        reporter = Reporter(
            verbose=options["verbose"], names=names, to_stderr=to_stderr, update_command=None
        )
        reporter.revisions(pair.base.label, pair.head.label)
        started = time.perf_counter()
        return reporter

    tracker = Saving(None, lambda event: reporter(event))
    try:
        with compared_sources(pair) as sources, open_pool(capture=_capture(options)) as pool:
            outcomes = compare_revisions(
                sources,
                options["benches"],
                overrides,
                pool=pool,
                base_seed=options["seed"],
                journal=journal,
                resume=options["resume"],
                on_jobs=lambda jobs: on_jobs(jobs) and tracker,
            )
    except KeyboardInterrupt:
        raise tracker.interrupted(journal) from None
    finally:
        reporter.close()
    elapsed = time.perf_counter() - started
    reporter.summary(outcomes, elapsed, command="compare")
    return outcomes, dataclasses.replace(info, elapsed=elapsed)


def _bisect(options: dict[str, Any]) -> int:
    """Resolve GOOD, BAD and the commits → one comparison per step → the first bad commit."""
    import json

    from rich.markup import escape

    from .app.culprit import document, ending, find_culprit, heading, prepare, step_line
    from .app.policy import interrupted
    from .core.errors import EXIT_ERROR
    from .reports import write_text
    from .reports.sanitize import clean
    from .reports.terminal import Reporter

    search = prepare(*(options[k] for k in ("path", "good", "bad", "bench", "bench_from")))
    reporter = Reporter(
        verbose=options["verbose"],
        names=[search.bench],
        to_stderr=options["json_path"] == "-",
        update_command=None,
    )
    reporter.out.print(escape(clean(heading(search))))

    def on_step(number: int, position: int, commit: Any) -> Reporter:
        line = step_line(number, position, len(search.commits), commit)
        reporter.out.print(escape(clean(line)))
        return reporter

    def on_done(step: Any) -> None:
        if step.outcome is None:
            reporter.out.print(f"  skipped: {escape(clean(step.reason))}")

    overrides = {key: options.get(key) for key in SETTING_OPTIONS}
    try:
        culprit = find_culprit(
            search,
            overrides,
            base_seed=options["seed"],
            on_step=on_step,
            on_done=on_done,
            capture=_capture(options),
        )
    except KeyboardInterrupt:
        raise interrupted([]) from None
    finally:
        reporter.close()
    for line in ending(culprit):
        reporter.out.print(escape(clean(line)))
    code = EXIT_OK if culprit.first_bad is not None else EXIT_ERROR
    if options["json_path"]:
        text = json.dumps(document(culprit, code), indent=2) + "\n"
        write_text(options["json_path"], text, what="JSON report")
    return code


SETTING_OPTIONS = KEYWORDS
"""The command-line options that override a benchmark's keyword settings."""

REPORT_OPTIONS = tuple(_REPORTS)
"""The command-line options naming machine-readable reports (:func:`pybench.reports.write_all`)."""


# -- commands ----------------------------------------------------------------
@click.group("pybench", cls=_DefaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pybench")
def main() -> None:
    """pybench: pytest for noisy code.

    Runs every bench_*(seed) function under PATH on many seeds, compares each
    with its stored baseline seed-for-seed, and exits 1 on a regression.
    `pybench [PATH]` is short for `pybench run [PATH]`.

    Exit codes: 0 no regression, 1 a benchmark failed, 2 an error prevented a
    verdict, 3 an internal error in pybench, 130 interrupted (143 SIGTERM, 129 SIGHUP).
    """


@main.command("run")
@_path_argument
@_apply(
    [
        *_RUN_OPTIONS, "alpha", "min_effect", "equivalence", "rtol", "strict", "adaptive",
        "confirm", "alpha_scope",
    ]  # fmt: skip
)
def run_command(**options: Any) -> int:
    """Compare each benchmark with its baseline (PASS/FAIL); save new ones (NEW)."""
    return _execute(options)


@main.command("update")
@_path_argument
@_apply([*_RUN_OPTIONS, "n_seeds"])
def update_command(**options: Any) -> int:
    """Re-run benchmarks on fresh seeds and overwrite their baselines."""
    return _execute(options, update=True)


@main.command("plan")
@_path_argument
@_apply(["benches", "baseline"])
@click.option(
    "--effect",
    type=click.FloatRange(0, min_open=True),
    default=0.02,
    show_default=True,
    help="The relative drop to plan for (0.02 = 2%).",
)
@click.option(
    "--power",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.8,
    show_default=True,
    help="The wanted probability of detecting it.",
)
@click.option(
    "--json",
    "json_path",
    default=None,
    help="Write the plans by simulation of the verdict as JSON to this file ('-': stdout only).",
)
@click.option(
    "--margin",
    type=click.FloatRange(0, min_open=True),
    default=None,
    help="Also: the seeds an --equivalence gate of this margin needs to PASS an unchanged run.",
)
def plan_command(
    path: Path,
    benches: tuple[str, ...],
    baseline: Path | None,
    effect: float,
    power: float,
    json_path: str | None = None,
    margin: float | None = None,
) -> int:
    """From the stored baselines' noise: the drop each slot detects, and the seeds a drop needs."""
    from . import stats
    from .judging import planning
    from .reports.terminal import PLAN_ASSUMPTION, Reporter
    from .sources.discover import discover, select
    from .storage import store

    baseline = baseline or store.find_baseline(path)
    records = store.read(baseline)  # records that cannot be used are named, not planned from
    for why in [*records.unusable.values(), *records.unnamed]:
        click.echo(f"warning: {why}", err=True)
    chosen = select(discover(path), benches)
    if not any(bench.name in records for bench in chosen):
        raise UsageError(f"{baseline}: no stored baseline to plan from; run `pybench` first")
    reporter = Reporter()
    plans = []
    for bench in chosen:
        record = records.get(bench.name)
        alpha = bench.defaults.alpha
        rows = None
        if record is not None:
            rows = stats.power_plan(
                record.matrix(), record.slots(), alpha=alpha, effect=effect, power=power
            )
            plans.append(
                planning.plan_record(bench, record, effect=effect, power=power, margin=margin)
            )
        if json_path != "-":
            reporter.plan(bench.name, record.n if record else 0, alpha, effect, power, rows)
            if record is not None:
                reporter.out.print(f"  {planning.describe(plans[-1])}", markup=False)
    if json_path is not None:
        planning.write_json(plans, json_path)
    if json_path != "-":
        reporter.out.print(PLAN_ASSUMPTION)
    return EXIT_OK


@main.command("compare")
@click.argument("base")
@click.argument("head", required=False)
@click.option(
    "--path",
    type=click.Path(path_type=Path),
    default=DEFAULT_PATH,
    show_default=True,
    help="The benchmarks (a folder or a file), at the same place in both revisions.",
)
@_bench_from
@_apply(_COMPARE_OPTIONS)
def compare_command(**options: Any) -> int:
    """Compare two git revisions on the same fresh seeds: BASE against HEAD.

    Each revision is checked out into a temporary git worktree (HEAD omitted:
    the working tree as it is) and its benchmarks run with that revision's
    Python sources, seed by seed, alternating between the two. BASE takes the
    place of the stored baseline: same verdicts, same exit codes; nothing is
    written to the baseline file. A benchmark only HEAD has runs on HEAD alone
    (NEW); one only BASE has is listed as GONE; neither changes the exit code.
    With --bench-from worktree (or REV) both revisions run the same benchmark
    files, today's (or REV's), each against its own code.
    """
    return _compare(options)


@main.command("bisect")
@click.argument("good")
@click.argument("bad")
@_path_argument
@click.option("--bench", required=True, metavar="NAME", help="The benchmark that regressed.")
@_bench_from
@_apply(["verbose", "alpha", "min_effect", "rtol", "n_seeds", *_LOCAL, "timeout", *_CAPTURE])
@click.option("--json", "json_path", metavar="PATH", help="Write the steps as JSON ('-': stdout).")
def bisect_command(**options: Any) -> int:
    """Find the first commit after GOOD up to BAD at which a benchmark regresses.

    Each step compares one commit with GOOD as `pybench compare` does (the same
    fresh seeds on both, interleaved), at most ceil(log2 N) + 2 steps for N
    commits; a commit where the benchmark errors is skipped. Exit 0 when the
    first bad commit is found, 2 when it cannot be decided.
    """
    return _bisect(options)


@main.command("report")
@click.argument("run_json", metavar="RUN.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--html",
    "html_path",
    required=True,
    metavar="PATH",
    help="Write the self-contained HTML report to PATH.",
)
def report_command(run_json: Path, html_path: str) -> int:
    """Render a saved JSON report (from --json) as an HTML page, without re-running anything."""
    from .reports import html_page, preflight, write_text
    from .reports.json import load

    preflight({"html_path": html_path})
    write_text(html_path, html_page(load(run_json)), what="HTML report")
    return EXIT_OK


@main.command("show")
@_apply(["benches", "baseline"])
@click.option(
    "--history", is_flag=True, help="A table per benchmark of the commits that changed the file."
)
@_apply(["verbose"])
def show_command(
    benches: tuple[str, ...], baseline: Path | None, history: bool, verbose: bool
) -> int:
    """Print the stored baselines (or their git history).

    Without --baseline, the file is searched for from the current directory up.
    """
    from .core.benchmark import bench_name
    from .reports.sanitize import clean
    from .reports.terminal import Reporter
    from .sources.git import history as git_history
    from .storage import store

    baseline = baseline or store.find_baseline(Path.cwd())
    reporter = Reporter()
    names = {bench_name(b) for b in benches}
    if history:
        entries = git_history(baseline)
        if entries is None:
            raise UsageError(f"{baseline}: not inside a git repository; no history to show")
        if not entries:
            raise UsageError(f"{baseline}: no commit has changed this file yet")
        reporter.history(entries, sorted(names), verbose=verbose)
        return EXIT_OK
    if not baseline.exists():
        raise UsageError(f"{baseline}: no such baseline file; run `pybench` to create one")
    records = store.read(baseline)  # a record that cannot be used is named, the rest shown
    unknown = names - set(records) - set(records.unusable)
    if unknown:
        raise UsageError(
            f"--bench {sorted(unknown)[0]}: no stored baseline "
            f"(stored: {', '.join(records) or 'none'})"
        )
    for name in sorted(records):
        if not names or name in names:
            reporter.record(records[name])
    problems = [why for name, why in records.unusable.items() if not names or name in names]
    for why in [*problems, *records.unnamed]:
        click.echo(f"warning: {clean(why)}", err=True)
    return EXIT_ERROR if problems else EXIT_OK


for _command in history_cli.COMMANDS:  # pybench history, pybench site
    main.add_command(_command)


if __name__ == "__main__":  # pragma: no cover
    main()
