"""Reports: renderings of a run's outcomes, for people (terminal) and for machines (JSON, JUnit
XML, Markdown).

Every report reads the same :class:`pybench.session.Outcome` values plus a
:class:`RunInfo` describing the run; none re-runs or re-judges anything.
:func:`write_all` writes the files a command line asked for.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import PybenchError

if TYPE_CHECKING:
    from ..core.provenance import GitState, Revision
    from ..engine.outcome import Outcome

__all__ = [
    "Provenance",
    "ReportError",
    "RunInfo",
    "baseline_fields",
    "preflight",
    "write_all",
    "write_text",
]

STEP_SUMMARY_ENV = "GITHUB_STEP_SUMMARY"
"""The environment variable naming GitHub Actions' job-summary file; the Markdown is appended."""


def _utc_now() -> str:
    import datetime

    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ReportError(PybenchError):
    """A report file that cannot be written."""


@dataclass(frozen=True)
class Provenance:
    """Where a stored baseline came from: the commit and date it was made at."""

    commit: str | None
    dirty: bool | None
    date: str | None


@dataclass(frozen=True)
class RunInfo:
    """What the reports say about the run as a whole."""

    command: str
    """``run``, ``update`` or ``compare``."""
    path: Path
    """The PATH benchmarks were collected from."""
    baseline: Path | None
    """The baseline file used; ``None`` for ``compare`` (BASE takes its place)."""
    n_records: int = 0
    """How many records the baseline file held when the run started."""
    strict: bool = False
    """Whether ``--strict`` was on."""
    git: GitState | None = None
    """The working tree's state (``None`` when not read); for ``compare``, HEAD's commit
    and whether HEAD is the working tree with uncommitted changes."""
    started: str = field(default_factory=lambda: _utc_now())
    """When the run started (UTC, ISO 8601): by default, when this value was made."""
    elapsed: float = 0.0
    """Seconds the run took."""
    error: str | None = None
    """The one-line error that stopped the run before any verdict, if any."""
    revisions: tuple[Revision, Revision] | None = None
    """``compare``: the ``(base, head)`` revisions (``None`` until they are resolved)."""
    bench_from: Revision | None = None
    """``compare --bench-from``: where both sides took the benchmark files from."""
    baselines: Mapping[str, Provenance] = field(default_factory=dict)
    """Per benchmark, the commit and date its stored baseline was made at."""

    @property
    def compare(self) -> bool:
        """Whether the run is a ``pybench compare`` of two revisions."""
        return self.command == "compare"


def baseline_fields(records: Mapping[str, Any]) -> dict[str, Any]:
    """The :class:`RunInfo` fields describing the loaded baseline ``records`` (by name)."""
    return {
        "n_records": len(records),
        "baselines": {
            name: Provenance(record.git_commit, record.git_dirty, record.timestamp)
            for name, record in records.items()
        },
    }


def write_text(
    target: str | Path, text: str | Iterable[str], *, what: str, append: bool = False
) -> None:
    """Write ``text`` (or its pieces, as they come) to ``target`` (``-``: stdout), creating
    missing folders.

    Raises:
        ReportError: naming the report and the file when it cannot be written.
    """
    pieces = [text] if isinstance(text, str) else text
    if str(target) == "-":
        for piece in pieces:
            sys.stdout.write(piece)
        sys.stdout.flush()
        return
    path = Path(target)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a" if append else "w", encoding="utf-8", newline="\n") as handle:
            for piece in pieces:
                handle.write(piece)
    except OSError as exc:
        raise ReportError(
            f"{path}: cannot write the {what} ({exc.strerror or exc}); choose another path"
        ) from None


def _renders(
    outcomes: Sequence[Outcome],
    info: RunInfo,
    paths: Mapping[str, Any],
    environ: Mapping[str, str],
) -> list[tuple[str | Path, str, Any, bool]]:
    """What to write: ``(target, what, render, append)``, ``render`` making the text."""
    from . import json as json_report

    documents: dict[str, Any] = {}

    def document() -> dict[str, Any]:  # shared by the JSON and the HTML report
        if "doc" not in documents:
            history = capture_history(info)
            documents["doc"] = json_report.document(outcomes, info, history=history)
        return documents["doc"]

    renders: list[tuple[str | Path, str, Any, bool]] = []
    if paths.get("json_path") is not None:
        renders.append((paths["json_path"], "JSON report", lambda: json_report.chunks(document()),
                        False))  # fmt: skip
    if paths.get("junit_path") is not None:
        from . import junit

        renders.append((paths["junit_path"], "JUnit XML report",
                        lambda: junit.render(outcomes, info), False))  # fmt: skip
    summary = environ.get(STEP_SUMMARY_ENV)
    if paths.get("markdown_path") is not None or summary:
        from . import markdown

        text: dict[str, str] = {}

        def markdown_text() -> str:
            if "md" not in text:
                text["md"] = markdown.render(outcomes, info)
            return text["md"]

        if paths.get("markdown_path") is not None:
            renders.append((paths["markdown_path"], "Markdown report", markdown_text, False))
        if summary:
            renders.append((summary, f"${STEP_SUMMARY_ENV} summary", markdown_text, True))
    if paths.get("html_path") is not None:
        renders.append((paths["html_path"], "HTML report", lambda: html_page(document()), False))
    return renders


def write_all(
    outcomes: Sequence[Outcome],
    info: RunInfo,
    *,
    json_path: str | Path | None = None,
    junit_path: str | Path | None = None,
    markdown_path: str | Path | None = None,
    html_path: str | Path | None = None,
    environ: Mapping[str, str] = os.environ,
) -> None:
    """Write every report asked for: ``--json`` (``-`` for stdout), ``--junit-xml``,
    ``--markdown``, ``--html``, and the Markdown appended to ``$GITHUB_STEP_SUMMARY``
    when it is set.

    One report that cannot be made or written does not stop the others: each is
    attempted, then the first failure is raised.

    Raises:
        ReportError: naming the report that could not be written (and how many others
            failed too).
    """
    paths = {
        "json_path": json_path,
        "junit_path": junit_path,
        "markdown_path": markdown_path,
        "html_path": html_path,
    }
    failures: list[str] = []
    for target, what, render, append in _renders(outcomes, info, paths, environ):
        try:
            write_text(target, render(), what=what, append=append)
        except PybenchError as exc:
            failures.append(str(exc))
    if failures:
        more = f" (and {len(failures) - 1} more report(s) failed)" if len(failures) > 1 else ""
        raise ReportError(failures[0] + more)


def capture_history(info: RunInfo) -> Mapping[str, Any] | None:
    """The baseline file's git history, per benchmark, read now (at run time).

    The JSON report carries it so that ``pybench report`` never runs git in a
    path taken from a file. ``None`` when there is no baseline file or no git.
    """
    from ..sources.git import history
    from .history import series

    baseline = info.baseline
    if baseline is None or not baseline.exists():
        return None
    entries = history(baseline)
    if not entries:
        return None
    names = sorted({name for entry in entries for name in (entry.records or {})})
    return {name: series(entries, name) for name in names}


def html_page(document: Mapping[str, Any]) -> str:
    """The HTML report of a JSON ``document`` (its history is the one the document carries).

    Raises:
        pybench.reports.html.HtmlError: if matplotlib is missing or the document is
            not a run report.
    """
    from . import html

    return html.render(document)


from .preflight import preflight  # noqa: E402 - needs the names above
