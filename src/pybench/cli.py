"""The command line: parse options, wire the stages, map errors to exit codes.

Heavy modules (numpy, rich) are imported inside the commands so that
``pybench --help`` stays fast.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from . import __version__, prompts
from .errors import EXIT_INTERRUPTED, EXIT_OK, PybenchError
from .settings import KEYWORDS

if TYPE_CHECKING:
    from .reports import RunInfo
    from .reports.terminal import Reporter
    from .revisions import RevisionPair
    from .session import Job, Outcome
    from .vcs import GitState

DEFAULT_PATH = "benchmarks"
DEFAULT_BASELINE = ".pybench/baselines.jsonl"


class UsageError(PybenchError):
    """A command line that cannot be run as given."""


class _DefaultGroup(click.Group):
    """A group whose default command is ``run``: ``pybench [PATH]`` means ``pybench run [PATH]``."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:
        """Like click's, but every error is one ``error: ...`` line with its exit code.

        This is the one place where pybench's errors, click's usage errors and
        Ctrl-C become messages and exit codes; commands return their exit code.
        """
        if not standalone_mode:
            return super().main(*args, standalone_mode=False, **kwargs)
        try:
            code = super().main(*args, standalone_mode=False, **kwargs)
        except click.ClickException as exc:
            hint = ""
            if isinstance(exc, click.UsageError) and exc.ctx is not None:
                hint = f" (see `{exc.ctx.command_path} --help`)"
            click.echo(f"error: {exc.format_message()}{hint}", err=True)
            sys.exit(exc.exit_code)
        except Interrupted as exc:
            click.echo(str(exc), err=True)
            sys.exit(exc.exit_code)
        except PybenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:  # click turns Ctrl-C into Abort (after a newline)
            click.echo("interrupted: nothing was saved", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

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


# -- shared options ----------------------------------------------------------
_bench_option = click.option(
    "--bench",
    "benches",
    multiple=True,
    metavar="NAME",
    help="Only this benchmark (repeatable); 'bench_x' or 'x'.",
)
_baseline_option = click.option(
    "--baseline",
    "baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help=(
        f"The baseline file [default: {DEFAULT_BASELINE} in the nearest folder above PATH "
        "that has a .pybench/ folder, else at the root of its git repository]."
    ),
)


def _parse_gpus(ctx: click.Context, param: click.Parameter, text: str | None) -> Any:
    if text is None:
        return None
    try:
        gpus = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        gpus = ()
    if not gpus or any(g < 0 for g in gpus):
        raise click.BadParameter(f"{text}: expected comma-separated GPU indices, e.g. --gpus 0,1")
    return gpus


_seed_option = click.option(
    "--seed",
    type=click.IntRange(0),
    envvar="PYBENCH_SEED",
    help="Make the sampling of new seeds reproducible [env: PYBENCH_SEED].",
)
_workers_option = click.option(
    "--workers",
    type=click.IntRange(1),
    default=None,
    help="Run seeds in N worker processes (overrides the 'workers' keyword).",
)
_gpus_option = click.option(
    "--gpus",
    default=None,
    metavar="0,1,...",
    callback=_parse_gpus,
    help="One worker per listed GPU, each with its own CUDA_VISIBLE_DEVICES.",
)
_dask_option = click.option(
    "--dask",
    "dask",
    default=None,
    envvar="PYBENCH_DASK",
    metavar="ADDRESS",
    help="Run seeds on a Dask scheduler at ADDRESS, or 'local:N' [env: PYBENCH_DASK].",
)
_verbose_option = click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Show the per-slot table of each PASS and FAIL, the traceback and captured output "
    "of each ERROR, and each benchmark's time.",
)
_timeout_option = click.option(
    "--timeout",
    type=click.FloatRange(0, min_open=True),
    default=None,
    metavar="SECONDS",
    help="Stop a seed that runs longer; its benchmark is an ERROR (overrides 'timeout').",
)
_resume_option = click.option(
    "--resume",
    is_flag=True,
    help="Reuse the seeds an interrupted or crashed run finished (same seeds and code).",
)
_determinism_option = click.option(
    "--check-determinism/--no-check-determinism",
    "check_determinism",
    default=None,
    help="Run a new baseline's first seed twice and warn if it differs "
    "(overrides 'check_determinism'; on by default).",
)
_capture_option = click.option(
    "--capture",
    type=click.Choice(["fd", "no"]),
    default="fd",
    show_default=True,
    help="Capture what each seed prints (shown under an ERROR with -v); 'no' lets it through.",
)
_no_capture_option = click.option(
    "-s", "no_capture", is_flag=True, help="Shortcut for --capture=no."
)
_alpha_option = click.option(
    "--alpha",
    type=click.FloatRange(0, 0.5, min_open=True),
    default=None,
    help="Significance level for this run, in (0, 0.5] (overrides the 'alpha' keyword).",
)
_rtol_option = click.option(
    "--rtol",
    type=click.FloatRange(0, 0.1),
    default=None,
    help="Differences within this fraction of a slot's largest value are ties "
    "(default 1e-12; overrides the 'rtol' keyword).",
)
_min_effect_option = click.option(
    "--min-effect",
    type=click.FloatRange(0),
    default=None,
    help="Only flag slots whose relative drop exceeds this, e.g. 0.02.",
)
_n_seeds_option = click.option(
    "--n-seeds",
    type=click.IntRange(2),
    default=None,
    help="Seeds to sample (overrides the 'n_seeds' keyword).",
)


def _check_env(ctx: click.Context, param: click.Parameter, names: tuple[str, ...]) -> Any:
    from .settings import env_name_problem

    for name in names:
        problem = env_name_problem(name)
        if problem is not None:
            raise click.BadParameter(f"{name!r} {problem}")
    return names


_env_option = click.option(
    "--env",
    "env",
    multiple=True,
    metavar="NAME",
    callback=_check_env,
    help="Set this variable as it is here for each seed in a worker (repeatable; "
    "adds to the 'env' keyword; every PYBENCH_* variable is always forwarded).",
)

_REPORT_FLAGS = [
    click.option(
        "--json",
        "json_path",
        default=None,
        metavar="PATH",
        help="Write the run as JSON to PATH ('-': stdout; the report then goes to stderr).",
    ),
    click.option(
        "--junit-xml",
        "junit_path",
        default=None,
        metavar="PATH",
        help="Write a JUnit XML report to PATH (one test case per benchmark).",
    ),
    click.option(
        "--markdown",
        "markdown_path",
        default=None,
        metavar="PATH",
        help="Write a Markdown summary to PATH (also appended to $GITHUB_STEP_SUMMARY when set).",
    ),
    click.option(
        "--html",
        "html_path",
        default=None,
        metavar="PATH",
        help="Write a self-contained HTML report with plots to PATH (needs matplotlib).",
    ),
]
"""The options naming machine-readable reports (``run``, ``update`` and ``compare``)."""

_RUN_OPTIONS = [
    click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path)),
    _bench_option,
    _baseline_option,
    click.option("--yes", "-y", is_flag=True, help="Answer yes to every prompt."),
    _seed_option,
    _workers_option,
    _gpus_option,
    _dask_option,
    _env_option,
    _timeout_option,
    _resume_option,
    _determinism_option,
    _capture_option,
    _no_capture_option,
    _verbose_option,
    *_REPORT_FLAGS,
]
"""The options shared by the commands that run benchmarks against the baseline file."""


def _apply(options: Sequence[Any]) -> Callable[[Any], Any]:
    """A decorator applying ``options`` to a command, in the order given."""

    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


_common = _apply(_RUN_OPTIONS)
_reports = _apply(_REPORT_FLAGS)


# -- the pipeline ------------------------------------------------------------
def _guard_write(
    reporter: Reporter, state: GitState, yes: bool, overwriting: Sequence[str]
) -> None:
    """Warn about a dirty tree and confirm overwrites before any baseline is written."""
    interactive = prompts.interactive()
    if overwriting and not yes:
        names = ", ".join(overwriting)
        if not interactive:
            raise UsageError(
                f"pybench update would overwrite the stored baseline of {names}; "
                "pass --yes to confirm (there is no terminal to ask on)"
            )
        if not prompts.confirm(f"Overwrite the stored baseline of {names}?"):
            raise UsageError("aborted; nothing was saved")
    if state.dirty:
        reporter.warn(prompts.dirty_warning(state))
        question = "Save baselines from a dirty tree anyway?"
        if interactive and not yes and not prompts.confirm(question):
            raise UsageError("aborted; nothing was saved (commit your changes, or pass --yes)")


class Interrupted(PybenchError):
    """Ctrl-C: the message says which baselines were saved before it."""

    exit_code = EXIT_INTERRUPTED


def _interrupted(saved: Sequence[str], resumable: Sequence[str] = ()) -> Interrupted:
    if not saved:
        message = "interrupted: nothing was saved"
    else:
        message = (
            f"interrupted: saved the baselines of {', '.join(saved)} (finished before the "
            "interrupt); nothing else was saved"
        )
    if resumable:
        message += f"; the seeds that {', '.join(resumable)} finished are kept for `--resume`"
    return Interrupted(message)


class _Saving:
    """The run's event callback for the command line: saves each new baseline as soon as its
    benchmark finishes, remembers what was saved and what is running, and reports."""

    def __init__(self, baseline: Path, reporter: Reporter):
        self.baseline = baseline
        self.reporter = reporter
        self.saved: list[str] = []
        self.running: str | None = None

    def __call__(self, event: Any) -> None:
        from . import session, store

        if isinstance(event, session.BenchStarted):
            self.running = event.name
        elif isinstance(event, session.BenchFinished):
            self.running = None
            if event.outcome.record is not None:
                store.save(self.baseline, [event.outcome.record])
                self.saved.append(event.outcome.name)
        self.reporter(event)


def _update_command(options: dict[str, Any]) -> str:
    """``pybench update`` with this run's PATH and ``--baseline`` when they are not the defaults."""
    words = ["pybench", "update"]
    if options["path"] != Path(DEFAULT_PATH):
        words.append(str(options["path"]))
    if options["baseline"] is not None:
        words += ["--baseline", str(options["baseline"])]
    return shlex.join(words)


def _records_note(baseline: Path, n_records: int) -> str:
    from .reports.text import display_path

    if not baseline.exists():
        return f"baseline: {display_path(baseline)} (not created yet)"
    return f"baseline: {display_path(baseline)} ({n_records} record{'s' * (n_records != 1)})"


def _run_jobs(
    planned: _Planned, options: dict[str, Any], reporter: Reporter, info: RunInfo
) -> list[Outcome]:
    """Run the jobs, saving each new baseline as its benchmark finishes."""
    from . import backends, session

    on_event = _Saving(info.baseline, reporter)
    capture = options["capture"] == "fd" and not options["no_capture"]
    journal = planned.journal
    try:
        with backends.open_pool(dask=options["dask"], capture=capture) as pool:
            run_options = {"journal": journal, "not_collected": planned.not_collected}
            return session.run(
                planned.jobs, pool=pool, git=info.git, on_event=on_event, **run_options
            )
    except KeyboardInterrupt:
        running = [on_event.running] if on_event.running else []
        raise _interrupted(on_event.saved, [n for n in running if journal.finished(n)]) from None
    finally:
        reporter.close()


@dataclasses.dataclass(frozen=True)
class _Planned:
    """What :func:`_plan` found: the jobs, what could not be collected, the journal."""

    jobs: list[Job]
    not_collected: list[Any]
    journal: Any


def _plan(
    options: dict[str, Any], records: dict[str, Any], info: RunInfo, update: bool
) -> _Planned:
    """The jobs of the benchmarks chosen under PATH, with this run's hints and strictness."""
    from . import session
    from .discover import collect
    from .journal import Journal
    from .reports.text import display_path

    overrides = {key: options.get(key) for key in SETTING_OPTIONS}
    if options["dask"] and overrides["gpus"]:
        raise UsageError(
            "--gpus cannot be combined with --dask; give each Dask worker its own GPU instead"
        )
    found = collect(options["path"], options["benches"])
    journal = Journal.beside(info.baseline)
    jobs = session.plan(
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
    return _Planned(jobs, found.errors, journal)


def _session(options: dict[str, Any], info: RunInfo, update: bool) -> tuple[list[Outcome], RunInfo]:
    """Load the baseline → plan → guard writes → run → terminal report."""
    from . import store
    from .reports.terminal import Reporter
    from .vcs import git_state

    started = time.perf_counter()  # the time reported includes discovery and imports
    records = store.load(info.baseline)
    info = dataclasses.replace(info, n_records=len(records))
    planned = _plan(options, records, info, update)
    jobs = planned.jobs
    reporter = Reporter(
        verbose=options["verbose"],
        names=[job.bench.name for job in jobs],
        to_stderr="-" in (options[key] for key in REPORT_OPTIONS),
        update_command=_update_command(options),
    )
    reporter.note(_records_note(info.baseline, len(records)))
    fresh = [job.bench.name for job in jobs if job.makes_baseline]
    if fresh or _wants_reports(options):
        info = dataclasses.replace(info, git=git_state(_folder(info.path), ignore=info.baseline))
    if fresh:
        assert info.git is not None
        _guard_write(reporter, info.git, options["yes"], [n for n in fresh if n in records])
    outcomes = _run_jobs(planned, options, reporter, info)
    elapsed = time.perf_counter() - started
    reporter.summary(outcomes, elapsed, update=update)
    return outcomes, dataclasses.replace(info, elapsed=elapsed)


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
    from .reports import write_all

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
    from . import session
    from .reports import write_all

    write_all(outcomes, info, **{key: options[key] for key in REPORT_OPTIONS})
    return session.exit_code(outcomes)


def _execute(options: dict[str, Any], *, update: bool = False) -> int:
    """Run the session, then write the machine-readable reports; return the exit code.

    An error that stops the run before any verdict is still written to the
    reports (a document with ``error`` set), then reported as usual.
    """
    from . import store
    from .reports import RunInfo

    info = RunInfo(
        command="update" if update else "run",
        path=options["path"],
        baseline=options["baseline"] or store.find_baseline(options["path"]),
        strict=bool(options.get("strict")),
    )
    outcomes, info = _reporting_errors(options, info, lambda: _session(options, info, update))
    return _finish(options, outcomes, info)


def _resolve_revisions(options: dict[str, Any]) -> RevisionPair:
    """Refuse ``--dask`` (ignore ``PYBENCH_DASK``), then resolve BASE, HEAD and ``--path``."""
    from . import revisions

    if options["dask"]:
        source = click.get_current_context().get_parameter_source("dask")
        if source is not click.core.ParameterSource.ENVIRONMENT:
            raise UsageError(
                "--dask cannot be combined with compare: each revision runs in local worker"
                " processes that import its own checkout; use --workers N instead"
            )
        options["dask"] = None  # PYBENCH_DASK is meant for the other commands
    return revisions.resolve_pair(options["path"], options["base"], options["head"])


def _compare(options: dict[str, Any]) -> int:
    """Resolve both revisions → run them (:func:`_compare_session`) → reports → exit code.

    As for a run, an error that stops the command before any verdict is still
    written to the reports.
    """
    from .reports import RunInfo
    from .vcs import GitState

    info = RunInfo(command="compare", path=options["path"], baseline=None)
    pair = _reporting_errors(options, info, lambda: _resolve_revisions(options))
    head = pair.head
    info = dataclasses.replace(
        info,
        revisions=(pair.base, head),
        git=GitState(head.short or None, bool(head.dirty) and not head.is_checkout),
    )
    outcomes, info = _reporting_errors(options, info, lambda: _compare_session(options, pair, info))
    return _finish(options, outcomes, info)


def _compare_session(
    options: dict[str, Any], pair: RevisionPair, info: RunInfo
) -> tuple[list[Outcome], RunInfo]:
    """Check out both revisions → discover → plan → run interleaved → terminal report."""
    from . import revisions, session
    from .reports.terminal import Reporter

    overrides = {key: options.get(key) for key in SETTING_OPTIONS}
    to_stderr = "-" in (options[key] for key in REPORT_OPTIONS)
    reporter = Reporter(verbose=options["verbose"], to_stderr=to_stderr)
    try:
        with (
            revisions.open_tree(pair.repo, pair.base, pair.path) as base_tree,
            revisions.open_tree(pair.repo, pair.head, pair.path) as head_tree,
        ):
            pairing = revisions.pair_benchmarks(
                revisions.discover_tree(base_tree),
                revisions.discover_tree(head_tree),
                options["benches"],
            )
            jobs = session.plan_revisions(pairing, overrides, base_seed=options["seed"])
            names = [job.bench.name for job in jobs]
            reporter = Reporter(verbose=options["verbose"], names=names, to_stderr=to_stderr)
            reporter.revisions(pair.base.label, pair.head.label)
            started = time.perf_counter()
            base = {bench.name: bench for bench, _ in pairing.pairs}
            outcomes = session.run_revisions(jobs, base, (base_tree, head_tree), on_event=reporter)
    except KeyboardInterrupt:
        raise Interrupted("interrupted: nothing was saved") from None
    finally:
        reporter.close()
    elapsed = time.perf_counter() - started
    reporter.summary(outcomes, elapsed, command="compare")
    return outcomes, dataclasses.replace(info, elapsed=elapsed)


SETTING_OPTIONS = KEYWORDS
"""The command-line options that override a benchmark's keyword settings."""

REPORT_OPTIONS = ("json_path", "junit_path", "markdown_path", "html_path")
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
    verdict, 130 interrupted.
    """


@main.command("run")
@_common
@_alpha_option
@_min_effect_option
@_rtol_option
@click.option(
    "--strict",
    is_flag=True,
    envvar="PYBENCH_STRICT",
    help=(
        "A benchmark without a stored baseline is an ERROR (exit 2) instead of a NEW one; "
        "nothing is saved [env: PYBENCH_STRICT=1]."
    ),
)
@click.option(
    "--adaptive",
    is_flag=True,
    default=None,
    help="Run the stored seeds in stages and stop once the verdict is clear "
    "(overrides the 'adaptive' keyword).",
)
def run_command(**options: Any) -> int:
    """Compare each benchmark with its baseline (PASS/FAIL); save new ones (NEW)."""
    return _execute(options)


@main.command("update")
@_common
@_n_seeds_option
def update_command(**options: Any) -> int:
    """Re-run benchmarks on fresh seeds and overwrite their baselines."""
    return _execute(options, update=True)


@main.command("plan")
@click.argument("path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path))
@_bench_option
@_baseline_option
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
def plan_command(
    path: Path,
    benches: tuple[str, ...],
    baseline: Path | None,
    effect: float,
    power: float,
    json_path: str | None = None,
) -> int:
    """From the stored baselines' noise: the drop each slot detects, and the seeds a drop needs."""
    from . import planning, stats, store
    from .discover import discover, select
    from .reports.terminal import PLAN_ASSUMPTION, Reporter

    baseline = baseline or store.find_baseline(path)
    records = store.load(baseline)
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
            plans.append(planning.plan_record(bench, record, effect=effect, power=power))
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
@_bench_option
@_verbose_option
@_alpha_option
@_min_effect_option
@_rtol_option
@_n_seeds_option
@_seed_option
@_workers_option
@_gpus_option
@_dask_option
@_env_option
@_reports
def compare_command(**options: Any) -> int:
    """Compare two git revisions on the same fresh seeds: BASE against HEAD.

    Each revision is checked out into a temporary git worktree (HEAD omitted:
    the working tree as it is) and its benchmarks run with that revision's
    Python sources, seed by seed, alternating between the two. BASE takes the
    place of the stored baseline: same verdicts, same exit codes; nothing is
    written to the baseline file. A benchmark only HEAD has runs on HEAD alone
    (NEW); one only BASE has is listed as GONE; neither changes the exit code.
    """
    return _compare(options)


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
    import json

    from .reports import ReportError, html_page, write_text

    try:
        document = json.loads(run_json.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ReportError(f"{run_json}: cannot be read as a JSON report ({exc})") from None
    if not isinstance(document, dict) or not isinstance(document.get("benchmarks"), list):
        raise ReportError(
            f"{run_json}: not a pybench run report (no 'benchmarks' list); "
            "write one with `pybench --json PATH`"
        )
    baseline = (document.get("baseline") or {}).get("path")
    page = html_page(document, Path(baseline) if isinstance(baseline, str) else None)
    write_text(html_path, page, what="HTML report")
    return EXIT_OK


@main.command("show")
@_bench_option
@_baseline_option
@click.option("--history", is_flag=True, help="One line per git commit that changed the file.")
def show_command(benches: tuple[str, ...], baseline: Path | None, history: bool) -> int:
    """Print the stored baselines (or their git history).

    Without --baseline, the file is searched for from the current directory up.
    """
    from . import store
    from .discover import bench_name
    from .reports.terminal import Reporter
    from .vcs import history as git_history

    baseline = baseline or store.find_baseline(Path.cwd())
    reporter = Reporter()
    names = {bench_name(b) for b in benches}
    if history:
        entries = git_history(baseline)
        if entries is None:
            raise UsageError(f"{baseline}: not inside a git repository; no history to show")
        if not entries:
            raise UsageError(f"{baseline}: no commit has changed this file yet")
        reporter.history(entries, sorted(names))
        return EXIT_OK
    if not baseline.exists():
        raise UsageError(f"{baseline}: no such baseline file; run `pybench` to create one")
    records = store.load(baseline)
    unknown = names - set(records)
    if unknown:
        raise UsageError(
            f"--bench {sorted(unknown)[0]}: no stored baseline "
            f"(stored: {', '.join(records) or 'none'})"
        )
    for name in sorted(records):
        if not names or name in names:
            reporter.record(records[name])
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    main()
