"""The history's command-line surface: recording a finished run, and the
``pybench history`` and ``pybench site`` commands.

The main command line adds these to its own (:func:`record`, :data:`COMMANDS`; the
``--history`` and ``--no-history`` options are rows of the settings table);
everything they do lives in this package.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..core.errors import EXIT_OK
from ..core.settings import row
from . import default_target, record_run

if TYPE_CHECKING:
    from ..engine.outcome import Outcome
    from ..reports import RunInfo
    from .query import BenchHistory
    from .stores import Store

_HISTORY = row("history")
_history_option = click.option(
    _HISTORY.flag, "history", default=None, envvar=_HISTORY.env, metavar=_HISTORY.metavar,
    help=_HISTORY.help,
)

__all__ = ["COMMANDS", "history_command", "record", "site_command"]

def record(options: dict[str, Any], outcomes: Sequence[Outcome], info: RunInfo) -> None:
    """Record a finished run unless ``--no-history``; a failure is a warning on stderr."""
    if options.get("no_history"):
        return
    record_run(outcomes, info, options.get("history"))


def _open(path: Path, history: str | None) -> Store:
    from .stores import open_store

    target = history or default_target(None, path)
    return open_store(target, create=bool(history))


def _load(
    path: Path,
    history: str | None,
    benches: tuple[str, ...],
    metric: str | None,
    last: int | None,
    branch: str | None,
) -> tuple[list[BenchHistory], Store]:
    """The histories asked for; the store stays open for the caller.

    Raises:
        HistoryError: no store, or a ``--bench`` or ``--metric`` nothing was recorded for.
    """
    from ..core.benchmark import bench_name
    from .query import build
    from .stores import HistoryError

    store = _open(path, history)
    names = sorted({bench_name(b) for b in benches})
    histories = build(store, benches=names, metric=metric, last=last, branch=branch)
    found = {h.name for h in histories}
    missing = [n for n in names if n not in found]
    if missing or not histories:
        recorded = ", ".join(store.benches()) or "none"
        what = f"--bench {missing[0]}" if missing else store.name
        more = f" with --metric {metric}" if metric else ""
        more += f" on branch {branch}" if branch else ""
        store.close()
        raise HistoryError(f"{what}: no recorded run{more} (recorded benchmarks: {recorded})")
    return histories, store


_QUERY_OPTIONS = [
    click.argument("path", required=False, default=".", type=click.Path(path_type=Path)),
    click.option(
        "--bench",
        "benches",
        multiple=True,
        metavar="NAME",
        help="Only this benchmark (repeatable).",
    ),
    click.option("--metric", default=None, metavar="M", help="Only this metric (e.g. min:loss)."),
    click.option(
        "--last", type=click.IntRange(1), default=None, metavar="N", help="The last N commits."
    ),
    click.option("--branch", default=None, metavar="NAME", help="Only runs on this branch."),
    _history_option,
]


def _apply(options: Sequence[Any]) -> Any:
    def decorate(func: Any) -> Any:
        for option in reversed(options):
            func = option(func)
        return func

    return decorate


@click.command("history")
@_apply(_QUERY_OPTIONS)
@click.option(
    "--json", "json_path", default=None, metavar="FILE|-", help="Write the history as JSON."
)
def history_command(json_path: str | None, **query: Any) -> int:
    """Each benchmark's slots over the recorded commits, with change points.

    PATH finds the default history (history.db beside the baseline file), as
    `pybench` finds the baseline; --history names another store.
    """
    from ..reports import write_text
    from .query import document
    from .terminal import render

    histories, store = _queried(query)
    with store:
        if json_path is not None:
            text = json.dumps(document(histories, store), allow_nan=False) + "\n"
            write_text(json_path, text, what="history JSON")
        if json_path != "-":
            color = sys.stdout.isatty()
            click.echo("\n".join(render(histories, color=color)), color=color)
    return EXIT_OK


@click.command("site")
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@_apply(_QUERY_OPTIONS)
def site_command(out_dir: Path, **query: Any) -> int:
    """Write a static site of the history to OUT_DIR (works offline; needs matplotlib).

    An index of every benchmark (latest status, trend thumbnails, change
    points) and a page per benchmark with a plot per metric over commits.
    """
    from .site import write_site

    histories, store = _queried(query)
    with store:
        index = write_site(out_dir, histories, store.machines(), source=store.name)
    n = len(histories)
    click.echo(f"site: {index} ({n} benchmark{'s' * (n != 1)})")
    return EXIT_OK


def _queried(query: dict[str, Any]) -> tuple[list[BenchHistory], Store]:
    """:func:`_load` with the query options of :data:`_QUERY_OPTIONS`."""
    return _load(
        query["path"], query["history"], query["benches"], query["metric"], query["last"],
        query["branch"],
    )  # fmt: skip


COMMANDS = [history_command, site_command]
"""The commands the main command line adds."""
