"""The command line: parse options, wire the stages, map errors to exit codes.

Heavy modules (numpy, rich) are imported inside the commands so that
``pybench --help`` stays fast.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from . import __version__
from .errors import EXIT_ERROR, EXIT_INTERRUPTED, EXIT_OK, EXIT_REGRESSION, PybenchError

if TYPE_CHECKING:
    from .discover import Benchmark
    from .report import Reporter
    from .store import BaselineRecord

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
        except PybenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Abort:  # click turns Ctrl-C into Abort (after a newline)
            click.echo("interrupted: nothing was saved", err=True)
            sys.exit(EXIT_INTERRUPTED)
        sys.exit(code if isinstance(code, int) else EXIT_OK)

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if not args or (
            args[0] not in self.commands and args[0] not in ("--help", "-h", "--version")
        ):
            args = ["run", *args]
        return super().parse_args(ctx, args)


# -- shared options ----------------------------------------------------------
def _common(func: Any) -> Any:
    options = [
        click.argument(
            "path", required=False, default=DEFAULT_PATH, type=click.Path(path_type=Path)
        ),
        click.option(
            "--bench",
            "benches",
            multiple=True,
            metavar="NAME",
            help="Only this benchmark (repeatable); 'bench_x' or 'x'.",
        ),
        click.option(
            "--baseline",
            "baseline",
            type=click.Path(dir_okay=False, path_type=Path),
            default=DEFAULT_BASELINE,
            show_default=True,
            help="The baseline file.",
        ),
        click.option("--yes", "-y", is_flag=True, help="Answer yes to every prompt."),
        click.option(
            "--seed",
            type=click.IntRange(0),
            envvar="PYBENCH_SEED",
            help="Make the sampling of new seeds reproducible [env: PYBENCH_SEED].",
        ),
        click.option(
            "--workers",
            type=click.IntRange(1),
            default=None,
            help="Run seeds in N worker processes (overrides the 'workers' keyword).",
        ),
        click.option(
            "--gpus",
            default=None,
            metavar="0,1,...",
            help="One worker per listed GPU, each with its own CUDA_VISIBLE_DEVICES.",
        ),
        click.option(
            "--dask",
            "dask",
            default=None,
            envvar="PYBENCH_DASK",
            metavar="ADDRESS",
            help="Run seeds on a Dask scheduler at ADDRESS, or 'local:N' [env: PYBENCH_DASK].",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            help="Show the per-slot table of each FAIL and the traceback of each ERROR.",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _parse_gpus(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    try:
        gpus = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UsageError(
            f"--gpus {text}: expected comma-separated GPU indices, e.g. --gpus 0,1"
        ) from None
    if not gpus or any(g < 0 for g in gpus):
        raise UsageError(f"--gpus {text}: expected comma-separated GPU indices, e.g. --gpus 0,1")
    return gpus


def _interactive() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def _confirm(question: str) -> bool:
    try:
        return click.confirm(question, default=False)
    except click.Abort:
        return False


# -- the pipeline ------------------------------------------------------------
def _check_reachable(bench: Benchmark, n: int, alpha: float) -> None:
    from .stats import min_seeds

    if 2**n <= 1.0 / alpha:
        need = min_seeds(alpha)
        raise UsageError(
            f"{bench.name}: alpha={alpha:g} can never be reached with {n} seeds "
            f"(the smallest meta-p is 1/2**{n} = {1 / 2**n:.3g}); use at least {need} seeds "
            f"(n_seeds={need}, then `pybench update --bench {bench.name}`) or a larger alpha"
        )


def _guard_write(reporter: Reporter, baseline: Path, yes: bool, overwriting: Sequence[str]) -> Any:
    """Warn about a dirty tree and confirm overwrites; return the git state to record."""
    from .vcs import git_state

    state = git_state(Path.cwd(), ignore=baseline)
    interactive = _interactive()
    if overwriting and not yes:
        names = ", ".join(overwriting)
        if not interactive:
            raise UsageError(
                f"pybench update would overwrite the stored baseline of {names}; "
                "pass --yes to confirm (there is no terminal to ask on)"
            )
        if not _confirm(f"Overwrite the stored baseline of {names}?"):
            raise UsageError("aborted; nothing was saved")
    if state.dirty:
        reporter.warn(
            f"the git working tree has uncommitted changes; the baseline will record commit "
            f"{state.commit} as dirty (commit first for a reproducible baseline)"
        )
        if interactive and not yes and not _confirm("Save baselines from a dirty tree anyway?"):
            raise UsageError("aborted; nothing was saved (commit your changes, or pass --yes)")
    return state


def _execute(
    *,
    path: Path,
    benches: tuple[str, ...],
    baseline: Path,
    yes: bool,
    seed: int | None,
    workers: int | None,
    gpus: str | None,
    dask: str | None,
    verbose: bool,
    alpha: float | None = None,
    min_effect: float | None = None,
    update: bool = False,
    n_seeds: int | None = None,
) -> int:
    import datetime

    from . import backends, store
    from .compare import compare_run
    from .discover import discover, select
    from .report import Reporter
    from .run import BenchmarkError, check_finite, run_benchmark, sample_seeds

    gpu_list = _parse_gpus(gpus)
    if dask and gpu_list:
        raise UsageError(
            "--gpus cannot be combined with --dask; give each Dask worker its own GPU instead"
        )
    chosen = select(discover(path), benches)
    records = store.load(baseline)
    plan: list[tuple[Benchmark, BaselineRecord | None]] = []
    for bench in chosen:
        record = None if update else records.get(bench.name)
        bench_alpha = alpha if alpha is not None else bench.alpha
        n = record.n if record is not None else (n_seeds or bench.n_seeds)
        _check_reachable(bench, n, bench_alpha)
        plan.append((bench, record))

    reporter = Reporter(verbose=verbose, names=[b.name for b in chosen])
    writing = [b for b, r in plan if r is None]
    state = None
    if writing:
        overwriting = [b.name for b in writing if b.name in records] if update else []
        state = _guard_write(reporter, baseline, yes, overwriting)

    started = time.perf_counter()
    to_save: list[BaselineRecord] = []
    with backends.open_pool(dask=dask) as pool:
        for bench, record in plan:
            backend = pool.backend_for(
                bench,
                workers=workers if workers is not None else bench.workers,
                gpus=gpu_list if gpu_list is not None else bench.gpus,
            )
            if record is not None:
                seeds = record.seeds
            else:
                n = n_seeds or bench.n_seeds
                seeds = sample_seeds(n, base_seed=seed, name=bench.name)
            try:
                with reporter.progress(bench.name, len(seeds)) as tick:
                    result = run_benchmark(
                        bench,
                        seeds,
                        backend=backend,
                        expected_slots=record.slots() if record is not None else None,
                        on_seed_done=tick,
                    )
                if record is None:
                    check_finite(bench.name, result)
            except BenchmarkError as exc:
                reporter.error(bench.name, exc)
                continue
            finally:
                backend.close()
            if record is None:
                to_save.append(
                    store.BaselineRecord(
                        bench=bench.name,
                        seeds=list(seeds),
                        scores=result.scores(),
                        timestamp=datetime.datetime.now(datetime.timezone.utc).strftime(
                            "%Y-%m-%dT%H:%M:%SZ"
                        ),
                        git_commit=state.commit if state else None,
                        git_dirty=state.dirty if state else None,
                    )
                )
                reporter.new(bench.name, result.slots, updated=update)
            else:
                outcome = compare_run(
                    record,
                    result,
                    alpha=alpha if alpha is not None else bench.alpha,
                    min_effect=min_effect if min_effect is not None else bench.min_effect,
                )
                reporter.compared(bench.name, result.slots, outcome)
    store.save(baseline, to_save)
    reporter.summary(time.perf_counter() - started, update=update)
    tally = reporter.tally
    if tally.errors:
        return EXIT_ERROR
    return EXIT_REGRESSION if tally.failed else EXIT_OK


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
@click.option(
    "--alpha",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=None,
    help="Significance level for this run (overrides the 'alpha' keyword).",
)
@click.option(
    "--min-effect",
    type=click.FloatRange(0),
    default=None,
    help="Only flag slots whose relative drop exceeds this, e.g. 0.02.",
)
def run_command(**options: Any) -> int:
    """Compare each benchmark with its baseline (PASS/FAIL); save new ones (NEW)."""
    return _execute(**options)


@main.command("update")
@_common
@click.option(
    "--n-seeds",
    type=click.IntRange(2),
    default=None,
    help="Seeds to sample (overrides the 'n_seeds' keyword).",
)
def update_command(**options: Any) -> int:
    """Re-run benchmarks on fresh seeds and overwrite their baselines."""
    return _execute(update=True, **options)


@main.command("show")
@click.option("--bench", "benches", multiple=True, metavar="NAME", help="Only this benchmark.")
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=DEFAULT_BASELINE,
    show_default=True,
    help="The baseline file.",
)
@click.option("--history", is_flag=True, help="One line per git commit that changed the file.")
def show_command(benches: tuple[str, ...], baseline: Path, history: bool) -> int:
    """Print the stored baselines (or their git history)."""
    from . import store
    from .report import Reporter
    from .vcs import history as git_history

    reporter = Reporter()
    names = {b if b.startswith("bench_") else f"bench_{b}" for b in benches}
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
